"""Delivering one message: claim its ledger row, send it, settle the row, say what happened.

A plain function with no threads in it: the pool in `sender.py` calls it once per attempt, and
a task queue could call it unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from newsletter.mail.essay import AddressError, EssayEmail
from newsletter.mail.transport import (
    ConnectFailure,
    DeliveryError,
    Envelope,
    PermanentFailure,
    SenderRefused,
    ServerSilent,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)
from newsletter.sending import ledger
from newsletter.sending.ledger import Recipient
from newsletter.sending.models import DeliveryStatus
from newsletter.subscribers.tokens import unsubscribe_url


class Outcome(enum.Enum):
    """What one attempt did to its ledger row."""

    SENT = "sent"
    SKIPPED = "skipped"  # another send owns the row, or the reader left
    RETRY = "retry"  # a temporary failure with attempts left: the row is `failed` (retryable)
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # the message may have arrived: the row stays `sending`
    ABORT = "abort"  # nothing can be sent (sender or login refused): the row was released


@dataclass
class Job:
    """One reader's message within a run, and how often this run has tried it."""

    recipient: Recipient
    message_id: str
    attempts: int = 0


@dataclass(frozen=True)
class Result:
    """An attempt's outcome, the server's reply, and whether the server was out of reach or
    silent (timed out, or no verdict after the message): the run watches those in a row."""

    outcome: Outcome
    reply: str = ""
    unreachable: bool = False
    silent: bool = False
    bounce: bool = False  # RCPT refused for good: the mailbox does not exist


def deliver_one(
    conn: Connection,
    essay: EssayEmail,
    transport: Transport,
    job: Job,
    *,
    started: datetime,
    max_attempts: int,
) -> Result:
    """Claim, send, settle and classify one attempt at one reader's message."""
    recipient = job.recipient
    if job.attempts:  # this run's earlier try left the row `failed`
        recipient = Recipient(recipient.subscriber_id, recipient.email, DeliveryStatus.FAILED)
    with conn.begin():
        if not ledger.claim(conn, essay.slug, recipient, job.message_id, started):
            return Result(Outcome.SKIPPED)
    job.attempts += 1
    try:
        data = essay.render(
            recipient.email,
            unsubscribe_url(recipient.subscriber_id, recipient.email),
            job.message_id,
        )
        transport.send(Envelope(essay.envelope_from, recipient.email, data))
    except AddressError as error:
        return _settle(conn, essay.slug, job, Result(Outcome.FAILED, f"550 {error}"))
    except DeliveryError as failure:
        return _settle(conn, essay.slug, job, classify(failure, job.attempts, max_attempts))
    return _settle(conn, essay.slug, job, Result(Outcome.SENT))


def classify(failure: DeliveryError, attempts: int, max_attempts: int) -> Result:
    """The outcome of a failed attempt: retry, give up, uncertain, or stop the run."""
    reply = failure.reply
    if isinstance(failure, SenderRefused):
        return Result(Outcome.ABORT, reply)
    if isinstance(failure, UncertainDelivery):
        return Result(Outcome.UNCERTAIN, reply, silent=True)
    if isinstance(failure, PermanentFailure):
        return Result(Outcome.FAILED, reply, bounce=failure.bounce)
    if not isinstance(failure, TemporaryFailure):  # pragma: no cover - every kind is listed
        raise failure
    flags = {
        "unreachable": isinstance(failure, ConnectFailure),
        "silent": isinstance(failure, ServerSilent),
    }
    if attempts < max_attempts:
        return Result(Outcome.RETRY, f"{reply} (will retry)", **flags)
    gave_up = f"{reply} (gave up after {attempts} attempts; a rerun retries)"
    return Result(Outcome.FAILED, gave_up, **flags)


def _settle(conn: Connection, slug: str, job: Job, result: Result) -> Result:
    """Write the attempt's outcome into its ledger row."""
    subscriber_id = job.recipient.subscriber_id
    with conn.begin():
        if result.outcome is Outcome.SENT:
            ledger.settle_sent(conn, slug, subscriber_id)
        elif result.outcome in (Outcome.RETRY, Outcome.FAILED):
            ledger.settle_failed(conn, slug, subscriber_id, result.reply)
            if result.bounce:
                ledger.mark_bounced(conn, subscriber_id)
        elif result.outcome is Outcome.UNCERTAIN:
            ledger.settle_uncertain(conn, slug, subscriber_id, result.reply)
        elif result.outcome is Outcome.ABORT:
            ledger.release(conn, slug, subscriber_id)
    return result
