"""The delivery ledger: every active reader gets each essay once, reruns reach only new ones."""

from __future__ import annotations

import threading
from collections import Counter
from email.utils import parseaddr

import pytest
from sqlalchemy import select

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.sending import ledger
from newsletter.sending.ledger import Recipient
from newsletter.sending.models import Delivery, Mailing
from newsletter.sending.pool import Pacer
from newsletter.subscribers.models import Subscriber

pytestmark = pytest.mark.database


def send(runner, *args, code=0):
    result = runner.invoke(args=["send", *args])
    assert result.exit_code == code, result.output
    return result.output


def recipients(smtp_server) -> Counter:
    return Counter(parseaddr(message["To"])[1] for message in smtp_server.messages)


def rows(app, slug):
    with app.app_context():
        query = select(Delivery).where(Delivery.post_slug == slug)
        return {row.subscriber_id: row for row in db.session.scalars(query)}


def test_send_reaches_every_active_subscriber_once(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="Week 1", date="2022-02-01")
    readers = add_subscribers(25)
    add_subscribers(2, start=100, status="pending")
    add_subscribers(2, start=200, status="unsubscribed")
    add_subscribers(1, start=300, status="bounced")
    output = send(runner, "week-1", "--yes")
    assert "Sent 25, failed 0, skipped 0, uncertain 0." in output
    assert recipients(smtp_server) == Counter(email for _, email in readers)
    ledger_rows = rows(app, "week-1")
    assert {row.status for row in ledger_rows.values()} == {"sent"}
    assert all(row.message_id and row.sent_at and row.attempts == 1 for row in ledger_rows.values())
    assert {m["Message-ID"] for m in smtp_server.messages} == {
        row.message_id for row in ledger_rows.values()
    }


def test_rerun_sends_nothing_twice_and_reaches_readers_who_confirmed_since(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="Week 1", date="2022-02-01")
    add_subscribers(5)
    send(runner, "week-1", "--yes")
    assert "Sent 0," in send(runner, "week-1", "--yes")
    [(_, newcomer)] = add_subscribers(1, start=50)
    assert "Recipients: 1" in send(runner, "week-1", "--dry-run")
    assert "Sent 1," in send(runner, "week-1", "--yes")
    counts = recipients(smtp_server)
    assert len(counts) == 6 and set(counts.values()) == {1}
    assert counts[newcomer] == 1


def test_subscribers_are_streamed_in_batches(app, runner, smtp_server, write_post, add_subscribers):
    app.config["SEND_BATCH_SIZE"] = 3
    write_post("week-1.md", title="Week 1", date="2022-02-01")
    readers = add_subscribers(11)
    send(runner, "week-1", "--yes")
    assert recipients(smtp_server) == Counter(email for _, email in readers)


def test_unpublished_or_broken_essays_are_never_sent(
    runner, smtp_server, write_post, add_subscribers
):
    add_subscribers(2)
    write_post("draft.md", title="Draft", date="2022-02-01", draft="true")
    write_post("later.md", title="Later", date="2999-01-01")
    write_post("broken.md", raw="---\ntitle: 'No date'\n---\nBody\n")
    assert "not published" in send(runner, "draft", "--yes", code=1)
    assert "not published" in send(runner, "later", "--yes", code=1)
    assert "has no 'date'" in send(runner, "broken", "--yes", code=1)
    assert "No essay has the slug" in send(runner, "nothing", "--yes", code=1)
    assert smtp_server.messages == []


def test_first_new_run_on_an_old_archive_sends_only_the_newest(
    app, runner, smtp_server, write_post, add_subscribers
):
    for week in range(1, 6):
        write_post(f"week-{week}.md", title=f"'Week {week}'", date=f"2022-02-0{week}")
    write_post("draft.md", title="Draft", date="2022-02-09", draft="true")
    add_subscribers(2)
    output = send(runner, "--new", "--yes")
    assert "4 older essays that were never sent are marked as back catalogue" in output
    assert {m["Subject"] for m in smtp_server.messages} == {"Week 5"}
    with app.app_context():
        states = dict(db.session.execute(select(Mailing.post_slug, Mailing.status)).all())
    assert states == {"week-5": "done", **{f"week-{n}": "skipped" for n in range(1, 5)}}
    assert "No new essay to send." in send(runner, "--new", "--yes")
    assert len(smtp_server.messages) == 2


def test_new_sends_every_unsent_essay_oldest_first(
    runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(1)
    send(runner, "--new", "--yes")
    write_post("week-2.md", title="'Week 2'", date="2022-02-08")
    write_post("week-3.md", title="'Week 3'", date="2022-02-15")
    write_post("week-4.md", title="'Week 4'", date="2999-02-22")  # scheduled, not due
    write_post("broken.md", raw="---\ntitle: x\n---\n")
    send(runner, "--new", "--yes")
    assert [m["Subject"] for m in smtp_server.messages] == ["Week 1", "Week 2", "Week 3"]


def test_new_after_a_manual_send_never_mails_the_back_catalogue(
    runner, smtp_server, write_post, add_subscribers
):
    for week in (1, 2, 3):
        write_post(f"week-{week}.md", title=f"'Week {week}'", date=f"2022-02-0{week}")
    add_subscribers(1)
    send(runner, "week-3", "--yes")  # the author sent one essay by hand, never used --new
    write_post("week-4.md", title="'Week 4'", date="2022-02-04")
    send(runner, "--new", "--yes")
    assert [m["Subject"] for m in smtp_server.messages] == ["Week 3", "Week 4"]


def test_new_dry_run_records_nothing(app, runner, smtp_server, write_post, add_subscribers):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    write_post("week-2.md", title="'Week 2'", date="2022-02-08")
    add_subscribers(1)
    output = send(runner, "--new", "--dry-run")
    assert "Week 2" in output and "nothing was sent" in output
    with app.app_context():
        assert db.session.scalars(select(Mailing)).all() == []
    assert smtp_server.messages == []


def test_status_shows_sent_failed_uncertain_and_pending(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    readers = add_subscribers(4)
    send(runner, "week-1", "--yes")
    add_subscribers(2, start=10)
    with app.app_context():
        db.session.execute(
            Delivery.__table__.update()
            .where(Delivery.subscriber_id == readers[0][0])
            .values(status="failed", last_error="554 5.7.1 Rejected as spam")
        )
        db.session.execute(
            Delivery.__table__.update()
            .where(Delivery.subscriber_id == readers[1][0])
            .values(status="sending")
        )
        db.session.commit()
    output = send(runner, "status", "week-1")
    assert "week-1: done; sent 2, failed 1, uncertain 1, pending 2" in output
    assert f"failed: {readers[0][1]} (1 attempts) 554 5.7.1 Rejected as spam" in output
    assert f"uncertain: {readers[1][1]}" in output


def test_only_one_of_two_racing_claims_wins(app, add_subscribers):
    [(subscriber_id, address)] = add_subscribers(1)
    wins = []
    barrier = threading.Barrier(8)

    def race(n):
        with app.app_context():
            barrier.wait()
            with db.engine.begin() as conn:
                recipient = Recipient(subscriber_id, address)
                wins.append(ledger.claim(conn, "week-1", recipient, f"<{n}@x>", utcnow()))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_a_reader_who_unsubscribes_mid_send_is_not_claimed(app, add_subscribers):
    [(subscriber_id, address)] = add_subscribers(1)
    with app.app_context():
        db.session.get(Subscriber, subscriber_id).status = "unsubscribed"
        db.session.commit()
        with db.engine.begin() as conn:
            assert not ledger.claim(conn, "w", Recipient(subscriber_id, address), "<m@x>", utcnow())


def test_pacer_spaces_messages_to_the_configured_rate():
    # A fake clock: the pacer's arithmetic is what is under test, not the passing of time.
    now = [100.0]
    pacer = Pacer(4, clock=lambda: now[0])
    assert [pacer.delay() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    now[0] += 2.0
    assert pacer.delay() == 0.0
    assert Pacer(0).delay() == 0.0
