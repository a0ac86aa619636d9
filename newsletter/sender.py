"""The send loop: a few SMTP connections in threads, each claiming, sending and settling one
ledger row at a time, with retries, a rate limit, and a clean stop after the current message."""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import Connection, Engine

from . import ledger
from .emails import AddressError, EssayEmail
from .ledger import Recipient
from .mail import new_message_id
from .models import DeliveryStatus
from .tokens import unsubscribe_url
from .transport import (
    ConnectFailure,
    PermanentFailure,
    SenderRefused,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)


@dataclass
class SendReport:
    """What one run did: the summary the author reads at the end."""

    slug: str
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another send, or no longer subscribed when their turn came
    uncertain: int = 0
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


@dataclass(order=True)
class _Job:
    due: float
    order: int
    recipient: Recipient = field(compare=False)
    message_id: str = field(compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass
class SendOptions:
    """The knobs of one run, read from config by the caller."""

    connections: int = 1
    max_attempts: int = 3
    retry_delay: float = 5.0
    max_per_second: float = 0
    retry_uncertain: bool = False


class Sender:
    """Delivers one essay to a stream of recipients through `options.connections` transports."""

    def __init__(
        self,
        app: Flask,
        engine: Engine,
        essay: EssayEmail,
        make_transport: Callable[[], Transport],
        options: SendOptions,
        *,
        started: datetime,
        stop: threading.Event | None = None,
        progress: Callable[[], None] | None = None,
    ) -> None:
        self.app, self.engine, self.essay = app, engine, essay
        self.make_transport, self.options, self.started = make_transport, options, started
        self.stop = stop or threading.Event()
        self.progress = progress or (lambda: None)
        self.pacer = Pacer(options.max_per_second)
        self.report = SendReport(essay.slug)
        self.lock = threading.Lock()
        self.queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max(64, options.connections))
        self.order = itertools.count()
        self.crash: Exception | None = None
        self.connect_failures = 0  # in a row, across connections
        self.local = threading.local()

    def run(self, recipients: Iterable[Recipient]) -> SendReport:
        """Send to every recipient (or until stopped); return the report."""
        workers = [
            threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
            for n in range(max(1, self.options.connections))
        ]
        for worker in workers:
            worker.start()
        try:
            self._feed(recipients)
        finally:
            self._close_queue(len(workers))
            for worker in workers:
                worker.join()
        if self.crash is not None:
            raise self.crash
        self.report.stopped = self.stop.is_set() and self.report.error is None
        return self.report

    def _feed(self, recipients: Iterable[Recipient]) -> None:
        for recipient in recipients:
            job = _Job(0.0, next(self.order), recipient, recipient.message_id or new_message_id())
            while not self.stop.is_set():
                try:
                    self.queue.put(job, timeout=0.2)  # wakes to notice a stop
                    break
                except queue.Full:
                    continue
            if self.stop.is_set():
                return

    def _close_queue(self, workers: int) -> None:
        """Drop what is queued when stopping, then tell each worker there is no more."""
        if self.stop.is_set():
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
        for _ in range(workers):
            self.queue.put(None)

    def _work(self) -> None:
        """One connection's loop: the next due retry, else the next recipient."""
        transport = self.make_transport()
        retries: list[_Job] = []
        try:
            with self.app.app_context(), self.engine.connect() as conn:
                self.local.conn = conn  # one connection per worker: no pool checkout per row
                while not self.stop.is_set():
                    job = self._next_job(retries)
                    if job is None:
                        break
                    self._attempt(job, transport, retries)
        except Exception as error:  # a worker must never die silently: run() re-raises it
            self.crash = error
            self._abort(f"The send stopped on an unexpected error: {error!r}")
        finally:
            transport.close()
            with self.lock:
                # Rows still waiting for a retry stay `failed` (retryable): a rerun sends them.
                self.report.failed += len(retries)
                self.report.failures += [
                    (j.recipient.email, "stopped before a retry") for j in retries
                ]

    def _next_job(self, retries: list[_Job]) -> _Job | None:
        exhausted = False
        while not self.stop.is_set():
            wait = max(0.0, retries[0].due - time.monotonic()) if retries else None
            if retries and wait == 0.0:
                return heapq.heappop(retries)
            if exhausted:
                if not retries:
                    return None
                self.stop.wait(wait)
                continue
            try:
                job = self.queue.get(timeout=wait)
            except queue.Empty:
                continue
            if job is None:
                exhausted = True
                continue
            return job
        return None

    def _attempt(self, job: _Job, transport: Transport, retries: list[_Job]) -> None:
        """Claim, send and settle one message."""
        recipient = job.recipient
        if job.attempts:  # our own earlier try left the row `failed`
            recipient = Recipient(recipient.subscriber_id, recipient.email, DeliveryStatus.FAILED)
        with self._transaction() as conn:
            claimed = ledger.claim(conn, self.essay.slug, recipient, job.message_id, self.started)
        if not claimed:
            self._count("skipped")
            return
        job.attempts += 1
        delay = self.pacer.delay()
        if delay and self.stop.wait(delay):
            self._settle(ledger.release, job)
            return
        try:
            data = self.essay.render(
                recipient.email,
                unsubscribe_url(recipient.subscriber_id, recipient.email),
                job.message_id,
            )
            transport.deliver(self.essay.envelope_from, recipient.email, data)
        except ConnectFailure as failure:
            self._temporary(job, failure.reply, retries)
            self._unreachable(failure.reply)
        except TemporaryFailure as failure:
            self._temporary(job, failure.reply, retries)
        except PermanentFailure as failure:
            self._failed(job, failure.reply, bounce=failure.bounce)
        except AddressError as error:
            self._failed(job, f"550 {error}")
        except UncertainDelivery as failure:
            self._count("uncertain", (recipient.email, failure.reply))
        except SenderRefused as failure:
            self._settle(ledger.release, job)
            self._abort(failure.reply)
        else:
            self._settle(ledger.settle_sent, job)
            self.connect_failures = 0
            self._count("sent")

    def _unreachable(self, reply: str) -> None:
        """Stop when the server cannot be reached again and again, rather than fail everyone."""
        with self.lock:
            self.connect_failures += 1
            hopeless = self.connect_failures >= self.options.max_attempts
        if hopeless:
            self._abort(f"{reply} Nothing is lost: run the same command again once it answers.")

    def _temporary(self, job: _Job, reply: str, retries: list[_Job]) -> None:
        """Retry later with a doubling delay, or give up after `max_attempts` tries."""
        if job.attempts < self.options.max_attempts:
            self._settle(ledger.settle_failed, job, f"{reply} (will retry)")
            job.due = time.monotonic() + self.options.retry_delay * 2 ** (job.attempts - 1)
            heapq.heappush(retries, job)
            return
        self._failed(job, f"{reply} (gave up after {job.attempts} attempts; a rerun retries)")

    def _failed(self, job: _Job, reason: str, bounce: bool = False) -> None:
        with self._transaction() as conn:
            ledger.settle_failed(conn, self.essay.slug, job.recipient.subscriber_id, reason)
            if bounce:
                ledger.mark_bounced(conn, job.recipient.subscriber_id)
        self._count("failed", (job.recipient.email, reason))

    def _settle(self, action, job: _Job, *args) -> None:
        with self._transaction() as conn:
            action(conn, self.essay.slug, job.recipient.subscriber_id, *args)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A short transaction on this worker's own connection."""
        conn = self.local.conn
        with conn.begin():
            yield conn

    def _count(self, outcome: str, failure: tuple[str, str] | None = None) -> None:
        with self.lock:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if failure:
                self.report.failures.append(failure)
            self.progress()

    def _abort(self, message: str) -> None:
        with self.lock:
            self.report.error = self.report.error or message
        self.stop.set()
