"""Essay files to `Post` values: the front matter as typed values, and nothing read lazily.

A `Post` holds no body: reading and rendering it is an explicit step (`rendered.render`, cached
per file version by the library), so thousands of posts cost little memory until one is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from newsletter.content.frontmatter import (
    PostError,
    normalise_text,
    read_aliases,
    read_bool,
    read_int,
    read_optional_datetime,
    read_optional_str,
    read_required_date,
    read_slug,
    read_strings,
    read_title,
    split_front_matter,
)


@dataclass(frozen=True)
class Post:
    """One essay's front matter as typed values, and where its body starts in the file."""

    path: Path
    slug: str
    title: str
    date: datetime
    weight: int = 0
    draft: bool = False
    publish_date: datetime | None = None
    expiry_date: datetime | None = None
    lastmod: datetime | None = None
    summary_source: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # Hugo's `images`: the share picture (og:image) first
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    body_offset: int = 0

    @property
    def published_at(self) -> datetime:
        """When the essay goes public: `publishDate` if given, else `date` (as Hugo does)."""
        return self.publish_date or self.date

    @property
    def updated_at(self) -> datetime:
        """The last change the author declared (`lastmod`), else the publication time."""
        return self.lastmod or self.published_at

    def is_published(self, now: datetime) -> bool:
        """True when the essay belongs on pages, feeds and sends at `now`."""
        if self.draft or self.published_at > now:
            return False
        return self.expiry_date is None or self.expiry_date > now

    def state(self, now: datetime) -> str:
        """One word for `flask posts list`: published, draft, scheduled or expired."""
        if self.draft:
            return "draft"
        if self.published_at > now:
            return "scheduled"
        if self.expiry_date is not None and self.expiry_date <= now:
            return "expired"
        return "published"


def parse_post(path: Path, raw: bytes, timezone: tzinfo) -> Post:
    """Turn one file's bytes into a `Post`, or raise `PostError` naming every problem in it."""
    text = normalise_text(raw, path)
    meta, body_offset = split_front_matter(text, path)
    fields, reasons = read_fields(meta, path, timezone)
    if reasons:
        raise PostError(path, " ".join(reasons))
    return Post(path=path, params=meta, body_offset=body_offset, **fields)


def read_fields(meta: dict, path: Path, timezone: tzinfo) -> tuple[dict, list[str]]:
    """The typed Hugo keys, and every problem found on the way: reading goes on after a bad
    value, so the author sees all of a file's problems at once."""
    reasons: list[str] = []

    def read(reader, *args, default=None):
        try:
            return reader(*args)
        except PostError as error:
            reasons.append(error.reason)
            return default

    return _typed_fields(meta, path, timezone, read), reasons


def _typed_fields(meta: dict, path: Path, timezone: tzinfo, read) -> dict:
    """The typed Hugo keys, popped from `meta` (what is left are the post's other params)."""
    return {
        "title": read(read_title, meta, path),
        "date": read(read_required_date, meta, path, timezone),
        "slug": read(read_slug, meta, path),
        "weight": read(read_int, meta.pop("weight", None) or 0, "weight", path, default=0),
        "draft": read(read_bool, meta.pop("draft", None) or False, "draft", path, default=False),
        "publish_date": read(read_optional_datetime, meta, "publishDate", path, timezone),
        "expiry_date": read(read_optional_datetime, meta, "expiryDate", path, timezone),
        "lastmod": read(read_optional_datetime, meta, "lastmod", path, timezone),
        "summary_source": read_optional_str(meta.pop("summary", None)),
        "description": read_optional_str(meta.pop("description", None)),
        # An empty `tags:` line loads as None in YAML, and Hugo reads it as no tags.
        "tags": read(read_strings, meta.pop("tags", None) or (), "tags", path),
        "categories": read(read_strings, meta.pop("categories", None) or (), "categories", path),
        "aliases": read(read_aliases, meta.pop("aliases", None) or (), path),
        "images": read(read_strings, meta.pop("images", None) or (), "images", path),
    }


def tag_slug(tag: str) -> str:
    """A tag's URL name, as Hugo makes it: lower case, spaces as dashes."""
    return re.sub(r"[^\w-]+", "-", tag.strip().lower()).strip("-") or "tag"
