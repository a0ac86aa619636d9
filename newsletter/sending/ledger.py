"""The delivery ledger in SQL: claim a row before the SMTP transaction, settle it after.

A row is claimed by INSERTing it as `sending` (the unique (post_slug, subscriber_id) index
decides which process owns it) or by moving a retryable `failed` row back to `sending` with a
conditional UPDATE; a claim that changes no row belongs to someone else. Every statement is
its own short transaction, so a crash loses at most the one message in flight.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)

from newsletter.sending import clock
from newsletter.sending.models import DeliveryStatus, MailingStatus
from newsletter.sending.tables import deliveries, mailings, subscribers
from newsletter.subscribers.models import SubscriberStatus


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
    engine: Engine,
    slug: str,
    batch_size: int,
    retry_uncertain: bool,
    started: datetime,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[Recipient]:
    """Stream the recipients in id order, one batch per query, so a long list never fills
    memory and readers who confirm during the send are still reached. `id_range` (first and
    last id, both included; None: no end) keeps to one batch of a queued send."""
    after, last = id_range[0] - 1, id_range[1]
    while True:
        query = _recipients(slug, retry_uncertain, started)
        if last is not None:
            query = query.where(subscribers.c.id <= last)
        query = query.where(subscribers.c.id > after).order_by(subscribers.c.id).limit(batch_size)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield Recipient(row[0], row[1], row[2], row[3])
        if len(rows) < batch_size:
            return
        after = rows[-1][0]


def _insert(dialect: str):
    """The dialect's INSERT, which knows ON CONFLICT (imported here: `flask run` never needs it)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# The statements run once per message are built once, with bound parameters: building a
# SQLAlchemy expression per call cost more than the database's own work.
_SLUG = bindparam("b_slug", type_=String)
_SUBSCRIBER = bindparam("b_subscriber", type_=Integer)
_NOW = bindparam("b_now", type_=deliveries.c.updated_at.type)
_ROW = and_(deliveries.c.post_slug == _SLUG, deliveries.c.subscriber_id == _SUBSCRIBER)
_ACTIVE = and_(subscribers.c.id == _SUBSCRIBER, subscribers.c.status == SubscriberStatus.ACTIVE)


@functools.cache
def _claim_new(dialect: str):
    source = select(
        _SLUG, bindparam("b_message_id", type_=String), _NOW,
        literal(DeliveryStatus.SENDING), literal(1), subscribers.c.id,
    ).where(_ACTIVE)  # fmt: skip
    columns = ["post_slug", "message_id", "updated_at", "status", "attempts", "subscriber_id"]
    insert = _insert(dialect)(deliveries).from_select(columns, source)
    # RETURNING, because the rowcount of an INSERT is not reliable on every driver.
    return insert.on_conflict_do_nothing().returning(deliveries.c.id)


@functools.cache
def _claim_again(status: str):
    expected = deliveries.c.status == status
    if status == DeliveryStatus.SENDING:  # --retry-uncertain: never a row in flight right now
        expected = and_(expected, deliveries.c.updated_at < bindparam("b_started", type_=_NOW.type))
    return (
        update(deliveries)
        .where(_ROW, expected, exists().where(_ACTIVE))
        .values(
            status=DeliveryStatus.SENDING,
            attempts=deliveries.c.attempts + 1,
            updated_at=_NOW,
            message_id=bindparam("b_message_id", type_=String),
            last_error=None,  # in flight again: a stale reason would read as "uncertain"
        )
    )


_SETTLE_SENT = (
    update(deliveries)
    .where(_ROW)
    .values(status=DeliveryStatus.SENT, sent_at=_NOW, updated_at=_NOW, last_error=None)
)
_SETTLE_FAILED = (
    update(deliveries)
    .where(_ROW)
    .values(
        status=DeliveryStatus.FAILED,
        updated_at=_NOW,
        last_error=bindparam("b_error", type_=Text),
    )
)


def claim(
    conn: Connection, slug: str, recipient: Recipient, message_id: str, started: datetime
) -> bool:
    """Make this process the only sender of this essay to this reader; False if it is not."""
    values = {
        "b_slug": slug,
        "b_subscriber": recipient.subscriber_id,
        "b_message_id": message_id,
        "b_now": clock.now(),
    }
    if recipient.row_status is None:
        return conn.execute(_claim_new(conn.dialect.name), values).first() is not None
    if recipient.row_status == DeliveryStatus.SENDING:
        values["b_started"] = started
    return conn.execute(_claim_again(recipient.row_status), values).rowcount == 1


def _row(slug: str, subscriber_id: int):
    return and_(deliveries.c.post_slug == slug, deliveries.c.subscriber_id == subscriber_id)


def settle_sent(conn: Connection, slug: str, subscriber_id: int) -> None:
    """Record that the server accepted the message."""
    values = {"b_slug": slug, "b_subscriber": subscriber_id, "b_now": clock.now()}
    conn.execute(_SETTLE_SENT, values)


def settle_failed(conn: Connection, slug: str, subscriber_id: int, error: str) -> None:
    """Record a failure with the server's reply (a 5xx reply is never retried)."""
    values = {"b_slug": slug, "b_subscriber": subscriber_id, "b_now": clock.now()}
    values["b_error"] = error[:2000]
    conn.execute(_SETTLE_FAILED, values)


def settle_uncertain(conn: Connection, slug: str, subscriber_id: int, reason: str) -> None:
    """Keep the row `sending` (it may have arrived) with the reason, so reports call it
    uncertain rather than in flight."""
    conn.execute(
        update(deliveries)
        .where(_row(slug, subscriber_id), deliveries.c.status == DeliveryStatus.SENDING)
        .values(last_error=reason[:2000], updated_at=clock.now())
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
    now = clock.now()
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.status == SubscriberStatus.ACTIVE)
        .values(status=SubscriberStatus.BOUNCED, bounced_at=now)
    )


def start_mailing(conn: Connection, slug: str, title: str) -> None:
    """Mark an essay's send as under way (again, when a rerun reaches new readers)."""
    insert = _insert(conn.dialect.name)(mailings).values(
        post_slug=slug, title=title[:500], status=MailingStatus.SENDING, started_at=clock.now()
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
        .values(status=MailingStatus.DONE, finished_at=clock.now())
    )


def skip_mailing(conn: Connection, slug: str, title: str) -> None:
    """Mark an essay as back catalogue that `flask send --new` must never mail."""
    now = clock.now()
    conn.execute(
        _insert(conn.dialect.name)(mailings)
        .values(
            post_slug=slug,
            title=title[:500],
            status=MailingStatus.SKIPPED,
            started_at=now,
            finished_at=now,
        )
        .on_conflict_do_nothing()
    )
