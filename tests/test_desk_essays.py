"""The desk's essays: states, the email preview, a test send, the send to every reader with
its live progress, resume, and the send history with its CSV."""

from __future__ import annotations

import csv
import io
import time

import pytest
from conftest import heading, page
from desk_fixtures import AUTHOR, desk, desk_post

from newsletter.desk import sends

FIXTURES = (desk, desk_post)
pytestmark = pytest.mark.database


@pytest.fixture
def essays(write_post):
    write_post("2024-03-01-spring.md", title="Spring Notes", date="2024-03-01", body="Buds.")
    write_post("draft.md", title="Half Done", date="2024-04-01", draft="true")
    write_post("2999-01-01-later.md", title="From the Future", date="2999-01-01")
    write_post("broken.md", raw="---\ntitle: [oops\n---\n")


def poll(check, *, what: str, timeout: float = 60.0):
    """Ask `check` until it answers truthy, or fail after `timeout` seconds saying `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_the_essays_list_shows_each_state_and_broken_files(essays, desk):
    soup = page(desk.get("/desk/essays"))
    rows = {
        tr.find_all("td")[0].get_text(strip=True): [td.get_text(" ", strip=True) for td in tr("td")]
        for tr in soup.select("tbody tr")
    }
    assert rows["Spring Notes"][2:] == ["published", "never sent"]
    assert rows["Half Done"][2] == "draft"
    assert rows["From the Future"][2].startswith("scheduled for 2999-01-01")
    assert rows["broken.md"][1] == "broken"  # the name spans two columns


def test_the_preview_frames_the_html_in_a_sandbox_beside_the_text(essays, desk):
    soup = page(desk.get("/desk/essays/spring"))
    frames = soup.find_all("iframe")
    assert {tuple(f["class"]) for f in frames} == {("phone",), ("desktop",)}
    assert all(f.has_attr("sandbox") and not f["sandbox"] for f in frames)  # no allow-*
    assert "Buds." in soup.find("pre").get_text()
    framed = desk.get(frames[0]["src"])
    assert "Buds." in framed.get_data(as_text=True)
    policy = framed.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy
    assert framed.headers["Cache-Control"] == "no-store"


def test_a_test_send_reaches_the_author_only(essays, desk_post, smtp_server):
    response = desk_post("/desk/essays/draft/test", follow_redirects=True)
    assert f"A test of this essay was sent to {AUTHOR}." in page(response).get_text()
    (message,) = smtp_server.handler.wait_for(1)
    assert message["To"] == AUTHOR and message["Subject"].startswith("[TEST]")


def test_the_confirmation_repeats_the_title_and_the_count(essays, desk, add_subscribers):
    add_subscribers(3)
    confirm = desk.get("/desk/essays/spring/send")
    assert heading(confirm) == "Send “Spring Notes” to all 3 readers?"
    button = page(confirm).select_one("main form button").get_text()
    assert button == "Send “Spring Notes” to 3 readers"


def test_a_count_that_changed_since_the_confirmation_sends_nothing(
    app, essays, desk_post, add_subscribers
):
    add_subscribers(2)
    response = desk_post("/desk/essays/spring/send", {"expected": "5"})
    assert response.status_code == 409
    assert "changed to 2" in page(response).get_text()
    with app.app_context():
        assert not sends.running("spring")


def test_send_to_every_reader_runs_in_the_background_with_progress_and_history(
    app, essays, desk, desk_post, add_subscribers, smtp_server
):
    readers = add_subscribers(20)
    started = desk_post("/desk/essays/spring/send", {"expected": "20"})
    assert started.status_code == 303
    messages = smtp_server.handler.wait_for(20, timeout=60)

    def finished():
        soup = page(desk.get("/desk/essays/spring"))
        done = "Sent 20, failed 0, uncertain 0, still to send 0." in soup.get_text()
        return soup if done else None  # shown once the process ended, with no more refresh

    soup = poll(finished, what="the essay page to show 20 sent")
    assert soup.find("meta", attrs={"http-equiv": "refresh"}) is None
    assert sorted(m["To"] for m in messages) == sorted(email for _, email in readers)
    assert "Send to all" not in soup.get_text()  # nobody is left to send to

    history = page(desk.get("/desk/essays/spring/history"))
    cells = [td.get_text(strip=True) for td in history.select("tbody tr")[0].find_all("td")]
    assert cells[0] == "Spring Notes" and cells[3:] == ["20", "0", "0", "0"]
    download = desk.get("/desk/essays/spring/history.csv")
    assert download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(rows) == 20 and {row["status"] for row in rows} == {"sent"}


def test_a_running_send_refreshes_its_page_without_javascript(app, essays, desk, monkeypatch):
    monkeypatch.setattr(sends, "running", lambda slug: True)
    soup = page(desk.get("/desk/essays/spring"))
    refresh = soup.find("meta", attrs={"http-equiv": "refresh"})
    assert refresh is not None and int(refresh["content"]) > 0
    assert soup.find("progress") is not None


def test_an_unpublished_essay_offers_no_send(essays, desk):
    assert "Send to all" not in page(desk.get("/desk/essays/draft")).get_text()
    assert desk.get("/desk/essays/no-such-essay").status_code == 404


def test_a_stopped_send_offers_resume_then_retry_of_the_uncertain(
    app, essays, desk, desk_post, add_subscribers, smtp_server
):
    from datetime import timedelta

    from newsletter.columns import utcnow
    from newsletter.extensions import db
    from newsletter.sending.models import Delivery, Mailing

    readers = add_subscribers(5)
    an_hour_ago = utcnow() - timedelta(hours=1)
    with app.app_context():  # a send that died with two messages in flight
        db.session.add(
            Mailing(
                post_slug="spring", title="Spring Notes", status="sending", started_at=an_hour_ago
            )
        )
        for subscriber_id, _ in readers[:2]:
            db.session.add(
                Delivery(
                    post_slug="spring",
                    subscriber_id=subscriber_id,
                    status="sending",
                    attempts=1,
                    updated_at=an_hour_ago,
                )  # fmt: skip
            )
        db.session.commit()
    text = page(desk.get("/desk/essays/spring")).get_text(" ")
    assert "Resume: send to the 3 readers still waiting" in text
    assert "Retry the 2 uncertain messages" in text

    desk_post("/desk/essays/spring/resume")
    smtp_server.handler.wait_for(3, timeout=60)
    poll(lambda: "still to send 0." in page(desk.get("/desk/essays/spring")).get_text(" ")
         and "Sending now" not in page(desk.get("/desk/essays/spring")).get_text(" "),
         what="the resumed send to end")  # fmt: skip
    desk_post("/desk/essays/spring/resume", {"retry_uncertain": "1"})
    messages = smtp_server.handler.wait_for(5, timeout=60)
    assert sorted(m["To"] for m in messages) == sorted(email for _, email in readers)
    done = poll(
        lambda: "Sent 5, failed 0, uncertain 0" in page(desk.get("/desk/essays/spring")).get_text(),
        what="every message settled",
    )
    assert done


def test_the_send_process_gets_the_settings_but_not_the_cli_variables(app, monkeypatch):
    monkeypatch.setenv("FLASK_APP", "app.py")
    app.config["APP"] = "app.py"  # what from_prefixed_env makes of FLASK_APP
    with app.app_context():
        env = sends.child_environment()
    assert env["FLASK_APP"] == "app.py"
    assert env["FLASK_SQLALCHEMY_DATABASE_URI"] == f'"{app.config["SQLALCHEMY_DATABASE_URI"]}"'
    assert env["FLASK_SEND_CONNECTIONS"] == "2"
