"""The desk's readers page at 100,000 readers: p95 of the first and the last page (keyset
paging), beside the plain sign-up page as the baseline, measured in one run, in-process
(Flask's test client: the app's own time, no network).

Run: .venv/bin/python bench/desk.py [--readers 100000] [--requests 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from app import create_app  # noqa: E402
from newsletter.columns import utcnow  # noqa: E402
from newsletter.desk import signin  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.subscribers.models import Subscriber  # noqa: E402

LIMIT_MS = 100.0
STATUSES = ("active",) * 8 + ("pending", "unsubscribed")


def build(workdir: Path, database_url: str | None, readers: int):
    """An app on a fresh database holding `readers` subscribers, and a signed-in client."""
    (workdir / "posts").mkdir()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "INSTANCE_PATH": str(workdir / "instance"),
            "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{workdir / 'desk.sqlite3'}",
            "POSTS_DIR": str(workdir / "posts"),
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        for start in range(0, readers, 10_000):
            rows = [
                dict(email=f"reader{n}@example.com", status=STATUSES[n % 10], source="import",
                     created_at=now, confirmed_at=now)
                for n in range(start, min(start + 10_000, readers))
            ]  # fmt: skip
            db.session.execute(insert(Subscriber), rows)
        db.session.commit()
        link = urlsplit(signin.new_link(app.config["ADMIN_EMAILS"][0])).path
    client = app.test_client()
    token = client.get(link).get_data(as_text=True).split('name="csrf_token" value="')[1]
    client.post(link, data={"csrf_token": token.split('"')[0]})
    assert client.get("/desk/").status_code == 200, "the bench could not sign in"
    return app, client


def timings(client, path: str, requests: int) -> list[float]:
    """Milliseconds per GET of `path`, after two warm-up requests."""
    for _ in range(2):
        assert client.get(path).status_code == 200, path
    found = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        found.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="e.g. a PostgreSQL test database (emptied!)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as folder:
        app, client = build(Path(folder), args.database_url, args.readers)
        pages = {
            "sign-up page (baseline)": "/subscribe",
            "readers, first page": "/desk/readers",
            "readers, last page": "/desk/readers?page=last",
            "readers, active, last page": "/desk/readers?status=active&page=last",
        }
        results = {name: timings(client, path, args.requests) for name, path in pages.items()}
        with app.app_context():
            db.drop_all()
    backend = (args.database_url or "sqlite").split(":")[0]
    print(f"{args.readers} readers on {backend}, {args.requests} requests each:")
    failed = False
    for name, values in results.items():
        slow = name.startswith("readers") and p95(values) >= LIMIT_MS
        failed |= slow
        print(f"  {name:<28} p50 {statistics.median(values):6.1f} ms   p95 {p95(values):6.1f} ms"
              f"{'   OVER ' + str(LIMIT_MS) + ' ms' if slow else ''}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
