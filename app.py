"""The composition root: configuration layers, extensions, the WSGI chain, blueprints and CLI
commands."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from newsletter import cli
from newsletter.config import ConfigError, DefaultConfig, finish_config
from newsletter.content import library
from newsletter.desk import views as desk
from newsletter.extensions import csrf, db, init_limiter, migrations_command
from newsletter.mail import courier, messages
from newsletter.web import health, pagecache, pages, security, signup

# Every table module: imported when the schema is created, dropped or migrated, and by the code
# that reads them; never by a worker that serves only pages (tests/test_page_worker.py).
db.deferred_tables = (
    "newsletter.subscribers.models",
    "newsletter.mail.models",
    "newsletter.sending.models",
    "newsletter.desk.models",
)
# The modules that tell the courier how to send each kind of queued mail, imported by its
# thread before its first pass (a worker may deliver mail a previous process queued).
courier.KIND_MODULES = ("newsletter.subscribers.subscriptions", "newsletter.subscribers.welcome")


def init_page_cache(app: Flask) -> None:
    """The page cache, whose prepared answers carry the same security headers as the rest."""
    pagecache.init_app(app, served_with=security.SECURITY_HEADERS)


# None of these wraps `app.wsgi_app` (`wsgi_chain` does, once they are all bound), so their
# order decides nothing about what a request meets; tests/test_wsgi_chain.py permutes it.
EXTENSIONS = (
    db.init_app,
    csrf.init_app,
    init_limiter,
    messages.init_app,
    library.init_app,
    init_page_cache,
    security.init_app,
    courier.init_app,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then FLASK_* variables, then tests."""
    instance_path = (test_config or {}).get("INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_object(DefaultConfig)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    try:
        finish_config(app)
    except ConfigError as error:
        if test_config is not None:
            raise
        raise SystemExit(f"Configuration error: {error}") from None  # one sentence, no traceback
    configure_logging(app)

    for init_extension in EXTENSIONS:
        init_extension(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(signup.bp)
    app.register_blueprint(health.bp)
    desk.init_app(app)
    commands = {"db": lambda: migrations_command(app), "desk": cli.import_command(desk.COMMANDS)}
    cli.init_app(app, extra=commands)  # each imported when it runs
    app.wsgi_app = wsgi_chain(app)
    return app


def wsgi_chain(app: Flask):
    """What a request meets before Flask, outermost first, built once after every extension.

    1. `PageCache`: a GET or HEAD of a page or feed already rendered in this posts version is
       answered here from memory, security headers included, and skips everything below
       (Flask's request hooks too: see newsletter/web/pagecache.py).
    2. The security headers on every other response (errors included).
    3. ProxyFix, when `TRUSTED_PROXIES` is set: the client's address for rate limits and the
       consent record.
    4. A chunked request body over `MAX_CONTENT_LENGTH` refused with 413.
    5. Flask.
    """
    return pagecache.page_cache(app, security.protect(app, app.wsgi_app))


def configure_logging(app: Flask) -> None:
    """Send the package's log lines (broken posts, outbox links) to stderr."""
    logger = logging.getLogger("newsletter")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
