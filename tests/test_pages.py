"""What a reader's browser gets: every page, parsed as HTML, and HTTP caching."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup

ESSAY = """\
First paragraph with a [relative link](/about/).

```python
print("hello")
```
"""


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return BeautifulSoup(response.get_data(as_text=True), "html5lib")


@pytest.fixture
def essays(write_post):
    write_post(
        "2022-02-01-week-4.md",
        title="'Week 4: Tools'",
        date="2022-02-01",
        tags="[tools, Slow Living]",
        body=ESSAY,
    )
    write_post(
        "2022-02-08-week-5.md",
        title="'Week 5: Numbers'",
        date="2022-02-08",
        aliases="[/2022/02/numbers/]",
    )
    write_post(
        "2023-01-03-week-6.md",
        title="'Week 6: New Year'",
        date="2023-01-03",
        tags="[tools]",
        summary="'A summary from front matter.'",
    )
    write_post("draft.md", title="Draft", date="2022-02-09", draft="true")


@pytest.mark.parametrize(
    "url", ["/", "/posts/week-4/", "/archive/", "/tags/", "/tags/tools/", "/no-such-page/"]
)
def test_every_page_has_the_common_head_and_landmarks(client, essays, url):
    status = 404 if url == "/no-such-page/" else 200
    soup = page(client, url, status)
    assert soup.html["lang"] == "en"
    assert soup.title.get_text().strip()
    assert soup.find("meta", attrs={"name": "description"})["content"].strip()
    assert soup.find("meta", attrs={"name": "viewport"}) is not None
    assert soup.find("link", rel="canonical")["href"].startswith("https://essays.example.org/")
    feeds = {link["type"]: link["href"] for link in soup.find_all("link", rel="alternate")}
    assert feeds["application/rss+xml"].endswith("/feed.xml")
    assert feeds["application/atom+xml"].endswith("/atom.xml")
    assert feeds["application/feed+json"].endswith("/feed.json")
    assert soup.find("meta", property="og:title")["content"]
    assert soup.find("a", class_="skip-link")["href"] == "#content"
    assert soup.find("main", id="content") is not None
    assert soup.find("header") and soup.find("footer") and soup.find("nav")
    assert soup.find("script") is None


def test_home_lists_latest_essays_with_date_summary_and_reading_time(client, essays):
    soup = page(client, "/")
    items = soup.select(".post-list article")
    assert [item.h2.get_text(strip=True) for item in items] == [
        "Week 6: New Year",
        "Week 5: Numbers",
        "Week 4: Tools",
    ]
    newest = items[0]
    assert newest.find("time")["datetime"].startswith("2023-01-03")
    assert newest.find("time").get_text() == "3 January 2023"
    assert "min read" in newest.get_text()
    assert newest.select_one(".summary").get_text(strip=True) == "A summary from front matter."


def test_home_is_paginated(client, essays, app):
    app.config["POSTS_PER_PAGE"] = 2
    first = page(client, "/")
    assert len(first.select(".post-list article")) == 2
    assert first.find("a", rel="next")["href"] == "/page/2/"
    second = page(client, "/page/2/")
    assert [a.h2.get_text(strip=True) for a in second.select(".post-list article")] == [
        "Week 4: Tools"
    ]
    assert second.find("a", rel="prev")["href"] == "/"
    assert client.get("/page/3/").status_code == 404
    assert client.get("/page/1/").headers["Location"].endswith("/")


def test_essay_page_shows_the_essay_and_its_neighbours(client, essays):
    soup = page(client, "/posts/week-5/")
    assert soup.title.get_text() == "Week 5: Numbers · A Weekly Essay"
    assert soup.h1.get_text() == "Week 5: Numbers"
    assert soup.find("meta", property="og:type")["content"] == "article"
    assert soup.find("link", rel="canonical")["href"] == (
        "https://essays.example.org/posts/week-5/"
    )
    assert soup.find("a", rel="prev")["href"] == "/posts/week-4/"
    assert soup.find("a", rel="next")["href"] == "/posts/week-6/"


def test_essay_page_renders_code_tags_and_carries_a_working_subscribe_form(client, essays):
    soup = page(client, "/posts/week-4/")
    assert soup.select_one(".essay-body .highlight") is not None
    assert [a.get_text() for a in soup.select(".post-meta a.tag")] == ["#tools", "#Slow Living"]
    assert soup.select_one(".post-meta a.tag:nth-of-type(2)")["href"] == "/tags/slow-living/"
    form = soup.find("form", class_="subscribe-form")
    assert form["action"] == "/subscribe" and form["method"] == "post"
    label = form.find("label")
    assert form.find(id=label["for"])["type"] == "email"


def test_shared_pages_are_identical_for_every_reader_and_set_no_cookie(app, essays):
    bodies = set()
    for _ in range(2):
        response = app.test_client().get("/posts/week-4/")
        assert "Set-Cookie" not in response.headers
        assert "public" in response.headers["Cache-Control"]
        bodies.add(response.data)
    assert len(bodies) == 1


def test_drafts_and_unknown_slugs_are_not_found(client, essays):
    assert client.get("/posts/draft/").status_code == 404
    soup = page(client, "/posts/nothing/", status=404)
    assert soup.h1.get_text() == "Page not found"
    assert soup.find("meta", attrs={"name": "robots"})["content"] == "noindex"


def test_archive_groups_essays_by_year(client, essays):
    soup = page(client, "/archive/")
    years = {
        section.h2.get_text(): [a.get_text() for a in section.find_all("a")]
        for section in soup.main.find_all("section")
    }
    assert years == {"2023": ["Week 6: New Year"], "2022": ["Week 5: Numbers", "Week 4: Tools"]}


def test_tag_pages_list_their_essays(client, essays):
    soup = page(client, "/tags/tools/")
    assert [a.h2.get_text(strip=True) for a in soup.select(".post-list article")] == [
        "Week 6: New Year",
        "Week 4: Tools",
    ]
    assert soup.find("link", rel="alternate", href=lambda h: h.endswith("/tags/tools/feed.xml"))
    index = page(client, "/tags/")
    assert "Slow Living" in index.main.get_text()
    assert client.get("/tags/unknown/").status_code == 404


def test_aliases_redirect_permanently(client, essays):
    for url in ("/2022/02/numbers/", "/2022/02/numbers"):
        response = client.get(url)
        assert response.status_code == 301
        assert response.headers["Location"] == "/posts/week-5/"


def test_sitemap_lists_every_public_page(client, essays):
    response = client.get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ElementTree.fromstring(response.data)
    urls = {loc.text for loc in root.findall("s:url/s:loc", namespace)}
    assert "https://essays.example.org/posts/week-4/" in urls
    assert "https://essays.example.org/tags/tools/" in urls
    assert not any("draft" in url for url in urls)


def test_robots_points_at_the_sitemap_and_keeps_personal_links_out(client):
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: https://essays.example.org/sitemap.xml" in text
    assert "Disallow: /unsubscribe/" in text


def test_stylesheet_has_dark_mode_and_code_colours_and_caches_forever(client, essays):
    soup = page(client, "/")
    href = soup.find("link", rel="stylesheet")["href"]
    response = client.get(href)
    css = response.get_data(as_text=True)
    assert response.mimetype == "text/css"
    assert "prefers-color-scheme: dark" in css
    assert ".highlight .k" in css
    assert "immutable" in response.headers["Cache-Control"]


def test_an_essay_page_with_its_css_is_well_under_50_kb(client, essays):
    html = client.get("/posts/week-4/").data
    css_url = BeautifulSoup(html, "html.parser").find("link", rel="stylesheet")["href"]
    assert len(html) + len(client.get(css_url).data) < 50_000


def test_a_broken_file_leaves_the_rest_of_the_site_up(client, essays, write_post):
    write_post("broken.md", raw=b"---\ntitle: [unclosed\n---\n")
    assert client.get("/").status_code == 200
    assert client.get("/posts/week-4/").status_code == 200


def test_a_new_file_appears_without_a_restart(client, essays, write_post):
    assert client.get("/posts/week-7/").status_code == 404
    write_post("2023-01-10-week-7.md", title="'Week 7: Fresh'", date="2023-01-10")
    assert client.get("/posts/week-7/").status_code == 200
    assert page(client, "/").select(".post-list h2")[0].get_text(strip=True) == "Week 7: Fresh"


def test_pages_answer_conditional_requests_with_304(client, essays):
    first = client.get("/archive/")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/archive/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    by_date = client.get("/archive/", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert by_date.status_code == 304


def test_essay_pages_and_feeds_answer_conditional_requests_with_304(client, essays):
    for url in ("/posts/week-4/", "/", "/feed.xml"):
        first = client.get(url)
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, url
        assert again.data == b""


def test_a_changed_essay_changes_the_etag(client, essays, write_post):
    before = client.get("/archive/").headers["ETag"]
    write_post("2022-02-01-week-4.md", title="'Week 4: Tools, revised'", date="2022-02-01")
    response = client.get("/archive/", headers={"If-None-Match": before})
    assert response.status_code == 200
    assert response.headers["ETag"] != before


def test_a_rendered_page_is_served_again_without_entering_flask(app, client, essays):
    requests_seen = []
    app.before_request(lambda: requests_seen.append(1))
    first = client.get("/posts/week-4/")
    again = client.get("/posts/week-4/")
    head = client.head("/posts/week-4/")
    assert requests_seen == [1]  # the second GET and the HEAD never reached a view
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Security-Policy"]  # security headers still added
    assert head.status_code == 200 and head.data == b""
    assert client.get("/posts/week-4/?utm_source=x").status_code == 200
    assert requests_seen == [1, 1]  # a query string goes to Flask


def test_the_fast_path_notices_a_changed_essay(client, essays, write_post):
    client.get("/posts/week-4/")
    write_post("2022-02-01-week-4.md", title="'Week 4: Tools, revised'", date="2022-02-01")
    assert "Tools, revised" in client.get("/posts/week-4/").get_data(as_text=True)


def test_page_numbers_have_one_url_each(client, essays, app):
    app.config["POSTS_PER_PAGE"] = 2
    assert client.get("/page/02/").headers["Location"].endswith("/page/2/")
    soup = page(client, "/page/2/")
    assert soup.find("link", rel="canonical")["href"].endswith("/page/2/")


def test_deleting_the_newest_essay_is_not_answered_with_304_by_date(client, essays, posts_dir, app):
    first = client.get("/feed.xml")
    (posts_dir / "2023-01-03-week-6.md").unlink()
    later = datetime.now(UTC) + timedelta(seconds=2)  # the deletion, a moment after that fetch
    os.utime(posts_dir, (later.timestamp(), later.timestamp()))
    app.extensions["post_library"].clock = lambda: later
    again = client.get("/feed.xml", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 200
    assert "Week 6" not in again.get_data(as_text=True)


# --- issue 14: reads like a publication -------------------------------------------------------


def test_home_heading_is_the_description_not_the_site_title_again(client, essays, app):
    soup = page(client, "/")
    assert soup.h1.get_text(strip=True) == app.config["SITE_DESCRIPTION"]
    assert soup.select_one(".site-title").get_text(strip=True) == app.config["SITE_TITLE"]
    assert app.config["SITE_TITLE"] not in soup.main.get_text()


def test_home_has_an_about_section_and_every_essay_an_author_line(client, essays, app, config):
    app.config["AUTHOR_BIO"] = "Writes about tools and slow living."
    about = page(client, "/").find("section", class_="about")
    assert about.h2.get_text() == "About"
    assert about.get_text(" ", strip=True) == (
        "About Written by The Author . Writes about tools and slow living."
    )
    author = page(client, "/posts/week-4/").select_one("article .essay-author")
    assert "The Author" in author.get_text() and "slow living" in author.get_text()


def test_every_page_links_an_svg_favicon_that_is_served(client, essays):
    icon = page(client, "/").find("link", rel="icon")
    assert icon["type"] == "image/svg+xml"
    response = client.get(icon["href"])
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert len(response.data) < 1024 and b"<svg" in response.data
    old = client.get("/favicon.ico")
    assert old.status_code == 301 and old.headers["Location"].endswith("/favicon.svg")


def test_no_share_image_gives_a_summary_card_without_og_image(client, essays):
    soup = page(client, "/posts/week-4/")
    assert soup.find("meta", property="og:image") is None
    assert soup.find("meta", attrs={"name": "twitter:card"})["content"] == "summary"


def test_site_image_is_the_share_image_of_every_page(client, essays, app):
    app.config["SITE_IMAGE"] = "/static/card.png"
    for url in ("/", "/posts/week-4/", "/tags/"):
        soup = page(client, url)
        assert soup.find("meta", property="og:image")["content"] == (
            "https://essays.example.org/static/card.png"
        )
        card = soup.find("meta", attrs={"name": "twitter:card"})["content"]
        assert card == "summary_large_image"
        assert soup.find("meta", attrs={"name": "twitter:image"})["content"].endswith("card.png")


def test_an_essays_images_front_matter_wins_over_site_image(client, write_post, app):
    app.config["SITE_IMAGE"] = "https://cdn.example.net/site.png"
    write_post("pic.md", title="Pic", date="2022-01-01", images="[images/pic.jpg, other.jpg]")
    write_post("plain.md", title="Plain", date="2022-01-02")
    image = page(client, "/posts/pic/").find("meta", property="og:image")["content"]
    assert image == "https://essays.example.org/images/pic.jpg"
    plain = page(client, "/posts/plain/").find("meta", property="og:image")["content"]
    assert plain == "https://cdn.example.net/site.png"


def test_tags_page_shows_counts_most_used_first_with_latest_titles(client, essays):
    soup = page(client, "/tags/")
    entries = soup.select(".tag-index > li")
    headings = [entry.h2.get_text(" ", strip=True) for entry in entries]
    assert headings == ["tools 2 essays", "Slow Living 1 essay"]
    assert [a.get_text() for a in entries[0].select(".tag-latest a")] == [
        "Week 6: New Year",
        "Week 4: Tools",
    ]
    assert "3 essays under 2 subjects" in soup.select_one(".lede").get_text()


def test_stylesheet_keeps_lists_to_one_rule_footnotes_in_the_line_and_no_web_font(client, essays):
    html = client.get("/").data
    css_url = BeautifulSoup(html, "html.parser").find("link", rel="stylesheet")["href"]
    css = client.get(css_url).get_data(as_text=True)
    assert ".post-list li:last-child { border-bottom: 0; }" in css
    assert "sup, sub { line-height: 0; }" in css
    assert "@font-face" not in css and "url(" not in css
