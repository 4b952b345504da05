"""The CLI is one wing at the top: nothing in the library imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_outside_the_cli_package_imports_it() -> None:
    cli = ROOT / "sparkify" / "cli"
    library = [
        path
        for folder in (ROOT / "sparkify", ROOT / "migrations")
        for path in folder.rglob("*.py")
        if cli not in path.parents
    ]
    assert len(library) > 20
    importers = {
        str(path.relative_to(ROOT))
        for path in library
        if any(
            m == "sparkify.cli" or m.startswith("sparkify.cli.") for m in _imported_modules(path)
        )
    }
    assert importers == set()


def test_every_cli_module_is_readable_in_one_sitting() -> None:
    lengths = {
        p.name: len(p.read_text().splitlines()) for p in (ROOT / "sparkify" / "cli").glob("*.py")
    }
    assert max(lengths.values()) <= 400, lengths
