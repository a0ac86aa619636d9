"""One `flask send --new` at a time, so the same cron line can run on every app server.

On PostgreSQL a session-level advisory lock, held on its own connection for as long as the
command runs (the server drops it if the process dies); on SQLite, whose file lives on one
machine, an exclusive `flock` on a file beside it in `instance/`.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

LOCK_KEY = zlib.crc32(b"newsletter: flask send --new")


@contextmanager
def only_one(engine: Engine, lock_file: Path) -> Iterator[bool]:
    """Yield True while this process holds the lock, False (at once) if another one does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                    conn.commit()
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
