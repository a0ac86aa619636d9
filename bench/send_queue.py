"""The queued send (`BROKER_URL`): throughput with 1, 2, 4 `flask worker` processes against an
SMTP sink that takes 20 ms per message, the global rate under a limit, and peak memory per
worker. Run through `bench/send.py --workers 1,2,4`; needs Redis on 127.0.0.1:6379.

A queued deployment spans machines, so it runs on PostgreSQL: --database-url, else
TEST_DATABASE_URL, when it answers (its tables are dropped and made again); SQLite in a
temporary folder otherwise, or with --database-url sqlite. The output says which.

Throughput is counted at the sink, from its first message to its last (the start of the
processes is left out). Batches are 100 readers (at least 20 batches), so that the last
batches, run while other workers are already idle, are a small part of the run. Each worker
count gets a fresh database with the same readers and one ~20 KB essay. The rate run gives
each worker 4 threads (4 SMTP connections), so that the limit, not the workers, sets the pace.

The memory runs (2 workers of 2 threads) send to a second sink that answers at once: the
message path is the same (claim, build, SMTP, settle, one batch at a time per thread), only
the relay's 20 ms wait is left out, which would make 200,000 readers take over an hour.
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


def cpu_seconds(pid: int) -> float:
    """A live process's CPU time so far (user and system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        "FLASK_SEND_QUEUE_BATCH_SIZE": str(min(100, max(5, readers // 20))),
    }  # fmt: skip


def one_run(
    workers: int, env: dict[str, str], folder: Path, threads: int = 1
) -> tuple[float, list[float], float]:
    """Start the workers, send, wait for the summary; (elapsed seconds, peak MB per worker,
    the workers' CPU seconds together)."""
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
        cpu = sum(cpu_seconds(p.pid) for p in procs)
        return elapsed, [worker_peak_mb(p.pid) for p in procs], cpu
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
) -> tuple[float, list[float], float]:
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


def pick_database(url: str | None) -> str | None:
    """The PostgreSQL URL to run on, or None for SQLite (said in the output either way)."""
    import sqlalchemy

    url = url or os.environ.get("TEST_DATABASE_URL") or ""
    if not url.startswith("postgresql"):
        print("database: SQLite (no PostgreSQL given: --database-url or TEST_DATABASE_URL)")
        return None
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except sqlalchemy.exc.OperationalError as error:
        print(f"database: SQLite (PostgreSQL did not answer: {str(error).splitlines()[0]})")
        return None
    print(f"database: PostgreSQL ({url.rsplit('@', 1)[-1]}), tables dropped and made again")
    return url


def verdict(name: str, ok: bool, detail: str) -> None:
    print(f"VERDICT {name}: {'met' if ok else 'MISSED'} ({detail})")


def throughput(worker_counts, readers, port, stamps_file, database_url) -> None:
    """Messages per second at the sink per worker count, and the ratios to the first."""
    print(f"queued send: {readers} readers, sink taking 20 ms a message, 1 thread per worker")
    rates = {}
    for count in worker_counts:
        stamps_file.write_text("")
        _, peaks, cpu = measure(count, readers, port, database_url)
        stamps = sorted(float(line) for line in stamps_file.read_text().split())
        rates[count] = (len(stamps) - 1) / (stamps[-1] - stamps[0])  # first to last message
        ratio = rates[count] / rates[worker_counts[0]]
        peak = max(peaks)
        print(
            f"  {count} worker(s): {rates[count]:6.1f} msg/s  x{ratio:.2f}  peak {peak:.0f} MB,"
            f" worker CPU {cpu * 1000 / readers:.1f} ms a message"
        )
    for count, target in ((2, 1.8), (4, 3.2)):
        if count in rates and worker_counts[0] == 1:
            ratio = rates[count] / rates[1]
            verdict(f"{count} workers >= {target}x", ratio >= target, f"x{ratio:.2f}")


def rate(workers: int, readers: int, port, stamps_file, database_url, limit: int) -> None:
    """The global limit's hold: the median whole second and the busiest window at the sink."""
    stamps_file.write_text("")
    _, _, cpu = measure(workers, readers, port, database_url, 4, MAIL_MAX_PER_SECOND=limit)
    stamps = [float(line) for line in stamps_file.read_text().split()]
    most, typical = busiest_and_typical(stamps)
    off = typical / limit - 1
    print(
        f"  limit {limit}/s, {workers} workers of 4 threads: median second {typical} msg, "
        f"busiest one-second window {most} msg ({off:+.1%} off the limit), "
        f"worker CPU {cpu * 1000 / readers:.1f} ms a message"
    )
    verdict(f"rate {limit}/s +-5 %", abs(off) <= 0.05, f"median second {typical}, busiest {most}")
    bunching = f"busiest {most}; the test's bound, limit plus one, would be {limit + 1}"
    verdict(f"busiest window <= {limit} + 5 %", most <= limit * 1.05, bunching)


def memory(sizes: list[int], port: int, database_url) -> None:
    """Peak resident memory per worker (2 workers of 2 threads, a sink without delay)."""
    peaks = {}
    for count in sizes:
        started = time.perf_counter()
        _, per_worker, _ = measure(2, count, port, database_url, 2)
        peaks[count] = max(per_worker)
        print(
            f"  memory: {count} readers, 2 workers of 2 threads, sink without delay: peak "
            f"{' and '.join(f'{mb:.0f}' for mb in per_worker)} MB "
            f"({time.perf_counter() - started:.0f} s with the setup)"
        )
    if len(peaks) > 1:
        low, high = peaks[min(peaks)], peaks[max(peaks)]
        growth = high / low - 1
        verdict("memory flat", growth <= 0.10, f"{low:.0f} MB -> {high:.0f} MB, {growth:+.0%}")


def run(
    worker_counts: list[int],
    readers: int,
    ports: tuple[int, int],
    stamps_file: Path,
    *,
    limit: int,
    memory_readers: list[int],
    database_url: str | None,
    parts: set[str],
) -> None:
    """Print throughput per worker count, the rate under `limit`, and memory per worker;
    `ports`: the sink taking 20 ms a message, and the one taking none."""
    started = time.perf_counter()
    if "throughput" in parts:
        throughput(worker_counts, readers, ports[0], stamps_file, database_url)
    if limit and "rate" in parts:
        rate(max(worker_counts), readers, ports[0], stamps_file, database_url, limit)
    if memory_readers and "memory" in parts:
        memory(memory_readers, ports[1], database_url)
    print(f"whole bench: {(time.perf_counter() - started) / 60:.1f} min")
