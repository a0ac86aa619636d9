"""The desk's overview: counts by status, the growth chart and its table, sends, broken files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from conftest import page
from desk_fixtures import desk

from newsletter.columns import utcnow
from newsletter.desk import chart, queries
from newsletter.extensions import db
from newsletter.subscribers.models import Subscriber

FIXTURES = (desk,)


def add(app, email: str, status: str, confirmed_days_ago: int | None, left_days_ago=None):
    with app.app_context():
        now = utcnow()
        row = Subscriber(
            email=email,
            status=status,
            source="cli",
            confirmed_at=now - timedelta(days=confirmed_days_ago)
            if confirmed_days_ago is not None
            else None,
            unsubscribed_at=now - timedelta(days=left_days_ago) if left_days_ago else None,
        )
        db.session.add(row)
        db.session.commit()


def test_the_overview_counts_readers_by_status_and_draws_their_growth(app, desk, write_post):
    add(app, "a@example.org", "active", 30)
    add(app, "b@example.org", "active", 10)
    add(app, "c@example.org", "unsubscribed", 20, left_days_ago=5)
    add(app, "d@example.org", "pending", None)
    write_post("broken.md", raw="---\ntitle: [unclosed\n---\n")
    soup = page(desk.get("/desk/"))
    counts = {li.get_text(" ", strip=True) for li in soup.select(".desk-counts li")}
    assert counts == {"2 active", "1 pending", "1 unsubscribed", "0 bounced"}
    svg = soup.find("svg", class_="growth-chart")
    assert svg["role"] == "img" and svg.find("polyline")["points"]
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.select("details tbody tr")]
    assert rows[0][1] == "0" and rows[-1][1] == "2"  # none; a, b and c joined; c left
    assert max(int(count) for _, count in rows) == 3
    assert "broken.md" in soup.get_text()
    assert "Nothing has been sent yet." in soup.get_text()


def test_growth_is_a_running_total_of_joins_minus_departures():
    today = datetime.now(UTC).date()
    changes = {today - timedelta(days=4): 3, today - timedelta(days=2): -1, today: 2}
    series = queries.growth(changes, points=6)
    assert [count for _, count in series] == [0, 3, 3, 2, 2, 4]
    assert series[0][0] == today - timedelta(days=5) and series[-1][0] == today
    assert queries.growth({today: 7}, points=12) == [(today - timedelta(days=1), 0), (today, 7)]


def test_the_chart_scales_into_its_box():
    drawn = chart.draw([(date(2026, 1, 1), 0), (date(2026, 2, 1), 37)])
    assert drawn.y_max == 50
    first, last = drawn.points.split()
    assert first == f"{chart.LEFT:.1f},{chart.HEIGHT - chart.BOTTOM:.1f}"
    assert float(last.split(",")[0]) == chart.WIDTH - chart.RIGHT
    assert chart.draw([]) is None
