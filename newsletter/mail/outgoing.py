"""Mail a request asked for, sent off the request path: a table of queued rows and one small
background thread per process that claims, sends and settles them.

A page must never wait on SMTP: a slow server would hold a web worker, and a new address
answering slower than a known one would tell who subscribes. So a request only inserts a row
(in its own transaction) and wakes the thread; the thread is started lazily in the process that
enqueues, because granian forks its workers before they build the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, insert, or_, select, update

from newsletter.columns import utcnow
from newsletter.extensions import db
from newsletter.mail.messages import MailNotSent
from newsletter.mail.models import OutgoingMail, OutgoingStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """How to send one kind of queued mail, and what to undo when it finally fails."""

    send: Callable[[int, str], None]
    gave_up: Callable[[int], None]


KINDS: dict[str, Kind] = {}


def register(kind: str, send: Callable[[int, str], None], gave_up: Callable[[int], None]) -> None:
    """Say how rows of `kind` are sent (subscribers.py registers the confirmation)."""
    KINDS[kind] = Kind(send, gave_up)


def enqueue(kind: str, subscriber_id: int, email: str, *, skip: bool = False) -> None:
    """Record a mail to send, in the caller's transaction: the caller commits, then `wake()`s.
    With `skip` the request is recorded as `skipped` (the rules send nothing this time) by the
    same statement, so a request that sends nothing costs what one that sends does."""
    now = utcnow()
    db.session.execute(
        insert(OutgoingMail.__table__).values(
            kind=kind,
            subscriber_id=subscriber_id,
            email=email,
            status=OutgoingStatus.SKIPPED if skip else OutgoingStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def lease() -> timedelta:
    """How long a claim holds: past it, the claiming process is taken for dead."""
    return timedelta(seconds=max(300.0, 4 * float(current_app.config["SEND_TIMEOUT"])))


def _claimable(now):
    """Rows due now: queued and due, or claimed by a process that died (lease expired)."""
    return or_(
        (OutgoingMail.status == OutgoingStatus.QUEUED) & (OutgoingMail.next_attempt_at <= now),
        (OutgoingMail.status == OutgoingStatus.SENDING) & (OutgoingMail.claimed_at < now - lease()),
    )


def claim_next(token: str) -> OutgoingMail | None:
    """Claim one due row for `token` with a conditional UPDATE, so two processes never both
    win it; None when nothing is due."""
    while True:
        now = utcnow()
        candidate = db.session.execute(
            select(OutgoingMail.id).where(_claimable(now)).order_by(OutgoingMail.id).limit(1)
        ).scalar_one_or_none()
        if candidate is None:
            db.session.commit()
            return None
        won = db.session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == candidate, _claimable(now))
            .values(
                status=OutgoingStatus.SENDING,
                claimed_by=token,
                claimed_at=now,
                attempts=OutgoingMail.attempts + 1,
            )
        )
        db.session.commit()
        if won.rowcount == 1:
            return db.session.get(OutgoingMail, candidate, populate_existing=True)


def deliver_row(row: OutgoingMail, token: str) -> str:
    """Send one claimed row and settle it: sent, queued again with backoff, or failed."""
    row_id, kind, subscriber_id, email, attempts = (
        row.id, row.kind, row.subscriber_id, row.email, row.attempts
    )  # fmt: skip
    try:
        KINDS[kind].send(subscriber_id, email)
    except MailNotSent as error:
        return _failed(row_id, kind, subscriber_id, attempts, token, str(error), error.temporary)
    except Exception as error:  # a template or outbox error: not worth retrying
        return _failed(row_id, kind, subscriber_id, attempts, token, repr(error), False)
    _settle(row_id, token, status=OutgoingStatus.SENT, sent_at=utcnow(), last_error=None)
    return OutgoingStatus.SENT


def _failed(row_id, kind, subscriber_id, attempts, token, reason, temporary) -> str:
    """Queue a temporary failure again (delay doubling each attempt) or give up for good."""
    config = current_app.config
    db.session.rollback()
    if temporary and attempts < int(config["SEND_MAX_ATTEMPTS"]):
        delay = float(config["SEND_RETRY_DELAY"]) * 2 ** (attempts - 1)
        log.warning(
            "The %s mail %s could not be sent (%s); trying again in %.0f s.",
            kind, row_id, reason, delay,
        )  # fmt: skip
        _settle(
            row_id, token, status=OutgoingStatus.QUEUED, last_error=reason,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )  # fmt: skip
        return OutgoingStatus.QUEUED
    log.error(
        "The %s mail %s could not be sent (%s) after %d attempts; the reader can sign up "
        "again to retry.", kind, row_id, reason, attempts,
    )  # fmt: skip
    _settle(row_id, token, status=OutgoingStatus.FAILED, last_error=reason)
    KINDS[kind].gave_up(subscriber_id)
    return OutgoingStatus.FAILED


def _settle(row_id: int, token: str, **values) -> None:
    """Write a row's outcome, only if this process still holds its claim."""
    db.session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == row_id, OutgoingMail.claimed_by == token)
        .values(claimed_by=None, **values)
    )
    db.session.commit()


def drain(token: str) -> float | None:
    """Deliver every due row; return seconds until the next one falls due (None: no row)."""
    while (row := claim_next(token)) is not None:
        deliver_row(row, token)
    return seconds_to_next()


def seconds_to_next() -> float | None:
    """When the loop must look again: the next retry, or the lease of a claim to take back."""
    now = utcnow()
    retry = db.session.execute(
        select(func.min(OutgoingMail.next_attempt_at)).where(
            OutgoingMail.status == OutgoingStatus.QUEUED
        )
    ).scalar()
    claimed = db.session.execute(
        select(func.min(OutgoingMail.claimed_at)).where(
            OutgoingMail.status == OutgoingStatus.SENDING
        )
    ).scalar()
    db.session.commit()
    moments = [retry] if retry else []
    if claimed:
        moments.append(claimed + lease())
    if not moments:
        return None
    return max(0.05, (min(moments) - now).total_seconds())
