"""Mail a request asked for, sent off the request path: a table of queued rows and one small
background thread per process that claims, sends and settles them.

A page must never wait on SMTP: a slow server would hold a web worker, and a new address
answering slower than a known one would tell who subscribes. So a request only inserts a row
(in its own transaction) and wakes the thread; the thread is started lazily in the process that
enqueues, because granian forks its workers before they build the app.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Row, bindparam, func, insert, or_, select, update

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

# The queue's statements are built once, with their values as bound parameters: building one
# cost a sign-up or the courier more than running it.
_ROWS = OutgoingMail.__table__
_INSERT = insert(_ROWS)


def register(kind: str, send: Callable[[int, str], None], gave_up: Callable[[int], None]) -> None:
    """Say how rows of `kind` are sent (subscribers.py registers the confirmation)."""
    KINDS[kind] = Kind(send, gave_up)


def enqueue(kind: str, subscriber_id: int, email: str, *, skip: bool = False) -> None:
    """Record a mail to send, in the caller's transaction: the caller commits, then `wake()`s.
    With `skip` the request is recorded as `skipped` (the rules send nothing this time) by the
    same statement, so a request that sends nothing costs what one that sends does."""
    now = utcnow()
    db.session.execute(
        _INSERT,
        {
            "kind": kind,
            "subscriber_id": subscriber_id,
            "email": email,
            "status": OutgoingStatus.SKIPPED if skip else OutgoingStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


def lease() -> timedelta:
    """How long a claim holds: past it, the claiming process is taken for dead."""
    return timedelta(seconds=max(300.0, 4 * float(current_app.config["SEND_TIMEOUT"])))


def _claimable():
    """Rows due now: queued and due, or claimed by a process that died (lease expired)."""
    return or_(
        (_ROWS.c.status == OutgoingStatus.QUEUED) & (_ROWS.c.next_attempt_at <= bindparam("now")),
        (_ROWS.c.status == OutgoingStatus.SENDING)
        & (_ROWS.c.claimed_at < bindparam("expired", type_=_ROWS.c.claimed_at.type)),
    )


_NEXT_DUE = select(_ROWS.c.id).where(_claimable()).order_by(_ROWS.c.id).limit(1)
_CLAIM = (
    update(_ROWS)
    .where(_ROWS.c.id == bindparam("candidate"), _claimable())
    .values(
        status=OutgoingStatus.SENDING,
        claimed_by=bindparam("token"),
        claimed_at=bindparam("now"),
        attempts=_ROWS.c.attempts + 1,
    )
    .returning(_ROWS.c.id, _ROWS.c.kind, _ROWS.c.subscriber_id, _ROWS.c.email, _ROWS.c.attempts)
)


def claim_next(token: str) -> Row | None:
    """Claim one due row for `token` with a conditional UPDATE, so two processes never both
    win it; the claimed row (id, kind, subscriber_id, email, attempts), or None when nothing
    is due."""
    while True:
        now = utcnow()
        moment = {"now": now, "expired": now - lease()}
        candidate = db.session.execute(_NEXT_DUE, moment).scalar_one_or_none()
        if candidate is None:
            db.session.commit()
            return None
        won = db.session.execute(_CLAIM, {**moment, "candidate": candidate, "token": token})
        row = won.one_or_none()
        db.session.commit()
        if row is not None:
            return row


def deliver_row(row: Row, token: str) -> str:
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
    statement = _settle_statement(tuple(sorted(values)))
    params = {f"new_{name}": value for name, value in values.items()}
    db.session.execute(statement, {**params, "row_id": row_id, "token": token})
    db.session.commit()


@functools.cache
def _settle_statement(names: tuple[str, ...]):
    """The UPDATE that writes these columns of a claimed row, built once per set of columns."""
    return (
        update(_ROWS)
        .where(_ROWS.c.id == bindparam("row_id"), _ROWS.c.claimed_by == bindparam("token"))
        .values(claimed_by=None, **{name: bindparam(f"new_{name}") for name in names})
    )


def drain(token: str) -> float | None:
    """Deliver every due row; return seconds until the next one falls due (None: no row)."""
    while (row := claim_next(token)) is not None:
        deliver_row(row, token)
    return seconds_to_next()


_NEXT_RETRY = select(func.min(_ROWS.c.next_attempt_at)).where(
    _ROWS.c.status == OutgoingStatus.QUEUED
)
_OLDEST_CLAIM = select(func.min(_ROWS.c.claimed_at)).where(_ROWS.c.status == OutgoingStatus.SENDING)


def seconds_to_next() -> float | None:
    """When the loop must look again: the next retry, or the lease of a claim to take back."""
    now = utcnow()
    retry = db.session.execute(_NEXT_RETRY).scalar()
    claimed = db.session.execute(_OLDEST_CLAIM).scalar()
    db.session.commit()
    moments = [retry] if retry else []
    if claimed:
        moments.append(claimed + lease())
    if not moments:
        return None
    return max(0.05, (min(moments) - now).total_seconds())
