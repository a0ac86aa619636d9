"""Post files become Post values: every front-matter form and key, and every broken case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from newsletter.content.frontmatter import PostError, slug_from_file_name
from newsletter.content.posts import parse_post
from newsletter.content.rendered import render

BERLIN = ZoneInfo("Europe/Berlin")

OUTLINE = """---
title: 'Week 4: Some Title With A Colon'
date: 2022-02-01
weight: 1
---

First paragraph, plain prose, sometimes with  two spaces between words.

Paragraph with an [inline link](https://example.org/some-page.html) in it.

- A question as a list item?
- Another one?

* * *
Text right after a horizontal rule written as `* * *`.

***
Another section, this rule written as `***`.

Trailing paragraph ending with a link to [a site](https://example.net/)."""


@pytest.fixture(autouse=True)
def _posts_folder(tmp_path, monkeypatch):
    """Each test writes its files into a temporary posts folder (bodies are read from disk)."""
    (tmp_path / "posts").mkdir()
    monkeypatch.chdir(tmp_path)


def parse(text: str | bytes, name: str = "2022-02-01-week-4.md", tz=UTC):
    """Write `text` as posts/<name> and parse it as the library does."""
    raw = text.encode() if isinstance(text, str) else text
    path = Path("posts") / name
    path.write_bytes(raw)
    return parse_post(path, raw, tz)


def read(text: str | bytes, name: str = "2022-02-01-week-4.md", tz=UTC):
    """Parse `text` as posts/<name>, then read its body: the post as pages and feeds get it."""
    return render(parse(text, name, tz))


def test_the_outline_from_post_format_parses_as_written():
    post = read(OUTLINE)
    assert post.title == "Week 4: Some Title With A Colon"
    assert post.date == datetime(2022, 2, 1, tzinfo=UTC)
    assert post.weight == 1
    assert post.slug == "week-4"
    soup = BeautifulSoup(post.html, "html.parser")
    assert len(soup.find_all("hr")) == 2
    paragraphs = [p.get_text() for p in soup.find_all("p")]
    assert "Text right after a horizontal rule written as * * *." in paragraphs
    assert "Another section, this rule written as ***." in paragraphs
    assert [li.get_text() for li in soup.find_all("li")] == [
        "A question as a list item?",
        "Another one?",
    ]
    assert soup.find("a", href="https://example.net/").get_text() == "a site"


@pytest.mark.parametrize(
    "variant",
    [
        OUTLINE.replace("---\n", "--- \n", 1),  # trailing space after the fence
        OUTLINE.replace("\n", "\r\n"),  # Windows line endings
        "\ufeff" + OUTLINE,  # byte-order mark
        OUTLINE.rstrip("\n"),  # no final newline
    ],
    ids=["trailing-space", "crlf", "bom", "no-final-newline"],
)
def test_real_world_file_quirks_still_parse(variant):
    post = read(variant)
    assert post.title == "Week 4: Some Title With A Colon"
    assert "<hr>" in post.html


def test_toml_front_matter_is_read_like_hugo():
    post = parse(
        '+++\ntitle = "Week 9: TOML"\ndate = 2022-03-01T09:30:00-05:00\n'
        'tags = ["a", "b"]\nweight = 2\n+++\nBody.\n'
    )
    assert post.title == "Week 9: TOML"
    assert post.date == datetime(2022, 3, 1, 14, 30, tzinfo=UTC)
    assert post.tags == ("a", "b")
    assert post.weight == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-02-01", datetime(2022, 2, 1, tzinfo=BERLIN)),
        ("'2022-02-01'", datetime(2022, 2, 1, tzinfo=BERLIN)),
        ("2022-02-01T09:30:00", datetime(2022, 2, 1, 9, 30, tzinfo=BERLIN)),
        ("2022-02-01 09:30:00", datetime(2022, 2, 1, 9, 30, tzinfo=BERLIN)),
        ("2022-02-01T09:30:00-05:00", datetime(2022, 2, 1, 14, 30, tzinfo=UTC)),
        ("'2022-02-01T09:30:00Z'", datetime(2022, 2, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_dates_in_every_form_become_aware_datetimes(value, expected):
    post = parse(f"---\ntitle: T\ndate: {value}\n---\nBody\n", tz=BERLIN)
    assert post.date == expected
    assert post.date.tzinfo is not None


def test_every_hugo_key_is_understood_and_unknown_keys_are_kept():
    post = read(
        "---\ntitle: T\ndate: 2022-02-01\nweight: 3\ndraft: false\n"
        "publishDate: 2022-02-02\nexpiryDate: 2030-01-01\nlastmod: 2022-02-05\n"
        "slug: custom-slug\nsummary: A *teaser*.\ndescription: For search engines.\n"
        "tags: [one, two]\ncategories: [essays]\naliases: [old/url/, /2022/old]\n"
        "series: letters\n---\nBody\n"
    )
    assert post.slug == "custom-slug"
    assert post.publish_date == datetime(2022, 2, 2, tzinfo=UTC)
    assert post.published_at == post.publish_date
    assert post.expiry_date == datetime(2030, 1, 1, tzinfo=UTC)
    assert post.updated_at == datetime(2022, 2, 5, tzinfo=UTC)
    assert post.tags == ("one", "two")
    assert post.categories == ("essays",)
    assert post.aliases == ("/old/url/", "/2022/old")
    assert post.summary_html == "<p>A <em>teaser</em>.</p>"
    assert post.summary_text == "For search engines."
    assert post.params == {"series": "letters"}


def test_summary_falls_back_to_more_marker_then_first_paragraph():
    with_marker = read("---\ntitle: T\ndate: 2022-02-01\n---\nIntro one.\n\n<!--more-->\n\nRest.\n")
    assert with_marker.summary_text == "Intro one."
    assert "<!--more-->" not in with_marker.html
    plain = read("---\ntitle: T\ndate: 2022-02-01\n---\nFirst one.[^1]\n\nSecond.\n\n[^1]: Note.\n")
    assert plain.summary_html == "<p>First one.</p>"


def test_markdown_features_tables_footnotes_code_ids_and_smart_quotes():
    post = read(
        '---\ntitle: T\ndate: 2022-02-01\n---\n## A "Heading"\n\n'
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "Text[^n] -- and 'quotes'.\n\n[^n]: A note.\n\n```python\nx = 1\n```\n\n"
        '<div class="raw">kept</div>\n'
    )
    soup = BeautifulSoup(post.html, "html.parser")
    assert soup.find("h2")["id"] == "a-heading"
    assert soup.find("table").find("td").get_text() == "1"
    assert soup.find("div", class_="footnote") is not None
    assert soup.find("div", class_="highlight").find("span") is not None
    assert "\u2013" in soup.get_text() and "\u2018quotes\u2019" in soup.get_text()
    assert soup.find("div", class_="raw").get_text() == "kept"


def test_word_count_and_reading_time_are_derived():
    post = read("---\ntitle: T\ndate: 2022-02-01\n---\n" + "word " * 700)
    assert post.word_count == 700
    assert post.reading_minutes == 4


@pytest.mark.parametrize(
    ("name", "slug"),
    [("2022-02-01-week-4.md", "week-4"), ("week-4.md", "week-4"), ("2022-02-01.md", "2022-02-01")],
)
def test_slug_comes_from_file_name_without_date_prefix(name, slug):
    assert slug_from_file_name(Path(name)) == slug


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"---\ntitle: 'Unclosed\ndate: 2022-02-01\n---\nx", "not valid YAML"),
        (b"---\ndate: 2022-02-01\n---\nx", "no 'title'"),
        (b"---\ntitle: T\n---\nx", "no 'date'"),
        (b"---\ntitle: T\ndate: next tuesday\n---\nx", "is not a date"),
        (b"---\ntitle: T\ndate: 2022-02-30\n---\nx", "impossible value (day is out of range"),
        (b"---\ntitle: T\ndate: 2022-02-01\n---\n\xff\xfe bad bytes", "not valid UTF-8"),
        (b"Just text, no front matter.", "no front matter"),
        (b"---\ntitle: T\ndate: 2022-02-01\nno closing fence", "not closed"),
        (b"---\ntitle: T\ndate: 2022-02-01\nweight: heavy\n---\nx", "whole number"),
        (b"---\ntitle: T\ndate: 2022-02-01\ntags: 3\n---\nx", "must be a list"),
        (b"---\n- a list\n---\nx", "key: value"),
    ],
)
def test_broken_files_raise_an_error_naming_the_file_and_the_fix(raw, reason):
    with pytest.raises(PostError) as caught:
        parse(raw, name="broken.md")
    message = str(caught.value)
    assert message.startswith("Post file posts/broken.md: ")
    assert reason in message
    assert message.endswith(".")


def test_publishing_rules_drafts_scheduled_and_expired():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    live = parse("---\ntitle: T\ndate: 2023-12-31\n---\nx")
    draft = parse("---\ntitle: T\ndate: 2023-12-31\ndraft: true\n---\nx")
    future_date = parse("---\ntitle: T\ndate: 2024-02-01\n---\nx")
    future_publish = parse("---\ntitle: T\ndate: 2023-01-01\npublishDate: 2024-01-02\n---\nx")
    expired = parse("---\ntitle: T\ndate: 2023-01-01\nexpiryDate: 2023-12-31\n---\nx")
    assert live.is_published(now)
    assert [p.state(now) for p in (draft, future_date, future_publish, expired)] == [
        "draft",
        "scheduled",
        "scheduled",
        "expired",
    ]
    assert not any(p.is_published(now) for p in (draft, future_date, future_publish, expired))
    assert future_publish.is_published(now + timedelta(days=1))


def test_a_bare_date_takes_the_site_time_zone():
    post = parse("---\ntitle: T\ndate: 2022-02-01\n---\nx", tz=BERLIN)
    assert post.date.astimezone(UTC) == datetime(2022, 1, 31, 23, tzinfo=UTC)
    assert post.date.date() == date(2022, 2, 1)
    assert post.date.utcoffset() == timezone(timedelta(hours=1)).utcoffset(None)


def test_plain_text_summary_keeps_punctuation_next_to_links():
    post = read("---\ntitle: T\ndate: 2022-02-01\n---\nRead [this page](/x/). And *that*, too.\n")
    assert post.summary_text == "Read this page. And that, too."


def test_a_bad_yaml_hint_is_only_given_when_it_applies():
    with pytest.raises(PostError) as colon:
        parse("---\ntitle: Week 4: A Title\ndate: 2022-02-01\n---\nx\n")
    assert "Quote values that contain a colon" in str(colon.value)
    with pytest.raises(PostError) as control:
        parse("---\ntitle: 'bad \x07 bell'\ndate: 2022-02-01\n---\nx\n")
    assert "not valid YAML" in str(control.value)
    assert "colon" not in str(control.value)


def test_every_problem_of_a_file_is_named_at_once():
    with pytest.raises(PostError) as caught:
        parse("---\nweight: heavy\ntags: 3\n---\nx\n", name="many.md")
    message = str(caught.value)
    for reason in ("no 'title'", "no 'date'", "'weight' must be a whole number", "must be a list"):
        assert reason in message


@pytest.mark.parametrize(
    "body",
    [
        "# A heading\n\nThe first paragraph [with a ref][r].\n\nMore.\n\n[r]: https://example.org/",
        "```python\nx = 1\n\ny = 2\n```\n\nThe first paragraph.\n\nMore.",
        "* * *\nThe first paragraph after a rule.\n\nMore.",
        "- a list\n- of items\n\n> a quote\n\n| a |\n|---|\n| 1 |\n\n---\n\nThe first paragraph.",
    ],
)
def test_the_summary_is_the_first_paragraph_whatever_comes_before_it(body):
    post = read(f"---\ntitle: T\ndate: 2022-02-01\n---\n{body}\n")
    first = BeautifulSoup(post.html, "html.parser").find("p")
    assert post.summary_html == str(first)


def test_a_title_is_one_line_without_control_characters():
    post = parse('---\ntitle: "Hi\\nBcc: x@example.org\\a"\ndate: 2022-02-01\n---\nx\n')
    assert post.title == "Hi Bcc: x@example.org"
