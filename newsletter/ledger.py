"""The delivery ledger in SQL: claim a row before the SMTP transaction, settle it after.

A row is claimed by INSERTing it as `sending` (the unique (post_slug, subscriber_id) index
decides which process owns it) or by moving a retryable `failed` row back to `sending` with a
conditional UPDATE; a claim that changes no row belongs to someone else. Every statement is
its own short transaction, so a crash loses at most the one message in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)

from .models import (
    Delivery,
    DeliveryStatus,
    Mailing,
    MailingStatus,
    Subscriber,
    SubscriberStatus,
    utcnow,
)

deliveries = Delivery.__table__
subscribers = Subscriber.__table__
mailings = Mailing.__table__


@dataclass(frozen=True)
class Recipient:
    """An active subscriber who should get the essay, and the state of their ledger row."""

    subscriber_id: int
    email: str
    row_status: str | None = None  # None: never tried; failed: a retry; sending: uncertain
    message_id: str | None = None


def is_retryable(column):
    """A failed row may be tried again unless the server refused it for good (a 5xx reply)."""
    return not_(func.coalesce(column, "").like("5%"))


def _recipients(slug: str, retry_uncertain: bool, started: datetime):
    """Active subscribers with no row, a retryable failed row, or (asked for) an uncertain one."""
    joined = subscribers.outerjoin(
        deliveries,
        and_(deliveries.c.subscriber_id == subscribers.c.id, deliveries.c.post_slug == slug),
    )
    wanted = [
        deliveries.c.id.is_(None),
        and_(deliveries.c.status == DeliveryStatus.FAILED, is_retryable(deliveries.c.last_error)),
    ]
    if retry_uncertain:
        wanted.append(
            and_(deliveries.c.status == DeliveryStatus.SENDING, deliveries.c.updated_at < started)
        )
    columns = (subscribers.c.id, subscribers.c.email, deliveries.c.status, deliveries.c.message_id)
    return (
        select(*columns)
        .select_from(joined)
        .where(subscribers.c.status == SubscriberStatus.ACTIVE, or_(*wanted))
    )


def count_recipients(conn: Connection, slug: str, retry_uncertain: bool, started: datetime) -> int:
    """How many readers a send would try now."""
    query = _recipients(slug, retry_uncertain, started).subquery()
    return conn.execute(select(func.count()).select_from(query)).scalar_one()


def iter_recipients(
    engine: Engine, slug: str, batch_size: int, retry_uncertain: bool, started: datetime
) -> Iterator[Recipient]:
    """Stream the recipients in id order, one batch per query, so a long list never fills
    memory and readers who confirm during the send are still reached."""
    after = 0
    while True:
        query = (
            _recipients(slug, retry_uncertain, started)
            .where(subscribers.c.id > after)
            .order_by(subscribers.c.id)
            .limit(batch_size)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield Recipient(row[0], row[1], row[2], row[3])
        if len(rows) < batch_size:
            return
        after = rows[-1][0]


def _insert(conn: Connection):
    """The dialect's INSERT, which knows ON CONFLICT (imported here: `flask run` never needs it)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def claim(
    conn: Connection, slug: str, recipient: Recipient, message_id: str, started: datetime
) -> bool:
    """Make this process the only sender of this essay to this reader; False if it is not."""
    now = utcnow()
    still_active = exists().where(
        subscribers.c.id == recipient.subscriber_id,
        subscribers.c.status == SubscriberStatus.ACTIVE,
    )
    if recipient.row_status is None:
        source = select(
            *_values(slug, message_id, now), subscribers.c.id.label("subscriber_id")
        ).where(subscribers.c.id == recipient.subscriber_id, still_active)
        statement = (
            _insert(conn)(deliveries)
            .from_select(
                ["post_slug", "message_id", "updated_at", "status", "attempts", "subscriber_id"],
                source,
            )
            .on_conflict_do_nothing()
            .returning(deliveries.c.id)  # rowcount of INSERT is not reliable on every driver
        )
        return conn.execute(statement).first() is not None
    expected = deliveries.c.status == recipient.row_status
    if recipient.row_status == DeliveryStatus.SENDING:  # --retry-uncertain: not rows in flight
        expected = and_(expected, deliveries.c.updated_at < started)
    statement = (
        update(deliveries)
        .where(_row(slug, recipient.subscriber_id), expected, still_active)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=deliveries.c.attempts + 1,
            updated_at=now,
            message_id=message_id,
        )
    )
    return conn.execute(statement).rowcount == 1


def _values(slug: str, message_id: str, now: datetime):
    return (
        literal(slug).label("post_slug"),
        literal(message_id).label("message_id"),
        literal(now, deliveries.c.updated_at.type).label("updated_at"),
        literal(DeliveryStatus.SENDING).label("status"),
        literal(1).label("attempts"),
    )


def _row(slug: str, subscriber_id: int):
    return and_(deliveries.c.post_slug == slug, deliveries.c.subscriber_id == subscriber_id)


def settle_sent(conn: Connection, slug: str, subscriber_id: int) -> None:
    """Record that the server accepted the message."""
    now = utcnow()
    conn.execute(
        update(deliveries)
        .where(_row(slug, subscriber_id))
        .values(status=DeliveryStatus.SENT, sent_at=now, updated_at=now, last_error=None)
    )


def settle_failed(conn: Connection, slug: str, subscriber_id: int, error: str) -> None:
    """Record a failure with the server's reply (a 5xx reply is never retried)."""
    conn.execute(
        update(deliveries)
        .where(_row(slug, subscriber_id))
        .values(status=DeliveryStatus.FAILED, updated_at=utcnow(), last_error=error[:2000])
    )


def release(conn: Connection, slug: str, subscriber_id: int) -> None:
    """Give a claim back when nothing was sent (the send stopped before this message)."""
    conn.execute(
        delete(deliveries).where(
            _row(slug, subscriber_id), deliveries.c.status == DeliveryStatus.SENDING
        )
    )


def mark_bounced(conn: Connection, subscriber_id: int) -> None:
    """The server said the mailbox does not exist: stop mailing this address."""
    now = utcnow()
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.status == SubscriberStatus.ACTIVE)
        .values(status=SubscriberStatus.BOUNCED, bounced_at=now)
    )


def count_uncertain(conn: Connection, slug: str, before: datetime) -> int:
    """Rows left in `sending` by an earlier run: those messages may or may not have arrived."""
    query = select(func.count()).where(
        deliveries.c.post_slug == slug,
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.updated_at < before,
    )
    return conn.execute(query).scalar_one()


def start_mailing(conn: Connection, slug: str, title: str) -> None:
    """Mark an essay's send as under way (again, when a rerun reaches new readers)."""
    insert = _insert(conn)(mailings).values(
        post_slug=slug, title=title[:500], status=MailingStatus.SENDING, started_at=utcnow()
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["post_slug"],
            set_={"status": MailingStatus.SENDING, "title": title[:500], "finished_at": None},
        )
    )


def finish_mailing(conn: Connection, slug: str) -> None:
    """Mark an essay's send as done: every reader was tried."""
    conn.execute(
        update(mailings)
        .where(mailings.c.post_slug == slug)
        .values(status=MailingStatus.DONE, finished_at=utcnow())
    )


def skip_mailing(conn: Connection, slug: str, title: str) -> None:
    """Mark an essay as back catalogue that `flask send --new` must never mail."""
    now = utcnow()
    conn.execute(
        _insert(conn)(mailings)
        .values(
            post_slug=slug,
            title=title[:500],
            status=MailingStatus.SKIPPED,
            started_at=now,
            finished_at=now,
        )
        .on_conflict_do_nothing()
    )


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
