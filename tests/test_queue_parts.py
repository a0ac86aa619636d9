"""The parts of a queued send, without worker processes: the run and its batches, one batch
job run twice (a redelivery), the shared rate, the clock, and one `flask send --new` at a time."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from conftest import RecordingHandler, TimingHandler, free_port
from sqlalchemy import select
from test_queue_workers import REDIS_URL, redis_client

from newsletter.extensions import db
from newsletter.mail.essay import build_essay_email
from newsletter.mail.smtp import SMTPSettings, SMTPTransport
from newsletter.mail.transport import Envelope
from newsletter.sending import clock, jobs, runs, single
from newsletter.sending.mailing import find_post, send_options
from newsletter.sending.models import Mailing, SendBatch
from newsletter.sending.ratelimit import LEAD_SECONDS, GlobalRate, is_slow_down

pytestmark = pytest.mark.database


@pytest.fixture
def smtp_handler(request):
    """The test server's handler: recording, unless a test names another."""
    return request.param() if hasattr(request, "param") else RecordingHandler()


@pytest.fixture
def essay(write_post):
    return write_post("week-1.md", title="'Week 1'", date="2022-02-01")


def new_run(app, batch_size: int):
    with app.app_context():
        post = find_post("week-1")
        return runs.create_run(
            db.engine, build_essay_email(post), post.title,
            retry_uncertain=False, batch_size=batch_size,
        )  # fmt: skip


def test_the_essay_message_survives_its_trip_through_the_database(app, essay):
    with app.app_context():
        built = build_essay_email(find_post("week-1"))
        assert runs.essay_from_json(runs.essay_to_json(built)) == built


def test_batches_cover_every_id_and_the_last_batch_ends_the_mailing_once(
    app, essay, add_subscribers
):
    ids = [subscriber_id for subscriber_id, _ in add_subscribers(7)]
    run_id, batch_ids = new_run(app, batch_size=3)
    with app.app_context():
        rows = db.session.execute(select(SendBatch).order_by(SendBatch.id)).scalars().all()
        ranges = [(row.first_id, row.last_id) for row in rows]
        assert ranges == [(0, ids[3] - 1), (ids[3], ids[6] - 1), (ids[6], None)]
        for batch_id in batch_ids[:-1]:
            assert runs.finish_batch(db.engine, batch_id)
        assert not runs.finish_batch(db.engine, batch_ids[0]), "a redelivered job ends nothing"
        assert not runs.run_state(db.engine, run_id).finished
        assert db.session.execute(select(Mailing.status)).scalar_one() == "sending"
        assert runs.finish_batch(db.engine, batch_ids[-1])
        assert runs.run_state(db.engine, run_id).finished
        db.session.expire_all()
        assert db.session.execute(select(Mailing.status)).scalar_one() == "done"


def test_a_batch_that_ended_on_an_error_leaves_the_mailing_to_a_rerun(app, essay, add_subscribers):
    add_subscribers(2)
    run_id, [batch_id] = new_run(app, batch_size=10)
    with app.app_context():
        runs.finish_batch(db.engine, batch_id, "550 sender refused")
        state = runs.run_state(db.engine, run_id)
        assert state.finished and state.error == "550 sender refused"
        assert db.session.execute(select(Mailing.status)).scalar_one() == "sending"


def test_a_batch_job_run_twice_mails_each_reader_once(app, essay, add_subscribers, smtp_server):
    add_subscribers(12)
    _, batch_ids = new_run(app, batch_size=5)
    with app.app_context():
        transport = SMTPTransport(SMTPSettings.from_app())
        worker = jobs.Worker(db.engine, transport, send_options())
        try:
            for batch_id in batch_ids + batch_ids:  # every job delivered twice
                assert jobs.run_batch(worker, batch_id, attempt=0) is jobs.Pass.ENDED
        finally:
            transport.close()
        assert len(smtp_server.messages) == 12
        report = runs.report(db.engine, runs.run_state(db.engine, 1))
        assert (report.sent, report.failed, report.uncertain, report.skipped) == (12, 0, 0, 0)


def test_redis_gone_before_mail_from_leaves_each_reader_to_a_later_pass(
    app, essay, add_subscribers, smtp_server
):
    """The shared rate cannot be read: nothing is sent, no reader is left claimed (`sending`,
    which only an author's --retry-uncertain would retry), the pass stops after
    SEND_MAX_ATTEMPTS readers in a row, and once Redis answers again the next pass mails each
    reader once."""
    add_subscribers(6)
    _, (batch_id,) = new_run(app, batch_size=10)
    gone = GlobalRate(f"redis://127.0.0.1:{free_port()}/0", 50)  # nobody listens there
    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    back = GlobalRate(REDIS_URL, 50, namespace=namespace)
    with app.app_context():
        transport = SMTPTransport(SMTPSettings.from_app())
        worker = jobs.Worker(db.engine, transport, send_options(), rate=gone)
        worker.transport = jobs.PacedTransport(transport, gone, worker.stop)
        try:
            assert jobs.run_batch(worker, batch_id, attempt=0) is jobs.Pass.AGAIN
            assert smtp_server.messages == []
            report = runs.report(db.engine, runs.run_state(db.engine, 1))
            tries = send_options().max_attempts
            assert tries < 6
            assert (report.sent, report.failed, report.uncertain) == (0, tries, 0)
            assert "could not be read from Redis" in report.failures[0][1]
            worker.rate = back
            worker.transport = jobs.PacedTransport(transport, back, worker.stop)
            assert jobs.run_batch(worker, batch_id, attempt=1) is jobs.Pass.ENDED
        finally:
            transport.close()
            client.delete(*client.scan_iter(f"{namespace}*"))
    assert sorted(str(m["To"]) for m in smtp_server.messages) == sorted(
        f"reader{n}@example.com" for n in range(6)
    )


def test_a_slow_down_with_redis_gone_is_logged_not_raised(caplog):
    gone = GlobalRate(f"redis://127.0.0.1:{free_port()}/0", 50)
    gone.slow_down()
    assert "could not be shared through Redis" in caplog.text


def test_a_stopping_worker_hands_its_batch_back_unfinished(app, essay, add_subscribers):
    add_subscribers(3)
    _, [batch_id] = new_run(app, batch_size=10)
    with app.app_context():
        stop = threading.Event()
        stop.set()
        worker = jobs.Worker(db.engine, transport=None, options=send_options(), stop=stop)
        assert jobs.run_batch(worker, batch_id, attempt=0) is jobs.Pass.STOPPED
        assert db.session.get(SendBatch, batch_id).finished_at is None


def test_one_new_send_at_a_time(app, tmp_path: Path):
    with app.app_context():
        lock_file = tmp_path / "send-new.lock"
        with single.only_one(db.engine, lock_file) as first:
            other = {}
            thread = threading.Thread(  # another process's view: its own connection or file
                target=lambda: other.setdefault("got", _try_lock(app, lock_file))
            )
            thread.start()
            thread.join(10)
            assert first and other["got"] is False
        assert _try_lock(app, lock_file) is True, "the lock is free again"


def _try_lock(app, lock_file: Path) -> bool:
    with app.app_context(), single.only_one(db.engine, lock_file) as got:
        return got


def test_a_second_send_new_says_another_one_runs(app, runner, tmp_path: Path):
    with app.app_context(), single.only_one(db.engine, Path(app.instance_path) / "send-new.lock"):
        # flock is per open file, an advisory lock per connection: one process shows it
        result = runner.invoke(args=["send", "--new", "--yes"])
        assert "Another 'flask send --new' is running" in result.output


def test_flask_worker_without_a_broker_says_none_is_needed(runner):
    result = runner.invoke(args=["worker"])
    assert result.exit_code == 1
    assert "BROKER_URL is not set" in result.output


def test_the_database_clock_offset_is_measured(app):
    with app.app_context():
        offset = clock.sync(db.engine)
        assert abs(offset.total_seconds()) < 1.0  # the same machine: almost none
        clock._offset = type(offset)(0)


def test_a_slow_down_reply_pauses_everyone_and_halves_the_rate():
    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    rate = GlobalRate(REDIS_URL, 40, namespace=namespace, pause_seconds=5)
    other = GlobalRate(REDIS_URL, 40, namespace=namespace, pause_seconds=5)  # another worker
    try:
        assert is_slow_down("421 4.7.0 slow down") and is_slow_down("454 try later")
        assert not is_slow_down("451 4.3.0 try again")
        waits: list[float] = []
        assert rate.wait(lambda seconds: waits.append(seconds) or False)
        rate.slow_down()
        rate.slow_down()  # the same burst heard twice halves once
        assert other.current() == 20
        assert not other.wait(lambda seconds: waits.append(seconds) or True)  # told to stop
        assert 4.0 < waits[-1] <= 5.0, "the other worker waits out the pause"
    finally:
        client.delete(*client.scan_iter(f"{namespace}*"))


def test_slots_are_spaced_evenly_across_workers():
    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    workers = [GlobalRate(REDIS_URL, 50, namespace=namespace) for _ in range(3)]
    try:
        waits: list[float] = []
        for n in range(9):  # three workers asking in turn, none of them waiting
            workers[n % 3].wait(lambda seconds: waits.append(seconds) or True)
        # each slot is 20 ms after the one before it, whoever took it
        gaps = [b - a for a, b in zip(waits, waits[1:], strict=False)]
        assert all(0.010 <= gap <= 0.030 for gap in gaps), waits
    finally:
        client.delete(*client.scan_iter(f"{namespace}*"))


@pytest.fixture
def paced(smtp_server):
    """A paced SMTP transport to the test server on a rate of 5 a second (slots 200 ms apart)
    in a namespace of its own; (transport, rate)."""
    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    rate = GlobalRate(REDIS_URL, 5, namespace=namespace, pause_seconds=0.6)
    transport = SMTPTransport(SMTPSettings("127.0.0.1", smtp_server.port, timeout=10))
    yield jobs.PacedTransport(transport, rate, threading.Event()), rate
    transport.close()
    client.delete(*client.scan_iter(f"{namespace}*"))


def _envelope(n: int) -> Envelope:
    return Envelope("desk@example.org", f"reader{n}@example.com", b"Subject: Hi\r\n\r\nHello.\r\n")


@pytest.mark.parametrize("smtp_handler", [TimingHandler], indirect=True)
def test_a_paced_message_opens_before_its_slot_and_its_data_keeps_to_the_slot(smtp_handler, paced):
    transport, _ = paced
    for n in range(4):
        transport.send(_envelope(n))
    mail_from, data = smtp_handler.accepted, smtp_handler.attempts
    assert len(data) == 4
    gaps = [b - a for a, b in zip(data, data[1:], strict=False)]
    assert all(gap >= 0.2 - 0.02 for gap in gaps), f"DATA 200 ms apart at most once: {gaps}"
    waits = [d - m for m, d in zip(mail_from[1:], data[1:], strict=True)]
    # the transaction opens up to the lead before the slot and waits no longer inside it
    assert all(LEAD_SECONDS / 2 <= wait <= LEAD_SECONDS + 0.1 for wait in waits), waits


@pytest.mark.parametrize("smtp_handler", [TimingHandler], indirect=True)
def test_a_pause_is_waited_out_before_mail_from_not_inside_the_transaction(smtp_handler, paced):
    import time

    transport, rate = paced
    rate.slow_down()
    paused = time.monotonic()
    transport.send(_envelope(1))
    (mail_from,), (data,) = smtp_handler.accepted, smtp_handler.attempts
    assert mail_from - paused >= 0.6 - 0.05, "MAIL FROM waited for the pause to end"
    assert data - mail_from <= LEAD_SECONDS + 0.1, "and the transaction stayed short"


def test_messages_late_to_their_slots_never_crowd_one_second_past_the_rate():
    import time

    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    rate = GlobalRate(REDIS_URL, 5, namespace=namespace)
    try:
        late = time.monotonic() - 1.0  # every message came long after its own slot
        started = time.monotonic()
        went = []
        for _ in range(7):
            rate.go(late)
            went.append(time.monotonic() - started)
        assert went[4] < 0.5, f"five a second go at once: {went}"
        assert min(went[5:]) >= 0.95, f"the sixth and seventh wait for the first to leave: {went}"
    finally:
        client.delete(*client.scan_iter(f"{namespace}*"))
