"""Signing up: the form, the double opt-in mail and link, and the limits that stop abuse."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import email_validator
import pytest
from conftest import (
    ClosingClient,
    RecordingHandler,
    RefusingOnceHandler,
    csrf_token_from,
    heading,
    link_in,
    page,
    press_confirm,
    wait_for_outgoing_mail,
)
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from app import create_app
from newsletter.extensions import db
from newsletter.mail.models import OutgoingMail
from newsletter.subscribers import roster, subscriptions, tokens
from newsletter.subscribers.models import Subscriber


def stored(app, email: str) -> Subscriber | None:
    """The subscriber row for an address, read fresh from the database."""
    with app.app_context():
        return subscriptions.find(email)


@pytest.mark.database
def test_signup_mails_a_link_that_activates_the_subscriber(
    app, client, sign_up, smtp_server, write_post
):
    write_post("week-1.md", title="'Week 1: Hello'", date="2022-02-01")
    response = sign_up("Reader@Example.ORG")
    assert response.status_code == 200
    assert heading(response) == "Check your inbox"

    [message] = smtp_server.handler.wait_for(1)
    assert message["To"] == "Reader@example.org"
    assert "Confirm your subscription" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = link_in(message, "/confirm/")
    assert link in text and link in html
    assert stored(app, "reader@example.org").status == "pending"

    welcome = press_confirm(client, link, headers={"User-Agent": "TestBrowser/1.0"})
    assert welcome.status_code == 200
    assert heading(welcome) == "Welcome"
    latest = page(welcome).find("section", class_="latest-essay").find("a")
    assert latest.get_text() == "Week 1: Hello"
    assert latest["href"] == "https://essays.example.org/posts/week-1/"
    subscriber = stored(app, "reader@example.org")
    assert subscriber.status == "active"
    assert subscriber.confirmed_at is not None
    assert subscriber.source == "web"
    assert subscriber.signup_ip == subscriber.confirm_ip == "127.0.0.1"
    assert subscriber.confirm_user_agent == "TestBrowser/1.0"


@pytest.mark.database
def test_opening_the_confirmation_link_again_is_harmless(app, client, sign_up, smtp_server):
    sign_up("reader@example.org")
    link = link_in(smtp_server.handler.wait_for(1)[0], "/confirm/")
    press_confirm(client, link)
    first = stored(app, "reader@example.org").confirmed_at
    again = press_confirm(client, link)
    assert again.status_code == 200
    assert heading(again) == "Welcome"
    assert stored(app, "reader@example.org").confirmed_at == first


def test_welcome_page_without_any_essay_links_home(app, client, sign_up, smtp_server):
    sign_up("reader@example.org")
    welcome = press_confirm(client, link_in(smtp_server.handler.wait_for(1)[0], "/confirm/"))
    assert page(welcome).find("a", string="Go to the home page")["href"] == "/"


@pytest.mark.database
def test_the_answer_is_the_same_for_new_pending_and_active_addresses(app, client, sign_up):
    with app.app_context():
        roster.add_confirmed("active@example.org", source="cli")
    new = sign_up("new@example.org")
    pending = sign_up("new@example.org")
    active = sign_up("active@example.org")
    assert new.status_code == pending.status_code == active.status_code == 200
    assert new.get_data() == pending.get_data() == active.get_data()


def test_an_active_address_gets_no_second_confirmation(app, sign_up, smtp_server):
    with app.app_context():
        roster.add_confirmed("active@example.org", source="cli")
    sign_up("active@example.org")
    assert smtp_server.messages == []


def test_a_filled_honeypot_looks_like_success_but_records_nothing(app, sign_up, smtp_server):
    response = sign_up("victim@example.org", website="http://spam.example.com")
    assert response.status_code == 200
    assert heading(response) == "Check your inbox"
    assert stored(app, "victim@example.org") is None
    assert smtp_server.messages == []


@pytest.mark.database
def test_one_confirmation_per_address_per_resend_window(app, sign_up, smtp_server):
    for typed in ("victim@example.org", "Victim@EXAMPLE.org", " victim@example.org "):
        assert sign_up(typed).status_code == 200
    assert len(smtp_server.messages) == 1

    with app.app_context():  # the window (CONFIRM_RESEND_MINUTES = 15) has passed
        subscriber = subscriptions.find("victim@example.org")
        subscriber.confirmation_sent_at -= timedelta(minutes=16)
        db.session.commit()
    sign_up("victim@example.org")
    assert len(smtp_server.handler.wait_for(2)) == 2


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter your email address."),
        ("not-an-address", "exactly one @"),
        ("reader@example", "not a valid email address"),
        ("a@b@example.org", "exactly one @"),
        ("reader@example.org\r\nBcc: victim@example.com", "line break or a control character"),
        ("reader\x00@example.org", "line break or a control character"),
        ("reader\t@example.org", "line break or a control character"),
        ("r" * 243 + "@example.org", "longer than 254 characters"),
    ],
)
def test_bad_input_reshows_the_form_with_the_typed_value_and_a_reason(
    app, sign_up, smtp_server, typed, says
):
    response = sign_up(typed)
    assert response.status_code == 400
    form = page(response).find("form", class_="subscribe-form")
    assert says in form.find(class_="field-error").get_text()
    if "\x00" not in typed:  # html5lib replaces NUL when parsing; the value is still echoed
        assert form.find("input", attrs={"name": "email"})["value"] == typed.replace("\r\n", "\n")
    assert smtp_server.messages == []
    with app.app_context():
        assert db.session.query(Subscriber).count() == 0


def test_the_longest_allowed_address_is_accepted(app, sign_up):
    address = "r" * 64 + "@" + "d" * 60 + "." + "d" * 60 + "." + "d" * 55 + ".example.org"
    assert len(address) == 254
    assert sign_up(address).status_code == 200


def test_addresses_are_trimmed_and_their_domain_lowercased_and_idna_encoded(app):
    with app.app_context():
        assert subscriptions.normalise_address("  Joerg.U@BÜCHER.Example ") == (
            "Joerg.U@xn--bcher-kva.example"
        )
        assert subscriptions.normalise_address("Ann@Example.ORG") == "Ann@example.org"


def test_a_non_ascii_mailbox_name_is_refused_with_a_sentence(app, client):
    """Such an address needs SMTPUTF8, which most mail servers (and Flask-Mail) lack."""
    response = client.post(
        "/subscribe",
        data={"email": "jörg@example.org", "website": ""},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 400
    assert "Internationalized characters" in response.get_data(as_text=True)


def test_the_deliverability_check_is_switched_by_config(app, monkeypatch):
    seen = []

    def spy(address, **options):
        # DNS is not reachable from the tests; the spy records what the rules ask for.
        seen.append(options["check_deliverability"])
        return real(address, **{**options, "check_deliverability": False})

    real = email_validator.validate_email
    monkeypatch.setattr(email_validator, "validate_email", spy)  # the rules import it when used
    with app.app_context():
        subscriptions.normalise_address("a@example.org")
        app.config["EMAIL_CHECK_DELIVERABILITY"] = True
        subscriptions.normalise_address("a@example.org")
    assert seen == [False, True]


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_post_without_a_valid_csrf_token_asks_to_reload(app, client, smtp_server, token):
    client.get("/subscribe")
    data = {"email": "reader@example.org", "website": ""}
    if token:
        data["csrf_token"] = token
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    assert heading(response) == "Please reload the page"
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Origin": "https://essays.example.org"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({}, False),
    ],
)
def test_the_tokenless_form_on_shared_pages_is_accepted_only_from_our_own_pages(
    app, client, smtp_server, headers, accepted
):
    """The cached home and essay pages carry no per-reader token; the browser's own
    Sec-Fetch-Site / Origin headers say where the post comes from."""
    form = page(client.get("/")).find("form", class_="subscribe-form")
    assert form.find("input", attrs={"name": "csrf_token"}) is None
    data = {"email": "reader@example.org", "website": ""}
    response = client.post("/subscribe", data=data, headers=headers)
    if accepted:
        assert response.status_code == 200
        assert len(smtp_server.handler.wait_for(1)) == 1
    else:
        assert response.status_code == 400
        assert heading(response) == "Please reload the page"
        assert smtp_server.messages == []


def test_the_form_partial_has_a_label_a_token_and_a_hidden_honeypot(app, client):
    form = page(client.get("/subscribe")).find("form", class_="subscribe-form")
    assert form["method"] == "post" and form["action"] == "/subscribe"
    email = form.find("input", attrs={"name": "email"})
    assert form.find("label", attrs={"for": email["id"]}).get_text(strip=True)
    assert form.find("input", attrs={"name": "csrf_token", "type": "hidden"})["value"]
    honeypot = form.find(class_="honeypot")
    assert honeypot["aria-hidden"] == "true"
    trap = honeypot.find("input", attrs={"name": "website"})
    assert trap["tabindex"] == "-1" and trap["autocomplete"] == "off"
    assert form.find("button", attrs={"type": "submit"})


@pytest.fixture
def limits_on(config: dict) -> None:
    """Rate limits as in production, two sign-ups a minute; ask for it before `app`."""
    config.update(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="2 per minute")


def test_signup_posts_per_ip_are_rate_limited_with_a_human_page(limits_on, client, sign_up):
    assert sign_up("a@example.org").status_code == 200
    assert sign_up("b@example.org").status_code == 200
    refused = sign_up("c@example.org")
    assert refused.status_code == 429
    assert heading(refused) == "Too many attempts"
    assert client.get("/subscribe").status_code == 200  # reading the page is never limited


@pytest.fixture
def redis_url() -> str:
    """The local Redis, for limits shared between workers; the test is skipped without one."""
    import redis

    url = "redis://127.0.0.1:6379"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


def test_workers_sharing_redis_share_the_rate_limit(limits_on, config, redis_url, app):
    config.update(
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=f"test-{time.time_ns()}",  # a fresh count for this test
    )
    statuses = []
    for attempt in range(3):  # each post goes to another "worker": a separate app
        client = create_app(config).test_client()
        token = csrf_token_from(client.get("/subscribe").get_data(as_text=True))
        data = {"csrf_token": token, "email": f"w{attempt}@example.org", "website": ""}
        statuses.append(client.post("/subscribe", data=data).status_code)
    assert statuses == [200, 200, 429]


class TestWhenTheMailServerRefuses:
    @pytest.fixture
    def smtp_handler(self, config) -> RecordingHandler:
        config["SEND_RETRY_DELAY"] = 0  # the queue's retry comes at once, not in 5 s
        return RefusingOnceHandler()

    def test_the_failure_is_logged_and_signing_up_again_retries_at_once(
        self, app, sign_up, smtp_server, caplog
    ):
        failed = sign_up("reader@example.org")
        assert failed.status_code == 200  # the same answer: the mail goes out after it
        assert "could not be sent" in caplog.text
        assert sign_up("reader@example.org").status_code == 200
        assert len(smtp_server.handler.wait_for(1)) == 1


def signed_days_ago(token: str, salt: str, days: int, secret: str) -> str:
    """The same token as the server would have signed it `days` ago."""
    payload = URLSafeTimedSerializer(secret, salt=salt).loads(token)

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 24 * 3600

    return URLSafeTimedSerializer(secret, salt=salt, signer=PastSigner).dumps(payload)


@pytest.mark.database
def test_an_expired_confirmation_link_gets_a_clear_page_with_the_form(app, client, sign_up):
    sign_up("reader@example.org")
    with app.app_context():
        subscriber = subscriptions.find("reader@example.org")
        fresh = tokens.confirm_token(subscriber.id, subscriber.email)
    old = signed_days_ago(fresh, tokens.CONFIRM_SALT, 8, app.config["SECRET_KEY"])
    response = client.get(f"/confirm/{old}")
    assert response.status_code == 400
    assert heading(response) == "This link has expired"
    assert page(response).find("form", class_="subscribe-form")
    assert stored(app, "reader@example.org").status == "pending"
    recent = signed_days_ago(fresh, tokens.CONFIRM_SALT, 6, app.config["SECRET_KEY"])
    assert client.get(f"/confirm/{recent}").status_code == 200


@pytest.mark.parametrize("mangle", [lambda t: t[:-3], lambda t: t + "x", lambda t: "A" + t[1:]])
def test_a_tampered_confirmation_link_gets_a_clear_page_with_the_form(app, client, sign_up, mangle):
    sign_up("reader@example.org")
    with app.app_context():
        subscriber = subscriptions.find("reader@example.org")
        token = tokens.confirm_token(subscriber.id, subscriber.email)
    response = client.get(f"/confirm/{mangle(token)}")
    assert response.status_code == 400
    assert heading(response) == "This link does not work"
    assert page(response).find("form", class_="subscribe-form")
    assert stored(app, "reader@example.org").status == "pending"


def test_an_unsubscribe_token_does_not_confirm(app, client, sign_up):
    sign_up("reader@example.org")
    with app.app_context():
        subscriber = subscriptions.find("reader@example.org")
        token = tokens.unsubscribe_token(subscriber.id, subscriber.email)
    assert client.get(f"/confirm/{token}").status_code == 400


def test_signup_pages_are_neither_cached_nor_indexed(app, client, sign_up):
    assert "X-Robots-Tag" not in client.get("/subscribe").headers
    response = sign_up("reader@example.org")
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_sign_up_records_a_queued_mail_that_the_background_thread_delivers(
    app, client, smtp_server
):
    """The request only stores a row; the process's delivery thread sends it and settles it."""
    data = {"email": "reader@example.org", "website": ""}
    headers = {"Sec-Fetch-Site": "same-origin"}
    assert client.post("/subscribe", data=data, headers=headers).status_code == 200
    with app.app_context():
        [row] = db.session.execute(select(OutgoingMail)).scalars().all()
        assert (row.kind, row.email) == ("confirm", "reader@example.org")
    assert len(smtp_server.handler.wait_for(1)) == 1
    wait_for_outgoing_mail(app)
    with app.app_context():
        row = db.session.execute(select(OutgoingMail)).scalar_one()
        assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)


class StuckHandler(RecordingHandler):
    """A mail server that accepts the connection and then never answers DATA."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
        return "451 4.3.0 Too late"


class TestWhenTheMailServerHangs:
    @pytest.fixture
    def smtp_handler(self):
        handler = StuckHandler()
        yield handler
        handler.release.set()

    def test_the_confirmation_gives_up_after_send_timeout_and_frees_the_address(
        self, config, smtp_server, caplog
    ):
        config["SEND_TIMEOUT"] = 0.5
        app = create_app(config)
        with app.app_context():
            db.create_all()
        app.test_client_class = ClosingClient
        response = app.test_client().post(
            "/subscribe",
            data={"email": "reader@example.org", "website": ""},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert response.status_code == 200
        wait_for_outgoing_mail(app)
        assert "could not be sent" in caplog.text
        with app.app_context():
            assert subscriptions.find("reader@example.org").confirmation_sent_at is None


@pytest.mark.database
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_scanner_opening_the_confirm_link_changes_nothing(
    app, client, sign_up, smtp_server, method
):
    sign_up("scanned@example.org")
    link = link_in(smtp_server.handler.wait_for(1)[0], "/confirm/")
    for _ in range(3):
        assert client.open(link, method=method).status_code == 200
    assert stored(app, "scanned@example.org").status == "pending"
    opened = page(client.get(link))
    assert len(opened.find_all("button")) == 1


def test_the_confirm_button_demands_the_csrf_token(app, client, sign_up, smtp_server):
    sign_up("forged@example.org")
    link = link_in(smtp_server.handler.wait_for(1)[0], "/confirm/")
    assert client.post(link).status_code == 400
    assert stored(app, "forged@example.org").status == "pending"
