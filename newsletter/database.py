"""Flask-SQLAlchemy and SQLite's connection settings, imported on the database's first use.

`extensions.db` stands in for the `Database` built here until something asks it for a session,
a model base or an engine: SQLAlchemy is the largest part of a cold start, and a worker that
serves only pages and feeds never needs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every table."""


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, bound to apps after they were built, and knowing tables whose
    modules are imported only when needed (`load_tables`)."""

    def __init__(self, load_tables: Callable[[], None]) -> None:
        super().__init__(model_class=Base, add_models_to_shell=False)
        self.load_tables = load_tables

    def bind(self, app: Flask) -> None:
        """`init_app`, for an app whose session teardown `extensions.db` already registered.

        Flask refuses new hooks once an app has served a request, and the database is first
        needed by one; the teardown Flask-SQLAlchemy would add is the one registered when the
        app was built, so only the engines and the configuration are set up here.
        """
        app.teardown_appcontext = _already_registered  # this call only, over Flask's method
        try:
            self.init_app(app)
        finally:
            del app.teardown_appcontext

    def create_all(self, *args, **kwargs) -> None:
        self.load_tables()
        super().create_all(*args, **kwargs)

    def drop_all(self, *args, **kwargs) -> None:
        self.load_tables()
        super().drop_all(*args, **kwargs)


def _already_registered(function):
    return function


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
