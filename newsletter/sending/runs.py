"""A send on the task queue, as the database keeps it: the run (the essay's message built
once, the database's start time) and its batches (ranges of subscriber ids, one job each).

A batch ends once (a conditional UPDATE), whatever the queue redelivers; ending it takes one
from the run's `batches_left` in the same transaction (the run's row is locked by that UPDATE,
so two batches ending at once count down one after the other), and the batch that brings it to
zero marks the mailing done, or leaves it `sending` when a batch ended on an error. Progress
and the final report are read from the ledger, like `flask send status`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, update

from newsletter.mail.essay import EssayEmail
from newsletter.sending import clock, ledger
from newsletter.sending.models import DeliveryStatus
from newsletter.sending.pool import SendReport
from newsletter.sending.tables import batches, deliveries, runs, subscribers
from newsletter.subscribers.models import SubscriberStatus


@dataclass(frozen=True)
class RunState:
    """What a follower needs to know about a run, read again on every poll."""

    run_id: int
    slug: str
    started_at: object
    batches_left: int
    finished: bool
    error: str | None


def essay_to_json(essay: EssayEmail) -> str:
    """The built message as JSON (bytes as base64): workers never rebuild it."""
    values = {}
    for field in dataclasses.fields(essay):
        value = getattr(essay, field.name)
        if isinstance(value, bytes):
            value = {"b64": base64.b64encode(value).decode()}
        elif isinstance(value, tuple):
            value = [{"b64": base64.b64encode(piece).decode()} for piece in value]
        values[field.name] = value
    return json.dumps(values)


def essay_from_json(data: str) -> EssayEmail:
    """The message `essay_to_json` stored."""

    def decode(value):
        if isinstance(value, dict):
            return base64.b64decode(value["b64"])
        if isinstance(value, list):
            return tuple(decode(piece) for piece in value)
        return value

    return EssayEmail(**{key: decode(value) for key, value in json.loads(data).items()})


def batch_starts(conn: Connection, size: int) -> list[int]:
    """The first id of each batch: every `size`-th active subscriber, the first batch from 0
    (a reader who confirms during the send is in some range, the last one has no end)."""
    numbered = (
        select(
            subscribers.c.id,
            func.row_number().over(order_by=subscribers.c.id).label("n"),
        )
        .where(subscribers.c.status == SubscriberStatus.ACTIVE)
        .subquery()
    )
    query = select(numbered.c.id).where((numbered.c.n - 1) % size == 0).order_by(numbered.c.id)
    starts = [row[0] for row in conn.execute(query)]
    return [0, *starts[1:]]


def create_run(
    engine: Engine, essay: EssayEmail, title: str, *, retry_uncertain: bool, batch_size: int
) -> tuple[int, list[int]]:
    """Record a run and its batches (the mailing is `sending` from now); return their ids."""
    clock.sync(engine)
    with engine.begin() as conn:
        ledger.start_mailing(conn, essay.slug, title)
        starts = batch_starts(conn, max(1, batch_size))
        run_id = conn.execute(
            insert(runs)
            .values(
                post_slug=essay.slug, essay=essay_to_json(essay), retry_uncertain=retry_uncertain,
                batches_left=len(starts), started_at=clock.now(),
            )
            .returning(runs.c.id)
        ).scalar_one()  # fmt: skip
        ends = [start - 1 for start in starts[1:]] + [None]
        rows = [
            {"run_id": run_id, "first_id": first, "last_id": last, "skipped": 0}
            for first, last in zip(starts, ends, strict=True)
        ]
        ids = conn.execute(insert(batches).returning(batches.c.id), rows).scalars().all()
    return run_id, list(ids)


def load_batch(conn: Connection, batch_id: int):
    """The batch's row joined to its run's, or None when it is gone."""
    query = (
        select(batches, runs.c.post_slug, runs.c.essay, runs.c.retry_uncertain, runs.c.started_at)
        .join(runs, runs.c.id == batches.c.run_id)
        .where(batches.c.id == batch_id)
    )
    return conn.execute(query).first()


def add_skipped(conn: Connection, batch_id: int, count: int) -> None:
    """Count readers a pass of the batch skipped (another send owned them, or they left)."""
    if count:
        more = batches.c.skipped + count
        conn.execute(update(batches).where(batches.c.id == batch_id).values(skipped=more))


def finish_batch(engine: Engine, batch_id: int, error: str | None = None) -> bool:
    """End a batch (once); the last batch of a run finishes the run. True if it ended now."""
    with engine.begin() as conn:
        ended = conn.execute(
            update(batches)
            .where(batches.c.id == batch_id, batches.c.finished_at.is_(None))
            .values(finished_at=clock.now(), error=error)
            .returning(batches.c.run_id)
        ).first()
        if ended is None:
            return False  # a redelivered job of a batch that already ended
        left = conn.execute(
            update(runs)
            .where(runs.c.id == ended.run_id)
            .values(batches_left=runs.c.batches_left - 1)
            .returning(runs.c.batches_left, runs.c.post_slug)
        ).one()
        if left.batches_left == 0:
            _finish_run(conn, ended.run_id, left.post_slug)
    return True


def _finish_run(conn: Connection, run_id: int, slug: str) -> None:
    errors = select(batches.c.error).where(batches.c.run_id == run_id, batches.c.error.is_not(None))
    error = conn.execute(errors.limit(1)).scalar()
    conn.execute(
        update(runs).where(runs.c.id == run_id).values(finished_at=clock.now(), error=error)
    )
    if error is None:
        ledger.finish_mailing(conn, slug)


def run_state(engine: Engine, run_id: int) -> RunState:
    """The run as it stands now."""
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).one()
    return RunState(
        row.id, row.post_slug, row.started_at, row.batches_left,
        row.finished_at is not None, row.error,
    )  # fmt: skip


def settled_since(engine: Engine, state: RunState) -> int:
    """Messages of this essay settled (sent, failed, or uncertain) since the run started."""
    settled = (deliveries.c.status != DeliveryStatus.SENDING) | deliveries.c.last_error.is_not(None)
    query = select(func.count()).where(
        deliveries.c.post_slug == state.slug, deliveries.c.updated_at >= state.started_at, settled
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def active_run(conn: Connection, slug: str) -> int | None:
    """The id of a run of this essay whose batches have not all ended, if any."""
    query = select(runs.c.id).where(runs.c.post_slug == slug, runs.c.finished_at.is_(None))
    return conn.execute(query.order_by(runs.c.id.desc()).limit(1)).scalar()


def report(engine: Engine, state: RunState) -> SendReport:
    """The end-of-send summary, from the ledger: what changed since the run started."""
    since = deliveries.c.updated_at >= state.started_at
    mine = deliveries.c.post_slug == state.slug
    status = deliveries.c.status
    with engine.connect() as conn:
        wanted = select(status, func.count()).where(mine, since | (status == "sending"))
        counts = dict(conn.execute(wanted.group_by(status)).all())
        skipped = conn.execute(
            select(func.coalesce(func.sum(batches.c.skipped), 0)).where(
                batches.c.run_id == state.run_id
            )
        ).scalar_one()
        failures = conn.execute(
            select(subscribers.c.email, deliveries.c.last_error)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(mine, since, status != DeliveryStatus.SENT)
            .order_by(deliveries.c.updated_at.desc())
            .limit(50)
        ).all()
    result = SendReport(state.slug, sent=counts.get("sent", 0), failed=counts.get("failed", 0))
    result.uncertain, result.skipped, result.error = counts.get("sending", 0), skipped, state.error
    result.failures = [(email, reason or "uncertain: no verdict") for email, reason in failures]
    return result
