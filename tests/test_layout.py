"""The package's layout holds: imports run one way between the stages, and the house limits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"

# Each stage may import the stages below it and the root modules; never one above or beside it.
LAYERS = {"content": 0, "mail": 1, "subscribers": 2, "sending": 3, "web": 4, "desk": 4, "cli": 4}
ROOT_MODULES = {"config", "extensions", "database", "lazyview", "links", "columns", "instance_key"}
# `content` turns files into values: no database and no request in it.
CONTENT_FORBIDDEN = (
    "sqlalchemy",
    "flask_sqlalchemy",
    "newsletter.extensions",
    "newsletter.columns",
)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def stage_of(path: Path) -> str | None:
    """The stage a module belongs to, or None for a root module."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module name `path` imports, absolute, with its line (function-level imports too)."""
    package = ".".join(("newsletter", *path.relative_to(PACKAGE).parts[:-1]))
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def target_stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "newsletter" or len(parts) < 2 or parts[1] in ROOT_MODULES:
        return None
    return parts[1] if parts[1] in LAYERS else None


def test_every_module_belongs_to_a_stage_or_is_a_named_root_module():
    strays = [
        str(p.relative_to(PACKAGE))
        for p in modules()
        if stage_of(p) is None and p.stem not in ROOT_MODULES | {"__init__"}
    ]
    strays += [str(p.relative_to(PACKAGE)) for p in modules() if stage_of(p) not in (None, *LAYERS)]
    assert strays == []


def test_imports_run_one_way_between_the_stages():
    wrong = []
    for path in modules():
        here = stage_of(path)
        for line, module in imported(path):
            there = target_stage(module)
            if there is None or there == here:
                continue
            if here is None or LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert wrong == []


def test_content_knows_nothing_of_the_database():
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in modules()
        if stage_of(path) == "content"
        for line, module in imported(path)
        if module.startswith(CONTENT_FORBIDDEN)
    ]
    assert wrong == []


def test_every_stage_says_what_it_holds_and_may_import():
    for stage in LAYERS:
        init = PACKAGE / stage / "__init__.py"
        if init.exists():
            assert ast.get_docstring(ast.parse(init.read_text())), f"{stage}/__init__.py"


MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 30


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path: Path):
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name} is over {MAX_MODULE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
