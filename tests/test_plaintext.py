"""The email's text part reads like the essay: marked headings, aligned tables, code kept
verbatim and indented, list markers; one HTML-to-text renderer serves meta descriptions too."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.content.markdown_hugo import render_markdown
from newsletter.content.plaintext import html_to_plain


def text_of(markdown: str) -> str:
    return html_to_plain(render_markdown(markdown))


def test_headings_are_marked():
    text = text_of("Intro.\n\n## A section\n\nBody.\n\n### A smaller one\n")
    assert "\n\n## A section\n\n" in text
    assert "### A smaller one" in text


def test_tables_come_out_as_aligned_columns():
    html = (
        "<table><thead><tr><th>Name</th><th>Weeks</th></tr></thead>"
        "<tbody><tr><td>Reading</td><td>3</td></tr><tr><td>Writing often</td><td>12</td></tr>"
        "</tbody></table>"
    )
    assert html_to_plain(html).splitlines() == [
        "Name           Weeks",
        "-------------  -----",
        "Reading        3",
        "Writing often  12",
    ]


def test_a_table_too_wide_for_the_text_part_gives_one_row_per_line():
    cells = "".join(f"<td>{'word ' * 6}{n}</td>" for n in range(4))
    text = html_to_plain(f"<table><tr>{cells}</tr><tr><td>a</td><td>b</td></tr></table>")
    first, second = text.splitlines()
    assert first.count(" | ") == 3 and second == "a | b"


def test_code_blocks_stay_verbatim_and_indented():
    code = "def f(x):\n    if x  >  1:\n        return  x\n"
    text = text_of(f"Before.\n\n```python\n{code}```\n\nAfter.\n")
    assert "\n".join("    " + line for line in code.splitlines()) in text


def test_list_items_keep_their_markers():
    text = text_of("Steps:\n\n1. First\n2. Second\n\nAnd:\n\n- one\n- two\n")
    assert "1. First\n2. Second" in text
    assert "- one\n- two" in text


def test_meta_descriptions_use_the_same_html_parser():
    html = '<p>Read <a title="a > b" href="/x">this</a> now.</p><script>hidden()</script>'
    assert html_to_plain(html, markup=False) == "Read this now."


# --- generated essays: Markdown to HTML to text keeps every word and every code line --------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
PROSE = st.lists(WORD, min_size=1, max_size=30).map(" ".join)
CODE_LINE = st.text(alphabet="abcxyz()=+:, ", min_size=1, max_size=90).map(str.rstrip).filter(bool)


@st.composite
def blocks(draw) -> tuple[str, list[str], list[str]]:
    """One Markdown block, its words, and its code lines."""
    kind = draw(st.sampled_from(["paragraph", "heading", "list", "code", "table"]))
    if kind == "code":
        lines = draw(st.lists(CODE_LINE, min_size=1, max_size=4))
        return "```\n" + "\n".join(lines) + "\n```", [], lines
    if kind == "table":
        cells = draw(st.lists(WORD, min_size=4, max_size=4))
        return f"| {cells[0]} | {cells[1]} |\n|---|---|\n| {cells[2]} | {cells[3]} |", cells, []
    prose = draw(PROSE)
    if kind == "heading":
        return "## " + prose, prose.split(), []
    if kind == "list":
        items = draw(st.lists(PROSE, min_size=1, max_size=3))
        return "\n".join("- " + item for item in items), " ".join(items).split(), []
    return prose, prose.split(), []


@settings(max_examples=200, deadline=None)
@given(st.lists(blocks(), min_size=1, max_size=6))
def test_markdown_to_text_keeps_every_word_and_code_line(essay):
    markdown = "\n\n".join(block for block, _, _ in essay)
    text = text_of(markdown)
    words = re.findall(r"[a-z]+", text)
    expected = [word for _, block_words, _ in essay for word in block_words]
    for word in expected:
        assert word in words
    for _, _, code in essay:
        for line in code:
            assert "    " + line in text.splitlines()
    prose_lines = [line for line in text.splitlines() if not line.startswith("    ")]
    assert all(len(line) <= 72 or " | " in line or "  " in line for line in prose_lines)
