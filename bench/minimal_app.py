"""The baseline for bench/pages.py: Flask returning the same bytes from memory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    """An app with two routes that return pre-read bytes, nothing else."""
    folder = Path(os.environ["BENCH_BODY_DIR"])
    page = (folder / "page.html").read_bytes()
    feed = (folder / "feed.xml").read_bytes()
    app = Flask(__name__)

    @app.get("/page")
    def essay_page():
        return Response(page, mimetype="text/html")

    @app.get("/feed.xml")
    def feed_xml():
        return Response(feed, mimetype="application/rss+xml")

    return app
