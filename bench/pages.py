"""Requests per second of an essay page and /feed.xml, against a minimal Flask app serving the
same bytes from memory under the same gunicorn settings, with 10 and 1,000 essays on disk.

Run: .venv/bin/python bench/pages.py [--seconds 4] [--rounds 3]   (needs wrk: apt-get install wrk)
Target (issue 2): both ratios at least 0.8, and no lower at 1,000 essays than at 10.

Both servers run side by side and the wrk runs alternate between them, round after round, so a
change in the machine's load touches both; each ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import write_corpus  # noqa: E402
from serving import get, gunicorn, wrk  # noqa: E402

WORKERS = 2


def measure(count: int, workdir: Path, seconds: int, rounds: int) -> dict[str, list[float]]:
    """Per-round ratios (app / minimal) for the essay page and the feed, at one corpus size."""
    posts = write_corpus(workdir / f"posts-{count}", count)
    essay_path = f"/posts/week-{count // 2}/"
    env = {
        "FLASK_POSTS_DIR": str(posts),
        "FLASK_SECRET_KEY": "bench",
        "FLASK_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "FLASK_SITE_URL": "https://essays.example.org",
    }
    bodies = workdir / f"bodies-{count}"
    bodies.mkdir()
    ratios: dict[str, list[float]] = {"page": [], "feed": []}
    with ExitStack() as stack:
        app_port = stack.enter_context(gunicorn("app:create_app()", env, workers=WORKERS))
        (bodies / "page.html").write_bytes(get(app_port, essay_path)[1])
        (bodies / "feed.xml").write_bytes(get(app_port, "/feed.xml")[1])
        baseline_env = {"BENCH_BODY_DIR": str(bodies), "BENCH_PROBE_PATH": "/page"}
        minimal_port = stack.enter_context(
            gunicorn("bench.minimal_app:create_app()", baseline_env, workers=WORKERS)
        )
        targets = {"page": (essay_path, "/page"), "feed": ("/feed.xml", "/feed.xml")}
        for _ in range(rounds):
            for kind, (app_path, minimal_path) in targets.items():
                app_rate = wrk(app_port, app_path, seconds)
                minimal_rate = wrk(minimal_port, minimal_path, seconds)
                ratios[kind].append(app_rate / minimal_rate)
                print(
                    f"  {count:>5} essays {kind}: app {app_rate:7.0f} req/s, "
                    f"minimal {minimal_rate:7.0f} req/s, ratio {app_rate / minimal_rate:.2f}"
                )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per size")
    args = parser.parse_args()
    print(
        f"gunicorn, {WORKERS} sync workers; wrk 1 thread, 8 connections, "
        f"{args.seconds} s per run, {args.rounds} rounds"
    )
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (10, 1000):
            ratios = measure(count, Path(tmp), args.seconds, args.rounds)
            medians[count] = {kind: statistics.median(r) for kind, r in ratios.items()}
    for count, ratio in medians.items():
        print(
            f"{count:>5} essays: essay page ratio {ratio['page']:.2f}, "
            f"feed ratio {ratio['feed']:.2f} (medians)"
        )
    met = all(min(r.values()) >= 0.8 for r in medians.values())
    steady = all(medians[1000][kind] >= medians[10][kind] - 0.05 for kind in ("page", "feed"))
    print(
        f"target (both ratios >= 0.8): {'met' if met else 'MISSED'}; "
        f"1,000 essays no lower than 10 (within 0.05): {'yes' if steady else 'NO'}"
    )


if __name__ == "__main__":
    main()
