"""Configuration defaults and the checks that run once the layers are merged."""

from __future__ import annotations

import math
import os
from collections import Counter
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask


class DefaultConfig:
    """Defaults in code; `instance/config.py`, `FLASK_*` variables and tests override them."""

    SITE_URL = "http://127.0.0.1:5000"
    SITE_TITLE = "A Weekly Essay"
    SITE_DESCRIPTION = "An essay every week, on the web, in your feed reader and by email."
    SITE_LANGUAGE = "en"
    AUTHOR_NAME = "The Author"
    AUTHOR_EMAIL = "author@example.org"
    POSTS_DIR = "posts"
    TIMEZONE = "UTC"
    FEED_ITEMS = 20
    POSTS_PER_PAGE = 10
    POSTS_RESCAN_SECONDS = 1.0
    # Parsed front matter kept between restarts (relative to instance/; "" turns it off).
    POSTS_CACHE = "posts-cache.pickle"

    TRUSTED_PROXIES = 0  # reverse proxies in front of the app whose X-Forwarded-* to believe

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # derived from DATABASE_URL or instance/
    DATABASE_URL: str | None = None

    # No page takes uploads: refuse request bodies over 64 KiB before anything parses them.
    MAX_CONTENT_LENGTH = 64 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    CONFIRM_TOKEN_MAX_AGE_DAYS = 7
    CONFIRM_RESEND_MINUTES = 15
    SIGNUP_RATE_LIMIT = "5 per minute"
    RATELIMIT_STORAGE_URI = "memory://"
    EMAIL_CHECK_DELIVERABILITY = False

    MAIL_DEFAULT_SENDER: str | None = None  # defaults to AUTHOR_EMAIL
    MAIL_SUBJECT_PREFIX = ""
    MAIL_UNSUBSCRIBE_MAILTO: str | None = None
    MAIL_MAX_PER_SECOND = 0  # 0: no limit
    SEND_MAX_ATTEMPTS = 3
    SEND_BATCH_SIZE = 500  # subscribers read per query while sending
    SEND_CONNECTIONS = 2  # SMTP connections used in parallel by one send
    SEND_TIMEOUT = 30.0  # seconds to wait for the SMTP server before calling it a failure
    SEND_RETRY_DELAY = 5.0  # seconds before the first retry of a 4xx; doubles each attempt
    SEND_STOP_AFTER_TIMEOUTS = 3  # timeouts or uncertain results in a row that stop a send

    # The picture shared with a link (og:image, Twitter card): a URL, or a path under SITE_URL.
    SITE_IMAGE: str | None = None
    AUTHOR_BIO = ""  # a sentence or two under each essay and in the home page's about section

    # The author's desk (/desk/): who may sign in, and for how long.
    ADMIN_EMAILS: str | list[str] | None = None  # comma-separated or a list; AUTHOR_EMAIL if unset
    DESK_LINK_MINUTES = 15  # a mailed sign-in link works this long, and once
    DESK_SESSION_HOURS = 12  # a desk session ends this long after signing in
    DESK_SIGN_IN_RATE_LIMIT = "5 per 15 minutes"  # sign-in link requests per client address
    DESK_IMPORT_MAX_BYTES = 10 * 1024 * 1024  # the largest CSV upload the desk takes
    DESK_PAGE_SIZE = 50  # readers per page
    WELCOME_EMAIL = True  # mail templates/email/welcome.* once when a reader confirms

    # Sending on a task queue (README "Sending on a queue"); unset: `flask send` sends itself.
    BROKER_URL: str | None = None  # redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1//
    BROKER_NAMESPACE = "newsletter"  # prefix of the queue's (and the shared rate's) Redis keys
    BROKER_HEARTBEAT_SECONDS = 60.0  # Redis: a silent worker's jobs go to others after this
    SEND_QUEUE_BATCH_SIZE = 500  # readers per queued job (a range of subscriber ids)
    SEND_RATE_STORAGE_URI: str | None = None  # Redis for MAIL_MAX_PER_SECOND; default BROKER_URL
    SEND_SLOWDOWN_SECONDS = 1.0  # every worker pauses this long after a 421/454 reply
    SEND_LOCK_FILE = "send-new.lock"  # in instance/: one `flask send --new` at a time (SQLite)


PLACEHOLDER_SECRET_KEYS = {"development-only-not-secret", "replace-me", "dev", "secret", "changeme"}
MIN_SECRET_KEY_BITS = 64  # below this, a key can be guessed offline from one signed link
HOW_TO_SET_KEY = (
    "run `make run` once to write a random one into instance/config.py, or export "
    "FLASK_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
)


class ConfigError(RuntimeError):
    """A configuration value the app cannot start with; the message says how to fix it."""


def finish_config(app: Flask) -> None:
    """Derive the values that depend on others, and refuse to start on unsafe settings."""
    config = app.config
    os.makedirs(app.instance_path, exist_ok=True)  # a fresh clone has no instance/ yet
    config["SITE_URL"] = config["SITE_URL"].rstrip("/")
    check_secret_key(app)
    check_timezone(config["TIMEZONE"])
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = config.get("DATABASE_URL") or (
            "sqlite:///" + os.path.join(app.instance_path, "newsletter.sqlite3")
        )
    config["ADMIN_EMAILS"] = admin_emails(config.get("ADMIN_EMAILS"), config["AUTHOR_EMAIL"])
    https = urlsplit(config["SITE_URL"]).scheme == "https"
    config["SESSION_COOKIE_SECURE"] = bool(config.get("SESSION_COOKIE_SECURE")) or https
    config["MAIL_DEFAULT_SENDER"] = config.get("MAIL_DEFAULT_SENDER") or config["AUTHOR_EMAIL"]
    config.setdefault("OUTBOX_DIR", os.path.join(app.instance_path, "outbox"))
    # The one "outbox or SMTP" decision, read only by newsletter/mail/backend.py: without an
    # SMTP server (or with MAIL_SUPPRESS_SEND) every mail goes to OUTBOX_DIR instead.
    suppress = bool(config.get("MAIL_SUPPRESS_SEND")) or not config.get("MAIL_SERVER")
    config["MAIL_SUPPRESS_SEND"] = config["MAIL_USE_OUTBOX"] = suppress


def check_secret_key(app: Flask) -> None:
    """Demand a strong SECRET_KEY in every mode: it signs every link in every email, so no
    constant key may ever sign anything (the test suite passes its own)."""
    key = app.config.get("SECRET_KEY")
    if not key:
        raise ConfigError(f"SECRET_KEY is not set: {HOW_TO_SET_KEY}.")
    if app.testing:
        return  # test keys are chosen by the suite and never leave it
    if key in PLACEHOLDER_SECRET_KEYS or estimated_bits(key) < MIN_SECRET_KEY_BITS:
        raise ConfigError(
            f"SECRET_KEY is a placeholder or too short to keep links safe: {HOW_TO_SET_KEY}."
        )


def estimated_bits(key: str) -> float:
    """An upper bound on the key's entropy from its own letter frequencies: repeated or
    short keys (16 spaces, 'aaaa...', 'password12345678') score low, random ones high."""
    counts = Counter(key)
    total = len(key)
    return -sum(count * math.log2(count / total) for count in counts.values())


def check_timezone(name: str) -> None:
    """Refuse a TIMEZONE that is not a zone name, before any post is read with it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TIMEZONE {name!r} is not a time zone name. Use a name like "
            "'UTC', 'Europe/Berlin' or 'America/New_York'."
        ) from None


def admin_emails(value: str | list[str] | tuple[str, ...] | None, author: str) -> tuple[str, ...]:
    """The addresses that may sign in to the desk, lower-cased; AUTHOR_EMAIL when none given."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    found = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    return found or (author.strip().lower(),)
