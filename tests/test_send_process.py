"""Real `flask send` processes: killed mid-run, interrupted, and two at once."""

from __future__ import annotations

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

from newsletter.extensions import db
from newsletter.sending.models import Delivery
from newsletter.subscribers.models import Subscriber

pytestmark = pytest.mark.database
ROOT = Path(__file__).resolve().parent.parent


class HoldsMessage(RecordingHandler):
    """Holds message N inside DATA (the whole server waits) until the test releases it."""

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at = hold_at
        self.data_calls = 0
        self.holding = threading.Event()
        self.release = threading.Event()

    def data_reply(self, envelope):
        self.data_calls += 1
        if self.data_calls == self.hold_at:
            self.holding.set()
            self.release.wait(timeout=30)
        return None


@pytest.fixture
def smtp_handler(request):
    """Holds the fifth message, unless a test names another handler class."""
    return request.param() if hasattr(request, "param") else HoldsMessage(hold_at=5)


@pytest.fixture
def essay(write_post):
    return write_post("week-1.md", title="'Week 1'", date="2022-02-01")


def flask(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def received(smtp_server) -> Counter:
    return Counter(parseaddr(message["To"])[1] for message in smtp_server.messages)


def statuses(app) -> dict[str, str]:
    with app.app_context():
        query = select(Subscriber.email, Delivery.status).join(Delivery)
        return dict(db.session.execute(query).all())


@pytest.mark.parametrize("connections", [1, 2])
def test_send_resumes_after_kill_without_duplicates(
    app, smtp_server, smtp_handler, essay, add_subscribers, flask_env, connections
):
    readers = {email for _, email in add_subscribers(12)}
    env = flask_env(SEND_CONNECTIONS=connections)
    first = flask("send", "week-1", "--yes", env=env)
    try:
        assert smtp_handler.holding.wait(timeout=30), first.communicate()
        held = smtp_handler.wait_for(0)  # the server is stuck inside message 5's DATA
        assert len(held) == 4
        first.kill()  # SIGKILL: no cleanup, no last words
        first.communicate()
    finally:
        smtp_handler.release.set()
    smtp_handler.wait_for(5)  # the held message was delivered; its sender never heard
    rerun = flask("send", "week-1", "--yes", env=env)
    output, errors = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, errors
    counts = received(smtp_server)
    uncertain = {email for email, status in statuses(app).items() if status == "sending"}
    assert max(counts.values()) == 1  # nobody twice
    assert readers - set(counts) <= uncertain  # nobody missing but the uncertain
    assert 1 <= len(uncertain) <= connections
    assert f"uncertain {len(uncertain)}." in output
    if connections == 1:
        assert set(counts) == readers


def test_ctrl_c_stops_after_the_current_message(
    app, smtp_server, smtp_handler, essay, add_subscribers, flask_env
):
    readers = {email for _, email in add_subscribers(10)}
    env = flask_env(SEND_CONNECTIONS=1)
    first = flask("send", "week-1", "--yes", env=env)
    try:
        assert smtp_handler.holding.wait(timeout=30)
        first.send_signal(signal.SIGINT)
        line = ""
        while line.strip() == "":  # the child says so once its handler ran
            line = first.stderr.readline()
        assert "Stopping after the current message" in line
    finally:
        smtp_handler.release.set()
    output, _ = first.communicate(timeout=60)
    assert first.returncode == 130
    assert "Sent 5, failed 0, skipped 0, uncertain 0." in output
    assert set(statuses(app).values()) == {"sent"} and len(statuses(app)) == 5
    rerun = flask("send", "week-1", "--yes", env=env)
    assert "Sent 5," in rerun.communicate(timeout=60)[0]
    assert received(smtp_server) == Counter(readers)


@pytest.mark.parametrize("smtp_handler", [WaitsForTwoSenders], indirect=True)
def test_two_concurrent_sends_never_mail_anyone_twice(
    app, smtp_server, essay, add_subscribers, flask_env
):
    readers = {email for _, email in add_subscribers(60)}
    env = flask_env(SEND_CONNECTIONS=1)
    runs = [flask("send", "week-1", "--yes", env=env) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert received(smtp_server) == Counter(readers)
    sent = [int(out.split("Sent ")[1].split(",")[0]) for out in outputs]
    assert sum(sent) == 60 and min(sent) > 0, outputs
    assert set(statuses(app).values()) == {"sent"}
