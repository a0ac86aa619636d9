"""The outside judges of the pages: the Nu HTML Checker (vnu.jar) and axe-core in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

VNU_JAR_IN_VENV = Path("vnu/node_modules/vnu-jar/build/dist/vnu.jar")

# axe-core's tags for the WCAG 2.1 level A and AA success criteria (2.0's included).
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def vnu_unavailable() -> str | None:
    """Why vnu.jar cannot run here, in one line; None when it can."""
    if shutil.which("java") is None:
        return "Java is not installed (Debian: default-jre-headless; .ci/run installs it)."
    if vnu_jar() is None:
        return (
            f"vnu.jar is not installed: `make test` puts it at .venv/{VNU_JAR_IN_VENV} with npm "
            "(or set VNU_JAR to its path)."
        )
    return None


def vnu_jar() -> Path | None:
    """vnu.jar from $VNU_JAR, else from the running virtualenv (see the Makefile)."""
    candidate = Path(os.environ.get("VNU_JAR") or Path(sys.prefix) / VNU_JAR_IN_VENV)
    return candidate if candidate.is_file() else None


def validate_html(documents: dict[str, bytes], folder: Path) -> dict[str, list[str]]:
    """Check each named document with the Nu HTML Checker in one run; its errors by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in documents.items():
        path = folder / f"{name}.html"
        path.write_bytes(body)
        paths.append(str(path))
    result = subprocess.run(
        ["java", "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *paths],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        messages = json.loads(result.stderr or result.stdout)["messages"]
    except (ValueError, KeyError) as error:
        raise AssertionError(f"vnu.jar gave no report ({error}):\n{result.stderr}") from error
    errors: dict[str, list[str]] = {name: [] for name in documents}
    for message in messages:
        name = Path(unquote(urlsplit(message.get("url", "")).path)).stem
        errors.setdefault(name, []).append(describe_vnu_message(message))
    return errors


def describe_vnu_message(message: dict) -> str:
    """One vnu message as a line a person can act on: where, what, and the markup."""
    where = f"line {message.get('lastLine', '?')}, column {message.get('firstColumn', '?')}"
    extract = " ".join(str(message.get("extract", "")).split())
    return f"{message.get('type')}: {where}: {message.get('message')} [{extract}]"


def axe_violations(page: Page) -> list[str]:
    """The WCAG 2.1 A/AA violations axe-core finds on the page as it is now displayed."""
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
    response = Axe().run(page, options=options).response
    lines = []
    for violation in response["violations"]:
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']}: "
                f"{' '.join(map(str, node['target']))}: {summary}"
            )
    return lines
