"""A plain HTTP client for the stories: what a feed reader or a mailbox provider sends."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

from bs4 import BeautifulSoup


@dataclass(frozen=True)
class HttpResponse:
    """One answer, read whole."""

    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def soup(self) -> BeautifulSoup:
        """The body parsed as a browser would (html5lib)."""
        return BeautifulSoup(self.body, "html5lib")


class _ShowRedirects(urllib.request.HTTPRedirectHandler):
    """Hand redirects to the test instead of following them: some promises say 'no redirect'."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HttpClient:
    """Talks to 127.0.0.1 directly (no proxy); with `cookies=True` it keeps a session."""

    def __init__(self, cookies: bool = False) -> None:
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({}),
            _ShowRedirects(),
        ]
        if cookies:
            handlers.append(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        url: str,
        *,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """GET `url`, or POST `form` (urlencoded) or `body` to it; any status comes back."""
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(url, data=body, headers=headers or {})
        if body is not None and "Content-Type" not in request.headers:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=30) as response:
                return HttpResponse(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, error.headers, error.read())


def csrf_token_in(response: HttpResponse) -> str:
    """The CSRF token of the first form on a page, as a browser would submit it."""
    field = response.soup().find("input", attrs={"name": "csrf_token"})
    assert field is not None, "The page has no form with a csrf_token field."
    return field["value"]
