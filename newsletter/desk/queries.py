"""Read-only questions the desk asks of the tables: counts, growth, sends and their ledger.

Kept here, not in subscribers/ or sending/, so the desk adds queries without touching theirs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.sending.models import Delivery, DeliveryStatus, Mailing
from newsletter.subscribers.models import Subscriber


@dataclass(frozen=True)
class SendSummary:
    """One essay's send as the ledger tells it."""

    slug: str
    title: str
    status: str  # sending, done, skipped
    started_at: datetime
    finished_at: datetime | None
    sent: int
    failed: int
    uncertain: int  # rows still `sending`: in flight now, or left by a stopped send
    bounced: int


def _day(value) -> date:
    """A database's date() result as a date (SQLite hands back text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def daily_changes() -> dict[date, int]:
    """Per day: readers who became active, minus those of them who left that day."""
    changes: Counter[date] = Counter()
    joined = select(func.date(Subscriber.confirmed_at), func.count()).where(
        Subscriber.confirmed_at.is_not(None)
    )
    for day, count in db.session.execute(joined.group_by(func.date(Subscriber.confirmed_at))):
        changes[_day(day)] += count
    left_at = func.coalesce(Subscriber.unsubscribed_at, Subscriber.bounced_at)
    left = select(func.date(left_at), func.count()).where(
        Subscriber.confirmed_at.is_not(None), left_at.is_not(None)
    )
    for day, count in db.session.execute(left.group_by(func.date(left_at))):
        changes[_day(day)] -= count
    return dict(changes)


def growth(changes: dict[date, int], points: int = 12) -> list[tuple[date, int]]:
    """Active readers at the end of each of up to `points` evenly spaced days, oldest first."""
    if not changes:
        return []
    days = sorted(changes)
    # From the day before the first reader, so the line rises from zero even on one day.
    first, last = days[0] - timedelta(days=1), max(days[-1], date.today())
    span = (last - first).days
    gaps = max(points - 1, 1)
    stops = sorted({first.toordinal() + round(span * i / gaps) for i in range(points)})
    series, total, index = [], 0, 0
    for stop in stops:
        while index < len(days) and days[index].toordinal() <= stop:
            total += changes[days[index]]
            index += 1
        series.append((date.fromordinal(stop), total))
    return series


def ledger_counts(slug: str) -> dict[str, int]:
    """Rows of one essay by delivery status, every status present."""
    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.post_slug == slug)
        .group_by(Delivery.status)
    )
    found = dict(rows.all())
    return {status: found.get(status, 0) for status in DeliveryStatus.ALL}


def bounced_count(slug: str) -> int:
    """Readers of this essay's send whose address has bounced since."""
    return db.session.execute(
        select(func.count())
        .select_from(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.post_slug == slug, Subscriber.bounced_at.is_not(None))
    ).scalar_one()


def send_summary(mailing: Mailing) -> SendSummary:
    """The ledger's figures for one mailing row."""
    counts = ledger_counts(mailing.post_slug)
    return SendSummary(
        slug=mailing.post_slug,
        title=mailing.title,
        status=mailing.status,
        started_at=mailing.started_at,
        finished_at=mailing.finished_at,
        sent=counts[DeliveryStatus.SENT],
        failed=counts[DeliveryStatus.FAILED],
        uncertain=counts[DeliveryStatus.SENDING],
        bounced=bounced_count(mailing.post_slug),
    )


def latest_sends(limit: int = 5) -> list[SendSummary]:
    """The most recent sends, newest first (back catalogue marked skipped left out)."""
    rows = db.session.execute(
        select(Mailing)
        .where(Mailing.status != "skipped")
        .order_by(Mailing.started_at.desc())
        .limit(limit)
    ).scalars()
    return [send_summary(row) for row in rows]


def mailing_for(slug: str) -> Mailing | None:
    """The mailing row of one essay, if it was ever sent or marked."""
    return db.session.execute(select(Mailing).where(Mailing.post_slug == slug)).scalar_one_or_none()


def mailings_by_slug() -> dict[str, Mailing]:
    """Every mailing row by essay."""
    return {row.post_slug: row for row in db.session.execute(select(Mailing)).scalars()}


def ledger_rows(slug: str):
    """Every ledger row of one essay with its address, for the history CSV (streamed)."""
    query = (
        select(
            Subscriber.email,
            Delivery.status,
            Delivery.attempts,
            Delivery.sent_at,
            Delivery.updated_at,
            Delivery.last_error,
            Subscriber.bounced_at,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.post_slug == slug)
        .order_by(Delivery.id)
        .execution_options(yield_per=1000)
    )
    yield from db.session.execute(query)
