"""Fixtures of the desk's tests (tests/test_desk_*.py): an author signed in as a browser does."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from conftest import csrf_token_from, page

from newsletter.desk import signin

AUTHOR = "author@example.org"  # the suite's AUTHOR_EMAIL default, so the only admin


def link_path(app, address: str = AUTHOR) -> str:
    """A fresh sign-in link's path, as `flask desk link` prints it."""
    with app.app_context():
        return urlsplit(signin.new_link(address)).path


def use_link(client, path: str):
    """Open a sign-in link and press its button, as a person does."""
    opened = client.get(path)
    assert opened.status_code == 200, opened.get_data(as_text=True)
    form = page(opened).find("form", class_="desk-form")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    return client.post(form["action"], data={"csrf_token": token})


@pytest.fixture
def desk(app, client):
    """A client signed in to the desk as the author."""
    response = use_link(client, link_path(app))
    assert response.status_code == 303 and response.headers["Location"].endswith("/desk/")
    return client


@pytest.fixture
def desk_post(desk) -> Callable[..., object]:
    """POST a desk form with the session's CSRF token, as the page's own form would."""

    def post(path: str, data: dict | None = None, **kwargs):
        token = csrf_token_from(desk.get("/desk/").get_data(as_text=True))
        return desk.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)

    return post
