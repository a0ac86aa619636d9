"""Compare two HTML fragments by structure, as the Hugo parity tests and `posts check` need."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

# Attributes that change what a reader gets (a link's target, an anchor, a checkbox's state);
# classes and styles are presentation and differ between highlighters.
_KEPT_ATTRIBUTES = {"href", "id", "src", "alt", "start", "type", "checked", "colspan"}
_SPACE = re.compile(r"\s+")
_TYPOGRAPHY = str.maketrans(
    {"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...", "\ufe0e": None}
)


def plain_typography(text: str) -> str:
    """Quotes, dashes and ellipses as typed, so that typography is compared on its own."""
    return text.translate(_TYPOGRAPHY).replace("---", "-").replace("--", "-")


def structure(fragment: str, *, typography: bool = False) -> list:
    """The tree of elements, kept attributes and whitespace-collapsed text of an HTML fragment."""
    soup = BeautifulSoup(fragment, "html5lib")
    return _children(soup.body, typography)


def _children(node: Tag, typography: bool) -> list:
    result: list = []
    for child in node.children:
        if isinstance(child, NavigableString):
            if type(child) is not NavigableString:  # comments, doctype
                continue
            text = _SPACE.sub(" ", str(child))
            text = text if typography else plain_typography(text)
            if text.strip():
                if result and isinstance(result[-1], str):
                    result[-1] += text
                else:
                    result.append(text)
            continue
        result.extend(_element(child, typography))
    return [_SPACE.sub(" ", item).strip() if isinstance(item, str) else item for item in result]


def _element(tag: Tag, typography: bool) -> list:
    if tag.name == "div" and "highlight" in (tag.get("class") or []):
        return _children(tag, typography)  # a highlighter's wrapper, not the author's
    if tag.name == "pre":
        return [("pre", (), [tag.get_text().rstrip("\n")])]  # code as text: tokens are styling
    attributes = tuple(sorted((k, str(v)) for k, v in tag.attrs.items() if k in _KEPT_ATTRIBUTES))
    return [(tag.name, attributes, _children(tag, typography))]


def text_of(fragment: str) -> str:
    """All text of a fragment with whitespace collapsed, typography kept."""
    return _SPACE.sub(" ", BeautifulSoup(fragment, "html5lib").get_text()).strip()
