"""The loader service: stage the sources, merge them into the star schema, commit once.

    report = run(engine, settings, max_errors=0)

One run is one transaction: staging and every star table commit together or
not at all, so a failure at any step leaves the warehouse as it was. Every run
is kept in ``load_runs`` (:mod:`sparkify.history`): a succeeded one in that
transaction, a failed one after its rollback.
"""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from sparkify import history, ledger, models, transform
from sparkify.config import Settings
from sparkify.counts import table_counts
from sparkify.errors import LoadInterrupted, is_interrupt, translated
from sparkify.models import STAR_TABLES
from sparkify.sources import Plan, plan_sources, sources_client
from sparkify.staging import ErrorBudget, Progress, Stager, stager_for
from sparkify.staging.base import NoProgress, StageResult, StepCounts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


Mode = Literal["incremental", "full"]

#: The star tables that grow with the events: a full load builds their keys after
#: inserting their rows, where the backend keeps keys in indexes (PostgreSQL).
FACT_TABLES = (models.songplays, models.time)

#: Seconds a load waits for another one to finish, by default.
DEFAULT_LOCK_TIMEOUT = 3600.0


@dataclass
class LoadReport:
    """What a run did.

    Attributes:
        run_id: identifies the run (in ``load_errors`` and ``load_ledger``).
        backend: ``redshift``, ``postgresql`` or ``duckdb``.
        mode: ``incremental`` (new and changed objects merged in) or ``full``.
        from_empty: the star was built from empty, as a full load builds it: a full
            load, or the first load of a warehouse (nothing in its ledger or star
            tables), which then skips the re-match of earlier plays (there are
            none) and, on PostgreSQL, builds the fact tables' keys after their rows.
        objects: source objects staged, per staging table.
        new_objects: objects never loaded before, per staging table.
        changed_objects: objects loaded before that changed since, per staging table.
        skipped_objects: objects skipped as already loaded, per staging table.
        bytes: bytes of the staged objects, per staging table.
        staged: rows staged, per staging table.
        skipped: bad records skipped under ``max_errors`` (see ``load_errors``).
        inserted: rows each star table gained.
        updated: rows each star table changed in place (users, artists, songplays).
        totals: rows in every staging and star table after the run.
        seconds: wall seconds per step (``plan``, ``staging``, each transform, ``keys``
            where a full load built the fact tables' keys after their rows, ``commit``).
        committed: the run's COMMIT returned (an interrupt after it loses nothing).
    """

    run_id: str
    backend: str
    mode: Mode = "incremental"
    from_empty: bool = False
    objects: dict[str, int] = field(default_factory=dict)
    new_objects: dict[str, int] = field(default_factory=dict)
    changed_objects: dict[str, int] = field(default_factory=dict)
    skipped_objects: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    staged: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    committed: bool = False

    def selected(self, selection: ledger.Selection) -> None:
        """Record what the ledger selected for staging."""
        self.new_objects = selection.new
        self.changed_objects = selection.changed
        self.skipped_objects = selection.skipped

    def staged_from(self, results: Sequence[StageResult], budget: ErrorBudget) -> None:
        """Record what staging did, per staging table, and the bad records skipped."""
        for result in results:
            self.objects[result.table] = result.objects
            self.bytes[result.table] = result.size
            self.staged[result.table] = result.rows
        self.skipped = budget.skipped

    def merged(self, step: transform.Step, counts: StepCounts) -> None:
        """Add a merge step's rows to its table's inserted and updated counts."""
        name = step.table.name
        if isinstance(step.build(), sa.Update):
            self.updated[name] = self.updated.get(name, 0) + counts.updated
        else:
            self.inserted[name] = self.inserted.get(name, 0) + counts.inserted

    @property
    def total_seconds(self) -> float:
        """Wall seconds of the whole run."""
        return sum(self.seconds.values())

    def as_dict(self, error: str | None = None) -> dict[str, Any]:
        """The report as plain data (for JSON): ``run_id``, ``status``, every figure, ``error``.

        Args:
            error: the one-line message of the failure that ended the run, if any.

        Returns:
            ``status`` (``succeeded`` when the run committed, else ``failed``), then
            every attribute but ``committed`` (per-table figures as objects keyed by
            table), ``total_seconds``, and ``error`` (``None`` unless given).
        """
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "status": "succeeded" if self.committed else "failed",
        }
        for attribute in fields(self):
            if attribute.name not in data and attribute.name != "committed":
                value = getattr(self, attribute.name)
                data[attribute.name] = dict(value) if isinstance(value, dict) else value
        data["total_seconds"] = self.total_seconds
        data["error"] = error
        return data

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
    mode: Mode = "incremental",
    max_errors: int = 0,
    wait: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Progress | None = None,
    s3: S3Client | None = None,
    plan: Plan | None = None,
    stager: Stager | None = None,
    report: LoadReport | None = None,
) -> LoadReport:
    """Load the sources into staging and merge them into the star schema, in one transaction.

    The run is kept in ``load_runs``: when it succeeds, in its transaction; when it
    fails, after the rollback, before its error is raised (:mod:`sparkify.history`).

    Args:
        engine: the warehouse (its schema built by the migrations).
        settings: sources, region, IAM role...
        mode: ``incremental`` stages only objects new or changed since the load
            ledger last saw them and merges them into the star tables; ``full``
            empties the star tables and the ledger and loads every object. The
            first incremental load of an empty warehouse takes the full load's
            path (the same rows; see ``LoadReport.from_empty``).
        max_errors: how many bad records may be skipped (recorded in ``load_errors``);
            0 stops at the first one.
        wait: when another load holds the warehouse, wait for it (up to
            ``lock_timeout`` seconds) instead of failing at once.
        lock_timeout: seconds to wait for another load.
        progress: receives progress (the CLI draws bars); nothing shown when ``None``.
        s3: the boto3 S3 client for listing and reading sources; when ``None``,
            one is built for the ``s3://`` sources, sending unsigned requests
            with ``settings.no_sign_request`` or when no AWS credentials are
            found (``progress.notice`` is then told so, once).
        plan: what to consider loading; listed from ``settings`` when ``None``.
        stager: the backend's stager (chosen from ``settings`` when ``None``; the
            Redshift model tests run Redshift's on PostgreSQL).
        report: the report to fill in, of this run's backend and mode; a caller
            that passes its own still holds, when the run fails, its ``run_id``
            and what it did until then. A new one when ``None``.

    Returns:
        The report of the run (its row in ``load_runs`` committed with it).

    Raises:
        BadRecordError: a bad record, with ``max_errors`` 0 (nothing committed).
        TooManyBadRecordsError: more than ``max_errors`` bad records (nothing committed).
        LoadInProgressError: another load holds the warehouse (nothing done).
        LoadInterrupted: Ctrl-C; says whether the run had committed.
        SourceError: a source cannot be listed or read (nothing committed).
        DatabaseError: the database refused a statement (nothing committed).
    """
    if mode not in ("incremental", "full"):
        raise ValueError(f"unknown load mode {mode!r}")
    progress = progress or NoProgress()
    report = report or LoadReport(run_id=uuid.uuid4().hex, backend=settings.backend, mode=mode)
    backend = stager or stager_for(settings.backend)
    runs = history.Recorder(engine, report, backend.execute)
    with runs.failures(), report.timed("plan"):
        s3 = s3 or sources_client(settings, notify=progress.notice)
        plan = plan or plan_sources(settings, s3)
    session = runs.session(
        backend.session(engine, wait=wait, timeout=lock_timeout, notify=progress.notice)
    )
    with runs.failures(), translated("the load"), _interruptible(report), session as conn:
        # What to stage: every object, or those the ledger has not seen as they are now.
        with report.timed("ledger"):
            known = ledger.read(conn, backend.execute) if mode == "incremental" else {}
            selection = ledger.select_new(plan, known)
            # A first load (nothing loaded, the star empty) builds it as a full load does.
            report.from_empty = mode == "full" or (not known and _star_empty(conn, backend))
        report.selected(selection)
        # Staging: COPY (or its emulation) of the selected objects; bad records counted.
        budget = ErrorBudget(max_errors)
        with report.timed("staging"):
            staged = backend.stage(
                conn, selection.plan, settings, budget=budget, run_id=report.run_id,
                progress=progress, client=s3,
            )  # fmt: skip
        report.staged_from(staged, budget)
        # The star: a full load empties it first; every rule is one merge step.
        with backend.transforming(conn, report.staged.get("staging_events", 0), report.timed):
            if mode == "full":
                _clear_star(conn, report, backend)
            facts = FACT_TABLES if report.from_empty else ()
            with backend.keys_deferred(conn, facts, report.timed, progress.begin_step):
                for step in (s for s in transform.STEPS if s.in_full_load or not report.from_empty):
                    progress.begin_step(step.name)
                    with report.timed(step.name):
                        report.merged(step, backend.run_step(conn, step))
        # The ledger, then one COMMIT for all of it.
        with report.timed("ledger"):
            ledger.record(
                conn, selection.plan, report.run_id, replace_all=mode == "full", known=known,
                insert_rows=backend.insert_rows, run=backend.execute,
            )  # fmt: skip
        report.totals = table_counts(conn, backend.execute)
        runs.succeeded(conn)  # the run's row in load_runs, committed with it
        progress.begin_step("commit")
        with report.timed("commit"):
            conn.commit()
            report.committed = True
    return report


def _star_empty(conn: sa.Connection, backend: Stager) -> bool:
    """Whether every star table is empty (one row looked for in each)."""
    return all(
        backend.execute(conn, sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None
        for table in STAR_TABLES
    )


def _clear_star(conn: sa.Connection, report: LoadReport, backend: Stager) -> None:
    """A full load rebuilds the star tables: empty them (inside the transaction)."""
    with report.timed("clear star tables"):
        for table in reversed(STAR_TABLES):
            backend.execute(conn, sa.delete(table))


@contextmanager
def _interruptible(report: LoadReport) -> Iterator[None]:
    """Turn Ctrl-C (and DuckDB's interrupted query) into :class:`LoadInterrupted`."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise LoadInterrupted(report.run_id, committed=report.committed) from exc
    except (sa.exc.DBAPIError, RuntimeError) as exc:
        if not is_interrupt(exc):
            raise
        raise LoadInterrupted(report.run_id, committed=report.committed) from exc
