"""The ceiling for bench/pages.py: a bare WSGI function (no Flask, no middleware) returning the
same bytes from memory, under the same server settings as `make serve`."""

from __future__ import annotations

import os
from pathlib import Path


def create_app():
    """A WSGI callable answering /page and /feed.xml with pre-read bytes and their length."""
    folder = Path(os.environ["BENCH_BODY_DIR"])
    documents = {}
    for path, name, mimetype in (
        ("/page", "page.html", "text/html; charset=utf-8"),
        ("/feed.xml", "feed.xml", "application/rss+xml; charset=utf-8"),
    ):
        body = (folder / name).read_bytes()
        headers = [("Content-Type", mimetype), ("Content-Length", str(len(body)))]
        documents[path] = (body, headers)

    def app(environ, start_response):
        body, headers = documents[environ["PATH_INFO"]]
        start_response("200 OK", list(headers))
        return [body]

    return app
