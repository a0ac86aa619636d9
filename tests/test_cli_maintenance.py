"""`flask db backup PATH` (SQLite's online backup, while sign-ups are written) and
`flask mail check` against a real aiosmtpd server."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import RecordingHandler

from newsletter.extensions import db
from newsletter.subscribers import roster

# --- flask db backup --------------------------------------------------------------------------


def backup(runner, path: Path):
    return runner.invoke(args=["db", "backup", str(path)])  # as the author types it


def count_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]


def test_backup_copies_the_database_and_says_what_it_holds(app, runner, tmp_path):
    with app.app_context():
        for n in range(3):
            roster.add_confirmed(f"reader{n}@example.org", source="cli")
    target = tmp_path / "backups" / "newsletter.sqlite3"
    result = backup(runner, target)
    assert result.exit_code == 0, result.output
    assert f"Backed up the database to {target}" in result.output
    assert "3 subscribers" in result.output
    assert count_in(target) == 3
    assert not list(target.parent.glob(".*.partial"))


def test_backup_while_sign_ups_are_written_is_whole_and_loses_no_sign_up(app, runner, tmp_path):
    """A writer keeps adding readers through the app during the backup: every sign-up
    succeeds, and the copy is a consistent database holding a prefix of them."""
    with app.app_context():
        roster.add_confirmed("first@example.org", source="cli")
    stop, started, errors, written = threading.Event(), threading.Event(), [], [1]

    def sign_ups() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                try:
                    roster.add_confirmed(f"w{n}@example.org", source="cli")
                    written[0] += 1
                except Exception as error:  # noqa: BLE001 (any failure is the finding)
                    errors.append(repr(error))
                n += 1
                if n >= 20:
                    started.set()
            db.session.remove()

    writer = threading.Thread(target=sign_ups)
    writer.start()
    try:
        assert started.wait(30), "the writer never got going"
        results = [backup(runner, tmp_path / f"copy{i}.sqlite3") for i in range(3)]
    finally:
        stop.set()
        writer.join(30)
    assert errors == []
    copies = []
    for i, result in enumerate(results):
        assert result.exit_code == 0, result.output
        with sqlite3.connect(tmp_path / f"copy{i}.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copies.append(count_in(tmp_path / f"copy{i}.sqlite3"))
    assert 20 <= copies[0] <= copies[1] <= copies[2] <= written[0]


def test_backup_of_postgresql_points_to_pg_dump(config, runner_for, tmp_path):
    # The engine is only built, never connected: the URL alone decides.
    config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    result = runner_for(config).invoke(args=["db", "backup", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "pg_dump" in result.output


# --- flask mail check -------------------------------------------------------------------------


def test_mail_check_connects_and_reports_the_sender_accepted(smtp_server, runner):
    result = runner.invoke(args=["mail", "check"])
    assert result.exit_code == 0, result.output
    assert f"Connected to 127.0.0.1:{smtp_server.port} (not encrypted, no login)." in result.output
    assert "The server accepts the sender author@example.org (250" in result.output
    assert smtp_server.messages == []  # nothing sent unless asked


def test_mail_check_sends_a_test_message_when_asked(smtp_server, runner):
    result = runner.invoke(args=["mail", "check", "--send-to", "me@example.net"])
    assert result.exit_code == 0, result.output
    assert "Sent a test message to me@example.net" in result.output
    (message,) = smtp_server.handler.wait_for(1)
    assert message["To"] == "me@example.net"
    assert message["Subject"].startswith("[TEST] Mail check from")
    assert smtp_server.handler.envelopes == [("author@example.org", ["me@example.net"])]


class RefusesTheSender(RecordingHandler):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        return "553 5.7.1 Sender address rejected: not owned by user"


@pytest.mark.parametrize("smtp_handler", [RefusesTheSender()])
def test_mail_check_says_when_the_server_refuses_the_sender(smtp_server, runner):
    result = runner.invoke(args=["mail", "check"])
    assert result.exit_code == 1
    assert "The server refuses the sender author@example.org: 553" in result.output
    assert "MAIL_DEFAULT_SENDER" in result.output


def test_mail_check_says_when_nothing_listens(config, runner_for):
    from conftest import free_port

    config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()})
    result = runner_for(config).invoke(args=["mail", "check"])
    assert result.exit_code == 1
    assert "Could not connect to 127.0.0.1:" in result.output


def test_mail_check_without_mail_server_says_where_mail_goes(runner, config):
    result = runner.invoke(args=["mail", "check"])
    assert result.exit_code == 1
    assert "MAIL_SERVER is not set" in result.output and config["OUTBOX_DIR"] in result.output


@pytest.fixture
def runner_for():
    from app import create_app

    return lambda config: create_app(config).test_cli_runner()
