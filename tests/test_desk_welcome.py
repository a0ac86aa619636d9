"""The welcome email: sent once when a reader confirms (unless WELCOME_EMAIL is off), and
previewable and test-sendable from the desk."""

from __future__ import annotations

import pytest
from conftest import link_in, page, press_confirm, wait_for_outgoing_mail
from desk_fixtures import AUTHOR, desk, desk_post

FIXTURES = (desk, desk_post)


@pytest.fixture
def welcome_on(config: dict) -> None:
    config["WELCOME_EMAIL"] = True  # the default; the suite turns it off for other tests


def test_a_reader_who_confirms_gets_one_welcome(welcome_on, app, client, sign_up, smtp_server):
    sign_up("ada@example.org")
    (confirmation,) = smtp_server.handler.wait_for(1)
    link = link_in(confirmation, "/confirm/")
    press_confirm(client, link)
    press_confirm(client, link)  # confirming twice welcomes once
    wait_for_outgoing_mail(app)
    messages = smtp_server.handler.wait_for(2)
    assert len(messages) == 2
    welcome = messages[1]
    assert welcome["To"] == "ada@example.org" and welcome["Subject"].startswith("Welcome to")
    assert link_in(welcome, "/unsubscribe/")


def test_no_welcome_when_it_is_off(app, client, sign_up, smtp_server):
    assert app.config["WELCOME_EMAIL"] is False
    sign_up("ada@example.org")
    press_confirm(client, link_in(smtp_server.handler.wait_for(1)[0], "/confirm/"))
    wait_for_outgoing_mail(app)
    assert len(smtp_server.messages) == 1


def test_the_desk_previews_and_test_sends_the_welcome(welcome_on, desk, desk_post, smtp_server):
    soup = page(desk.get("/desk/welcome"))
    assert "Welcome to" in soup.find("pre").get_text()
    frame = desk.get(soup.find("iframe")["src"])
    assert "Your subscription is confirmed" in frame.get_data(as_text=True)
    assert "default-src 'none'" in frame.headers["Content-Security-Policy"]
    answer = desk_post("/desk/welcome/test", follow_redirects=True)
    assert f"sent to {AUTHOR}" in page(answer).get_text()
    assert smtp_server.handler.wait_for(1)[0]["To"] == AUTHOR
