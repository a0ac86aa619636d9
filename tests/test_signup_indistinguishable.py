"""A stranger cannot tell a new address from a known one by the sign-up's answer.

Under the production server (`make serve`, two workers) the test posts the sign-up form for new
addresses and for an address already known, in a shuffled order, each on a fresh connection
read to its close: the answers must be identical to the byte but for the Date header. The
timing of the two kinds is not asserted here (see the README's sign-up section).
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SMTPServer, prepared_site
from e2e.live import LiveSite
from sqlalchemy import event, select
from timed_http import sign_up_request

from newsletter.extensions import db
from newsletter.mail.models import OutgoingMail
from newsletter.subscribers import roster, subscriptions

SAMPLES = 40  # per kind, after warm-up, in a shuffled order


@pytest.fixture
def site(tmp_path: Path, smtp: SMTPServer) -> Iterator[LiveSite]:
    """The site under `make serve`, with a sign-up limit the samples stay under."""
    with prepared_site(tmp_path, smtp.port) as live:
        live.env.update(FLASK_SIGNUP_RATE_LIMIT="1000 per minute")
        live.start()
        yield live


def post_sign_up(port: int, address: str) -> bytes:
    """The raw answer to the sign-up form, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(sign_up_request(address))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def without_date(answer: bytes) -> bytes:
    """The answer with its Date header taken out (the only part that may differ)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_new_and_known_addresses_get_the_same_answer_to_the_byte(site: LiveSite, smtp: SMTPServer):
    known = "known-reader@example.org"
    post_sign_up(site.port, known)
    smtp.handler.wait_for(1, timeout=30)
    for n in range(10):  # warm-up: both workers, their database connections, the courier
        post_sign_up(site.port, f"warm-{n}@example.org")
        post_sign_up(site.port, known)
    kinds = ["new"] * SAMPLES + ["known"] * SAMPLES
    random.Random(8058).shuffle(kinds)
    answers = set()
    for n, kind in enumerate(kinds):
        address = f"reader-{n}@example.org" if kind == "new" else known
        answers.add(without_date(post_sign_up(site.port, address)))

    assert len(answers) == 1, "new and known addresses got different answers"
    assert next(iter(answers)).startswith(b"HTTP/1.1 200")
    # Every new reader's mail still goes out, off the request path.
    assert len(smtp.handler.wait_for(1 + 10 + SAMPLES, timeout=60)) == 1 + 10 + SAMPLES


@pytest.mark.database
def test_every_sign_up_sends_the_database_the_same_statements_whatever_the_address(app):
    """The cause of a timing gap, checked exactly: a new, a pending, an active and a departed
    address each cost one upsert, one outgoing row (queued or skipped) and one commit."""
    with app.app_context():
        roster.add_confirmed("active@example.org", source="cli")
        subscriptions.subscribe("pending@example.org", source="web", queue=True)
        subscriptions.subscribe("left@example.org", source="web", queue=True)
        subscriptions.mark_unsubscribed(subscriptions.find("left@example.org"))
        engine, seen, here = db.engine, [], threading.get_ident()

        def record(conn, cursor, statement, parameters, context, executemany):
            if threading.get_ident() == here:  # not the courier's own statements
                seen.append(statement)

        def record_commit(conn):
            if threading.get_ident() == here:
                seen.append("COMMIT")

        event.listen(engine, "before_cursor_execute", record)
        event.listen(engine, "commit", record_commit)
        try:
            statements, results = {}, {}
            for kind in ("new", "pending", "active", "left"):
                seen.clear()
                address = f"{kind}@example.org"
                results[kind] = subscriptions.subscribe(address, source="web", queue=True)
                statements[kind] = list(seen)
        finally:
            event.remove(engine, "before_cursor_execute", record)
            event.remove(engine, "commit", record_commit)
        query = select(OutgoingMail.email, OutgoingMail.status).order_by(OutgoingMail.id)
        rows = db.session.execute(query).all()
    assert len(statements["new"]) == 3 and statements["new"][-1] == "COMMIT", statements["new"]
    assert statements["pending"] == statements["active"] == statements["left"] == statements["new"]
    mailed = {kind: result.mailed for kind, result in results.items()}
    assert mailed == {"new": True, "pending": False, "active": False, "left": True}
    outcomes = {kind: result.outcome for kind, result in results.items()}
    assert outcomes == {"new": "new", "pending": "pending", "active": "active",
                        "left": "resubscribed"}  # fmt: skip
    last = dict(rows)  # the latest row of each address (rows come in id order); the queued
    # ones may be sent already
    assert "skipped" != last["new@example.org"] and "skipped" != last["left@example.org"]
    assert last["pending@example.org"] == last["active@example.org"] == "skipped"
