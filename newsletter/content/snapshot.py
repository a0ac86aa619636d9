"""The posts as the site shows them at one moment: a pure function of the parsed files.

`build_snapshot` orders the posts, applies the slug rule (one file per slug), groups the tags
and says when the set next changes by itself (a scheduled essay going live). It reads no file
and no clock: the library hands it the parsed files, the folder's mtime and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from newsletter.content.frontmatter import PostProblem
from newsletter.content.posts import Post, tag_slug

# (mtime_ns, ctime_ns, size, inode): ctime moves on chmod, rename and restores that keep mtime.
FileVersion = tuple[int, int, int, int]
Files = Mapping[str, tuple[FileVersion, Post | PostProblem]]


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


def sort_key(post: Post) -> tuple:
    """Newest first; among equal dates lower `weight` first, unweighted last (Hugo's order)."""
    weight = post.weight if post.weight else float("inf")
    return (-post.published_at.timestamp(), weight, post.title.lower(), str(post.path))


def build_snapshot(files: Files, folder_mtime_ns: int, now: datetime) -> Snapshot:
    """The snapshot of the parsed `files` ({path: (version, Post or PostProblem)}) at `now`."""
    posts, problems = unique_posts(files, now)
    every_post = tuple(sorted(posts, key=sort_key))
    published = tuple(p for p in every_post if p.is_published(now))
    by_tag: dict[str, list[Post]] = {}
    tag_names: dict[str, str] = {}
    for post in published:
        for tag in post.tags:
            slug = tag_slug(tag)
            by_tag.setdefault(slug, []).append(post)
            tag_names.setdefault(slug, tag)
    versions = sorted((path, version) for path, (version, _) in files.items())
    return Snapshot(
        published=published,
        every_post=every_post,
        by_slug={p.slug: p for p in published},
        by_tag={tag: tuple(items) for tag, items in by_tag.items()},
        tag_names=tag_names,
        aliases={alias: p for p in published for alias in p.aliases},
        problems=tuple(sorted(problems, key=lambda problem: str(problem.path))),
        versions=tuple(versions),
        changed_at=changed_at(files, folder_mtime_ns),
        built_at=now,
        next_change=next_change(every_post, now),
    )


def unique_posts(files: Files, now: datetime) -> tuple[list[Post], list[PostProblem]]:
    """Posts with distinct slugs; a second file claiming a slug becomes a problem. A
    published essay keeps its slug against a draft; otherwise the first file name wins."""
    posts: list[Post] = []
    problems: list[PostProblem] = []
    owners: dict[str, Post] = {}

    def claim_order(path: str) -> tuple[bool, str]:
        item = files[path][1]
        return (not (isinstance(item, Post) and item.is_published(now)), path)

    for path in sorted(files, key=claim_order):
        item = files[path][1]
        if isinstance(item, PostProblem):
            problems.append(item)
        elif item.slug in owners:
            message = (
                f"Post file {path}: its slug '{item.slug}' is already used by "
                f"{owners[item.slug].path}. Give one of them another 'slug:'."
            )
            problems.append(PostProblem(path, message))
        else:
            owners[item.slug] = item
            posts.append(item)
    return posts, problems


def changed_at(files: Files, folder_mtime_ns: int) -> datetime:
    """The newest change of a post file or of the folder itself (a deletion changes it)."""
    changed_ns = max([folder_mtime_ns, *(version[0] for version, _ in files.values())])
    return datetime.fromtimestamp(changed_ns / 1e9, UTC)


def next_change(posts: tuple[Post, ...], now: datetime) -> datetime | None:
    """The next moment a scheduled post appears or an expiring one goes."""
    moments = [p.published_at for p in posts if not p.draft and p.published_at > now]
    moments += [p.expiry_date for p in posts if p.expiry_date and p.expiry_date > now]
    return min(moments, default=None)
