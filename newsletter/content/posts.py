"""Essay files to `Post` values, and the Markdown rendering pages, feeds and emails share."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
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
from newsletter.content.markdown_hugo import MARKDOWN_RENDERER_VERSION, render_markdown
from newsletter.content.plaintext import html_to_plain

log = logging.getLogger(__name__)

# Caches of rendered or derived values key on this; markdown_hugo bumps its part on a change.
RENDERER_VERSION = f"1:{MARKDOWN_RENDERER_VERSION}"

WORDS_PER_MINUTE = 230
MORE_MARKER = "<!--more-->"

_FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:.*$", re.MULTILINE)
_FOOTNOTE_REF = re.compile(r'<sup id="fnref[^"]*">.*?</sup>', re.DOTALL)
_WORD = re.compile(r"[\w'’-]+")
_MARKDOWN_NOISE = re.compile(r"```.*?```|`[^`]*`|!?\[|\]\([^)]*\)|<[^>]+>|[#*_>|]", re.DOTALL)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment on one line, for meta descriptions and feed summaries."""
    return " ".join(html_to_plain(fragment, markup=False).split())


@dataclass(frozen=True)
class Post:
    """One essay: its front matter as typed values; body HTML rendered on first use."""

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

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the front matter only (for the posts cache), never a rendered body."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

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

    @cached_property
    def body(self) -> str:
        """The Markdown body, read from disk only when a page needs it, so that thousands of
        posts cost little memory until they are read."""
        try:
            return normalise_text(self.path.read_bytes(), self.path)[self.body_offset :]
        except (OSError, PostError) as error:
            # Deleted or broken since the last scan: the next scan reports it; serve no body.
            log.error("Post file %s could not be read again (%s).", self.path, error)
            return ""

    @cached_property
    def html(self) -> str:
        """The body as HTML, rendered once per file version."""
        return render_markdown(self.body.replace(MORE_MARKER, ""))

    @cached_property
    def summary_html(self) -> str:
        """The teaser: `summary`/`description`, else the text before `<!--more-->`, else the
        first paragraph."""
        if self.summary_source:
            return render_markdown(self.summary_source)
        if MORE_MARKER in self.body:
            return render_markdown(self.body.split(MORE_MARKER, 1)[0])
        # The opening blocks (with the link definitions they may use) usually hold the first
        # paragraph: the index page then needs no full render of ten essays.
        opening = "\n\n".join(self.body.split("\n\n", 4)[:4])
        match = None
        if opening.count("```") % 2 == 0 and "~~~" not in opening:
            definitions = "\n".join(_LINK_DEFINITION.findall(self.body))
            match = _FIRST_PARAGRAPH.search(render_markdown(f"{opening}\n\n{definitions}"))
        match = match or _FIRST_PARAGRAPH.search(self.html)
        return f"<p>{_FOOTNOTE_REF.sub('', match.group(1))}</p>" if match else ""

    @cached_property
    def summary_text(self) -> str:
        """The teaser as plain text, for meta descriptions and email previews."""
        return self.description or html_to_text(self.summary_html)

    @cached_property
    def word_count(self) -> int:
        """Words in the body, not counting Markdown syntax."""
        return len(_WORD.findall(_MARKDOWN_NOISE.sub(" ", self.body)))

    @property
    def reading_minutes(self) -> int:
        """Minutes to read at an unhurried pace, never less than one."""
        return max(1, math.ceil(self.word_count / WORDS_PER_MINUTE))


def parse_post(path: Path, raw: bytes, timezone: tzinfo) -> Post:
    """Turn one file's bytes into a `Post`, or raise `PostError` naming every problem in it."""
    text = normalise_text(raw, path)
    meta, body_offset = split_front_matter(text, path)
    reasons: list[str] = []

    def read(reader, *args, default=None):
        # Keep going after a bad value, so the author sees all of a file's problems at once.
        try:
            return reader(*args)
        except PostError as error:
            reasons.append(error.reason)
            return default

    fields = _read_fields(meta, path, timezone, read)
    if reasons:
        raise PostError(path, " ".join(reasons))
    return Post(path=path, params=meta, body_offset=body_offset, **fields)


def _read_fields(meta: dict, path: Path, timezone: tzinfo, read) -> dict:
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
