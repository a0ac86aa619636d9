"""Build and deliver single messages with Flask-Mail; an outbox folder stands in for SMTP."""

from __future__ import annotations

import logging
import re
from email.utils import make_msgid, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template
from flask_mail import Message, email_dispatched

from newsletter.extensions import mail
from newsletter.mail.transport import (
    DeliveryError,
    SMTPSettings,
    SMTPTransport,
    TemporaryFailure,
    outbox_path,
)

log = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"']+")


def init_app(app: Flask) -> None:
    """Bind Flask-Mail; without `MAIL_SERVER`, write each message to the outbox folder."""
    app.config.setdefault("OUTBOX_DIR", str(Path(app.instance_path) / "outbox"))
    mail.init_app(app)
    if app.config["MAIL_USE_OUTBOX"]:
        email_dispatched.connect(write_to_outbox, sender=app)


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
    """The bare address of `MAIL_DEFAULT_SENDER`, which may also be "Name <addr>" or a tuple."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    if isinstance(sender, tuple | list):
        return sender[1]
    return parseaddr(sender)[1] or sender


def send_templated(to: str, subject: str, template: str, **context) -> Message:
    """Send one message rendered from `email/<template>.txt` and `.html`; return it."""
    message = Message(
        subject=subject,
        recipients=[to],
        sender=from_address(),
        body=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )
    message.msgId = new_message_id()  # Flask-Mail 0.10 takes no Message-ID argument
    deliver(message)
    return message


class MailNotSent(OSError):
    """The SMTP server refused a message, or could not be reached in time; `temporary` when
    trying again later may succeed (4xx, timeout, no connection)."""

    def __init__(self, reply: str, *, temporary: bool = False) -> None:
        super().__init__(reply)
        self.temporary = temporary


def deliver(message: Message) -> None:
    """Send one message: through Flask-Mail to the outbox when there is no MAIL_SERVER, else
    over SMTP with SEND_TIMEOUT (Flask-Mail's own connection waits for ever on a stuck
    server, which would hold a web worker)."""
    config = current_app.config
    if config["MAIL_USE_OUTBOX"] or config.get("MAIL_SUPPRESS_SEND"):
        mail.send(message)  # suppressed: the email_dispatched signal writes the outbox file
        return
    transport = SMTPTransport(SMTPSettings.from_app())
    data = re.sub(rb"\r?\n", b"\r\n", message.as_bytes())  # SMTP wants CRLF line ends
    try:
        for recipient in message.send_to:
            transport.deliver(sender_address(), recipient, data)
    except DeliveryError as error:
        raise MailNotSent(error.reply, temporary=isinstance(error, TemporaryFailure)) from None
    finally:
        transport.close()


def write_to_outbox(app: Flask, message: Message, **_extra) -> Path:
    """Save a message as an .eml file and log its links, so a fresh install works offline."""
    path = outbox_path(Path(app.config["OUTBOX_DIR"]), message.recipients)
    path.write_bytes(message.as_bytes())
    links = ", ".join(dict.fromkeys(_URL.findall(message.body or ""))) or "none"
    log.warning(
        "No MAIL_SERVER set: mail to %s written to %s. Links: %s",
        ", ".join(message.recipients),
        path,
        links,
    )
    return path
