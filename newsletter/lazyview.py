"""Flask's "lazily loading views": a URL's function imported by the first request that reaches it.

The sign-up views and the desk's views are registered this way, so a worker that serves only
pages and feeds never imports the database layer, the desk's queries or webauthn behind them,
while `url_for` works from the start (the rules themselves are registered at import). These are
the views that use the database, so a database that refuses (read-only, full, unreachable)
is answered here for all of them: a 503 page, the transaction rolled back, the cause logged.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from werkzeug.utils import cached_property, import_string

from newsletter.extensions import csrf, db

log = logging.getLogger(__name__)


class LazyView:
    """A view function, imported on its first call."""

    def __init__(self, import_name: str) -> None:
        # The real function's names, which Flask-WTF and Flask-Limiter key their marks on.
        self.__module__, self.__name__ = import_name.rsplit(".", 1)
        self.__qualname__ = self.__name__
        self.import_name = import_name

    @cached_property
    def view(self):
        """The function itself; SQLAlchemy is loaded first, under the database's lock."""
        db.load()
        return import_string(self.import_name)

    def __call__(self, *args, **kwargs):
        view = self.view
        from sqlalchemy.exc import OperationalError  # loaded with the view

        try:
            return view(*args, **kwargs)
        except OperationalError as error:
            return database_unavailable(error)


def database_unavailable(error: Exception):
    """A read-only or full database: say so (503) and log the cause; the transaction was
    rolled back, so nothing half-written is kept and the reader can retry later."""
    db.session.rollback()
    cause = getattr(error, "orig", error)  # the driver's own sentence
    log.error("The database refused a write (%s); sign-ups wait until it is fixed.", cause)
    return render_template("signup/unavailable.html"), 503


def add_lazy_rules(
    bp: Blueprint, routes: dict[str, tuple[str, str, str]], package: str, csrf_exempt=()
) -> None:
    """Put each `endpoint: (methods, rule, "module.function" in package)` on the blueprint.

    Flask-WTF's app-wide check runs before a lazy view is imported, so an exemption is named
    in `csrf_exempt` rather than by a decorator on the function.
    """
    for endpoint, (methods, rule, target) in routes.items():
        view = LazyView(f"{package}.{target}")
        if endpoint in csrf_exempt:
            csrf.exempt(view)
        bp.add_url_rule(rule, endpoint, view, methods=methods.split())
