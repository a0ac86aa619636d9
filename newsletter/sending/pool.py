"""The send pool: a few SMTP connections in threads, each taking the next message (a due retry
first, else the next reader) and handing it to `deliver_one`, until nothing is left or the run
must stop. It always ends: a worker leaves when no reader is left, no retry is waiting and no
message is in flight anywhere (an in-flight one may still turn into a retry)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import Engine

from newsletter.mail.essay import EssayEmail
from newsletter.mail.identity import new_message_id
from newsletter.mail.transport import Transport
from newsletter.sending.delivery import Job, Outcome, Result, deliver_one
from newsletter.sending.ledger import Recipient

log = logging.getLogger(__name__)

# How often a waiting worker looks at the stop flag: a signal handler cannot safely take the
# schedule's lock, so it only sets the flag.
STOP_POLL_SECONDS = 0.1


@dataclass
class SendReport:
    """What one run did: the summary the author reads at the end (figures from the ledger)."""

    slug: str
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another send, or no longer subscribed when their turn came
    uncertain: int = 0
    in_flight: int = 0  # claimed by another send that is still running
    stopped: bool = False
    error: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)


class Pacer:
    """Spaces messages to at most `per_second` across every connection (0: no limit)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self.clock = clock
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def delay(self) -> float:
        """Reserve the next slot; return how long to wait for it."""
        if not self.interval:
            return 0.0
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        return slot - now


@dataclass
class SendOptions:
    """The knobs of one run, read from config by the caller."""

    connections: int = 1
    max_attempts: int = 3
    retry_delay: float = 5.0
    max_per_second: float = 0
    retry_uncertain: bool = False
    max_silent: int = 3  # timeouts or uncertain results in a row that stop the run


class Schedule:
    """The messages still to try: fresh readers from the stream, retries due at a time."""

    def __init__(self, recipients: Iterable[Recipient], stop: threading.Event) -> None:
        self.fresh: Iterator[Recipient] | None = iter(recipients)
        self.retries: list[tuple[float, int, Job]] = []
        self.order = itertools.count()
        self.in_flight = 0
        self.stop = stop
        self.cond = threading.Condition()

    def take(self) -> Job | None:
        """The next message to try, waiting for a retry when needed; None: nothing is left."""
        with self.cond:
            while not self.stop.is_set():
                job = self._ready()
                if job is not None:
                    self.in_flight += 1
                    return job
                if not self.retries and not self.in_flight:
                    return None
                due = self.retries[0][0] - time.monotonic() if self.retries else STOP_POLL_SECONDS
                self.cond.wait(min(max(due, 0.0), STOP_POLL_SECONDS))
            return None

    def _ready(self) -> Job | None:
        if self.retries and self.retries[0][0] <= time.monotonic():
            return heapq.heappop(self.retries)[2]
        if self.fresh is not None:
            recipient = next(self.fresh, None)
            if recipient is not None:
                return Job(recipient, recipient.message_id or new_message_id())
            self.fresh = None
        return None

    def done(self, job: Job, retry_in: float | None = None) -> None:
        """A message is settled; `retry_in` seconds: try it again then."""
        with self.cond:
            self.in_flight -= 1
            if retry_in is not None:
                heapq.heappush(self.retries, (time.monotonic() + retry_in, next(self.order), job))
            self.cond.notify_all()

    def left_waiting(self) -> list[Job]:
        """Retries a stopped run never made (their rows stay `failed`: a rerun sends them)."""
        with self.cond:
            return [job for _, _, job in self.retries]


class Watch:
    """Stops the run when the server is out of reach or silent again and again."""

    def __init__(self, options: SendOptions, stop: threading.Event) -> None:
        self.options, self.stop = options, stop
        self.unreachable = self.silent = 0  # in a row, across connections
        self.error: str | None = None
        self.lock = threading.Lock()

    def see(self, result: Result) -> None:
        """Count this result; stop the run with a sentence when the server looks gone."""
        with self.lock:
            ok = result.outcome is Outcome.SENT
            self.unreachable = 0 if ok else self.unreachable + result.unreachable
            self.silent = 0 if ok else self.silent + result.silent
            if result.outcome is Outcome.ABORT:
                self._abort(result.reply)
            elif self.unreachable >= self.options.max_attempts:
                self._abort(
                    f"{result.reply} Nothing is lost: run the same command again once it answers."
                )
            elif self.silent >= max(1, self.options.max_silent):
                self._abort(
                    f"The mail server stopped answering: {self.silent} messages in a row timed out "
                    f"or got no verdict; the last: {result.reply} The rest stay pending: run "
                    "the same command again once the server answers."
                )

    def crashed(self, error: Exception) -> None:
        """A worker hit a bug: stop the others and say so."""
        with self.lock:
            self._abort(f"The send stopped on an unexpected error: {error!r}")

    def _abort(self, message: str) -> None:
        self.error = self.error or message
        self.stop.set()


@dataclass
class Run:
    """Everything one send shares between its connections."""

    app: Flask
    engine: Engine
    essay: EssayEmail
    make_transport: Callable[[], Transport]
    options: SendOptions
    started: datetime
    stop: threading.Event
    progress: Callable[[Result, Job], None]


def run_pool(run: Run, recipients: Iterable[Recipient]) -> tuple[Schedule, Watch]:
    """Deliver to every recipient through `options.connections` workers; return when all end."""
    schedule = Schedule(recipients, run.stop)
    watch = Watch(run.options, run.stop)
    pacer = Pacer(run.options.max_per_second)
    workers = max(1, run.options.connections)
    with ThreadPoolExecutor(workers, thread_name_prefix="send") as pool:
        futures = [pool.submit(_work, run, schedule, watch, pacer) for _ in range(workers)]
        for future in futures:
            future.result()  # _work catches everything: this only waits
    return schedule, watch


def _work(run: Run, schedule: Schedule, watch: Watch, pacer: Pacer) -> None:
    """One connection's loop: take a message, deliver it, settle it, until none is left."""
    transport = run.make_transport()
    try:
        with run.app.app_context(), run.engine.connect() as conn:
            while (job := schedule.take()) is not None:
                delay = pacer.delay()
                if delay and run.stop.wait(delay):
                    schedule.done(job)
                    break
                result = deliver_one(
                    conn, run.essay, transport, job,
                    started=run.started, max_attempts=run.options.max_attempts,
                )  # fmt: skip
                schedule.done(job, _retry_in(run.options, job, result))
                watch.see(result)
                run.progress(result, job)
    except Exception as error:  # a worker must never die silently: the run says why it stopped
        log.exception("A send connection stopped on an unexpected error")
        watch.crashed(error)
    finally:
        transport.close()


def counting(report: SendReport, tick: Callable[[], None] | None) -> Callable[[Result, Job], None]:
    """A progress callback that tallies this run's outcomes in `report`, then calls `tick`."""
    lock = threading.Lock()

    def count(result: Result, job: Job) -> None:
        if result.outcome in (Outcome.RETRY, Outcome.ABORT):
            return  # not settled for good yet (or given back): counted when it is
        with lock:
            setattr(report, result.outcome.value, getattr(report, result.outcome.value) + 1)
            if result.outcome in (Outcome.FAILED, Outcome.UNCERTAIN):
                report.failures.append((job.recipient.email, result.reply))
        if tick:
            tick()

    return count


def _retry_in(options: SendOptions, job: Job, result: Result) -> float | None:
    """A doubling delay before the next try of a temporary failure; None: no retry."""
    if result.outcome is not Outcome.RETRY:
        return None
    return options.retry_delay * 2 ** (job.attempts - 1)
