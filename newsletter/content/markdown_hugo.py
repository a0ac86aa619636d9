"""Markdown rendered as Hugo's Goldmark renders it (CommonMark, GFM, typographer, linkify)."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as etree

import markdown
from markdown.blockprocessors import BlockQuoteProcessor
from markdown.extensions import Extension
from markdown.extensions.toc import render_inner_html
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

# Changes whenever the extensions or their settings change, so cached HTML is rebuilt.
MARKDOWN_RENDERER_VERSION = "hugo-goldmark-3"

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
    "footnotes": {"BACKLINK_TITLE": "Back to the text", "BACKLINK_TEXT": "&#8617;&#xfe0e;"},
    "mdx_truly_sane_lists": {"nested_indent": 2, "truly_sane": False},
    "pymdownx.escapeall": {"hardbreak": True, "nbsp": False},
    "pymdownx.tilde": {"subscript": False},
    "pymdownx.magiclink": {"hide_protocol": False},
    "pymdownx.tasklist": {"custom_checkbox": False},
}

_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|1[.)])[ \t]+\S")
_FENCE = re.compile(r"^( {0,3})(```|~~~)")
_PARAGRAPH_LINE = re.compile(r"^ {0,3}[^\s>#|`~<-]")
_PAREN_ITEM = re.compile(r"^(\s*\d{1,9})\)(?=[ \t])")
_TOP_BULLET = re.compile(r"^ {0,1}([-*+])[ \t]+\S")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_OPENING_TAG = re.compile(
    r"^<(div|section|article|aside|details|figure|header|footer|main|nav)"
    r"((?:\s(?![^<>]*markdown=)[^<>]*)?)>\s*$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]")
_LONE_PLACEHOLDER = re.compile(r"^<p>(\x02wzxhzdk:(\d+)\x03)</p>$", re.MULTILINE)
_ONE_TAG = re.compile(r"\A\s*<[a-zA-Z][^<>]*>\s*\Z")
_TAGS = re.compile(r"<[^>]*>")


def _opens_block_under_paragraph(line: str, previous: str) -> bool:
    """True for a list item or fence right under a paragraph line (CommonMark lets it start)."""
    if not (_LIST_ITEM.match(line) or _FENCE.match(line)) or not _PARAGRAPH_LINE.match(previous):
        return False
    return not _LIST_ITEM.match(previous) and not previous.startswith((" ", "\t"))


class CommonMarkLines(Preprocessor):
    """Line-level CommonMark rules Python-Markdown lacks: blocks interrupting a paragraph,
    `1)` lists, a new bullet starting a new list, a closing fence indented differently,
    trailing spaces after heading #s."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        fence: re.Match[str] | None = None
        self.bullet: str | None = None
        for line in lines:
            if fence is None:
                line = self._outside_fence(line, out)
                fence = _FENCE.match(line)
            elif line.strip() == fence.group(2):
                out.extend([fence.group(1) + fence.group(2), ""])  # text after it is a paragraph
                fence = None
                continue
            out.append(line)
        return out

    def _outside_fence(self, line: str, out: list[str]) -> str:
        """Adjust one line outside code fences, adding separators to `out` where needed."""
        if out and _opens_block_under_paragraph(line, out[-1]):
            out.append("")
        if not line.strip() and out and _OPENING_TAG.match(out[-1]):
            # A blank line ends Goldmark's HTML block, so what follows the tag is Markdown.
            out[-1] = _OPENING_TAG.sub(r'<\1\2 markdown="1">', out[-1])
        item = _TOP_BULLET.match(line) if not _RULE.match(line) else None
        if item and self.bullet not in (None, item.group(1)):
            out.extend(["", "<!-- -->", ""])  # ends the list: Python-Markdown would continue it
        if item or (line.strip() and not line.startswith((" ", "\t"))):
            self.bullet = item.group(1) if item else None
        line = _PAREN_ITEM.sub(r"\1.", line)
        return line.rstrip() if _HEADING.match(line) else line


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
                inner = _TAGS.sub("", render_inner_html(element, self.md))
                text = re.sub(r"&[#\w]+;", "", inner).strip().lower()
                slug = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE).replace(" ", "-")
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                element.set("id", slug if count == 0 else f"{slug}-{count}")


_BLOCKS = {"p", "ul", "ol", "pre", "div", "blockquote", "table", "dl", "hr", "h1", "h2", "h3"}


class LooseLists(Treeprocessor):
    """A list is loose as a whole in CommonMark: if one item has paragraphs, all items do."""

    def run(self, root: etree.Element) -> None:
        for parent in root.iter():
            if parent.tag in {"ul", "ol"} and any(li.find("p") is not None for li in parent):
                for item in parent:
                    if item.tag == "li" and item.find("p") is None:
                        _wrap_inline_start(item)


def _wrap_inline_start(item: etree.Element) -> None:
    """Put an item's leading text and inline elements into a paragraph of their own."""
    paragraph = etree.Element("p")
    paragraph.text, item.text = item.text, None
    for child in list(item):
        if child.tag in _BLOCKS:
            break
        item.remove(child)
        paragraph.append(child)
    if paragraph.text or len(paragraph):
        item.insert(0, paragraph)


class HttpsForWww(Treeprocessor):
    """Goldmark's linkify gives a bare www. address https, not http."""

    def run(self, root: etree.Element) -> None:
        for link in root.iter("a"):
            href = link.get("href", "")
            if href.startswith("http://www.") and (link.text or "").startswith("www."):
                link.set("href", "https://" + href[len("http://") :])


class LoneTags(Postprocessor):
    """A line holding one HTML tag is an HTML block in CommonMark, not a paragraph."""

    def run(self, text: str) -> str:
        return _LONE_PLACEHOLDER.sub(self._unwrap, text)

    def _unwrap(self, match: re.Match[str]) -> str:
        raw = self.md.htmlStash.rawHtmlBlocks[int(match.group(2))]
        return match.group(1) if _ONE_TAG.match(str(raw)) else match.group(0)


class HugoExtension(Extension):
    """The small differences from Goldmark that no published extension covers."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.register(CommonMarkLines(md), "hugo_lines", 27)
        md.parser.blockprocessors["olist"].LAZY_OL = False  # `3.` starts at 3, as in Hugo
        md.parser.blockprocessors.register(SeparateQuotes(md.parser), "quote", 20)
        md.treeprocessors.register(GithubHeadingIds(md), "hugo_heading_ids", 5)
        md.treeprocessors.register(HttpsForWww(md), "hugo_www", 4)
        md.treeprocessors.register(LooseLists(md), "hugo_loose_lists", 3)
        md.postprocessors.register(LoneTags(md), "hugo_lone_tags", 31)  # before raw HTML comes back


def new_markdown() -> markdown.Markdown:
    """A Markdown instance with Hugo's extensions: building one costs far more than a short
    document (its extensions compile hundreds of patterns), so each thread keeps one."""
    return markdown.Markdown(
        extensions=[*MARKDOWN_EXTENSIONS, HugoExtension()],
        extension_configs=MARKDOWN_CONFIG,
        output_format="html",
    )


_PER_THREAD = threading.local()


def render_markdown(text: str) -> str:
    """Render Markdown with Hugo's structure: CommonMark lists, fences, GFM, smart quotes."""
    md = getattr(_PER_THREAD, "md", None) or new_markdown()
    _PER_THREAD.md = None  # taken: a conversion that raises leaves its state with it
    html = md.reset().convert(text)  # reset(): no footnote, abbreviation or id leaks across
    _PER_THREAD.md = md
    return html
