"""The one mail transport interface: a `Transport` takes an `Envelope` (sender, one recipient,
the message's bytes) with `send()`, and says what went wrong with a `DeliveryError` subclass.

Two transports implement it, as Django's mail backends do: `smtp.SMTPTransport` and
`outbox.OutboxTransport`; `backend.transport_factory()` picks one, once, from the settings.
Confirmation mails and essays both go through it. The failure kinds matter to the delivery
ledger: a message lost before its final dot is safe to retry, one lost after it may have
arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

BOUNCE_CODES = (550, 551, 553)  # RCPT refused: the mailbox does not exist or is not allowed


@dataclass(frozen=True)
class Envelope:
    """One message for one recipient, ready for SMTP DATA (CRLF line ends)."""

    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    data: bytes


class Transport(Protocol):
    """Something that delivers messages one at a time, on one connection it owns."""

    def send(self, envelope: Envelope) -> None:
        """Deliver one message; raise a `DeliveryError` subclass saying what happened."""

    def close(self) -> None:
        """Release the connection (or nothing)."""


class DeliveryError(Exception):
    """A message that was not delivered; `reply` is what the server (or socket) said."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class TemporaryFailure(DeliveryError):
    """4xx, timeout or lost connection before the end of DATA: safe to try again later."""


class ServerSilent(TemporaryFailure):
    """The server stopped answering mid-dialogue (SEND_TIMEOUT passed) before the final dot."""


class ConnectFailure(TemporaryFailure):
    """The server could not be reached at all."""


class PermanentFailure(DeliveryError):
    """5xx for this recipient or message; `bounce` when the mailbox does not exist."""

    def __init__(self, reply: str, *, bounce: bool = False) -> None:
        super().__init__(reply)
        self.bounce = bounce


class SenderRefused(DeliveryError):
    """5xx to MAIL FROM or to the login: every message would fail, so the send must stop."""


class UncertainDelivery(DeliveryError):
    """The whole message went out but no verdict came back: it may have been delivered."""
