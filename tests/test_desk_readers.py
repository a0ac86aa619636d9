"""The desk's readers: search, filter, keyset pages, add, remove, forget, import and export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest import page, wait_for_outgoing_mail
from desk_fixtures import desk, desk_post

from newsletter.desk import readers as reader_pages
from newsletter.subscribers import subscriptions

FIXTURES = (desk, desk_post)
EXPORTS = Path(__file__).parent / "data" / "exports"
pytestmark = pytest.mark.database


def addresses(response) -> list[str]:
    rows = page(response).select("main tbody tr")
    return [tr.find("td").get_text() for tr in rows if len(tr("td")) > 1]


def test_pages_run_newest_first_and_reach_the_last(app, desk, add_subscribers):
    app.config["DESK_PAGE_SIZE"] = 4
    add_subscribers(10)
    first = desk.get("/desk/readers")
    assert addresses(first) == [f"reader{n}@example.com" for n in (9, 8, 7, 6)]
    older = page(first).find("a", rel="next")["href"]
    assert addresses(desk.get(older)) == [f"reader{n}@example.com" for n in (5, 4, 3, 2)]
    last = desk.get("/desk/readers?page=last")
    assert addresses(last) == ["reader3@example.com", "reader2@example.com",
                               "reader1@example.com", "reader0@example.com"]  # fmt: skip
    newer = page(last).find("a", rel="prev")["href"]
    assert addresses(desk.get(newer)) == [f"reader{n}@example.com" for n in (7, 6, 5, 4)]
    assert page(last).find("a", rel="next") is None


def test_search_and_status_filter(app, desk, add_subscribers):
    add_subscribers(3)
    add_subscribers(2, start=10, status="pending")
    assert addresses(desk.get("/desk/readers?q=READER1")) == [
        "reader11@example.com", "reader10@example.com", "reader1@example.com"
    ]  # fmt: skip
    assert len(addresses(desk.get("/desk/readers?status=pending"))) == 2
    assert addresses(desk.get("/desk/readers?q=r%250")) == []  # a % is a character, not a pattern


def test_keyset_page_stays_correct_with_a_filter(app, add_subscribers):
    add_subscribers(6)
    add_subscribers(6, start=6, status="pending")
    with app.app_context():
        found = reader_pages.page(status="active", size=4, last=True)
        assert [r.email for r in found.readers] == [f"reader{n}@example.com" for n in (3, 2, 1, 0)]
        assert found.older is None and found.newer is not None


def test_add_a_reader_with_or_without_a_confirmation_mail(app, desk_post, smtp_server):
    answer = desk_post("/desk/readers/add", {"email": "ada@example.org"}, follow_redirects=True)
    assert "ada@example.org: confirmation mail on its way." in page(answer).get_text()
    wait_for_outgoing_mail(app)
    assert smtp_server.handler.wait_for(1)[0]["To"] == "ada@example.org"
    answer = desk_post("/desk/readers/add", {"email": "bob@example.org", "confirmed": "y"},
                       follow_redirects=True)  # fmt: skip
    assert "bob@example.org: added, active." in page(answer).get_text()
    with app.app_context():
        assert subscriptions.find("bob@example.org").status == "active"
        assert subscriptions.find("ada@example.org").status == "pending"


def test_remove_and_forget_ask_first_then_act(app, desk, desk_post, add_subscribers):
    add_subscribers(2)
    ask = page(desk.get("/desk/readers/forget?email=reader0@example.com"))
    assert ask.find("h1").get_text() == "Erase reader0@example.com?"
    with app.app_context():
        assert subscriptions.find("reader0@example.com") is not None  # asking changed nothing
    desk_post("/desk/readers/forget", {"expected": "reader0@example.com"})
    desk_post("/desk/readers/remove", {"expected": "reader1@example.com"})
    with app.app_context():
        assert subscriptions.find("reader0@example.com") is None
        assert subscriptions.find("reader1@example.com").status == "unsubscribed"


def test_import_an_upload_reports_each_row(app, desk_post):
    upload = (EXPORTS / "substack.csv").read_bytes() + b"not-an-address,,\n"
    response = desk_post(
        "/desk/readers/import",
        {"file": (io.BytesIO(upload), "substack.csv"), "confirmed": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    soup = page(response)
    assert "skipped" in soup.find("p", role="status").get_text()
    assert any("not-an-address" in tr.get_text() for tr in soup.select("tbody tr"))


def test_an_upload_larger_than_the_site_limit_but_within_the_import_limit(app, desk_post):
    rows = "".join(f"big{n}@example.com\n" for n in range(4000))  # ~80 KB, over 64 KiB
    response = desk_post(
        "/desk/readers/import",
        {"file": (io.BytesIO(("email\n" + rows).encode()), "big.csv"), "confirmed": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "added 4000" in page(response).find("p", role="status").get_text()


def test_export_downloads_every_reader(app, desk, add_subscribers):
    add_subscribers(3)
    response = desk.get("/desk/readers/export.csv")
    assert response.mimetype == "text/csv" and response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == [f"reader{n}@example.com" for n in range(3)]


def test_an_import_without_the_csrf_token_is_refused(app, desk):
    response = desk.post(
        "/desk/readers/import",
        data={"file": (io.BytesIO(b"email\nx@example.org\n"), "x.csv"), "confirmed": "y"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Nothing was imported" in page(response).get_text()
    with app.app_context():
        assert subscriptions.find("x@example.org") is None
