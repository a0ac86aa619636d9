"""Delivering one message without threads: `deliver_one` against a real SMTP server and the
ledger, and the pool's schedule, which must run out whatever the retries."""

from __future__ import annotations

import threading

import pytest
from conftest import RecordingHandler
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.mail.essay import build_essay_email
from newsletter.mail.smtp import SMTPSettings, SMTPTransport
from newsletter.sending.delivery import Job, Outcome, deliver_one
from newsletter.sending.ledger import Recipient
from newsletter.sending.mailing import find_post
from newsletter.sending.models import Delivery
from newsletter.sending.pool import Schedule
from newsletter.subscribers.models import Subscriber

pytestmark = pytest.mark.database


class Scripted(RecordingHandler):
    """Replies to RCPT and DATA from two queues of scripted replies (None: accept)."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpt: list[str | None] = []
        self.data: list[str | None] = []
        self.mail: str | None = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        envelope.mail_from = address
        return self.mail or "250 OK"

    def rcpt_reply(self, address):
        return self.rcpt.pop(0) if self.rcpt else None

    def data_reply(self, envelope):
        return self.data.pop(0) if self.data else None


@pytest.fixture
def smtp_handler():
    return Scripted()


@pytest.fixture
def attempt(app, smtp_server, write_post, add_subscribers):
    """`attempt(job)`: one call of deliver_one inside the app, on one connection."""
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(1)
    with app.app_context():
        essay = build_essay_email(find_post("week-1"))
        transport = SMTPTransport(SMTPSettings.from_app())
        started = utcnow()
        with db.engine.connect() as conn:

            def run(job: Job):
                return deliver_one(conn, essay, transport, job, started=started, max_attempts=2)

            yield run
        transport.close()


def job() -> Job:
    return Job(Recipient(1, "reader0@example.com"), "<m1@example.org>")


def row(app) -> tuple[str, str | None, str] | None:
    with app.app_context():
        query = select(Delivery.status, Delivery.last_error, Subscriber.status).join(Subscriber)
        return db.session.execute(query).first()


def test_an_accepted_message_is_sent_and_a_second_claim_skipped(app, attempt, smtp_server):
    assert attempt(job()).outcome is Outcome.SENT
    assert attempt(job()).outcome is Outcome.SKIPPED  # the row is someone's: never twice
    assert len(smtp_server.messages) == 1 and row(app)[:2] == ("sent", None)


def test_a_temporary_failure_retries_until_the_attempts_run_out(app, attempt, smtp_handler):
    smtp_handler.data += ["451 4.3.0 later", "451 4.3.0 later"]
    message = job()
    first = attempt(message)
    assert (first.outcome, row(app)[0]) == (Outcome.RETRY, "failed")
    second = attempt(message)
    assert second.outcome is Outcome.FAILED and "gave up after 2 attempts" in second.reply


def test_a_refused_mailbox_fails_for_good_and_bounces(app, attempt, smtp_handler):
    smtp_handler.rcpt.append("550 5.1.1 User unknown")
    result = attempt(job())
    assert (result.outcome, result.bounce) == (Outcome.FAILED, True)
    assert row(app) == ("failed", "550 5.1.1 User unknown", "bounced")


def test_a_refused_sender_gives_the_claim_back(app, attempt, smtp_handler):
    smtp_handler.mail = "553 5.7.1 Sender rejected"
    assert attempt(job()).outcome is Outcome.ABORT
    assert row(app) is None  # released: the rerun sends it


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3), max_size=12), st.integers(1, 3))
def test_the_schedule_runs_out_whatever_the_retries(retries_each, workers):
    """Each reader's message asks for `n` retries; workers get each try once, then all end."""
    recipients = [
        Recipient(n, f"r{n}@example.com", None, f"<{n}@example.org>")
        for n in range(len(retries_each))
    ]
    schedule = Schedule(recipients, threading.Event())
    tries = [0] * len(retries_each)
    lock = threading.Lock()

    def work() -> None:
        while (taken := schedule.take()) is not None:
            n = taken.recipient.subscriber_id
            with lock:
                tries[n] += 1
                again = tries[n] <= retries_each[n]
            schedule.done(taken, 0.0 if again else None)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "a worker never ended"
    assert tries == [wanted + 1 for wanted in retries_each]
