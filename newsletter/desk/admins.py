"""Who may use the desk: the addresses of ADMIN_EMAILS, and the signed-in admin as Flask-Login
wants a user. Light on purpose: the blueprint's guard reads it on every desk request, and a
page worker imports the blueprint (never the views, tables or webauthn behind it)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Admin:
    """The signed-in author, as Flask-Login wants a user: an address from ADMIN_EMAILS."""

    email: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session."""
        return self.email


def admin_emails() -> tuple[str, ...]:
    """Who may sign in (the config layer lower-cases them and falls back to AUTHOR_EMAIL)."""
    return tuple(current_app.config["ADMIN_EMAILS"])


def is_admin(address: str | None) -> bool:
    """True for an address listed in ADMIN_EMAILS, compared without case."""
    return bool(address) and address.strip().lower() in admin_emails()
