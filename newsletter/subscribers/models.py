"""The subscribers table: one address and the record of how it consented."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.columns import UTCDateTime, utcnow
from newsletter.extensions import db


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
