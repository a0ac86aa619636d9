"""One essay, one date, one set of links: every reader of a Post shows the same day in
`TIMEZONE`, and feeds and emails carry only absolute URLs, however the HTML was written."""

from __future__ import annotations

import email.policy
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.links import absolutize

LATE_EVENING = "2022-02-01T23:30:00-05:00"  # already 2 February in UTC
RAW_HTML_BODY = 'See <a href=notes/>the notes</a> and <img src=pic.png alt="a picture">.'
BASE = "https://essays.example.org/posts/late/"


@pytest.fixture
def late_essay(write_post):
    return write_post("late.md", title="Late", date=LATE_EVENING, body=RAW_HTML_BODY)


def test_the_page_shows_the_day_in_the_site_time_zone(client, late_essay):
    page = BeautifulSoup(client.get("/posts/late/").get_data(as_text=True), "html5lib")
    assert page.find("time").get_text() == "2 February 2022"


def test_the_email_shows_the_same_day_as_the_page(runner, smtp_server, late_essay):
    result = runner.invoke(args=["send", "late", "--test", "reader@example.org"])
    assert result.exit_code == 0, result.output
    [message] = smtp_server.messages
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "2 February 2022" in text and "1 February" not in text
    metas = BeautifulSoup(html, "html5lib").find_all("p", class_="meta")
    assert any("2 February 2022 ·" in meta.text for meta in metas)


def test_posts_list_shows_times_in_the_site_time_zone(runner, late_essay):
    result = runner.invoke(args=["posts", "list"])
    assert "2022-02-02 04:30" in result.output


@pytest.mark.parametrize("feed", ["/feed.xml", "/atom.xml"])
def test_unquoted_relative_urls_become_absolute_in_feeds(client, late_essay, feed):
    parsed = feedparser.parse(client.get(feed).get_data())
    [entry] = parsed.entries
    soup = BeautifulSoup(entry.content[0].value, "html5lib")
    assert soup.find("a")["href"] == BASE + "notes/"
    assert soup.find("img")["src"] == BASE + "pic.png"


def test_unquoted_relative_urls_become_absolute_in_email(runner, smtp_server, late_essay):
    runner.invoke(args=["send", "late", "--test", "reader@example.org"])
    [message] = smtp_server.messages
    assert isinstance(message.policy, email.policy.EmailPolicy)
    soup = BeautifulSoup(message.get_body(("html",)).get_content(), "html5lib")
    essay = soup.find("div", class_="essay")
    assert essay.find("a")["href"] == BASE + "notes/"
    assert essay.find("img")["src"] == BASE + "pic.png"
    text = message.get_body(("plain",)).get_content()
    assert BASE + "notes/" in text


# --- generated HTML: every URL attribute, however quoted, comes out absolute ---------------

RELATIVE = st.text(
    alphabet=st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("/.-_?=#%"),
    min_size=1,
    max_size=20,
).filter(lambda url: url.strip() and ":" not in url)
QUOTES = st.sampled_from(['"{}"', "'{}'", "{}"])
ATTRIBUTE_CASE = st.sampled_from(["href", "HREF", "Href"])
TEXT = st.text(alphabet=st.characters(exclude_characters="<>&\"'\x00"), max_size=20)


@st.composite
def fragments(draw) -> tuple[str, list[str]]:
    """An HTML fragment of links and images, and the relative URLs in it, in order."""
    urls, parts = [], []
    for _ in range(draw(st.integers(1, 4))):
        url = draw(RELATIVE)
        quoted = draw(QUOTES).format(url)
        if "=" in url and quoted == url:  # '=' needs quotes in HTML
            quoted = f'"{url}"'
        if draw(st.booleans()):
            parts.append(f"<a {draw(ATTRIBUTE_CASE)}={quoted}>{draw(TEXT)}</a>")
        else:
            parts.append(f'<img alt="x" src={quoted}>')
        parts.append(draw(TEXT))
        urls.append(url)
    return "<p>" + "".join(parts) + "</p>", urls


@settings(max_examples=300, deadline=None)
@given(fragments())
def test_every_generated_url_comes_out_absolute(fragment):
    html, urls = fragment
    soup = BeautifulSoup(absolutize(html, BASE), "html5lib")
    found = [tag.get("href") or tag.get("src") for tag in soup.find_all(["a", "img"])]
    expected = [BASE + url.strip() if url.strip().startswith("#") else urljoin(BASE, url.strip())
                for url in urls]  # fmt: skip
    assert found == expected
    assert all(urlsplit(url).scheme == "https" for url in found)
    before = BeautifulSoup(html, "html5lib").get_text()
    assert soup.get_text() == before  # the text around the links is left as it was
