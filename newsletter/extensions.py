"""The Flask extensions, created unbound here and bound to the app in `create_app()`."""

from __future__ import annotations

import importlib
import logging
import os
import sqlite3

import click
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every table."""


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, knowing tables whose modules are imported only when needed.

    A web worker never touches the sending stack's tables; app.py names their module in
    `deferred_tables`, and creating, dropping or migrating the schema imports it first.
    """

    deferred_tables: tuple[str, ...] = ()

    def load_tables(self) -> None:
        """Import the deferred table modules, so the metadata holds every table."""
        for module in self.deferred_tables:
            importlib.import_module(module)

    def create_all(self, *args, **kwargs) -> None:
        self.load_tables()
        super().create_all(*args, **kwargs)

    def drop_all(self, *args, **kwargs) -> None:
        self.load_tables()
        super().drop_all(*args, **kwargs)


db = Database(model_class=Base)
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


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, _record) -> None:
    """WAL, a busy timeout and NORMAL sync, so page reads, sign-ups and a send never block."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrations_command(app: Flask) -> click.Command:
    """Flask-Migrate's `flask db` group, bound to `app` when the command is first used.

    Importing Alembic costs a few hundred milliseconds of a web worker's start-up, and a
    worker never migrates: cli.init_app registers this loader, not the group itself.
    """
    from flask_migrate import Migrate
    from flask_migrate.cli import db as db_group

    if "migrate" not in app.extensions:
        db.load_tables()  # autogenerate compares the migrations with every table
        Migrate(app, db, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
    return db_group
