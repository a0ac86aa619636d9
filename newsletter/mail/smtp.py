"""The SMTP transport: one connection, opened on first use, and each failure classified.

Flask-Mail's `mail.connect()` reuses a connection too, but it sets no timeout (a stuck server
would hold a web worker) and cannot tell a connection lost before the message's final dot
(safe to retry) from one lost while waiting for the server's verdict (the message may have
arrived: retrying could mail a reader twice). The ledger needs that difference, so the SMTP
dialogue is spelt out here with `smtplib`.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from newsletter.mail.transport import (
    BOUNCE_CODES,
    ConnectFailure,
    Envelope,
    PermanentFailure,
    SenderRefused,
    ServerSilent,
    TemporaryFailure,
    UncertainDelivery,
)

_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to connect; read from the app's Flask-Mail settings."""

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_app(cls) -> SMTPSettings:
        """The current app's MAIL_* settings and SEND_TIMEOUT."""
        config = current_app.config
        return cls(
            host=config["MAIL_SERVER"],
            port=int(config.get("MAIL_PORT") or 25),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            timeout=float(config["SEND_TIMEOUT"]),
        )


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}".strip()


class SMTPTransport:
    """One SMTP connection, opened on first use and reopened after the server drops it."""

    takes_pace = True  # send() calls `pace` once the recipient is accepted, right before DATA

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def connect(self) -> smtplib.SMTP:
        """Open, greet, secure and log in; failures are temporary except a refused login."""
        s = self.settings
        kind = smtplib.SMTP_SSL if s.use_ssl else smtplib.SMTP
        try:
            smtp = kind(s.host, s.port, timeout=s.timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.use_tls:
                smtp.starttls()
                smtp.ehlo()
            if s.username and s.password:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as error:
            raise SenderRefused(
                f"The mail server refused the login ({_reply(error.smtp_code, error.smtp_error)})"
                ". Check MAIL_USERNAME and MAIL_PASSWORD."
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise ConnectFailure(
                f"Could not connect to {s.host}:{s.port} ({error or type(error).__name__})."
            ) from None
        self.smtp = smtp
        return smtp

    def send(self, envelope: Envelope, pace: Callable[[], None] | None = None) -> None:
        """Send one message; raise a `DeliveryError` subclass saying what happened. `pace`
        (a short wait that never raises: the shared rate's slot) runs right before DATA."""
        smtp = self.smtp or self.connect()
        try:
            self._mail_from(smtp, envelope.sender)
            self._rcpt_to(smtp, envelope.recipient)
            if pace:
                pace()
            smtp.putcmd("data")
            code, message = smtp.getreply()
            if code != 354:
                self._refused(smtp, code, message)
            body = _LEADING_DOT.sub(b"..", envelope.data)  # RFC 5321 4.5.2 dot-stuffing
            smtp.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.close(quit=False)
            kind = ServerSilent if isinstance(error, TimeoutError) else TemporaryFailure
            raise kind(f"Connection lost before the message was sent ({error}).") from None
        try:
            code, message = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.close(quit=False)
            raise UncertainDelivery(
                f"Connection lost after the message was sent, before the server confirmed it "
                f"({error})."
            ) from None
        if code != 250:
            self._refused(smtp, code, message, after_data=True)

    def _mail_from(self, smtp: smtplib.SMTP, address: str) -> None:
        """MAIL FROM; a 5xx here is about the sender, so it stops the whole send."""
        code, message = smtp.mail(address)
        if code != 250:
            if 500 <= code < 600:
                self._reset(smtp, code)
                raise SenderRefused(
                    f"The mail server refused the sender {address} ({_reply(code, message)}). "
                    "Check MAIL_DEFAULT_SENDER."
                )
            self._refused(smtp, code, message)

    def _rcpt_to(self, smtp: smtplib.SMTP, address: str) -> None:
        """RCPT TO; a refusal is about this reader (a 550, 551 or 553 bounces)."""
        code, message = smtp.rcpt(address)
        if code not in (250, 251):
            self._refused(smtp, code, message, bounce=code in BOUNCE_CODES)

    def _refused(self, smtp, code: int, message: bytes, *, bounce=False, after_data=False):
        """Classify a refusal: 5xx permanent, anything else temporary; reset for the next."""
        reply = _reply(code, message)
        if not after_data:
            self._reset(smtp, code)
        elif code == 421:
            self.close(quit=False)
        if 500 <= code < 600:
            raise PermanentFailure(reply, bounce=bounce)
        raise TemporaryFailure(reply)

    def _reset(self, smtp: smtplib.SMTP, code: int) -> None:
        """Abandon the transaction (RSET); a 421 or a failing RSET means the link is gone."""
        if code == 421:
            self.close(quit=False)
            return
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close(quit=False)

    def close(self, quit: bool = True) -> None:
        """Say goodbye (or just drop the socket when the link is already broken)."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            if quit:
                smtp.quit()
            else:
                smtp.close()
        except (OSError, smtplib.SMTPException):
            smtp.close()
