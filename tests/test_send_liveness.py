"""A send always ends: retries after the last reader was handed out, a server that never
answers after DATA, the first SIGTERM, and reports that match the ledger."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections import Counter
from email.utils import parseaddr
from pathlib import Path

import pytest
from conftest import RecordingHandler, WaitsForTwoSenders
from sqlalchemy import select
from test_send_fault_matrix import send_within

from newsletter.extensions import db
from newsletter.sending.models import Delivery
from newsletter.subscribers.models import Subscriber

pytestmark = pytest.mark.database
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(config):
    config.update(SEND_RETRY_DELAY=0.01, SEND_MAX_ATTEMPTS=3, SEND_TIMEOUT=0.4)
    return config


@pytest.fixture
def smtp_handler(request):
    return request.param()


@pytest.fixture
def essay(write_post):
    return write_post("week-1.md", title="'Week 1'", date="2022-02-01")


def received(smtp_server) -> Counter:
    return Counter(parseaddr(message["To"])[1] for message in smtp_server.messages)


def statuses(app) -> dict[str, str]:
    with app.app_context():
        query = select(Subscriber.email, Delivery.status).join(Delivery)
        return dict(db.session.execute(query).all())


class Greylisting(RecordingHandler):
    """Defers the first try of every message, as greylisting servers do."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def data_reply(self, envelope):
        recipient = envelope.rcpt_tos[0]
        if recipient in self.seen:
            return None
        self.seen.add(recipient)
        return "451 4.7.1 Greylisted, try again later"


@pytest.mark.parametrize("connections", [1, 2])
@pytest.mark.parametrize("smtp_handler", [Greylisting], indirect=True)
def test_one_reader_and_a_greylisting_server_ends(
    app, runner, smtp_server, essay, add_subscribers, connections
):
    app.config["SEND_CONNECTIONS"] = connections  # read when the command runs
    add_subscribers(1)
    result, _ = send_within(runner)
    assert result.exit_code == 0, result.output
    assert "Sent 1, failed 0, skipped 0, uncertain 0." in result.output
    assert received(smtp_server) == Counter({"reader0@example.com": 1})
    assert runner.invoke(args=["send", "status"]).output.count("done") == 1


class EveryThirdDataDeferred(RecordingHandler):
    """451 on every third DATA, retries counted; and until some message has been deferred twice,
    a deferred message's retry is deferred again, so the case that used to hang always occurs
    (whatever order the connections' attempts interleave in)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.deferred: Counter = Counter()

    def data_reply(self, envelope):
        self.calls += 1
        rcpt = envelope.rcpt_tos[0]
        twice_yet = any(times >= 2 for times in self.deferred.values())
        if self.calls % 3 == 0 or (rcpt in self.deferred and not twice_yet):
            self.deferred[rcpt] += 1
            return "451 4.3.0 Try again later"
        return None


@pytest.mark.parametrize("smtp_handler", [EveryThirdDataDeferred], indirect=True)
def test_thirty_readers_with_every_third_data_deferred_all_arrive(
    app, runner, smtp_server, smtp_handler, essay, add_subscribers
):
    readers = {email for _, email in add_subscribers(30)}
    result, _ = send_within(runner)
    assert result.exit_code == 0, result.output
    deferred = smtp_handler.deferred
    # With three attempts, a reader deferred three times fails; everyone else arrives once.
    gave_up = {email for email, times in deferred.items() if times >= 3}
    assert received(smtp_server) == Counter(readers - gave_up)
    assert max(deferred.values()) >= 2, deferred  # the case that used to hang
    assert f"failed {len(gave_up)}" in result.output


class SilentAfterData(RecordingHandler):
    """Takes every message and never answers after the final dot."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(60)  # cancelled when the test stops the server


@pytest.mark.parametrize("smtp_handler", [SilentAfterData], indirect=True)
def test_a_server_silent_after_data_stops_the_run_saying_why(
    app, runner, smtp_server, essay, add_subscribers
):
    app.config.update(SEND_STOP_AFTER_TIMEOUTS=2, SEND_CONNECTIONS=1)
    add_subscribers(20)
    result, elapsed = send_within(runner)
    assert result.exit_code == 1, result.output
    assert "The mail server stopped answering: 2 messages in a row" in result.output
    assert "run the same command again" in result.output
    rows = statuses(app)
    assert list(rows.values()) == ["sending", "sending"]  # uncertain; the other 18 pending
    assert elapsed < 20 * 0.4  # not SEND_TIMEOUT for each of the 20


def flask(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class AlwaysDeferred(RecordingHandler):
    """451 to every message; tells the test when the first one was deferred."""

    def __init__(self) -> None:
        super().__init__()
        self.deferred = threading.Event()

    def data_reply(self, envelope):
        self.deferred.set()
        return "451 4.3.0 Try again later"


@pytest.mark.parametrize("smtp_handler", [AlwaysDeferred], indirect=True)
def test_flask_send_exits_on_the_first_sigterm(
    app, smtp_server, smtp_handler, essay, add_subscribers, flask_env
):
    add_subscribers(3)
    # A long retry delay: the run is waiting for its retries when the signal comes.
    run = flask("send", "week-1", "--yes", env=flask_env(SEND_RETRY_DELAY=600))
    assert smtp_handler.deferred.wait(timeout=30), run.communicate()
    run.send_signal(signal.SIGTERM)
    output, errors = run.communicate(timeout=15)
    assert run.returncode == 130, (output, errors)
    assert "Stopped." in output
    assert set(statuses(app).values()) == {"failed"}  # retryable: a rerun sends them


@pytest.mark.parametrize("smtp_handler", [WaitsForTwoSenders], indirect=True)
def test_two_concurrent_sends_report_what_the_ledger_holds(
    app, smtp_server, essay, add_subscribers, flask_env
):
    add_subscribers(60)
    env = flask_env(SEND_CONNECTIONS=2)
    runs = [flask("send", "week-1", "--yes", env=env) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert set(statuses(app).values()) == {"sent"}
    for output in outputs:
        assert "failed 0" in output and "uncertain 0." in output, output
    sent = [int(out.split("Sent ")[1].split(",")[0]) for out in outputs]
    assert sum(sent) == 60, outputs
