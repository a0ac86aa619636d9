"""The posts folder as an in-memory library: each file parsed once per version, kept in order.

The library scans the folder, parses new and changed files (starting from the disk cache,
postcache.py) and hands the parsed files to `build_snapshot` (snapshot.py). Bodies are read
and rendered only when asked (`render`), once per file version.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from newsletter.content import postcache, rendered
from newsletter.content.frontmatter import PostProblem
from newsletter.content.parsing import parse_files
from newsletter.content.posts import Post
from newsletter.content.rendered import RenderedPost
from newsletter.content.snapshot import FileVersion, Snapshot, build_snapshot

log = logging.getLogger(__name__)


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


# A file system stamps times in coarse ticks (a few milliseconds); generously more than one.
SAME_TICK_NS = 50_000_000


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
        self._rendered: dict[str, RenderedPost] = {}  # path -> the render of its current Post
        self._next_scan = 0.0
        self._folder_mtime_ns = 0
        self._scanned_at_ns = 0
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

    def catch_up(self) -> Snapshot:
        """The posts, rescanned first when a file may have been added, renamed or removed since
        the last scan: a worker asked for an essay it does not know yet must not answer 404
        while another worker, which scanned later, already lists it. One stat() when not."""
        try:
            folder_mtime_ns = os.stat(self.posts_dir).st_mtime_ns
        except OSError:
            return self.snapshot()
        # A change in the same clock tick as the scan would leave the folder's time unchanged.
        unsure = self._scanned_at_ns - self._folder_mtime_ns < SAME_TICK_NS
        if folder_mtime_ns != self._folder_mtime_ns or unsure:
            return self.rescan()
        return self.snapshot()

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
            self._scanned_at_ns = time.time_ns()
            self._folder_mtime_ns = os.stat(self.posts_dir).st_mtime_ns
            for entry in entries:
                name = entry.name
                if name.endswith(".md") and not name.startswith("."):
                    version = _file_version(entry)
                    if version is not None:
                        seen[entry.path] = version
        changed = self._forget_missing(seen)
        files = self._files
        due = [path for path, version in seen.items() if files.get(path, (None,))[0] != version]
        for path, item in zip(due, self._parse(due), strict=True):
            files[path] = (seen[path], item)
            self._rendered.pop(path, None)
        return changed or bool(due)

    def _forget_missing(self, seen: dict[str, FileVersion]) -> bool:
        """Drop the files no longer on disk; True when there were any."""
        gone = self._files.keys() - seen.keys()
        for path in gone:
            del self._files[path]
            self._rendered.pop(path, None)
        return bool(gone)

    def _parse(self, paths: list[str]) -> list[Post | PostProblem]:
        """New and changed files parsed (in several processes when many); each problem logged."""
        self.parse_count += len(paths)
        parsed = parse_files([Path(path) for path in paths], self.posts_dir, self.timezone)
        for item in parsed:
            if isinstance(item, PostProblem):
                log.error("%s The other posts are still served.", item.message)
        return parsed

    def _build_snapshot(self) -> Snapshot:
        snapshot = build_snapshot(self._files, self._folder_mtime_ns, self.clock())
        for problem in snapshot.problems:
            if isinstance(self._files[str(problem.path)][1], Post):  # a slug two files claim
                log.error("%s The other posts are still served.", problem.message)
        return snapshot

    def render(self, post: Post) -> RenderedPost:
        """The post with its body read and rendered, once per file version."""
        key = str(post.path)
        known = self._rendered.get(key)
        if known is None or known.post is not post:  # a new version is a new Post object
            known = self._rendered[key] = rendered.render(post)
        return known


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


def render(post: Post) -> RenderedPost:
    """The post's body, read and rendered once per file version by the current app's library."""
    return get_library().render(post)
