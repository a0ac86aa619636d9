"""The Flask extensions, created unbound here and bound to the app in `create_app()`."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import weakref

import click
from flask import Flask, current_app, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect


class LazyDatabase:
    """Stands in for Flask-SQLAlchemy (`newsletter.database.Database`) until first used.

    Its hooks are registered when an app is built, as Flask requires; the first attribute
    asked of it (`db.session`, `db.Model`, `db.engine`...) imports SQLAlchemy and builds the
    real extension, which is bound to an app the first time that app's context asks. Page and
    feed requests never ask, so serving them never imports SQLAlchemy
    (tests/test_page_worker.py). Code that imports SQLAlchemy outside a command (the lazy
    views, the courier's thread, /healthz) calls `db.load()` first: SQLAlchemy's own modules
    import each other, and two threads importing them at once can break the process, so the
    first import happens here, under one lock. The table modules app.py names in
    `deferred_tables` are imported when the schema is created, dropped or migrated, and by
    the code that uses them.
    """

    deferred_tables: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._real = None
        self._bound: weakref.WeakSet[Flask] = weakref.WeakSet()
        self._lock = threading.RLock()

    def init_app(self, app: Flask) -> None:
        """Register the session's teardown now; the engines are bound on first use."""
        app.teardown_appcontext(self._remove_session)
        app.shell_context_processor(self._shell_context)

    @property
    def real(self):
        """The Flask-SQLAlchemy extension itself, bound to the current app if there is one."""
        try:
            real = self._real if self._real is not None else self._build()
            if has_app_context():
                app = current_app._get_current_object()
                if app not in self._bound:
                    self._bind(real, app)
        except AttributeError as error:  # not "no such attribute": the load itself failed
            raise RuntimeError(f"The database layer could not be loaded: {error}") from error
        return real

    def load(self):
        """Import SQLAlchemy (once, under the lock) and bind the current app: for code about
        to import SQLAlchemy's modules itself."""
        return self.real

    def load_tables(self) -> None:
        """Import the deferred table modules, so the metadata holds every table."""
        for module in self.deferred_tables:
            importlib.import_module(module)

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "real":
            raise AttributeError(name)
        return getattr(self.real, name)

    def _build(self):
        with self._lock:
            if self._real is None:
                from newsletter.database import Database

                self._real = Database(self.load_tables)
            return self._real

    def _bind(self, real, app: Flask) -> None:
        """Bind one app; one whose configuration fails is left unbound, as it was."""
        with self._lock:
            if app in self._bound:
                return
            try:
                real.bind(app)
            except BaseException:
                app.extensions.pop("sqlalchemy", None)
                raise
            self._bound.add(app)

    def _remove_session(self, _error: BaseException | None) -> None:
        if self._real is not None:
            self._real.session.remove()

    def _shell_context(self) -> dict:
        """`flask shell` gets db and every model, as Flask-SQLAlchemy gives them."""
        self.load()
        self.load_tables()
        from flask_sqlalchemy.cli import add_models_to_shell

        return add_models_to_shell()


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
