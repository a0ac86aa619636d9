"""Signed tokens for the links in emails: confirmation (expiring) and unsubscribe (not)."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from newsletter.links import site_url

CONFIRM_SALT = "newsletter.confirm"
UNSUBSCRIBE_SALT = "newsletter.unsubscribe"


class InvalidToken(ValueError):
    """A link that was altered, cut short, or has expired; `expired` tells which."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _address_digest(email: str) -> str:
    """A short keyed digest of the address, so a token never outlives the address it was made
    for; keyed by SECRET_KEY, so a link's holder cannot test guessed addresses offline."""
    key = current_app.config["SECRET_KEY"]
    key_bytes = key if isinstance(key, bytes) else str(key).encode()
    mac = hmac.new(key_bytes, b"newsletter.address:" + email.lower().encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def make_token(subscriber_id: int, email: str, salt: str) -> str:
    """A URL-safe signed token naming one subscriber, without showing the address."""
    return _serializer(salt).dumps([subscriber_id, _address_digest(email)])


def read_token(token: str, salt: str, max_age: int | None = None) -> tuple[int, str]:
    """The (subscriber id, address digest) in a token, or `InvalidToken`."""
    try:
        subscriber_id, digest = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidToken("This link has expired.", expired=True) from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken(why_invalid(token, salt)) from None
    return int(subscriber_id), str(digest)


def why_invalid(token: str, salt: str) -> str:
    """Tell a whole link signed with another key (SECRET_KEY changed) from one cut short."""
    serializer = _serializer(salt)
    _valid, payload = serializer.loads_unsafe(token)
    signature = token.rsplit(".", 1)[-1]  # a cut link loses its end: the signature is short
    whole = len(signature) == len(serializer.make_signer().get_signature(b""))
    if payload is not None and whole:
        return (
            "This link was signed with a different key: the site's SECRET_KEY changed after "
            "it was sent, so ask for a new link."
        )
    return "This link is not valid: it may have been cut short."


def token_matches(digest: str, email: str) -> bool:
    """True when a token's digest was made for this address."""
    return digest == _address_digest(email)


def confirm_token(subscriber_id: int, email: str) -> str:
    """The token in a confirmation link; it expires after `CONFIRM_TOKEN_MAX_AGE_DAYS`."""
    return make_token(subscriber_id, email, CONFIRM_SALT)


def read_confirm_token(token: str) -> tuple[int, str]:
    """Check a confirmation token, refusing it after `CONFIRM_TOKEN_MAX_AGE_DAYS`."""
    max_age = int(current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"]) * 24 * 3600
    return read_token(token, CONFIRM_SALT, max_age=max_age)


def unsubscribe_token(subscriber_id: int, email: str) -> str:
    """The token in every email's unsubscribe link; it never expires."""
    return make_token(subscriber_id, email, UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """Check an unsubscribe token (no expiry: an old email's link must still work)."""
    return read_token(token, UNSUBSCRIBE_SALT)


def unsubscribe_url(subscriber_id: int, email: str) -> str:
    """The personal one-click unsubscribe URL for the List-Unsubscribe header and footer."""
    return site_url(f"/unsubscribe/{unsubscribe_token(subscriber_id, email)}")


def confirm_url(subscriber_id: int, email: str) -> str:
    """The confirmation link for the double opt-in mail."""
    return site_url(f"/confirm/{confirm_token(subscriber_id, email)}")
