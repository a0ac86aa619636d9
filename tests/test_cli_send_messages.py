"""What `flask send` tells the author before and after: each message a sentence with the facts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.sending.models import Mailing

pytestmark = pytest.mark.database


def send(runner, *args, code=0, input=None):
    result = runner.invoke(args=["send", *args], input=input)
    assert result.exit_code == code, result.output
    return result.output


def mailings(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Mailing.post_slug, Mailing.status)).all())


def test_new_dry_run_says_what_it_would_mark_never_that_it_did(
    app, runner, smtp_server, write_post, add_subscribers
):
    for week in (1, 2, 3):
        write_post(f"week-{week}.md", title=f"'Week {week}'", date=f"2022-02-0{week}")
    add_subscribers(1)
    output = send(runner, "--new", "--dry-run")
    assert "2 older essays that were never sent would be marked as back catalogue" in output
    assert "are marked" not in output
    assert mailings(app) == {}


def test_a_send_to_zero_readers_says_so_and_is_not_marked_done(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    output = send(runner, "week-1")  # no question asked: there is nobody to ask about
    assert "No active reader would get 'Week 1': nothing was sent" in output
    assert "not marked as sent" in output
    assert mailings(app) == {}
    add_subscribers(2)
    output = send(runner, "--new", "--yes")  # still offered once readers are there
    assert "Sent 2," in output and mailings(app) == {"week-1": "done"}


def test_a_second_send_says_how_many_have_it_since_when_and_how_many_are_new(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    add_subscribers(3)
    send(runner, "week-1", "--yes")
    add_subscribers(2, start=10)
    output = send(runner, "week-1", input="n\n", code=1)
    facts = output.index("Already sent to 3 readers on ")
    assert "; 2 new readers since." in output
    assert facts < output.index("Send 'Week 1' to 2 readers?")
    assert len(smtp_server.messages) == 3  # answered no: nothing more sent


def test_an_essay_older_than_one_already_sent_asks_with_that_fact(
    runner, smtp_server, write_post, add_subscribers
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    write_post("week-2.md", title="'Week 2'", date="2022-02-08")
    add_subscribers(1)
    send(runner, "week-2", "--yes")
    output = send(runner, "week-1", input="n\n", code=1)
    assert (
        "'Week 1' (1 February 2022) is older than 'Week 2' (8 February 2022), which was "
        "already sent" in output
    )
    assert "Send 'Week 1' to 1 readers anyway?" in output
    assert [m["Subject"] for m in smtp_server.messages] == ["Week 2"]


def test_a_mistyped_slug_suggests_the_nearest_ones(runner, write_post):
    write_post("week-12-small-tools.md", title="'Week 12'", date="2022-02-01")
    write_post("week-13-big-tools.md", title="'Week 13'", date="2022-02-08")
    write_post("gardening.md", title="Gardens", date="2022-02-09")
    output = send(runner, "week-12-smal-tools", "--dry-run", code=1)
    assert (
        "No essay has the slug 'week-12-smal-tools'. Did you mean 'week-12-small-tools'" in output
    )
    assert "gardening" not in output
    output = send(runner, "zzzz", "--dry-run", code=1)
    assert "'flask posts list' shows the slugs" in output


def test_a_test_send_without_mail_server_says_it_went_to_the_outbox_with_the_path(
    runner, config, write_post
):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    output = send(runner, "week-1", "--test", "me@example.org")
    assert "MAIL_SERVER is not set" in output and "written to the outbox as " in output
    path = Path(output.split("written to the outbox as ", 1)[1].split(" (open it", 1)[0])
    assert path.parent == Path(config["OUTBOX_DIR"]) and path.suffix == ".eml"
    assert b"Subject: [TEST] Week 1" in path.read_bytes()


def test_a_test_send_through_the_server_says_where_it_went(runner, smtp_server, write_post):
    write_post("week-1.md", title="'Week 1'", date="2022-02-01")
    output = send(runner, "week-1", "--test", "me@example.org")
    assert "Sent a test of 'week-1' to me@example.org. No record was changed." in output
    assert len(smtp_server.handler.wait_for(1)) == 1
