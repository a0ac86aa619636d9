"""Transactional mail: one message built by Flask-Mail from `templates/email/NAME.txt` and
`NAME.html`, handed to the one transport (`backend.transport_factory`: SMTP or the outbox).

Each kind of transactional mail has a small builder of its own beside this module
(`confirmation.py`; a welcome mail would be `welcome.py` with `email/welcome.txt` and `.html`);
the essay email is built apart (`essay.py`) because it is rendered once for many readers.
"""

from __future__ import annotations

import re

from flask import Flask, render_template
from flask_mail import Message

from newsletter.extensions import mail
from newsletter.mail.backend import transport_factory
from newsletter.mail.identity import from_address, new_message_id, sender_address
from newsletter.mail.transport import DeliveryError, Envelope, TemporaryFailure


def init_app(app: Flask) -> None:
    """Bind Flask-Mail, which reads the MAIL_* settings and builds the messages."""
    mail.init_app(app)


class MailNotSent(OSError):
    """The SMTP server refused a message, or could not be reached in time; `temporary` when
    trying again later may succeed (4xx, timeout, no connection)."""

    def __init__(self, reply: str, *, temporary: bool = False) -> None:
        super().__init__(reply)
        self.temporary = temporary


def templated(name: str, to: str, subject: str, **context) -> Message:
    """A message to one address from `email/<name>.txt` and `email/<name>.html`."""
    message = Message(
        subject=subject,
        recipients=[to],
        sender=from_address(),
        body=render_template(f"email/{name}.txt", **context),
        html=render_template(f"email/{name}.html", **context),
    )
    message.msgId = new_message_id()  # Flask-Mail 0.10 takes no Message-ID argument
    return message


def send(message: Message) -> None:
    """Deliver a transactional message to each of its recipients through the transport the
    settings choose; raise `MailNotSent` when it did not go."""
    data = re.sub(rb"\r?\n", b"\r\n", message.as_bytes())  # SMTP wants CRLF line ends
    transport = transport_factory()()
    try:
        for recipient in message.send_to:
            transport.send(Envelope(sender_address(), recipient, data))
    except DeliveryError as error:
        raise MailNotSent(error.reply, temporary=isinstance(error, TemporaryFailure)) from None
    finally:
        transport.close()
