"""Security basics: a secret key, headers on every response, safe cookies, no inline code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import csrf_token_from
from sqlalchemy import select

from app import create_app
from newsletter.config import ConfigError
from newsletter.extensions import db
from newsletter.subscribers.models import Subscriber

TEMPLATES = Path(__file__).parent.parent / "templates"


def responses(app, client):
    """One response of each kind a visitor can meet: pages, errors, the one-click answer."""
    yield "page", client.get("/")
    yield "form", client.get("/subscribe")
    yield "not found", client.get("/no-such-page")
    yield "csrf failure", client.post("/subscribe", data={"email": "a@example.org"})
    yield "bad link", client.get("/confirm/not-a-token")
    yield "one-click", client.post("/unsubscribe/x", data={"List-Unsubscribe": "One-Click"})


@pytest.fixture
def limited(config: dict) -> None:
    """Rate limits on, one sign-up a minute; ask for it before `app`."""
    config.update(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="1 per minute")


def test_every_response_carries_the_security_headers(limited, app, client, sign_up):
    sign_up("a@example.org")
    seen = dict(responses(app, client))
    seen["rate limited"] = sign_up("b@example.org")
    assert seen["rate limited"].status_code == 429
    for kind, response in seen.items():
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, kind
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["script-src"] == "'self'", kind  # no inline script, ever
        assert response.headers["X-Content-Type-Options"] == "nosniff", kind
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", kind


@pytest.mark.parametrize(("site_url", "secure"), [("https://a.example", True), ("http://a", False)])
def test_the_session_cookie_is_httponly_lax_and_secure_on_https(config, site_url, secure):
    config["SITE_URL"] = site_url
    client = create_app(config).test_client()
    cookie = client.get("/subscribe").headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) is secure


def test_the_app_refuses_to_start_without_a_secret_key(config):
    del config["SECRET_KEY"]
    config["TESTING"] = False
    with pytest.raises(ConfigError, match="SECRET_KEY is not set.*secrets.token_hex"):
        create_app(config)
    config["DEBUG"] = True  # debug mode gets no constant key either
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(config)


def test_oversized_posts_are_refused_before_they_are_read(app, client):
    token = csrf_token_from(client.get("/subscribe").get_data(as_text=True))
    huge = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/subscribe", data={"csrf_token": token, "email": huge})
    assert response.status_code == 413


# Mail clients are not browsers: the CSP does not apply to templates/email/.
PAGE_TEMPLATES = sorted(p for p in TEMPLATES.rglob("*.html") if p.parent.name != "email")


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_script_style_or_event_handlers(template):
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script> is blocked by CSP"
    assert not re.search(r"\son[a-z]+\s*=", text), "event handler attributes are blocked by CSP"
    assert not re.search(r"\sstyle\s*=|<style", text), "inline styles are blocked by CSP"


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(config, smtp_server):
    config["TRUSTED_PROXIES"] = 1
    app = create_app(config)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    client.post(
        "/subscribe",
        data={"email": "proxied@example.org", "website": ""},
        headers={"Sec-Fetch-Site": "same-origin", "X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    with app.app_context():
        subscriber = db.session.scalars(select(Subscriber)).one()
    assert subscriber.signup_ip == "203.0.113.7"
