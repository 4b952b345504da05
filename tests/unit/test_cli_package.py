"""The CLI is one wing at the top: nothing in the library imports it; it starts light."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from sparkify import load
from sparkify.cli import COMMANDS, LazyGroup
from sparkify.cli.options import LOCK_TIMEOUT_DEFAULT

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


#: What ``sparkify --help`` must not import: the library's heavy dependencies (each costs
#: tens to hundreds of milliseconds; SQLAlchemy also stands for the library, which
#: imports it everywhere). orjson is left out: it imports in about a millisecond.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "boto3",
    "botocore",
    "s3transfer",
    "duckdb",
    "duckdb_engine",
    "psycopg",
    "redshift_connector",
    "sqlalchemy_redshift",
    "matplotlib",
)

_IMPORTED_BY = """
import json, sys
from sparkify.cli import main
main(sys.argv[1:], prog_name="sparkify", standalone_mode=False)
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _heavy_modules_imported_by(*args: str) -> set[str]:
    """Run ``sparkify ARGS`` in a fresh interpreter; the heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED_BY, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = json.loads(done.stderr.splitlines()[-1])
    return {m for m in modules if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        *(
            [*name.split(), "--help"]
            for name in ("create-tables", "etl", "counts", "check", "analyze", "s3 check")
        ),
        ["generate", "--help"],
        ["demo", "--help"],
        ["report", "--help"],
        # (`runs show --help` builds the group's settings first, as click runs a group's
        # callback before its subcommand's: that one reads the configuration.)
        ["runs", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_version_import_none_of_the_librarys_dependencies(args: list[str]) -> None:
    assert _heavy_modules_imported_by(*args) == set()


def test_every_registered_command_is_the_command_of_that_name_with_that_help() -> None:
    for name, entry in COMMANDS.items():
        module_name, _, attribute = entry.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command) and command.name == name, entry
        assert command.get_short_help_str(limit=1000) == entry.short_help, name


def test_the_help_lists_the_commands_as_it_would_with_every_command_imported() -> None:
    lazy = LazyGroup("sparkify", lazy=COMMANDS)
    eager = click.Group("sparkify")
    for name, entry in COMMANDS.items():
        module_name, _, attribute = entry.target.partition(":")
        eager.add_command(getattr(importlib.import_module(module_name), attribute), name)
    lazy_help = lazy.get_help(click.Context(lazy, info_name="sparkify"))
    assert lazy_help == eager.get_help(click.Context(eager, info_name="sparkify"))
    assert lazy.commands == {}  # listing them imported none


def test_the_lock_timeout_flag_defaults_to_the_librarys_default() -> None:
    assert LOCK_TIMEOUT_DEFAULT == load.DEFAULT_LOCK_TIMEOUT


def test_runs_lists_the_librarys_default_number_of_runs() -> None:
    from sparkify import history
    from sparkify.cli.history import RUNS_LIMIT

    assert RUNS_LIMIT == history.DEFAULT_LIMIT
