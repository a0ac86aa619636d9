"""Absolute URLs on the public site, for feeds and emails that leave the browser's context."""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, urljoin

from flask import current_app

# Attributes holding one URL, and the one holding a list of them; read by an HTML parser, so
# unquoted (`<a href=notes/>`), single-quoted and upper-case attributes are all found.
_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "cite", "action", "formaction"})
_SRCSET = "srcset"


def site_url(path: str = "/") -> str:
    """An absolute URL built from `SITE_URL`; works outside a request (CLI, sends)."""
    return current_app.config["SITE_URL"].rstrip("/") + "/" + path.lstrip("/")


def post_url(slug: str) -> str:
    """An essay's permalink, also its stable id in feeds."""
    return site_url(f"/posts/{quote(slug)}/")


def tag_url(tag_slug: str) -> str:
    """A tag page's absolute URL."""
    return site_url(f"/tags/{quote(tag_slug)}/")


def absolutize(html: str, base_url: str) -> str:
    """Rewrite every relative link and image URL in an HTML fragment against `base_url`."""
    rewriter = _Absolutizer(base_url)
    rewriter.feed(html)
    rewriter.close()
    return "".join(rewriter.out)


def absolute_url(url: str, base_url: str) -> str:
    """One URL made absolute; a bare `#anchor` still points into the essay."""
    url = url.strip()
    return base_url + url if url.startswith("#") else urljoin(base_url, url)


def absolute_srcset(value: str, base_url: str) -> str:
    """Each candidate of a `srcset` list made absolute, its width or density kept."""
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(maxsplit=1)
        if parts:
            parts[0] = urljoin(base_url, parts[0])
            candidates.append(" ".join(parts))
    return ", ".join(candidates)


def _verbatim(template: str):
    """A parser handler that writes its part back unchanged, in the markup it came in."""

    def handle(self, data: str) -> None:
        self.out.append(template.format(data))

    return handle


class _Absolutizer(HTMLParser):
    """Copies HTML through unchanged except the start tags that carry URLs, which it rewrites."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=False)  # text and entities pass through as written
        self.base_url = base_url
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, self.get_starttag_text() or "", ">"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, self.get_starttag_text() or "", " />"))

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], raw: str, end: str) -> str:
        """The tag as written when it has no URL, else rebuilt with absolute URLs."""
        names = {name for name, value in attrs if value is not None}
        if not names & (_URL_ATTRIBUTES | {_SRCSET}):
            return raw
        parts = [f"<{tag}"]
        for name, value in attrs:
            if value is None:
                parts.append(f" {name}")
                continue
            if name in _URL_ATTRIBUTES:
                value = absolute_url(value, self.base_url)
            elif name == _SRCSET:
                value = absolute_srcset(value, self.base_url)
            parts.append(f' {name}="{escape(value, quote=True)}"')
        return "".join(parts) + end

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    # Everything else passes through as it was written: references stay references.
    handle_entityref = _verbatim("&{};")
    handle_charref = _verbatim("&#{};")
    handle_comment = _verbatim("<!--{}-->")
    handle_decl = _verbatim("<!{}>")
    handle_pi = _verbatim("<?{}>")
    unknown_decl = _verbatim("<![{}]>")
