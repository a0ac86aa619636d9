"""`flask worker`: a process that delivers queued sends (Dramatiq's worker with the app's
configuration). Start one or more on any machine that reaches the database and the broker."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option(
    "--threads", type=int, default=None, help="SMTP connections in this process (SEND_CONNECTIONS)."
)
@with_appcontext
def worker_command(threads: int | None) -> None:
    """Deliver queued sends until stopped (Ctrl-C or SIGTERM finish the message in flight)."""
    config = current_app.config
    if not config.get("BROKER_URL"):
        raise click.ClickException(
            "BROKER_URL is not set: 'flask send' delivers in its own process, no worker needed."
        )
    from newsletter.sending.queue import run_worker

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    count = max(1, threads or int(config["SEND_CONNECTIONS"]))
    click.echo(f"Worker ready: {count} connections, queue on {_safe(config['BROKER_URL'])}.")
    run_worker(current_app._get_current_object(), count, stopped)  # type: ignore[attr-defined]
    click.echo("Worker stopped.")


def _safe(url: str) -> str:
    """The broker URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
