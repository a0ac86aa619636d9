"""Essay files to `Post` values: front matter rules (Hugo's keys) and Markdown rendering."""

from __future__ import annotations

import html
import logging
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

import markdown
import yaml

from .frontmatter import load_front_matter

log = logging.getLogger(__name__)

WORDS_PER_MINUTE = 230
MORE_MARKER = "<!--more-->"

_FRONT_MATTER = {
    "---": re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL),
    "+++": re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)?\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL),
}
_DATED_FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_SLUG_OK = re.compile(r"^[\w.~-]+$")
_FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:.*$", re.MULTILINE)
_FOOTNOTE_REF = re.compile(r'<sup id="fnref[^"]*">.*?</sup>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_BOUNDARY = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|pre|tr|td|th|hr)\b[^>]*>")
_WORD = re.compile(r"[\w'’-]+")
_MARKDOWN_NOISE = re.compile(r"```.*?```|`[^`]*`|!?\[|\]\([^)]*\)|<[^>]+>|[#*_>|]", re.DOTALL)

MARKDOWN_EXTENSIONS = ["extra", "codehilite", "toc", "smarty", "sane_lists"]
MARKDOWN_CONFIG = {
    "codehilite": {"css_class": "highlight", "guess_lang": False},
    "toc": {"permalink": False},
    "footnotes": {"BACKLINK_TITLE": "Back to the text"},
}


class PostError(ValueError):
    """A post file that cannot be published; the message names the file and the fix."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"Post file {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class PostProblem:
    """A file that is not published, and the sentence that says why."""

    path: Path
    message: str


def render_markdown(text: str) -> str:
    """Render Markdown as the site does: tables, footnotes, highlighted code, smart quotes."""
    # A Markdown instance keeps state between documents, so each call gets a fresh one.
    return markdown.Markdown(
        extensions=MARKDOWN_EXTENSIONS, extension_configs=MARKDOWN_CONFIG, output_format="html"
    ).convert(text)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, for meta descriptions and feed summaries."""
    spaced = _BLOCK_BOUNDARY.sub(" ", fragment)  # inline tags join words, blocks separate them
    return " ".join(html.unescape(_TAG.sub("", spaced)).split())


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


def normalise_text(raw: bytes, path: Path) -> str:
    """Decode a post file: UTF-8 with or without a byte-order mark, any line endings."""
    try:
        text = raw.decode("utf-8-sig")  # validates the whole file, so `flask posts check` can tell
    except UnicodeDecodeError as error:
        raise PostError(
            path,
            f"it is not valid UTF-8 (byte {error.start} cannot be decoded). "
            "Save the file as UTF-8 in your editor.",
        ) from None
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], int]:
    """Return the front matter as a dict and the offset where the body starts."""
    fence = text[:3]
    pattern = _FRONT_MATTER.get(fence)
    if pattern is None:
        raise PostError(
            path,
            "it has no front matter. Start the file with a '---' line, then 'title:' and "
            "'date:' lines, then another '---' line.",
        )
    match = pattern.match(text)
    if match is None:
        raise PostError(path, f"the front matter is not closed. Add a '{fence}' line after it.")
    source = match.group(1) or ""
    try:
        data = tomllib.loads(source) if fence == "+++" else load_front_matter(source)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        kind = "TOML" if fence == "+++" else "YAML"
        detail = " ".join(str(error).split())
        hint = (
            " Quote values that contain a colon, like title: 'Week 4: A Title'."
            if "mapping values are not allowed" in detail
            else ""
        )
        raise PostError(path, f"the front matter is not valid {kind} ({detail}).{hint}") from None
    except ValueError as error:  # a well-formed but impossible value, like 2022-02-30
        raise PostError(
            path, f"the front matter has an impossible value ({error}). Check its dates."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PostError(path, "the front matter must be 'key: value' lines.")
    return data, match.end()


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

    fields = {
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
    }
    if reasons:
        raise PostError(path, " ".join(reasons))
    return Post(path=path, params=meta, body_offset=body_offset, **fields)


def read_title(meta: dict[str, Any], path: Path) -> str:
    """The required title, as text."""
    title = meta.pop("title", None)
    if title is None or not str(title).strip():
        raise PostError(path, "the front matter has no 'title'. Add a line like title: 'My Essay'.")
    # One line of plain text: it becomes an email Subject, where a line break would start a
    # new header, and feed titles, where control characters are not allowed.
    return " ".join(_CONTROL_CHARACTERS.sub(" ", str(title)).split())


def read_required_date(meta: dict[str, Any], path: Path, timezone: tzinfo) -> datetime:
    """The required publication date."""
    if "date" not in meta:
        raise PostError(path, "the front matter has no 'date'. Add a line like date: 2022-02-01.")
    return read_datetime(meta.pop("date"), "date", path, timezone)


def read_slug(meta: dict[str, Any], path: Path) -> str:
    """The URL name: `slug:` if given, else from the file name."""
    slug = str(meta.pop("slug", "") or slug_from_file_name(path)).strip().strip("/")
    if not _SLUG_OK.match(slug):
        raise PostError(
            path, f"the slug {slug!r} cannot be a URL name. Use letters, digits and dashes only."
        )
    return slug


def read_aliases(value: Any, path: Path) -> tuple[str, ...]:
    """Old URLs of the essay, as site paths."""
    return tuple(normalise_alias(alias) for alias in read_strings(value, "aliases", path))


def slug_from_file_name(path: Path) -> str:
    """The file name without `.md` and without a leading `YYYY-MM-DD-`, as Hugo does."""
    return _DATED_FILE_NAME.sub("", path.stem)


def read_datetime(value: Any, key: str, path: Path, timezone: tzinfo) -> datetime:
    """A front-matter date as an aware datetime; dates without an offset take `TIMEZONE`."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
        except ValueError:
            raise PostError(
                path,
                f"'{key}: {text}' is not a date. Write it like 2022-02-01 or "
                "2022-02-01T09:30:00-05:00.",
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone)
    raise PostError(path, f"'{key}' must be a date like 2022-02-01, not {value!r}.")


def read_optional_datetime(
    meta: dict[str, Any], key: str, path: Path, timezone: tzinfo
) -> datetime | None:
    """Pop an optional date, accepting Hugo's lower-case spelling of the key too."""
    value = meta.pop(key, None)
    lower = meta.pop(key.lower(), None)
    value = value if value is not None else lower
    if value is None or value == "":
        return None
    return read_datetime(value, key, path, timezone)


def read_int(value: Any, key: str, path: Path) -> int:
    """An integer front-matter value such as `weight`."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PostError(path, f"'{key}' must be a whole number, not {value!r}.")
    try:
        return int(value)
    except ValueError:
        raise PostError(path, f"'{key}' must be a whole number, not {value!r}.") from None


def read_bool(value: Any, key: str, path: Path) -> bool:
    """A true/false front-matter value such as `draft`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no"}:
        return value.strip().lower() in {"true", "yes"}
    raise PostError(path, f"'{key}' must be true or false, not {value!r}.")


def read_optional_str(value: Any) -> str | None:
    """A free-text value, or None when absent or blank."""
    text = str(value).strip() if value is not None else ""
    return text or None


def read_strings(value: Any, key: str, path: Path) -> tuple[str, ...]:
    """A list of strings (`tags`, `aliases`); a single string counts as a one-item list."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise PostError(path, f"'{key}' must be a list, like {key}: [one, two].")
    return tuple(dict.fromkeys(str(item).strip() for item in value if str(item).strip()))


def normalise_alias(alias: str) -> str:
    """An alias as a site path with a leading slash, the form requests arrive in."""
    return "/" + alias.strip().lstrip("/")


def tag_slug(tag: str) -> str:
    """A tag's URL name, as Hugo makes it: lower case, spaces as dashes."""
    return re.sub(r"[^\w-]+", "-", tag.strip().lower()).strip("-") or "tag"
