"""The posts folder as an in-memory library: each file parsed once per version, kept in order."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from newsletter.content import postcache
from newsletter.content.frontmatter import PostError, PostProblem
from newsletter.content.postfiles import read_post_bytes
from newsletter.content.posts import Post, parse_post, tag_slug

log = logging.getLogger(__name__)

# (mtime_ns, ctime_ns, size, inode): ctime moves on chmod, rename and restores that keep mtime.
FileVersion = tuple[int, int, int, int]


@dataclass(frozen=True)
class Snapshot:
    """Everything the site shows at one moment; replaced whole, never mutated."""

    published: tuple[Post, ...]
    every_post: tuple[Post, ...]
    by_slug: dict[str, Post]
    by_tag: dict[str, tuple[Post, ...]]
    tag_names: dict[str, str]
    aliases: dict[str, Post]
    problems: tuple[PostProblem, ...]
    versions: tuple[tuple[str, FileVersion], ...]  # the files it was built from, by path
    changed_at: datetime  # the newest change of a post file or of the folder
    built_at: datetime
    next_change: datetime | None


def _file_version(entry: os.DirEntry) -> FileVersion | None:
    """The version of a listed file; a dangling or looping symlink gets its link's own
    version, so that it is parsed (and reported) like any other file. None when deleted."""
    for follow in (True, False):
        try:
            stat = entry.stat(follow_symlinks=follow)
        except OSError:
            continue
        return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)
    return None  # deleted between listing and stat


def sort_key(post: Post) -> tuple:
    """Newest first; among equal dates lower `weight` first, unweighted last (Hugo's order)."""
    weight = post.weight if post.weight else float("inf")
    return (-post.published_at.timestamp(), weight, post.title.lower(), str(post.path))


class PostLibrary:
    """Keeps the parsed posts of one folder, rescanning at most every `rescan_seconds`."""

    def __init__(
        self,
        posts_dir: Path,
        timezone: tzinfo,
        rescan_seconds: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_path: Path | None = None,
    ) -> None:
        self.posts_dir = Path(posts_dir)
        self.cache_path = cache_path
        self.timezone = timezone
        self.rescan_seconds = rescan_seconds
        self.clock = clock
        self._files: dict[str, tuple[FileVersion, Post | PostProblem]] = {}
        self._snapshot: Snapshot | None = None
        self._next_scan = 0.0
        self._folder_mtime_ns = 0
        self._lock = threading.Lock()
        self.parse_count = 0  # how many files were parsed; tests prove caching with it

    def snapshot(self) -> Snapshot:
        """The current posts; rescans the folder when it is due, else costs one clock read."""
        if time.monotonic() >= self._next_scan or self._snapshot is None:
            with self._lock:
                if time.monotonic() >= self._next_scan or self._snapshot is None:
                    self._refresh()
        snapshot = self._snapshot
        if snapshot.next_change is not None and self.clock() >= snapshot.next_change:
            with self._lock:
                self._snapshot = self._build_snapshot()
            snapshot = self._snapshot
        return snapshot

    def rescan(self) -> Snapshot:
        """Rescan now, whatever the interval; for the CLI and tests."""
        with self._lock:
            self._refresh()
        return self._snapshot

    def _refresh(self) -> None:
        first = self._snapshot is None
        if first and self.cache_path is not None:
            self._files = postcache.load(self.cache_path, self._cache_key())
            for _version, item in self._files.values():
                if isinstance(item, PostProblem):
                    log.error("%s The other posts are still served.", item.message)
        try:
            changed = self._scan_folder()
        except Exception:  # the folder itself misbehaving: keep serving what was read before
            log.exception("The posts folder %s could not be scanned.", self.posts_dir)
            changed = False
        if changed or first:
            self._snapshot = self._build_snapshot()
            if changed and self.cache_path is not None:
                postcache.save(self.cache_path, self._cache_key(), self._files)
        self._next_scan = time.monotonic() + self.rescan_seconds

    def _cache_key(self) -> str:
        return postcache.cache_key(self.posts_dir, self.timezone)

    def _scan_folder(self) -> bool:
        """Parse new and changed files, forget deleted ones; True when anything changed."""
        # Runs every second on the request path: plain strings and tuples, no Path objects,
        # so a sweep of 1,000 files costs a few milliseconds.
        seen: dict[str, FileVersion] = {}
        try:
            entries = os.scandir(self.posts_dir)
        except FileNotFoundError:
            log.error(
                "The posts folder %s does not exist; create it or set POSTS_DIR.", self.posts_dir
            )
            return self._forget_missing(seen)
        with entries:
            self._folder_mtime_ns = os.stat(self.posts_dir).st_mtime_ns
            for entry in entries:
                name = entry.name
                if name.endswith(".md") and not name.startswith("."):
                    version = _file_version(entry)
                    if version is not None:
                        seen[entry.path] = version
        changed = self._forget_missing(seen)
        files = self._files
        for path, version in seen.items():
            known = files.get(path)
            if known is None or known[0] != version:
                files[path] = (version, self._parse(Path(path)))
                changed = True
        return changed

    def _forget_missing(self, seen: dict[str, FileVersion]) -> bool:
        """Drop the files no longer on disk; True when there were any."""
        gone = self._files.keys() - seen.keys()
        for path in gone:
            del self._files[path]
        return bool(gone)

    def _parse(self, path: Path) -> Post | PostProblem:
        self.parse_count += 1
        try:
            return parse_post(path, read_post_bytes(path, self.posts_dir), self.timezone)
        except PostError as error:
            log.error("%s The other posts are still served.", error)
            return PostProblem(path, str(error))
        except Exception as error:  # one file must never take the site down, whatever it holds
            log.exception("Post file %s could not be parsed.", path)
            return PostProblem(
                path, f"Post file {path}: it could not be read ({type(error).__name__}: {error})."
            )

    def _build_snapshot(self) -> Snapshot:
        now = self.clock()
        posts, problems = self._unique_posts(now)
        every_post = tuple(sorted(posts, key=sort_key))
        published = tuple(p for p in every_post if p.is_published(now))
        by_tag: dict[str, list[Post]] = {}
        tag_names: dict[str, str] = {}
        for post in published:
            for tag in post.tags:
                by_tag.setdefault(tag_slug(tag), []).append(post)
                tag_names.setdefault(tag_slug(tag), tag)
        versions = sorted((path, version) for path, (version, _) in self._files.items())
        return Snapshot(
            published=published,
            every_post=every_post,
            by_slug={p.slug: p for p in published},
            by_tag={tag: tuple(items) for tag, items in by_tag.items()},
            tag_names=tag_names,
            aliases={alias: p for p in published for alias in p.aliases},
            problems=tuple(sorted(problems, key=lambda problem: str(problem.path))),
            versions=tuple(versions),
            changed_at=self._changed_at(),
            built_at=now,
            next_change=self._next_change(every_post, now),
        )

    def _unique_posts(self, now: datetime) -> tuple[list[Post], list[PostProblem]]:
        """Posts with distinct slugs; a second file claiming a slug becomes a problem. A
        published essay keeps its slug against a draft; otherwise the first file name wins."""
        posts: list[Post] = []
        problems: list[PostProblem] = []
        owners: dict[str, Post] = {}

        def claim_order(path: str) -> tuple[bool, str]:
            item = self._files[path][1]
            return (not (isinstance(item, Post) and item.is_published(now)), path)

        for path in sorted(self._files, key=claim_order):
            item = self._files[path][1]
            if isinstance(item, PostProblem):
                problems.append(item)
            elif item.slug in owners:
                message = (
                    f"Post file {path}: its slug '{item.slug}' is already used by "
                    f"{owners[item.slug].path}. Give one of them another 'slug:'."
                )
                log.error("%s %s is served.", message, owners[item.slug].path)
                problems.append(PostProblem(path, message))
            else:
                owners[item.slug] = item
                posts.append(item)
        return posts, problems

    def _changed_at(self) -> datetime:
        """The newest change of a post file or of the folder itself (a deletion changes it)."""
        changed_ns = max([self._folder_mtime_ns, *(v[0][0] for v in self._files.values())])
        return datetime.fromtimestamp(changed_ns / 1e9, UTC)

    @staticmethod
    def _next_change(posts: tuple[Post, ...], now: datetime) -> datetime | None:
        """The next moment a scheduled post appears or an expiring one goes."""
        moments = [p.published_at for p in posts if not p.draft and p.published_at > now]
        moments += [p.expiry_date for p in posts if p.expiry_date and p.expiry_date > now]
        return min(moments, default=None)


def init_app(app) -> None:
    """Attach one library per process to the app, reading `POSTS_DIR` and `TIMEZONE`."""
    from zoneinfo import ZoneInfo

    posts_dir = Path(app.config["POSTS_DIR"])
    if not posts_dir.is_absolute():
        posts_dir = Path(app.root_path) / posts_dir
    cache = app.config["POSTS_CACHE"]
    app.extensions["post_library"] = PostLibrary(
        posts_dir,
        ZoneInfo(app.config["TIMEZONE"]),
        app.config["POSTS_RESCAN_SECONDS"],
        cache_path=Path(app.instance_path) / cache if cache else None,
    )


def get_library() -> PostLibrary:
    """The current app's post library."""
    from flask import current_app

    return current_app.extensions["post_library"]


def current_posts() -> Snapshot:
    """The posts as they stand now, for views, feeds, the CLI and sends."""
    return get_library().snapshot()
