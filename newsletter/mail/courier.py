"""The background thread that delivers queued mail in each process (see outgoing.py)."""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import threading
import time
import weakref

from flask import Flask, Response, after_this_request, current_app, has_request_context

from newsletter.extensions import db

log = logging.getLogger(__name__)

ERROR_PAUSE = 30.0  # seconds the loop rests after the database itself failed
SETTLE = 0.05  # seconds with no wake-up before a pass, so the response that woke it is gone
SETTLE_AT_MOST = 1.0  # seconds: a steady stream of wake-ups holds mail back no longer
_STARTED: weakref.WeakSet[Courier] = weakref.WeakSet()  # this process's couriers with a thread
KIND_MODULES: tuple[str, ...] = ()  # set by app.py: the modules that register mail kinds


class Courier:
    """One delivery thread per process, started on the first wake-up in that process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pid: int | None = None
        self.thread: threading.Thread | None = None
        self.stopping = False
        self._reset_locks()

    def _reset_locks(self) -> None:
        self.guard = threading.Lock()
        self.changed = threading.Condition()
        self.asked = 0  # wake-ups so far
        self.served = 0  # wake-ups a complete pass has answered
        self.woken_at = time.monotonic()  # the latest wake-up, or the thread's start

    def wake(self) -> None:
        """Say a row was committed; start the thread first if this process has none."""
        self.ensure_started()
        with self.changed:
            self.asked += 1
            self.woken_at = time.monotonic()
            self.changed.notify_all()

    def ensure_started(self) -> None:
        """Start the thread once per process; a forked child inherits no thread, so a new pid
        means a new thread (and new locks: one held at fork time would stay held)."""
        if self.pid == os.getpid() and self.thread is not None:
            return
        if self.pid != os.getpid():
            self._reset_locks()
        with self.guard:
            if self.pid == os.getpid() and self.thread is not None:
                return
            self.stopping = False
            self.token = f"{os.getpid()}-{secrets.token_hex(8)}"
            self.thread = threading.Thread(target=self._run, name="outgoing-mail", daemon=True)
            self.pid = os.getpid()
            self.woken_at = time.monotonic()
            self.thread.start()
            _STARTED.add(self)

    def start_after(self, response: Response) -> Response:  # an after_request hook
        """Start the thread once the first response of this process has been sent (its WSGI
        close): the thread picks up rows a previous process left queued or claimed (a crash
        loses nothing), and its first pass (a query, SQLAlchemy's ORM set up) must not
        compete with the first page for the CPU. A `wake()` (a sign-up's) starts it too."""
        if self.pid != os.getpid() or self.thread is None:
            response.call_on_close(self.ensure_started)
        return response

    def _run(self) -> None:
        """Deliver what is due (rows a previous process left too), then sleep until woken or
        the next retry falls due."""
        while not self.stopping:
            target = self._settle()
            if self.stopping:
                break
            delay = self._pass()
            with self.changed:
                self.served = target
                self.changed.notify_all()
                if self.asked == target and not self.stopping:
                    self.changed.wait(timeout=delay)

    def _settle(self) -> int:
        """Wait until no wake-up has come for SETTLE seconds (SETTLE_AT_MOST in all). A wake-up
        comes as a response closes, while the server may still be sending it: a pass begun at
        once would take the CPU and the GIL from it, and a new address, whose sign-up wakes the
        thread, would answer later than a known one (tests/test_signup_timing.py). A burst of
        sign-ups is delivered in one pass, after the burst. The wake-ups the pass will answer."""
        with self.changed:
            latest = time.monotonic() + SETTLE_AT_MOST
            while not self.stopping:
                until = min(self.woken_at + SETTLE, latest)
                if time.monotonic() >= until:
                    break
                self.changed.wait(until - time.monotonic())
            return self.asked

    def _pass(self) -> float | None:
        """One pass over the queue; a failing database is logged, and retried later."""
        try:
            with self.app.app_context():
                return _outgoing().drain(self.token)
        except Exception as error:
            log.error("Queued mail could not be read or settled (%s); retrying soon.", error)
            return ERROR_PAUSE

    def wait_idle(self, timeout: float = 20.0) -> bool:
        """Block until every wake-up so far has been answered by a complete pass (tests)."""
        with self.changed:
            target = self.asked
            return self.changed.wait_for(lambda: self.served >= target, timeout=timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """Let the thread finish its current mail and end (tests, before dropping tables)."""
        thread = self.thread
        if thread is None or self.pid != os.getpid():
            return
        self.stopping = True
        with self.changed:
            self.changed.notify_all()
        thread.join(timeout)
        self.thread = None
        _STARTED.discard(self)


def init_app(app: Flask) -> None:
    """Give the app its courier, whose thread starts once the first response is sent."""
    app.extensions["courier"] = Courier(app)
    app.after_request(app.extensions["courier"].start_after)


def stop_all(timeout: float = 20.0) -> None:
    """Stop every courier thread of this process: an app built for a test (or a script) must
    not leave a thread behind that keeps mailing after its SMTP server and tables are gone."""
    for each in list(_STARTED):
        each.stop(timeout)


def courier(app: Flask | None = None) -> Courier:
    """The current app's courier."""
    return (app or current_app).extensions["courier"]


def wake() -> None:
    """Tell this process's delivery thread that a row was committed. Inside a request, once
    the response has been sent (its WSGI close), and the thread then waits for a quiet moment
    (`Courier._settle`): its work on the mail must not compete with the very page that queued
    it, or a new address (whose sign-up queues a mail) would answer later than a known one
    (tests/test_signup_timing.py)."""
    if not has_request_context():
        courier().wake()
        return
    waking = courier()

    @after_this_request
    def wake_once_sent(response: Response) -> Response:
        response.call_on_close(waking.wake)
        return response


def _outgoing():
    """The queue, with every kind of mail registered; imported by the thread, not at start:
    it brings SQLAlchemy, which a worker serving only pages does not need before then."""
    db.load()  # SQLAlchemy's first import in this process happens under one lock
    for module in KIND_MODULES:
        importlib.import_module(module)
    from newsletter.mail import outgoing

    return outgoing
