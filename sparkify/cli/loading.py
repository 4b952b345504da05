"""The commands that write the warehouse: ``create-tables`` and ``etl``.

Both take the warehouse's load lock; a failed ``create-tables`` leaves no new
DuckDB file behind, and Ctrl-C during ``etl`` says whether the load committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sparkify.cli.console import console, err_console, notice, print_report
from sparkify.cli.options import lock_options, settings_options
from sparkify.cli.progress import RichProgress
from sparkify.errors import LoadInterrupted, translated

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
def etl(
    settings: Settings,
    incremental: bool,
    max_errors: int,
    wait: bool,
    lock_timeout: float,
    progress: bool | None,
) -> None:
    """Load the sources into staging and merge them into the star schema, in one transaction."""
    from sparkify import load
    from sparkify.db import create_engine, require_duckdb_file

    engine = create_engine(settings)
    show = err_console.is_terminal if progress is None else progress
    report: LoadReport | None = None
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
