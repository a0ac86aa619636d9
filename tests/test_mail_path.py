"""One mail path: confirmation mails and essays leave through the same transport, chosen once;
and no delivery thread outlives the app it was started for."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from pathlib import Path

import pytest
from conftest import RecordingHandler, SMTPServer, link_in

from app import create_app
from newsletter.extensions import db
from newsletter.mail.backend import transport_factory
from newsletter.mail.courier import courier, stop_all
from newsletter.mail.outbox import OutboxTransport
from newsletter.mail.smtp import SMTPTransport


def outbox_messages(config) -> dict[str, email.message.EmailMessage]:
    """The outbox's messages by recipient."""
    found = {}
    for path in sorted(Path(config["OUTBOX_DIR"]).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[str(message["To"])] = message
    return found


def test_confirmation_and_essay_share_the_outbox_and_both_have_their_links_logged(
    app, runner, sign_up, write_post, add_subscribers, config, caplog
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(1)
    with caplog.at_level(logging.WARNING, logger="newsletter.mail.outbox"):
        sign_up("new@example.org")
        assert runner.invoke(args=["send", "week-1", "--yes"]).exit_code == 0
    messages = outbox_messages(config)
    assert set(messages) == {"new@example.org", "reader0@example.com"}
    confirm = link_in(messages["new@example.org"], "/confirm/")
    unsubscribe = link_in(messages["reader0@example.com"], "/unsubscribe/")
    logged = {r.getMessage() for r in caplog.records if r.name == "newsletter.mail.outbox"}
    assert len(logged) == 2
    assert any(confirm in line and "new@example.org" in line for line in logged)
    assert any(unsubscribe in line and "reader0@example.com" in line for line in logged)


def test_the_transport_is_smtp_with_a_mail_server_and_the_outbox_without(app, smtp_server):
    with app.app_context():
        assert isinstance(transport_factory()(), SMTPTransport)
        app.config["MAIL_USE_OUTBOX"] = True  # as finish_config leaves it without MAIL_SERVER
        assert isinstance(transport_factory()(), OutboxTransport)


@pytest.fixture
def suppressed(config):
    """A mail server is configured, but sending is suppressed (MAIL_SUPPRESS_SEND)."""
    server = SMTPServer(RecordingHandler())
    server.controller.start()
    config.update(server.mail_config(), MAIL_SUPPRESS_SEND=True)
    yield server
    server.controller.stop()


def test_suppressed_sending_writes_every_kind_of_mail_to_the_outbox(
    suppressed, app, runner, sign_up, write_post, add_subscribers, config
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(1)
    sign_up("new@example.org")
    assert runner.invoke(args=["send", "week-1", "--yes"]).exit_code == 0
    assert set(outbox_messages(config)) == {"new@example.org", "reader0@example.com"}
    assert suppressed.messages == []


def test_stopping_the_couriers_ends_every_delivery_thread_of_the_process(config):
    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    apps = [create_app(config) for _ in range(2)]  # two "workers" on one database
    for each in apps:
        with each.app_context():
            db.create_all()
            courier().wake()
    assert all(courier(each).wait_idle() for each in apps)
    stop_all()
    assert [t for t in threading.enumerate() if t.name == "outgoing-mail"] == []
