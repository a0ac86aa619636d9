"""The subscription rules, without HTTP: sign up, confirm, leave, and the author's list tools."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, case, func, or_, select, update

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.mail import courier, messages, outgoing
from newsletter.mail.confirmation import confirmation_email
from newsletter.subscribers import tokens

# InvalidAddress: callers catch it as subscriptions.InvalidAddress beside SubscriberError.
from newsletter.subscribers.addresses import InvalidAddress as InvalidAddress
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.models import Subscriber, SubscriberStatus
from newsletter.subscribers.welcome import queue_welcome

LEFT = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)
CONFIRM = "confirm"  # the kind of the queued confirmation mail


class SubscriberError(ValueError):
    """A list operation that cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class SignupResult:
    """What a sign-up did: the form never shows it, the CLI and tests read it."""

    subscriber_id: int
    outcome: str  # "new", "pending", "active" (nothing to do) or "resubscribed"
    mailed: bool  # False when the address is active or was mailed too recently


def find(address: str) -> Subscriber | None:
    """The subscriber with this (normalised) address, compared as the unique index does."""
    return db.session.execute(select(Subscriber).where(_same_address(address))).scalar_one_or_none()


def subscribe(
    email: str,
    *,
    source: str,
    ip: str | None = None,
    user_agent: str | None = None,
    queue: bool = False,
) -> SignupResult:
    """Record a sign-up and send the confirmation mail unless sent recently; safe to repeat.
    With `queue` (the web form) the mail is only queued, in the sign-up's own transaction, and
    a sign-up that mails nothing records its row all the same: every address costs the
    database the same statements, so none answers later than another."""
    address = normalise_address(email)
    signup = record_signup(address, source=source, ip=ip, user_agent=user_agent)
    if queue:
        outgoing.enqueue(CONFIRM, signup.subscriber_id, signup.email, skip=not signup.claimed)
    db.session.commit()
    if queue:
        courier.wake()  # mail or not: what the thread does next must not tell the two apart
    elif signup.claimed:
        send_claimed_confirmation(signup.subscriber_id, signup.email)
    return SignupResult(signup.subscriber_id, signup.outcome, signup.claimed)


def send_claimed_confirmation(subscriber_id: int, email: str) -> None:
    """Send a claimed confirmation mail; on failure release the claim so a retry can send."""
    try:
        send_confirmation(subscriber_id, email)
    except BaseException:  # even a worker being stopped mid-send must not keep the claim
        release_confirmation(subscriber_id)
        raise


@dataclass(frozen=True)
class Signup:
    """A stored sign-up as plain values; `claimed`: the confirmation mail may go out now."""

    subscriber_id: int
    email: str
    outcome: str
    claimed: bool


def record_signup(address: str, *, source: str, ip: str | None, user_agent: str | None) -> Signup:
    """Store a new pending address, put a former reader back to pending with the new consent
    record, or keep a known one as it is, in one INSERT ... ON CONFLICT DO UPDATE ... RETURNING
    whatever the address: a known address must cost what a new one does, or its answer would
    come later. A new or returning address, or a pending one not mailed within
    CONFIRM_RESEND_MINUTES, claims its confirmation mail in the same write."""
    now = utcnow()
    resend = timedelta(minutes=int(current_app.config["CONFIRM_RESEND_MINUTES"]))
    values = {
        "email": address,
        "now": now,
        "cutoff": now - resend,
        "source": source,
        "signup_ip": _clip(ip, 45),
        "signup_user_agent": _clip(user_agent, 512),
    }
    row = db.session.execute(_upsert_signup(db.session.get_bind().dialect.name), values).one()
    claimed = row.confirmation_sent_at == now  # the row holds this sign-up's claim
    if row.created_at == now:
        outcome = "new"
    elif claimed and (row.unsubscribed_at or row.bounced_at):
        outcome = "resubscribed"  # a reader who had left, asked to confirm again
    else:
        outcome = row.status
    return Signup(row.id, row.email, outcome, claimed=claimed)


CONSENT = ("source", "signup_ip", "signup_user_agent")  # recorded with each sign-up


@functools.cache
def _upsert_signup(dialect: str):
    """The sign-up's one statement in the database's dialect, built once (building it cost a
    sign-up more than running it): its values are bound parameters, named as in
    `record_signup`."""
    if dialect == "postgresql":  # imported here: a page worker loads neither dialect's extras
        from sqlalchemy.dialects.postgresql import insert as insert_for
    else:
        from sqlalchemy.dialects.sqlite import insert as insert_for
    insert = insert_for(Subscriber.__table__).values(
        email=bindparam("email"), status=SubscriberStatus.PENDING, created_at=bindparam("now"),
        confirmation_sent_at=bindparam("now"), **{name: bindparam(name) for name in CONSENT},
    )  # fmt: skip
    return insert.on_conflict_do_update(
        index_elements=[func.lower(Subscriber.email)],  # the unique index on the address
        set_=_signup_again(insert.excluded),
    ).returning(
        Subscriber.id, Subscriber.email, Subscriber.status, Subscriber.created_at,
        Subscriber.confirmation_sent_at, Subscriber.unsubscribed_at, Subscriber.bounced_at,
    )  # fmt: skip


def _signup_again(excluded) -> dict:
    """What a known address's sign-up changes; every expression reads the row as it was. A
    reader who left comes back pending with this consent record; a pending address is claimed
    when its last mail is older than the resend window (or failed); an active one keeps all."""
    columns = Subscriber.__table__.c
    left = columns.status.in_(LEFT)
    due = or_(
        columns.confirmation_sent_at.is_(None),
        columns.confirmation_sent_at <= bindparam("cutoff", type_=columns.created_at.type),
    )
    claim = left | ((columns.status == SubscriberStatus.PENDING) & due)
    return {
        "status": case((left, SubscriberStatus.PENDING), else_=columns.status),
        "confirmation_sent_at": case(
            (claim, excluded.confirmation_sent_at), else_=columns.confirmation_sent_at
        ),
        **{name: case((left, excluded[name]), else_=columns[name]) for name in CONSENT},
    }


def _same_address(address: str):
    """Compare addresses as the unique index does, so SQLite and PostgreSQL agree."""
    return func.lower(Subscriber.email) == func.lower(address)


def _clip(value: str | None, length: int) -> str | None:
    """A request header cut to its column's size; empty becomes None."""
    return value[:length] if value else None


def release_confirmation(subscriber_id: int) -> None:
    """Undo a claim whose mail could not be sent."""
    db.session.rollback()
    db.session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(confirmation_sent_at=None)
    )
    db.session.commit()


def send_confirmation(subscriber_id: int, email: str) -> None:
    """The double opt-in mail: one link that proves the reader owns the address."""
    messages.send(confirmation_email(email, tokens.confirm_url(subscriber_id, email)))


def confirmable(token: str) -> Subscriber:
    """The subscriber a confirmation link names, changing nothing (scanners open links)."""
    subscriber_id, digest = tokens.read_confirm_token(token)
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or not tokens.token_matches(digest, subscriber.email):
        raise tokens.InvalidToken("This link is for an address that is no longer on the list.")
    if subscriber.status in LEFT:
        raise tokens.InvalidToken("This address left the list after the link was sent.")
    return subscriber


def confirm(token: str, *, ip: str | None = None, user_agent: str | None = None) -> Subscriber:
    """Activate the subscriber a confirmation link names; confirming twice changes nothing."""
    subscriber = confirmable(token)
    if subscriber.status == SubscriberStatus.PENDING:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = utcnow()
        subscriber.confirm_ip, subscriber.confirm_user_agent = _clip(ip, 45), _clip(user_agent, 512)
        welcomed = queue_welcome(subscriber.id, subscriber.email)  # same transaction
        db.session.commit()
        if welcomed:
            courier.wake()
    return subscriber


def unsubscriber(token: str) -> Subscriber | None:
    """The subscriber an unsubscribe link names, or None when that address is gone already."""
    subscriber_id, digest = tokens.read_unsubscribe_token(token)
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or not tokens.token_matches(digest, subscriber.email):
        return None  # forgotten, or the id now belongs to someone else: nothing to do
    return subscriber


def unsubscribe(token: str) -> Subscriber | None:
    """Take the link's owner off the list; idempotent, and a no-op for a forgotten address."""
    subscriber = unsubscriber(token)
    if subscriber is not None:
        mark_unsubscribed(subscriber)
    return subscriber


def mark_unsubscribed(subscriber: Subscriber) -> None:
    """Record that the reader left, once; a second request keeps the first time."""
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
        db.session.commit()


outgoing.register(CONFIRM, send_confirmation, gave_up=release_confirmation)
