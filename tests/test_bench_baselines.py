"""The benchmarks' reference apps still do what the benchmarks say they do: a reference that
answers errors would make every ratio against it meaningless (bench/signup.py divided by zero
once the sign-up learnt to queue a 'skipped' row and its copy did not)."""

from __future__ import annotations

import sqlalchemy as sa

from bench.signup_nodb import create_app_without_writes
from newsletter.extensions import db
from newsletter.mail import courier, outgoing
from newsletter.mail.models import OutgoingMail
from newsletter.subscribers import subscriptions
from newsletter.subscribers.models import Subscriber
from tests.conftest import csrf_token_from


def test_the_no_database_reference_answers_sign_ups_like_the_app_and_stores_nothing(
    app, config, monkeypatch
):
    for module, name in (
        (subscriptions, "record_signup"),
        (outgoing, "enqueue"),
        (courier, "wake"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))  # put back after the test
    reference = create_app_without_writes(config).test_client()
    for number in range(3):  # the first sign-up of a process starts its mail thread
        token = csrf_token_from(reference.get("/subscribe").get_data(as_text=True))
        data = {"csrf_token": token, "email": f"reader-{number}@example.org", "website": ""}
        response = reference.post("/subscribe", data=data)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert "inbox" in response.get_data(as_text=True).lower()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)) == 0
