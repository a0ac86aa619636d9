"""Sign-up load check: `make serve` with 2 workers on SQLite (WAL), concurrent sign-ups while pages
are read. Checks that no sign-up fails or is lost, and compares sign-ups per second with the
same endpoint whose database writes are removed (bench/signup_nodb.py), in the same run.

Run: .venv/bin/python bench/signup.py [--seconds 6] [--rounds 3]   (about a minute)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLIENT_PROCESSES = 2  # load comes from two processes, so the client's GIL is not the limit
SIGNUP_THREADS = 4  # per client process: 8 concurrent sign-ups
READER_THREADS = 1  # per client process: pages read at the same time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(workdir: Path, port: int) -> dict[str, str]:
    """FLASK_* settings for a production-like app on a fresh SQLite file."""
    posts = workdir / "posts"
    posts.mkdir(exist_ok=True)
    for week in range(1, 6):
        body = "A paragraph of an essay. " * 200
        (posts / f"week-{week}.md").write_text(
            f"---\ntitle: 'Week {week}: An essay'\ndate: 2022-02-0{week}\n---\n\n{body}\n"
        )
    return {
        **os.environ,
        "FLASK_APP": "app.py",
        "FLASK_SECRET_KEY": "bench-secret-key-not-for-production",
        "FLASK_SITE_URL": f"http://127.0.0.1:{port}",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "FLASK_POSTS_DIR": str(posts),
        "FLASK_RATELIMIT_ENABLED": "false",  # the limit would stop a load test from one IP
        # The confirmation mail is built but not delivered (no SMTP server, no outbox files).
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_SUPPRESS_SEND": "true",
    }


def start_server(app_spec: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """`make serve` (the production server) with two workers running `app_spec`; returns once
    the server answers."""
    command = ["make", "--no-print-directory", "-s", "serve", f"SERVE_APP={app_spec}"]
    env = {**env, "PORT": str(port), "WEB_WORKERS": "2"}
    with log.open("ab") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            warm_up(port)
            return server
        except OSError:
            time.sleep(0.1)  # waiting for an external process to boot its workers
    server.kill()
    raise SystemExit(f"`make serve` did not start; see {log}")


def warm_up(port: int) -> None:
    """Load both pages a few times, so each worker has imported and rendered everything."""
    for _ in range(20):
        for path in ("/", "/subscribe"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", path)
            if connection.getresponse().status != 200:
                raise OSError(f"{path} is not answering 200 yet")
            connection.close()


def session(port: int) -> tuple[http.client.HTTPConnection, str, str]:
    """A keep-alive connection with a session cookie and the form's CSRF token."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/subscribe")
    response = connection.getresponse()
    html = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return connection, cookie, token


def sign_up_loop(
    port: int, prefix: str, start: threading.Barrier, seconds: float, counts: dict
) -> None:
    """Post sign-ups of new addresses for `seconds`; count answers by status."""
    connection, cookie, token = session(port)
    start.wait()
    deadline = time.monotonic() + seconds
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    number = 0
    while time.monotonic() < deadline:
        number += 1
        body = urlencode({"csrf_token": token, "email": f"{prefix}-{number}@example.org"})
        connection.request("POST", "/subscribe", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        counts[response.status] = counts.get(response.status, 0) + 1


def read_loop(port: int, start: threading.Barrier, seconds: float, counts: dict) -> None:
    """Read the home page for `seconds`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        counts[response.status] = counts.get(response.status, 0) + 1


def client_process(port: int, prefix: str, seconds: float) -> tuple[dict, dict]:
    """One load process: sign-up threads and reader threads for `seconds`."""
    start = threading.Barrier(SIGNUP_THREADS + READER_THREADS)  # measure after the sessions
    signups: list[dict] = [{} for _ in range(SIGNUP_THREADS)]
    reads: list[dict] = [{} for _ in range(READER_THREADS)]
    threads = [
        threading.Thread(
            target=sign_up_loop, args=(port, f"{prefix}-{i}", start, seconds, signups[i])
        )
        for i in range(SIGNUP_THREADS)
    ] + [threading.Thread(target=read_loop, args=(port, start, seconds, r)) for r in reads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return merge(signups), merge(reads)


def merge(counters: list[dict]) -> dict:
    total: dict = {}
    for counter in counters:
        for status, count in counter.items():
            total[status] = total.get(status, 0) + count
    return total


def run_phase(name: str, app_spec: str, workdir: Path, seconds: float, prefix: str) -> dict:
    """Serve `app_spec`, load it, stop it; return the figures of this phase."""
    port = free_port()
    env = environment(workdir, port)
    log = workdir / f"server-{prefix}.log"
    server = start_server(app_spec, port, env, log)
    try:
        with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
            futures = [
                pool.submit(client_process, port, f"{prefix}-p{i}", seconds)
                for i in range(CLIENT_PROCESSES)
            ]
            results = [future.result() for future in futures]
    finally:
        server.terminate()
        server.wait(timeout=30)
    signups = merge([r[0] for r in results])
    reads = merge([r[1] for r in results])
    errors = log.read_text()
    return {
        "name": name,
        "prefix": prefix,
        "ok": signups.get(200, 0),
        "failed": sum(n for status, n in signups.items() if status != 200),
        "reads": reads.get(200, 0),
        "read_failures": sum(n for status, n in reads.items() if status != 200),
        "per_second": signups.get(200, 0) / seconds,
        "locked": errors.count("database is locked"),
        "tracebacks": errors.count("Traceback"),
    }


def stored(workdir: Path, prefix: str) -> int:
    """How many sign-ups of one phase are in the database."""
    with sqlite3.connect(workdir / "bench.sqlite3") as connection:
        query = "SELECT count(*) FROM subscribers WHERE email LIKE ?"
        return connection.execute(query, (f"{prefix}-%",)).fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating pairs of phases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-signup-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir, 5000)
        subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        phases = []
        for round_ in range(args.rounds):  # adjacent pairs, order swapped: drift hits both
            pair = [
                ("no database", "bench.signup_nodb:create_app_without_writes", f"nodb{round_}"),
                ("SQLite", "app:create_app", f"db{round_}"),
            ]
            for name, spec, prefix in pair[:: 1 if round_ % 2 == 0 else -1]:
                phases.append(run_phase(name, spec, workdir, args.seconds, prefix))
        for phase in phases:
            phase["stored"] = stored(workdir, phase["prefix"]) if phase["name"] == "SQLite" else 0
        return report(phases)


def report(phases: list[dict]) -> int:
    """Print the figures; exit 1 when a sign-up failed or was lost or the ratio is below 0.6."""
    print(
        f"{'phase':<12} {'sign-ups':>9} {'per s':>8} {'failed':>7} {'stored':>7} "
        f"{'pages':>7} {'locked':>7} {'tracebacks':>10}"
    )
    for p in phases:
        print(
            f"{p['name']:<12} {p['ok']:>9} {p['per_second']:>8.0f} {p['failed']:>7} "
            f"{p['stored']:>7} {p['reads']:>7} {p['locked']:>7} {p['tracebacks']:>10}"
        )
    with_db = [p for p in phases if p["name"] == "SQLite"]
    without = [p for p in phases if p["name"] != "SQLite"]
    # Each round's two phases ran back to back; the median of their ratios resists a neighbour's
    # burst of CPU use on a shared machine better than the ratio of the sums.
    if not all(n["per_second"] for n in without):
        print("the no-database reference answered no sign-up with 200: see its server log.")
        return 1
    ratios = [d["per_second"] / n["per_second"] for d, n in zip(with_db, without, strict=True)]
    ratio = statistics.median(ratios)
    overall = sum(p["per_second"] for p in with_db) / sum(p["per_second"] for p in without)
    print("per-round ratios: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"ratio of the totals: {overall:.2f}")
    lost = sum(p["ok"] - p["stored"] for p in with_db)
    failures = sum(p["failed"] + p["read_failures"] + p["locked"] + p["tracebacks"] for p in phases)
    print(f"sign-ups/s with SQLite vs without the write (median): {ratio:.2f} (target >= 0.60)")
    print(f"lost sign-ups: {lost}; failed requests or 'database is locked' errors: {failures}")
    return 0 if ratio >= 0.6 and lost == 0 and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
