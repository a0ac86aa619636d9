"""Many post files parsed at once: helper processes give the values one process gives, in the
same order, and a helper that fails or cannot start costs time, never a post."""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.content import parsing
from newsletter.content.frontmatter import PostProblem

ZONE = ZoneInfo("Europe/Paris")


@pytest.fixture
def folder(posts_dir: Path, write_post) -> list[Path]:
    """Forty files, good and broken (nine) in every way a scan meets, in a fixed order."""
    for n in range(30):
        write_post(f"essay-{n:02}.md", title=f"Essay {n}", date=f"2024-01-{n % 28 + 1:02}",
                   tags=f"[one, two-{n}]", custom=n)  # fmt: skip
    write_post("unclosed.md", raw="---\ntitle: 'Unclosed\ndate: 2022-01-01\n---\nBody\n")
    write_post("bare.md", raw="No front matter at all.\n")
    write_post("latin1.md", raw=b"---\ntitle: Caf\xe9\ndate: 2024-01-01\n---\n")
    write_post("undated.md", raw="---\ntitle: No date\n---\n")
    write_post("bomb.md", raw="---\na: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n"
        for n in range(9)) + "title: x\ndate: 2024-01-01\n---\n")  # fmt: skip
    (posts_dir / "outside.md").symlink_to("/etc/hostname")
    (posts_dir / "folder.md").mkdir()
    (posts_dir / "dangling.md").symlink_to(posts_dir / "nowhere.md")
    os.mkfifo(posts_dir / "fifo.md")
    write_post("crlf.md", raw=b"---\r\ntitle: Windows\r\ndate: 2024-02-02\r\n---\r\nBody\r\n")
    return sorted(posts_dir.glob("*.md"))


def values(parsed: list) -> list:
    """What a parse gave, every field included (a `Post`'s params take no part in ==)."""
    return [vars(item) for item in parsed]


def test_helpers_give_the_values_and_order_one_process_gives(
    folder, posts_dir, monkeypatch, caplog
):
    alone = parsing.parse_chunk(folder, posts_dir, ZONE)
    assert sum(isinstance(item, PostProblem) for item in alone) == 9
    monkeypatch.setattr(parsing, "CHUNK", 3)
    monkeypatch.setattr(parsing, "_cores", lambda: 3)  # two helpers, on a machine of any size
    with caplog.at_level(logging.WARNING, logger="newsletter.content.parsing"):
        shared = parsing.parse_files(folder, posts_dir, ZONE, parallel_from=1)
    assert values(shared) == values(alone)
    assert not caplog.records  # both helpers started and ended without a fault


def test_a_helper_process_parses_what_it_is_given(folder, posts_dir):
    """Every chunk goes through one helper (this process takes none), values round-tripped."""
    chunks = [folder[start : start + 7] for start in range(0, len(folder), 7)]
    done: list = [None] * len(chunks)
    helper = parsing._start_helper()
    parsing._feed(helper, deque(range(len(chunks))), chunks, done, posts_dir, ZONE)
    assert helper.wait(timeout=30) == 0  # it ends once its stdin is closed
    helper.stdout.close()
    expected = [parsing.parse_chunk(chunk, posts_dir, ZONE) for chunk in chunks]
    assert [values(chunk) for chunk in done] == [values(chunk) for chunk in expected]


@pytest.mark.parametrize("executable", ["/bin/false", "/nonexistent/python"])
def test_a_helper_that_fails_or_cannot_start_leaves_its_share_to_this_process(
    folder, posts_dir, monkeypatch, caplog, executable
):
    monkeypatch.setattr(parsing, "CHUNK", 3)
    monkeypatch.setattr(sys, "executable", executable)
    with caplog.at_level(logging.WARNING, logger="newsletter.content.parsing"):
        shared = parsing.parse_files(folder, posts_dir, ZONE, parallel_from=1)
    assert values(shared) == values(parsing.parse_chunk(folder, posts_dir, ZONE))
    if executable != "/bin/false":  # (that one may end before this process gives it anything)
        assert "No helper process could start to parse the posts" in caplog.text


def test_a_helper_that_dies_leaves_its_chunks_unparsed_and_says_so(folder, posts_dir, caplog):
    chunks = [folder[:20], folder[20:]]
    done: list = [None, None]
    helper = parsing._start_helper()
    helper.kill()
    helper.wait()
    helper.stdout.close()
    with caplog.at_level(logging.WARNING, logger="newsletter.content.parsing"):
        parsing._feed(helper, deque([0, 1]), chunks, done, posts_dir, ZONE)
    assert done == [None, None]  # parse_files parses them here
    assert "A helper process stopped parsing posts" in caplog.text


def test_few_files_are_parsed_here(folder, posts_dir, monkeypatch, caplog):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # a helper would be noticed
    with caplog.at_level(logging.WARNING, logger="newsletter.content.parsing"):
        shared = parsing.parse_files(folder, posts_dir, ZONE)  # 40 files: under PARALLEL_FROM
    assert values(shared) == values(parsing.parse_chunk(folder, posts_dir, ZONE))
    assert not caplog.records
