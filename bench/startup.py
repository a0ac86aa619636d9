"""Time from process start to the first 200 on `/` under gunicorn, at 1,000 and 10,000 essays.

Run from the repository root: `.venv/bin/python bench/startup.py [--runs 3] [--sizes 1000 10000]`.
Target (issue 2): under 1 s with 1,000 essays, under 3 s with 10,000. Each size is timed twice:
cold starts (no posts cache: every file parsed) and restarts (the cache in place, as after a
deploy); a cold start of 2,000 essays or more parses them in helper processes on the other
cores too (newsletter/content/parsing.py). `--phases` also splits one
cold start into its parts (imports, create_app, the first scan of the posts, the first page), in
a fresh interpreter, to show where the time goes (wall and CPU seconds, the CPU figure being
the one a busy neighbour disturbs less), and counts the modules a page worker loaded (it imports
neither Alembic, nor the sending stack, nor the desk's views, tables and webauthn:
tests/test_page_worker.py). As under a server, the courier thread starts only once the first
response is closed, which the phases' test client does not do: they time the page alone.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from corpus import write_corpus

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {1000: 1.0, 10000: 3.0}
POLL_INTERVAL = 0.005  # seconds between attempts: small next to the figures measured
MAX_WAIT = 60.0  # give up on a server that has not answered by then


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(posts: Path, workdir: Path, cache: str = "") -> dict[str, str]:
    """The environment of a deployment: posts folder, secret, SQLite in a temp dir, and the
    posts cache file ("" for a cold start that parses every file)."""
    env = dict(os.environ)
    env.update(
        FLASK_POSTS_DIR=str(posts),
        FLASK_SECRET_KEY="benchmark-only-secret",
        FLASK_DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        FLASK_POSTS_CACHE=cache,
    )
    return env


def first_ok(url: str, deadline: float) -> bool:
    """Poll `url` until it answers 200, at most until `deadline`; True when it did."""
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=MAX_WAIT) as response:
                if response.status == 200:
                    return True
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{url} answered {error.code}; see the app's log.") from None
        except (urllib.error.URLError, ConnectionError):
            time.sleep(POLL_INTERVAL)  # not listening yet
    return False


def time_startup(posts: Path, workdir: Path, cache: str = "") -> float:
    """Seconds from starting gunicorn to its first 200 on `/`."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}"]
    command.append("app:create_app()")
    started = time.perf_counter()
    server = subprocess.Popen(
        command, cwd=ROOT, env=server_env(posts, workdir, cache), stderr=subprocess.DEVNULL
    )
    try:
        if not first_ok(f"http://127.0.0.1:{port}/", started + MAX_WAIT):
            raise SystemExit(f"gunicorn did not answer 200 on / within {MAX_WAIT:.0f} s.")
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)


PHASES = """
import time
marks = [(time.perf_counter(), time.process_time())]
import app
marks.append((time.perf_counter(), time.process_time()))
application = app.create_app()
marks.append((time.perf_counter(), time.process_time()))
from newsletter.content.library import get_library
with application.app_context():
    snapshot = get_library().snapshot()
marks.append((time.perf_counter(), time.process_time()))
status = application.test_client().get("/").status_code
marks.append((time.perf_counter(), time.process_time()))
names = ["import app", "create_app", f"first scan of {len(snapshot.every_post)} posts", "first /"]
parts = [
    f"{name} {b[0] - a[0]:.2f} s (CPU {b[1] - a[1]:.2f} s)"
    for name, a, b in zip(names, marks, marks[1:])
]
print(f"    phases (status {status}): " + ", ".join(parts))
import sys
kept_out = ("alembic", "newsletter.sending", "webauthn", "newsletter.desk.models")
heavy = [name for name in kept_out if name in sys.modules]
print(
    f"    modules loaded by then: {len(sys.modules)}; of Alembic, sending, webauthn and the "
    f"desk's tables: {heavy or 'none'}"
)
"""


def print_phases(posts: Path, workdir: Path) -> None:
    """One cold start in a fresh interpreter, timed part by part."""
    env = server_env(posts, workdir)
    subprocess.run([sys.executable, "-c", PHASES], cwd=ROOT, env=env, check=True)


def measure(size: int, runs: int, phases: bool = False) -> dict[str, list[float]]:
    """Generate `size` essays once, then time `runs` cold starts (no posts cache) and `runs`
    restarts (the cache written by an earlier start) of the server on them."""
    with tempfile.TemporaryDirectory(prefix=f"startup-{size}-") as tmp:
        workdir = Path(tmp)
        generated = time.perf_counter()
        posts = write_corpus(workdir / "posts", size)
        megabytes = sum(p.stat().st_size for p in posts.iterdir()) / 1e6
        print(
            f"{size} essays generated ({megabytes:.0f} MB) in "
            f"{time.perf_counter() - generated:.1f} s",
            flush=True,
        )
        cold = [time_startup(posts, workdir) for _ in range(runs)]
        cache = str(workdir / "posts-cache.pickle")
        time_startup(posts, workdir, cache)  # writes the cache, as the first start of a site does
        warm = [time_startup(posts, workdir, cache) for _ in range(runs)]
        if phases:
            print_phases(posts, workdir)
        return {"cold start": cold, "restart": warm}


def main() -> None:
    """Print the start-up time per corpus size against its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold starts per size (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(TARGETS))
    parser.add_argument("--phases", action="store_true", help="also time the parts of a start")
    args = parser.parse_args()
    print(f"Time to first 200 on / (gunicorn -w 1, {args.runs} runs each):")
    for size in args.sizes:
        target = TARGETS.get(size)
        for kind, times in measure(size, args.runs, args.phases).items():
            verdict = "" if target is None else (" ok" if max(times) < target else " MISSED")
            print(
                f"  {size:>6} essays, {kind:<10}: median {statistics.median(times):.2f} s, "
                f"min {min(times):.2f} s, max {max(times):.2f} s"
                + (f" (target < {target:.0f} s){verdict}" if target else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
