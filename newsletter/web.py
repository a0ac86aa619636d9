"""The reader-facing routes: pages and feeds. Thin: they ask the library and render."""

from __future__ import annotations

from flask import Blueprint, render_template

from .library import current_posts

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    """The latest essays."""
    return render_template("index.html", posts=current_posts().published[:10])
