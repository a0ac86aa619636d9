"""Leaving: the personal link in every email, a button for people, one click for mail clients."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from conftest import csrf_token_from, heading, link_in, page, press_confirm

from newsletter.extensions import db
from newsletter.sending.models import Delivery
from newsletter.subscribers import roster, subscriptions, tokens
from newsletter.subscribers.models import Subscriber


@pytest.fixture
def reader(app) -> tuple[int, str]:
    """An active subscriber, and the path of the unsubscribe link the sending code makes."""
    with app.app_context():
        roster.add_confirmed("reader@example.org", source="cli")
        subscriber = subscriptions.find("reader@example.org")
        url = tokens.unsubscribe_url(subscriber.id, subscriber.email)
    assert url.startswith("https://essays.example.org/unsubscribe/")
    return subscriber.id, urlsplit(url).path


def status_of(app, subscriber_id: int) -> Subscriber | None:
    """The subscriber row, read fresh."""
    with app.app_context():
        return db.session.get(Subscriber, subscriber_id)


@pytest.mark.database
def test_opening_the_link_shows_a_button_and_changes_nothing(app, client, reader):
    subscriber_id, link = reader
    response = client.get(link)
    assert response.status_code == 200
    [form] = page(response).find_all("form")
    assert form["method"] == "post" and form["action"] == link
    assert form.find("button").get_text(strip=True) == "Unsubscribe"
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert status_of(app, subscriber_id).status == "active"


@pytest.mark.database
def test_pressing_the_button_unsubscribes_and_pressing_again_changes_nothing(app, client, reader):
    subscriber_id, link = reader
    token = csrf_token_from(client.get(link).get_data(as_text=True))
    done = client.post(link, data={"csrf_token": token})
    assert done.status_code == 200
    assert heading(done) == "You are unsubscribed"
    first = status_of(app, subscriber_id)
    assert first.status == "unsubscribed" and first.unsubscribed_at is not None

    again = client.post(link, data={"csrf_token": token})
    assert again.status_code == 200
    assert status_of(app, subscriber_id).unsubscribed_at == first.unsubscribed_at
    assert "not on the" in client.get(link).get_data(as_text=True)


def test_a_button_post_without_the_form_token_is_refused(app, client, reader):
    subscriber_id, link = reader
    response = client.post(link, data={})
    assert response.status_code == 400
    assert heading(response) == "Please reload the page"
    assert status_of(app, subscriber_id).status == "active"


@pytest.mark.database
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc8058_one_click_post_needs_no_cookie_or_token_and_answers_200(app, reader, encoding):
    subscriber_id, link = reader
    client = app.test_client(use_cookies=False)  # a mail provider's server, not a browser
    body = {"List-Unsubscribe": "One-Click"}
    if encoding == "multipart":
        response = client.post(link, data=body, content_type="multipart/form-data")
    else:
        response = client.post(link, data=body)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert status_of(app, subscriber_id).status == "unsubscribed"
    assert client.post(link, data=body).status_code == 200  # idempotent


def test_one_click_with_an_altered_link_is_refused(app, reader):
    subscriber_id, link = reader
    client = app.test_client(use_cookies=False)
    response = client.post(link[:-4], data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert status_of(app, subscriber_id).status == "active"


def test_an_altered_link_gets_a_clear_page(app, client, reader):
    _, link = reader
    response = client.get(link + "x")
    assert response.status_code == 400
    assert heading(response) == "This link does not work"


def test_the_link_of_a_forgotten_address_leaves_quietly(app, client, reader):
    _, link = reader
    with app.app_context():
        roster.forget("reader@example.org")
    assert "not on the" in client.get(link).get_data(as_text=True)
    one_click = app.test_client(use_cookies=False)
    assert one_click.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200


@pytest.mark.database
def test_a_reader_who_left_can_subscribe_again_with_a_new_confirmation(
    app, client, sign_up, smtp_server
):
    sign_up("reader@example.org")
    first_link = link_in(smtp_server.handler.wait_for(1)[0], "/confirm/")
    press_confirm(client, first_link)
    with app.app_context():
        subscriber = subscriptions.find("reader@example.org")
        leave = urlsplit(tokens.unsubscribe_url(subscriber.id, subscriber.email)).path
    app.test_client(use_cookies=False).post(leave, data={"List-Unsubscribe": "One-Click"})

    sign_up("reader@example.org")  # within the resend window, yet a new sign-up is mailed
    second = smtp_server.handler.wait_for(2)
    assert len(second) == 2
    assert subscribers_status(app) == "pending"
    press_confirm(client, link_in(second[1], "/confirm/"))
    assert subscribers_status(app) == "active"


def subscribers_status(app) -> str:
    with app.app_context():
        return subscriptions.find("reader@example.org").status


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe(app, client, sign_up, smtp_server):
    sign_up("reader@example.org")
    confirm = link_in(smtp_server.handler.wait_for(1)[0], "/confirm/")
    client.get(confirm)
    with app.app_context():
        roster.remove("reader@example.org")
    response = client.get(confirm)
    assert response.status_code == 400
    assert subscribers_status(app) == "unsubscribed"


@pytest.mark.database
def test_unsubscribing_keeps_the_delivery_history(app, client, reader):
    subscriber_id, link = reader
    with app.app_context():
        db.session.add(Delivery(post_slug="week-1", subscriber_id=subscriber_id, status="sent"))
        db.session.commit()
    app.test_client(use_cookies=False).post(link, data={"List-Unsubscribe": "One-Click"})
    with app.app_context():
        assert db.session.query(Delivery).count() == 1
