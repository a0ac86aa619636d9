"""Rendered pages and feeds kept as bytes per posts version, served with ETag and 304s.

Readers and feed readers ask for the same few documents over and over, and a document only
changes when a post file does, so each is rendered once per version of the posts folder. The
documents hold nothing personal (no session, no per-reader token), so they can be served from
memory, and cached by browsers and proxies alike. This module decides what a version is (its
`fingerprint`) and when the site last changed (`last_modified`, the HTTP `Last-Modified`).

A view renders a document the first time (`DocumentCache.get`); after that, `PageCache`, the
outermost layer of the WSGI chain that `create_app()` builds, answers a GET or HEAD for the same
URL (no query string) with the stored bytes and a header list prepared once, security headers
included, before Werkzeug or Flask see the request. Such an answer therefore skips everything
Flask does per request: no `Request` object, no URL matching, no session, no `before_request`
or `after_request` hook, no `teardown_*`, no request signals, no error handler, no Flask-WTF
or Flask-Limiter check, no ProxyFix (a cached document is the same for every client). Anything
those would add to a page must be in the document or in the prepared headers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, Response, current_app, request
from werkzeug.http import http_date, parse_date

from newsletter.content.library import Snapshot

log = logging.getLogger(__name__)

PAGE_CACHE_CONTROL = "public, max-age=60"
FEED_CACHE_CONTROL = "public, max-age=300"
Headers = tuple[tuple[str, str], ...]


def fingerprint(snapshot: Snapshot) -> str:
    """The version of the site a snapshot shows: its files' versions and what is published
    (a scheduled essay going live changes no file)."""
    published = [post.slug for post in snapshot.published]
    return hashlib.sha1(repr((snapshot.versions, published)).encode()).hexdigest()[:20]


def last_modified(snapshot: Snapshot) -> datetime:
    """The moment the site last changed, the same in every worker: the newest change of a post
    file or of the folder, or the newest publication time; never after the snapshot was built."""
    moments = [snapshot.changed_at, *(post.updated_at for post in snapshot.published)]
    return min(max(moments), snapshot.built_at).astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CachedDocument:
    """One rendered document, its own headers (for a Flask response), and the complete header
    lists of its 200 and 304 answers from `PageCache`."""

    body: bytes
    headers: Headers
    etag: str
    last_modified: datetime
    answer_200: Headers = ()
    answer_304: Headers = ()


@dataclass
class _Version:
    """The documents of one posts version: replaced whole, so a reader never mixes two."""

    snapshot: Snapshot | None
    fingerprint: str
    last_modified: datetime
    documents: dict[tuple, CachedDocument] = field(default_factory=dict)
    by_path: dict[str, CachedDocument] = field(default_factory=dict)


class DocumentCache:
    """Rendered documents of one posts version; a new version starts an empty cache.

    `served_with` are the headers every answer carries besides the document's own (the
    security headers), added once to the prepared lists of `PageCache`'s answers.
    """

    def __init__(self, served_with: Headers = ()) -> None:
        self.served_with = tuple(served_with)
        self._current = _Version(None, "", datetime.min.replace(tzinfo=UTC))

    def version(self, snapshot: Snapshot) -> _Version:
        """The cache of `snapshot`'s version; its fingerprint is computed once per snapshot."""
        current = self._current
        if current.snapshot is snapshot:
            return current
        version = fingerprint(snapshot)
        if version == current.fingerprint:  # rebuilt with nothing changed: keep the documents
            current.snapshot = snapshot
            return current
        current = self._current = _Version(snapshot, version, last_modified(snapshot))
        return current

    def get(
        self,
        snapshot: Snapshot,
        key: tuple,
        mimetype: str,
        render: Callable[[], str | bytes],
        path: str | None = None,
    ) -> CachedDocument:
        """The cached document for `key`, rendering it the first time in this version; with
        `path`, later GETs of that exact path are answered by `PageCache`."""
        current = self.version(snapshot)
        document = current.documents.get(key)
        if document is None:
            document = make_document(render(), mimetype, current.last_modified, self.served_with)
            # Stored in the version it was rendered for: if another thread moved the cache to
            # a newer version meanwhile, this document is simply dropped with the old one.
            current.documents[key] = document
        if path is not None:
            current.by_path[path] = document
        return document

    def lookup(self, snapshot: Snapshot, path: str) -> CachedDocument | None:
        """The document already rendered for `path` in this snapshot's version, if any."""
        current = self._current
        if current.snapshot is not snapshot:  # one identity test per request, no hashing
            current = self.version(snapshot)
        return current.by_path.get(path)


def make_document(
    body: str | bytes, mimetype: str, modified: datetime, served_with: Headers = ()
) -> CachedDocument:
    """Encode a rendered document once and prepare every header it is served with."""
    body = body.encode() if isinstance(body, str) else body
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    text = mimetype.startswith("text/") or mimetype.endswith("xml") or "json" in mimetype
    content_type = f"{mimetype}; charset=utf-8" if text else mimetype
    cache_control = PAGE_CACHE_CONTROL if mimetype == "text/html" else FEED_CACHE_CONTROL
    headers = (
        ("Content-Type", content_type),
        ("ETag", etag),
        ("Last-Modified", http_date(modified)),
        ("Cache-Control", cache_control),
    )
    answer_200 = (*headers, *served_with, ("Content-Length", str(len(body))))
    answer_304 = (*headers[1:], *served_with)
    return CachedDocument(body, headers, etag, modified, answer_200, answer_304)


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


class PageCache:
    """WSGI middleware answering GET and HEAD for a URL whose document is already rendered in
    the current posts version, straight from memory; everything else goes to `wsgi_app`.

    The hot path of the site: a dictionary lookup, one identity test and a prepared header
    list; validators are parsed only when the request carries one.
    """

    def __init__(self, wsgi_app, cache: DocumentCache, snapshot: Callable[[], Snapshot]):
        self.wsgi_app = wsgi_app
        self.cache = cache
        self.snapshot = snapshot

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if (method == "GET" or method == "HEAD") and not environ.get("QUERY_STRING"):
            document = self.lookup(environ.get("PATH_INFO", ""))
            if document is not None:
                return answer(document, environ, start_response, method == "HEAD")
        return self.wsgi_app(environ, start_response)

    def lookup(self, path: str) -> CachedDocument | None:
        """The current document for `path`, or None (Flask answers)."""
        try:
            return self.cache.lookup(self.snapshot(), path)
        except Exception:  # the shortcut failing must not fail the site: Flask answers
            log.exception("The page cache failed; the request goes to the app instead.")
            return None


def answer(document: CachedDocument, environ: dict, start_response, head: bool) -> list[bytes]:
    """The 200 or 304 answer for a cached document, with its prepared headers."""
    validated = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
    if validated and not_modified(document, environ):
        start_response("304 Not Modified", list(document.answer_304))
        return []
    start_response("200 OK", list(document.answer_200))
    return [] if head else [document.body]


def init_app(app: Flask, served_with: Headers = ()) -> None:
    """Give the app its document cache; `create_app()` puts `PageCache` in the WSGI chain."""
    app.extensions["document_cache"] = DocumentCache(served_with)


def page_cache(app: Flask, wsgi_app) -> PageCache:
    """The middleware serving this app's cache in front of `wsgi_app`."""
    library = app.extensions["post_library"]
    return PageCache(wsgi_app, app.extensions["document_cache"], library.snapshot)
