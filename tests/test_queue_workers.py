"""Sending on the task queue with real `flask worker` processes, a real Redis broker and a real
SMTP server: exactly once across workers, a worker killed mid-batch, a server that asks to slow
down, and one global rate. Skipped, saying so, when no Redis answers on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from email.utils import parseaddr
from pathlib import Path

import pytest
from conftest import QuotaHandler, TimingHandler
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.sending.models import Delivery, Mailing, SendRun
from newsletter.subscribers.models import Subscriber

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SEND_TIMEOUT = 90  # seconds a whole queued send may take in these tests


def redis_client():
    """A client of the test Redis, or a skip saying why."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answers at {REDIS_URL}: the queue tests need one")
    return client


@pytest.fixture
def queue(config):
    """Queue settings of one test (its own key namespace), put into the app's config too."""
    client = redis_client()
    namespace = f"nltest-{uuid.uuid4().hex[:10]}"
    settings = {
        "BROKER_URL": REDIS_URL,
        "BROKER_NAMESPACE": namespace,
        "BROKER_HEARTBEAT_SECONDS": 2,
        "SEND_QUEUE_BATCH_SIZE": 50,
    }
    config.update(settings)
    yield settings
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


class Workers:
    """`flask worker` processes of one test; all killed when it ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []

    def start(self, count: int, env: dict[str, str], threads: int = 1) -> None:
        logs = []
        for _ in range(count):
            log = self.folder / f"worker-{len(self.processes)}.log"
            with open(log, "w") as out:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "worker", "--threads", str(threads)],
                        cwd=ROOT,
                        env={**env, "PYTHONUNBUFFERED": "1"},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )  # fmt: skip
                )
            logs.append(log)
        deadline = time.monotonic() + 30
        while not all("Worker ready" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
            assert all(p.poll() is None for p in self.processes), self.logs()
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.folder.glob("worker-*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(tmp_path):
    pool = Workers(tmp_path)
    yield pool
    pool.stop()


@pytest.fixture
def essay(write_post):
    return write_post("week-1.md", title="'Week 1'", date="2022-02-01")


def start_send(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "send", "week-1", "--yes"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(sender: subprocess.Popen, workers: Workers) -> str:
    """Wait for `flask send` to follow the run to its end; its output."""
    try:
        out, err = sender.communicate(timeout=SEND_TIMEOUT)
    except subprocess.TimeoutExpired:
        sender.kill()
        out, err = sender.communicate()
        pytest.fail(f"the send did not end in {SEND_TIMEOUT} s\n{out}\n{err}\n{workers.logs()}")
    assert sender.returncode == 0, f"{out}\n{err}\n{workers.logs()}"
    return out


def received(smtp_server) -> Counter:
    return Counter(parseaddr(message["To"])[1] for message in smtp_server.messages)


def ledger_rows(app) -> dict[str, str]:
    with app.app_context():
        query = select(Subscriber.email, Delivery.status).join(Delivery)
        return dict(db.session.execute(query).all())


def mailing_status(app) -> str:
    with app.app_context():
        return db.session.execute(select(Mailing.status)).scalar_one()


def busiest_second(times: list[float]) -> int:
    """The most timestamps within any window of one second."""
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.fixture
def smtp_handler(request):
    """A relay that takes 5 ms per message, unless a test names another handler."""
    return request.param() if hasattr(request, "param") else TimingHandler(delay=0.005)


@pytest.mark.database
def test_three_workers_mail_500_readers_exactly_once(
    queue, smtp_handler, smtp_server, app, add_subscribers, essay, flask_env, workers
):
    readers = {email for _, email in add_subscribers(500)}
    env = flask_env(**queue)
    workers.start(3, env)
    out = finish(start_send(env), workers)
    assert "Queued 10 batches for the workers" in out
    assert "Sent 500, failed 0, skipped 0, uncertain 0." in out
    counts = received(smtp_server)
    assert set(counts) == readers and set(counts.values()) == {1}
    assert set(ledger_rows(app).values()) == {"sent"}
    assert mailing_status(app) == "done"
    assert len(smtp_server.handler.peers) >= 2, "the batches were shared between workers"


@pytest.mark.database
def test_a_worker_killed_mid_batch_loses_nobody_and_mails_nobody_twice(
    queue, smtp_server, app, add_subscribers, essay, flask_env, workers
):
    readers = {email for _, email in add_subscribers(300)}
    env = flask_env(**{**queue, "SEND_QUEUE_BATCH_SIZE": 100})  # one batch per worker
    workers.start(3, env)
    sender = start_send(env)
    deadline = time.monotonic() + 30
    while len(smtp_server.messages) < 40:
        assert time.monotonic() < deadline and sender.poll() is None, workers.logs()
        time.sleep(0.01)
    victim = workers.processes[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out = finish(sender, workers)
    counts = received(smtp_server)
    assert set(counts.values()) == {1}, "nobody is mailed twice"
    rows = ledger_rows(app)
    uncertain = {email for email, status in rows.items() if status == "sending"}
    assert readers - set(counts) <= uncertain, "nobody is missing but the uncertain ones"
    assert len(uncertain) <= 1, "at most the one message the killed worker had in flight"
    assert f"uncertain {len(uncertain)}." in out
    assert {rows[email] for email in readers - uncertain} == {"sent"}
    with app.app_context():
        assert db.session.execute(select(SendRun.finished_at)).scalar_one() is not None


@pytest.mark.parametrize("smtp_handler", [lambda: QuotaHandler(per_second=15)], indirect=True)
def test_a_slow_down_reply_lowers_the_rate_of_every_worker_and_everyone_is_served(
    queue, smtp_handler, smtp_server, app, add_subscribers, essay, flask_env, workers
):
    readers = {email for _, email in add_subscribers(80)}
    settings = {
        **queue, "SEND_QUEUE_BATCH_SIZE": 20, "MAIL_MAX_PER_SECOND": 40,
        "SEND_SLOWDOWN_SECONDS": 0.5, "SEND_RETRY_DELAY": 0.2, "SEND_MAX_ATTEMPTS": 6,
    }  # fmt: skip
    env = flask_env(**settings)
    workers.start(2, env, threads=2)
    out = finish(start_send(env), workers)
    counts = received(smtp_server)
    assert set(counts) == readers and set(counts.values()) == {1}
    assert "failed 0" in out
    refusals = smtp_handler.refusals
    assert refusals, "the server did ask to slow down"
    calm = [t for t in smtp_handler.attempts if t > refusals[0] + 1.5]
    assert busiest_second(calm) <= 40 // 2 + 1, "after the first 421 every worker sent slower"
    assert len(refusals) <= 40, "the workers did not keep hammering a server that said 421"


def test_the_rate_across_workers_never_exceeds_the_limit_by_more_than_one(
    queue, smtp_handler, smtp_server, app, add_subscribers, essay, flask_env, workers
):
    # Ten a second: slots 100 ms apart, so that only a stall of the test server's own thread
    # longer than that (the machine is shared) could crowd two more into one second. Counted
    # where a relay counts a message, at the end of DATA: the slot times that point (the
    # transaction opens up to ratelimit.LEAD_SECONDS before it).
    add_subscribers(50)
    env = flask_env(**{**queue, "SEND_QUEUE_BATCH_SIZE": 10, "MAIL_MAX_PER_SECOND": 10})
    workers.start(3, env, threads=2)
    finish(start_send(env), workers)
    arrived = smtp_handler.attempts  # every DATA; this server refuses none
    assert len(arrived) == 50 and len(smtp_handler.accepted) == 50
    assert busiest_second(arrived) <= 10 + 1
    assert max(arrived) - min(arrived) >= 50 / 10 - 1.5, "the limit held the pace"


AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def rabbitmq_queue(queue):
    """The same settings on RabbitMQ (the shared rate stays in Redis), its queue purged."""
    pika = pytest.importorskip("pika", reason="pika is not installed: no RabbitMQ broker")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL + "?socket_timeout=1"))
    except pika.exceptions.AMQPError:
        pytest.skip(f"no RabbitMQ answers at {AMQP_URL}: the RabbitMQ test needs one")

    def purge() -> None:  # what an earlier test left on the shared queues
        for name in ("newsletter_send", "newsletter_send.DQ", "newsletter_send.XQ"):
            channel = connection.channel()
            try:
                channel.queue_purge(name)
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass  # not declared yet

    purge()
    yield {**queue, "BROKER_URL": AMQP_URL, "SEND_RATE_STORAGE_URI": REDIS_URL}
    purge()
    connection.close()


def test_on_rabbitmq_a_killed_workers_batch_goes_to_another_worker_at_once(
    rabbitmq_queue, smtp_server, app, add_subscribers, essay, flask_env, workers
):
    readers = {email for _, email in add_subscribers(200)}
    env = flask_env(**{**rabbitmq_queue, "SEND_QUEUE_BATCH_SIZE": 100})
    workers.start(2, env)
    sender = start_send(env)
    deadline = time.monotonic() + 30
    while len(smtp_server.messages) < 30:
        assert time.monotonic() < deadline and sender.poll() is None, workers.logs()
        time.sleep(0.01)
    workers.processes[0].send_signal(signal.SIGKILL)
    workers.processes[0].wait()
    out = finish(sender, workers)
    counts = received(smtp_server)
    assert set(counts.values()) == {1}
    uncertain = {email for email, status in ledger_rows(app).items() if status == "sending"}
    assert readers - set(counts) <= uncertain and len(uncertain) <= 1
    assert f"uncertain {len(uncertain)}." in out
