"""Reading an essay's body: the one explicit step from a `Post` to its HTML, teaser and text.

`render(post)` reads the file once and returns a `RenderedPost`; its HTML, teaser and reading
time are rendered from that text on first use. The library caches one per file version
(`PostLibrary.render`), so pages, feeds and emails share each render.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from newsletter.content.frontmatter import PostError, normalise_text
from newsletter.content.markdown_hugo import MARKDOWN_RENDERER_VERSION, render_markdown
from newsletter.content.plaintext import html_to_plain
from newsletter.content.posts import Post

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


def read_body(post: Post) -> str:
    """The Markdown body of a post, read from its file now."""
    try:
        return normalise_text(post.path.read_bytes(), post.path)[post.body_offset :]
    except (OSError, PostError) as error:
        # Deleted or broken since the last scan: the next scan reports it; serve no body.
        log.error("Post file %s could not be read again (%s).", post.path, error)
        return ""


def render(post: Post) -> RenderedPost:
    """Read a post's body; uncached (views, feeds and emails use `PostLibrary.render`)."""
    return RenderedPost(post, read_body(post))


@dataclass(frozen=True, eq=False)
class RenderedPost:
    """A post with its body in memory. It reads as its `Post` too (title, slug, dates, tags),
    so templates and feeds take it where they took a post."""

    post: Post
    body: str

    def __getattr__(self, name: str) -> Any:
        # Only called for names the class lacks: the Post's fields and properties.
        if name.startswith("__") or name == "post":
            raise AttributeError(name)
        return getattr(self.post, name)

    @cached_property
    def html(self) -> str:
        """The body as HTML."""
        return render_markdown(self.body.replace(MORE_MARKER, ""))

    @cached_property
    def summary_html(self) -> str:
        """The teaser: `summary`/`description`, else the text before `<!--more-->`, else the
        first paragraph."""
        if self.post.summary_source:
            return render_markdown(self.post.summary_source)
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
        return self.post.description or html_to_plain(self.summary_html, markup=False)

    @cached_property
    def word_count(self) -> int:
        """Words in the body, not counting Markdown syntax."""
        return len(_WORD.findall(_MARKDOWN_NOISE.sub(" ", self.body)))

    @property
    def reading_minutes(self) -> int:
        """Minutes to read at an unhurried pace, never less than one."""
        return max(1, math.ceil(self.word_count / WORDS_PER_MINUTE))
