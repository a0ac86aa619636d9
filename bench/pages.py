"""Requests per second of an essay page and /feed.xml under `make serve`, against nginx serving
the same bytes from disk with the same headers, with 10 and 1,000 essays on disk; also the app
under gunicorn (gthread, keep-alive: the other candidate), a minimal Flask app and a bare WSGI
function under `make serve` (the ceiling of the server itself).

Run: .venv/bin/python bench/pages.py [--seconds 2] [--rounds 5] [--variant NAME:VAR=VALUE ...]
Needs wrk (apt-get install wrk); nginx (apt-get install nginx-light) for the nginx baseline.
Target (issue 10): the essay page and the feed at least 0.8x nginx at both sizes.

Every server runs at once and the wrk runs alternate between them, round after round (each
round in the opposite order to the last), so a change in the machine's load touches all of
them; each ratio is the median of the per-round ratios. Each run also records the server's
CPU time per request (its whole process tree, not wrk's), which a busy neighbour disturbs far
less than requests/s. `--variant 'bt2:SERVE_THREADS=2'` adds `make serve SERVE_THREADS=2`;
quote a value of several words: `--variant 'rt2:SERVE_OPTIONS="--runtime-threads 2"'`.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import write_corpus  # noqa: E402
from serving import (  # noqa: E402
    Server,
    get_with_headers,
    gunicorn,
    load,
    make_serve,
    nginx,
    nginx_missing,
)

WORKERS = 2
THREADS = 8  # gunicorn gthread threads per worker (its workers hold a connection per thread)
KINDS = ("page", "feed")
APP = "make serve"


def start_servers(
    stack: ExitStack, count: int, workdir: Path, variants: dict[str, list[str]]
) -> dict[str, tuple[Server, dict]]:
    """Every server of one corpus size, up at once: name -> (server, {kind: path})."""
    posts = write_corpus(workdir / f"posts-{count}", count)
    essay_path = f"/posts/week-{count // 2}/"
    env = {
        "FLASK_POSTS_DIR": str(posts),
        "FLASK_SECRET_KEY": "bench-secret-key-not-for-production",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "FLASK_SITE_URL": "https://essays.example.org",
    }
    app_paths = {"page": essay_path, "feed": "/feed.xml"}
    servers = {APP: (stack.enter_context(make_serve(env, WORKERS)), app_paths)}
    for name, assignments in variants.items():
        variant = make_serve(env, WORKERS, make_args=assignments)
        servers[name] = (stack.enter_context(variant), app_paths)
    bodies, headers = save_documents(servers[APP][0].port, app_paths, workdir / f"bodies-{count}")
    body_env = {**env, "BENCH_BODY_DIR": str(bodies), "BENCH_PROBE_PATH": "/page"}
    own_paths = {"page": "/page", "feed": "/feed.xml"}
    for name, app in (("bare WSGI", "bench.bare_wsgi"), ("minimal Flask", "bench.minimal_app")):
        app = f"{app}:create_app"
        servers[name] = (stack.enter_context(make_serve(body_env, WORKERS, app=app)), own_paths)
    gthread = gunicorn("app:create_app()", env, workers=WORKERS, threads=THREADS)
    servers["gunicorn gthread"] = (stack.enter_context(gthread), app_paths)
    if nginx_missing() is None:
        nginx_paths = {"page": "/page.html", "feed": "/feed.xml"}
        servers["nginx"] = (stack.enter_context(nginx(bodies, WORKERS, headers)), nginx_paths)
    return servers


def save_documents(port: int, paths: dict, folder: Path) -> tuple[Path, dict]:
    """Write the app's page and feed into `folder` for nginx and the baselines; return the
    folder and the headers the app sent with each file."""
    folder.mkdir()
    headers = {}
    for kind, name in (("page", "page.html"), ("feed", "feed.xml")):
        status, headers[name], body = get_with_headers(port, paths[kind])
        assert status == 200, f"{paths[kind]} answered {status}"
        (folder / name).write_bytes(body)
    for place in (folder.parent, folder):
        place.chmod(0o755)  # nginx's workers run as another user
    return folder, headers


def measure(
    count: int, workdir: Path, seconds: int, rounds: int, variants: dict[str, list[str]]
) -> dict[str, dict[str, list]]:
    """Per round: {kind: {server: [(requests/s, CPU µs per request)]}}, at one corpus size."""
    runs: dict[str, dict[str, list]] = {kind: {} for kind in KINDS}
    with ExitStack() as stack:
        servers = start_servers(stack, count, workdir, variants)
        for number in range(rounds):
            order = list(servers.items())
            for kind in KINDS:
                for name, (server, paths) in order[:: 1 if number % 2 == 0 else -1]:
                    runs[kind].setdefault(name, []).append(load(server, paths[kind], seconds))
                line = ", ".join(f"{name} {r[-1][0]:6.0f}" for name, r in runs[kind].items())
                print(f"  {count:>5} essays {kind}: {line} req/s", flush=True)
    return runs


def ratio(runs: dict[str, list], name: str, baseline: str, field: int = 0) -> float | None:
    """The median per-round ratio of two servers' figures (0: requests/s; 1: CPU per
    request, baseline over name, so that higher is better either way), when both ran."""
    if name not in runs or baseline not in runs:
        return None
    pairs = zip(runs[name], runs[baseline], strict=True)
    if field == 0:
        return statistics.median(a[0] / b[0] for a, b in pairs)
    return statistics.median(b[1] / a[1] for a, b in pairs)


def report(results: dict[int, dict[str, dict[str, list]]]) -> bool:
    """Print the medians and ratios; True when every target is met."""
    met = True
    for count, kinds in results.items():
        for kind, runs in kinds.items():
            print(f"{count:>5} essays {kind}:")
            for name, figures in runs.items():
                rate = statistics.median(r for r, _ in figures)
                cpu = statistics.median(c for _, c in figures)
                to_nginx = ratio(runs, name, "nginx")
                cpu_ratio = ratio(runs, name, "nginx", field=1)
                versus = (
                    f"  x nginx: {to_nginx:.2f} req/s, {cpu_ratio:.2f} CPU"
                    if name != "nginx" and to_nginx is not None
                    else ""
                )
                print(f"    {name:<18} {rate:8.0f} req/s {cpu:7.1f} µs CPU/request{versus}")
            to_nginx = ratio(runs, APP, "nginx")
            met = met and to_nginx is not None and to_nginx >= 0.8
    return met


def parse_variants(specs: list[str]) -> dict[str, list[str]]:
    """`NAME:VAR=VALUE VAR="TWO WORDS"` -> {NAME: ["VAR=VALUE", ...]}: extra `make serve`
    runs, the assignments split as a shell would."""
    variants = {}
    for spec in specs:
        name, _, assignments = spec.partition(":")
        variants[f"{APP} {name}"] = shlex.split(assignments)
    return variants


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000], help="essays")
    parser.add_argument("--variant", action="append", default=[], help="NAME:VAR=VALUE ...")
    args = parser.parse_args()
    missing = nginx_missing()
    if missing:
        print(missing)
    print(
        f"{WORKERS} workers each; wrk 1 thread, 8 keep-alive connections, "
        f"{args.seconds} s per run, {args.rounds} rounds"
    )
    variants = parse_variants(args.variant)
    met = True
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.sizes:  # each size reported once measured
            runs = measure(count, Path(tmp), args.seconds, args.rounds, variants)
            met = report({count: runs}) and met
    verdict = "met" if met else "MISSED"
    print(f"target (essay page and feed >= 0.8x nginx at 10 and 1,000 essays): {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
