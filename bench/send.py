"""Send throughput against raw smtplib, and peak memory for a long list.

Starts a discarding aiosmtpd sink in its own process, then in the same run:
  1. raw smtplib: the same pre-built messages over one connection (the ceiling);
  2. `send_essay()` to the same subscribers with the ledger written (SQLite, WAL);
and prints messages per second and the ratio (target: at least 0.7). Then, in a fresh process,
sends to --memory-subscribers readers and prints the peak resident memory.

    .venv/bin/python bench/send.py [--subscribers 5000] [--memory-subscribers 100000]

With --workers 1,2,4 it measures the queued send instead (bench/send_queue.py): the sink takes
20 ms per message, and each count of `flask worker` processes sends to --subscribers readers
(the issue's figure is 20,000); then the rate under --limit, and memory per worker against a
second sink without the delay (see send_queue.py). It runs on PostgreSQL when one answers
(--database-url, else TEST_DATABASE_URL), on SQLite otherwise or with --database-url sqlite.

    .venv/bin/python bench/send.py --workers 1,2,4 [--subscribers 20000] [--limit 200]
        [--queue-memory 20000,200000] [--parts throughput,rate,memory]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAGRAPH = (
    "An essay paragraph with a [link](https://example.org/page) and enough plain prose to "
    "look like the real thing, the way a weekly letter reads when it is about ideas rather "
    "than news; sentences run on, a clause or two, and then they stop. "
)


class Sink:
    """An aiosmtpd handler that accepts and forgets every message (after `delay` seconds,
    like a real relay), noting when each one arrived in `stamps` when given."""

    def __init__(self, delay: float = 0.0, stamps: Path | None = None) -> None:
        self.delay = delay
        self.stamps = stamps

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.stamps:
            with open(self.stamps, "a") as out:
                out.write(f"{time.time()}\n")
        return "250 OK"


def run_sink(port: int, delay: float = 0.0, stamps: str = "") -> None:
    """Serve the sink until killed (runs in its own process, as a real server would)."""
    from aiosmtpd.controller import Controller

    handler = Sink(delay, Path(stamps) if stamps else None)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    asyncio.run(asyncio.Event().wait())


def start_sink(delay: float = 0.0, stamps: str = "") -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, __file__, "--sink", str(port), "--sink-delay", str(delay)]
    sink = subprocess.Popen([*command, "--stamps", stamps], stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    return sink, port


def make_app(
    folder: Path, port: int, subscribers: int, connections: int, database_url: str | None = None
):
    """An app on a fresh SQLite file with one ~20 KB essay and `subscribers` active readers."""
    from app import create_app
    from newsletter.columns import utcnow
    from newsletter.extensions import db
    from newsletter.subscribers.models import Subscriber

    posts = folder / "posts"
    posts.mkdir()
    body = "\n\n".join(PARAGRAPH * 2 for _ in range(16))  # a ~20 KB message, like the issue
    (posts / "week-1.md").write_text(
        f"---\ntitle: 'Week 1: Bench'\ndate: 2022-02-01\n---\n\n{body}\n"
    )
    app = create_app({
        "SECRET_KEY": "bench", "TESTING": True, "INSTANCE_PATH": str(folder / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder / 'bench.sqlite3'}",
        "POSTS_DIR": str(posts), "SITE_URL": "https://bench.example.org",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_SUPPRESS_SEND": False,
        "SEND_CONNECTIONS": connections, "SEND_RETRY_DELAY": 0,
    })  # fmt: skip
    with app.app_context():
        if database_url:
            db.drop_all()
        db.create_all()
        now = utcnow()
        for start in range(0, subscribers, 5_000):  # in chunks, so setup stays small too
            rows = [
                {"email": f"reader{n}@example.com", "status": "active", "source": "cli",
                 "created_at": now, "confirmed_at": now}
                for n in range(start, min(start + 5_000, subscribers))
            ]  # fmt: skip
            db.session.execute(Subscriber.__table__.insert(), rows)
            db.session.commit()
        db.session.remove()
    return app


def raw_smtplib(app, port: int) -> tuple[float, int]:
    """The ceiling: the same pre-built messages over one smtplib connection."""
    from newsletter.content.library import current_posts
    from newsletter.mail.essay import build_essay_email
    from newsletter.mail.identity import new_message_id
    from newsletter.subscribers.models import Subscriber
    from newsletter.subscribers.tokens import unsubscribe_url

    with app.app_context():
        essay = build_essay_email(current_posts().by_slug["week-1"])
        readers = [(s.id, s.email) for s in Subscriber.query.order_by(Subscriber.id)]
        messages = [
            (email, essay.render(email, unsubscribe_url(sid, email), new_message_id()))
            for sid, email in readers
        ]
    size = len(messages[0][1])
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for email, data in messages:
            smtp.sendmail(essay.envelope_from, [email], data)
    return len(messages) / (time.perf_counter() - started), size


def ours(app) -> float:
    """`send_essay()`: build per reader, claim and settle each ledger row, send."""
    from newsletter.sending.mailing import send_essay

    with app.app_context():
        started = time.perf_counter()
        report = send_essay("week-1")
        elapsed = time.perf_counter() - started
    assert report.sent > 0 and report.failed == 0, report
    return report.sent / elapsed


def throughput(subscribers: int, connections: int, port: int) -> None:
    with tempfile.TemporaryDirectory() as raw_dir, tempfile.TemporaryDirectory() as our_dir:
        raw_rate, size = raw_smtplib(make_app(Path(raw_dir), port, subscribers, 1), port)
        our_rate = ours(make_app(Path(our_dir), port, subscribers, connections))
    print(f"{subscribers} subscribers, {size / 1024:.1f} KB messages, sink on 127.0.0.1")
    print(f"  raw smtplib, pre-built, one connection: {raw_rate:7.0f} msg/s")
    print(f"  flask send, ledger written, {connections} connection(s): {our_rate:7.0f} msg/s")
    print(f"  ratio: {our_rate / raw_rate:.2f} (target >= 0.7)")


class Discard:
    """A transport that drops each message: the memory run measures the ledger, the
    streaming and the building, not how fast the sink reads 100,000 messages."""

    def deliver(self, sender: str, recipient: str, data: bytes) -> None:
        """Forget the message."""

    def close(self) -> None:
        """Nothing to close."""


def memory(subscribers: int, port: int) -> None:
    """Peak resident memory of a send to `subscribers` readers (run in a fresh process)."""
    from newsletter.sending import mailing

    mailing.transport_factory = lambda: Discard
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder), port, subscribers, 2)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        rate = ours(app)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{subscribers} subscribers: {rate:.0f} msg/s over {time.perf_counter() - started:.0f} s;"
        f" peak RSS {peak / 1024:.0f} MB ({before / 1024:.0f} MB before the send, which"
        " includes building the subscriber table)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--memory-subscribers", type=int, default=100_000)
    parser.add_argument("--workers", help="queued send: worker counts, e.g. 1,2,4")
    parser.add_argument("--limit", type=int, default=200, help="queued: MAIL_MAX_PER_SECOND")
    parser.add_argument("--queue-memory", default="", help="queued: reader counts, e.g. 20000")
    parser.add_argument(
        "--database-url", help="queued: a PostgreSQL database to use (wiped), or 'sqlite'"
    )
    parser.add_argument("--parts", default="throughput,rate,memory", help="queued: which parts")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sink-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--stamps", default="", help=argparse.SUPPRESS)
    parser.add_argument("--memory-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        return run_sink(args.sink, args.sink_delay, args.stamps)
    if args.workers:
        return queued(args)
    sink, port = start_sink()
    try:
        if args.memory_only:
            return memory(args.memory_only, port)
        throughput(args.subscribers, 1, port)
        if args.connections != 1:
            throughput(args.subscribers, args.connections, port)
        if args.memory_subscribers:
            command = [sys.executable, __file__, "--memory-only", str(args.memory_subscribers)]
            subprocess.run(command, check=True)
    finally:
        sink.kill()
        sink.wait()


def queued(args) -> None:
    """`--workers`: the queued send, against a sink taking 20 ms per message (and, for the
    memory runs, a sink taking none)."""
    import send_queue

    with tempfile.TemporaryDirectory() as folder:
        stamps = Path(folder) / "stamps.txt"
        sink, port = start_sink(0.020, str(stamps))
        fast, fast_port = start_sink()
        try:
            send_queue.run(
                [int(n) for n in args.workers.split(",")], args.subscribers, (port, fast_port),
                stamps, limit=args.limit, database_url=send_queue.pick_database(args.database_url),
                memory_readers=[int(n) for n in args.queue_memory.split(",") if n],
                parts=set(args.parts.split(",")),
            )  # fmt: skip
        finally:
            for process in (sink, fast):
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
