"""The tables: subscribers with their consent record, and the delivery ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .extensions import db


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, the only kind stored."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("Store aware datetimes only; use models.utcnow().")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SubscriberStatus:
    """The life of an address: pending until confirmed, then active until it leaves."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    ALL = (PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED)


class Subscriber(db.Model):
    """One address and the record of how it consented."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING, index=True)
    source: Mapped[str] = mapped_column(String(16))  # web, import, cli
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signup_ip: Mapped[str | None] = mapped_column(String(45))
    signup_user_agent: Mapped[str | None] = mapped_column(String(512))
    confirm_ip: Mapped[str | None] = mapped_column(String(45))
    confirm_user_agent: Mapped[str | None] = mapped_column(String(512))

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.status}>"


# Addresses are unique case-insensitively: Alice@example.org and alice@example.org are one.
Index("ix_subscribers_email_lower", func.lower(Subscriber.email), unique=True)


class DeliveryStatus:
    """A ledger row is claimed as `sending` before the SMTP transaction, then settled."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    ALL = (SENDING, SENT, FAILED)


class Delivery(db.Model):
    """The ledger: one row per (essay, subscriber), so nobody gets an essay twice."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("post_slug", "subscriber_id", name="uq_deliveries_post_subscriber"),
        Index("ix_deliveries_post_status", "post_slug", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_slug: Mapped[str] = mapped_column(String(200))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(255))


class MailingStatus:
    """An essay's send: under way, finished, or marked as back catalogue (never mailed)."""

    SENDING = "sending"
    DONE = "done"
    SKIPPED = "skipped"


class Mailing(db.Model):
    """One row per essay the author has sent (or chose not to), for `flask send --new`."""

    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutgoingStatus:
    """A queued mail waits, is claimed as `sending` by one process, then is settled; a request
    the rules answered without mail is recorded as `skipped`, and never sent."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutgoingMail(db.Model):
    """A mail a request asked for (today: the confirmation), sent later off the request path."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (Index("ix_outgoing_mail_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "confirm"
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=OutgoingStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
