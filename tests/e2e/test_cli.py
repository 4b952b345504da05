"""The command line: help everywhere, version, one-line errors, create-tables."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sparkify import models, schema
from sparkify.cli import main
from sparkify.db import engine_for_url

pytestmark = pytest.mark.e2e


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the group loads its commands lazily
        command = group.get_command(ctx, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


def test_every_command_and_option_has_help_text() -> None:
    ctx = click.Context(main)
    for path in all_commands(main):
        command: click.Command | None = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.get_command(click.Context(command), name)
        assert command is not None
        assert command.help, f"sparkify {' '.join(path)} has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"sparkify {' '.join(path)} {param.opts[0]} has no help"
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, result.output
    assert ctx.command.help


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("sparkify, version ")


def test_a_sparkify_error_is_one_line_and_exit_code_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["create-tables", "--config", str(tmp_path / "missing.cfg")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "missing.cfg" in lines[0] and "not found" in lines[0]


def test_create_tables_builds_the_schema_on_duckdb_at_the_head_revision(duckdb_url: sa.URL) -> None:
    result = CliRunner().invoke(main, ["create-tables", "--database-url", str(duckdb_url)])
    assert result.exit_code == 0, result.output
    assert "Recreated 10 tables" in result.output
    engine = engine_for_url(duckdb_url)
    assert set(sa.inspect(engine).get_table_names()) >= set(models.metadata.tables)
    assert schema.current_revision(engine) == schema.head_revision()
    engine.dispose()


def test_create_tables_drops_existing_rows(duckdb_url: sa.URL) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["create-tables", "--database-url", str(duckdb_url)]).exit_code == 0
    engine = engine_for_url(duckdb_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(models.users).values(user_id=7, first_name="Ann", last_event_ts=1))
    engine.dispose()
    result = runner.invoke(main, ["create-tables", "--database-url", str(duckdb_url)])
    assert result.exit_code == 0, result.output
    engine = engine_for_url(duckdb_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(models.users)).scalar() == 0
    engine.dispose()


def test_create_tables_on_postgresql_in_a_schema(pg_engine: sa.Engine) -> None:
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS cli_test CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA cli_test")
    url = pg_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main, ["create-tables", "--database-url", url, "--schema", "cli_test"]
    )
    assert result.exit_code == 0, result.output
    tables = set(sa.inspect(pg_engine).get_table_names(schema="cli_test"))
    assert tables == set(models.metadata.tables) | {"alembic_version"}
    # Run twice: still one clean schema at head.
    assert (
        CliRunner()
        .invoke(main, ["create-tables", "--database-url", url, "--schema", "cli_test"])
        .exit_code
        == 0
    )
    assert schema.current_revision(pg_engine, "cli_test") == schema.head_revision()
