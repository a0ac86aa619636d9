"""What the delivery ledger says: counts for the end-of-send summary and `flask send status`.

Read-only queries; the writes (claims and settling) stay in `ledger.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, case, exists, func, not_, select

from newsletter.sending.ledger import deliveries, mailings, subscribers
from newsletter.sending.models import DeliveryStatus
from newsletter.subscribers.models import SubscriberStatus


def _row(slug: str, subscriber_id):
    return and_(deliveries.c.post_slug == slug, deliveries.c.subscriber_id == subscriber_id)


def left_by_others(conn: Connection, slug: str, started: datetime) -> tuple[int, int]:
    """(uncertain, in flight) among `sending` rows this run did not settle: rows an earlier run
    left (a crash, or no verdict), and rows another send claimed during this run and is still
    sending."""
    status, error, updated = (
        deliveries.c.status, deliveries.c.last_error, deliveries.c.updated_at,
    )  # fmt: skip
    in_flight = and_(error.is_(None), updated >= started)
    state = case((in_flight, "in_flight"), (updated < started, "uncertain"), else_="ours")
    query = (
        select(state, func.count())
        .where(deliveries.c.post_slug == slug, status == DeliveryStatus.SENDING)
        .group_by(state)
    )
    counts = dict(conn.execute(query).all())
    return counts.get("uncertain", 0), counts.get("in_flight", 0)


def count_uncertain(conn: Connection, slug: str, before: datetime) -> int:
    """Rows left in `sending` by an earlier run: those messages may or may not have arrived."""
    query = select(func.count()).where(
        deliveries.c.post_slug == slug,
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.updated_at < before,
    )
    return conn.execute(query).scalar_one()


def mailing_states(conn: Connection) -> dict[str, str]:
    """Every essay that has a mailing row, with its status."""
    return dict(conn.execute(select(mailings.c.post_slug, mailings.c.status)).all())


def delivery_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Rows per (essay, status), for `flask send status`."""
    query = select(deliveries.c.post_slug, deliveries.c.status, func.count()).group_by(
        deliveries.c.post_slug, deliveries.c.status
    )
    return {(slug, status): count for slug, status, count in conn.execute(query)}


def pending_count(conn: Connection, slug: str) -> int:
    """Active subscribers with no ledger row for this essay yet."""
    has_row = exists().where(_row(slug, subscribers.c.id))
    query = select(func.count()).where(
        subscribers.c.status == SubscriberStatus.ACTIVE, not_(has_row)
    )
    return conn.execute(query).scalar_one()


def problem_rows(conn: Connection, slug: str, limit: int = 50) -> list[tuple[str, str, int, str]]:
    """(email, status, attempts, last error) of failed and uncertain rows, newest first."""
    query = (
        select(
            subscribers.c.email, deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error
        )
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.post_slug == slug, deliveries.c.status != DeliveryStatus.SENT)
        .order_by(deliveries.c.updated_at.desc())
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(query)]
