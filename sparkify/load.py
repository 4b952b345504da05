"""The loader service: stage the sources, merge them into the star schema, commit once.

    report = run(engine, settings, max_errors=0)

One run is one transaction: staging and every star table commit together or
not at all, so a failure at any step leaves the warehouse as it was.
"""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sparkify import transform
from sparkify.config import Settings
from sparkify.counts import first_line, table_counts
from sparkify.errors import DatabaseError, SparkifyError
from sparkify.models import STAR_TABLES
from sparkify.staging import ErrorBudget, Progress, plan_sources, stager_for
from sparkify.staging.base import NoProgress, Plan

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class LoadReport:
    """What a run did.

    Attributes:
        run_id: identifies the run (also in ``load_errors.run_id``).
        backend: ``redshift``, ``postgresql`` or ``duckdb``.
        objects: source objects staged, per staging table.
        bytes: bytes of those objects, per staging table.
        staged: rows staged, per staging table.
        skipped: bad records skipped under ``max_errors`` (see ``load_errors``).
        inserted: rows each star table gained.
        updated: rows each star table changed in place (users, artists, songplays).
        totals: rows in every staging and star table after the run.
        seconds: wall seconds per step (``plan``, ``staging``, each transform, ``commit``).
    """

    run_id: str
    backend: str
    objects: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    staged: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Wall seconds of the whole run."""
        return sum(self.seconds.values())

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Add the wall time of the block to ``seconds[step]``."""
        start = clock.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + clock.perf_counter() - start


def run(
    engine: sa.Engine,
    settings: Settings,
    *,
    max_errors: int = 0,
    progress: Progress | None = None,
    s3: S3Client | None = None,
    plan: Plan | None = None,
) -> LoadReport:
    """Load every source into staging and rebuild the star schema from it, in one transaction.

    Args:
        engine: the warehouse (its schema built by the migrations).
        settings: sources, region, IAM role...
        max_errors: how many bad records may be skipped (recorded in ``load_errors``);
            0 stops at the first one.
        progress: receives progress (the CLI draws bars); nothing shown when ``None``.
        s3: the boto3 S3 client for listing and reading sources (built when needed).
        plan: what to stage; listed from ``settings`` when ``None``.

    Returns:
        The report of the run.

    Raises:
        BadRecordError: a bad record, with ``max_errors`` 0 (nothing committed).
        TooManyBadRecordsError: more than ``max_errors`` bad records (nothing committed).
        SourceError: a source cannot be listed or read (nothing committed).
        DatabaseError: the database refused a statement (nothing committed).
    """
    progress = progress or NoProgress()
    report = LoadReport(run_id=uuid.uuid4().hex, backend=settings.backend)
    stager = stager_for(settings.backend)
    with report.timed("plan"):
        plan = plan or plan_sources(settings, s3)
    budget = ErrorBudget(max_errors)
    with _translated("the load"), engine.connect() as conn:
        transaction = conn.begin()
        try:
            with report.timed("staging"):
                results = stager.stage(
                    conn,
                    plan,
                    settings,
                    budget=budget,
                    run_id=report.run_id,
                    progress=progress,
                    client=s3,
                )
            for result in results:
                report.objects[result.table] = result.objects
                report.bytes[result.table] = result.size
                report.staged[result.table] = result.rows
            report.skipped = budget.skipped
            _clear_star(conn, report)
            _merge(conn, report, progress.begin_step)
            report.totals = table_counts(conn)
            with report.timed("commit"):
                transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    return report


def _clear_star(conn: sa.Connection, report: LoadReport) -> None:
    """A full load rebuilds the star tables: empty them (inside the transaction)."""
    with report.timed("clear star tables"):
        for table in reversed(STAR_TABLES):
            conn.execute(sa.delete(table))


def _merge(conn: sa.Connection, report: LoadReport, begin_step: Callable[[str], None]) -> None:
    for name, table, build in transform.STEPS:
        begin_step(name)
        statement = build()
        with report.timed(name):
            # SQLAlchemy keeps INSERT ... SELECT row counts only when asked.
            count = conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount
        target = report.updated if isinstance(statement, sa.Update) else report.inserted
        target[table.name] = target.get(table.name, 0) + max(count, 0)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn driver errors into :class:`DatabaseError` (one boundary), keep ours as they are."""
    try:
        yield
    except SparkifyError:
        raise
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(action, first_line(exc)) from exc
