"""Every URL of the desk and the view that answers it, in one table.

The views are Flask's "lazily loading views" (newsletter/lazyview.py): a rule's function is
imported by the first request that reaches it, and with it the desk's tables, queries and
webauthn. A worker that serves only pages and feeds never loads them
(tests/test_page_worker.py), and `url_for("desk...")` works from the start, since the rules
themselves are registered here, at import.
"""

from __future__ import annotations

from newsletter.desk.blueprint import bp, init_app
from newsletter.lazyview import add_lazy_rules

__all__ = ["COMMANDS", "init_app"]

# `flask desk`, for app.py to register lazily beside the other commands.
COMMANDS = "newsletter.desk.commands:desk_cli"

# endpoint: (methods, rule below /desk, "module.function" in newsletter.desk)
ROUTES = {
    "sign_in": ("GET", "/sign-in", "auth_views.sign_in_page"),
    "sign_in_post": ("POST", "/sign-in", "auth_views.sign_in_post"),
    "sign_in_link": ("GET", "/sign-in/<token>", "auth_views.sign_in_link"),
    "sign_in_link_post": ("POST", "/sign-in/<token>", "auth_views.sign_in_link_post"),
    "sign_out_post": ("POST", "/sign-out", "auth_views.sign_out_post"),
    "overview": ("GET", "/", "overview_views.overview"),
    "essays": ("GET", "/essays", "essay_views.essays_list"),
    "essay": ("GET", "/essays/<slug>", "essay_views.essay"),
    "essay_email": ("GET", "/essays/<slug>/email.html", "essay_views.essay_email"),
    "essay_test": ("POST", "/essays/<slug>/test", "essay_views.essay_test"),
    "essay_send_confirm": ("GET", "/essays/<slug>/send", "essay_views.essay_send_confirm"),
    "essay_send": ("POST", "/essays/<slug>/send", "essay_views.essay_send"),
    "essay_resume": ("POST", "/essays/<slug>/resume", "essay_views.essay_resume"),
    "history": ("GET", "/essays/<slug>/history", "history_views.history"),
    "history_csv": ("GET", "/essays/<slug>/history.csv", "history_views.history_csv"),
    "readers": ("GET", "/readers", "reader_views.readers"),
    "reader_add": ("POST", "/readers/add", "reader_views.reader_add"),
    "reader_remove": ("GET POST", "/readers/remove", "reader_views.reader_remove"),
    "reader_forget": ("GET POST", "/readers/forget", "reader_views.reader_forget"),
    "reader_import": ("POST", "/readers/import", "reader_views.reader_import"),
    "reader_export": ("GET", "/readers/export.csv", "reader_views.reader_export"),
    "welcome": ("GET", "/welcome", "welcome_views.welcome"),
    "welcome_email": ("GET", "/welcome/email.html", "welcome_views.welcome_email"),
    "welcome_test": ("POST", "/welcome/test", "welcome_views.welcome_test"),
    "passkeys": ("GET", "/passkeys", "passkey_views.passkeys"),
    "passkey_options": ("POST", "/passkeys/options", "passkey_views.passkey_options"),
    "passkey_register": ("POST", "/passkeys", "passkey_views.passkey_register"),
    "passkey_remove": ("POST", "/passkeys/<int:key_id>/remove", "passkey_views.passkey_remove"),
    "passkey_sign_in_options": (
        "POST",
        "/sign-in/passkey/options",
        "passkey_views.passkey_sign_in_options",
    ),
    "passkey_sign_in": ("POST", "/sign-in/passkey", "passkey_views.passkey_sign_in"),
}
# Flask-WTF's app-wide check runs before the view is imported, so an exemption is declared
# here, not by a decorator: the import form checks its own token, after raising the body limit
# (the app-wide check would read the upload under the 64 KiB one).
CSRF_EXEMPT = ("reader_import",)


add_lazy_rules(bp, ROUTES, "newsletter.desk", CSRF_EXEMPT)
