"""The app as its users meet it: `make serve` on a free port, the `flask` command, plain HTTP."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from .httpclient import HttpClient, HttpResponse

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
T = TypeVar("T")


def wait_until(check: Callable[[], T], *, what: str, timeout: float = 10.0) -> T:
    """Poll `check` a bounded number of times until it returns something truthy.

    The server and the posts scanner run in other processes, so there is no event to wait on;
    `check` may raise AssertionError to say what it last saw.
    """
    interval = 0.05
    last = ""
    for _ in range(int(timeout / interval)):
        try:
            result = check()
        except AssertionError as error:
            result, last = None, f" Last check: {error}"
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Gave up after {timeout:g} s waiting for {what}.{last}")


@dataclass(frozen=True)
class Essay:
    """An essay the test wrote into the posts folder."""

    slug: str
    title: str
    path: Path


class LiveSite:
    """One running site: a copy of the posts, a migrated SQLite database, `make serve`."""

    def __init__(self, root: Path, port: int, smtp_port: int) -> None:
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.posts_dir = root / "posts"
        self.log_path = root / "server.log"
        self.env = site_environment(root, self.url, smtp_port)
        self.http = HttpClient()
        self.process: subprocess.Popen | None = None
        self.workers = 0

    def prepare(self) -> None:
        """Copy the repository's posts (`make serve` creates the database)."""
        shutil.copytree(REPO_ROOT / "posts", self.posts_dir)

    def start(self, workers: int = 2) -> None:
        """Start the production server as `make serve` runs it (it migrates the database
        first), with `workers` worker processes, and wait until it serves the robots.txt."""
        env = {**self.env, "PORT": str(self.port), "WEB_WORKERS": str(workers)}
        self.workers = workers
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [shutil.which("make") or "make", "--no-print-directory", "serve"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, what=f"`make serve` to answer at {self.url}", timeout=60)

    def _answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"`make serve` stopped before answering:\n{self.log_tail()}")
        try:
            answers = self.get("/robots.txt").status == 200
        except OSError:  # not listening yet
            return False
        # Every worker up, not only the first: one signalled while it still boots stops late.
        return answers and self.log_path.read_text().count("Started worker-") >= self.workers

    def stop(self) -> None:
        """Stop the server as a supervisor does (SIGTERM: make passes it on and waits for the
        server's graceful stop), or kill it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, to explain a failure."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def get(self, path: str, headers: dict[str, str] | None = None) -> HttpResponse:
        """GET a path of the site over HTTP, without cookies and without following redirects."""
        return self.http.request(self.url + path, headers=headers)

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a `flask` command as the author does, against this site's posts and database."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`flask {' '.join(args)}` exited with {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def add_subscribers(self, *addresses: str) -> None:
        """Add readers who already agreed, as an author moving from another service does:
        `flask subscribers import FILE.csv --confirmed` (one command for all of them)."""
        export = self.root / f"import-{secrets.token_hex(4)}.csv"
        export.write_text("email\n" + "".join(f"{address}\n" for address in addresses))
        self.flask("subscribers", "import", str(export), "--confirmed")

    def subscribers(self, status: str) -> set[str]:
        """The addresses `flask subscribers list --status STATUS` shows."""
        output = self.flask("subscribers", "list", "--status", status).stdout
        return {address.lower() for address in ADDRESS.findall(output)}

    def publish(self, name: str, title: str, body: str, tags: tuple[str, ...] = ()) -> Essay:
        """Write a new essay dated a minute ago into the posts folder of the running site."""
        date = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        quoted_title = "'" + title.replace("'", "''") + "'"
        front = f"---\ntitle: {quoted_title}\ndate: {date.isoformat()}\n"
        if tags:
            front += f"tags: [{', '.join(tags)}]\n"
        path = self.posts_dir / f"{date:%Y-%m-%d}-{name}.md"
        draft = self.root / f"{name}.md.partial"  # outside posts/: the scanner never sees half
        draft.write_text(f"{front}---\n\n{body.strip()}\n", encoding="utf-8")
        os.replace(draft, path)
        return Essay(slug=name, title=title, path=path)


def site_environment(root: Path, site_url: str, smtp_port: int) -> dict[str, str]:
    """The process environment of the server and `flask`: configured by FLASK_* variables only
    (and none of an outer make's flags)."""
    outer = ("FLASK_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PORT", "WEB_WORKERS", "SECRET_KEY")
    env = {key: value for key, value in os.environ.items() if not key.startswith(outer)}
    database_url = f"sqlite:///{root / 'newsletter.sqlite3'}"
    env.update(
        {
            "FLASK_APP": "app.py",
            "FLASK_SECRET_KEY": secrets.token_hex(32),
            "FLASK_SITE_URL": site_url,
            "FLASK_POSTS_DIR": str(root / "posts"),
            "FLASK_POSTS_RESCAN_SECONDS": "0.2",
            "FLASK_DATABASE_URL": database_url,
            # The app reads the checkout's instance/config.py too; these win over anything there.
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_MAIL_SERVER": "127.0.0.1",
            "FLASK_MAIL_PORT": str(smtp_port),
            "FLASK_MAIL_USE_TLS": "false",
            "FLASK_MAIL_USE_SSL": "false",
            "FLASK_MAIL_USERNAME": "",
            "FLASK_OUTBOX_DIR": str(root / "outbox"),
            # Stories sign up several readers from 127.0.0.1 within a minute.
            "FLASK_SIGNUP_RATE_LIMIT": "100 per minute",
            "FLASK_RATELIMIT_STORAGE_URI": "memory://",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
