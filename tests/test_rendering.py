"""One Post, one render per file version: a Post holds front matter only, reading its body is
an explicit step, and pages, feeds and the email share that render."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.content.library import PostLibrary
from newsletter.content.plaintext import html_to_plain
from newsletter.content.rendered import RenderedPost, read_body
from newsletter.content.snapshot import build_snapshot


def test_a_post_holds_no_body_and_reads_no_file(posts_dir, write_post):
    write_post("a.md", title="A", date="2022-01-01", body="The body.")
    post = PostLibrary(posts_dir, UTC, rescan_seconds=0).snapshot().published[0]
    assert {field.name for field in dataclasses.fields(post)} >= {"title", "body_offset"}
    for lazy in ("body", "html", "summary_html", "summary_text", "reading_minutes"):
        assert not hasattr(post, lazy)
    assert read_body(post).strip() == "The body."


def test_the_render_is_shared_until_the_file_changes(posts_dir, write_post):
    write_post("a.md", title="A", date="2022-01-01", body="First version.")
    library = PostLibrary(posts_dir, UTC, rescan_seconds=0)
    post = library.snapshot().published[0]
    rendered = library.render(post)
    assert isinstance(rendered, RenderedPost) and rendered.title == "A"
    assert library.render(library.snapshot().published[0]) is rendered  # same file version
    write_post("a.md", title="A", date="2022-01-01", body="Second version.")  # same front matter
    changed = library.snapshot().published[0]
    assert changed == post  # equal front matter, but a new version: a new render
    assert "Second version." in library.render(changed).html


def test_building_a_snapshot_is_pure(posts_dir, write_post):
    write_post("a.md", title="A", date="2022-01-01")
    library = PostLibrary(posts_dir, UTC, rescan_seconds=0)
    library.snapshot()
    now = datetime(2030, 1, 1, tzinfo=UTC)
    one = build_snapshot(library._files, 0, now)
    assert one == build_snapshot(dict(library._files), 0, now)
    assert one.changed_at <= now


@pytest.mark.database
def test_the_send_plan_shows_the_date_in_the_site_time_zone(runner, write_post):
    write_post("late.md", title="Late", date="2022-02-01T23:30:00-05:00")
    result = runner.invoke(args=["send", "late", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Published:  2022-02-02 04:30" in result.output


WORDS = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "h2", "div", "dd", "figure"]), WORDS), max_size=8))
def test_the_one_line_text_keeps_every_word_in_order(blocks):
    html = "".join(f"<{tag}>{word}</{tag}>" for tag, word in blocks)
    text = html_to_plain(html, markup=False)
    assert "\n" not in text
    assert text.split() == [word for _, word in blocks]
