"""A small SMTP server on raw sockets, for the one fault aiosmtpd has no hook for: the
connection dropped in the middle of the DATA body, before the final dot.

It speaks just enough SMTP for the sender (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT) and keeps every message it accepts, like conftest's RecordingHandler. When `drop(rcpt)`
says so, it answers DATA with 354, reads the first bytes of the body and resets the connection
(a small receive window keeps the rest of a large message on the sender's side, so the sender
is still sending when the connection goes, as over a real network).
"""

from __future__ import annotations

import email
import email.policy
import socket
import struct
import threading
from collections.abc import Callable
from email.message import EmailMessage

WINDOW = 4096  # bytes the server's socket buffers: a large message cannot fit in flight
BODY_BEFORE_DROP = 1024  # bytes of the body read before the connection goes


class RawSMTPServer:
    """A threaded SMTP server on 127.0.0.1; `drop(recipient)` is asked once per DATA."""

    def __init__(self, drop: Callable[[str], bool]) -> None:
        self.drop = drop
        self.messages: list[EmailMessage] = []
        self.received = threading.Condition()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, WINDOW)  # before listen
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # shut down
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            try:
                Session(self, connection, reader).run()
            except OSError:
                pass  # the sender went away

    def keep(self, content: bytes) -> None:
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self.received:
            self.messages.append(message)
            self.received.notify_all()


class Session:
    """One SMTP connection: commands in, replies out."""

    def __init__(self, server: RawSMTPServer, connection: socket.socket, reader) -> None:
        self.server, self.connection, self.reader = server, connection, reader
        self.recipients: list[str] = []

    def reply(self, line: str) -> None:
        self.connection.sendall(line.encode() + b"\r\n")

    def run(self) -> None:
        self.reply("220 127.0.0.1 raw SMTP ready")
        while line := self.reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 127.0.0.1")
            elif verb == b"MAIL":
                self.recipients = []
                self.reply("250 OK")
            elif verb == b"RCPT":
                address = line.split(b":", 1)[1].strip().strip(b"<>").decode()
                self.recipients.append(address.split(">")[0])
                self.reply("250 OK")
            elif verb == b"DATA":
                if not self.data():
                    return
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP
                self.recipients = []
                self.reply("250 OK")

    def data(self) -> bool:
        """Take one message, or drop the connection halfway through it (False)."""
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        if self.recipients and self.server.drop(self.recipients[0]):
            self.reader.read(BODY_BEFORE_DROP)
            # Linger 0: close with a reset, as a crashed server or a cut link does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        lines = []
        while (line := self.reader.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        self.server.keep(b"".join(lines))
        self.reply("250 Message accepted")
        return True
