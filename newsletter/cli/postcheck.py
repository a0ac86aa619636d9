"""`flask posts check`'s report: every problem of every file, once, at the file's own lines.

The library keeps one sentence per broken file (for the log and the site); here the file is
read again, within the same limits, to say each problem apart with the line it is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path

from newsletter.content.frontmatter import PostError, PostProblem, normalise_text
from newsletter.content.frontmatter import split_front_matter as split
from newsletter.content.postfiles import read_post_bytes
from newsletter.content.posts import read_fields

# A YAML mark ('in "<unicode string>", line 1, column 14') or a TOML one ('(at line 1, ...').
_MARK = re.compile(r'(?P<yaml> in "<unicode string>",)? line (\d+), column (\d+)')
_KEY = re.compile(r"^'(\w+)")


def problem_lines(problem: PostProblem, posts_dir: Path, timezone: tzinfo) -> list[str]:
    """One line per problem of the file: "Post file PATH, line N: reason" (no line when the
    problem is the whole file's, like a missing key or a file that cannot be read)."""
    try:
        return _located_reasons(problem, posts_dir, timezone)
    except Exception:  # whatever else the file holds, the library's own sentence still stands
        return [problem.message]


def _located_reasons(problem: PostProblem, posts_dir: Path, timezone: tzinfo) -> list[str]:
    path = problem.path
    try:
        text = normalise_text(read_post_bytes(path, posts_dir), path)
        meta, _ = split(text, path)
    except PostError as error:
        return [located(path, *front_matter_line(error.reason))]
    except OSError:
        return [problem.message]
    _, reasons = read_fields(dict(meta), path, timezone)
    if not reasons:  # a problem of the folder, not of the file alone (two files, one slug)
        return [problem.message]
    return [located(path, key_line(text, reason), reason) for reason in reasons]


def located(path: Path, line: int | None, reason: str) -> str:
    """The problem as the author reads it, with the line when there is one."""
    where = f", line {line}" if line else ""
    return f"Post file {path}{where}: {reason}"


def front_matter_line(reason: str) -> tuple[int | None, str]:
    """A parser's error with its marks moved to the file's lines (the front matter starts on
    line 2, after the opening fence), the last mark first."""
    lines = [int(found.group(2)) + 1 for found in _MARK.finditer(reason)]
    reason = _MARK.sub(
        lambda m: f"{' on' if m['yaml'] else ''} line {int(m.group(2)) + 1}, column {m.group(3)}",
        reason,
    )
    return (lines[-1] if lines else None), reason


def key_line(text: str, reason: str) -> int | None:
    """The line of the front matter key a reason names ('weight' must be ...), if present."""
    found = _KEY.match(reason)
    if not found:
        return None
    key = re.compile(rf"^{re.escape(found.group(1))}\s*[:=]")
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if line.strip() in ("---", "+++"):
            return None
        if key.match(line):
            return number
    return None


def every_line(problems, posts_dir: Path, timezone: tzinfo) -> Iterator[str]:
    """The lines of every problem, file by file."""
    for problem in problems:
        yield from problem_lines(problem, posts_dir, timezone)
