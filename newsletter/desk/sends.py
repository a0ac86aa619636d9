"""Sends the desk starts: a background `flask send SLUG --yes` process per essay, outside any
web request, and its live progress read back from the ledger.

The process gets the app's own settings as FLASK_* variables (JSON, as Flask reads them back),
so it sends from the same database, posts folder and mail server as the page that started it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import exists, func, not_, select

from newsletter.columns import utcnow
from newsletter.desk import queries
from newsletter.extensions import db
from newsletter.sending.models import Delivery, DeliveryStatus
from newsletter.subscribers.models import Subscriber, SubscriberStatus

RATE_WINDOW = timedelta(seconds=60)
# Variables the `flask` command itself reads (FLASK_APP lands in config as APP): never copied.
CLI_VARIABLES = {"FLASK_APP", "FLASK_DEBUG", "FLASK_RUN_FROM_CLI", "FLASK_ENV", "FLASK_SKIP_DOTENV"}


@dataclass(frozen=True)
class Progress:
    """Where an essay's send stands, from the ledger."""

    sent: int
    failed: int
    uncertain: int
    pending: int
    per_minute: int
    running: bool

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.uncertain + self.pending


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "desk-sends"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stem(slug: str) -> str:
    return re.sub(r"[^\w-]", "_", slug)[:120]


def log_path(slug: str) -> Path:
    """Where the background send of an essay writes what `flask send` prints."""
    return _folder() / f"{_stem(slug)}.log"


def running(slug: str) -> bool:
    """True while a send this desk started for the essay is still alive."""
    try:
        pid = int((_folder() / f"{_stem(slug)}.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    try:  # a finished child not yet reaped still answers kill(0): ask for its state
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def child_environment() -> dict[str, str]:
    """The process environment plus every plain setting of this app as FLASK_* JSON."""
    env = dict(os.environ)
    for key, value in current_app.config.items():
        if not key.isupper() or f"FLASK_{key}" in CLI_VARIABLES:
            continue
        try:
            env[f"FLASK_{key}"] = json.dumps(value)
        except TypeError:
            continue  # timedeltas and other objects: the child's defaults stand
    env.setdefault("FLASK_APP", "app")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(slug: str, *, retry_uncertain: bool = False) -> bool:
    """Start `flask send SLUG --yes` in the background; False if one is running already."""
    if running(slug):
        return False
    command = [sys.executable, "-m", "flask", "send", slug, "--yes"]
    if retry_uncertain:
        command.append("--retry-uncertain")
    with log_path(slug).open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=current_app.root_path,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a web worker restarting does not stop the send
        )
    (_folder() / f"{_stem(slug)}.pid").write_text(str(process.pid))
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return True


def pending_count(slug: str) -> int:
    """Active readers with no ledger row for this essay yet."""
    has_row = exists().where(Delivery.post_slug == slug, Delivery.subscriber_id == Subscriber.id)
    return db.session.execute(
        select(func.count()).where(Subscriber.status == SubscriberStatus.ACTIVE, not_(has_row))
    ).scalar_one()


def progress(slug: str) -> Progress:
    """Counts, rate over the last minute, and whether the background process still runs."""
    counts = queries.ledger_counts(slug)
    recent = db.session.execute(
        select(func.count()).where(
            Delivery.post_slug == slug,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= utcnow() - RATE_WINDOW,
        )
    ).scalar_one()
    return Progress(
        sent=counts[DeliveryStatus.SENT],
        failed=counts[DeliveryStatus.FAILED],
        uncertain=counts[DeliveryStatus.SENDING],
        pending=pending_count(slug),
        per_minute=recent,
        running=running(slug),
    )


def last_output(slug: str, lines: int = 12) -> str:
    """The end of what the background send printed, for the essay's page."""
    path = log_path(slug)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
