"""The readers list for the desk: search, status filter and keyset paging, newest first.

Keyset paging (WHERE id < last seen, ORDER BY id DESC LIMIT n) costs the same at the last
page as at the first, where OFFSET would read every row before the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.subscribers.models import Subscriber, SubscriberStatus


@dataclass(frozen=True)
class Page:
    """One page of readers and the ids its neighbours start from (None: no such page)."""

    readers: list[Subscriber]
    newer: int | None  # ?before= for the previous (newer) page
    older: int | None  # ?after= for the next (older) page


def _filtered(status: str | None, query: str | None):
    statement = select(Subscriber)
    if status in SubscriberStatus.ALL:
        statement = statement.where(Subscriber.status == status)
    if query:
        pattern = "%" + query.strip().lower().replace("\\", "\\\\").replace("%", "\\%") + "%"
        statement = statement.where(func.lower(Subscriber.email).like(pattern, escape="\\"))
    return statement


def _exists(statement) -> bool:
    return db.session.execute(statement.limit(1)).first() is not None


def page(
    *,
    status: str | None = None,
    query: str | None = None,
    after: int | None = None,
    before: int | None = None,
    last: bool = False,
    size: int = 50,
) -> Page:
    """A page of readers: the newest, those older than `after`, newer than `before`, or the
    oldest (`last`)."""
    base = _filtered(status, query)
    if before is not None or last:
        upward = base.where(Subscriber.id > before) if before is not None else base
        rows = db.session.execute(upward.order_by(Subscriber.id.asc()).limit(size)).scalars()
        readers = list(reversed(list(rows)))
    else:
        downward = base.where(Subscriber.id < after) if after is not None else base
        readers = list(
            db.session.execute(downward.order_by(Subscriber.id.desc()).limit(size)).scalars()
        )
    if not readers:
        return Page([], None, None)
    top, bottom = readers[0].id, readers[-1].id
    newer = top if _exists(base.where(Subscriber.id > top)) else None
    older = bottom if _exists(base.where(Subscriber.id < bottom)) else None
    return Page(readers, newer, older)
