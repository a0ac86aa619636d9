"""Under the production server, mail a previous process left queued goes out once the first
response of a new process has been sent, with no sign-up to wake the courier."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SMTPServer, prepared_site
from e2e.live import REPO_ROOT, LiveSite

# Run with the site's environment: a subscriber and a queued confirmation, as a sign-up whose
# process stopped before its courier sent the mail leaves them.
LEAVE_A_QUEUED_MAIL = """
from app import create_app
from newsletter.extensions import db
from newsletter.mail import outgoing
from newsletter.subscribers import subscriptions
from newsletter.subscribers.models import Subscriber

app = create_app()
with app.app_context():
    subscriber = Subscriber(email="left@example.org", source="web")
    db.session.add(subscriber)
    db.session.flush()
    outgoing.enqueue(subscriptions.CONFIRM, subscriber.id, subscriber.email)
    db.session.commit()
"""


@pytest.fixture
def site(tmp_path: Path, smtp: SMTPServer) -> Iterator[LiveSite]:
    """A site under `make serve`, not started yet."""
    with prepared_site(tmp_path, smtp.port) as live:
        yield live


def test_mail_left_queued_goes_out_after_the_first_page_of_a_new_server(site, smtp):
    site.flask("db", "upgrade")
    left = subprocess.run(
        [sys.executable, "-c", LEAVE_A_QUEUED_MAIL],
        cwd=REPO_ROOT,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert left.returncode == 0, left.stderr
    site.start(workers=1)  # answers its readiness check (GET /robots.txt): no sign-up
    arrived = smtp.handler.wait_for(1, timeout=30)
    assert [str(message["To"]) for message in arrived] == ["left@example.org"]
