"""Mail as its recipients see it: what the test SMTP server received, parsed by `email`."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses

from bs4 import BeautifulSoup
from conftest import RecordingHandler  # tests/conftest.py: the unit tests' SMTP recorder


def recipients(message: EmailMessage) -> set[str]:
    """The addresses in the message's To header, lower-cased."""
    return {address.lower() for _, address in getaddresses(message.get_all("To", []))}


def html_part(message: EmailMessage) -> BeautifulSoup:
    """The text/html part, parsed as a mail client would."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, f"The message {message['Subject']!r} has no HTML part."
    return BeautifulSoup(part.get_content(), "html5lib")


def text_part(message: EmailMessage) -> str:
    """The text/plain part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"The message {message['Subject']!r} has no text part."
    return part.get_content()


def link(soup: BeautifulSoup, text: str, href_contains: str = "") -> str:
    """The href of the first link whose text matches `text` (a regex, any case)."""
    pattern = re.compile(text, re.IGNORECASE)
    for anchor in soup.find_all("a", href=True):
        if pattern.search(anchor.get_text(" ", strip=True)) and href_contains in anchor["href"]:
            return anchor["href"]
    raise AssertionError(f"No link matching {text!r} (href with {href_contains!r}) in:\n{soup}")


def list_unsubscribe_url(message: EmailMessage) -> str:
    """The https/http URL of the List-Unsubscribe header (RFC 2369), as a provider reads it."""
    header = str(message.get("List-Unsubscribe", ""))
    found = re.search(r"<(https?://[^>]+)>", header)
    assert found, f"No http(s) URL in List-Unsubscribe: {header!r}"
    return found.group(1)


class Mailbox:
    """The messages an SMTP server on 127.0.0.1 accepted, for every recipient."""

    def __init__(self, handler: RecordingHandler, port: int) -> None:
        self.handler = handler
        self.port = port

    def messages(self) -> list[EmailMessage]:
        """Everything received so far."""
        with self.handler.received:
            return list(self.handler.messages)

    def wait_for(
        self, what: str, found: Callable[[list[EmailMessage]], bool], timeout: float = 15.0
    ) -> list[EmailMessage]:
        """Block until `found(messages)` holds (woken by each arrival, no sleeping)."""
        with self.handler.received:
            arrived = self.handler.received.wait_for(
                lambda: found(self.handler.messages), timeout=timeout
            )
            messages = list(self.handler.messages)
        if not arrived:
            subjects = [(sorted(recipients(m)), m["Subject"]) for m in messages]
            raise AssertionError(f"No {what} within {timeout:g} s; received: {subjects}")
        return messages

    def wait_for_one_to(self, address: str, subject: str = "") -> EmailMessage:
        """The first message to `address` whose subject contains `subject`."""

        def matching(messages: list[EmailMessage]) -> list[EmailMessage]:
            return [
                m for m in messages if address in recipients(m) and subject in str(m["Subject"])
            ]

        messages = self.wait_for(f"mail to {address}", lambda got: bool(matching(got)))
        return matching(messages)[0]

    def about(self, subject: str) -> list[EmailMessage]:
        """The messages received so far whose subject contains `subject`."""
        return [m for m in self.messages() if subject in str(m["Subject"])]
