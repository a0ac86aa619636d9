"""The outbox transport: without an SMTP server every message (confirmation or essay) is written
to OUTBOX_DIR as an .eml file and its links are logged, so a fresh install works offline."""

from __future__ import annotations

import email
import email.policy
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from newsletter.mail.transport import Envelope

log = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"']+")
_UNSAFE = re.compile(r"[^\w.@+-]")  # characters kept out of file names


class OutboxTransport:
    """Writes each message to a folder, one file per recipient, and logs its links."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, envelope: Envelope) -> None:
        """Save the message under a name that sorts by time and shows the recipient."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / file_name(envelope.recipient)
        path.write_bytes(envelope.data)
        log.warning(
            "Mail to %s written to %s, not sent (no MAIL_SERVER, or MAIL_SUPPRESS_SEND). Links: %s",
            envelope.recipient,
            path,
            ", ".join(links_in(envelope.data)) or "none",
        )

    def close(self) -> None:
        """Nothing to close."""


def file_name(recipient: str) -> str:
    """`<UTC time to the microsecond>-<recipient>.eml`: sorts by time, shows who it is for."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{_UNSAFE.sub('_', recipient)[:80]}.eml"


def links_in(data: bytes) -> list[str]:
    """The URLs of a message's text part, in order, each once (the confirmation link, say)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    return list(dict.fromkeys(_URL.findall(text.get_content() if text else "")))
