"""The operator's commands: `flask db backup PATH` and `flask mail check`."""

from __future__ import annotations

import os
import smtplib
import sqlite3
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from newsletter.extensions import db
from newsletter.mail.identity import from_address, new_message_id, sender_address
from newsletter.mail.smtp import SMTPSettings, SMTPTransport
from newsletter.mail.transport import DeliveryError, Envelope

mail_cli = AppGroup("mail", help="Check the outgoing mail settings.")


# --- flask db backup --------------------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Copy the SQLite database to PATH while the site keeps serving and taking sign-ups."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            f"The database is {url.get_backend_name()}, not a SQLite file: back it up with its "
            "own tool (pg_dump for PostgreSQL)."
        )
    subscribers = backup_sqlite(Path(url.database), path)
    size = path.stat().st_size
    click.echo(f"Backed up the database to {path} ({size // 1024} KB, {subscribers} subscribers).")


def backup_sqlite(source: Path, target: Path) -> int:
    """SQLite's online backup into a file beside `target`, checked, then moved into place (a
    reader of `target` never sees half a copy); returns the subscribers it holds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=5.0)
    dst = sqlite3.connect(partial)
    try:
        # One step under one read transaction: in WAL mode writers carry on meanwhile, and the
        # copy is the database as it was at one moment.
        src.backup(dst)
        (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise click.ClickException(f"The copy failed SQLite's integrity check: {verdict}.")
        (subscribers,) = dst.execute("SELECT count(*) FROM subscribers").fetchone()
    except sqlite3.Error as error:
        raise click.ClickException(f"The backup of {source} failed: {error}.") from None
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)
    return subscribers


# --- flask mail check -------------------------------------------------------------------------


@mail_cli.command("check")
@click.option("--send-to", metavar="ADDRESS", help="Also send a test message to ADDRESS.")
@with_appcontext
def mail_check(send_to: str | None) -> None:
    """Connect to MAIL_SERVER, log in, and see whether it accepts the sender."""
    config = current_app.config
    if config["MAIL_USE_OUTBOX"]:
        raise click.ClickException(
            f"MAIL_SERVER is not set: mail is written to {config['OUTBOX_DIR']} instead. Set "
            "MAIL_SERVER (and MAIL_PORT, MAIL_USE_TLS, MAIL_USERNAME, MAIL_PASSWORD) first."
        )
    settings = SMTPSettings.from_app()
    transport = SMTPTransport(settings)
    try:
        smtp = transport.connect()
        click.echo(f"Connected to {settings.host}:{settings.port} ({connection_kind(settings)}).")
        check_sender(smtp, sender_address())
        if send_to:
            transport.send(Envelope(sender_address(), send_to, test_message(send_to)))
            click.echo(f"Sent a test message to {send_to}; look for it in that inbox.")
    except DeliveryError as error:
        raise click.ClickException(error.reply) from None
    finally:
        transport.close()


def connection_kind(settings: SMTPSettings) -> str:
    """How the connection is secured and whether it logs in, in a few words."""
    secured = "TLS" if settings.use_ssl else "STARTTLS" if settings.use_tls else "not encrypted"
    login = f"logged in as {settings.username}" if settings.username else "no login"
    return f"{secured}, {login}"


def check_sender(smtp: smtplib.SMTP, sender: str) -> None:
    """MAIL FROM the configured sender, then RSET: say what the server answered."""
    code, reply = smtp.mail(sender)
    text = " ".join(reply.decode(errors="replace").split())
    smtp.rset()
    if code >= 400:
        raise click.ClickException(
            f"The server refuses the sender {sender}: {code} {text}. Set MAIL_DEFAULT_SENDER to "
            "an address this server (or your login) may send as."
        )
    click.echo(f"The server accepts the sender {sender} ({code} {text}).")


def test_message(to: str) -> bytes:
    """A short plain-text message saying where it came from."""
    message = EmailMessage()
    name, address = from_address()
    message["From"] = f"{name} <{address}>"
    message["To"] = to
    message["Subject"] = f"[TEST] Mail check from {current_app.config['SITE_TITLE']}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = new_message_id()
    message.set_content(
        f"This message was sent by `flask mail check` of {current_app.config['SITE_URL']}.\n"
        "If it reached your inbox (not spam), the mail settings work.\n"
    )
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
