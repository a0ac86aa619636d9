"""Microseconds of Python per request on the app's own WSGI chain, with no HTTP server: what a
cached essay page, a feed, a conditional GET and a rendered page cost inside one worker.

Run: .venv/bin/python bench/wsgi_path.py [--requests 20000] [--profile page]

It calls `create_app()` the way a server does, then the app with a ready-made environ, so the
figures are the part of a request that the server cannot make faster; `--profile` prints
cProfile's top functions for one of the cases.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import write_corpus  # noqa: E402


def environ(path: str, **headers: str) -> dict:
    """An environ as granian builds it for a keep-alive GET from wrk."""
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SCRIPT_NAME": "",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    env.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return env


def start_response(status, headers, exc_info=None):
    """A server's start_response that keeps nothing."""
    return None


def call(app, env: dict) -> None:
    """One request, its body consumed and closed as a server does."""
    body = app(dict(env), start_response)
    for _chunk in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()


def per_request(app, env: dict, requests: int) -> float:
    """Microseconds per request, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(requests):
            call(app, env)
        best = min(best, (time.perf_counter() - started) / requests)
    return best * 1e6


def cases(etag: str) -> dict[str, dict]:
    """The requests measured, by name."""
    essay = "/posts/week-5/"
    return {
        "page": environ(essay),
        "page 304": environ(essay, **{"If-None-Match": etag}),
        "feed": environ("/feed.xml"),
        "robots.txt": environ("/robots.txt"),
        "subscribe (Flask renders)": environ("/subscribe"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--profile", help="a case name to profile instead of timing")
    args = parser.parse_args()
    from app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        posts = write_corpus(Path(tmp) / "posts", 10)
        app = create_app(
            {
                "SECRET_KEY": "bench-secret-key-not-for-production",
                "POSTS_DIR": str(posts),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "SITE_URL": "https://essays.example.org",
                "INSTANCE_PATH": tmp,
            }
        )
        headers: dict = {}
        body = app(environ("/posts/week-5/"), lambda s, h, e=None: headers.update(h))
        assert b"".join(body), "the essay page did not render"
        call(app, environ("/feed.xml"))
        measured = cases(headers["ETag"])
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(per_request, app, measured[args.profile], args.requests)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
            return 0
        for name, env in measured.items():
            requests = args.requests if "Flask" not in name else args.requests // 10
            print(f"{name:<20} {per_request(app, env, requests):8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
