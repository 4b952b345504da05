"""Embedded DuckDB: the log files staged by DuckDB's own JSON reader, the rest emulated.

The log files go through :mod:`sparkify.staging.duckdb_events`: DuckDB reads
them with ``read_json`` and applies COPY's rules in SQL
(:mod:`sparkify.staging.native`); a file it cannot stage exactly as the Python
path would, and every song file, goes through COPY's emulation in Python
(:class:`~sparkify.staging.emulated.EmulatedStager`). Its validated rows are
written as JSON arrays, one per line, to a temporary file and inserted with one
``INSERT ... SELECT`` over ``read_ndjson_objects``: DuckDB's own parser is far
faster than row-by-row inserts from Python, and memory stays flat (the rows wait
on disk, not in memory). The song files are parsed in a thread while DuckDB
inserts the log files (:mod:`sparkify.staging.background`, see
:meth:`DuckDBStager.stage`).

Those files, and the copies of ``s3://`` log objects the native path reads,
live in ``<database>.sparkify-tmp/``, beside the database file, as
DuckDB's own spill files live in ``<database>.tmp/``: a load killed mid-way
leaves them there, and the next load removes them once it holds the file's
lock (:func:`remove_leftovers`), when no other process can be using them.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from sparkify import transform
from sparkify.config import Settings
from sparkify.ddl import set_setting
from sparkify.errors import LoadInProgressError, is_interrupt, is_lock_conflict
from sparkify.models import STAR_TABLES, songplays, staging_events
from sparkify.parts import TsRange, split, ts_bounds, ts_ranges
from sparkify.sources import Plan, SourceObject, TableSources
from sparkify.staging.base import ErrorBudget, Progress, StageResult, StepCounts, Timed
from sparkify.staging.emulated import EmulatedStager, RowSink, builder_for
from sparkify.staging.sql_names import qualified_name, schema_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from sqlalchemy.sql.base import Executable

    from sparkify.staging.native import TableRules
    from sparkify.transform import Step

log = logging.getLogger(__name__)

_DUCK_TYPES = (
    (sa.SmallInteger, "SMALLINT"),
    (sa.BigInteger, "BIGINT"),
    (sa.Integer, "INTEGER"),
    (sa.Double, "DOUBLE"),
    (sa.Float, "DOUBLE"),
    (sa.String, "VARCHAR"),
    (sa.DateTime, "TIMESTAMP"),
)


def duck_type(column: sa.Column[Any]) -> str:
    """The DuckDB type ``read_json`` should give a column."""
    for type_, name in _DUCK_TYPES:
        if isinstance(column.type, type_):
            return name
    raise TypeError(f"no DuckDB type for {column.name} ({column.type})")


#: Staged events per part of DuckDB's merges (see :meth:`DuckDBStager.parts`).
EVENTS_PER_PART = 500_000
#: Rows per INSERT from the staging file (see :meth:`DuckDBStager.sink`).
ROWS_PER_INSERT = 500_000


#: The columns of each primary key and UNIQUE constraint of some tables of a schema
#: (see :meth:`DuckDBStager.unique_indexes`).
UNIQUE_CONSTRAINTS = sa.text(
    "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
    "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
    "AND database_name = current_database() "
    "AND schema_name = coalesce(:schema, current_schema()) AND table_name IN :tables"
).bindparams(sa.bindparam("tables", expanding=True))

#: Beside the database file, the folder of a load's staging files.
SCRATCH_SUFFIX = ".sparkify-tmp"
#: The staging files this process is writing now: never leftovers, whatever the folder holds.
_LIVE: set[str] = set()


def database_path(conn: sa.Connection) -> str | None:
    """The absolute path of the database file (``None`` in memory)."""
    path = conn.exec_driver_sql(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).scalar()
    return str(path) if path else None


def remove_leftovers(conn: sa.Connection) -> None:
    """Remove the staging and spill files that killed loads left beside the database file.

    Call it only while this process holds the file's write lock: no other
    process has the file open then, so every file of another process is dead.
    Files of this process are spared: the staging files it is writing
    (:data:`_LIVE`) and DuckDB's spill files, named ``duckdb_temp_<pid>_...``.
    The spill folder is cleaned only when it is DuckDB's default
    ``<database>.tmp``: a ``temp_directory`` of the user's choice may be shared.
    """
    path = database_path(conn)
    if path is None:
        return
    _remove_files(path + SCRATCH_SUFFIX, lambda entry: entry.path not in _LIVE)
    spill = path + ".tmp"
    if conn.exec_driver_sql("SELECT current_setting('temp_directory')").scalar() == spill:
        mine = f"duckdb_temp_{os.getpid()}_"
        _remove_files(
            spill,
            lambda entry: entry.name.startswith("duckdb_temp_") and not entry.name.startswith(mine),
        )


def _remove_files(folder: str, dead: Callable[[os.DirEntry[str]], bool]) -> None:
    """Remove the dead files of ``folder``, then the folder if nothing is left in it."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and dead(entry):
                    with suppress(FileNotFoundError):
                        os.unlink(entry.path)
    except FileNotFoundError:
        return
    with suppress(OSError):  # not empty: a live file, or something that is not ours
        os.rmdir(folder)


#: DuckDB's memory limit while a load runs, unless the URL sets ``memory_limit``.
LOAD_MEMORY_LIMIT = "256MB"
#: How far the limit drops for a moment before each merge statement, which
#: evicts DuckDB's cache (see :meth:`DuckDBStager.release_memory`).
RELEASE_MEMORY_TO = "32MB"


@contextmanager
def _memory_capped(conn: sa.Connection) -> Iterator[None]:
    """Cap DuckDB's buffer memory at :data:`LOAD_MEMORY_LIMIT` for the load, then restore it.

    DuckDB's default limit is 80% of RAM and it keeps what it reads and writes
    cached up to it, so without a cap a load's memory grows with the batch
    (2.6 GB at 5M events). Capped, DuckDB spills to ``<database>.tmp``. The cap
    is low enough that a 1M-event load reaches it too, so a 5M-event load
    peaks where a 1M one does (0.392 and 0.398 GB in all, with the cache
    evicted before each merge statement: :meth:`DuckDBStager.release_memory`;
    at 400MB they were 0.44 and 0.56 GB, 1 s faster at 1M). A ``memory_limit``
    in the URL is the user's choice and is left alone.
    """
    if "memory_limit" in conn.engine.url.query:
        yield
        return
    conn.execute(set_setting("memory_limit", LOAD_MEMORY_LIMIT))
    conn.commit()
    try:
        yield
    finally:
        # The database instance outlives this connection (other connections of the
        # process share it): give them back DuckDB's default (the URL set none); a
        # broken connection takes the setting with it.
        with suppress(sa.exc.DBAPIError):
            conn.rollback()
            conn.exec_driver_sql("RESET memory_limit")
            conn.commit()


class DuckDBStager(EmulatedStager):
    """Stages into DuckDB through a temporary NDJSON file, in the load's transaction."""

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
        """Stage the song files and, meanwhile, the log files optimistically; if DuckDB
        declines a log file, roll the transaction back and stage everything again, one
        table after the other, each log file checked first.

        Optimistic (:meth:`_stage_overlapped`): after the screen of their raw
        text, the log files are read once, by the ``INSERT`` that checks every
        rule (checking first reads them twice: 1M events, 1.9 s against 2.4 s),
        while a thread parses the song files (:mod:`~sparkify.staging.background`;
        50k song files: 2.58 s one after the other, 2.24 s together). A file
        with a bad record, or one DuckDB cannot read, fails that statement, and a
        failed statement aborts DuckDB's transaction (it has no savepoints): the
        transaction is rolled back and the staging runs again, the careful way
        (:meth:`~sparkify.staging.emulated.EmulatedStager.stage`), which sends
        such files to the Python path (errors, ``load_errors`` rows and
        ``--max-errors`` counting as always). So staging must be the load's first
        write: the rollback takes the transaction back to where it began
        (:func:`sparkify.load.run` only reads before it). The bad records the
        first try met are forgotten with it, and the progress bars start again
        (the first try's error is logged, not shown: the careful path meets the
        same record and reports it as always).
        """
        rules = _native_rules(plan.events, plan, settings)
        if rules is None:
            return super().stage(
                conn, plan, settings, budget=budget, run_id=run_id, progress=progress,
                client=client,
            )  # fmt: skip
        from sparkify.staging.duckdb_events import Declined  # it imports this module

        skipped = len(budget.errors)
        try:
            results = self._stage_overlapped(
                conn, plan, rules, budget=budget, progress=progress, client=client
            )
        except Declined as declined:
            reason = str(declined)
        else:
            budget.record(conn, run_id)
            return results
        conn.rollback()
        del budget.errors[skipped:]
        log.info("staging again, each log file checked first: %s", reason)
        return super().stage(
            conn, plan, settings, budget=budget, run_id=run_id, progress=progress, client=client
        )

    def _stage_overlapped(
        self,
        conn: sa.Connection,
        plan: Plan,
        rules: TableRules,
        *,
        budget: ErrorBudget,
        progress: Progress,
        client: S3Client | None,
    ) -> list[StageResult]:
        """The song files parsed in a thread while DuckDB inserts the log files the screen
        passes; then the song rows, the songs' bad records counted, and the log files
        left through the Python path: what staging one table after the other does, in
        the same order for ``--max-errors``.

        The songs' progress shows as they are parsed; the log files' once the songs
        are in (one progress bar moves at a time).
        """
        from sparkify.staging.background import BackgroundParse
        from sparkify.staging.duckdb_events import Declined, insert_native

        songs, events = plan.songs, plan.events
        for sources in plan.tables:
            self.clear(conn, sources.table)
        progress.begin_table(songs.table.name, len(songs.objects), songs.size)
        logs = _Deferred(progress)
        with scratch_files(conn, f"sparkify-{songs.table.name}-", ".ndjson") as new_file:
            parse = BackgroundParse(
                songs.objects, builder_for(songs.table, plan), new_file=new_file,
                rows_per_file=ROWS_PER_INSERT, max_errors=budget.remaining, progress=progress,
                client=client,
            ).start()  # fmt: skip
            try:
                event_rows, left = insert_native(
                    conn, events.objects, rules, progress=logs, client=client
                )
            except Exception as exc:
                if not isinstance(exc, Declined) and not is_interrupt(exc):
                    # Staged one after the other, the songs would have met theirs first.
                    try:
                        parse.replay(songs.table.name, budget)
                    finally:
                        parse.cancel()
                # A decline stages everything again; Ctrl-C stops the load now.
                parse.cancel(wait=not is_interrupt(exc))
                raise
            except BaseException:  # Ctrl-C between two statements
                parse.cancel(wait=False)
                raise
            parse.replay(songs.table.name, budget)  # waits for the thread
            insert = self._file_insert(conn, songs.table)
            for path, _ in parse.files:
                conn.exec_driver_sql(insert, (path,))
        progress.begin_table(events.table.name, len(events.objects), events.size)
        progress.advance(logs.objects, logs.size)
        if left:
            builder = builder_for(events.table, plan)
            event_rows += self.stage_python(
                conn, events.table, builder, left, budget=budget, progress=progress,
                client=client,
            )  # fmt: skip
        return [
            StageResult(songs.table.name, len(songs.objects), songs.size, parse.rows),
            StageResult(events.table.name, len(events.objects), events.size, event_rows),
        ]

    @contextmanager
    def transforming(self, conn: sa.Connection, staged_events: int, timed: Timed) -> Iterator[None]:
        """Decide in how many parts the merges run (:meth:`run_step`); no statistics needed."""
        self._parts = max(1, -(-staged_events // EVENTS_PER_PART))
        self._ranges: list[TsRange] | None = None
        yield

    def run_step(self, conn: sa.Connection, step: Step) -> StepCounts:
        """The step in parts (:func:`sparkify.parts.split`), each from an evicted cache.

        One part per :data:`EVENTS_PER_PART` staged events.
        A DuckDB statement holds its whole working set (window partitions, hash
        tables) in memory unless pressed: over 5M events the songplays merge
        alone peaked at 2.5 GB, against 0.7 GB in parts of 500k events, in the
        same time. And under the load's memory limit (:func:`_memory_capped`)
        the 5M-event songplays merge in one statement fails in DuckDB 2.0.1
        ("Invalid unicode (byte sequence mismatch) detected in segment
        statistics update", reproduced outside sparkify) where the parts succeed.
        The users merges take shares of user_id; songplays and time take ranges
        of ts (:class:`sparkify.parts.TsRange`).
        """
        statements = split(step, self._parts, lambda: self._ts_ranges(conn))
        counts = StepCounts()
        for statement in statements:
            self.release_memory(conn)
            done = self.run_statements(conn, [statement])
            counts = StepCounts(counts.inserted + done.inserted, counts.updated + done.updated)
        return counts

    #: Whether the quality gate runs (see :meth:`auditing`).
    _auditing = False

    @contextmanager
    def auditing(self, conn: sa.Connection, *, from_empty: bool) -> Iterator[None]:
        """Each query of the quality gate from an evicted cache, as each merge statement.

        The gate groups every key of the star (songplays' three columns over all
        its rows after a load from empty): without the eviction a 5M-event load
        peaked 418 MB against 399 MB at 1M (+4.8%), with it 407 against 393 MB
        (+3.6%), in the same time.
        """
        self._auditing = True
        try:
            yield
        finally:
            self._auditing = False

    def execute(self, conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
        """Run a statement; during the quality gate, from an evicted cache (:meth:`auditing`)."""
        if self._auditing:
            self.release_memory(conn)
        return super().execute(conn, statement)

    def unique_indexes(self, conn: sa.Connection) -> frozenset[tuple[str, tuple[str, ...]]]:
        """The star tables' keys DuckDB keeps (an ART index each), read from its catalog.

        The dimensions' keys, as migrated; songplays and time have none (migration
        0003), so the quality gate checks theirs with a query.
        """
        rows = conn.execute(
            UNIQUE_CONSTRAINTS,
            {"schema": schema_of(conn, songplays), "tables": [t.name for t in STAR_TABLES]},
        ).all()
        return frozenset((table, tuple(sorted(columns))) for table, columns in rows)

    def _ts_ranges(self, conn: sa.Connection) -> list[TsRange]:
        """The ts ranges of this load's parts, found once (NTILE over the staged plays)."""
        if self._ranges is None:
            bounds = ts_bounds(self._parts, transform.plays())
            lowest = self.execute(conn, bounds).scalars().all()
            self._ranges = ts_ranges(lowest)
        return self._ranges

    def release_memory(self, conn: sa.Connection) -> None:
        """Evict DuckDB's cache before a merge statement: the limit drops, then comes back.

        DuckDB keeps the blocks it reads and writes cached up to its memory
        limit. Once the cache is full, a statement that needs memory evicts
        blocks as it goes, and that churn costs memory DuckDB does not count:
        over 5M events the last time and songplays parts peaked 20-28 MB above
        what the 1M load's did, with DuckDB's own count at the cap in both.
        Setting the limit to :data:`RELEASE_MEMORY_TO` and back writes the
        cache out (blocks are in the database file, or spill to its ``.tmp``)
        so each statement starts from its own working set: 5M events then peak
        within 2% of 1M (398 and 392 MB), in the same time.

        ``memory_limit`` is global to the database, so a second connection sets
        it: if DuckDB refuses the low limit (pinned blocks it cannot evict),
        the refusal stays out of the load's transaction, which it would abort.
        Nothing is done when the URL sets ``memory_limit`` (the user's choice)
        or when the engine's pool would hand back the load's own connection
        (``:memory:`` databases), whose transaction a second use would end.
        """
        if "memory_limit" in conn.engine.url.query or isinstance(
            conn.engine.pool, sa.pool.SingletonThreadPool | sa.pool.StaticPool
        ):
            return
        with conn.engine.connect() as side:
            try:
                side.execute(set_setting("memory_limit", RELEASE_MEMORY_TO))
                side.commit()
            except sa.exc.DBAPIError:
                side.rollback()  # the cache stays: only memory, never the load, is at stake
            side.execute(set_setting("memory_limit", LOAD_MEMORY_LIMIT))
            side.commit()

    def stage_table(
        self,
        conn: sa.Connection,
        sources: TableSources,
        plan: Plan,
        settings: Settings,
        *,
        budget: ErrorBudget,
        progress: Progress,
        client: S3Client | None,
    ) -> int:
        """The log files with DuckDB's own reader where exact (:mod:`.duckdb_events`).

        Song files go through the Python path: 50,000 files of one small object
        each cost DuckDB more per file than Python takes to parse one.
        ``Settings.duckdb_staging = "python"`` sends the log files there too.
        """
        rules = _native_rules(sources, plan, settings)
        if rules is None:
            return super().stage_table(
                conn, sources, plan, settings, budget=budget, progress=progress, client=client
            )
        from sparkify.staging import duckdb_events

        builder = builder_for(staging_events, plan)

        def python(objects: Sequence[SourceObject], names: Mapping[str, str]) -> int:
            return self.stage_python(
                conn, staging_events, builder, objects,
                budget=budget, progress=progress, client=client, names=names,
            )  # fmt: skip

        return duckdb_events.stage_events(
            conn, sources.objects, rules, python, progress=progress, client=client
        )

    #: Seconds between attempts to open a file another process holds.
    retry_every = 0.25

    @contextmanager
    def connect(
        self, engine: sa.Engine, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> Iterator[sa.Connection]:
        """Open the database file; DuckDB's single-writer lock is the load lock.

        Another process writing the same file holds an exclusive lock on it; wait
        for it (retrying) or fail with a clear message instead of the driver's.
        """
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                conn = engine.connect()
                break
            except sa.exc.DBAPIError as exc:
                if not is_lock_conflict(exc):
                    raise
                if not wait:
                    raise LoadInProgressError(
                        f"a load is in progress: another process has {engine.url.database} "
                        "open for writing; try again later or --wait"
                    ) from None
                if time.monotonic() >= deadline:
                    raise LoadInProgressError(
                        f"a load is still in progress after waiting {timeout:.0f}s: another "
                        f"process has {engine.url.database} open"
                    ) from None
                if not told:
                    notify(
                        "another process has the DuckDB file open (a load in progress); "
                        f"waiting up to {timeout:.0f}s"
                    )
                    told = True
                time.sleep(self.retry_every)
        with conn, _memory_capped(conn):
            remove_leftovers(conn)
            conn.rollback()  # end the read of its settings: the session begins its own
            yield conn

    @staticmethod
    def _file_insert(conn: sa.Connection, table: sa.Table) -> str:
        """The INSERT of a file of rows as :meth:`sink` writes them (its path: the parameter)."""
        names = [c.name for c in table.columns]
        values = ", ".join(
            f"CAST(j[{n}] AS {duck_type(c)})" for n, c in enumerate(table.columns, 1)
        )
        return (
            f"INSERT INTO {qualified_name(conn, table)} ({', '.join(names)}) "  # noqa: S608
            f"SELECT {values} FROM (SELECT json_transform(json, '[\"VARCHAR\"]') AS j "
            "FROM read_ndjson_objects(?))"
        )

    @contextmanager
    def sink(self, conn: sa.Connection, table: sa.Table) -> Iterator[RowSink]:
        """Collect rows in a temporary file; insert them every :data:`ROWS_PER_INSERT` rows
        and when the context closes.

        Each row is one JSON array per line (orjson, the fastest encoding of a
        tuple); DuckDB reads the lines, splits each array into text values and
        casts them to the column types. JSON numbers keep their shortest exact
        form, so doubles and 64-bit integers come back bit for bit. Inserting in
        batches keeps DuckDB's memory and the file's size the same whatever the
        number of rows. The file is in ``<database>.sparkify-tmp/`` (the system's
        temporary folder for a database in memory, which no file lock guards).
        """
        insert = self._file_insert(conn, table)
        with (
            scratch_file(conn, f"sparkify-{table.name}-", ".ndjson") as path,
            open(path, "wb", buffering=1 << 20) as out,
        ):
            dumps, write = orjson.dumps, out.write
            pending = 0

            def flush() -> None:
                nonlocal pending
                out.flush()
                if pending:
                    conn.exec_driver_sql(insert, (path,))
                out.seek(0)
                out.truncate()
                pending = 0

            def sink(row: tuple[Any, ...]) -> None:
                nonlocal pending
                write(dumps(row))
                write(b"\n")
                pending += 1
                if pending == ROWS_PER_INSERT:
                    flush()

            yield sink
            flush()


def _native_rules(sources: TableSources, plan: Plan, settings: Settings) -> TableRules | None:
    """The rules DuckDB stages ``sources`` with natively (``None``: the Python path does)."""
    if sources.table is not staging_events or settings.duckdb_staging != "native":
        return None
    from sparkify.staging import native

    try:
        return native.event_rules(plan.jsonpaths)
    except native.NotNative:
        return None


def scratch_folder(conn: sa.Connection) -> str | None:
    """``<database>.sparkify-tmp/``, made if missing (``None`` for a database in memory)."""
    database = database_path(conn)
    if database is None:
        return None
    folder = database + SCRATCH_SUFFIX
    os.makedirs(folder, exist_ok=True)
    return folder


@contextmanager
def scratch_files(conn: sa.Connection, prefix: str, suffix: str) -> Iterator[Callable[[], str]]:
    """A maker of new, empty files in :func:`scratch_folder` (the system's temporary
    folder for a database in memory); every file it made is removed on exit, with the
    folder once empty. The maker runs no query: another thread may call it.

    Each file is registered in :data:`_LIVE` while it exists, so
    :func:`remove_leftovers` spares it.
    """
    folder = scratch_folder(conn)
    made: list[str] = []

    def new_file() -> str:
        fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        os.close(fd)
        _LIVE.add(path)
        made.append(path)
        return path

    try:
        yield new_file
    finally:
        for path in made:
            with suppress(FileNotFoundError):
                os.unlink(path)
            _LIVE.discard(path)
        if folder is not None:
            with suppress(OSError):  # another load of this process writes there too
                os.rmdir(folder)


@contextmanager
def scratch_file(conn: sa.Connection, prefix: str, suffix: str) -> Iterator[str]:
    """The path of a new, empty file in :func:`scratch_folder`; removed on exit
    (see :func:`scratch_files`)."""
    with scratch_files(conn, prefix, suffix) as new_file:
        yield new_file()


class _Deferred:
    """A :class:`Progress` that keeps the objects and bytes it is told of, for later
    (see :meth:`DuckDBStager._stage_overlapped`); notices go through at once."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.objects = self.size = 0

    def begin_table(self, table: str, objects: int, size: int) -> None:
        """Ignore: the caller begins the table."""

    def advance(self, objects: int, size: int) -> None:
        """Keep them."""
        self.objects += objects
        self.size += size

    def begin_step(self, name: str) -> None:
        """Ignore."""

    def notice(self, message: str) -> None:
        """Say it now."""
        self._progress.notice(message)
