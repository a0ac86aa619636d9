"""Requests per second of an essay page and /feed.xml under `make serve`, against nginx serving
the same bytes from disk, with 10 and 1,000 essays on disk; also the same app under gunicorn
(gthread, keep-alive: the other candidate) and a minimal Flask app under `make serve`.

Run: .venv/bin/python bench/pages.py [--seconds 3] [--rounds 3]
Needs wrk (apt-get install wrk); nginx (apt-get install nginx-light) for the nginx baseline.
Target (issue 10): the essay page and the feed at least 0.8x nginx at both sizes.

Every server runs at once and the wrk runs alternate between them, round after round, so a
change in the machine's load touches all of them; each ratio is the median of the per-round
ratios.
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
from serving import get, gunicorn, make_serve, nginx, nginx_missing, wrk  # noqa: E402

WORKERS = 2
THREADS = 8  # gunicorn gthread threads per worker (its workers hold a connection per thread)
KINDS = ("page", "feed")


def start_servers(stack: ExitStack, count: int, workdir: Path) -> dict[str, tuple[int, dict]]:
    """Every server of one corpus size, up at once: name -> (port, {kind: path})."""
    posts = write_corpus(workdir / f"posts-{count}", count)
    essay_path = f"/posts/week-{count // 2}/"
    env = {
        "FLASK_POSTS_DIR": str(posts),
        "FLASK_SECRET_KEY": "bench-secret-key-not-for-production",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "FLASK_SITE_URL": "https://essays.example.org",
    }
    app_paths = {"page": essay_path, "feed": "/feed.xml"}
    servers = {"make serve": (stack.enter_context(make_serve(env, WORKERS)), app_paths)}
    bodies = workdir / f"bodies-{count}"
    bodies.mkdir()
    port = servers["make serve"][0]
    (bodies / "page.html").write_bytes(get(port, essay_path)[1])
    (bodies / "feed.xml").write_bytes(get(port, "/feed.xml")[1])
    for folder in (workdir, bodies):
        folder.chmod(0o755)  # nginx's workers run as another user
    minimal_env = {**env, "BENCH_BODY_DIR": str(bodies), "BENCH_PROBE_PATH": "/page"}
    minimal = make_serve(minimal_env, WORKERS, app="bench.minimal_app:create_app")
    servers["minimal"] = (stack.enter_context(minimal), {"page": "/page", "feed": "/feed.xml"})
    gthread = gunicorn("app:create_app()", env, workers=WORKERS, threads=THREADS)
    servers["gunicorn gthread"] = (stack.enter_context(gthread), app_paths)
    if nginx_missing() is None:
        nginx_paths = {"page": "/page.html", "feed": "/feed.xml"}
        servers["nginx"] = (stack.enter_context(nginx(bodies, WORKERS)), nginx_paths)
    return servers


def measure(count: int, workdir: Path, seconds: int, rounds: int) -> dict[str, dict[str, list]]:
    """Requests/s per round: {kind: {server: [rates]}}, at one corpus size."""
    rates: dict[str, dict[str, list]] = {kind: {} for kind in KINDS}
    with ExitStack() as stack:
        servers = start_servers(stack, count, workdir)
        for _ in range(rounds):
            for kind in KINDS:
                for name, (port, paths) in servers.items():
                    rates[kind].setdefault(name, []).append(wrk(port, paths[kind], seconds))
                line = ", ".join(f"{name} {r[-1]:6.0f}" for name, r in rates[kind].items())
                print(f"  {count:>5} essays {kind}: {line} req/s", flush=True)
    return rates


def ratio(rates: dict[str, list], name: str, baseline: str) -> float | None:
    """The median per-round ratio of two servers' rates, when both ran."""
    if name not in rates or baseline not in rates:
        return None
    return statistics.median(a / b for a, b in zip(rates[name], rates[baseline], strict=True))


def report(results: dict[int, dict[str, dict[str, list]]]) -> bool:
    """Print the medians and ratios; True when every target is met."""
    met = True
    for count, kinds in results.items():
        for kind, rates in kinds.items():
            medians = ", ".join(f"{n} {statistics.median(r):.0f}" for n, r in rates.items())
            print(f"{count:>5} essays {kind}: median req/s: {medians}")
            to_nginx = ratio(rates, "make serve", "nginx")
            figures = {
                "make serve / nginx": to_nginx,
                "gunicorn gthread / nginx": ratio(rates, "gunicorn gthread", "nginx"),
                "make serve / minimal": ratio(rates, "make serve", "minimal"),
            }
            print("      " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items() if v))
            met = met and to_nginx is not None and to_nginx >= 0.8
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per size")
    args = parser.parse_args()
    missing = nginx_missing()
    if missing:
        print(missing)
    print(
        f"{WORKERS} workers each; wrk 1 thread, 8 keep-alive connections, "
        f"{args.seconds} s per run, {args.rounds} rounds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: measure(n, Path(tmp), args.seconds, args.rounds) for n in (10, 1000)}
    met = report(results)
    verdict = "met" if met else "MISSED"
    print(f"target (essay page and feed >= 0.8x nginx at 10 and 1,000 essays): {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
