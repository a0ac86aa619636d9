"""Signing in to the desk, without HTTP: one-time mailed links, and their use (who is an admin:
admins.py).

A link carries a random secret, signed and timed by itsdangerous, so a changed or expired link
is told apart from a used one; the table keeps only a hash of the secret and when it was used,
and one conditional UPDATE spends it, so two clicks can never both sign in.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update

from newsletter.columns import utcnow
from newsletter.desk.admins import Admin, is_admin
from newsletter.desk.models import SignInLink
from newsletter.extensions import db
from newsletter.links import site_url
from newsletter.mail.messages import send, templated

SALT = "desk-sign-in"


class LinkRefused(ValueError):
    """A sign-in link that does not sign in; the message is a sentence for the page."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_link(address: str) -> str:
    """Record a new one-time link for an admin address and return its absolute URL."""
    if not is_admin(address):
        raise LinkRefused(f"{address} is not in ADMIN_EMAILS, so it cannot sign in to the desk.")
    secret = secrets.token_urlsafe(24)
    db.session.add(SignInLink(secret_hash=_digest(secret), email=address.strip().lower()))
    db.session.commit()
    return site_url(f"/desk/sign-in/{_serializer().dumps(secret)}")


def mail_link(address: str) -> bool:
    """Mail a sign-in link if the address is an admin's; say nothing either way to the page."""
    if not is_admin(address):
        return False
    config = current_app.config
    message = templated(
        "desk_sign_in",
        address.strip().lower(),
        f"{config['MAIL_SUBJECT_PREFIX']}Sign in to the desk of {config['SITE_TITLE']}",
        url=new_link(address),
        minutes=config["DESK_LINK_MINUTES"],
    )
    send(message)
    return True


def read_link(token: str) -> str:
    """The secret of an untampered, unexpired link (not yet checked for use)."""
    minutes = int(current_app.config["DESK_LINK_MINUTES"])
    try:
        return _serializer().loads(token, max_age=minutes * 60)
    except SignatureExpired:
        raise LinkRefused(
            f"This sign-in link has expired: links work for {minutes} minutes. "
            "Ask for a new one below."
        ) from None
    except BadSignature:
        raise LinkRefused(
            "This sign-in link is not one this site sent, or part of it is missing. Copy the "
            "whole link from the email, or ask for a new one below."
        ) from None


def spend_link(token: str) -> Admin:
    """Use a link once: the admin it signs in, or LinkRefused saying why not."""
    secret = read_link(token)
    used = db.session.execute(
        update(SignInLink)
        .where(SignInLink.secret_hash == _digest(secret), SignInLink.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(SignInLink.email)
    ).scalar_one_or_none()
    db.session.commit()
    if used is None:
        raise LinkRefused(
            "This sign-in link was used already: each link works once. Ask for a new one below."
        )
    if not is_admin(used):
        raise LinkRefused(f"{used} is no longer in ADMIN_EMAILS, so it cannot sign in.")
    return Admin(used)
