"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents from `Post` values (feedgen for the XML).

Every function here is pure over its inputs and the app config: the same posts give the same
bytes, so the web layer can derive ETags from the content and cache it. The posts come
rendered (`RenderedPost`): the body is read before a feed is built, never inside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import current_app

from newsletter import links
from newsletter.content.rendered import RenderedPost

if TYPE_CHECKING:
    from feedgen.entry import FeedEntry

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_PATHS = {"rss": "/feed.xml", "atom": "/atom.xml", "json": "/feed.json"}
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
# A feed needs an "updated" time even with no essays in it; "now" would change the bytes on
# every request, so an empty feed says it last changed at the epoch.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)

# Characters XML 1.0 forbids (C0 controls other than tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF), which lxml refuses outright, and the C1 controls, which the W3C validator
# flags; none of them carries meaning in an essay.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What may stay unescaped in a URL; anything else (a slug like "café") is percent-encoded,
# because RSS links and guids must be plain URIs.
_URI_SAFE = "/:?#[]@!$&'()*+,;=%~"


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself: its title, home page, own URL, language and author."""

    kind: str  # "rss", "atom" or "json": the format `feed_url` serves
    title: str
    description: str
    home_page_url: str
    feed_url: str
    language: str
    author_name: str
    author_email: str
    rss_url: str
    atom_url: str | None = None  # sibling formats; tag feeds exist as RSS only
    json_url: str | None = None


def feed_info(
    tag_slug: str | None = None, tag_name: str | None = None, kind: str = "rss"
) -> FeedInfo:
    """The site-wide feed's info, or one tag's (tag feeds are RSS only), from the app config."""
    if kind not in FEED_PATHS:
        raise ValueError(f"Unknown feed kind {kind!r}; use one of {', '.join(FEED_PATHS)}.")
    if tag_slug is None:
        return site_feed_info(kind)
    if kind != "rss":
        raise ValueError(f"Tag feeds are RSS only; call feed_info({tag_slug!r}, kind='rss').")
    return tag_feed_info(tag_slug, tag_name or tag_slug)


def site_feed_info(kind: str) -> FeedInfo:
    """The info of the site-wide feed in format `kind`, which links its two siblings."""
    urls = {name: uri(links.site_url(path)) for name, path in FEED_PATHS.items()}
    site_title = clean(current_app.config["SITE_TITLE"])
    return FeedInfo(
        kind=kind,
        title=site_title,
        description=clean(current_app.config.get("SITE_DESCRIPTION") or "") or site_title,
        home_page_url=uri(links.site_url("/")),
        feed_url=urls[kind],
        rss_url=urls["rss"],
        atom_url=urls["atom"],
        json_url=urls["json"],
        **author_and_language(),
    )


def tag_feed_info(tag_slug: str, tag_name: str) -> FeedInfo:
    """The info of one tag's RSS feed: the site's title and the tag's name."""
    site_title = clean(current_app.config["SITE_TITLE"])
    name = clean(tag_name)
    rss_url = uri(links.site_url(f"/tags/{tag_slug}/feed.xml"))
    return FeedInfo(
        kind="rss",
        title=f"{site_title}: {name}",
        description=f"Essays tagged “{name}” on {site_title}.",
        home_page_url=uri(links.tag_url(tag_slug)),
        feed_url=rss_url,
        rss_url=rss_url,
        **author_and_language(),
    )


def author_and_language() -> dict[str, str]:
    """The FeedInfo fields every feed shares, from the config (author defaults to the site)."""
    config = current_app.config
    return {
        "language": (config.get("SITE_LANGUAGE") or "en").strip(),
        "author_name": clean(config.get("AUTHOR_NAME") or "") or clean(config["SITE_TITLE"]),
        "author_email": (config.get("AUTHOR_EMAIL") or "").strip(),
    }


def rss_feed(posts: Sequence[RenderedPost], info: FeedInfo) -> bytes:
    """An RSS 2.0 document of `posts` in the order given, with full HTML in content:encoded."""
    generator = start_feed(info, "rss")
    generator.description(info.description)
    # feedgen takes the channel <link> from the last link added, so the self link goes first.
    generator.link(href=info.feed_url, rel="self", type=MEDIA_TYPES["rss"])
    generator.link(href=info.home_page_url, rel="alternate")
    if info.author_email:
        generator.managingEditor(f"{info.author_email} ({info.author_name})")
    generator.lastBuildDate(feed_updated(posts))
    return add_entries(generator, posts, info).rss_str(pretty=True)


def atom_feed(posts: Sequence[RenderedPost], info: FeedInfo) -> bytes:
    """An Atom 1.0 document of `posts` in the order given, with full HTML content."""
    generator = start_feed(info, "atom")
    generator.id(info.feed_url)
    generator.subtitle(info.description)
    generator.author(author_fields(info))
    generator.link(href=info.feed_url, rel="self", type=MEDIA_TYPES["atom"])
    generator.link(href=info.home_page_url, rel="alternate", type="text/html")
    generator.updated(feed_updated(posts))
    return add_entries(generator, posts, info).atom_str(pretty=True)


def start_feed(info: FeedInfo, kind: str):
    """A feedgen generator for an RSS or Atom feed, with what both formats say first."""
    check_kind(info, kind)
    generator = new_generator()
    generator.title(info.title)
    generator.language(info.language)
    return generator


def add_entries(generator, posts: Sequence[RenderedPost], info: FeedInfo):
    """Add the essays as entries, in the order given (feedgen would put each one first)."""
    for post in posts:
        generator.add_entry(feed_entry(post, info), order="append")
    return generator


def json_feed(posts: Sequence[RenderedPost], info: FeedInfo) -> bytes:
    """A JSON Feed 1.1 document of `posts` in the order given."""
    check_kind(info, "json")
    document = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.home_page_url,
        "feed_url": info.feed_url,
        "description": info.description,
        "language": info.language,
        "authors": [{"name": info.author_name, "url": info.home_page_url}],
        "items": [json_item(post) for post in posts],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def new_generator():
    """A feedgen generator; feedgen (with lxml) is imported on the first feed, not at start-up."""
    # Importing feedgen costs 40-130 ms here, which the time to the first page must not pay.
    from feedgen.feed import FeedGenerator

    return FeedGenerator()


def feed_entry(post: RenderedPost, info: FeedInfo) -> FeedEntry:
    """One essay as a feedgen entry, usable in both RSS and Atom."""
    from feedgen.entry import FeedEntry

    permalink = uri(links.post_url(post.slug))
    entry = FeedEntry()
    entry.guid(permalink, permalink=True)  # also the Atom id: the permalink never changes
    entry.title(clean(post.title) or post.slug)
    entry.link(href=permalink, rel="alternate", type="text/html")
    entry.published(utc(post.published_at))
    entry.updated(entry_updated(post))
    entry.author(author_fields(info))
    # feedgen writes RSS content:encoded only when a description is set too: summary first.
    entry.summary(absolute_html(post.summary_html, permalink), type="html")
    entry.content(absolute_html(post.html, permalink), type="html")
    for tag in post.tags:
        entry.category(term=clean(tag))
    return entry


def json_item(post: RenderedPost) -> dict[str, Any]:
    """One essay as a JSON Feed item."""
    permalink = uri(links.post_url(post.slug))
    return {
        "id": permalink,
        "url": permalink,
        "title": clean(post.title) or post.slug,
        "content_html": absolute_html(post.html, permalink),
        "summary": clean(post.summary_text),
        "date_published": utc(post.published_at).isoformat(),
        "date_modified": entry_updated(post).isoformat(),
        "tags": [clean(tag) for tag in post.tags],
    }


def author_fields(info: FeedInfo) -> dict[str, str]:
    """The author as feedgen wants it; RSS items show it as "email (Name)"."""
    fields = {"name": info.author_name, "uri": info.home_page_url}
    if info.author_email:
        fields["email"] = info.author_email
    return fields


def feed_updated(posts: Sequence[RenderedPost]) -> datetime:
    """The feed's last change: the newest essay's update time, never the clock."""
    return max((entry_updated(post) for post in posts), default=EMPTY_FEED_UPDATED)


def entry_updated(post: RenderedPost) -> datetime:
    """An essay's update time; a `lastmod` before publication counts as the publication."""
    return utc(max(post.updated_at, post.published_at))


def utc(moment: datetime) -> datetime:
    """An aware datetime in UTC, so every format writes the same instant the same way."""
    return moment.astimezone(UTC)


def absolute_html(html: str, permalink: str) -> str:
    """Essay HTML with every relative URL made absolute, safe to put in an XML document."""
    return clean(links.absolutize(html, permalink))


def uri(url: str) -> str:
    """A URL with non-ASCII characters percent-encoded, as RSS and the validators want."""
    return quote(url, safe=_URI_SAFE)


def clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry (control characters and the like)."""
    return _NOT_XML_CHAR.sub("", str(text))


def check_kind(info: FeedInfo, kind: str) -> None:
    """Refuse an info built for another format: its self link would point at the wrong feed."""
    if info.kind != kind:
        raise ValueError(
            f"This {kind} feed got the FeedInfo of the {info.kind} feed; "
            f"build it with feed_info(kind={kind!r})."
        )
