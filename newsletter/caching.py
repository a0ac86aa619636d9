"""Rendered pages and feeds kept as bytes per posts version, served with ETag and 304s.

Readers and feed readers ask for the same few documents over and over, and a document only
changes when a post file does, so each is rendered once per version of the posts folder. The
documents hold nothing personal (no session, no per-reader token), so they can be served from
memory and cached by browsers and proxies alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, request
from werkzeug.http import http_date

PAGE_CACHE_CONTROL = "public, max-age=60"
FEED_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class CachedDocument:
    """One rendered document and its ready-made headers."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    last_modified: datetime


class DocumentCache:
    """Rendered documents of one posts version; a new version starts an empty cache."""

    def __init__(self) -> None:
        self._version = ""
        self._documents: dict[tuple, CachedDocument] = {}

    def get(
        self,
        version: str,
        key: tuple,
        last_modified: datetime,
        mimetype: str,
        render: Callable[[], str | bytes],
    ) -> CachedDocument:
        """The cached document for `key`, rendering it the first time in this version."""
        if version != self._version:
            self._version, self._documents = version, {}
        document = self._documents.get(key)
        if document is None:
            document = make_document(render(), mimetype, last_modified)
            self._documents[key] = document
        return document


def make_document(body: str | bytes, mimetype: str, last_modified: datetime) -> CachedDocument:
    """Encode a rendered document once and prepare every header it is served with."""
    body = body.encode() if isinstance(body, str) else body
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    text = mimetype.startswith("text/") or mimetype.endswith("xml") or "json" in mimetype
    content_type = f"{mimetype}; charset=utf-8" if text else mimetype
    cache_control = PAGE_CACHE_CONTROL if mimetype == "text/html" else FEED_CACHE_CONTROL
    headers = (
        ("Content-Type", content_type),
        ("ETag", etag),
        ("Last-Modified", http_date(last_modified)),
        ("Cache-Control", cache_control),
    )
    return CachedDocument(body, headers, etag, last_modified)


def document_cache() -> DocumentCache:
    """This process's cache of the current app."""
    return current_app.extensions["document_cache"]


def init_app(app) -> None:
    """Give the app its document cache."""
    app.extensions["document_cache"] = DocumentCache()


def serve(document: CachedDocument, status: int = 200) -> Response:
    """Send a cached document, or 304 Not Modified when the client's copy is current."""
    environ = request.environ
    # Most requests carry no validators: skip Werkzeug's full conditional machinery for them.
    if status == 200 and ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ):
        response = Response(document.body, status=status, headers=list(document.headers))
        return response.make_conditional(request)
    return Response(document.body, status=status, headers=list(document.headers))
