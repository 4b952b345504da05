"""Load history: every run of the loader as a row of ``load_runs``, and reading them back.

:func:`sparkify.load.run` keeps its history through a :class:`Recorder`:

* a **succeeded** run writes its row in the load's own transaction, just before
  COMMIT (``finished_at`` is that moment, so ``seconds`` has every step but
  ``commit``): the row and the data commit together or not at all;
* a **failed** run (a bad record, a database error, a failed check, Ctrl-C, any
  exception once the run holds the warehouse) is recorded after its rollback, in
  a transaction of its own, with the one-line message the CLI prints. That row
  is all a failed run leaves: staging, the star tables, the ledger and
  ``load_errors`` are as they were. Its figures are what the run had done when
  it failed, none of it committed.
* a run that could not start because another load holds the warehouse
  (``LoadInProgressError``) is recorded as failed too, on a connection of its
  own that takes no lock (so it never waits for the load lock again). On DuckDB
  that is impossible: the other process holds the file, so nothing is recorded.
* a run that failed before it had a session for another reason (the database
  cannot be reached or refuses the connection, Ctrl-C while connecting or
  waiting for the lock) is not recorded: trying again would fail the same way,
  and might wait as long again. Nor is Ctrl-C during the source listing
  (recording it would open a first connection while the user waits to get
  out). A failure of the source listing itself is recorded.

Writing a failed run's row never hides the run's own error: if it fails (or is
interrupted by a second Ctrl-C), it is logged on the ``sparkify.history`` logger
and the original error is raised. Every statement goes through the backend's
executor, so Redshift gets it as text with its values inlined.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from sparkify.errors import LoadInProgressError, SparkifyError, translated
from sparkify.execute import Execute, execute
from sparkify.models import LONG_TEXT, load_errors, load_runs
from sparkify.staging.records import storable_text

log = logging.getLogger(__name__)
# A library logs, the application shows: no "No handlers" fallback onto stderr,
# where the CLI's failure is one line.
log.addHandler(logging.NullHandler())

Status = Literal["succeeded", "failed"]

#: ``sparkify runs`` lists this many runs unless told otherwise.
DEFAULT_LIMIT = 20

#: The columns holding per-table (or per-step) figures as JSON text.
JSON_COLUMNS = ("objects", "staged", "inserted", "updated", "seconds")


class RunFigures(Protocol):
    """What a run reports, as this module reads it (:class:`sparkify.load.LoadReport` is one)."""

    @property
    def run_id(self) -> str: ...

    @property
    def backend(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def objects(self) -> Mapping[str, int]: ...

    @property
    def staged(self) -> Mapping[str, int]: ...

    @property
    def skipped(self) -> int: ...

    @property
    def inserted(self) -> Mapping[str, int]: ...

    @property
    def updated(self) -> Mapping[str, int]: ...

    @property
    def seconds(self) -> Mapping[str, float]: ...

    @property
    def committed(self) -> bool: ...


@dataclass(frozen=True)
class RunRecord:
    """One row of ``load_runs``: a run of the loader. Times are UTC (naive).

    Attributes:
        run_id: the run's id (as in ``load_ledger`` and ``load_errors``).
        status: ``succeeded`` or ``failed``.
        started_at: when the run began.
        finished_at: just before its COMMIT (succeeded), or when its failure was recorded.
        mode: ``incremental`` or ``full``.
        backend: ``redshift``, ``postgresql`` or ``duckdb``.
        objects: source objects staged, per staging table.
        staged: rows staged, per staging table.
        inserted: rows each star table gained.
        updated: rows each star table changed in place.
        skipped: bad records skipped under ``--max-errors`` (see ``load_errors``).
        seconds: wall seconds per step.
        error: the one-line message of a failed run; ``None`` on success.
    """

    run_id: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime
    mode: str
    backend: str | None = None
    objects: dict[str, int] = field(default_factory=dict)
    staged: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def of(
        cls,
        report: RunFigures,
        status: Status,
        error: str | None,
        started_at: dt.datetime,
        finished_at: dt.datetime,
    ) -> RunRecord:
        """The record of a run from its report (figures copied as they are now)."""
        return cls(
            run_id=report.run_id,
            status=status,
            started_at=started_at,
            finished_at=finished_at,
            mode=report.mode,
            backend=report.backend,
            objects=dict(report.objects),
            staged=dict(report.staged),
            inserted=dict(report.inserted),
            updated=dict(report.updated),
            skipped=report.skipped,
            seconds=dict(report.seconds),
            error=None if error is None else storable_text(error, LONG_TEXT),
        )

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunRecord:
        """A record from a ``load_runs`` row (JSON text decoded; NULL as ``{}``)."""
        figures = {name: json.loads(row[name]) if row[name] else {} for name in JSON_COLUMNS}
        return cls(
            run_id=row["run_id"],
            status=row["status"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            mode=row["mode"],
            backend=row["backend"],
            skipped=int(row["skipped"]),
            error=row["error"],
            **figures,
        )

    @property
    def total_seconds(self) -> float:
        """Wall seconds from start to finish."""
        return (self.finished_at - self.started_at).total_seconds()

    def as_row(self) -> dict[str, Any]:
        """The ``load_runs`` row: figures as compact JSON text, times as datetimes."""
        return {**self.as_flat(), "started_at": self.started_at, "finished_at": self.finished_at}

    def as_flat(self) -> dict[str, Any]:
        """:meth:`as_dict` with the figures as the JSON text the table holds (one CSV row)."""
        flat = self.as_dict()
        for name in JSON_COLUMNS:
            flat[name] = json.dumps(flat[name], separators=(",", ":"))
        return flat

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-able: times as ISO 8601 in UTC, figures as dicts."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "mode": self.mode,
            "backend": self.backend,
            "objects": dict(self.objects),
            "staged": dict(self.staged),
            "inserted": dict(self.inserted),
            "updated": dict(self.updated),
            "skipped": self.skipped,
            "seconds": dict(self.seconds),
            "error": self.error,
        }


def _iso(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC).isoformat()


def utc_now() -> dt.datetime:
    """Now, in UTC, as the naive TIMESTAMP the tables hold."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def one_line(error: BaseException) -> str:
    """The message of an error as the CLI prints it, on one line.

    sparkify's errors (and Ctrl-C's) are their message; anything else is
    prefixed with its type, as it is no message of ours.
    """
    text = str(error)
    if not isinstance(error, SparkifyError | KeyboardInterrupt):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or "interrupted"


# -- statements (no connection: golden text for Redshift) --------------------------------


def insert_run(record: RunRecord) -> sa.Insert:
    """``INSERT INTO load_runs (...) VALUES (...)``: one run's row."""
    return sa.insert(load_runs).values(record.as_row())


def recent_query(limit: int = DEFAULT_LIMIT) -> sa.Select[Any]:
    """The newest ``limit`` runs, newest first."""
    c = load_runs.c
    return sa.select(load_runs).order_by(c.started_at.desc(), c.run_id.desc()).limit(limit)


def one_query(run_id: str) -> sa.Select[Any]:
    """The run called ``run_id`` (no row when there is none)."""
    return sa.select(load_runs).where(load_runs.c.run_id == run_id)


def errors_query(run_id: str) -> sa.Select[Any]:
    """The bad records a run skipped, in the order it recorded them."""
    c = load_errors.c
    return (
        sa.select(c.table_name, c.source, c.line, c.column_name, c.reason, c.raw_line)
        .where(c.run_id == run_id)
        .order_by(c.error_id)
    )


# -- reading and writing -------------------------------------------------------------------


def record(
    conn: sa.Connection,
    report: RunFigures,
    status: Status,
    error: str | None,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    run: Execute = execute,
) -> RunRecord:
    """Insert the row of a run (in the caller's transaction; the caller commits).

    Args:
        conn: the connection whose transaction the row joins.
        report: the run's figures.
        status: ``succeeded`` or ``failed``.
        error: a failed run's one-line message (cut to 1024 bytes); ``None`` on success.
        started_at: when the run began (UTC).
        finished_at: when it ended (UTC).
        run: how the backend runs a statement (see ``Stager.execute``).

    Returns:
        The record written.
    """
    written = RunRecord.of(report, status, error, started_at, finished_at)
    run(conn, insert_run(written))
    return written


def recent(
    conn: sa.Connection, limit: int = DEFAULT_LIMIT, run: Execute = execute
) -> list[RunRecord]:
    """The newest ``limit`` runs, newest first."""
    return [RunRecord.from_row(row._mapping) for row in run(conn, recent_query(limit))]


def one(conn: sa.Connection, run_id: str, run: Execute = execute) -> RunRecord | None:
    """The run called ``run_id``; ``None`` when there is none."""
    row = run(conn, one_query(run_id)).first()
    return None if row is None else RunRecord.from_row(row._mapping)


def run_errors(conn: sa.Connection, run_id: str, run: Execute = execute) -> list[dict[str, Any]]:
    """The ``load_errors`` rows of a run (what it skipped under ``--max-errors``)."""
    return [dict(row._mapping) for row in run(conn, errors_query(run_id))]


# -- the loader's side -------------------------------------------------------------------

Phase = Literal["planning", "opening", "open"]


class Recorder:
    """Keeps one run of :func:`sparkify.load.run` in ``load_runs`` (see the module's text).

    Args:
        engine: the warehouse; a failed run is recorded on a connection of its own.
        report: the run's report, read when its row is written.
        run: how the backend runs a statement (see ``Stager.execute``).
    """

    def __init__(self, engine: sa.Engine, report: RunFigures, run: Execute = execute) -> None:
        self.engine = engine
        self.report = report
        self.run = run
        self.started_at = utc_now()
        self.phase: Phase = "planning"

    def succeeded(self, conn: sa.Connection) -> None:
        """Write the run's row in the load's transaction: call it just before COMMIT."""
        with translated("recording the run in load_runs"):
            record(conn, self.report, "succeeded", None, self.started_at, utc_now(), self.run)

    @contextmanager
    def session(self, opening: AbstractContextManager[sa.Connection]) -> Iterator[sa.Connection]:
        """The load's session, noting whether it opened (see :meth:`failed`)."""
        self.phase = "opening"
        with opening as conn:
            self.phase = "open"
            yield conn

    @contextmanager
    def failures(self) -> Iterator[None]:
        """Record the run as failed when the block raises, then raise the error as it is."""
        try:
            yield
        except BaseException as exc:
            self.failed(exc)
            raise

    def failed(self, error: BaseException) -> None:
        """Write the row of a failed run in a transaction of its own; never raise."""
        if self.report.committed or not self._recordable(error):
            return
        message = self._masked(one_line(error))
        # A failure during COMMIT (Ctrl-C, a lost connection): the database may have
        # committed the run, its row with it. Before COMMIT the row cannot exist.
        maybe_committed = "commit" in self.report.seconds
        try:
            with self.engine.connect() as conn:
                if not maybe_committed or one(conn, self.report.run_id, self.run) is None:
                    record(
                        conn, self.report, "failed", message, self.started_at, utc_now(), self.run
                    )
                    conn.commit()
        except (Exception, KeyboardInterrupt) as problem:
            log.warning(
                "run %s failed and could not be recorded in load_runs: %s",
                self.report.run_id,
                self._masked(one_line(problem)),
            )

    def _recordable(self, error: BaseException) -> bool:
        if self.phase == "planning":
            return not isinstance(error, KeyboardInterrupt)
        if self.phase == "opening":
            return isinstance(error, LoadInProgressError)
        return True

    def _masked(self, text: str) -> str:
        password = self.engine.url.password
        return text.replace(str(password), "***") if password else text
