"""The outgoing mail queue: a sign-up only records a row; a background thread sends it."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import (
    HoldingHandler,
    RecordingHandler,
    RefusingOnceHandler,
    link_in,
    wait_for_outgoing_mail,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.mail import courier as courier_module
from newsletter.mail import outgoing
from newsletter.mail.courier import courier
from newsletter.mail.messages import MailNotSent
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


@pytest.mark.database
def test_the_first_page_is_sent_before_the_thread_starts_then_it_sends_what_was_left(
    app, smtp_server
):
    queue_confirmation(app, "left@example.org")  # left by a previous process
    client = app.test_client()  # not closing its responses: the server is still sending
    first = client.get("/", buffered=False)
    assert first.status_code == 200
    assert courier(app).thread is None  # no query, no ORM set-up beside the first page
    first.close()  # sent: the server closes the response, as WSGI servers do
    arrived = smtp_server.handler.wait_for(1)
    assert [str(m["To"]) for m in arrived] == ["left@example.org"]


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


# --- the queue under random interleavings (Hypothesis) ------------------------------------------

PROCESSES = ("p1", "p2", "p3")
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("enqueue"), st.none()),
        st.tuples(st.just("claim"), st.sampled_from(PROCESSES)),
        st.tuples(st.just("settle"), st.tuples(st.sampled_from(PROCESSES), st.sampled_from(
            ("ok", "temporary", "permanent")))),
        st.tuples(st.just("die"), st.sampled_from(PROCESSES)),
    ),
    max_size=30,
)  # fmt: skip


class Probe:
    """A kind of queued mail whose sending is scripted: what the next send does, and what was
    sent (the mail server's view)."""

    def __init__(self) -> None:
        self.next = "ok"
        self.sent: list[str] = []
        self.gave_up: list[int] = []

    def send(self, subscriber_id: int, email: str) -> None:
        if self.next == "temporary":
            raise MailNotSent("451 4.3.0 Try again later", temporary=True)
        if self.next == "permanent":
            raise MailNotSent("550 5.1.1 User unknown")
        self.sent.append(email)


def expire_claims(tokens: set[str]) -> None:
    """Age the claims of dead processes past the lease, as time passing would."""
    stale = utcnow() - 2 * outgoing.lease()
    db.session.execute(
        update(OutgoingMail).where(OutgoingMail.claimed_by.in_(tokens)).values(claimed_at=stale)
    )
    db.session.commit()


def run_operations(operations, probe: Probe, subscriber_id: int) -> None:
    """Play the operations: processes claim, send and settle rows, or die holding them."""
    held: dict[str, list] = {process: [] for process in PROCESSES}
    generation = dict.fromkeys(PROCESSES, 0)  # a process that died comes back as a new one
    for number, (operation, argument) in enumerate(operations):
        if operation == "enqueue":
            outgoing.enqueue("probe", subscriber_id, f"row-{number}@example.org")
            db.session.commit()
        elif operation == "claim":
            token = f"{argument}-{generation[argument]}"
            row = outgoing.claim_next(token)
            if row is not None:
                held[argument].append((row, token))
        elif operation == "settle" and held[argument[0]]:
            probe.next = argument[1]
            row, token = held[argument[0]].pop(0)
            outgoing.deliver_row(row, token)
        elif operation == "die":
            held[argument] = []  # its claims are never settled: the lease frees them
            generation[argument] += 1
    expire_claims({f"{p}-{g}" for p in PROCESSES for g in range(generation[p] + 1)})


@pytest.mark.database
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_every_queued_row_is_sent_at_most_once_and_ends_sent_or_failed(
    app, monkeypatch, operations
):
    probe = Probe()
    monkeypatch.setitem(outgoing.KINDS, "probe", outgoing.Kind(probe.send, probe.gave_up.append))
    app.config.update(SEND_RETRY_DELAY=0, SEND_MAX_ATTEMPTS=3)
    with app.app_context():
        db.session.execute(delete(OutgoingMail))
        db.session.execute(delete(Subscriber))
        subscriber = Subscriber(email="queue@example.org", source="web")
        db.session.add(subscriber)
        db.session.commit()
        run_operations(operations, probe, subscriber.id)
        during = Counter(probe.sent)
        probe.next = "ok"
        while (row := outgoing.claim_next("survivor")) is not None:  # a process that lives
            outgoing.deliver_row(row, "survivor")
        rows = db.session.execute(select(OutgoingMail.email, OutgoingMail.status)).all()
    sent = Counter(probe.sent)
    assert max(sent.values(), default=0) <= 1, sent  # never a second copy
    assert len(rows) == sum(operation == "enqueue" for operation, _ in operations)
    for email, status in rows:
        assert status in ("sent", "failed"), (email, status)  # nothing left behind
        assert (status == "sent") == (sent[email] == 1), (email, status, during)
    failed = sum(status == "failed" for _, status in rows)
    assert len(probe.gave_up) == failed  # each failure undone once


class TestTheThreadWaitsForAQuietMoment:
    """A wake-up comes as a response closes, while the server may still be sending it: the
    thread's pass waits until no wake-up has come for SETTLE seconds (at most SETTLE_AT_MOST)."""

    @pytest.fixture
    def passes(self, app, monkeypatch) -> list[float]:
        """When each pass of the app's courier began (time.monotonic)."""
        began: list[float] = []
        run_pass = courier(app)._pass

        def timed_pass():
            began.append(time.monotonic())
            return run_pass()

        monkeypatch.setattr(courier(app), "_pass", timed_pass)
        return began

    def test_a_pass_begins_no_sooner_than_settle_after_the_last_wake_up(self, app, passes):
        each = courier(app)
        with app.app_context():
            for _ in range(5):  # a burst of sign-ups
                each.wake()
            last = each.woken_at
            assert each.wait_idle(timeout=10)
        assert passes and passes[-1] >= last + courier_module.SETTLE  # the one that served it

    def test_a_stream_of_wake_ups_holds_mail_back_at_most_settle_at_most(
        self, app, passes, monkeypatch
    ):
        monkeypatch.setattr(courier_module, "SETTLE", 600.0)  # as if wake-ups never stopped
        monkeypatch.setattr(courier_module, "SETTLE_AT_MOST", 0.2)
        each = courier(app)
        before = time.monotonic()
        with app.app_context():
            each.wake()
            assert each.wait_idle(timeout=10), "the pass waited for a quiet moment forever"
        assert passes and passes[0] >= before + 0.2
