"""The pool around `deliver_one` (issue 11, item 3): it always ends, and a connection that hits
a bug stops the run with a sentence instead of leaving the others waiting."""

from __future__ import annotations

import threading
import time

import pytest

from newsletter.extensions import db
from newsletter.mail.essay import build_essay_email
from newsletter.sending import clock, ledger
from newsletter.sending.mailing import find_post
from newsletter.sending.pool import Run, SendOptions, SendReport, counting, run_pool

pytestmark = pytest.mark.database


class BrokenTransport:
    """A transport with a bug in it: every delivery raises something no rule expects."""

    def send(self, envelope) -> None:
        raise RuntimeError("a bug in the transport")

    def close(self) -> None:
        pass


def test_a_connection_that_crashes_stops_the_run_and_the_pool_ends(
    app, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(20)
    with app.app_context():
        report = SendReport("week-1")
        run = Run(
            app, db.engine, build_essay_email(find_post("week-1")), BrokenTransport,
            SendOptions(connections=3), clock.now(), threading.Event(), counting(report, None),
        )  # fmt: skip
        recipients = ledger.iter_recipients(db.engine, "week-1", 5, False, run.started)
        started = time.monotonic()
        _, watch = run_pool(run, recipients)
        assert time.monotonic() - started < 10
    assert watch.error and "unexpected error" in watch.error and "a bug" in watch.error
    assert run.stop.is_set()
