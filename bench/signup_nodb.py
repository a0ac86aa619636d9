"""The app with the sign-up's database writes removed: the reference that bench/signup.py
compares the real endpoint against. Everything else (CSRF, form, address rules, building the
confirmation mail, the page) still runs. Never used outside the benchmark."""

from __future__ import annotations

from flask import Flask

from app import create_app
from newsletter.subscribers import subscriptions


def record_signup_in_memory(address: str, **_consent) -> subscriptions.Signup:
    """A new pending sign-up, as `record_signup` answers it, that is never stored."""
    return subscriptions.Signup(0, address, "new", claimed=True)


def create_app_without_writes() -> Flask:
    """The app factory `make serve SERVE_APP=bench.signup_nodb:create_app_without_writes` runs."""
    subscriptions.record_signup = record_signup_in_memory
    return create_app()
