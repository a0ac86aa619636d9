"""The author's list tools (flask subscribers ...): add, remove, forget, list and count."""

from __future__ import annotations

import email.policy
from collections import Counter
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, func, select

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.subscribers.models import Subscriber, SubscriberStatus
from newsletter.subscribers.subscriptions import (
    LEFT,
    InvalidAddress,
    SubscriberError,
    find,
    mark_unsubscribed,
    normalise_address,
)


def add_confirmed(email: str, *, source: str) -> str:
    """Put an address on the list as active (the author vouches for consent); says what it did."""
    address = normalise_address(email)
    subscriber = find(address)
    if subscriber is not None and subscriber.status in LEFT:
        raise SubscriberError(
            f"{subscriber.email} is {subscriber.status}; it is not added back. The reader can "
            "subscribe again through the form."
        )
    if subscriber is not None and subscriber.status == SubscriberStatus.ACTIVE:
        return "active"
    if subscriber is None:
        subscriber = Subscriber(email=address, source=source)
        db.session.add(subscriber)
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.confirmed_at = utcnow()
    db.session.commit()
    return "added"


def remove(email: str) -> Subscriber:
    """Unsubscribe an address on the author's request."""
    subscriber = _existing(email)
    mark_unsubscribed(subscriber)
    return subscriber


def forget(email: str) -> None:
    """Erase an address and everything stored about it (GDPR); its deliveries go with it."""
    subscriber = _existing(email)
    address = subscriber.email
    db.session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    db.session.commit()
    _forget_outbox(address)


def _forget_outbox(address: str) -> None:
    """Delete outbox copies of mail to the address (written when no SMTP server is set)."""
    outbox = Path(current_app.config["OUTBOX_DIR"])
    for path in outbox.glob("*.eml") if outbox.is_dir() else ():
        with path.open("rb") as file:
            headers = BytesHeaderParser(policy=email.policy.default).parse(file)
        if any(to.lower() == address.lower() for _, to in getaddresses([headers["To"] or ""])):
            path.unlink()


def _existing(email: str) -> Subscriber:
    """The subscriber with an address the author typed, or an error naming it."""
    try:
        address = normalise_address(email)
    except InvalidAddress:
        address = email.strip()  # an odd stored address must still be removable
    subscriber = find(address)
    if subscriber is None:
        raise SubscriberError(f"{email.strip()} is not on the list; check the spelling.")
    return subscriber


def all_subscribers(status: str | None = None) -> Iterator[Subscriber]:
    """Every subscriber, oldest first, streamed in batches so a long list stays cheap."""
    query = select(Subscriber).order_by(Subscriber.id).execution_options(yield_per=500)
    if status:
        query = query.where(Subscriber.status == status)
    yield from db.session.execute(query).scalars()


def counts() -> dict[str, int]:
    """How many subscribers have each status, every status present (zero included)."""
    rows = db.session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status))
    found = Counter({status: count for status, count in rows})
    return {status: found[status] for status in SubscriberStatus.ALL}
