"""Markdown as Hugo renders it: safe on any input, the same structure in feeds and email."""

from __future__ import annotations

import feedparser
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.content.library import get_library
from newsletter.content.markdown_check import hugo_differences
from newsletter.content.markdown_hugo import new_markdown, render_markdown
from newsletter.content.plaintext import html_to_plain
from newsletter.mail.essay import render_parts
from tests.hugo_structure import structure

SAMPLE = "Some questions are:\n- A question?\n- Another one?\n\n* * *\nText after a rule.\n"

# Lines made of the characters Markdown gives meaning to, so that odd combinations come up.
_MARKDOWN_LINE = st.text(alphabet="-*+>#`~|[]()!_\\<>/=:1). ax\t", max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(_MARKDOWN_LINE, max_size=8))
def test_any_markdown_renders_to_html_that_parses_and_to_text(lines: list[str]) -> None:
    """No Markdown makes rendering or the text part raise, and the HTML parses."""
    fragment = render_markdown("\n".join(lines))
    BeautifulSoup(fragment, "html5lib")
    assert isinstance(html_to_plain(fragment, markup=False), str)
    assert isinstance(html_to_plain(fragment), str)  # the email's text part


# Documents whose extensions keep state between conversions: footnotes, abbreviations,
# heading ids, fences and raw HTML in the stash, task lists, smart quotes.
_STATEFUL_PARTS = [
    "Text[^1] and[^note].", "[^1]: A footnote.", "[^note]: Another.", "*[HTML]: HyperText",
    "HTML here.", "# Title", "## Title", "```python\nx = 1\n```", "<div>raw</div>",
    "- [ ] task", "- [x] done", '"quoted" -- text', "~~gone~~", "www.example.org",
    "Term\n:   Definition", "| a | b |\n|---|---|\n| 1 | 2 |", "{: #id }", "1) one",
]  # fmt: skip
_STATEFUL_DOCUMENT = st.lists(st.sampled_from(_STATEFUL_PARTS) | _MARKDOWN_LINE, max_size=6).map(
    "\n\n".join
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_STATEFUL_DOCUMENT, min_size=2, max_size=5))
def test_a_reused_renderer_renders_each_document_as_a_fresh_one(documents: list[str]) -> None:
    """One Markdown instance per thread, reset between documents, gives exactly what a new
    instance per document gives: nothing of one document leaks into the next."""
    assert [render_markdown(text) for text in documents] == [
        new_markdown().convert(text) for text in documents
    ]


def test_feed_and_email_carry_the_list_under_a_paragraph(app, client, write_post):
    """The sample essay's list is a list in the RSS content and the email's HTML part."""
    write_post("week-4.md", title="Week 4", date="2022-02-01", body=SAMPLE)
    expected = structure(render_markdown(SAMPLE))
    assert expected[1][0] == "ul"
    feed = feedparser.parse(client.get("/feed.xml").data)
    assert structure(feed.entries[0].content[0].value) == expected
    with app.app_context():
        post = get_library().rescan().every_post[0]
        _, email_html = render_parts(post)
    email_list = BeautifulSoup(email_html, "html5lib").find("ul")
    assert [li.get_text(strip=True) for li in email_list.find_all("li")] == [
        "A question?",
        "Another one?",
    ]


def test_posts_check_warns_about_constructs_unlike_hugo(runner, write_post):
    """The warning names the file and the line of the construct."""
    write_post(
        "bullets.md",
        title="B",
        date="2022-01-01",
        body='Text.\n\n```python title="x.py"\nx = 1\n```\n',
    )
    result = runner.invoke(args=["posts", "check"])
    assert result.exit_code == 0
    assert "bullets.md, line 8: a fence's title=... is shown as a label" in result.output


def test_no_warning_for_constructs_now_rendered_as_hugo() -> None:
    assert hugo_differences(SAMPLE) == []
    assert hugo_differences('```python title="x.py"\nx\n```\n') == [
        (1, "a fence's title=... is shown as a label here; Hugo drops it.")
    ]
