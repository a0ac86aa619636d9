"""Absolute URLs on the public site, for feeds and emails that leave the browser's context."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin

from flask import current_app

# href/src attributes in double or single quotes, plus srcset lists; Markdown and hand-written
# HTML in posts both use these forms.
_URL_ATTRIBUTE = re.compile(
    r"""(?P<attr>\b(?:href|src|poster|cite)\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""",
    re.IGNORECASE | re.DOTALL,
)
_SRCSET = re.compile(
    r"""(?P<attr>\bsrcset\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""", re.IGNORECASE | re.DOTALL
)


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

    def rewrite(match: re.Match[str]) -> str:
        url = match["url"].strip()
        if url.startswith("#"):
            url = base_url + url  # footnote anchors must still point into the essay
        return f"{match['attr']}{match['quote']}{urljoin(base_url, url)}{match['quote']}"

    def rewrite_srcset(match: re.Match[str]) -> str:
        candidates = []
        for candidate in match["url"].split(","):
            parts = candidate.strip().split(maxsplit=1)
            if parts:
                parts[0] = urljoin(base_url, parts[0])
                candidates.append(" ".join(parts))
        return f"{match['attr']}{match['quote']}{', '.join(candidates)}{match['quote']}"

    return _SRCSET.sub(rewrite_srcset, _URL_ATTRIBUTE.sub(rewrite, html))
