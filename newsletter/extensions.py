"""The Flask extensions, created unbound here and bound to the app in `create_app()`."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import weakref

import click
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect


class LazyDatabase:
    """Stands in for Flask-SQLAlchemy (`newsletter.database.Database`) until first used.

    Its hooks are registered when an app is built, as Flask requires; the first attribute
    asked of it (`db.session`, `db.Model`, `db.engine`...) imports SQLAlchemy, builds the
    real extension and binds it to every app built so far. Page and feed requests never ask,
    so a worker that serves only them never imports SQLAlchemy (tests/test_page_worker.py).
    The table modules app.py names in `deferred_tables` are imported when the schema is
    created, dropped or migrated, and by the code that uses them.
    """

    deferred_tables: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._real = None
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        """Register the session's teardown now; bind the engines on first use."""
        app.teardown_appcontext(self._remove_session)
        app.shell_context_processor(lambda: {"db": self})
        with self._lock:
            self._apps.add(app)
            if self._real is not None:
                self._real.bind(app)

    @property
    def loaded(self) -> bool:
        """True once SQLAlchemy has been imported and the extension built."""
        return self._real is not None

    @property
    def real(self):
        """The Flask-SQLAlchemy extension itself (for Flask-Migrate)."""
        if self._real is None:
            self._load()
        return self._real

    def load_tables(self) -> None:
        """Import the deferred table modules, so the metadata holds every table."""
        for module in self.deferred_tables:
            importlib.import_module(module)

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def _load(self) -> None:
        with self._lock:
            if self._real is not None:
                return
            from newsletter.database import Database

            real = Database(self.load_tables)
            for app in list(self._apps):
                real.bind(app)
            self._real = real  # published only once bound to every app

    def _remove_session(self, _error: BaseException | None) -> None:
        if self._real is not None:
            self._real.session.remove()


db = LazyDatabase()
mail = Mail()
csrf = CSRFProtect()
# The variables a server's worker count is given in (gunicorn reads WEB_CONCURRENCY).
WORKER_VARIABLES = ("WEB_CONCURRENCY", "WEB_WORKERS", "GRANIAN_WORKERS")
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_limiter(app: Flask) -> None:
    """Bind Flask-Limiter, checking limits only in the views decorated with one.

    The app declares no default limits, so the extension's app-wide before-request hook
    has nothing to enforce; it would still cost every page and feed request more than
    serving the cached page does. The `@limiter.limit` decorator checks its own limit.
    """
    limiter.init_app(app)
    warn_per_process_limits(app)
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)


def warn_per_process_limits(app: Flask) -> None:
    """Several workers with memory:// storage each count alone, multiplying the limit."""
    workers = max(int(os.environ.get(name) or 1) for name in WORKER_VARIABLES)
    storage = str(app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
    if workers > 1 and storage.startswith("memory://"):
        logging.getLogger("newsletter").warning(
            "RATELIMIT_STORAGE_URI is memory:// with %d workers: each worker counts sign-ups "
            "alone, so the limit is %d times looser; set it to a shared store such as "
            "redis://127.0.0.1:6379/0.",
            workers,
            workers,
        )


def migrations_command(app: Flask) -> click.Command:
    """Flask-Migrate's `flask db` group, bound to `app` when the command is first used.

    Importing Alembic costs a few hundred milliseconds of a web worker's start-up, and a
    worker never migrates: cli.init_app registers this loader, not the group itself.
    """
    from flask_migrate import Migrate
    from flask_migrate.cli import db as db_group

    if "migrate" not in app.extensions:
        db.load_tables()  # autogenerate compares the migrations with every table
        Migrate(app, db.real, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
    return db_group
