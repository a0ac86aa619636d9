"""The author's `flask subscribers` commands: list, add, remove, forget, import, export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.sending.models import Delivery
from newsletter.subscribers import roster, subscriptions
from newsletter.subscribers.models import Subscriber

EXPORTS = Path(__file__).parent / "data" / "exports"


def rows(app) -> dict[str, Subscriber]:
    """Every subscriber by address, read fresh."""
    with app.app_context():
        return {s.email: s for s in db.session.scalars(select(Subscriber))}


@pytest.mark.database
def test_list_shows_a_table_and_counts_and_filters_by_status(app, runner):
    with app.app_context():
        roster.add_confirmed("ann@example.org", source="cli")
        subscriptions.subscribe("bob@example.org", source="web")
        roster.add_confirmed("cy@example.org", source="cli")
        roster.remove("cy@example.org")
    result = runner.invoke(args=["subscribers", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "STATUS", "SOURCE", "SINCE", "CONFIRMED"]
    assert [line.split()[1:3] for line in lines[1:4]] == [
        ["ann@example.org", "active"],
        ["bob@example.org", "pending"],
        ["cy@example.org", "unsubscribed"],
    ]
    assert lines[-1] == "pending: 1, active: 1, unsubscribed: 1, bounced: 0; total: 3"

    pending = runner.invoke(args=["subscribers", "list", "--status", "pending"]).output
    assert "bob@example.org" in pending and "ann@example.org" not in pending


def test_add_mails_a_confirmation_and_add_confirmed_activates(app, runner, smtp_server):
    result = runner.invoke(args=["subscribers", "add", "Ann@Example.org"])
    assert result.exit_code == 0, result.output
    assert "confirmation email sent" in result.output
    assert smtp_server.handler.wait_for(1)[0]["To"] == "Ann@example.org"
    assert rows(app)["Ann@example.org"].status == "pending"

    result = runner.invoke(args=["subscribers", "add", "ann@example.org", "--confirmed"])
    assert result.exit_code == 0, result.output
    ann = rows(app)["Ann@example.org"]
    assert ann.status == "active" and ann.confirmed_at is not None
    assert "already active" in runner.invoke(args=["subscribers", "add", "ann@example.org"]).output


def test_add_refuses_a_bad_address_with_the_reason(app, runner):
    result = runner.invoke(args=["subscribers", "add", "ann@@example.org"])
    assert result.exit_code == 1
    assert "exactly one @" in result.output


def test_add_confirmed_does_not_bring_back_someone_who_left(app, runner):
    runner.invoke(args=["subscribers", "add", "ann@example.org", "--confirmed"])
    runner.invoke(args=["subscribers", "remove", "ann@example.org"])
    result = runner.invoke(args=["subscribers", "add", "ann@example.org", "--confirmed"])
    assert result.exit_code == 1
    assert "subscribe again through the form" in result.output
    assert rows(app)["ann@example.org"].status == "unsubscribed"


@pytest.mark.database
def test_remove_unsubscribes_and_an_unknown_address_is_an_error(app, runner):
    runner.invoke(args=["subscribers", "add", "ann@example.org", "--confirmed"])
    result = runner.invoke(args=["subscribers", "remove", "ANN@example.org"])
    assert result.exit_code == 0, result.output
    assert rows(app)["ann@example.org"].status == "unsubscribed"
    unknown = runner.invoke(args=["subscribers", "remove", "nobody@example.org"])
    assert unknown.exit_code == 1
    assert "nobody@example.org is not on the list" in unknown.output


@pytest.mark.database
def test_forget_leaves_no_personal_data(app, client, runner, sign_up):
    sign_up("ann@example.org", headers={"User-Agent": "AnnBrowser/2.0"})
    with app.app_context():
        ann = subscriptions.find("ann@example.org")
        db.session.add(Delivery(post_slug="week-1", subscriber_id=ann.id, status="sent"))
        db.session.commit()
    outbox = Path(app.config["OUTBOX_DIR"])
    assert any("ann@example.org" in p.read_text() for p in outbox.glob("*.eml"))

    result = runner.invoke(args=["subscribers", "forget", "ann@example.org"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        dump = everything_stored()
    assert not any("ann@example.org" in value or "AnnBrowser" in value for value in dump)
    assert not any("ann@example.org" in p.read_text() for p in outbox.glob("*.eml"))
    with app.app_context():
        assert db.session.query(Delivery).count() == 0


def everything_stored() -> list[str]:
    """Every value in every table of the database, as text."""
    values = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                values.extend(str(value) for value in row)
    return values


@pytest.mark.parametrize(
    ("export", "addresses", "skipped"),
    [
        ("substack.csv", {"ann@example.org", "Bob@example.com"}, [4, 5]),
        ("buttondown.csv", {"ann@example.org", "bob@example.com"}, [5]),
        ("mailchimp.csv", {"ann@example.org", "bob@example.com"}, [4]),
        ("ghost.csv", {"ann@example.org", "bob@example.com"}, [4, 5]),
        ("listmonk.csv", {"ann@example.org", "bob@example.com"}, [4, 5]),
    ],
)
@pytest.mark.database
def test_import_confirmed_reads_each_services_export_and_reports_bad_rows(
    app, runner, export, addresses, skipped
):
    result = runner.invoke(args=["subscribers", "import", str(EXPORTS / export), "--confirmed"])
    assert result.exit_code == 0, result.output
    stored = rows(app)
    assert set(stored) == addresses
    assert {s.status for s in stored.values()} == {"active"}
    assert {s.source for s in stored.values()} == {"import"}
    reported = [
        int(line.split()[1].rstrip(":"))
        for line in result.output.splitlines()
        if line.startswith("line ")
    ]
    assert reported == skipped
    assert f"added: 2, pending: 0, kept: 0, skipped: {len(skipped)}." in result.output
    assert "Importing" in result.output  # the progress bar


def test_import_says_why_a_row_is_skipped(app, runner):
    output = runner.invoke(args=["subscribers", "import", str(EXPORTS / "ghost.csv")]).output
    assert "line 4: skipped carol@example: This is not a valid email address" in output
    assert "line 5: skipped left@example.org: left the old list (subscribed to emails=false)" in (
        output
    )


def test_import_without_confirmed_mails_confirmations(app, runner, smtp_server):
    result = runner.invoke(args=["subscribers", "import", str(EXPORTS / "listmonk.csv")])
    assert result.exit_code == 0, result.output
    assert "added: 0, pending: 2, kept: 0, skipped: 2." in result.output
    received = smtp_server.handler.wait_for(2)
    assert sorted(m["To"] for m in received) == ["ann@example.org", "bob@example.com"]
    assert {s.status for s in rows(app).values()} == {"pending"}


def test_import_keeps_active_and_never_reactivates_who_left(app, runner):
    with app.app_context():
        roster.add_confirmed("ann@example.org", source="cli")
        roster.add_confirmed("bob@example.com", source="cli")
        roster.remove("bob@example.com")
    result = runner.invoke(
        args=["subscribers", "import", str(EXPORTS / "ghost.csv"), "--confirmed"]
    )
    assert (
        "line 3: skipped bob@example.com: bob@example.com is unsubscribed; an import never"
        in result.output
    )
    assert "added: 0, pending: 0, kept: 1, skipped: 3." in result.output
    assert rows(app)["bob@example.com"].status == "unsubscribed"


def test_import_without_confirmed_never_mails_who_left(app, runner, smtp_server):
    with app.app_context():
        roster.add_confirmed("bob@example.com", source="cli")
        roster.remove("bob@example.com")
    result = runner.invoke(args=["subscribers", "import", str(EXPORTS / "ghost.csv")])
    assert "bob@example.com is unsubscribed; an import never adds it back" in result.output
    assert rows(app)["bob@example.com"].status == "unsubscribed"
    assert all(m["To"] != "bob@example.com" for m in smtp_server.messages)


def test_import_of_a_file_without_an_email_column_is_an_error(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,phone\nAnn,123\n")
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 1
    assert "has no email column" in result.output and "name, phone" in result.output


@pytest.mark.database
def test_export_writes_every_stored_field_and_imports_back(app, runner, sign_up, tmp_path):
    sign_up("ann@example.org", headers={"User-Agent": "=HYPERLINK(evil)"})
    runner.invoke(args=["subscribers", "add", "--confirmed", "--", "-bob@example.org"])
    path = tmp_path / "export.csv"
    result = runner.invoke(args=["subscribers", "export", str(path)])
    assert result.exit_code == 0, result.output
    assert "Exported 2 subscribers." in result.output
    with path.open(newline="") as file:
        exported = list(csv.DictReader(file))
    assert list(exported[0]) == [column.name for column in Subscriber.__table__.columns]
    ann, bob = exported
    assert ann["email"] == "ann@example.org" and ann["status"] == "pending"
    assert ann["signup_ip"] == "127.0.0.1"
    assert ann["signup_user_agent"] == "'=HYPERLINK(evil)"  # no formula in a spreadsheet
    assert bob["email"] == "'-bob@example.org" and bob["confirmed_at"]

    with app.app_context():
        roster.forget("-bob@example.org")
    runner.invoke(args=["subscribers", "import", str(path), "--confirmed"])
    assert rows(app)["-bob@example.org"].status == "active"


def test_export_to_standard_output(app, runner):
    runner.invoke(args=["subscribers", "add", "ann@example.org", "--confirmed"])
    result = runner.invoke(args=["subscribers", "export"])
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0][:3] == ["id", "email", "status"]
    assert table[1][1:3] == ["ann@example.org", "active"]
