"""The app with the sign-up's database writes removed: the reference that bench/signup.py
compares the real endpoint against. Everything else (CSRF, form, address rules, building the
confirmation mail, the page) still runs. Never used outside the benchmark."""

from __future__ import annotations

from app import create_app
from newsletter import subscribers


def record_signup_in_memory(address: str, **_consent) -> subscribers.Signup:
    """A new pending sign-up, as `record_signup` answers it, that is never stored."""
    return subscribers.Signup(0, address, "new", claimed=True)


subscribers.record_signup = record_signup_in_memory
app = create_app()
