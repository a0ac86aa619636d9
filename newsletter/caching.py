"""Rendered pages and feeds kept as bytes per posts version, served with ETag and 304s.

Readers and feed readers ask for the same few documents over and over, and a document only
changes when a post file does, so each is rendered once per version of the posts folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, request, session
from flask_wtf.csrf import generate_csrf

# Pages carry the subscribe form, whose CSRF token belongs to one reader's session: the cached
# page holds this placeholder, swapped for the reader's token on the way out.
CSRF_PLACEHOLDER = "__csrf_token_placeholder__"
CSRF_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()

PAGE_CACHE_CONTROL = "no-cache"
PERSONAL_PAGE_CACHE_CONTROL = "private, no-cache"
FEED_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class CachedDocument:
    """One rendered document and its validators."""

    body: bytes
    mimetype: str
    etag: str
    last_modified: datetime
    personal: bool  # holds the CSRF placeholder


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
            body = render()
            body = body.encode() if isinstance(body, str) else body
            document = CachedDocument(
                body=body,
                mimetype=mimetype,
                etag=hashlib.sha1(body).hexdigest()[:20],
                last_modified=last_modified,
                personal=CSRF_PLACEHOLDER_BYTES in body,
            )
            self._documents[key] = document
        return document


def document_cache() -> DocumentCache:
    """This process's cache of the current app."""
    return current_app.extensions["document_cache"]


def init_app(app) -> None:
    """Give the app its document cache."""
    app.extensions["document_cache"] = DocumentCache()


def serve(document: CachedDocument, status: int = 200) -> Response:
    """Send a cached document, or 304 when the client's copy is current."""
    if not document.personal:
        response = Response(document.body, status=status, mimetype=document.mimetype)
        response.set_etag(document.etag)
        # Last-Modified only where the ETag alone identifies the bytes: a personal page's
        # date says nothing about whose token the client's copy holds.
        response.last_modified = document.last_modified
        response.headers["Cache-Control"] = (
            PAGE_CACHE_CONTROL if document.mimetype == "text/html" else FEED_CACHE_CONTROL
        )
    else:
        response = _serve_personal(document, status)
        response.headers["Cache-Control"] = PERSONAL_PAGE_CACHE_CONTROL
    if status == 200:
        response.make_conditional(request)
    return response


def _serve_personal(document: CachedDocument, status: int) -> Response:
    """A page with this reader's CSRF token; its ETag changes with the reader's session."""
    token = generate_csrf()  # creates the session's token on a first visit
    session_digest = hashlib.sha1(str(session.get("csrf_token")).encode()).hexdigest()[:8]
    if status == 200 and request.if_none_match.contains_weak(f"{document.etag}-{session_digest}"):
        body = b""  # make_conditional turns this into a 304; no need to fill the token in
    else:
        body = document.body.replace(CSRF_PLACEHOLDER_BYTES, token.encode())
    response = Response(body, status=status, mimetype=document.mimetype)
    response.set_etag(f"{document.etag}-{session_digest}", weak=True)
    response.vary.add("Cookie")
    return response
