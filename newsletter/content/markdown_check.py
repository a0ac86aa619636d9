"""Constructs that still render differently from Hugo, found in a post's Markdown source."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from newsletter.content.frontmatter import PostError, normalise_text
from newsletter.content.posts import Post

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FENCE_ATTRIBUTES = re.compile(r"^ {0,3}(?:```|~~~)\s*\S+\s+\S*=")


def hugo_differences(body: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line, message) for each construct Python-Markdown still renders unlike Hugo."""
    found: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(body.splitlines(), start=first_line):
        if _FENCE.match(line):
            if not in_fence and _FENCE_ATTRIBUTES.match(line):
                found.append(
                    (number, "a fence's title=... is shown as a label here; Hugo drops it.")
                )
            in_fence = not in_fence
            continue
        if in_fence:
            continue
    return found


def post_warnings(posts: Iterable[Post]) -> Iterator[str]:
    """A warning, naming the file and line, for each construct that renders unlike Hugo."""
    for post in posts:
        try:
            text = normalise_text(post.path.read_bytes(), post.path)
        except (OSError, PostError):
            continue  # the scan reports unreadable files itself
        head, body = text[: post.body_offset], text[post.body_offset :]
        for line, message in hugo_differences(body, head.count("\n") + 1):
            yield f"Post file {post.path}, line {line}: {message}"
