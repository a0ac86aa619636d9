"""`flask send` with a broker: build the message once, record the run and its batches, put one
job per batch on the queue, and follow the run from the ledger until its last batch ended.

Without `BROKER_URL` none of this runs: `mailing.send_essay` sends in the command's own process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from newsletter.extensions import db
from newsletter.mail.essay import build_essay_email
from newsletter.sending import runs, single
from newsletter.sending.mailing import NewPlan, find_post
from newsletter.sending.pool import SendReport

FOLLOW_POLL_SECONDS = 0.5


def uses_queue() -> bool:
    """True when sends go to workers through a broker."""
    return bool(current_app.config.get("BROKER_URL"))


def start(slug: str, *, retry_uncertain: bool = False) -> runs.RunState:
    """Record a run of this essay and queue its batches; return at once."""
    from newsletter.sending.queue import send_queue

    post = find_post(slug)
    config = current_app.config
    run_id, batch_ids = runs.create_run(
        db.engine, build_essay_email(post), post.title,
        retry_uncertain=retry_uncertain, batch_size=int(config["SEND_QUEUE_BATCH_SIZE"]),
    )  # fmt: skip
    send_queue(current_app._get_current_object()).enqueue(batch_ids)  # type: ignore[attr-defined]
    return runs.run_state(db.engine, run_id)


def follow(
    state: runs.RunState,
    progress: Callable[[int], None],
    stop: threading.Event,
    poll: float = FOLLOW_POLL_SECONDS,
) -> runs.RunState | None:
    """Report the settled count until the run ends; None when `stop` was set first (the
    workers go on)."""
    while True:
        state = runs.run_state(db.engine, state.run_id)
        progress(runs.settled_since(db.engine, state))
        if state.finished:
            return state
        if stop.wait(poll):
            return None


def report(state: runs.RunState) -> SendReport:
    """The summary of a finished run, from the ledger."""
    return runs.report(db.engine, state)


def without_running(plan: NewPlan) -> NewPlan:
    """`--new` leaves out essays a queued run is still sending (another server started it)."""
    with db.engine.connect() as conn:
        send = tuple(post for post in plan.send if runs.active_run(conn, post.slug) is None)
    return NewPlan(send=send, skip=plan.skip)


def only_one_new_send():
    """The lock that lets one `flask send --new` run at a time (see `single.py`)."""
    lock_file = Path(current_app.instance_path) / current_app.config["SEND_LOCK_FILE"]
    return single.only_one(db.engine, lock_file)
