"""Start-up refuses unsafe or impossible settings with a sentence saying what to do."""

from __future__ import annotations

import pytest

from app import create_app
from newsletter.config import ConfigError


def test_production_without_a_secret_key_refuses_to_start(config):
    del config["SECRET_KEY"]
    config["TESTING"] = False
    with pytest.raises(ConfigError, match="SECRET_KEY is not set.*secrets.token_hex"):
        create_app(config)


def test_an_unknown_time_zone_is_named(config):
    config["TIMEZONE"] = "Mars/Olympus"
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not a time zone name"):
        create_app(config)


def test_https_site_gets_secure_session_cookies(config):
    assert create_app(config).config["SESSION_COOKIE_SECURE"] is True
    config["SITE_URL"] = "http://127.0.0.1:5000"
    assert create_app(config).config["SESSION_COOKIE_SECURE"] is False


def test_without_a_mail_server_mail_goes_to_the_outbox(config):
    app = create_app(config)
    assert app.config["MAIL_USE_OUTBOX"] is True
    assert app.config["MAIL_SUPPRESS_SEND"] is True
