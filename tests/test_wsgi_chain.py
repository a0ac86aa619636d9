"""The WSGI chain create_app() builds: the page cache in front, the security headers on every
answer, whether the page cache or Flask gives it, whatever order the extensions are bound in."""

from __future__ import annotations

from itertools import permutations

import pytest

import app as composition
from newsletter.content import library
from newsletter.web import security
from newsletter.web.pagecache import PageCache

# The three whose order used to decide whether a cached page got its security headers.
CHAIN_EXTENSIONS = (library.init_app, composition.init_page_cache, security.init_app)


def orders() -> list[tuple]:
    """create_app's extensions with those three in every order, the others where they are."""
    slots = [i for i, init in enumerate(composition.EXTENSIONS) if init in CHAIN_EXTENSIONS]
    result = []
    for order in permutations(CHAIN_EXTENSIONS):
        extensions = list(composition.EXTENSIONS)
        for slot, init in zip(slots, order, strict=True):
            extensions[slot] = init
        result.append(tuple(extensions))
    return result


NAMES = {library.init_app: "library", composition.init_page_cache: "pagecache"}


def order_id(extensions: tuple) -> str:
    chain = [init for init in extensions if init in CHAIN_EXTENSIONS]
    return "-".join(NAMES.get(init, "security") for init in chain)


@pytest.fixture(params=orders(), ids=order_id)
def ordered_app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, config: dict):
    """The `app` fixture (on each test database: hence `config`), built with the extensions
    bound in one of the orders."""
    monkeypatch.setattr(composition, "EXTENSIONS", request.param)
    return request.getfixturevalue("app")


def assert_security_headers(response, what: str) -> None:
    for name, value in security.SECURITY_HEADERS:
        assert response.headers.getlist(name) == [value], f"{name} on {what}"


def test_security_headers_on_cached_and_uncached_answers_whatever_the_order_of_extensions(
    ordered_app, write_post
):
    write_post("an-essay.md", title="An essay", date="2022-01-01")
    flask_answers = []
    ordered_app.before_request(lambda: flask_answers.append(1))
    client = ordered_app.test_client()
    assert isinstance(ordered_app.wsgi_app, PageCache)  # the outermost layer

    rendered = client.get("/posts/an-essay/")  # rendered by Flask, then kept
    assert (rendered.status_code, len(flask_answers)) == (200, 1)
    assert_security_headers(rendered, "a page Flask rendered")

    etag = rendered.headers["ETag"]
    cached = [
        ("a cached page", client.get("/posts/an-essay/"), 200),
        ("a cached HEAD", client.head("/posts/an-essay/"), 200),
        ("a cached 304", client.get("/posts/an-essay/", headers={"If-None-Match": etag}), 304),
    ]
    assert len(flask_answers) == 1, "the page cache should have answered without Flask"
    for what, response, status in cached:
        assert response.status_code == status, what
        assert_security_headers(response, what)
        assert response.headers["ETag"] == etag, what
    assert cached[0][1].get_data() == rendered.get_data()

    for path, status in (("/subscribe", 200), ("/no-such-page/", 404), ("/feed.xml?x=1", 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert_security_headers(response, f"{path} from Flask")
    assert len(flask_answers) == 4


def test_a_cached_answer_carries_the_same_headers_as_the_page_flask_rendered(
    app, client, write_post
):
    write_post("an-essay.md", title="An essay", date="2022-01-01")
    rendered = client.get("/posts/an-essay/")
    cached = client.get("/posts/an-essay/")
    names = {"Date", "Server"}  # the server's own, none from the app
    first = [(k, v) for k, v in rendered.headers.items() if k not in names]
    again = [(k, v) for k, v in cached.headers.items() if k not in names]
    assert sorted(again) == sorted(first)
