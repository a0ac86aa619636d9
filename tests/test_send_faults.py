"""Faults injected by a real SMTP server: every other reader is served exactly once, and each
failure is recorded with the server's reply."""

from __future__ import annotations

import asyncio
from collections import Counter
from email.utils import parseaddr

import pytest
from conftest import RecordingHandler
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.sending.models import Delivery
from newsletter.subscribers.models import Subscriber

pytestmark = pytest.mark.database


@pytest.fixture
def config(config):
    config.update(SEND_RETRY_DELAY=0, SEND_MAX_ATTEMPTS=3)
    return config


@pytest.fixture
def smtp_handler(request):
    """A fresh fault-injecting handler per test, from the class given by `parametrize`."""
    return getattr(request, "param", RecordingHandler)()


@pytest.fixture
def essay(write_post):
    return write_post("week-1.md", title="'Week 1'", date="2022-02-01")


def send(runner, *args, code=0):
    result = runner.invoke(args=["send", "week-1", "--yes", *args])
    assert result.exit_code == code, result.output
    return result.output


def received(smtp_server) -> Counter:
    return Counter(parseaddr(message["To"])[1] for message in smtp_server.messages)


def ledger_rows(app) -> dict[str, Delivery]:
    with app.app_context():
        query = select(Subscriber.email, Delivery).join(Delivery)
        return {email: row for email, row in db.session.execute(query)}


class EveryThirdDeferred(RecordingHandler):
    """451 on every third new message, as a greylisting server does: it defers a message it
    has not seen before and accepts the retry (so the outcome does not depend on how the
    sender's connections interleave)."""

    def __init__(self) -> None:
        super().__init__()
        self.new_messages = 0
        self.deferred: set[str] = set()

    def data_reply(self, envelope):
        recipient = envelope.rcpt_tos[0]
        if recipient in self.deferred:
            return None
        self.new_messages += 1
        if self.new_messages % 3 == 0:
            self.deferred.add(recipient)
            return "451 4.3.0 Try again later"
        return None


@pytest.mark.parametrize(
    "smtp_handler", [EveryThirdDeferred], ids=["451-every-third"], indirect=True
)
def test_temporary_failures_are_retried_until_everyone_has_it_once(
    app, runner, smtp_server, essay, add_subscribers
):
    readers = add_subscribers(20)
    assert "Sent 20, failed 0" in send(runner)
    assert received(smtp_server) == Counter(email for _, email in readers)
    rows = ledger_rows(app)
    assert {row.status for row in rows.values()} == {"sent"}
    assert sum(row.attempts > 1 for row in rows.values()) >= 6


class DropsAfterTen(RecordingHandler):
    """Closes the connection when the eleventh transaction starts, once."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.transactions += 1
        if self.transactions == 11:
            server.transport.close()
        envelope.mail_from = address
        return "250 OK"


@pytest.mark.parametrize("smtp_handler", [DropsAfterTen], ids=["drop-after-ten"], indirect=True)
def test_a_dropped_connection_is_reopened_and_nobody_is_missed(
    app, runner, smtp_server, essay, add_subscribers
):
    readers = add_subscribers(20)
    assert "Sent 20, failed 0" in send(runner)
    assert received(smtp_server) == Counter(email for _, email in readers)
    assert [row.attempts for row in ledger_rows(app).values()].count(2) == 1


class UnknownUser(RecordingHandler):
    """550 on RCPT for one address; 554 on DATA for another."""

    def rcpt_reply(self, address):
        return "550 5.1.1 User unknown" if address == "reader3@example.com" else None

    def data_reply(self, envelope):
        return "554 5.7.1 Rejected as spam" if "reader5@" in envelope.rcpt_tos[0] else None


@pytest.mark.parametrize("smtp_handler", [UnknownUser], ids=["550-554"], indirect=True)
def test_permanent_failures_are_recorded_and_unknown_users_bounced(
    app, runner, smtp_server, essay, add_subscribers
):
    readers = add_subscribers(8)
    output = send(runner)
    assert "Sent 6, failed 2" in output
    assert "reader3@example.com: 550 5.1.1 User unknown" in output
    others = Counter(email for _, email in readers if email[6] not in "35")
    assert received(smtp_server) == others
    rows = ledger_rows(app)
    assert (rows["reader3@example.com"].status, rows["reader3@example.com"].last_error) == (
        "failed",
        "550 5.1.1 User unknown",
    )
    assert rows["reader5@example.com"].last_error == "554 5.7.1 Rejected as spam"
    with app.app_context():
        status = dict(db.session.execute(select(Subscriber.email, Subscriber.status)).all())
        bounced = db.session.scalar(select(Subscriber).filter_by(email="reader3@example.com"))
        assert bounced.bounced_at is not None
    assert status["reader3@example.com"] == "bounced"
    assert status["reader5@example.com"] == "active"
    assert "Sent 0, failed 0" in send(runner)  # a 5xx is never retried by a rerun
    assert received(smtp_server) == others


class AlwaysDeferredOnce(RecordingHandler):
    """451 for one address until `healed`; then the server accepts it."""

    healed = False

    def rcpt_reply(self, address):
        return None if self.healed or address != "reader2@example.com" else "451 4.2.1 Mailbox busy"


@pytest.mark.parametrize("smtp_handler", [AlwaysDeferredOnce], ids=["451-always"], indirect=True)
def test_a_reader_deferred_every_time_is_failed_then_served_by_a_rerun(
    app, runner, smtp_server, essay, add_subscribers, smtp_handler
):
    add_subscribers(4)
    output = send(runner)
    assert "Sent 3, failed 1" in output
    row = ledger_rows(app)["reader2@example.com"]
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error.startswith("451 4.2.1 Mailbox busy (gave up after 3 attempts")
    smtp_handler.healed = True
    assert "Sent 1, failed 0" in send(runner)
    assert set(received(smtp_server).values()) == {1} and len(received(smtp_server)) == 4


class DropsAfterData(RecordingHandler):
    """Takes reader1's whole message, keeps it, then hangs up before saying 250."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        if envelope.rcpt_tos == ["reader1@example.com"] and not getattr(self, "dropped", 0):
            self.dropped = 1
            server.transport.close()
        return reply


@pytest.mark.parametrize("smtp_handler", [DropsAfterData], ids=["drop-after-data"], indirect=True)
def test_a_message_lost_after_its_final_dot_is_uncertain_and_not_resent(
    app, runner, smtp_server, essay, add_subscribers
):
    add_subscribers(4)
    output = send(runner)
    assert "Sent 3, failed 0, skipped 0, uncertain 1." in output
    assert ledger_rows(app)["reader1@example.com"].status == "sending"
    assert "uncertain 1" in send(runner)
    assert received(smtp_server)["reader1@example.com"] == 1
    first_id = ledger_rows(app)["reader1@example.com"].message_id
    assert "Sent 1, failed 0, skipped 0, uncertain 0." in send(runner, "--retry-uncertain")
    copies = [m for m in smtp_server.messages if m["To"] == "reader1@example.com"]
    assert [m["Message-ID"] for m in copies] == [first_id, first_id]  # lets clients dedupe
    assert ledger_rows(app)["reader1@example.com"].status == "sent"


class RefusesSender(RecordingHandler):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        return "553 5.7.1 Sender address rejected"


@pytest.mark.parametrize("smtp_handler", [RefusesSender], ids=["sender-refused"], indirect=True)
def test_a_refused_sender_stops_the_send_without_failing_anyone(
    app, runner, smtp_server, essay, add_subscribers
):
    add_subscribers(5)
    output = send(runner, code=1)
    assert "refused the sender author@example.org" in output
    assert "Check MAIL_DEFAULT_SENDER" in output
    assert ledger_rows(app) == {}  # the claim is given back: nobody was tried
    assert "Recipients: 5" in runner.invoke(args=["send", "week-1", "--dry-run"]).output


def test_an_unreachable_server_stops_the_send_and_a_rerun_sends_everyone(
    app, config, runner, essay, add_subscribers
):
    from conftest import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_USE_OUTBOX=False,
                      MAIL_SUPPRESS_SEND=False)  # fmt: skip
    add_subscribers(30)
    output = send(runner, code=1)
    assert "Could not connect to 127.0.0.1" in output and "Nothing is lost" in output
    assert "Recipients: 30" in runner.invoke(args=["send", "week-1", "--dry-run"]).output


class SlowOnce(RecordingHandler):
    """Never answers reader0's first RCPT (the client must time out), then behaves."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == "reader0@example.com" and not self.stalled:
            self.stalled = True
            await asyncio.Event().wait()  # never set: a server that hangs
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.mark.parametrize("smtp_handler", [SlowOnce], ids=["timeout"], indirect=True)
def test_a_server_that_stops_answering_times_out_and_is_retried(
    app, runner, smtp_server, essay, add_subscribers
):
    app.config["SEND_TIMEOUT"] = 1.0  # long enough that a busy machine never trips it by itself
    readers = add_subscribers(3)
    assert "Sent 3, failed 0" in send(runner)
    assert received(smtp_server) == Counter(email for _, email in readers)
