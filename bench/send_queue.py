"""The queued send (`BROKER_URL`): throughput with 1, 2, 4 `flask worker` processes against an
SMTP sink that takes 20 ms per message, the global rate under a limit, and peak memory per
worker. Run through `bench/send.py --workers 1,2,4`; needs Redis on 127.0.0.1:6379.

Throughput is counted at the sink, from its first message to its last (the start of the
processes is left out). Batches are 500 readers, or 1/40 of a smaller list (at least 25), so
every worker has batches to take. Each worker count gets a fresh database (SQLite in a
temporary folder, or --database-url, whose tables are dropped and made again) with the same
readers and one ~20 KB essay. The rate run gives each worker 4 threads (4 SMTP connections),
so that the limit, not the workers, sets the pace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_peak_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare(folder: Path, port: int, readers: int, database_url: str | None) -> dict[str, str]:
    """A database with `readers` active subscribers; the env for `flask` processes on it."""
    from send import make_app

    from newsletter.extensions import db

    app = make_app(folder, port, readers, 1, database_url=database_url)
    with app.app_context():
        db.engine.dispose()
    return {
        **os.environ, "FLASK_APP": "app.py", "PYTHONUNBUFFERED": "1",
        "FLASK_SECRET_KEY": "bench-" + uuid.uuid4().hex, "FLASK_SITE_URL": "https://bench.example.org",
        "FLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "FLASK_POSTS_DIR": str(folder / "posts"), "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_PORT": str(port), "FLASK_BROKER_URL": "redis://127.0.0.1:6379/13",
        "FLASK_BROKER_NAMESPACE": "bench-" + uuid.uuid4().hex[:8],
        "FLASK_SEND_QUEUE_BATCH_SIZE": str(min(500, max(25, readers // 40))),
    }  # fmt: skip


def one_run(
    workers: int, env: dict[str, str], folder: Path, threads: int = 1
) -> tuple[float, list[float]]:
    """Start the workers, send, wait for the summary; (elapsed seconds, peak MB per worker)."""
    logs = [folder / f"worker-{n}.log" for n in range(workers)]
    procs = []
    for log in logs:
        with open(log, "w") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "worker", "--threads", str(threads)],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
    try:
        deadline = time.monotonic() + 60
        while not all("Worker ready" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "flask", "send", "week-1", "--yes"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        assert done.returncode == 0 and "failed 0" in done.stdout, done.stdout + done.stderr
        return elapsed, [worker_peak_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def measure(
    workers: int, readers: int, port: int, database_url: str | None, threads: int = 1, **settings
) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        env = prepare(Path(folder), port, readers, database_url)
        env.update({f"FLASK_{key}": str(value) for key, value in settings.items()})
        return one_run(workers, env, Path(folder), threads)


def busiest_and_typical(stamps: list[float]) -> tuple[int, float]:
    """The most messages in any one-second window, and the median of whole seconds (the first
    and last second left out: the run starts and ends within them)."""
    stamps = sorted(stamps)
    most, start = 0, 0
    for end, moment in enumerate(stamps):
        while moment - stamps[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    seconds: dict[int, int] = {}
    for moment in stamps:
        seconds[int(moment - stamps[0])] = seconds.get(int(moment - stamps[0]), 0) + 1
    middle = sorted(list(seconds.values())[1:-1]) or [0]
    return most, middle[len(middle) // 2]


def run(
    worker_counts: list[int],
    readers: int,
    port: int,
    stamps_file: Path,
    *,
    limit: int,
    memory_readers: list[int],
    database_url: str | None,
) -> None:
    """Print throughput per worker count, the rate under `limit`, and memory per worker."""
    print(f"queued send: {readers} readers, sink taking 20 ms a message, 1 thread per worker")
    rates = {}
    for count in worker_counts:
        stamps_file.write_text("")
        _, peaks = measure(count, readers, port, database_url)
        stamps = sorted(float(line) for line in stamps_file.read_text().split())
        rates[count] = (len(stamps) - 1) / (stamps[-1] - stamps[0])  # first to last message
        ratio = rates[count] / rates[worker_counts[0]]
        peak = max(peaks)
        print(f"  {count} worker(s): {rates[count]:6.1f} msg/s  x{ratio:.2f}  peak {peak:.0f} MB")
    if limit:
        stamps_file.write_text("")
        measure(max(worker_counts), readers, port, database_url, 4, MAIL_MAX_PER_SECOND=limit)
        stamps = [float(line) for line in stamps_file.read_text().split()]
        most, typical = busiest_and_typical(stamps)
        print(
            f"  limit {limit}/s, {max(worker_counts)} workers: median second {typical} msg, "
            f"busiest one-second window {most} msg ({typical / limit - 1:+.1%} off the limit)"
        )
    for count in memory_readers:
        _, peaks = measure(2, count, port, database_url)
        print(f"  memory: {count} readers, 2 workers: peak {max(peaks):.0f} MB per worker")
