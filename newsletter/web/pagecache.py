"""Rendered pages and feeds kept as bytes per posts version, served with ETag and 304s.

Readers and feed readers ask for the same few documents over and over, and a document only
changes when a post file does, so each is rendered once per version of the posts folder. The
documents hold nothing personal (no session, no per-reader token), so they can be served from
memory, and cached by browsers and proxies alike.

A view renders a document the first time (`DocumentCache.get`); after that,
`CachedDocumentMiddleware` answers a plain GET for the same URL before Flask builds a request
at all, which is what keeps a page as cheap as a static file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, Response, current_app, request
from werkzeug.http import http_date, parse_date

log = logging.getLogger(__name__)

PAGE_CACHE_CONTROL = "public, max-age=60"
FEED_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class CachedDocument:
    """One rendered document and its ready-made headers."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    last_modified: datetime


@dataclass
class _Version:
    """The documents of one posts version: replaced whole, so a reader never mixes two."""

    version: str
    documents: dict[tuple, CachedDocument]
    by_path: dict[str, CachedDocument]


class DocumentCache:
    """Rendered documents of one posts version; a new version starts an empty cache."""

    def __init__(self) -> None:
        self._current = _Version("", {}, {})

    def get(
        self,
        version: str,
        key: tuple,
        last_modified: datetime,
        mimetype: str,
        render: Callable[[], str | bytes],
        path: str | None = None,
    ) -> CachedDocument:
        """The cached document for `key`, rendering it the first time in this version; with
        `path`, later GETs of that exact path are answered by the middleware."""
        current = self._current
        if version != current.version:
            current = self._current = _Version(version, {}, {})
        document = current.documents.get(key)
        if document is None:
            document = make_document(render(), mimetype, last_modified)
            # Stored in the version it was rendered for: if another thread moved the cache to
            # a newer version meanwhile, this document is simply dropped with the old one.
            current.documents[key] = document
        if path is not None:
            current.by_path[path] = document
        return document

    def lookup(self, version: str, path: str) -> CachedDocument | None:
        """The document already rendered for `path` in this version, if any."""
        current = self._current
        return current.by_path.get(path) if version == current.version else None


def last_modified(changed_at: datetime) -> datetime:
    """The HTTP Last-Modified of documents showing posts that last changed at `changed_at`:
    UTC, in whole seconds as HTTP dates carry them."""
    return changed_at.astimezone(UTC).replace(microsecond=0)


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


def serve(document: CachedDocument, status: int = 200) -> Response:
    """Send a cached document from a view, or 304 Not Modified when the client's is current."""
    if status == 200 and not_modified(document, request.environ):
        return Response(status=304, headers=list(document.headers[1:]))
    return Response(document.body, status=status, headers=list(document.headers))


def not_modified(document: CachedDocument, environ: dict) -> bool:
    """True when the request's validators say the client already holds this document."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return document.etag in tags or "*" in tags
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return since is not None and int(document.last_modified.timestamp()) <= since.timestamp()


class CachedDocumentMiddleware:
    """Answers GET and HEAD for a URL whose document is already rendered in the current posts
    version, straight from memory; everything else goes to Flask."""

    def __init__(self, wsgi_app, cache: DocumentCache, current_version: Callable[[], str]):
        self.wsgi_app = wsgi_app
        self.cache = cache
        self.current_version = current_version

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
            try:
                document = self.cache.lookup(self.current_version(), environ.get("PATH_INFO", ""))
            except Exception:  # the shortcut failing must not fail the site: Flask answers
                log.exception("The page cache failed; the request goes to the app instead.")
                document = None
            if document is not None:
                return self.respond(document, environ, start_response, head=method == "HEAD")
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def respond(document: CachedDocument, environ: dict, start_response, head: bool):
        """The 200 or 304 answer for a cached document."""
        if not_modified(document, environ):
            start_response("304 Not Modified", list(document.headers[1:]))
            return []
        headers = [*document.headers, ("Content-Length", str(len(document.body)))]
        start_response("200 OK", headers)
        return [] if head else [document.body]


def init_app(app: Flask) -> None:
    """Give the app its document cache, and the middleware that serves from it."""
    cache = DocumentCache()
    app.extensions["document_cache"] = cache
    library = app.extensions["post_library"]
    app.wsgi_app = CachedDocumentMiddleware(
        app.wsgi_app, cache, lambda: library.snapshot().fingerprint
    )
