"""The migrations build exactly the schema the models declare, as `make run` applies them."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from sqlalchemy import create_engine, inspect

from app import create_app
from newsletter.extensions import db

ROOT = Path(__file__).parent.parent


def schema(url: str) -> dict:
    """Tables with their columns, indexes (SQL included), unique constraints and foreign keys."""
    engine = create_engine(url)
    inspector = inspect(engine)
    found = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        found[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "indexes": indexes(engine, table),
            "unique": unique_constraints(inspector, table),
            "foreign_keys": [
                (fk["constrained_columns"], fk["referred_table"], fk["options"])
                for fk in inspector.get_foreign_keys(table)
            ],
        }
    engine.dispose()
    return found


def unique_constraints(inspector, table: str) -> list[str]:
    """A table's unique constraints; SQLAlchemy warns that it skips the expression index,
    which `indexes` checks instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        return sorted(str(u["column_names"]) for u in inspector.get_unique_constraints(table))


def indexes(engine, table: str) -> list[tuple[str, int]]:
    """(name, unique) of a table's indexes; SQLite's own list includes expression indexes."""
    with engine.connect() as connection:
        listed = connection.exec_driver_sql(f"PRAGMA index_list('{table}')").all()
    return sorted((row[1], row[2]) for row in listed)


def test_flask_db_upgrade_builds_the_schema_the_models_declare(app, tmp_path):
    migrated = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    env = {
        **os.environ,
        "FLASK_APP": "app.py",
        "FLASK_SECRET_KEY": "migration-test",
        "FLASK_SQLALCHEMY_DATABASE_URI": migrated,
        "FLASK_POSTS_DIR": str(tmp_path),
    }
    flask = Path(sys.executable).parent / "flask"
    done = subprocess.run(
        [str(flask), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    declared = app.config["SQLALCHEMY_DATABASE_URI"]  # the app fixture ran db.create_all()
    assert declared.startswith("sqlite:"), "compare on SQLite"
    assert schema(migrated) == schema(declared)
    assert ("ix_subscribers_email_lower", 1) in schema(migrated)["subscribers"]["indexes"]
    with app.app_context():
        assert set(schema(migrated)) == set(db.metadata.tables)


def test_a_fresh_clone_gets_its_instance_folder_for_the_sqlite_file(tmp_path):
    fresh = tmp_path / "not-yet"
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(fresh)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{fresh / 'newsletter.sqlite3'}"
    assert fresh.is_dir()
