"""No post file may take the site down: each hostile file is a named problem of that file,
and every page, feed and `flask posts check` keep working beside it."""

from __future__ import annotations

import os
import re
import time

import pytest

HOSTILE = {
    "equals.md": "---\ntitle: X\ndate: 2022-01-01\nsummary: =\nmood: =\n---\nx\n",
    "merge.md": "---\ntitle: X\ndate: 2022-01-01\nmood: <<\n---\nx\n",
    "deep.md": "+++\ntitle = 'x'\ndate = 2022-01-01\nx = " + "[" * 3000 + "]" * 3000 + "\n+++\nx\n",
    "deep-yaml.md": "---\ntitle: X\ndate: 2022-01-01\nx: " + "[" * 3000 + "]" * 3000 + "\n---\n",
    "first-day.md": "---\ntitle: X\ndate: 0001-01-01T00:00:00+14:00\n---\nx\n",
    "last-day.md": "---\ntitle: X\ndate: 2022-01-01\nlastmod: 9999-12-31T23:59:59-05:00\n---\n",
    "huge.md": "---\ntitle: X\ndate: 2022-01-01\nsummary: '" + "a" * 70_000 + "'\n---\n",
}
BOMB = "".join(
    f"{chr(97 + n)}: &{chr(97 + n)} [{', '.join(['*' + chr(96 + n)] * 9) if n else 'lol'}]\n"
    for n in range(9)
)
PAGES = ["/", "/archive/", "/feed.xml", "/atom.xml", "/feed.json", "/posts/good/", "/subscribe"]


def assert_site_serves_the_good_post(client) -> None:
    """Every page answers, and the good essay is on the index."""
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
    assert "Good essay" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_front_matter_is_a_named_problem(name, client, runner, write_post):
    write_post("good.md", title="Good essay", date="2022-01-01")
    write_post(name, raw=HOSTILE[name])
    assert_site_serves_the_good_post(client)
    result = runner.invoke(args=["posts", "check"])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(name)}(, line \d+)?: ", result.output)  # named, at its line


def test_an_alias_bomb_is_refused_within_a_second(client, runner, write_post):
    write_post("good.md", title="Good essay", date="2022-01-01")
    write_post("bomb.md", raw=f"---\ntitle: X\ndate: 2022-01-01\n{BOMB}tags: *i\n---\n")
    started = time.perf_counter()
    assert_site_serves_the_good_post(client)
    assert time.perf_counter() - started < 5
    assert "bomb.md: the front matter is refused" in runner.invoke(args=["posts", "check"]).output


def test_symlink_loops_fifos_and_dangling_links_are_named(client, runner, write_post, posts_dir):
    write_post("good.md", title="Good essay", date="2022-01-01")
    os.symlink("loop-b.md", posts_dir / "loop-a.md")
    os.symlink("loop-a.md", posts_dir / "loop-b.md")
    os.symlink("missing.md", posts_dir / "dangling.md")
    os.mkfifo(posts_dir / "pipe.md")
    assert_site_serves_the_good_post(client)
    output = runner.invoke(args=["posts", "check"]).output
    assert "loop-a.md: it is a symbolic link that loops" in output
    assert "dangling.md: it is a symbolic link to missing.md, which does not exist" in output
    assert "pipe.md: it is not a regular file" in output


def test_a_symlink_to_a_post_inside_the_folder_is_served(client, write_post, posts_dir):
    write_post("good.md", title="Good essay", date="2022-01-01")
    os.symlink("good.md", posts_dir / "again.md")
    assert client.get("/posts/again/").status_code == 200


def test_links_to_a_folder_or_outside_and_a_vanished_file_are_named(posts_dir, tmp_path):
    from newsletter.content.frontmatter import PostError
    from newsletter.content.postfiles import read_post_bytes

    (posts_dir / "folder").mkdir()
    os.symlink("folder", posts_dir / "to-folder.md")
    outside = tmp_path / "outside.md"
    outside.write_text("---\ntitle: X\ndate: 2022-01-01\n---\n")
    os.symlink(outside, posts_dir / "to-outside.md")
    reasons = {}
    for name in ("to-folder.md", "to-outside.md", "vanished.md"):
        with pytest.raises(PostError) as caught:
            read_post_bytes(posts_dir / name, posts_dir)
        reasons[name] = caught.value.reason
    assert reasons["to-folder.md"].startswith("it is not a regular file")
    assert reasons["to-outside.md"].startswith("it is a symbolic link to a file outside")
    assert reasons["vanished.md"] == "it was deleted while being read."


def test_an_essay_above_the_size_limit_is_a_named_problem(client, runner, write_post):
    write_post("good.md", title="Good essay", date="2022-01-01")
    write_post("big.md", title="Big", date="2022-01-02", body="word " * 120_000)
    assert_site_serves_the_good_post(client)
    assert "big.md: it is larger than 512 KB" in runner.invoke(args=["posts", "check"]).output


def test_a_failing_page_cache_falls_back_to_flask(app, client, write_post):
    write_post("good.md", title="Good essay", date="2022-01-01")
    assert client.get("/").status_code == 200  # now cached: the middleware would answer
    middleware = app.wsgi_app  # the page cache is the outermost layer of the chain
    assert type(middleware).__name__ == "PageCache"

    def broken() -> str:
        raise RuntimeError("the posts version cannot be read")

    middleware.snapshot = broken
    response = client.get("/")
    assert response.status_code == 200
    assert "Good essay" in response.get_data(as_text=True)
