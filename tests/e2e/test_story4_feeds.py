"""Story 4: feed readers read the feeds: full content, absolute links, 304 when nothing changed."""

from __future__ import annotations

from urllib.parse import urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup

from .live import Essay, LiveSite, wait_until

FEEDS = ["/feed.xml", "/atom.xml", "/tags/tools/feed.xml"]

# Relative links and images, as an author writes them: the feeds must make them absolute.
BODY = """
A short essay for feed readers, with [a link to the archive](/archive/) and a picture:

![A diagram of the week](diagram.png)

The last paragraph, which only the full text carries, not the teaser.
"""
LAST_PARAGRAPH = "The last paragraph, which only the full text carries, not the teaser."


@pytest.fixture(scope="module")
def essay(site: LiveSite) -> Essay:
    """An essay with relative links, published while the site runs (tagged like the samples)."""
    return site.publish("story-4-feeds", "Story 4: Read in a Feed Reader", BODY, tags=("tools",))


def read_feed(site: LiveSite, path: str, essay: Essay) -> feedparser.FeedParserDict:
    """The feed as a feed reader parses it, once it lists `essay`."""

    def parsed_with_essay():
        response = site.get(path)
        assert response.status == 200, f"GET {path} answered {response.status}"
        # No base URL and no rewriting: a relative link must stay visible as relative.
        feed = feedparser.parse(response.body, resolve_relative_uris=False, sanitize_html=False)
        titles = [entry.get("title") for entry in feed.entries]
        assert essay.title in titles, f"{path} lists {titles}"
        return feed

    return wait_until(parsed_with_essay, what=f"{path} to list the new essay")


@pytest.mark.parametrize("path", FEEDS)
def test_feed_readers_get_full_content_with_absolute_links(site, essay, path):
    feed = read_feed(site, path, essay)
    assert feed.bozo == 0, f"{path}: {feed.get('bozo_exception')}"
    for entry in feed.entries:
        assert entry.link.startswith(site.url + "/posts/"), f"{path}: {entry.link}"
        content = entry.content[0].value
        for url in urls_in(content):
            assert urlsplit(url).scheme in ("http", "https", "mailto"), f"{path}: {url}"
        assert last_paragraph_of(site, entry.link) in text_of(content), (
            f"{path}: the entry {entry.title!r} does not carry the essay's full text"
        )
    ours = next(entry for entry in feed.entries if entry.title == essay.title)
    assert ours.link == f"{site.url}/posts/{essay.slug}/"
    assert f"{site.url}/archive/" in urls_in(ours.content[0].value)


@pytest.mark.parametrize("path", FEEDS)
def test_feed_readers_polling_an_unchanged_feed_get_304(site, essay, path):
    read_feed(site, path, essay)
    first = site.get(path)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and last_modified, f"{path} sends no validators"
    for validators in (
        {"If-None-Match": etag},
        {"If-Modified-Since": last_modified},
        {"If-None-Match": etag, "If-Modified-Since": last_modified},
    ):
        again = site.get(path, headers=validators)
        assert (again.status, again.body) == (304, b""), f"{path} with {validators}"


def urls_in(html: str) -> list[str]:
    """Every href and src in an HTML fragment."""
    soup = BeautifulSoup(html, "html5lib")
    return [tag[attr] for attr in ("href", "src") for tag in soup.find_all(attrs={attr: True})]


def text_of(html: str) -> str:
    """The words of an HTML fragment, with whitespace collapsed."""
    return " ".join(BeautifulSoup(html, "html5lib").get_text(" ").split())


def last_paragraph_of(site: LiveSite, permalink: str) -> str:
    """The last paragraph of the essay as its web page shows it."""
    page = site.get(urlsplit(permalink).path)
    assert page.status == 200, f"{permalink} answered {page.status}"
    paragraphs = page.soup().select("main article p")
    assert paragraphs, f"{permalink} shows no paragraph in an article"
    return " ".join(paragraphs[-1].get_text(" ").split())
