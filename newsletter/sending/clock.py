"""The clock the ledger writes with: this machine's UTC time corrected to the database's.

"Uncertain" compares a row's `updated_at` with the start of a send; when workers on several
machines write those times, their clocks must agree. Each process measures its offset from the
database's clock (`sync`) and every ledger time is this machine's clock plus that offset. A
SQLite file lives on one machine, so its offset is zero.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from newsletter.columns import utcnow

_offset = timedelta(0)


def now() -> datetime:
    """The database's current time, as far as this process knows it."""
    return utcnow() + _offset


def sync(engine: Engine) -> timedelta:
    """Measure (and from now on apply) how far the database's clock is from this machine's."""
    global _offset
    if engine.dialect.name != "postgresql":
        return _offset
    with engine.connect() as conn:
        before = time.time()
        database = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        after = time.time()
    local = utcnow() - timedelta(seconds=time.time() - (before + after) / 2)
    _offset = database - local
    return _offset
