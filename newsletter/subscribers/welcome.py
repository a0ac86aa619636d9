"""The welcome email: sent once, off the request path, when a reader confirms (WELCOME_EMAIL)."""

from __future__ import annotations

from flask import current_app

from newsletter.content.library import get_library
from newsletter.links import post_url, site_url
from newsletter.mail import outgoing
from newsletter.mail.messages import send, templated
from newsletter.subscribers import tokens

WELCOME = "welcome"  # the kind of the queued mail


def queue_welcome(subscriber_id: int, email: str) -> bool:
    """Queue the welcome mail in the caller's transaction, if WELCOME_EMAIL is on."""
    if not current_app.config.get("WELCOME_EMAIL", True):
        return False
    outgoing.enqueue(WELCOME, subscriber_id, email)
    return True


def welcome_context(subscriber_id: int, email: str) -> dict:
    """What the templates show: the latest essay and the reader's own unsubscribe link."""
    latest = next(iter(get_library().snapshot().published), None)
    return {
        "latest": latest,
        "latest_url": post_url(latest.slug) if latest else None,
        "home_url": site_url("/"),
        "unsubscribe_url": tokens.unsubscribe_url(subscriber_id, email),
    }


def welcome_subject() -> str:
    """The welcome mail's subject line."""
    config = current_app.config
    return f"{config['MAIL_SUBJECT_PREFIX']}Welcome to {config['SITE_TITLE']}"


def send_welcome(subscriber_id: int, email: str) -> None:
    """Send the welcome mail now (the courier calls this for each queued one)."""
    send(templated("welcome", email, welcome_subject(), **welcome_context(subscriber_id, email)))


def _nothing_to_undo(_subscriber_id: int) -> None:
    """A welcome that could not be sent is given up: the reader is subscribed all the same."""


outgoing.register(WELCOME, send_welcome, gave_up=_nothing_to_undo)
