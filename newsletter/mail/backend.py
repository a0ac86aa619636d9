"""The one choice of transport: SMTP when the site has a mail server, else the outbox folder.

`MAIL_USE_OUTBOX` is settled once at start-up (`config.finish_config`: no `MAIL_SERVER`, or
`MAIL_SUPPRESS_SEND`); this is the only code that reads it to pick a transport, for
confirmation mails and essays alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import current_app

from newsletter.mail.outbox import OutboxTransport
from newsletter.mail.smtp import SMTPSettings, SMTPTransport
from newsletter.mail.transport import Transport


def transport_factory() -> Callable[[], Transport]:
    """A function making one transport per connection, with the current app's settings read
    now (the send pool calls it from threads without an app context)."""
    config = current_app.config
    if config["MAIL_USE_OUTBOX"]:
        directory = Path(config["OUTBOX_DIR"])
        return lambda: OutboxTransport(directory)
    settings = SMTPSettings.from_app()
    return lambda: SMTPTransport(settings)
