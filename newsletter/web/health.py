"""`/healthz` for the proxy and the process manager: the database answers, the posts folder
reads. Strangers get one word; the reasons go to the log, never into the answer."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response

from newsletter.content.library import get_library
from newsletter.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def database_problem() -> str | None:
    """Why the database cannot serve, or None: a real table is read, so a missing migration
    or an unreachable server both count."""
    # Imported here: the first health check loads SQLAlchemy, never a page worker's start.
    db.load()
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM subscribers LIMIT 1"))
    except SQLAlchemyError as error:
        return f"the database does not answer ({type(error).__name__}: {error})"
    return None


def posts_problem() -> str | None:
    """Why the posts folder cannot be read, or None."""
    folder = get_library().posts_dir
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as error:
        return f"the posts folder {folder} cannot be read ({error.strerror or error})"
    return None


@bp.route("/healthz", methods=["GET", "HEAD"])
def healthz() -> Response:
    """200 "ok" when both answer, else 503 "unavailable"; never cached."""
    problems = [found for found in (database_problem(), posts_problem()) if found]
    for problem in problems:
        log.warning("Health check failed: %s.", problem)
    response = Response(
        "unavailable\n" if problems else "ok\n",
        status=503 if problems else 200,
        mimetype="text/plain",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
