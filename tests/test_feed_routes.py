"""The feeds as feed readers fetch them: over HTTP, with the right types and validators."""

from __future__ import annotations

import feedparser
import pytest


@pytest.fixture
def essays(write_post):
    write_post(
        "a.md",
        title="'Week 1: A'",
        date="2022-02-01",
        tags="[tools]",
        body="See [the about page](/about/) and ![a photo](img/p.png).",
    )
    write_post("b.md", title="'Week 2: B'", date="2022-02-08")
    write_post("draft.md", title="Draft", date="2022-02-09", draft="true")


@pytest.mark.parametrize(
    ("url", "mimetype"),
    [
        ("/feed.xml", "application/rss+xml"),
        ("/atom.xml", "application/atom+xml"),
        ("/tags/tools/feed.xml", "application/rss+xml"),
    ],
)
def test_xml_feeds_parse_cleanly_with_full_absolute_content(client, essays, url, mimetype):
    response = client.get(url)
    assert response.mimetype == mimetype
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0
    titles = [entry.title for entry in feed.entries]
    assert "Draft" not in titles
    essay = next(entry for entry in feed.entries if entry.title == "Week 1: A")
    assert essay.link == "https://essays.example.org/posts/a/"
    content = essay.content[0].value
    assert 'href="https://essays.example.org/about/"' in content
    assert 'src="https://essays.example.org/posts/a/img/p.png"' in content


def test_json_feed_lists_the_same_essays(client, essays):
    response = client.get("/feed.json")
    assert response.mimetype == "application/feed+json"
    data = response.get_json(force=True)
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["title"] for item in data["items"]] == ["Week 2: B", "Week 1: A"]


def test_feeds_respect_feed_items(client, essays, app):
    app.config["FEED_ITEMS"] = 1
    assert len(feedparser.parse(client.get("/feed.xml").data).entries) == 1


def test_unknown_tag_feed_is_not_found(client, essays):
    assert client.get("/tags/nothing/feed.xml").status_code == 404


def test_feed_readers_polling_get_304_by_etag_and_by_date(client, essays):
    first = client.get("/atom.xml")
    assert "max-age" in first.headers["Cache-Control"]
    by_etag = client.get("/atom.xml", headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get("/atom.xml", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert (by_etag.status_code, by_date.status_code) == (304, 304)
