"""Fixtures every test shares: an app on temporary posts and database, a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from bs4 import BeautifulSoup
from e2e.live import LiveSite
from flask.testing import FlaskClient

from app import create_app
from newsletter.extensions import db
from newsletter.mail.courier import courier, stop_all

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked `database` on SQLite, and on PostgreSQL too when it is configured."""
    if "database_url" not in metafunc.fixturenames:
        return
    backends = ["sqlite"]
    if TEST_DATABASE_URL and metafunc.definition.get_closest_marker("database"):
        backends.append("postgresql")
    metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for one test: a new SQLite file, or the PostgreSQL test database."""
    if request.param == "postgresql":
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path / 'instance' / 'test.sqlite3'}"


@pytest.fixture
def posts_dir(tmp_path: Path) -> Path:
    """An empty posts folder for one test."""
    path = tmp_path / "posts"
    path.mkdir()
    return path


@pytest.fixture
def write_post(posts_dir: Path) -> Callable[..., Path]:
    """Write a post file: `write_post("name.md", title=..., date=..., body=...)`."""

    def write(name: str, body: str = "Some text.", raw: str | bytes | None = None, **meta) -> Path:
        path = posts_dir / name
        if raw is None:
            lines = "".join(f"{key}: {value}\n" for key, value in meta.items())
            raw = f"---\n{lines}---\n\n{textwrap.dedent(body).strip()}\n"
        if isinstance(raw, str):
            raw = raw.encode()
        path.write_bytes(raw)
        stat = path.stat()  # a rewrite within one mtime tick must still look new
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return path

    return write


@pytest.fixture
def config(tmp_path: Path, posts_dir: Path, database_url: str) -> dict:
    """The test configuration; a test may change it before asking for `app`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-of-the-suite",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SITE_URL": "https://essays.example.org",
        "POSTS_DIR": str(posts_dir),
        "POSTS_RESCAN_SECONDS": 0.0,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "RATELIMIT_ENABLED": False,
        # Off here, so tests count only the mail they are about; tests/test_desk_welcome.py
        # turns it on (it is on by default).
        "WELCOME_EMAIL": False,
    }


@pytest.fixture
def app(config: dict, request: pytest.FixtureRequest):
    """An app with its tables created on a clean database."""
    if "smtp_server" in request.fixturenames:
        request.getfixturevalue("smtp_server")  # its settings must be in config first
    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    application = create_app(config)
    application.test_client_class = ClosingClient
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    stop_all()  # its courier thread, and those of apps the test built on these tables
    with application.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


class ClosingClient(FlaskClient):
    """Closes each response as a WSGI server does (mail is queued, not sent on close: see
    `wait_for_outgoing_mail`)."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of `app`'s `flask` commands."""
    return app.test_cli_runner()


# --- a real SMTP server -----------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """An aiosmtpd handler that keeps every message it accepts, parsed by `email`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.received = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = self.data_reply(envelope)
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.received:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.received.notify_all()
        return "250 Message accepted"

    def rcpt_reply(self, address: str) -> str | None:
        """Override to refuse a recipient (e.g. '550 5.1.1 User unknown')."""
        return None

    def data_reply(self, envelope) -> str | None:
        """Override to fail a message (e.g. '451 4.3.0 Try again later')."""
        return None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until `count` messages arrived (a condition, not a sleep); return them."""
        with self.received:
            self.received.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        return list(self.messages)


class RefusingOnceHandler(RecordingHandler):
    """A mail server having a bad minute: 451 to the first message, then it accepts."""

    refused = 0

    def data_reply(self, envelope) -> str | None:
        if self.refused == 0:
            self.refused += 1
            return "451 4.3.0 Try again later"
        return None


class HoldingHandler(RecordingHandler):
    """A mail server that takes each message's DATA only once the test releases it: slower
    than any page or sign-up may wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.data_started = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_started.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


class WaitsForTwoSenders(RecordingHandler):
    """Holds every message until two connections have begun a transaction, so two senders
    are certainly sending at the same time."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: set = set()
        self.both: asyncio.Event | None = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.both = self.both or asyncio.Event()
        self.peers.add(session.peer)
        if len(self.peers) >= 2:
            self.both.set()
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.wait_for(self.both.wait(), timeout=30)
        return await super().handle_DATA(server, session, envelope)


class TrackedSession(SMTP):
    """An aiosmtpd session that is in its controller's set while its connection is open."""

    def __init__(self, open_sessions: set[SMTP], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.open_sessions = open_sessions

    def connection_made(self, transport) -> None:
        self.open_sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        self.open_sessions.discard(self)
        super().connection_lost(error)


class ClosingController(Controller):
    """aiosmtpd's controller, but `stop()` also closes the connections still open: its own
    stop only closes the listening socket, and a session's socket left open is reported (as
    "unclosed transport") when it is collected, in whichever test runs then."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: set[SMTP] = set()

    def factory(self) -> SMTP:
        return TrackedSession(self.sessions, self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(10)
        super().stop(no_assert)

    async def _close_sessions(self) -> None:
        """Take no new connection, then close every open one, including one accepted just
        before (aiosmtpd's stop would leave that one's socket open when the loop closes)."""
        self.server.close()
        for _ in range(100):
            await asyncio.sleep(0.01)  # accepts under way finish; closed sessions report
            if not self.sessions:
                return
            for session in list(self.sessions):
                if session.transport is not None:
                    session.transport.abort()


class SMTPServer:
    """A running aiosmtpd server on 127.0.0.1 and its handler."""

    def __init__(self, handler: RecordingHandler) -> None:
        self.handler = handler
        self.port = free_port()
        self.controller = ClosingController(handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def mail_config(self) -> dict:
        """The Flask-Mail settings that point the app at this server."""
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_SUPPRESS_SEND": False}


@pytest.fixture
def smtp_handler() -> RecordingHandler:
    """The handler for `smtp_server`; override this fixture to inject faults."""
    return RecordingHandler()


@pytest.fixture
def smtp_server(smtp_handler: RecordingHandler, config: dict) -> Iterator[SMTPServer]:
    """A real SMTP server on an ephemeral port; the app's config points at it."""
    server = SMTPServer(smtp_handler)
    server.controller.start()
    config.update(server.mail_config())
    yield server
    stop_all()  # an app the test built itself may still be mailing this server
    server.controller.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A real SMTP server that keeps every message, for tests of a site under `make serve`
    (which reads its mail settings from `LiveSite`, not from `config`)."""
    server = SMTPServer(RecordingHandler())
    server.controller.start()
    yield server
    server.controller.stop()


@contextmanager
def prepared_site(tmp_path: Path, smtp_port: int) -> Iterator[LiveSite]:
    """A site under `make serve` on a free port, prepared but not started (a test may change
    its environment first); stopped on leaving."""
    live = LiveSite(tmp_path, free_port(), smtp_port=smtp_port)
    live.prepare()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(autouse=True)
def no_courier_outlives_its_test() -> Iterator[None]:
    """Stop the delivery threads of apps a test built with `create_app` itself (the `app`
    fixture stops its own): a thread left running would retry its mail in later tests."""
    yield
    stop_all()


# --- the sign-up form, as a browser fills it ----------------------------------------------------


def page(response) -> BeautifulSoup:
    """A response's HTML, parsed as a browser would."""
    return BeautifulSoup(response.get_data(as_text=True), "html5lib")


def heading(response) -> str:
    """The page's main heading, as a reader sees it."""
    return page(response).find("h1").get_text(" ", strip=True)


def csrf_token_from(html: str) -> str:
    """The hidden CSRF token of the first form on a page."""
    field = BeautifulSoup(html, "html5lib").find("input", attrs={"name": "csrf_token"})
    assert field is not None, "the page has no form with a CSRF token"
    return field["value"]


@pytest.fixture
def sign_up(client) -> Callable[..., object]:
    """Post the sign-up form like a browser: load /subscribe for its token, then submit."""

    def post(email: str, headers: dict | None = None, **fields: str):
        token = csrf_token_from(client.get("/subscribe").get_data(as_text=True))
        data = {"csrf_token": token, "email": email, "website": "", **fields}
        response = client.post("/subscribe", data=data, headers=headers)
        wait_for_outgoing_mail(client.application)
        return response

    return post


def wait_for_outgoing_mail(app, timeout: float = 20.0) -> None:
    """Wait until the app's delivery thread has handled every mail queued so far (the sign-up
    answers before its confirmation mail goes out)."""
    assert courier(app).wait_idle(timeout), "the queued mail was not delivered in time"


def press_confirm(client, link: str, **kwargs):
    """Open a confirmation link and press its one button, as a person does."""
    opened = client.get(link, **kwargs)
    assert opened.status_code == 200
    form = page(opened).find("form", class_="confirm-form")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    return client.post(form["action"], data={"csrf_token": token}, **kwargs)


def link_in(message: EmailMessage, path_prefix: str) -> str:
    """The path of the first link in a message's text part that starts with `path_prefix`."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    for url in re.findall(r"https?://\S+", text):
        if urlsplit(url).path.startswith(path_prefix):
            return urlsplit(url).path
    raise AssertionError(f"no {path_prefix} link in: {text}")


# --- sending (issue 4) ------------------------------------------------------------------------


@pytest.fixture
def add_subscribers(app) -> Callable[..., list[tuple[int, str]]]:
    """Create subscribers directly: `add_subscribers(5)` -> [(id, email), ...], active."""
    from newsletter.columns import utcnow
    from newsletter.subscribers.models import Subscriber

    def add(count: int, *, start: int = 0, status: str = "active") -> list[tuple[int, str]]:
        with app.app_context():
            rows = [
                Subscriber(
                    email=f"reader{n}@example.com",
                    status=status,
                    source="cli",
                    confirmed_at=utcnow() if status == "active" else None,
                )
                for n in range(start, start + count)
            ]
            db.session.add_all(rows)
            db.session.commit()
            return [(row.id, row.email) for row in rows]

    return add


@pytest.fixture
def flask_env(config: dict, tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Environment for a real `flask` subprocess sharing this test's database, posts and SMTP
    server: `subprocess.run([sys.executable, "-m", "flask", ...], env=flask_env())`."""

    def env(**overrides) -> dict[str, str]:
        values = {
            "FLASK_APP": "app.py",
            "FLASK_SECRET_KEY": config["SECRET_KEY"],
            "FLASK_SQLALCHEMY_DATABASE_URI": config["SQLALCHEMY_DATABASE_URI"],
            "FLASK_POSTS_DIR": config["POSTS_DIR"],
            "FLASK_SITE_URL": config["SITE_URL"],
            "FLASK_OUTBOX_DIR": config["OUTBOX_DIR"],
            "FLASK_SEND_RETRY_DELAY": "0",
        }
        if config.get("MAIL_SERVER"):
            values["FLASK_MAIL_SERVER"] = config["MAIL_SERVER"]
            values["FLASK_MAIL_PORT"] = str(config["MAIL_PORT"])
        values.update({f"FLASK_{key}": str(value) for key, value in overrides.items()})
        return {**os.environ, **values}

    return env


# --- a mail server that hangs (the timing tests) -----------------------------------------------


class HangingMailServer:
    """Accepts connections on 127.0.0.1 and never says a word, not even the greeting, until
    `release()` closes them: the mail server a sender waits SEND_TIMEOUT for. Once released it
    closes every new connection at once, until told to `hold()` again."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.holding = True
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the listener was shut down
                return
            with self.changed:
                if self.holding:
                    self.held.append(connection)
                else:
                    connection.close()
                self.changed.notify_all()

    def wait_held(self, count: int, timeout: float) -> bool:
        """Block until `count` connections are held at once (a condition, not a sleep)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.held) >= count, timeout=timeout)

    def hold(self) -> None:
        """Hold new connections again."""
        with self.changed:
            self.holding = True

    def release(self) -> None:
        """Close every held connection, and each new one: every sender sees the server go."""
        with self.changed:
            held, self.held, self.holding = self.held, [], False
        for connection in held:
            connection.close()

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self.listener.close()
        self.thread.join(5)
        self.release()


# --- sending on a queue (issue 13) ------------------------------------------------------------


class TimingHandler(RecordingHandler):
    """Records when each DATA command arrived (monotonic clock of the test process), and
    optionally takes `delay` seconds over each message, like a real relay."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.attempts: list[float] = []  # every DATA, refused or not
        self.accepted: list[float] = []  # when each accepted message's MAIL FROM arrived
        self.peers: set = set()  # one per SMTP connection

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        import time

        envelope.mail_from = address
        envelope.began = time.monotonic()  # the start of the transaction
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import time

        self.attempts.append(time.monotonic())
        self.peers.add(session.peer)
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            self.accepted.append(getattr(envelope, "began", time.monotonic()))
        return reply


class QuotaHandler(TimingHandler):
    """A provider's quota: more than `per_second` accepted messages in the last second, and
    it answers 421 "slow down" (the sender hangs up and comes back, as after any 421)."""

    def __init__(self, per_second: int) -> None:
        super().__init__()
        self.per_second = per_second
        self.refusals: list[float] = []

    def data_reply(self, envelope) -> str | None:
        import time

        now = time.monotonic()
        if sum(1 for t in self.accepted if t > now - 1.0) >= self.per_second:
            self.refusals.append(now)
            return "421 4.7.0 Too many messages, slow down"
        return None
