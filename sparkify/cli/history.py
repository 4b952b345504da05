"""The load history: ``runs`` (newest first) and ``runs show RUN_ID``.

Both only read (DuckDB files open read-only); a warehouse made before the
migration that adds ``load_runs`` is told to run the migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from sparkify.cli.console import SparkifyGroup, cell, console
from sparkify.cli.options import settings_options
from sparkify.cli.output import Format, emit_csv, emit_json, formats_option
from sparkify.errors import UnknownRunError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from sparkify.config import Settings
    from sparkify.execute import Execute
    from sparkify.history import RunRecord

# The library (SQLAlchemy, the drivers) is imported inside the commands:
# ``sparkify runs --help`` needs none of it (see the package's docstring).

#: Runs listed by default (``sparkify.history.DEFAULT_LIMIT``; a test keeps them equal).
RUNS_LIMIT = 20


@contextmanager
def _history(settings: Settings) -> Iterator[tuple[sa.Connection, Execute]]:
    """A read-only connection to the warehouse's history, and how to send statements.

    The ledger and load_errors are asked for too: they tell an older warehouse
    (made before load_runs) from no warehouse at all.
    """
    from sparkify.db import reader_engine, reading
    from sparkify.execute import executor_for
    from sparkify.models import load_errors, load_ledger, load_runs

    engine = reader_engine(settings)
    tables = (load_ledger, load_errors, load_runs)
    try:
        with reading(engine, settings.schema, tables, "reading the load history") as conn:
            yield conn, executor_for(conn)
    finally:
        engine.dispose()


@click.group("runs", cls=SparkifyGroup, invoke_without_command=True)
@settings_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=RUNS_LIMIT,
    show_default=True,
    help="How many runs to list (the newest).",
)
@formats_option("table", "json", "csv")
@click.pass_context
def runs(ctx: click.Context, settings: Settings, limit: int, fmt: Format) -> None:
    """List the load runs (sparkify etl), newest first; `runs show RUN_ID` shows one."""
    if ctx.invoked_subcommand is not None:
        return
    from sparkify import history
    from sparkify.models import load_runs

    with _history(settings) as (conn, run):
        found = history.recent(conn, limit, run)
    if fmt == "json":
        emit_json([record.as_dict() for record in found])
    elif fmt == "csv":
        columns = [column.name for column in load_runs.columns]  # figures as JSON text
        emit_csv([[record.as_flat()[name] for name in columns] for record in found], columns)
    else:
        _print_runs(found)


#: Below this console width ``runs`` prints a line per run (the figures are in ``runs show``).
WIDE = 170


def _print_runs(found: list[RunRecord]) -> None:
    if not found:
        console.print("No load runs recorded yet: `sparkify etl` records each run.", markup=False)
    elif console.width < WIDE:
        _print_run_lines(found)
    else:
        _print_runs_table(found)


def _print_runs_table(found: list[RunRecord]) -> None:
    table = Table(title="Load runs, newest first")
    # The id and the time are never cut (the id is what `runs show` takes).
    table.add_column("run_id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    for name in ("objects", "staged", "inserted", "updated", "skipped"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("error", overflow="fold")
    for record in found:
        table.add_row(
            *_essentials(record),
            record.mode,
            *(f"{sum(counts.values()):,}" for counts in _counts(record)),
            f"{record.skipped:,}",
            cell(record.error),
        )
    console.print(table)


def _print_run_lines(found: list[RunRecord]) -> None:
    """A narrow terminal: one line per run, a failed run's error indented below it."""
    console.print("Load runs, newest first (started in UTC, seconds):", markup=False)
    for record in found:
        console.print("  ".join(_essentials(record)))
        if record.error:
            console.print(f"    {record.error}", markup=False)
    console.print(
        "Each run's figures: `sparkify runs show RUN_ID`, or --format json|csv.", markup=False
    )


def _essentials(record: RunRecord) -> tuple[str, ...]:
    return (
        record.run_id,
        _status(record.status, len("succeeded")),
        f"{record.started_at:%Y-%m-%d %H:%M:%S}",
        f"{record.total_seconds:8.2f}",
    )


def _counts(record: RunRecord) -> tuple[dict[str, int], ...]:
    return record.objects, record.staged, record.inserted, record.updated


def _status(status: str, width: int = 0) -> str:
    """A run's status, coloured (padded to ``width``: the narrow list's column)."""
    text = escape(f"{status:<{width}}")
    return f"[green]{text}[/]" if status == "succeeded" else f"[bold red]{text}[/]"


@runs.command("show")
@settings_options
@click.argument("run_id")
@formats_option("table", "json")
def show(settings: Settings, run_id: str, fmt: Format) -> None:
    """Show one load run, with the bad records it skipped (its load_errors rows)."""
    from sparkify import history

    with _history(settings) as (conn, run):
        record = history.one(conn, run_id, run)
        if record is None:
            raise UnknownRunError(run_id)
        errors = history.run_errors(conn, run_id, run)
    if fmt == "json":
        emit_json({**record.as_dict(), "load_errors": errors})
        return
    _print_run(record)
    _print_errors(errors)


def _print_run(record: RunRecord) -> None:
    about = Table("field", "value", title=f"Load run {record.run_id}", show_header=False)
    about.add_row("status", _status(record.status))
    about.add_row("started (UTC)", str(record.started_at))
    about.add_row("finished (UTC)", str(record.finished_at))
    about.add_row("seconds", f"{record.total_seconds:.2f}")
    about.add_row("mode", record.mode)
    about.add_row("backend", cell(record.backend))
    about.add_row("bad records skipped", f"{record.skipped:,}")
    about.add_row("error", cell(record.error))
    console.print(about)
    names = dict.fromkeys(name for figures in _counts(record) for name in figures)
    if names:
        tables = Table("table", title="Per table")
        for name in ("objects", "rows staged", "inserted", "updated"):
            tables.add_column(name, justify="right")
        for name in names:
            tables.add_row(name, *(_figure(figures, name) for figures in _counts(record)))
        console.print(tables)
    steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in record.seconds.items())
    console.print(f"Steps: {steps or 'none'}", markup=False)


def _figure(figures: dict[str, int], name: str) -> str:
    return f"{figures[name]:,}" if name in figures else ""


def _print_errors(errors: list[dict[str, Any]]) -> None:
    if not errors:
        console.print("No bad records skipped.", markup=False)
        return
    table = Table("table", title="Bad records skipped")
    table.add_column("source", overflow="fold")
    table.add_column("line", justify="right")
    for name in ("column", "reason", "raw line"):
        table.add_column(name)
    for error in errors:
        table.add_row(
            *(
                cell(error[name])
                for name in ("table_name", "source", "line", "column_name", "reason", "raw_line")
            )
        )
    console.print(table)
