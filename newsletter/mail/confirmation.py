"""The confirmation mail of the double opt-in: one link that proves the reader owns the address
(`templates/email/confirmation.txt` and `.html`)."""

from __future__ import annotations

from flask import current_app
from flask_mail import Message

from newsletter.mail.messages import templated


def confirmation_email(to: str, confirm_url: str) -> Message:
    """The message asking `to` to confirm, with its link and how long the link works."""
    config = current_app.config
    return templated(
        "confirmation",
        to,
        f"{config['MAIL_SUBJECT_PREFIX']}Confirm your subscription to {config['SITE_TITLE']}",
        confirm_url=confirm_url,
        max_age_days=config["CONFIRM_TOKEN_MAX_AGE_DAYS"],
    )
