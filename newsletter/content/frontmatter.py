"""Front matter: the fences, YAML (or TOML) parsing, and each Hugo key read as a typed value,
with errors that name the file and say what to fix.

YAML is read by PyYAML itself (libyaml's CSafeLoader where present), never by a hand-written
shortcut: a post file is hostile input, and only the real parser agrees with the real parser.
Its size, its nesting and what its aliases expand to are bounded, so one file can neither hang
nor crash the site; the posts cache keeps restarts fast instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

import yaml

from newsletter.content.yamlbounds import FrontMatterTooBig, check_depth, load_bounded_yaml

# A real essay's front matter is well under 2 KB; 64 KB leaves room and refuses abuse.
MAX_FRONT_MATTER_BYTES = 64 * 1024
# Brackets nested deeper than this are refused before tomllib recurses into them.
MAX_NESTING = 64

_FRONT_MATTER = {
    "---": re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL),
    "+++": re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)?\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL),
}
_DATED_FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_SLUG_OK = re.compile(r"^[\w.~-]+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def load_front_matter(source: str) -> Any:
    """Parse YAML front matter exactly as `yaml.safe_load` does, within bounds."""
    # At most one value per byte allowed, aliases expanded: a bomb is refused, not built.
    return load_bounded_yaml(source, MAX_FRONT_MATTER_BYTES, MAX_NESTING)


def load_toml(source: str) -> Any:
    """Parse TOML front matter, refusing nesting deep enough to exhaust the stack."""
    check_depth(source, MAX_NESTING)
    return tomllib.loads(source)


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
    if len(source.encode()) > MAX_FRONT_MATTER_BYTES:
        raise PostError(
            path,
            f"the front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KB. "
            "Keep only short 'key: value' lines in it and move long text into the body.",
        )
    data = _parse_source(source, fence, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PostError(path, "the front matter must be 'key: value' lines.")
    return data, match.end()


def _parse_source(source: str, fence: str, path: Path) -> Any:
    """The front matter's data, or a PostError saying what is wrong with it."""
    kind = "TOML" if fence == "+++" else "YAML"
    try:
        return load_toml(source) if fence == "+++" else load_front_matter(source)
    except FrontMatterTooBig as error:
        raise PostError(
            path, f"the front matter is refused: {error}. Write plain 'key: value' lines."
        ) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        detail = " ".join(str(error).split())
        hint = (
            " Quote values that contain a colon, like title: 'Week 4: A Title'."
            if "mapping values are not allowed" in detail
            else ""
        )
        raise PostError(path, f"the front matter is not valid {kind} ({detail}).{hint}") from None
    except (ValueError, OverflowError, RecursionError) as error:
        # A well-formed but impossible value, like 2022-02-30, or one out of any range.
        raise PostError(
            path, f"the front matter has an impossible value ({error}). Check its dates."
        ) from None


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
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), tzinfo=timezone)
    else:
        raise PostError(path, f"'{key}' must be a date like 2022-02-01, not {value!r}.")
    return _in_range(moment, key, path, timezone)


def _in_range(moment: datetime, key: str, path: Path, timezone: tzinfo) -> datetime:
    """The moment itself, once sure it can be shown in UTC and in `TIMEZONE` (feeds and
    pages do both); at the edges of year 1 or 9999 an offset pushes it out of range."""
    try:
        moment.astimezone(UTC)
        moment.astimezone(timezone)
    except (OverflowError, ValueError):
        raise PostError(
            path,
            f"'{key}: {moment.isoformat()}' is outside the dates this site can show. "
            "Use a date between the years 2 and 9998.",
        ) from None
    return moment


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
