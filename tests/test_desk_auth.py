"""Signing in to the desk: mailed one-time links, sessions, sign-out, CSRF and the cache."""

from __future__ import annotations

import re
import time

import pytest
from conftest import csrf_token_from, heading, page
from desk_fixtures import AUTHOR, desk, desk_post, link_path, use_link
from flask import Flask

from newsletter.desk.blueprint import OPEN_ENDPOINTS, SIGNED_IN_AT

FIXTURES = (desk, desk_post)  # imported for pytest, which finds them by name
SAMPLE_VALUES = {"slug": "an-essay", "token": "not-a-token", "key_id": "1", "filename": "x.css"}


def desk_urls(app: Flask) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) of every desk rule in the URL map, with sample values."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("desk.") or rule.endpoint in OPEN_ENDPOINTS:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", SAMPLE_VALUES[name], url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url, rule.endpoint))
    return found


def test_every_desk_url_sends_an_unsigned_visitor_to_the_sign_in_page(app, client):
    urls = desk_urls(app)
    assert len(urls) >= 25, "the URL map lists the desk's pages"
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    for method, url, endpoint in urls:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 303, (method, url, endpoint)
        assert response.headers["Location"].startswith("/desk/sign-in"), (method, url)
        assert response.headers["Cache-Control"] == "no-store"
    landing = client.get("/desk/essays", follow_redirects=True)
    assert heading(landing) == "Sign in to the desk"


def test_the_mailed_link_signs_in_once(app, client, smtp_server):
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    answer = client.post("/desk/sign-in", data={"csrf_token": token, "email": "Author@Example.org"})
    assert heading(answer) == "Check your inbox"
    (message,) = smtp_server.handler.wait_for(1)
    assert message["To"] == AUTHOR
    text = message.get_body(preferencelist=("plain",)).get_content()
    path = re.search(r"https://essays\.example\.org(/desk/sign-in/\S+)", text).group(1)
    assert use_link(client, path).headers["Location"].endswith("/desk/")
    assert heading(client.get("/desk/")) == "Overview"

    other = app.test_client()
    refused = use_link(other, path)
    assert refused.status_code == 400
    assert "was used already: each link works once" in page(refused).get_text()
    assert other.get("/desk/").status_code == 303


def test_known_and_unknown_addresses_get_the_same_page(app, client, smtp_server):
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    known = client.post("/desk/sign-in", data={"csrf_token": token, "email": AUTHOR})
    unknown = client.post("/desk/sign-in", data={"csrf_token": token, "email": "eve@example.org"})
    smtp_server.handler.wait_for(1)
    strip = re.compile(r"[\w.+-]+@[\w.-]+")
    assert strip.sub("@", known.get_data(as_text=True)) == strip.sub(
        "@", unknown.get_data(as_text=True)
    )
    assert [m["To"] for m in smtp_server.messages] == [AUTHOR]


def test_an_expired_link_is_refused_with_a_sentence(app, client, monkeypatch):
    path = link_path(app)
    app.config["DESK_LINK_MINUTES"] = 15
    real_time = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real_time() + 16 * 60)
    response = client.get(path)
    assert response.status_code == 400
    assert "This sign-in link has expired: links work for 15 minutes." in page(response).get_text()


@pytest.mark.parametrize("change", ["cut", "flip"])
def test_a_tampered_link_is_refused_with_a_sentence(app, client, change):
    path = link_path(app)
    # A flip well inside the signature: the last base64 character also carries padding bits,
    # so changing it alone can leave the decoded signature, and so the link, the same.
    flipped = path[:-10] + ("A" if path[-10] != "A" else "B") + path[-9:]
    tampered = path[:-6] if change == "cut" else flipped
    response = client.get(tampered)
    assert response.status_code == 400
    assert "is not one this site sent, or part of it is missing" in page(response).get_text()


def test_flask_desk_link_prints_the_url_alone(app, runner):
    result = runner.invoke(args=["desk", "link"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert re.fullmatch(r"https://essays\.example\.org/desk/sign-in/[\w.-]+", line)
    refused = runner.invoke(args=["desk", "link", "--email", "eve@example.org"])
    assert refused.exit_code == 1 and "not in ADMIN_EMAILS" in refused.output


def test_several_admins_pick_one_with_email(app, runner):
    from newsletter.config import admin_emails

    app.config["ADMIN_EMAILS"] = admin_emails("ada@example.org, Grace@Example.org", AUTHOR)
    assert app.config["ADMIN_EMAILS"] == ("ada@example.org", "grace@example.org")
    assert runner.invoke(args=["desk", "link"]).exit_code == 2
    result = runner.invoke(args=["desk", "link", "--email", "grace@example.org"])
    assert result.exit_code == 0 and result.output.count("\n") == 1


def test_sign_out_ends_the_session(desk, desk_post):
    assert desk_post("/desk/sign-out").headers["Location"].endswith("/desk/sign-in")
    assert desk.get("/desk/").status_code == 303


def test_a_session_expires(app, desk):
    with desk.session_transaction() as session:
        session[SIGNED_IN_AT] = time.time() - (app.config["DESK_SESSION_HOURS"] * 3600 + 1)
    response = desk.get("/desk/readers")
    assert response.headers["Location"] == "/desk/sign-in?expired=1"
    assert "Your desk session has ended" in desk.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_an_address_removed_from_admin_emails_is_signed_out(app, desk):
    app.config["ADMIN_EMAILS"] = ("someone-else@example.org",)
    assert desk.get("/desk/").status_code == 303


def test_a_cross_site_post_is_refused(desk, desk_post):
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        response = desk_post("/desk/sign-out", headers=headers)
        assert response.status_code == 403
        assert desk.get("/desk/").status_code == 200  # still signed in
    without_token = desk.post("/desk/sign-out", data={})
    assert without_token.status_code == 400  # Flask-WTF: the CSRF token is missing


@pytest.fixture
def limits_on(config: dict) -> None:
    """Rate limits on, before the app is built (the suite turns them off)."""
    config.update(RATELIMIT_ENABLED=True, DESK_SIGN_IN_RATE_LIMIT="3 per minute")


def test_sign_in_requests_are_rate_limited(limits_on, client):
    token = csrf_token_from(client.get("/desk/sign-in").get_data(as_text=True))
    data = {"csrf_token": token, "email": "x@example.org"}
    codes = [client.post("/desk/sign-in", data=data).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_desk_pages_are_never_cached_and_public_pages_never_show_them(app, desk, write_post):
    write_post("2024-01-01-hello.md", title="Hello", date="2024-01-01")
    for path in ("/desk/", "/desk/essays", "/desk/readers", "/desk/welcome", "/desk/passkeys"):
        response = desk.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
    public = [desk.get("/"), desk.get("/"), app.test_client().get("/")]  # the second from cache
    for response in public:
        assert "/desk/" not in response.get_data(as_text=True)
        assert "Sign out" not in response.get_data(as_text=True)
    again = desk.get("/desk/")  # a desk URL is never answered by the page cache
    assert again.headers["Cache-Control"] == "no-store" and heading(again) == "Overview"
    assert app.test_client().get("/desk/").status_code == 303


def test_public_pages_do_not_vary_on_the_desk_session(app, desk, write_post):
    write_post("2024-01-01-hello.md", title="Hello", date="2024-01-01")
    for client in (desk, app.test_client()):
        assert "Cookie" not in client.get("/archive/").headers.get("Vary", "")
        assert "Set-Cookie" not in client.get("/archive/").headers
