"""The posts folder as a library: order, publishing, broken files, and change detection."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from newsletter.content.library import PostLibrary
from newsletter.content.rendered import render
from newsletter.web import pagecache


def make_library(posts_dir, now=None, rescan_seconds=0.0):
    clock = (lambda: now[0]) if now is not None else (lambda: datetime.now(UTC))
    return PostLibrary(posts_dir, UTC, rescan_seconds=rescan_seconds, clock=clock)


def test_order_is_newest_first_with_weight_breaking_ties_as_hugo_does(posts_dir, write_post):
    write_post("old.md", title="Old", date="2022-01-01")
    write_post("heavy.md", title="Heavy", date="2022-02-01", weight=5)
    write_post("light.md", title="Light", date="2022-02-01", weight=1)
    write_post("unweighted.md", title="Unweighted", date="2022-02-01")
    write_post("new.md", title="New", date="2022-03-01")
    titles = [p.title for p in make_library(posts_dir).snapshot().published]
    assert titles == ["New", "Light", "Heavy", "Unweighted", "Old"]


def test_drafts_scheduled_and_expired_posts_are_not_published(posts_dir, write_post):
    write_post("live.md", title="Live", date="2022-01-01")
    write_post("draft.md", title="Draft", date="2022-01-01", draft="true")
    write_post("later.md", title="Later", date="2099-01-01")
    write_post("gone.md", title="Gone", date="2022-01-01", expiryDate="2022-06-01")
    snapshot = make_library(posts_dir).snapshot()
    assert [p.title for p in snapshot.published] == ["Live"]
    assert set(snapshot.by_slug) == {"live"}
    assert len(snapshot.every_post) == 4


def test_a_scheduled_post_appears_when_its_time_comes_without_touching_files(posts_dir, write_post):
    write_post("live.md", title="Live", date="2024-01-01")
    write_post("later.md", title="Later", date="2024-01-08T07:00:00Z")
    now = [datetime(2024, 1, 8, 6, 59, tzinfo=UTC)]
    library = make_library(posts_dir, now=now, rescan_seconds=3600)
    before = library.snapshot()
    assert [p.title for p in before.published] == ["Live"]
    now[0] += timedelta(minutes=1)
    after = library.snapshot()
    assert [p.title for p in after.published] == ["Later", "Live"]
    assert pagecache.fingerprint(after) != pagecache.fingerprint(before)


def test_a_broken_file_is_reported_and_the_rest_still_served(posts_dir, write_post, caplog):
    write_post("good.md", title="Good", date="2022-01-01")
    write_post("bad.md", raw="---\ntitle: 'Unclosed\ndate: 2022-01-01\n---\nBody\n")
    with caplog.at_level(logging.ERROR, logger="newsletter"):
        snapshot = make_library(posts_dir).snapshot()
    assert [p.title for p in snapshot.published] == ["Good"]
    assert len(snapshot.problems) == 1
    assert "bad.md" in snapshot.problems[0].message
    assert "not valid YAML" in snapshot.problems[0].message
    assert any("bad.md" in record.getMessage() for record in caplog.records)


def test_two_posts_with_one_slug_serve_the_first_and_report_the_second(posts_dir, write_post):
    write_post("a.md", title="A", date="2022-01-01", slug="same")
    write_post("b.md", title="B", date="2022-01-02", slug="same")
    snapshot = make_library(posts_dir).snapshot()
    assert snapshot.by_slug["same"].title == "A"
    assert "already used by" in snapshot.problems[0].message
    assert "b.md" in snapshot.problems[0].message


def test_changed_added_and_deleted_files_are_picked_up(posts_dir, write_post):
    write_post("one.md", title="One", date="2022-01-01")
    library = make_library(posts_dir)
    assert [p.title for p in library.snapshot().published] == ["One"]
    write_post("one.md", title="One, revised", date="2022-01-01")
    write_post("two.md", title="Two", date="2022-01-02")
    assert [p.title for p in library.snapshot().published] == ["Two", "One, revised"]
    (posts_dir / "two.md").unlink()
    assert [p.title for p in library.snapshot().published] == ["One, revised"]


def test_unchanged_files_are_never_parsed_again(posts_dir, write_post):
    for number in range(5):
        write_post(f"post-{number}.md", title=f"Post {number}", date="2022-01-01")
    library = make_library(posts_dir)
    library.snapshot()
    assert library.parse_count == 5
    for _ in range(3):
        library.rescan()
    assert library.parse_count == 5
    write_post("post-3.md", title="Post 3, revised", date="2022-01-01")
    library.rescan()
    assert library.parse_count == 6


def test_the_folder_is_not_rescanned_within_the_interval(posts_dir, write_post):
    write_post("one.md", title="One", date="2022-01-01")
    library = make_library(posts_dir, rescan_seconds=3600)
    library.snapshot()
    write_post("two.md", title="Two", date="2022-01-02")
    assert len(library.snapshot().published) == 1  # the request path did not touch the disk
    assert len(library.rescan().published) == 2


def test_posts_check_lists_every_problem_and_exits_non_zero(runner, write_post):
    write_post("good.md", title="Good", date="2022-01-01")
    write_post("no-date.md", title="No date")
    write_post("latin1.md", raw=b"---\ntitle: Caf\xe9\ndate: 2022-01-01\n---\nx")
    result = runner.invoke(args=["posts", "check"])
    assert result.exit_code == 1
    assert "no-date.md: the front matter has no 'date'" in result.output
    assert "latin1.md: it is not valid UTF-8" in result.output


def test_posts_check_passes_on_good_files(runner, write_post):
    write_post("good.md", title="Good", date="2022-01-01")
    result = runner.invoke(args=["posts", "check"])
    assert result.exit_code == 0
    assert "All 1 post files are fine." in result.output


def test_posts_list_shows_published_scheduled_and_draft(runner, write_post):
    write_post("live.md", title="Live", date="2022-01-01")
    write_post("draft.md", title="Draft", date="2022-01-01", draft="true")
    write_post("later.md", title="Later", date="2099-01-01")
    result = runner.invoke(args=["posts", "list"])
    assert result.exit_code == 0
    lines = {line.split()[1 + 2]: line.split()[0] for line in result.output.splitlines()[:3]}
    assert lines == {"live": "published", "draft": "draft", "later": "scheduled"}
    assert "1 draft, 1 published, 1 scheduled" in result.output


def test_a_published_essay_keeps_its_slug_against_a_draft(posts_dir, write_post):
    write_post("a-draft.md", title="Draft", date="2022-01-01", slug="same", draft="true")
    write_post("b-live.md", title="Live", date="2022-01-02", slug="same")
    snapshot = make_library(posts_dir).snapshot()
    assert snapshot.by_slug["same"].title == "Live"
    assert "a-draft.md" in snapshot.problems[0].message


def test_empty_hugo_keys_mean_not_given(posts_dir, write_post):
    write_post(
        "a.md", raw="---\ntitle: A\ndate: 2022-01-01\ntags:\naliases:\ndraft:\nweight:\n---\nx"
    )
    snapshot = make_library(posts_dir).snapshot()
    assert snapshot.problems == ()
    assert snapshot.published[0].tags == ()


def test_a_file_deleted_after_its_scan_serves_an_empty_body(posts_dir, write_post):
    path = write_post("a.md", title="A", date="2022-01-01")
    post = make_library(posts_dir, rescan_seconds=3600).snapshot().published[0]
    path.unlink()
    assert render(post).html == ""


def test_a_restart_parses_only_the_files_changed_since(posts_dir, write_post, tmp_path):
    for number in range(4):
        write_post(f"p{number}.md", title=f"P{number}", date="2022-01-01", body="Body text.")
    write_post("broken.md", raw="---\ntitle: x\n---\n")
    cache = tmp_path / "posts-cache.pickle"
    first = PostLibrary(posts_dir, UTC, rescan_seconds=0, cache_path=cache)
    rendered = first.render(first.snapshot().published[0]).html
    assert first.parse_count == 5 and cache.exists()
    write_post("p2.md", title="P2, revised", date="2022-01-01")
    first.rescan()  # saves the cache again, with one post already rendered in memory
    write_post("p3.md", title="P3, revised", date="2022-01-01")
    restarted = PostLibrary(posts_dir, UTC, rescan_seconds=0, cache_path=cache)
    snapshot = restarted.snapshot()
    assert restarted.parse_count == 1  # only p3 changed since the last save
    assert {p.title for p in snapshot.published} == {"P0", "P1", "P2, revised", "P3, revised"}
    assert len(snapshot.problems) == 1
    assert not any("html" in post.__dict__ for post in snapshot.published)  # bodies stay out
    assert rendered in {restarted.render(post).html for post in snapshot.published}


def test_a_damaged_or_foreign_cache_is_ignored(posts_dir, write_post, tmp_path):
    write_post("a.md", title="A", date="2022-01-01")
    cache = tmp_path / "posts-cache.pickle"
    cache.write_bytes(b"not a pickle")
    assert len(PostLibrary(posts_dir, UTC, cache_path=cache).snapshot().published) == 1
    PostLibrary(posts_dir, UTC, cache_path=cache).snapshot()  # rewrites it
    other_zone = PostLibrary(posts_dir, ZoneInfo("Europe/Berlin"), cache_path=cache)
    other_zone.snapshot()
    assert other_zone.parse_count == 1  # dates depend on the zone: nothing reused


def test_every_worker_computes_the_same_last_modified(posts_dir, write_post):
    write_post("a.md", title="A", date="2022-01-01")
    one = make_library(posts_dir, now=[datetime.now(UTC)]).snapshot()
    other = make_library(posts_dir, now=[datetime.now(UTC) + timedelta(minutes=5)]).snapshot()
    # If-Modified-Since works on any worker
    assert pagecache.last_modified(one) == pagecache.last_modified(other)


def age_folder(posts_dir) -> None:
    """Date the folder's last change an hour back, as on a site whose posts sit unchanged."""
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(posts_dir, ns=(hour_ago, hour_ago))


def test_catching_up_picks_up_a_file_added_since_the_last_scan(posts_dir, write_post):
    write_post("one.md", title="One", date="2022-01-01")
    age_folder(posts_dir)
    library = make_library(posts_dir, rescan_seconds=3600)
    library.snapshot()
    write_post("two.md", title="Two", date="2022-01-02")
    assert len(library.snapshot().published) == 1  # within the interval
    assert [p.title for p in library.catch_up().published] == ["Two", "One"]


def test_catching_up_costs_one_stat_when_no_file_was_added(posts_dir, write_post):
    write_post("one.md", title="One", date="2022-01-01")
    age_folder(posts_dir)
    library = make_library(posts_dir, rescan_seconds=3600)
    library.snapshot()
    write_post("one.md", title="One, edited", date="2022-01-01")  # the folder's time stays
    assert [p.title for p in library.catch_up().published] == ["One"]  # no scan: not seen yet
    assert library.parse_count == 1


def test_an_essay_published_within_the_interval_is_served_at_once(app, client, write_post):
    app.extensions["post_library"].rescan_seconds = 3600  # another worker listed it already
    write_post("one.md", title="One", date="2022-01-01")
    assert client.get("/").status_code == 200
    write_post("fresh.md", title="Fresh", date="2022-01-02")
    assert client.get("/posts/fresh/").status_code == 200
    assert client.get("/posts/never-written/").status_code == 404
