"""Requests per second of an essay page and /feed.xml, against a minimal Flask app serving the
same bytes from memory under the same gunicorn settings, with 10 and 1,000 essays on disk.

Run: .venv/bin/python bench/pages.py    (needs wrk: apt-get install wrk)
Target: both ratios at least 0.8, and no lower at 1,000 essays than at 10.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import write_corpus  # noqa: E402
from serving import get, gunicorn, wrk  # noqa: E402

SECONDS = 5
WORKERS = 2


def measure(count: int, workdir: Path) -> dict[str, float]:
    """Both apps' rates for one corpus size."""
    posts = workdir / f"posts-{count}"
    write_corpus(posts, count)
    essay_path = f"/posts/week-{count // 2}/"
    env = {
        "FLASK_POSTS_DIR": str(posts),
        "FLASK_SECRET_KEY": "bench",
        "FLASK_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "FLASK_SITE_URL": "https://essays.example.org",
    }
    bodies = workdir / f"bodies-{count}"
    bodies.mkdir()
    rates = {}
    with gunicorn("app:create_app()", env, workers=WORKERS) as port:
        (bodies / "page.html").write_bytes(get(port, essay_path)[1])
        (bodies / "feed.xml").write_bytes(get(port, "/feed.xml")[1])
        rates["app page"] = wrk(port, essay_path, SECONDS)
        rates["app feed"] = wrk(port, "/feed.xml", SECONDS)
    baseline_env = {"BENCH_BODY_DIR": str(bodies), "BENCH_PROBE_PATH": "/page"}
    with gunicorn("bench.minimal_app:create_app()", baseline_env, workers=WORKERS) as port:
        rates["minimal page"] = wrk(port, "/page", SECONDS)
        rates["minimal feed"] = wrk(port, "/feed.xml", SECONDS)
    return rates


def main() -> None:
    print(f"gunicorn, {WORKERS} sync workers; wrk 1 thread, 8 connections, {SECONDS} s per run")
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (10, 1000):
            rates = measure(count, Path(tmp))
            page_ratio = rates["app page"] / rates["minimal page"]
            feed_ratio = rates["app feed"] / rates["minimal feed"]
            ratios[count] = (page_ratio, feed_ratio)
            print(
                f"{count:>5} essays: essay page {rates['app page']:8.0f} req/s vs minimal "
                f"{rates['minimal page']:8.0f} -> ratio {page_ratio:.2f}; "
                f"feed {rates['app feed']:8.0f} vs {rates['minimal feed']:8.0f} "
                f"-> ratio {feed_ratio:.2f}"
            )
    verdict = all(min(r) >= 0.8 for r in ratios.values())
    print(f"target (both ratios >= 0.8 at 10 and 1,000 essays): {'met' if verdict else 'MISSED'}")


if __name__ == "__main__":
    main()
