"""Markdown rendered as Hugo's Goldmark renders it (CommonMark, GFM, typographer, linkify)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
from markdown.blockprocessors import BlockQuoteProcessor
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

# Changes whenever the extensions or their settings change, so cached HTML is rebuilt.
MARKDOWN_RENDERER_VERSION = "hugo-goldmark-1"

MARKDOWN_EXTENSIONS: list = [
    "abbr",
    "attr_list",
    "def_list",
    "footnotes",
    "md_in_html",
    "tables",
    "smarty",
    "mdx_truly_sane_lists",
    "pymdownx.superfences",
    "pymdownx.highlight",
    "pymdownx.tilde",
    "pymdownx.tasklist",
    "pymdownx.magiclink",
    "pymdownx.saneheaders",
    "pymdownx.betterem",
    "pymdownx.escapeall",
]
MARKDOWN_CONFIG: dict = {
    "pymdownx.highlight": {"css_class": "highlight", "guess_lang": False},
    "footnotes": {"BACKLINK_TITLE": "Back to the text"},
    "mdx_truly_sane_lists": {"nested_indent": 2, "truly_sane": True},
    "pymdownx.escapeall": {"hardbreak": True, "nbsp": False},
    "pymdownx.tilde": {"subscript": False},
    "pymdownx.magiclink": {"hide_protocol": False},
    "pymdownx.tasklist": {"custom_checkbox": False},
}

_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|1[.)])[ \t]+\S")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_PARAGRAPH_LINE = re.compile(r"^ {0,3}[^\s>#|`~<-]")


class ParagraphInterruptions(Preprocessor):
    """A list or a fence may start right under a paragraph line in CommonMark: add the blank."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_fence = False
        for line in lines:
            starts = _LIST_ITEM.match(line) or _FENCE.match(line)
            if not in_fence and starts and out and _PARAGRAPH_LINE.match(out[-1]):
                if not _LIST_ITEM.match(out[-1]) and not out[-1].startswith((" ", "\t")):
                    out.append("")
            if _FENCE.match(line):
                in_fence = not in_fence
            out.append(line)
        return out


class SeparateQuotes(BlockQuoteProcessor):
    """Quotes apart by a blank line stay two quotes, as in CommonMark."""

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        marker = etree.SubElement(parent, "hr")  # stops the merge with a previous quote
        super().run(parent, blocks)
        parent.remove(marker)


class GithubHeadingIds(Treeprocessor):
    """Heading ids as Hugo makes them (autoHeadingIDType github), so old #anchors keep working."""

    def run(self, root: etree.Element) -> None:
        seen: dict[str, int] = {}
        for element in root.iter():
            if element.tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and "id" not in element.attrib:
                text = "".join(element.itertext()).strip().lower()
                slug = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE).replace(" ", "-")
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                element.set("id", slug if count == 0 else f"{slug}-{count}")


class HugoExtension(Extension):
    """The small differences from Goldmark that no published extension covers."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.register(ParagraphInterruptions(md), "hugo_interruptions", 27)
        md.parser.blockprocessors.register(SeparateQuotes(md.parser), "quote", 20)
        md.treeprocessors.register(GithubHeadingIds(md), "hugo_heading_ids", 5)


def render_markdown(text: str) -> str:
    """Render Markdown with Hugo's structure: CommonMark lists, fences, GFM, smart quotes."""
    # A Markdown instance keeps state between documents, so each call gets a fresh one.
    return markdown.Markdown(
        extensions=[*MARKDOWN_EXTENSIONS, HugoExtension()],
        extension_configs=MARKDOWN_CONFIG,
        output_format="html",
    ).convert(text)
