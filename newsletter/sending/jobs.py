"""What one queued job does: deliver to every reader of one batch through `deliver_one`.

No queue library in here (the glue is `queue.py`): a job is given its batch, the pass it is
on, a transport (one SMTP connection per worker thread) and the shared rate, and says whether
the batch ended or wants another pass later. A pass walks the batch's range in id order and
skips whoever the ledger already settled, so a job redelivered after a worker died starts
over harmlessly; a message that worker had in flight stays `sending` and is reported uncertain.
"""

from __future__ import annotations

import enum
import functools
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from newsletter.mail.identity import new_message_id
from newsletter.mail.transport import Envelope, TemporaryFailure, Transport
from newsletter.sending import clock, ledger, runs
from newsletter.sending.delivery import Job, Outcome, deliver_one
from newsletter.sending.models import DeliveryStatus
from newsletter.sending.pool import SendOptions, Watch
from newsletter.sending.ratelimit import LEAD_SECONDS, is_slow_down

READ_CHUNK = 500  # readers read per query within a batch


class Pass(enum.Enum):
    """How a pass over a batch ended."""

    ENDED = "ended"  # every reader settled for good (or the batch ended on an error)
    AGAIN = "again"  # temporary failures: run another pass after a delay
    STOPPED = "stopped"  # the worker is stopping: the queue should hand the batch on


@dataclass
class Worker:
    """What a job borrows from the worker process that runs it."""

    engine: Engine
    transport: Transport
    options: SendOptions
    rate: object | None = None  # a GlobalRate, or None for no limit
    stop: threading.Event = field(default_factory=threading.Event)
    essays: dict = field(default_factory=dict)  # run id -> EssayEmail, built once per run


def run_batch(worker: Worker, batch_id: int, attempt: int) -> Pass:
    """One pass over a batch; `attempt` counts the passes before this one."""
    clock.sync(worker.engine)
    with worker.engine.connect() as conn:
        batch = runs.load_batch(conn, batch_id)
    if batch is None or batch.finished_at is not None:
        return Pass.ENDED  # redelivered after it ended, or its run was removed
    essay = worker.essays.get(batch.run_id)
    if essay is None:
        essay = worker.essays[batch.run_id] = runs.essay_from_json(batch.essay)
    watch = Watch(worker.options, threading.Event())
    tally = {"skipped": 0, "retry": 0, "abort": 0}
    stopped = _deliver_all(worker, batch, essay, attempt, watch, tally)
    with worker.engine.begin() as conn:
        runs.add_skipped(conn, batch_id, tally["skipped"])
    if stopped:
        return Pass.STOPPED
    return _end_of_pass(worker, batch_id, attempt, tally, watch)


def _deliver_all(worker: Worker, batch, essay, attempt: int, watch: Watch, tally: dict) -> bool:
    """Deliver to every reader of the batch the ledger has not settled; True: told to stop."""
    recipients = ledger.iter_recipients(
        worker.engine, batch.post_slug, READ_CHUNK, batch.retry_uncertain, batch.started_at,
        (batch.first_id, batch.last_id),
    )  # fmt: skip
    with worker.engine.connect() as conn:
        for recipient in recipients:
            if worker.stop.is_set():
                return True
            earlier = attempt if recipient.row_status == DeliveryStatus.FAILED else 0
            job = Job(recipient, recipient.message_id or new_message_id(), attempts=earlier)
            result = deliver_one(
                conn, essay, worker.transport, job,
                started=batch.started_at, max_attempts=worker.options.max_attempts,
            )  # fmt: skip
            if worker.rate and is_slow_down(result.reply):
                worker.rate.slow_down()
            for name, outcome in (("skipped", Outcome.SKIPPED), ("retry", Outcome.RETRY)):
                tally[name] += result.outcome is outcome
            tally["abort"] += result.outcome is Outcome.ABORT
            watch.see(result)
            if watch.error:
                return False
    return False


def _end_of_pass(worker: Worker, batch_id: int, attempt: int, tally: dict, watch: Watch) -> Pass:
    """End the batch, or ask for another pass when something may still go through."""
    last_pass = attempt + 1 >= worker.options.max_attempts
    if watch.error and (tally["abort"] or last_pass):
        runs.finish_batch(worker.engine, batch_id, watch.error)
        return Pass.ENDED
    if (tally["retry"] or watch.error) and not last_pass:
        return Pass.AGAIN
    runs.finish_batch(worker.engine, batch_id)
    return Pass.ENDED


class PacedTransport:
    """A transport that keeps each message to a slot of the shared rate: the slot is reserved
    (and any pause waited out) before MAIL FROM, and waited for right before DATA, so that the
    slots time what the server counts, the end of DATA (see `ratelimit.py`). A transport
    without that hook waits for the slot and the window before it starts."""

    def __init__(self, inner: Transport, rate, stop: threading.Event) -> None:
        self.inner, self.rate, self.stop = inner, rate, stop

    def send(self, envelope: Envelope) -> None:
        """Reserve a slot, then send; a worker told to stop meanwhile sends nothing."""
        lead = LEAD_SECONDS if getattr(self.inner, "takes_pace", False) else 0.0
        slot = self.rate.reserve(self.stop.wait, lead=lead)
        if slot is None:
            raise TemporaryFailure("The worker stopped before this message; a later pass sends it.")
        pace = functools.partial(self.rate.go, slot)
        if lead:
            self.inner.send(envelope, pace=pace)
        else:
            pace()  # the same slot and window, before the whole message
            self.inner.send(envelope)

    def close(self) -> None:
        """Close the connection underneath."""
        self.inner.close()


def retry_delay_ms(options: SendOptions, attempt: int) -> int:
    """The queue's wait before pass `attempt + 1`: SEND_RETRY_DELAY, doubling."""
    return int(options.retry_delay * 1000 * 2**attempt)
