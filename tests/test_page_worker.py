"""A worker that serves pages and feeds imports only what pages need: no Alembic, no sending
stack, no CLI modules, none of the desk's views or tables. Each check runs in a fresh
interpreter, since this one has imported everything by now."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a page worker imports of the desk: its blueprint, the admins' list and the table of its
# URLs; every view, table and query behind them is imported on a desk request's first use.
DESK_AT_START = {"__init__", "admins", "blueprint", "views"}
DESK_ON_FIRST_USE = tuple(
    f"newsletter.desk.{path.stem}"
    for path in sorted((ROOT / "newsletter" / "desk").glob("*.py"))
    if path.stem not in DESK_AT_START
)
# Never in a page worker: migrations, the whole sending stack, the author's commands, the
# desk's views, tables and passkeys (webauthn), the address checker and PostgreSQL's dialect
# (on SQLite) that only a sign-up needs.
NOT_IN_A_PAGE_WORKER = (
    "alembic",
    "email_validator",
    "sqlalchemy.dialects.postgresql",
    "flask_migrate",
    "newsletter.sending",
    "newsletter.cli.send",
    "webauthn",
    *DESK_ON_FIRST_USE,
)

# The database layer, which no page or feed needs: loaded by the first request that does, or
# by the courier's thread once the first response is closed (it looks for mail a previous
# process left), never while a page is being answered.
DATABASE_LAYER = ("sqlalchemy", "flask_sqlalchemy", "newsletter.database")

WORKER = """
import json, sys
import app
application = app.create_app({test_config})
if {courier_off}:  # isolate what the pages import from what the courier's thread does
    application.after_request_funcs[None].remove(application.extensions["courier"].start_after)
client = application.test_client()
statuses, while_answering = [], set()
for path in sys.argv[1:]:
    response = client.get(path)  # streamed: its WSGI close runs at response.close()
    response.get_data()
    statuses.append(response.status_code)
    while_answering.update(sys.modules)
    response.close()
print(json.dumps({{
    "statuses": statuses, "modules": sorted(sys.modules), "while_answering": sorted(while_answering)
}}))
"""


def serve_in_a_fresh_worker(
    tmp_path: Path, paths: list[str], testing: bool, courier_off: bool = False
) -> dict:
    """Build the app as a server does (or with a test config) and GET `paths`."""
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "one.md").write_text("---\ntitle: One\ndate: 2022-01-01\n---\nBody.\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env.update(
        FLASK_SECRET_KEY="page-worker-test-secret-key",
        FLASK_POSTS_DIR=str(posts),
        FLASK_POSTS_CACHE="",
        FLASK_DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        FLASK_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    config = "None"
    if testing:
        config = repr(
            {
                "TESTING": True,
                "SECRET_KEY": "page-worker-test-secret-key",
                "POSTS_DIR": str(posts),
                "POSTS_CACHE": "",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
                "INSTANCE_PATH": str(tmp_path / "instance"),
            }
        )
    code = WORKER.format(test_config=config, courier_off=courier_off)
    result = subprocess.run(
        [sys.executable, "-c", code, *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def loaded(modules: list[str], name: str) -> bool:
    return any(module == name or module.startswith(name + ".") for module in modules)


@pytest.mark.parametrize("testing", [False, True], ids=["as-served", "test-config"])
def test_a_page_worker_imports_neither_alembic_nor_the_sending_stack(tmp_path, testing):
    worker = serve_in_a_fresh_worker(tmp_path, ["/"], testing)
    assert worker["statuses"] == [200]
    assert [name for name in NOT_IN_A_PAGE_WORKER if loaded(worker["modules"], name)] == []
    assert [name for name in DATABASE_LAYER if loaded(worker["while_answering"], name)] == []


def test_pages_and_feeds_together_still_leave_them_out(tmp_path):
    paths = ["/", "/posts/one/", "/archive/", "/tags/", "/feed.xml", "/atom.xml", "/feed.json"]
    worker = serve_in_a_fresh_worker(tmp_path, paths, testing=False)
    assert worker["statuses"] == [200] * len(paths)
    assert [name for name in NOT_IN_A_PAGE_WORKER if loaded(worker["modules"], name)] == []
    (tmp_path / "quiet").mkdir()
    quiet = serve_in_a_fresh_worker(tmp_path / "quiet", paths, testing=False, courier_off=True)
    assert [name for name in DATABASE_LAYER if loaded(quiet["modules"], name)] == []


def test_the_first_sign_up_page_and_health_check_load_the_database_layer(tmp_path):
    worker = serve_in_a_fresh_worker(tmp_path, ["/subscribe", "/healthz"], testing=False)
    assert worker["statuses"] == [200, 503]  # no tables in this worker's database
    assert all(loaded(worker["modules"], name) for name in DATABASE_LAYER)


def test_the_first_desk_request_imports_the_desk_it_needs(tmp_path):
    worker = serve_in_a_fresh_worker(tmp_path, ["/", "/desk/sign-in"], testing=False)
    assert worker["statuses"] == [200, 200]
    assert loaded(worker["modules"], "newsletter.desk.auth_views")
    assert loaded(worker["modules"], "newsletter.desk.models")  # through the sign-in rules
    assert not loaded(worker["modules"], "webauthn")  # passkeys wait for a passkey request


def test_every_command_is_listed_and_loads_when_it_runs(app, runner):
    assert "migrate" not in app.extensions  # nothing of Flask-Migrate until a command needs it
    listed = runner.invoke(args=["--help"])
    assert listed.exit_code == 0, listed.output
    for name in ("db", "posts", "preview", "send", "subscribers"):
        assert f"  {name} " in listed.output
    with app.app_context():
        shell = app.make_shell_context()  # `flask shell`: db and every model, as before
    assert {"db", "Subscriber", "OutgoingMail", "Delivery"} <= shell.keys()
    heads = runner.invoke(args=["db", "heads"])  # Flask-Migrate, bound to this app on first use
    assert heads.exit_code == 0, heads.output
    assert "migrate" in app.extensions


FIRST_USES = """
import sys, threading
import app
application = app.create_app({test_config})
from newsletter.extensions import db
from newsletter.mail import courier
from newsletter.web import health
views = application.view_functions
uses = [
    lambda: views["signup.confirm"].view,  # a sign-up view's first request imports it
    lambda: views["desk.welcome"].view,
    lambda: courier._outgoing(),  # the courier's first pass
    health.database_problem,
    lambda: db.session.remove(),
]
start, failures = threading.Barrier(len(uses)), []

def first_use(use):
    start.wait()
    try:
        with application.app_context():
            use()
    except BaseException as error:
        failures.append(repr(error))

threads = [threading.Thread(target=first_use, args=(use,)) for use in uses]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
with application.app_context():
    db.session.remove()  # the database still answers in the main thread afterwards
print(failures)
"""


def test_first_uses_of_the_database_from_several_threads_at_once(tmp_path):
    """SQLAlchemy's modules import each other: five threads reaching it first together (two
    lazy views, the courier, /healthz, a session) must all get it whole, in every run."""
    config = repr(
        {
            "TESTING": True,
            "SECRET_KEY": "page-worker-test-secret-key",
            "POSTS_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'first.sqlite3'}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    for _ in range(8):
        result = subprocess.run(
            [sys.executable, "-c", FIRST_USES.format(test_config=config)],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "[]"
