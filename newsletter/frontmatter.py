"""Front matter: the fences, YAML (or TOML) parsing, and each Hugo key read as a typed value,
with errors that name the file and say what to fix.

Loading YAML costs about 0.1 ms a file even with libyaml, which is most of a cold start with
10,000 essays. Real front matter is almost always flat: plain or quoted scalars and `[a, b]`
lists. Those lines are split here, and PyYAML's own resolver and constructors decide each
value's type, so the result is exactly what `yaml.safe_load` gives. Anything else (block lists,
nesting, comments, escapes, anchors, multi-line values) goes to PyYAML whole.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LINE = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*")
# A plain scalar: no YAML indicator first, no ': ' or ' #' inside, nothing that needs escapes.
_PLAIN = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`](?:[^:#\[\]{},]|:(?!\s|$)|(?<!\s)#)*")
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"')
_FLOW_LIST = re.compile(r"\[([^\[\]{}'\"#]*)\]")
# Characters YAML refuses anywhere; PyYAML must see them to say so.
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")  # YAML 1.1 reads a leading 0 as octal

_FRONT_MATTER = {
    "---": re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL),
    "+++": re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)?\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL),
}
_DATED_FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_SLUG_OK = re.compile(r"^[\w.~-]+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_resolver = Resolver()
_constructor = SafeConstructor()


def load_front_matter(source: str) -> Any:
    """Parse YAML front matter; the same result as `yaml.safe_load`, faster when flat."""
    data = _load_flat(source)
    return data if data is not None else yaml.load(source, Loader=_LOADER)


def _load_flat(source: str) -> dict[str, Any] | None:
    """The mapping for flat front matter, or None when PyYAML must decide."""
    if _NON_PRINTABLE.search(source):
        return None
    data: dict[str, Any] = {}
    for line in source.split("\n"):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if match is None or match[1] in data:
            return None
        value = _value(match[2] or "")
        if value is _UNSURE:
            return None
        data[match[1]] = value
    return data or None


_UNSURE = object()


def _value(text: str) -> Any:
    """One value: a quoted string, a plain scalar or a flow list of plain scalars."""
    first = text[:1]
    if first == "'":
        match = _SINGLE_QUOTED.fullmatch(text)
        return match[1].replace("''", "'") if match else _UNSURE
    if first == '"':
        match = _DOUBLE_QUOTED.fullmatch(text)
        return match[1] if match else _UNSURE
    if first == "[":
        match = _FLOW_LIST.fullmatch(text)
        return _flow_list(match[1]) if match else _UNSURE
    if text == "" or _PLAIN.fullmatch(text):
        return _scalar(text)
    return _UNSURE


def _flow_list(inside: str) -> Any:
    """The items of `[a, b]` when every one is a plain scalar."""
    items = [item.strip() for item in inside.split(",")]
    if items == [""]:
        return []
    if not all(_PLAIN.fullmatch(item) for item in items):
        return _UNSURE
    return [_scalar(item) for item in items]


def _scalar(text: str) -> Any:
    """A plain scalar typed as YAML types it: dates, numbers, booleans, null, else text."""
    # The two commonest values, built directly with what PyYAML would return for them.
    if _DATE.fullmatch(text):
        return date.fromisoformat(text)
    if _DECIMAL.fullmatch(text):
        return int(text)
    tag = _resolver.resolve(yaml.ScalarNode, text, (True, False))
    # The tag's constructor itself: construct_object() would remember every node it built.
    return SafeConstructor.yaml_constructors[tag](_constructor, yaml.ScalarNode(tag, text))


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
