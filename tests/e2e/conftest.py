"""Fixtures of the end-to-end stories: a live site under `make serve`, its SMTP server, Chromium.

Each story module gets its own site (a copy of posts/, a new SQLite database, the production
server as `make serve` runs it on a free port, which migrates the database first, an aiosmtpd
server on another), so a story can run alone and in any order. One Chromium serves the whole
session; every test opens fresh browser contexts (no cookies, no storage).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RecordingHandler, SMTPServer, free_port
from playwright.sync_api import Browser, Page, sync_playwright

from .live import REPO_ROOT, LiveSite
from .mailbox import Mailbox

HERE = Path(__file__).parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Exactly the flags of issue 5, plus the two Playwright cannot do without: its pipe to the
# browser and the profile folder (a new empty one per session).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `e2e`, so `pytest -m e2e` runs the stories alone."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the end of the server's log to a failed story."""
    report = yield
    site = getattr(item, "funcargs", {}).get("site")
    if report.failed and isinstance(site, LiveSite):
        report.sections.append(("server log (last lines)", site.log_tail()))
    return report


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on a free 127.0.0.1 port, in this process; what it received."""
    server = SMTPServer(RecordingHandler())
    server.controller.start()
    yield Mailbox(server.handler, server.port)
    server.controller.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[LiveSite]:
    """The app under `make serve`, configured by FLASK_* variables, mailing through `mailbox`."""
    live = LiveSite(tmp_path_factory.mktemp("site"), free_port(), smtp_port=mailbox.port)
    live.prepare()
    try:
        live.start()
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never Playwright's own browser build)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian package chromium).")
    with tempfile.TemporaryDirectory(prefix="e2e-profile-") as profile, sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            ignore_default_args=True,
            args=[*CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """`open_page(java_script_enabled=False, color_scheme="dark")`: a tab in a new context."""
    contexts = []

    def open_tab(**context_options) -> Page:
        browser: Browser = request.getfixturevalue("browser")
        context = browser.new_context(viewport={"width": 1024, "height": 768}, **context_options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, "step")` saves test-artifacts/<test>/<nn>-step.png (git-ignored)."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    steps = itertools.count(1)

    def take(page: Page, step: str) -> Path:
        path = folder / f"{next(steps):02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take
