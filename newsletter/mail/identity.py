"""Who a mail is from: the sender's name and address, the envelope sender, and Message-IDs on
the site's own domain. Every kind of mail (confirmation, essay) reads them here."""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app


def site_domain() -> str:
    """The host name of `SITE_URL`, used for Message-IDs and List-Id."""
    return urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"


def new_message_id() -> str:
    """A Message-ID on the site's own domain."""
    return make_msgid(domain=site_domain())


def from_address() -> tuple[str, str]:
    """The sender as (display name, address): `AUTHOR_NAME` at `MAIL_DEFAULT_SENDER`."""
    return (current_app.config["AUTHOR_NAME"], sender_address())


def sender_address() -> str:
    """The bare address of `MAIL_DEFAULT_SENDER` (which may also be "Name <addr>" or a tuple):
    the From address and the envelope sender (MAIL FROM) of every message."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    if isinstance(sender, tuple | list):
        return sender[1]
    return parseaddr(sender)[1] or sender
