"""Requests timed on the wire with `time.perf_counter`, on a new connection each, for the
timing tests: from the request's first byte to the answer's last, and to the server's close."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Timing:
    """Seconds from sending the request to the answer's last byte, and to the server's close."""

    answered: float
    closed: float


def sign_up_request(address: str) -> bytes:
    """The raw bytes of a same-origin sign-up form post that asks the server to close after."""
    body = urlencode({"email": address, "website": ""}).encode()
    head = (
        "POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def timed_sign_up(port: int, address: str) -> Timing:
    """Post the sign-up form on a new connection and time its answer and its close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(sign_up_request(address))
        received = b""
        while b"\r\n\r\n" not in received:
            received += receive(sock)
        headers, _, content = received.partition(b"\r\n\r\n")
        assert headers.startswith(b"HTTP/1.1 200"), headers
        length = content_length(headers)
        while len(content) < length:
            content += receive(sock)
        answered = time.perf_counter()
        while sock.recv(65536):
            pass
        return Timing(answered - started, time.perf_counter() - started)


def receive(sock: socket.socket) -> bytes:
    """The next bytes of an answer; the server closing before the end is a failure."""
    chunk = sock.recv(65536)
    assert chunk, "the server closed the connection before the end of its answer"
    return chunk


def content_length(headers: bytes) -> int:
    """The Content-Length of an answer's head (the sign-up page always has one)."""
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"no Content-Length in {headers!r}")


def timed_get(port: int, path: str = "/") -> float:
    """Seconds from sending a GET on a new connection to the server's close after the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        return time.perf_counter() - started
