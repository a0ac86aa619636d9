"""YAML front matter, with a fast path for the flat `key: value` shape nearly every essay has.

Loading YAML costs about 0.1 ms a file even with libyaml, which is most of a cold start with
10,000 essays. Real front matter is almost always flat: plain or quoted scalars and `[a, b]`
lists. Those lines are split here, and PyYAML's own resolver and constructors decide each
value's type, so the result is exactly what `yaml.safe_load` gives. Anything else (block lists,
nesting, comments, escapes, anchors, multi-line values) goes to PyYAML whole.
"""

from __future__ import annotations

import re
from datetime import date
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
