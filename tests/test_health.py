"""`/healthz`: one word for the proxy and the process manager, the reasons only in the log."""

from __future__ import annotations

import logging
import shutil

from newsletter.extensions import db


def test_healthy_site_answers_ok_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert client.head("/healthz").status_code == 200


def test_database_without_its_tables_is_unavailable_and_says_why_only_in_the_log(
    app, client, caplog
):
    with app.app_context():
        db.drop_all()
    with caplog.at_level(logging.WARNING, logger="newsletter.web.health"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "unavailable\n"  # no table name, no driver error
    assert "the database does not answer" in caplog.text


def test_database_that_cannot_be_reached_is_unavailable(config, tmp_path):
    from app import create_app

    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'no-such-folder' / 'x.sqlite3'}"
    response = create_app(config).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "unavailable\n"


def test_missing_posts_folder_is_unavailable_without_naming_the_folder(client, posts_dir, caplog):
    shutil.rmtree(posts_dir)
    with caplog.at_level(logging.WARNING, logger="newsletter.web.health"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert body == "unavailable\n" and str(posts_dir) not in body
    assert f"the posts folder {posts_dir} cannot be read" in caplog.text
