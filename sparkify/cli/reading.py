"""The commands that read: ``counts``, ``check``, ``analyze`` and ``s3 check``.

Each opens the warehouse read-only where the backend allows (a DuckDB file is
never created by a reader) and says "no warehouse" when its tables are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from sparkify.cli.console import SparkifyGroup, console, err_console, notice
from sparkify.cli.options import settings_options
from sparkify.cli.output import Format, emit, emit_json, format_option, records

if TYPE_CHECKING:
    from sparkify.config import Settings

# The library (SQLAlchemy, the drivers, boto3) is imported inside the commands:
# ``sparkify counts --help`` needs none of it (see the package's docstring).


@click.command("counts")
@settings_options
@format_option
def counts(settings: Settings, fmt: Format) -> None:
    """Print the row count of every staging and star table."""
    from sparkify.counts import COUNTED_TABLES, table_counts
    from sparkify.db import describe, reader_engine, reading
    from sparkify.staging import stager_for

    engine = reader_engine(settings)
    try:
        with reading(engine, settings.schema, COUNTED_TABLES, "counting table rows"):
            found = stager_for(settings.backend).read(engine, table_counts, notify=notice)
    finally:
        engine.dispose()
    table = Table("table", "rows", title=f"Row counts on {escape(describe(engine))}")
    for name, rows in found.items():
        table.add_row(name, f"{rows:,}")
    emit(list(found.items()), ("table", "rows"), fmt, table=table)


#: The columns of ``check --format json|csv``.
CHECK_COLUMNS = ("check", "table", "passed", "failing_rows", "detail")


@click.command("check")
@settings_options
@format_option
def check(settings: Settings, fmt: Format) -> None:
    """Run the data-quality checks; exit 1 when any fails."""
    from sparkify import quality
    from sparkify.db import reader_engine, reading
    from sparkify.models import STAR_TABLES, staging_events
    from sparkify.staging import stager_for

    engine = reader_engine(settings)
    tables = (*STAR_TABLES, staging_events)
    try:
        with reading(engine, settings.schema, tables, "the data-quality checks"):
            results = stager_for(settings.backend).read(engine, quality.run_checks, notify=notice)
    finally:
        engine.dispose()
    table = Table("check", "result", "failing rows", "detail", title="Data quality")
    for result in results:
        verdict = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        table.add_row(result.name, verdict, str(result.failing_rows), escape(result.detail))
    rows = [(r.name, r.table, r.passed, r.failing_rows, r.detail) for r in results]
    emit(rows, CHECK_COLUMNS, fmt, table=table)
    failed = [r for r in results if not r.passed]
    if fmt == "table":
        console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


@click.command("analyze")
@settings_options
@click.argument("questions", nargs=-1, metavar="[QUESTION]...")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows per ranking question.",
)
@format_option
@click.option(
    "--charts",
    "charts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a PNG bar chart per question into DIR (needs sparkify[charts]).",
)
def analyze(
    settings: Settings, questions: tuple[str, ...], limit: int, fmt: Format, charts_dir: Path | None
) -> None:
    """Answer the analytics team's standard questions (all, or those named)."""
    from sparkify import analytics
    from sparkify.db import reader_engine, reading
    from sparkify.models import STAR_TABLES

    names = list(questions) or list(analytics.QUESTIONS)
    if charts_dir is not None:
        analytics.check_chart_dir(charts_dir)
    engine = reader_engine(settings)
    try:
        with reading(engine, settings.schema, STAR_TABLES, "the analytics questions") as conn:
            answers = [analytics.run(conn, name, limit=limit) for name in names]
    finally:
        engine.dispose()
    if fmt == "json":
        # One array of answers, each with its rows as objects keyed by column.
        emit_json(
            [
                {
                    "name": answer.name,
                    "description": answer.description,
                    "columns": answer.columns,
                    "rows": records(answer.rows, answer.columns),
                }
                for answer in answers
            ]
        )
    else:
        for answer in answers:
            if fmt == "csv":  # one CSV per answer, after a comment line naming it
                click.echo(f"# {answer.name}: {answer.description}")
            emit(answer.rows, answer.columns, fmt, title=answer.description)
    if charts_dir is not None:
        written = analytics.write_charts(answers, charts_dir)
        err_console.print(f"Wrote {len(written)} chart(s) to {escape(str(charts_dir))}")


@click.group("s3", cls=SparkifyGroup)
def s3() -> None:
    """Inspect the S3 (or local) sources."""


@s3.command("check")
@settings_options
def s3_check(settings: Settings) -> None:
    """Check that the song and log sources and the JSONPaths file are present and readable."""
    from sparkify.preflight import check_sources

    report = check_sources(settings, notify=notice)
    table = Table("check", "result", "detail", title="Sources")
    for item in report.checks:
        verdict = "[green]ok[/]" if item.ok else "[bold red]FAIL[/]"
        table.add_row(escape(item.name), verdict, escape(item.detail))
    console.print(table)
    if not report.ok:
        sys.exit(1)
