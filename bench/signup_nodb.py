"""The app with the sign-up's database writes removed: the reference that bench/signup.py
compares the real endpoint against. Everything else (CSRF, form, address rules, the page, and
building the confirmation mail on a background thread, as the courier does) still runs. Never
used outside the benchmark."""

from __future__ import annotations

import os
import queue
import threading

from flask import Flask

from app import create_app
from newsletter.mail import courier, outgoing
from newsletter.subscribers import subscriptions

_mail: queue.SimpleQueue = queue.SimpleQueue()
_started: dict[int, threading.Thread] = {}


def record_signup_in_memory(address: str, **_consent) -> subscriptions.Signup:
    """A new pending sign-up, as `record_signup` answers it, that is never stored."""
    return subscriptions.Signup(0, address, "new", claimed=True)


def enqueue_in_memory(kind: str, subscriber_id: int, email: str, *, skip: bool = False) -> None:
    """Queue the confirmation mail in memory instead of in the outgoing table (a sign-up that
    mails nothing queues nothing)."""
    if not skip:
        _mail.put((subscriber_id, email))


def deliver_from_memory(app: Flask) -> None:
    """The courier's work without its rows: build (and, suppressed, send) each queued mail."""
    while True:
        subscriber_id, email = _mail.get()
        with app.app_context():
            subscriptions.send_confirmation(subscriber_id, email)


def create_app_without_writes(test_config: dict | None = None) -> Flask:
    """The app factory `make serve SERVE_APP=bench.signup_nodb:create_app_without_writes` runs."""
    app = create_app(test_config)

    def wake() -> None:  # one thread per worker process, started on the first sign-up
        if os.getpid() not in _started:
            thread = threading.Thread(target=deliver_from_memory, args=(app,), daemon=True)
            _started[os.getpid()] = thread
            thread.start()

    subscriptions.record_signup = record_signup_in_memory
    outgoing.enqueue = enqueue_in_memory
    courier.wake = wake
    return app
