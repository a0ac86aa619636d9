"""The delivery ledger (one row per essay and reader) and the mailings (one row per essay sent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.columns import UTCDateTime, utcnow
from newsletter.extensions import db


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


class SendRun(db.Model):
    """One `flask send` on the task queue: the essay's message built once, and its batches.

    `started_at` is the database's clock, so every machine judges "uncertain" by one clock."""

    __tablename__ = "send_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_slug: Mapped[str] = mapped_column(String(200), index=True)
    essay: Mapped[str] = mapped_column(Text)  # the EssayEmail as JSON
    retry_uncertain: Mapped[bool] = mapped_column(default=False)
    batches_left: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class SendBatch(db.Model):
    """A range of subscriber ids one job delivers to; `finished_at` once it ended for good."""

    __tablename__ = "send_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("send_runs.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int | None] = mapped_column(Integer)  # None: open-ended (later sign-ups too)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
