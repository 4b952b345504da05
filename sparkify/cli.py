"""The ``sparkify`` command: thin commands over the library.

Each command parses its options, calls the library and prints. A
``SparkifyError`` becomes a one-line message on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.markup import escape
from rich.table import Table

from sparkify import analytics, demo, load, quality, schema
from sparkify.commands_infra import infra
from sparkify.config import Settings, load_settings
from sparkify.console import SparkifyGroup, console, err_console
from sparkify.counts import COUNTED_TABLES, table_counts
from sparkify.db import (
    create_engine,
    describe,
    duckdb_file,
    reader_engine,
    reading,
    require_duckdb_file,
    translated,
)
from sparkify.errors import FolderNotEmptyError, LoadInterrupted
from sparkify.models import STAR_TABLES, load_ledger, staging_events
from sparkify.preflight import check_sources
from sparkify.progress import RichProgress
from sparkify.staging import stager_for

F = TypeVar("F", bound=Callable[..., Any])

#: The longest --lock-timeout: a week (FloatRange refuses inf only below a bound).
LOCK_TIMEOUT_MAX = 7 * 24 * 3600.0


def _a_number(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Refuse nan, which FloatRange lets through (every comparison with nan is false)."""
    if math.isnan(value):
        raise click.BadParameter("nan is not a number of seconds.", ctx, param)
    return value


_LOCK_OPTIONS = (
    click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        envvar="SPARKIFY_WAIT",
        help="When another load is in progress, wait for it, or fail at once "
        "(on Redshift, --no-wait waits up to 1 s: LOCK has no NOWAIT).",
    ),
    click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0, max=LOCK_TIMEOUT_MAX),
        callback=_a_number,
        default=load.DEFAULT_LOCK_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long --wait waits (on Redshift, the statement_timeout of the LOCK on "
        "load_ledger).",
    ),
)


def lock_options(command: F) -> F:
    """``--wait/--no-wait`` and ``--lock-timeout``: the commands that take the load lock."""
    for option in reversed(_LOCK_OPTIONS):
        command = option(command)
    return command


def settings_options(func: F) -> F:
    """Add the settings flags (--config, --database-url, sources, --schema) to a command.

    The command receives a resolved ``settings: Settings`` argument instead.
    """

    @click.option(
        "--config",
        "config_file",
        metavar="PATH",
        envvar="SPARKIFY_CONFIG",
        help="dwh.cfg to read (default: ./dwh.cfg when present).",
    )
    @click.option(
        "--database-url",
        metavar="URL",
        help="Warehouse database URL (default: SPARKIFY_DATABASE_URL, dwh.cfg "
        "[CLUSTER], else duckdb:///sparkify.duckdb).",
    )
    @click.option("--song-data", metavar="URI", help="s3:// prefix or folder of song files.")
    @click.option("--log-data", metavar="URI", help="s3:// prefix or folder of event logs.")
    @click.option("--log-jsonpath", metavar="URI", help="s3:// URI or path of the JSONPaths file.")
    @click.option(
        "--schema",
        "schema_name",
        metavar="NAME",
        help="Schema of the tables (default: SPARKIFY_SCHEMA, else the database's).",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_file: str | None,
        database_url: str | None,
        song_data: str | None,
        log_data: str | None,
        log_jsonpath: str | None,
        schema_name: str | None,
        **kwargs: Any,
    ) -> Any:
        settings = load_settings(
            config_file=config_file,
            database_url=database_url,
            song_data=song_data,
            log_data=log_data,
            log_jsonpath=log_jsonpath,
            schema=schema_name,
        )
        return func(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(cls=SparkifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("sparkify"), "--version", prog_name="sparkify")
def main() -> None:
    """Build and keep the Sparkify song-play warehouse (Redshift, PostgreSQL or DuckDB)."""


@main.command("create-tables")
@settings_options
@lock_options
def create_tables(settings: Settings, wait: bool, lock_timeout: float) -> None:
    """Drop and recreate every warehouse table through the migrations.

    The warehouse's load lock is taken first, as a load takes it: a load in
    progress finishes before its tables are dropped.
    """
    engine = create_engine(settings)
    with _no_new_file(duckdb_file(engine)):
        try:
            with translated("creating the tables", engine):
                created = schema.recreate(
                    engine,
                    settings.schema,
                    wait=wait,
                    lock_timeout=lock_timeout,
                    notify=_notice,
                )
                revision = schema.current_revision(engine, settings.schema)
        finally:
            engine.dispose()  # before a failed run's new file is removed
    console.print(
        f"Recreated {len(created)} tables on {describe(engine)} "
        f"at schema revision {revision}: {', '.join(created)}",
        markup=False,
    )


@contextmanager
def _no_new_file(path: Path | None) -> Iterator[None]:
    """Remove the DuckDB file the block created, should the block fail.

    DuckDB creates its file as it connects, before it applies the URL's
    settings: a failed ``create-tables`` leaves nothing behind.
    """
    existed = path is None or path.exists()
    try:
        yield
    except BaseException:
        if not existed and path is not None:
            for leftover in (path, path.with_name(path.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise


@main.command("etl")
@settings_options
@click.option(
    "--incremental/--full-refresh",
    "incremental",
    default=True,
    show_default=True,
    help="Incremental: stage only objects new or changed since the load ledger saw "
    "them and merge them in. Full refresh: rebuild every star table from all "
    "sources.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Skip up to N bad records (recorded in load_errors) instead of stopping at the first.",
)
@lock_options
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars (default: when stderr is a terminal).",
)
def etl(
    settings: Settings,
    incremental: bool,
    max_errors: int,
    wait: bool,
    lock_timeout: float,
    progress: bool | None,
) -> None:
    """Load the sources into staging and merge them into the star schema, in one transaction."""
    engine = create_engine(settings)
    show = err_console.is_terminal if progress is None else progress
    report: load.LoadReport | None = None
    try:
        try:
            # A missing DuckDB file would be created empty, then the load would fail.
            require_duckdb_file(engine)
            with translated("the load", engine), RichProgress(err_console, enabled=show) as bars:
                report = load.run(
                    engine,
                    settings,
                    mode="incremental" if incremental else "full",
                    max_errors=max_errors,
                    wait=wait,
                    lock_timeout=lock_timeout,
                    progress=bars,
                )
        finally:
            engine.dispose()
        print_report(report)
    except LoadInterrupted as exc:
        if exc.committed:
            raise
        # Ctrl-C during COMMIT: the database may have finished it. Its ledger knows.
        raise LoadInterrupted(exc.run_id, committed=_run_committed(engine, exc.run_id)) from exc
    except KeyboardInterrupt as exc:
        if report is None:
            raise
        raise LoadInterrupted(report.run_id, committed=True) from exc


def _run_committed(engine: sa.Engine, run_id: str) -> bool:
    """Whether the load ledger holds rows of ``run_id`` (it committed); ``False`` when unsure."""
    query = sa.select(load_ledger.c.run_id).where(load_ledger.c.run_id == run_id).limit(1)
    try:
        with engine.connect() as conn:
            return conn.execute(query).first() is not None
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def _notice(message: str) -> None:
    """Tell the user, on stderr, why a command waits (the message is ours: no markup)."""
    err_console.print(escape(message), style="yellow", soft_wrap=True)


def print_report(report: load.LoadReport) -> None:
    """Print a load report as tables."""
    staged = Table(
        "staging table",
        "objects staged",
        "new",
        "changed",
        "already loaded",
        "bytes",
        "rows",
        title=f"Staged ({report.mode} load)",
    )
    for name, rows in report.staged.items():
        staged.add_row(
            name,
            f"{report.objects.get(name, 0):,}",
            f"{report.new_objects.get(name, 0):,}",
            f"{report.changed_objects.get(name, 0):,}",
            f"{report.skipped_objects.get(name, 0):,}",
            f"{report.bytes.get(name, 0):,}",
            f"{rows:,}",
        )
    console.print(staged)
    star = Table("star table", "inserted", "updated", "rows now", title="Star schema")
    for name in ("songplays", "users", "songs", "artists", "time"):
        star.add_row(
            name,
            f"{report.inserted.get(name, 0):,}",
            f"{report.updated.get(name, 0):,}",
            f"{report.totals.get(name, 0):,}",
        )
    console.print(star)
    steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in report.seconds.items())
    console.print(f"Run {report.run_id} on {report.backend}: {report.total_seconds:.2f}s ({steps})")
    if report.skipped:
        console.print(
            f"[yellow]{report.skipped} bad record(s) skipped; see the load_errors "
            f"table (run_id = '{report.run_id}').[/]"
        )


@main.command("counts")
@settings_options
def counts(settings: Settings) -> None:
    """Print the row count of every staging and star table."""
    engine = reader_engine(settings)
    try:
        with reading(engine, settings.schema, COUNTED_TABLES, "counting table rows"):
            found = stager_for(settings.backend).read(engine, table_counts, notify=_notice)
    finally:
        engine.dispose()
    table = Table("table", "rows", title=f"Row counts on {escape(describe(engine))}")
    for name, rows in found.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


@main.command("check")
@settings_options
def check(settings: Settings) -> None:
    """Run the data-quality checks; exit 1 when any fails."""
    engine = reader_engine(settings)
    tables = (*STAR_TABLES, staging_events)
    try:
        with reading(engine, settings.schema, tables, "the data-quality checks"):
            results = stager_for(settings.backend).read(engine, quality.run_checks, notify=_notice)
    finally:
        engine.dispose()
    table = Table("check", "result", "failing rows", "detail", title="Data quality")
    for result in results:
        verdict = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        table.add_row(result.name, verdict, str(result.failing_rows), escape(result.detail))
    console.print(table)
    failed = [r for r in results if not r.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


@main.command("analyze")
@settings_options
@click.argument("questions", nargs=-1, metavar="[QUESTION]...")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows per ranking question.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--charts",
    "charts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a PNG bar chart per question into DIR (needs sparkify[charts]).",
)
def analyze(
    settings: Settings, questions: tuple[str, ...], limit: int, fmt: str, charts_dir: Path | None
) -> None:
    """Answer the analytics team's standard questions (all, or those named)."""
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
        click.echo(analytics.answers_to_json(answers))
    elif fmt == "csv":
        for answer in answers:
            click.echo(f"# {answer.name}: {answer.description}")
            click.echo(analytics.to_csv(answer), nl=False)
    else:
        for answer in answers:
            table = Table(*answer.columns, title=answer.description)
            for row in answer.rows:
                table.add_row(*(_cell(v) for v in row))
            console.print(table)
    if charts_dir is not None:
        written = analytics.write_charts(answers, charts_dir)
        err_console.print(f"Wrote {len(written)} chart(s) to {escape(str(charts_dir))}")


def _cell(value: Any) -> str:
    """A table cell for a value from the warehouse (its text is never read as markup)."""
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else escape(str(value))


@main.group("s3", cls=SparkifyGroup)
def s3() -> None:
    """Inspect the S3 (or local) sources."""


@s3.command("check")
@settings_options
def s3_check(settings: Settings) -> None:
    """Check that the song and log sources and the JSONPaths file are present and readable."""
    report = check_sources(settings)
    table = Table("check", "result", "detail", title="Sources")
    for item in report.checks:
        verdict = "[green]ok[/]" if item.ok else "[bold red]FAIL[/]"
        table.add_row(escape(item.name), verdict, escape(item.detail))
    console.print(table)
    if not report.ok:
        sys.exit(1)


@main.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--events",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Event lines in all.",
)
@click.option(
    "--songs",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Song files (one record each).",
)
@click.option(
    "--users",
    type=click.IntRange(min=0),
    default=1_000,
    show_default=True,
    help="Distinct listeners.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Daily log files, from 2018-11-01.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same arguments write the same bytes.",
)
@click.option("--force", is_flag=True, help="Replace song_data/ and log_data/ if OUT_DIR has them.")
def generate_command(
    out_dir: Path, events: int, songs: int, users: int, days: int, seed: int, force: bool
) -> None:
    """Write eventsim-like sources (song_data/, log_data/, log_json_path.json) into OUT_DIR."""
    try:
        report = demo.generate_with_progress(
            out_dir,
            events=events,
            songs=songs,
            users=users,
            days=days,
            seed=seed,
            overwrite=force,
            console=err_console,
        )
    except FolderNotEmptyError as exc:
        # The library names its parameter; the command has a flag for it.
        raise FolderNotEmptyError(exc.folder, remedy="pass --force") from None
    console.print(
        f"Wrote {report.events:,} events of {report.users:,} users in "
        f"{report.log_files} log files and {report.song_files:,} song files "
        f"({report.bytes_written / 1e6:,.1f} MB) to {out_dir} in {report.seconds:.1f}s",
        markup=False,
    )
    console.print(
        f"Load them: sparkify etl --song-data {report.song_data} "
        f"--log-data {report.log_data} --log-jsonpath {report.log_jsonpath}",
        markup=False,
    )


@main.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sparkify-demo"),
    show_default=True,
    help="Folder for the generated sources and the DuckDB file (replaced).",
)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=demo.DEFAULT_EVENTS,
    show_default=True,
    help="Events to generate.",
)
@click.option(
    "--songs",
    type=click.IntRange(min=1),
    default=demo.DEFAULT_SONGS,
    show_default=True,
    help="Songs to generate.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
def demo_command(folder: Path, events: int, songs: int, seed: int) -> None:
    """Generate data, build an embedded DuckDB warehouse, load it, and show what it holds."""
    result = demo.run_demo(folder, events=events, songs=songs, seed=seed, console=err_console)
    print_report(result.report)
    table = Table("check", "result", title="Data quality")
    for check_result in result.checks:
        table.add_row(
            check_result.name, "[green]pass[/]" if check_result.passed else "[bold red]FAIL[/]"
        )
    failed = [c for c in result.checks if not c.passed]
    console.print(
        f"Data quality: {len(result.checks) - len(failed)} checks passed, {len(failed)} failed"
    )
    if failed:
        console.print(table)
    for answer in result.answers:
        answer_table = Table(*answer.columns, title=answer.description)
        for row in answer.rows:
            answer_table.add_row(*(_cell(v) for v in row))
        console.print(answer_table)
    console.print(
        f"Done in {result.seconds:.1f}s. Explore it: sparkify analyze --database-url "
        f"{result.database_url}",
        markup=False,
    )


main.add_command(infra)


if __name__ == "__main__":  # pragma: no cover
    main()
