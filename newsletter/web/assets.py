"""The one stylesheet: the site's CSS plus Pygments' code colours for light and dark mode."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pygments.formatters import HtmlFormatter

LIGHT_CODE_STYLE = "vs"  # both chosen for WCAG AA contrast on their backgrounds
DARK_CODE_STYLE = "github-dark"


def code_css(style: str) -> str:
    """Pygments' rules for one style, scoped to the `.highlight` blocks Markdown emits."""
    formatter = HtmlFormatter(style=style, cssclass="highlight")
    rules = formatter.get_style_defs(".highlight").splitlines()
    # Token colours only: backgrounds come from the site's own CSS, which knows the page colours.
    return "\n".join(rule for rule in rules if rule.startswith(".highlight ."))


@lru_cache(maxsize=4)
def stylesheet(static_folder: str) -> tuple[bytes, str]:
    """The combined stylesheet and a short digest of it, for a cache-busting URL."""
    site = (Path(static_folder) / "site.css").read_text(encoding="utf-8")
    css = (
        f"{site}\n"
        f"@media not all and (prefers-color-scheme: dark) {{\n{code_css(LIGHT_CODE_STYLE)}\n}}\n"
        f"@media (prefers-color-scheme: dark) {{\n{code_css(DARK_CODE_STYLE)}\n}}\n"
    ).encode()
    return css, hashlib.sha1(css).hexdigest()[:12]
