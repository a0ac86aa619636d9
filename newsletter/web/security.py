"""Security headers on every response, added where it costs nothing per request; the WSGI
layers in front of Flask (`protect`); sessions that cost nothing without a cookie; same-origin
posts."""

from __future__ import annotations

import io
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Request, Response, current_app
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script anywhere and no third-party requests: everything comes from 'self'. Style
# attributes are allowed: Markdown aligns table columns with them, and essays may carry raw HTML.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' https: data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
)
SECURITY_HEADER_NAMES = frozenset(name.lower() for name, _ in SECURITY_HEADERS)


class SecurityHeadersMiddleware:
    """WSGI middleware appending the fixed headers to every response, errors included, unless
    the app set one of them itself.

    A list append per response: Flask's `after_request` with Werkzeug's `Headers` costs more
    than serving a cached page does (which gets them from its prepared list instead).
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            if present.isdisjoint(SECURITY_HEADER_NAMES):
                headers.extend(SECURITY_HEADERS)
            else:
                headers.extend(item for item in SECURITY_HEADERS if item[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)


class ChunkedBodyLimit:
    """Refuse a chunked body over MAX_CONTENT_LENGTH with 413 instead of letting it be cut and
    processed: with no Content-Length, Werkzeug's parsers stop at the limit silently."""

    def __init__(self, wsgi_app, limit: int | None) -> None:
        self.wsgi_app, self.limit = wsgi_app, limit

    def __call__(self, environ, start_response):
        if self.limit is None or not _is_chunked(environ):  # chunked overrides Content-Length
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(self.limit + 1)
        if len(body) > self.limit:
            return RequestEntityTooLarge()(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)  # whole and within the limit: a sized body
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        environ.pop("HTTP_TRANSFER_ENCODING")
        return self.wsgi_app(environ, start_response)


def _is_chunked(environ) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def init_app(app: Flask) -> None:
    """Lazy sessions, and absolute redirects kept within the site. The WSGI layers below are
    put in the chain by `create_app()`."""
    app.session_interface = LazySessionInterface()
    app.after_request(redirect_within_site)


def protect(app: Flask, wsgi_app):
    """`wsgi_app` behind the security layers, outermost first: the security headers on every
    response; `TRUSTED_PROXIES` reverse proxies trusted for the client's address (rate limits,
    consent record); a chunked body over MAX_CONTENT_LENGTH refused."""
    wsgi_app = ChunkedBodyLimit(wsgi_app, app.config.get("MAX_CONTENT_LENGTH"))
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        wsgi_app = ProxyFix(wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    return SecurityHeadersMiddleware(wsgi_app)


def redirect_within_site(response: Response) -> Response:
    """Point absolute redirects (Werkzeug's slash redirects build them from the request's
    Host) at SITE_URL: a forged `Host: evil.example` must never send a reader elsewhere."""
    location = response.headers.get("Location")
    if not location or not 300 <= response.status_code < 400:
        return response
    parts = urlsplit(location)
    site = urlsplit(current_app.config["SITE_URL"])
    if parts.netloc and parts.netloc != site.netloc:
        response.headers["Location"] = urlunsplit(
            (site.scheme, site.netloc, parts.path, parts.query, parts.fragment)
        )
    return response


class LazySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for requests that carry no
    session cookie: nearly every page and feed request, which then costs no cryptography."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def is_same_origin_post(request: Request, site_url: str) -> bool:
    """True when the browser itself says this request comes from one of the site's own pages.

    Browsers set Sec-Fetch-Site (and Origin) on every form post, and a page cannot forge
    either: a cross-site attacker's form arrives as `cross-site` with its own Origin. This is
    the token-free cross-origin check Go's net/http CrossOriginProtection makes; it lets the
    shared, cached pages carry a form without a per-reader CSRF token.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    return origin.rstrip("/") in {_origin_of(site_url), _origin_of(request.host_url)}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
