"""Feeds: what a feed reader gets from /feed.xml, /atom.xml, /feed.json and the tag feeds."""

from __future__ import annotations

import calendar
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup
from flask import current_app

from newsletter.content import library
from newsletter.content.library import current_posts
from newsletter.web import feeds

SITE = "https://essays.example.org"
RSS_DATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
NAMESPACES = {"atom": "http://www.w3.org/2005/Atom"}
LONG_BODY = """
    Hello, read the [about page](/about/) and look: ![a photo](img/p.png)

    A second paragraph with a [full link](https://example.net/page.html).

    The very last paragraph, which only the full content carries.
    """


@pytest.fixture
def ctx(app) -> Iterator[None]:
    """An app context: the feed functions read SITE_URL and the author from the config."""
    with app.app_context():
        yield


@pytest.fixture
def berlin(config) -> None:
    """A site whose bare dates are Berlin midnight."""
    config["TIMEZONE"] = "Europe/Berlin"


def build(kind: str, posts=None, **info) -> bytes:
    """One feed of the site's latest essays, as the routes build it."""
    if posts is None:
        posts = current_posts().published[: current_app.config["FEED_ITEMS"]]
    make = {"rss": feeds.rss_feed, "atom": feeds.atom_feed, "json": feeds.json_feed}[kind]
    return make([library.render(post) for post in posts], feeds.feed_info(kind=kind, **info))


def read(document: bytes) -> feedparser.FeedParserDict:
    """Parse a feed as feed readers do, insisting that it is well-formed and valid enough."""
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def utc_iso(struct) -> str:
    """feedparser's UTC time tuple as an ISO string, for readable assertions."""
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}".format(*struct[:5])


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_xml_feeds_read_back_with_titles_links_ids_and_full_content(ctx, write_post, kind):
    write_post("2022-02-01-week-4.md", title="'Week 4: A Title'", date="2022-02-01", body=LONG_BODY)
    write_post("week-5.md", title="'Week 5: Another'", date="2022-02-08", body="Short one.")

    parsed = read(build(kind))

    assert [e.title for e in parsed.entries] == ["Week 5: Another", "Week 4: A Title"]
    entry = parsed.entries[1]
    assert entry.link == f"{SITE}/posts/week-4/"
    assert entry.id == f"{SITE}/posts/week-4/"
    content = entry.content[0].value
    assert "The very last paragraph, which only the full content carries." in content
    assert "The very last paragraph" not in entry.summary  # the summary is the teaser
    assert parsed.feed.title == "A Weekly Essay"
    assert parsed.feed.link == f"{SITE}/"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feeds_link_to_themselves(ctx, write_post, kind):
    write_post("a.md", title="A", date="2022-02-01")

    parsed = read(build(kind))

    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"{SITE}/feed.xml" if kind == "rss" else f"{SITE}/atom.xml"]


def test_rss_guid_is_the_permalink(ctx, write_post):
    write_post("a.md", title="A", date="2022-02-01")

    guid = ET.fromstring(build("rss")).find("channel/item/guid")

    assert guid.text == f"{SITE}/posts/a/"
    assert guid.get("isPermaLink") == "true"


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_every_link_and_image_in_the_content_is_absolute(ctx, write_post, kind):
    write_post("week-4.md", title="W", date="2022-02-01", body=LONG_BODY + "\nNote[^1].\n\n[^1]: x")

    document = build(kind)
    if kind == "json":
        html = json.loads(document)["items"][0]["content_html"]
    else:
        html = read(document).entries[0].content[0].value
    soup = BeautifulSoup(html, "html5lib")
    urls = [a["href"] for a in soup.find_all(href=True)] + [i["src"] for i in soup.find_all("img")]

    assert f"{SITE}/about/" in urls
    assert f"{SITE}/posts/week-4/img/p.png" in urls
    assert f"{SITE}/posts/week-4/#fn:1" in urls  # footnotes still point into the essay
    assert all(url.startswith(("https://", "http://")) for url in urls), urls


def test_rss_dates_are_rfc_822_in_the_right_time_zone(berlin, ctx, write_post):
    write_post("bare.md", title="Bare", date="2022-02-01")
    write_post("offset.md", title="Offset", date="2022-03-01T09:30:00-05:00")

    document = build("rss")
    parsed = read(document)

    dates = [item.findtext("pubDate") for item in ET.fromstring(document).iter("item")]
    assert all(RSS_DATE.match(text) for text in dates), dates
    assert [utc_iso(e.published_parsed) for e in parsed.entries] == [
        "2022-03-01T14:30",
        "2022-01-31T23:00",
    ]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_bare_date_is_midnight_in_the_site_time_zone(berlin, ctx, write_post, kind):
    write_post("bare.md", title="Bare", date="2022-02-01")

    entry = read(build(kind)).entries[0]

    assert utc_iso(entry.published_parsed) == "2022-01-31T23:00"
    if kind == "atom":  # an RSS item has no update time of its own
        assert utc_iso(entry.updated_parsed) == "2022-01-31T23:00"


def test_atom_dates_are_rfc_3339_with_an_offset(berlin, ctx, write_post):
    write_post("bare.md", title="Bare", date="2022-02-01")

    root = ET.fromstring(build("atom"))

    assert root.findtext("atom:updated", namespaces=NAMESPACES) == "2022-01-31T23:00:00+00:00"
    entry = root.find("atom:entry", NAMESPACES)
    assert entry.findtext("atom:published", namespaces=NAMESPACES) == "2022-01-31T23:00:00+00:00"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_updated_is_the_newest_essay_change_not_the_clock(ctx, write_post, kind):
    write_post("new.md", title="New", date="2022-03-01")
    write_post("old.md", title="Old", date="2022-01-01", lastmod="2022-03-15T12:00:00Z")

    parsed = read(build(kind))

    assert utc_iso(parsed.feed.updated_parsed) == "2022-03-15T12:00"
    old = parsed.entries[1]
    assert utc_iso(old.published_parsed) == "2022-01-01T00:00"
    if kind == "atom":  # an RSS item has no update time of its own
        assert utc_iso(old.updated_parsed) == "2022-03-15T12:00"


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_same_essays_give_byte_identical_feeds(ctx, write_post, app, kind):
    write_post("a.md", title="A", date="2022-02-01", tags="[one, two]", body=LONG_BODY)
    write_post("b.md", title="B", date="2022-02-08")
    first = build(kind)

    library.init_app(app)  # a fresh library re-reads every file, as a new worker process does

    assert build(kind) == first


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_an_empty_site_has_a_valid_stable_feed(ctx, kind):
    document = build(kind, posts=())

    assert document == build(kind, posts=())
    if kind == "json":
        assert json.loads(document)["items"] == []
    else:
        assert read(document).entries == []


def test_feeds_keep_the_order_given_newest_first(ctx, write_post, app):
    for day in range(1, 26):
        write_post(f"day-{day:02d}.md", title=f"'Day {day}'", date=f"2022-01-{day:02d}")

    latest = current_posts().published[: app.config["FEED_ITEMS"]]
    titles = {
        kind: [e.title for e in read(build(kind, latest)).entries] for kind in ("rss", "atom")
    }
    items = json.loads(build("json", latest))["items"]

    expected = [f"Day {day}" for day in range(25, 5, -1)]  # FEED_ITEMS defaults to 20
    assert titles["rss"] == titles["atom"] == [item["title"] for item in items] == expected


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_tags_become_categories(ctx, write_post, kind):
    write_post("a.md", title="A", date="2022-02-01", tags="[Deep Work, essays]")

    entry = read(build(kind)).entries[0]

    assert [tag.term for tag in entry.tags] == ["Deep Work", "essays"]


def test_rss_names_the_author_as_email_and_name(ctx, write_post):
    write_post("a.md", title="A", date="2022-02-01")

    channel = ET.fromstring(build("rss")).find("channel")

    assert channel.findtext("managingEditor") == "author@example.org (The Author)"
    assert channel.findtext("item/author") == "author@example.org (The Author)"


def test_atom_feed_has_author_id_title_and_updated(ctx, write_post):
    write_post("a.md", title="A", date="2022-02-01")

    parsed = read(build("atom"))

    assert parsed.feed.author_detail.name == "The Author"
    assert parsed.feed.id == f"{SITE}/atom.xml"
    assert parsed.feed.title == "A Weekly Essay"
    assert parsed.feed.updated_parsed is not None


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_odd_characters_in_titles_and_bodies_stay_well_formed(ctx, write_post, kind):
    # YAML escapes put control characters into the title: BEL, SOH and a C1 NEL.
    write_post("odd.md", title=r'"Tom & Jerry <3 \U0001F389 bell\a\x01\x85"', date="2022-02-01",
               body="Text with a \x0b vertical tab & an <b>inline</b> tag.")  # fmt: skip

    document = build(kind)

    expected = "Tom & Jerry <3 \U0001f389 bell"
    if kind == "json":
        item = json.loads(document)["items"][0]
        assert item["title"] == expected
        assert "\x0b" not in item["content_html"]
        return
    ET.fromstring(document)  # raises on anything that is not well-formed XML
    entry = read(document).entries[0]
    assert entry.title == expected
    assert "<b>inline</b>" in entry.content[0].value


def test_json_feed_follows_version_1_1(berlin, ctx, write_post):
    write_post("a.md", title="'Week 4: A'", date="2022-02-01", tags="[Deep Work]", body=LONG_BODY)

    document = json.loads(build("json"))

    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == "A Weekly Essay"
    assert document["home_page_url"] == f"{SITE}/"
    assert document["feed_url"] == f"{SITE}/feed.json"
    assert document["authors"] == [{"name": "The Author", "url": f"{SITE}/"}]
    [item] = document["items"]
    assert item["id"] == item["url"] == f"{SITE}/posts/a/"
    assert item["title"] == "Week 4: A"
    assert "The very last paragraph" in item["content_html"]
    assert item["date_published"] == "2022-01-31T23:00:00+00:00"
    assert item["tags"] == ["Deep Work"]


def test_a_tag_feed_lists_that_tag_and_links_to_itself(ctx, write_post):
    write_post("a.md", title="A", date="2022-02-01", tags="[Deep Work]")
    write_post("b.md", title="B", date="2022-02-02", tags="[other]")

    posts = [library.render(post) for post in current_posts().by_tag["deep-work"]]
    parsed = read(feeds.rss_feed(posts, feeds.feed_info("deep-work", "Deep Work")))

    assert [e.title for e in parsed.entries] == ["A"]
    assert parsed.feed.title == "A Weekly Essay: Deep Work"
    assert parsed.feed.link == f"{SITE}/tags/deep-work/"
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"{SITE}/tags/deep-work/feed.xml"]


def test_feed_info_refuses_a_mismatch_with_a_sentence(ctx):
    with pytest.raises(ValueError, match="feed_info\\(kind='atom'\\)"):
        feeds.atom_feed([], feeds.feed_info())
    with pytest.raises(ValueError, match="Tag feeds are RSS only"):
        feeds.feed_info("deep-work", "Deep Work", kind="atom")


def test_feed_dates_parse_to_the_same_instant_in_every_format(berlin, ctx, write_post):
    write_post("a.md", title="A", date="2022-02-01T09:30:00-05:00")

    instants = {
        kind: calendar.timegm(read(build(kind)).entries[0].published_parsed)
        for kind in ("rss", "atom")
    }
    published = json.loads(build("json"))["items"][0]["date_published"]

    assert instants["rss"] == instants["atom"]
    assert published == "2022-02-01T14:30:00+00:00"


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_a_non_ascii_slug_gives_a_percent_encoded_permalink(ctx, write_post, kind):
    write_post("café.md", title="Café", date="2022-02-01")

    document = build(kind)

    permalink = f"{SITE}/posts/caf%C3%A9/"
    if kind == "json":
        assert json.loads(document)["items"][0]["id"] == permalink
    else:
        assert read(document).entries[0].id == permalink


def test_feedgen_is_not_loaded_until_the_first_feed():
    # A fresh interpreter, since this one imported feedgen in the tests above; start-up time to
    # the first page is budgeted (bench/startup.py) and feedgen with lxml costs about 0.1 s.
    code = "import sys, app, newsletter.web.feeds; sys.exit('feedgen' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
