"""Odd requests get answers, not 500s: other body types, forged hosts, a read-only database,
long local parts, and a warning when rate limits cannot be shared between workers."""

from __future__ import annotations

import io
import json
import logging
import sqlite3

import pytest
from sqlalchemy import text

from app import create_app
from newsletter.extensions import db
from newsletter.subscribers import roster, subscriptions
from newsletter.subscribers.models import Subscriber

JSON_SHAPES = [
    [1, 2],
    "str",
    42,
    None,
    True,
    False,
    {"email": {}},
    {"email": 5},
    {"email": [1]},
    {"email": True},
    {"email": "json@example.org"},
    {"email": "json@example.org", "website": {"a": 1}},
    {"email": "json@example.org", "website": True},
    {},
]


@pytest.mark.parametrize("body", JSON_SHAPES, ids=[json.dumps(body) for body in JSON_SHAPES])
@pytest.mark.parametrize("path", ["/subscribe", "/unsubscribe/x", "/confirm/x"])
def test_json_bodies_get_415_and_store_nothing(app, client, body, path):
    headers = {"Sec-Fetch-Site": "same-origin"}
    response = client.post(
        path, data=json.dumps(body), content_type="application/json", headers=headers
    )
    # The confirm button's CSRF check (app-wide, so it runs first) may answer 400 instead.
    assert response.status_code == 415 or (
        path.startswith("/confirm") and response.status_code == 400
    )
    with app.app_context():
        assert db.session.query(Subscriber).count() == 0


def test_a_local_part_over_64_characters_is_refused_with_a_sentence(app):
    with app.app_context():
        subscriptions.normalise_address("a" * 64 + "@example.org")
        with pytest.raises(subscriptions.InvalidAddress, match="longer than 64 characters"):
            subscriptions.normalise_address("a" * 65 + "@example.org")


@pytest.mark.parametrize("path", ["/archive", "/tags", "/page/1/"])
def test_a_forged_host_never_becomes_a_redirect_target(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert 300 <= response.status_code < 400
    assert "evil.example" not in response.headers["Location"]
    location = response.headers["Location"]
    assert location.startswith("/") or location.startswith("https://essays.example.org/")


def test_a_read_only_database_answers_503_and_logs_the_cause(config, tmp_path, caplog, sign_up):
    path = tmp_path / "readonly.sqlite3"
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    app = create_app(config)
    with app.app_context():
        db.create_all()
        roster.add_confirmed("kept@example.org", source="cli")
        db.engine.dispose()
    # A real read-only file: root ignores file modes, so open it read-only as SQLite allows.
    read_only = create_app(
        {**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///file:{path}?mode=ro&uri=true"}
    )
    client = read_only.test_client()
    with caplog.at_level(logging.ERROR, logger="newsletter"):
        token = client.get("/subscribe").get_data(as_text=True)
        from conftest import csrf_token_from

        response = client.post(
            "/subscribe", data={"csrf_token": csrf_token_from(token), "email": "new@example.org"}
        )
    assert response.status_code == 503
    assert "cannot take sign-ups right now" in response.get_data(as_text=True)
    causes = [r for r in caplog.records if "database refused a write" in r.getMessage()]
    assert len(causes) == 1 and "readonly" in causes[0].getMessage().replace("-", "")
    with sqlite3.connect(path) as check:  # nothing lost, nothing half-written
        assert check.execute("select email from subscribers").fetchall() == [("kept@example.org",)]


def test_a_read_only_database_answers_503_on_the_desk_too(config, tmp_path):
    path = tmp_path / "readonly.sqlite3"
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    app = create_app(config)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    read_only = create_app(
        {**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///file:{path}?mode=ro&uri=true"}
    )
    client = read_only.test_client()
    from conftest import csrf_token_from

    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    # Asking for a sign-in link writes its record: refused by the database, answered 503.
    response = client.post(
        "/desk/sign-in",
        data={"csrf_token": token, "email": read_only.config["AUTHOR_EMAIL"]},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 503


def test_an_app_whose_database_cannot_be_bound_leaves_the_others_working(config, tmp_path):
    good = create_app(config)
    bad = create_app({**config, "SQLALCHEMY_DATABASE_URI": "sqlite+nosuchdriver:///x.db"})
    for _ in range(2):  # the same sentence each time, never "already registered"
        with bad.app_context(), pytest.raises(Exception, match="nosuchdriver"):
            db.session.execute(text("SELECT 1"))
        with good.app_context():
            assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_memory_rate_limits_with_several_workers_log_a_warning(config, monkeypatch, caplog):
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    with caplog.at_level(logging.WARNING, logger="newsletter"):
        create_app(config)
    assert any("RATELIMIT_STORAGE_URI" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    with caplog.at_level(logging.WARNING, logger="newsletter"):
        create_app(config)
    assert not any("RATELIMIT_STORAGE_URI" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("extra", [0, 70 * 1024])
def test_a_chunked_body_over_the_limit_is_refused_not_cut(app, client, extra):
    body = ("email=chunked%40example.org&website=&x=" + "a" * extra).encode()
    response = client.post(
        "/subscribe",
        input_stream=io.BytesIO(body),
        headers={
            "Transfer-Encoding": "chunked",
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin",
        },
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn and granian say
    )
    assert response.status_code == (413 if extra else 200)
    with app.app_context():
        assert db.session.query(Subscriber).count() == (0 if extra else 1)
