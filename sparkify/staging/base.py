"""What every stager shares: bad-record accounting, progress reporting, the load
session, and the emulation of COPY used by PostgreSQL and DuckDB (the plan it
stages comes from :mod:`sparkify.sources`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable

from sparkify.config import Settings
from sparkify.ddl import analyze
from sparkify.errors import BadRecordError, TooManyBadRecordsError
from sparkify.execute import Execute, execute
from sparkify.models import STAGING_TABLES, load_errors
from sparkify.sources import Plan, chunks
from sparkify.staging.records import storable_text

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify.transform import Step


T = TypeVar("T")


class Progress(Protocol):
    """Receives progress of a load (the CLI draws bars with it)."""

    def begin_table(self, table: str, objects: int, size: int) -> None:
        """Staging of ``table`` starts: this many objects and bytes to read."""

    def advance(self, objects: int, size: int) -> None:
        """That many more objects and bytes were staged."""

    def begin_step(self, name: str) -> None:
        """A transform step starts."""

    def notice(self, message: str) -> None:
        """Something the user should know while waiting (e.g. for another load)."""


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def begin_table(self, table: str, objects: int, size: int) -> None:
        """Ignore."""

    def advance(self, objects: int, size: int) -> None:
        """Ignore."""

    def begin_step(self, name: str) -> None:
        """Ignore."""

    def notice(self, message: str) -> None:
        """Ignore."""


@dataclass
class ErrorBudget:
    """Counts bad records against ``--max-errors``.

    With ``max_errors`` 0 the first bad record is raised; otherwise up to that
    many are kept (and recorded in ``load_errors``), and one more raises
    :class:`TooManyBadRecordsError`.
    """

    max_errors: int = 0
    errors: list[tuple[str, BadRecordError]] = field(default_factory=list)

    def add(self, table: str, error: BadRecordError) -> None:
        """Account for one bad record of ``table``; raise when over budget."""
        if self.max_errors <= 0:
            raise error
        if len(self.errors) >= self.max_errors:
            raise TooManyBadRecordsError(self.max_errors, error)
        self.errors.append((table, error))

    @property
    def skipped(self) -> int:
        """How many bad records were skipped."""
        return len(self.errors)

    @property
    def remaining(self) -> int:
        """How many more bad records may be skipped."""
        return max(0, self.max_errors - len(self.errors))

    def record(self, conn: sa.Connection, run_id: str, run: Execute = execute) -> None:
        """Insert the skipped records into ``load_errors`` (in the load's transaction).

        Every text is stored as :func:`~sparkify.staging.records.storable_text` makes it,
        the same on every backend: a NUL character as U+FFFD (PostgreSQL's text
        cannot hold NUL), cut to the column's 1024 bytes. Multi-row INSERTs of
        1,000 rows: one statement each, as Redshift takes them (text, no parameters).
        """
        if not self.errors:
            return
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for batch in chunks(self.errors, 1000):
            run(conn, sa.insert(load_errors).values(self._rows(batch, run_id, now)))

    @staticmethod
    def _rows(
        errors: Sequence[tuple[str, BadRecordError]], run_id: str, now: dt.datetime
    ) -> list[dict[str, Any]]:
        return [
            {
                "run_id": run_id,
                "recorded_at": now,
                "table_name": table,
                "source": storable_text(e.source),
                "line": e.line,
                "column_name": e.column,
                "reason": storable_text(e.reason),
                "raw_line": storable_text(e.raw),
            }
            for table, e in errors
        ]


@dataclass(frozen=True)
class StageResult:
    """What staging did for one table."""

    table: str
    objects: int
    size: int
    rows: int


#: Times a block of a load as one of its steps (``LoadReport.timed``).
Timed = Callable[[str], AbstractContextManager[None]]


class StepCounts(NamedTuple):
    """Rows a merge step inserted and updated."""

    inserted: int = 0
    updated: int = 0


class Stager(Protocol):
    """A backend as the loader sees it: the loader owns the order of steps and the
    transaction; a backend stages, runs statements, and says what it needs around
    the merges. Everything else is the backend's own business.
    """

    def execute(self, conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
        """Run one statement of the load the way this backend takes it."""
        ...

    def session(
        self, engine: sa.Engine, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> AbstractContextManager[sa.Connection]:
        """A connection with a transaction begun and the warehouse's load lock held."""
        ...

    def read(
        self,
        engine: sa.Engine,
        query: Callable[[sa.Connection], T],
        *,
        notify: Callable[[str], None],
    ) -> T:
        """Run a read-only ``query``; tell ``notify`` when it waits for a load."""
        ...

    def stage(
        self,
        conn: sa.Connection,
        plan: Plan,
        settings: Settings,
        *,
        budget: ErrorBudget,
        run_id: str,
        progress: Progress,
        client: S3Client | None = None,
    ) -> list[StageResult]:
        """Empty the staging tables and load the plan into them."""
        ...

    def transforming(
        self, conn: sa.Connection, staged_events: int, timed: Timed
    ) -> AbstractContextManager[None]:
        """Around the merges of ``staged_events`` events: what they need for this load only."""
        ...

    def keys_deferred(
        self,
        conn: sa.Connection,
        tables: Sequence[sa.Table],
        timed: Timed,
        begin_step: Callable[[str], None],
    ) -> AbstractContextManager[None]:
        """Around inserts into emptied ``tables``: their keys built after the rows, if it pays."""
        ...

    def run_step(self, conn: sa.Connection, step: Step) -> StepCounts:
        """Run one merge step (whole, or in the parts the backend needs)."""
        ...

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Insert many rows fast (the backend's bulk path), inside the transaction."""
        ...

    def unique_indexes(self, conn: sa.Connection) -> frozenset[tuple[str, tuple[str, ...]]]:
        """The unique indexes the database keeps on the star tables: (table, columns).

        The quality gate (:mod:`sparkify.gate`) runs no query for a key they keep unique.
        """
        ...

    def auditing(self, conn: sa.Connection, *, from_empty: bool) -> AbstractContextManager[None]:
        """Around the quality gate's queries: what they need that the merges do not.

        ``from_empty``: the run built the star from empty, so the gate reads every
        row of it; otherwise a day's rows, looked up among the warehouse's.
        """
        ...


#: Columns the transforms filter, join, group or sort on (see ``analyze``).
PLANNED_COLUMNS = frozenset({
    "page", "user_id", "session_id", "ts", "song", "artist", "length", "song_id", "artist_id",
    "title", "artist_name", "duration",
})  # fmt: skip


class LockingStager:
    """The load session every stager shares: connect, begin, take the backend's lock.

    Subclasses implement :meth:`lock`; the lock lives as long as the transaction,
    so a crashed or killed load releases it with its connection.
    """

    def execute(self, conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
        """Run a statement as it is (Redshift sends text: see its stager)."""
        return execute(conn, statement)

    @contextmanager
    def session(
        self, engine: sa.Engine, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> Iterator[sa.Connection]:
        """Yield a connection inside a transaction holding the load lock.

        The caller commits; anything raised rolls back.
        """
        with self.connect(engine, wait=wait, timeout=timeout, notify=notify) as conn:
            transaction = conn.begin()
            try:
                self.prepare(conn)
                self.lock(conn, wait=wait, timeout=timeout, notify=notify)
                yield conn
            finally:
                if transaction.is_active:
                    transaction.rollback()

    def prepare(self, conn: sa.Connection) -> None:
        """Set up the load transaction (PostgreSQL tunes its planner here)."""

    def read(
        self,
        engine: sa.Engine,
        query: Callable[[sa.Connection], T],
        *,
        notify: Callable[[str], None],
    ) -> T:
        """Run ``query`` on a connection of its own (PostgreSQL says when it waits for a load)."""
        with engine.connect() as conn:
            return query(conn)

    def connect(
        self, engine: sa.Engine, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> AbstractContextManager[sa.Connection]:
        """Open a connection (DuckDB overrides it: its lock is the file's)."""
        return engine.connect()

    def lock(
        self, conn: sa.Connection, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> None:
        """Take the load lock inside the transaction, or raise LoadInProgressError."""

    def analyze(self, conn: sa.Connection, *tables: sa.Table) -> None:
        """Refresh the planner's statistics of tables just filled, inside the transaction.

        Without them PostgreSQL and Redshift plan the transforms for the row
        counts of the last ANALYZE (an empty staging table). Only the columns
        the transforms filter, join, group or sort on are sampled: the rest
        (names, locations, user agents) would cost time and change no plan.
        DuckDB reads cardinalities from the tables themselves.
        """
        for table in tables:
            columns = [c.name for c in table.columns if c.name in PLANNED_COLUMNS]
            self.execute(conn, analyze(table, columns))

    @contextmanager
    def transforming(self, conn: sa.Connection, staged_events: int, timed: Timed) -> Iterator[None]:
        """Statistics of the staging tables just filled; nothing else to build or drop."""
        with timed("analyze"):
            self.analyze(conn, *STAGING_TABLES)
        yield

    @contextmanager
    def keys_deferred(
        self,
        conn: sa.Connection,
        tables: Sequence[sa.Table],
        timed: Timed,
        begin_step: Callable[[str], None],
    ) -> Iterator[None]:
        """Nothing: Redshift's keys are informational, DuckDB's fact tables have none (0003)."""
        yield

    def run_step(self, conn: sa.Connection, step: Step) -> StepCounts:
        """The step as one statement: PostgreSQL and Redshift plan and spill a whole batch well."""
        return self.run_statements(conn, [step.build()])

    def run_statements(self, conn: sa.Connection, statements: Iterable[Executable]) -> StepCounts:
        """Run a step's statements; count the rows they inserted and updated."""
        inserted = updated = 0
        for statement in statements:
            count = max(self.execute(conn, statement).rowcount, 0)
            if isinstance(statement, sa.Update):
                updated += count
            else:
                inserted += count
        return StepCounts(inserted, updated)

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Multi-row INSERTs of 1,000 rows (Redshift's bind-parameter limit is 32,767)."""
        for batch in chunks(rows, 1000):
            self.execute(conn, sa.insert(table).values(list(batch)))

    def unique_indexes(self, conn: sa.Connection) -> frozenset[tuple[str, tuple[str, ...]]]:
        """None known: the quality gate checks every key with a query."""
        return frozenset()

    @contextmanager
    def auditing(self, conn: sa.Connection, *, from_empty: bool) -> Iterator[None]:
        """Nothing to set up."""
        yield
