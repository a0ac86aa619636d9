"""The composition root: configuration layers, extensions, blueprints and CLI commands."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from newsletter.cli import commands
from newsletter.config import ConfigError, DefaultConfig, finish_config
from newsletter.content import library
from newsletter.extensions import csrf, db, init_limiter, init_migrations
from newsletter.mail import courier, messages
from newsletter.mail import models as _mail_models  # noqa: F401  (registers the tables)
from newsletter.sending import models as _sending_models  # noqa: F401  (registers the tables)
from newsletter.subscribers import models as _subscribers_models  # noqa: F401  (registers the tables)
from newsletter.web import health, pagecache, pages, security, signup


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

    db.init_app(app)
    init_migrations(app)
    csrf.init_app(app)
    init_limiter(app)
    messages.init_app(app)
    library.init_app(app)
    pagecache.init_app(app)
    security.init_app(app)
    courier.init_app(app)

    app.register_blueprint(pages.bp)
    app.register_blueprint(signup.bp)
    app.register_blueprint(health.bp)
    commands.init_app(app)
    return app


def configure_logging(app: Flask) -> None:
    """Send the package's log lines (broken posts, outbox links) to stderr."""
    logger = logging.getLogger("newsletter")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
