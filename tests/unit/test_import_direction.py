"""Imports run one way: sources at the bottom of the load, the ledger on sources,
staging above both (read from the modules' source, nothing is imported)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "sparkify"

#: What the sources package may import from sparkify, besides its own modules.
SOURCES_MAY_IMPORT = frozenset({"sparkify.config", "sparkify.errors", "sparkify.models"})
#: What must never run when the sources package is imported, directly or not.
ABOVE_SOURCES = ("sparkify.staging", "sparkify.ledger", "sparkify.load")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_module(name: str) -> bool:
    return name in MODULES


@cache
def direct_imports(module: str) -> frozenset[str]:
    """The sparkify modules ``module`` imports anywhere (type-checking blocks and
    function bodies included), each with the packages whose ``__init__`` that runs."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {name for name in found if is_module(name)}
    parents = {
        ".".join(name.split(".")[:end]) for name in modules for end in range(2, name.count(".") + 1)
    }
    return frozenset((modules | parents) - {module})


def reachable(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in direct_imports(todo.pop()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


SOURCES_MODULES = sorted(name for name in MODULES if inside(name, "sparkify.sources"))


def test_the_sources_package_has_its_modules() -> None:
    assert {"sparkify.sources.plan", "sparkify.sources.listing"} <= set(SOURCES_MODULES)


@pytest.mark.parametrize("module", SOURCES_MODULES)
def test_a_sources_module_imports_only_config_errors_models_and_its_own_package(
    module: str,
) -> None:
    outside = {
        name
        for name in direct_imports(module)
        if not inside(name, "sparkify.sources") and name not in SOURCES_MAY_IMPORT
    }

    assert outside == set()


@pytest.mark.parametrize("module", SOURCES_MODULES)
def test_importing_a_sources_module_never_runs_staging_the_ledger_or_the_loader(
    module: str,
) -> None:
    above = {name for name in reachable(module) if any(inside(name, top) for top in ABOVE_SOURCES)}

    assert above == set()


def test_the_ledger_stands_on_sources_and_imports_nothing_from_staging() -> None:
    assert "sparkify.sources" in direct_imports("sparkify.ledger")
    staging = {name for name in reachable("sparkify.ledger") if inside(name, "sparkify.staging")}

    assert staging == set()
