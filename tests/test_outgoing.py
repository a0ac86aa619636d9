"""The outgoing mail queue: a sign-up only records a row; a background thread sends it."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from conftest import (
    HoldingHandler,
    RecordingHandler,
    RefusingOnceHandler,
    link_in,
    wait_for_outgoing_mail,
)
from sqlalchemy import select, update

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.mail import outgoing
from newsletter.mail.models import OutgoingMail
from newsletter.subscribers import roster, subscriptions
from newsletter.subscribers.models import Subscriber

HEADERS = {"Sec-Fetch-Site": "same-origin"}


def queue_confirmation(app, email: str, **row) -> int:
    """A pending subscriber with a queued confirmation row, as a sign-up leaves them."""
    with app.app_context():
        subscriber = Subscriber(email=email, source="web", confirmation_sent_at=utcnow())
        db.session.add(subscriber)
        db.session.flush()
        outgoing.enqueue(subscriptions.CONFIRM, subscriber.id, email)
        db.session.commit()
        if row:
            db.session.execute(update(OutgoingMail).values(**row))
            db.session.commit()
        return subscriber.id


def the_row(app) -> OutgoingMail:
    """The only queued mail, read fresh."""
    with app.app_context():
        row = db.session.execute(select(OutgoingMail)).scalar_one()
        db.session.expunge(row)
        return row


@pytest.mark.database
def test_delivering_one_queued_confirmation_sends_it_and_settles_the_row(app, smtp_server):
    queue_confirmation(app, "reader@example.org")
    with app.app_context():
        row = outgoing.claim_next("this-process")
        assert outgoing.claim_next("another-process") is None  # claimed: nobody else gets it
        assert outgoing.deliver_row(row, "this-process") == "sent"
    [message] = smtp_server.handler.wait_for(1)
    assert message["To"] == "reader@example.org"
    assert link_in(message, "/confirm/")
    row = the_row(app)
    assert (row.status, row.attempts, row.claimed_by, row.last_error) == ("sent", 1, None, None)
    with app.app_context():
        assert outgoing.claim_next("this-process") is None  # sent once, never again


class TestATemporaryRefusal:
    @pytest.fixture
    def smtp_handler(self) -> RecordingHandler:
        return RefusingOnceHandler()

    def test_is_retried_later_with_backoff_then_sent(self, app, smtp_server):
        queue_confirmation(app, "reader@example.org")
        with app.app_context():
            started = utcnow()
            assert outgoing.deliver_row(outgoing.claim_next("p"), "p") == "queued"
            row = db.session.execute(select(OutgoingMail)).scalar_one()
            delay = timedelta(seconds=app.config["SEND_RETRY_DELAY"])
            assert row.next_attempt_at >= started + delay
            assert "451" in row.last_error
            assert outgoing.claim_next("p") is None  # not due yet
            row.next_attempt_at = utcnow()
            db.session.commit()
            assert outgoing.deliver_row(outgoing.claim_next("p"), "p") == "sent"
        assert the_row(app).attempts == 2
        assert len(smtp_server.handler.wait_for(1)) == 1


class RefusingAlways(RecordingHandler):
    def rcpt_reply(self, address: str) -> str | None:
        return "550 5.1.1 User unknown"


class TestAPermanentRefusal:
    @pytest.fixture
    def smtp_handler(self) -> RecordingHandler:
        return RefusingAlways()

    def test_fails_with_the_reason_and_frees_the_address_for_a_new_sign_up(self, app, smtp_server):
        subscriber_id = queue_confirmation(app, "nobody@example.org")
        with app.app_context():
            assert outgoing.deliver_row(outgoing.claim_next("p"), "p") == "failed"
            assert db.session.get(Subscriber, subscriber_id).confirmation_sent_at is None
        row = the_row(app)
        assert row.status == "failed" and "550" in row.last_error


@pytest.mark.database
def test_rows_a_dead_process_left_are_sent_by_the_next_one(app, client, smtp_server):
    queue_confirmation(app, "queued@example.org")
    stale = utcnow() - timedelta(hours=1)  # a process claimed this row, then died
    with app.app_context():
        subscriber = Subscriber(email="claimed@example.org", source="web")
        db.session.add(subscriber)
        db.session.flush()
        outgoing.enqueue(subscriptions.CONFIRM, subscriber.id, "claimed@example.org")
        db.session.commit()
        db.session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.email == "claimed@example.org")
            .values(status="sending", claimed_by="dead", claimed_at=stale, attempts=1)
        )
        db.session.commit()
    assert client.get("/").status_code == 200  # the first request starts the thread
    arrived = smtp_server.handler.wait_for(2)
    assert {str(m["To"]) for m in arrived} == {"queued@example.org", "claimed@example.org"}


def timed(call) -> float:
    """Seconds one request takes, asserting it answered 200."""
    started = time.perf_counter()
    assert call().status_code == 200
    return time.perf_counter() - started


class TestAHangingMailServer:
    @pytest.fixture
    def smtp_handler(self, config):
        config["SEND_TIMEOUT"] = 20.0  # far longer than any page may take
        handler = HoldingHandler()
        yield handler
        handler.release.set()

    def test_never_slows_the_home_page_or_the_sign_up(self, app, client, smtp_server):
        with app.app_context():
            roster.add_confirmed("known@example.org", source="cli")

        def post(email: str):
            return client.post("/subscribe", data={"email": email, "website": ""}, headers=HEADERS)

        baseline = statistics.median(
            [timed(lambda: client.get("/")) for _ in range(5)]
            + [timed(lambda: post("known@example.org")) for _ in range(5)]
        )
        signups = [timed(lambda n=n: post(f"new-{n}@example.org")) for n in range(3)]
        assert smtp_server.handler.data_started.wait(20), "no mail reached the SMTP server"
        pages = [timed(lambda: client.get("/")) for _ in range(5)]
        bound = max(10 * baseline, baseline + 0.5)  # generous: 2 shared cores; SMTP holds 20 s
        assert max(signups) < bound, f"a sign-up took {max(signups):.3f} s ({baseline:.3f} s)"
        assert max(pages) < bound, f"GET / took {max(pages):.3f} s ({baseline:.3f} s)"
        smtp_server.handler.release.set()
        assert len(smtp_server.handler.wait_for(3, timeout=30)) == 3
        wait_for_outgoing_mail(app)
