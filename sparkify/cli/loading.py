"""The commands that write the warehouse: ``create-tables`` and ``etl``.

Both take the warehouse's load lock; a failed ``create-tables`` leaves no new
DuckDB file behind, and Ctrl-C during ``etl`` says whether the load committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sparkify.cli.console import console, err_console, error_message, notice, print_report
from sparkify.cli.options import lock_options, settings_options
from sparkify.cli.output import Format, emit_csv, emit_json, format_option
from sparkify.cli.progress import RichProgress
from sparkify.errors import LoadInterrupted, SparkifyError, translated

if TYPE_CHECKING:
    import sqlalchemy as sa

    from sparkify.config import Settings
    from sparkify.load import LoadReport

# The library (SQLAlchemy, Alembic, the drivers) is imported inside the commands:
# ``sparkify etl --help`` needs none of it (see the package's docstring).


@click.command("create-tables")
@settings_options
@lock_options
def create_tables(settings: Settings, wait: bool, lock_timeout: float) -> None:
    """Drop and recreate every warehouse table through the migrations.

    The warehouse's load lock is taken first, as a load takes it: a load in
    progress finishes before its tables are dropped.
    """
    from sparkify import schema
    from sparkify.db import create_engine, describe, duckdb_file

    engine = create_engine(settings)
    with _no_new_file(duckdb_file(engine)):
        try:
            with translated("creating the tables", engine):
                created = schema.recreate(
                    engine,
                    settings.schema,
                    wait=wait,
                    lock_timeout=lock_timeout,
                    notify=notice,
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


@click.command("etl")
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
@format_option
def etl(
    settings: Settings,
    incremental: bool,
    max_errors: int,
    wait: bool,
    lock_timeout: float,
    progress: bool | None,
    fmt: Format,
) -> None:
    """Load the sources into staging and merge them into the star schema, in one transaction."""
    from sparkify import load

    mode: load.Mode = "incremental" if incremental else "full"
    # The command's own report: a failed run still has its run_id and figures to print.
    report = load.LoadReport(run_id=uuid.uuid4().hex, backend=settings.backend, mode=mode)
    try:
        _load(settings, report, max_errors, wait, lock_timeout, progress)
    except (SparkifyError, KeyboardInterrupt) as exc:
        if isinstance(exc, LoadInterrupted):
            report.committed = exc.committed  # the ledger's word when COMMIT was cut short
        if fmt == "json":
            emit_json(report.as_dict(error=error_message(exc)))
        raise
    try:
        if fmt == "json":
            emit_json(report.as_dict())
        elif fmt == "csv":
            emit_csv(_report_rows(report), REPORT_COLUMNS)
        else:
            print_report(report)
    except KeyboardInterrupt as exc:
        raise LoadInterrupted(report.run_id, committed=True) from exc


def _load(
    settings: Settings,
    report: LoadReport,
    max_errors: int,
    wait: bool,
    lock_timeout: float,
    progress: bool | None,
) -> None:
    """Run the load into ``report``, progress bars on stderr.

    Raises:
        LoadInterrupted: Ctrl-C, saying whether the run committed (after a Ctrl-C
            during COMMIT, as the load ledger tells).
    """
    from sparkify import load
    from sparkify.db import create_engine, require_duckdb_file

    engine = create_engine(settings)
    show = err_console.is_terminal if progress is None else progress
    try:
        try:
            # A missing DuckDB file would be created empty, then the load would fail.
            require_duckdb_file(engine)
            with translated("the load", engine), RichProgress(err_console, enabled=show) as bars:
                load.run(
                    engine,
                    settings,
                    mode=report.mode,
                    max_errors=max_errors,
                    wait=wait,
                    lock_timeout=lock_timeout,
                    progress=bars,
                    report=report,
                )
        finally:
            engine.dispose()
    except LoadInterrupted as exc:
        if exc.committed:
            raise
        # Ctrl-C during COMMIT: the database may have finished it. Its ledger knows.
        raise LoadInterrupted(exc.run_id, committed=_run_committed(engine, exc.run_id)) from exc


#: The columns of ``etl --format csv``: one row per table; a staging table has no
#: inserted or updated rows, a star table no objects or bytes (empty fields).
REPORT_COLUMNS = (
    "run_id",
    "table",
    "objects",
    "new_objects",
    "changed_objects",
    "skipped_objects",
    "bytes",
    "staged",
    "inserted",
    "updated",
    "total",
)


def _report_rows(report: LoadReport) -> list[tuple[object, ...]]:
    """One row of :data:`REPORT_COLUMNS` per staging and star table of the report."""
    from sparkify.models import STAGING_TABLES

    staging_names = {table.name for table in STAGING_TABLES}
    rows: list[tuple[object, ...]] = []
    for name, total in report.totals.items():
        if name in staging_names:
            staging = (
                report.objects.get(name, 0),
                report.new_objects.get(name, 0),
                report.changed_objects.get(name, 0),
                report.skipped_objects.get(name, 0),
                report.bytes.get(name, 0),
                report.staged.get(name, 0),
            )
            rows.append((report.run_id, name, *staging, None, None, total))
        else:
            star = (report.inserted.get(name, 0), report.updated.get(name, 0))
            rows.append((report.run_id, name, *(None,) * 6, *star, total))
    return rows


def _run_committed(engine: sa.Engine, run_id: str) -> bool:
    """Whether the load ledger holds rows of ``run_id`` (it committed); ``False`` when unsure."""
    import sqlalchemy as sa

    from sparkify.models import load_ledger

    query = sa.select(load_ledger.c.run_id).where(load_ledger.c.run_id == run_id).limit(1)
    try:
        with engine.connect() as conn:
            return conn.execute(query).first() is not None
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()
