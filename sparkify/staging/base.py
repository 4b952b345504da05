"""What every stager shares: bad-record accounting, progress reporting, the load
session, and the emulation of COPY used by PostgreSQL and DuckDB (the plan it
stages comes from :mod:`sparkify.sources`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable

from sparkify.config import Settings
from sparkify.errors import BadRecordError, TooManyBadRecordsError
from sparkify.execute import Execute, execute
from sparkify.models import load_errors
from sparkify.records import event_builder, song_builder, storable_text
from sparkify.sources import Plan, chunks, stream_sources
from sparkify.staging.sql_names import qualified_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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

        Every text is stored as :func:`~sparkify.records.storable_text` makes it,
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


class Stager(Protocol):
    """Loads a plan's objects into the staging tables, inside the caller's transaction."""

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

    def analyze(self, conn: sa.Connection, *tables: sa.Table) -> None:
        """Refresh planner statistics of tables just filled (where the backend needs it)."""
        ...

    def prepare_transforms(self, conn: sa.Connection, staged_events: int) -> None:
        """Build what the transforms of ``staged_events`` events need for one load only."""
        ...

    def after_transforms(self, conn: sa.Connection) -> None:
        """Before commit: drop what :meth:`prepare_transforms` built."""
        ...

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Insert many rows fast (the backend's bulk path), inside the transaction."""
        ...

    def parts(self, staged_events: int) -> int:
        """In how many parts to run the merges over ``staged_events`` events (1: whole)."""
        ...

    def release_memory(self, conn: sa.Connection) -> None:
        """Before a merge statement: give back what the backend keeps cached in the process."""
        ...

    def defer_keys(self, conn: sa.Connection, tables: Sequence[sa.Table]) -> list[sa.Constraint]:
        """Before inserts into emptied ``tables``: drop the keys they enforce with indexes.

        Returns the constraints dropped, for :meth:`restore_keys` (none where the
        backend has no such indexes).
        """
        ...

    def restore_keys(self, conn: sa.Connection, constraints: Sequence[sa.Constraint]) -> None:
        """After the inserts: create the keys :meth:`defer_keys` dropped (checking them)."""
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
            columns = ", ".join(c.name for c in table.columns if c.name in PLANNED_COLUMNS)
            self.execute(conn, sa.text(f"ANALYZE {qualified_name(conn, table)} ({columns})"))

    def prepare_transforms(self, conn: sa.Connection, staged_events: int) -> None:
        """Nothing to build: Redshift has no indexes; DuckDB reads row groups by ts."""

    def after_transforms(self, conn: sa.Connection) -> None:
        """Nothing was built for the transforms."""

    def parts(self, staged_events: int) -> int:
        """One part: PostgreSQL and Redshift plan and spill a whole batch well."""
        return 1

    def release_memory(self, conn: sa.Connection) -> None:
        """Nothing: PostgreSQL and Redshift cache in their servers, not in this process."""

    def defer_keys(self, conn: sa.Connection, tables: Sequence[sa.Table]) -> list[sa.Constraint]:
        """Nothing: Redshift's keys are informational, DuckDB's fact tables have none (0003)."""
        return []

    def restore_keys(self, conn: sa.Connection, constraints: Sequence[sa.Constraint]) -> None:
        """Nothing to restore."""

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Multi-row INSERTs of 1,000 rows (Redshift's bind-parameter limit is 32,767)."""
        for batch in chunks(rows, 1000):
            self.execute(conn, sa.insert(table).values(list(batch)))


# -- COPY's emulation, shared by PostgreSQL and DuckDB ----------------------------------

RowSink = Callable[[tuple[Any, ...]], None]


class EmulatedStager(LockingStager):
    """Parses the objects in Python (COPY's semantics) and hands rows to a backend sink.

    Subclasses provide :meth:`clear` and :meth:`sink`.
    """

    def clear(self, conn: sa.Connection, table: sa.Table) -> None:
        """Remove every row of a staging table, inside the transaction."""
        conn.execute(sa.delete(table))

    def sink(self, conn: sa.Connection, table: sa.Table) -> AbstractContextManager[RowSink]:
        """A context whose value takes rows of ``table`` in column order."""
        raise NotImplementedError

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Insert many rows through the staging bulk path (COPY, read_json)."""
        names = [column.name for column in table.columns]
        with self.sink(conn, table) as write:
            for row in rows:
                write(tuple(row[name] for name in names))

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
        """Empty both staging tables and stream every planned object into them."""
        results = []
        builders = {
            "staging_songs": song_builder(),
            "staging_events": event_builder(plan.jsonpaths),
        }
        for sources in plan.tables:
            table = sources.table
            builder = builders[table.name]
            self.clear(conn, table)
            progress.begin_table(table.name, len(sources.objects), sources.size)
            rows = 0
            with self.sink(conn, table) as write:
                for obj, blocks in stream_sources(sources.objects, client=client):
                    for row in builder.rows(blocks, obj.uri):
                        if isinstance(row, BadRecordError):
                            budget.add(table.name, row)
                        else:
                            write(row)
                            rows += 1
                    progress.advance(1, obj.size)
            results.append(StageResult(table.name, len(sources.objects), sources.size, rows))
        budget.record(conn, run_id)
        return results
