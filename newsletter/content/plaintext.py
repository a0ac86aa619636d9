"""HTML to plain text, the one renderer: the email's text part, meta descriptions, summaries."""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

WIDTH = 72
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "figure", "dl", "dd"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_CELL_GAP = "  "
_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_BREAK = "\x01"  # a <br>, kept apart from the source's own newlines


class _TextWriter(HTMLParser):
    """Collects wrapped blocks of text; links become 'text (URL)', footnotes '[n]'."""

    def __init__(self, markup: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.rows: list[tuple[list[str], bool]] | None = None  # the current table's rows
        self.cell: int | None = None  # index in parts where the current cell began
        self.blocks: list[tuple[str, bool]] = []  # (text, is a list item)
        self.parts: list[str] = []
        self.marker = ""  # the current list item's '- ' or 'N. '
        self.quotes = 0
        self.lists: list[int | None] = []  # None: bulleted; int: the next number
        self.links: list[tuple[str, int]] = []  # (href, index in parts where the link began)
        self.pre = 0
        self.skip = 0  # inside <style>, <script>, or a footnote back-link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("style", "script") or "footnote-backref" in (attributes.get("class") or ""):
            self.skip += 1
        elif tag in ("table", "tr", "td", "th"):
            self.start_table_part(tag)
        elif tag in _BLOCKS or tag in ("blockquote", "pre", "ul", "ol", "hr"):
            self.start_block(tag)
        elif tag == "li":
            self.start_list_item()
        elif tag == "br":
            self.parts.append(_BREAK)
        elif tag == "a":
            self.links.append((attributes.get("href") or "", len(self.parts)))
        elif tag == "img" and self.markup:
            alt = (attributes.get("alt") or "image").strip()
            self.parts.append(f" [{alt}: {attributes.get('src') or ''}] ")

    def start_block(self, tag: str) -> None:
        self.flush()
        if tag in _HEADINGS and self.markup:  # marked as in Markdown, so the text shows the outline
            self.parts.append("#" * _HEADINGS[tag] + " ")
        self.quotes += tag == "blockquote"
        self.pre += tag == "pre"
        if tag in ("ul", "ol"):
            self.lists.append(1 if tag == "ol" else None)
            self.blocks.append(("", False))  # a new list starts a new paragraph
        if tag == "hr":
            self.blocks.append(("* * *", False))

    def handle_endtag(self, tag: str) -> None:
        if self.skip and tag in ("style", "script", "a"):
            self.skip -= 1
        elif tag in ("table", "tr", "td", "th"):
            self.end_table_part(tag)
        elif tag in _BLOCKS or tag in ("li", "pre", "blockquote", "ul", "ol"):
            self.flush()
            self.pre -= tag == "pre" and self.pre > 0
            self.quotes -= tag == "blockquote" and self.quotes > 0
            if tag in ("ul", "ol") and self.lists:
                self.lists.pop()
        elif tag == "a" and self.links:
            self.end_link(*self.links.pop())

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def start_list_item(self) -> None:
        """Close the previous item and mark the next one with '- ' or 'N. '."""
        self.flush()
        self.marker = "- "
        if self.lists and self.lists[-1] is not None:
            self.marker = f"{self.lists[-1]}. "
            self.lists[-1] += 1

    def end_link(self, href: str, start: int) -> None:
        """Append the URL after the link text, or show a footnote reference as [n]."""
        text = _SPACE.sub(" ", "".join(self.parts[start:])).strip()
        if "#fn:" in href or "#fn-" in href:
            self.parts[start:] = [f"[{text}]"]
        elif self.markup and href and not href.startswith("mailto:") and text != href:
            self.parts.append(f" ({href})" if text else href)

    def start_table_part(self, tag: str) -> None:
        """Begin a table, a row or a cell; a cell gathers its text apart from the rest."""
        if tag == "table":
            self.flush()
            self.rows = []
        elif self.rows is not None and tag == "tr":
            self.rows.append(([], False))
        elif self.rows is not None and self.rows:
            self.end_table_part("td")  # an unclosed previous cell
            self.cell = len(self.parts)
            if tag == "th":
                self.rows[-1] = (self.rows[-1][0], True)

    def end_table_part(self, tag: str) -> None:
        """Close a cell (keeping its text) or the table (writing it as aligned text)."""
        if self.cell is not None and self.rows:
            text = _SPACE.sub(" ", "".join(self.parts[self.cell :])).strip()
            del self.parts[self.cell :]
            self.rows[-1][0].append(text)
            self.cell = None
        if tag == "table" and self.rows is not None:
            rows, self.rows = [(cells, head) for cells, head in self.rows if cells], None
            if rows:
                self.blocks.append((table_text(rows, WIDTH - 2 * self.quotes), False))

    def flush(self) -> None:
        """Turn the text gathered so far into one wrapped block."""
        if self.cell is not None:
            return  # a paragraph inside a table cell stays in its cell
        raw, self.parts = "".join(self.parts), []
        marker, self.marker = self.marker, ""
        prefix = "> " * self.quotes
        if self.pre:
            if raw.strip("\n"):
                lines = raw.strip("\n").split("\n")
                block = "\n".join(f"{prefix}    {line}".rstrip() for line in lines)
                self.blocks.append((block, False))
            return
        indent = "   " * max(0, len(self.lists) - 1)
        lines: list[str] = []
        for chunk in _SPACE.sub(" ", raw).split(_BREAK):
            first = indent + (marker if not lines else " " * len(marker))
            lines += textwrap.wrap(
                chunk.strip(),
                width=WIDTH - len(prefix),
                initial_indent=first,
                subsequent_indent=indent + " " * len(marker),
                break_long_words=False,
                break_on_hyphens=False,
            )
        if lines:
            self.blocks.append(("\n".join(prefix + line for line in lines), bool(marker)))


def table_text(rows: list[tuple[list[str], bool]], width: int) -> str:
    """A table as aligned columns, a rule under the header; when too wide for `width`, one
    row per line with the cells set apart by ' | '."""
    columns = max(len(cells) for cells, _ in rows)
    padded = [(cells + [""] * (columns - len(cells)), head) for cells, head in rows]
    widths = [max(len(cells[index]) for cells, _ in padded) for index in range(columns)]
    if sum(widths) + len(_CELL_GAP) * (columns - 1) > width:
        return "\n".join(" | ".join(cell for cell in cells if cell) for cells, _ in padded)
    lines = []
    for number, (cells, head) in enumerate(padded):
        lines.append(_CELL_GAP.join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
        if head and number == 0:
            lines.append(_CELL_GAP.join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def html_to_plain(html: str, *, markup: bool = True) -> str:
    """Readable text of an essay's HTML: wrapped paragraphs, marked headings, aligned tables,
    indented code, lists with their markers, links followed by their URLs; with
    `markup=False`, the bare words on one line (meta descriptions, feed summaries)."""
    writer = _TextWriter(markup)
    writer.feed(html)
    writer.close()
    writer.end_table_part("table")  # a table left open at the end still shows
    writer.flush()
    if not markup:
        return " ".join(" ".join(block for block, _ in writer.blocks).split())
    text = ""
    previous_item = False
    for block, item in writer.blocks:
        if not block:
            previous_item = False
            continue
        text += ("\n" if item and previous_item else "\n\n") + block
        previous_item = item
    return text.strip("\n")
