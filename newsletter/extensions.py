"""The Flask extensions, created unbound here and bound to the app in `create_app()`."""

from __future__ import annotations

import os
import sqlite3

from flask import Flask, request
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


db = SQLAlchemy(model_class=Base)
mail = Mail()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _reads_are_never_limited() -> bool:
    """Limits guard the forms; exempting reads early keeps page and feed requests cheap."""
    return request.method in ("GET", "HEAD", "OPTIONS")


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


def init_migrations(app: Flask) -> None:
    """Offer `flask db ...` (Flask-Migrate) to the command line and tests only.

    Importing Alembic costs a few hundred milliseconds of every web worker's start-up, and a
    worker never migrates; Flask sets FLASK_RUN_FROM_CLI for every `flask` command.
    """
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true" or app.testing:
        from flask_migrate import Migrate

        Migrate(app, db, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
