"""PostgreSQL stand-in: COPY's semantics emulated, rows streamed with binary COPY FROM STDIN.

Events are parsed by DuckDB where it can (:mod:`sparkify.staging.pg_native`),
everything else in Python (:mod:`sparkify.staging.emulated`).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from psycopg.errors import LockNotAvailable

from sparkify.config import Settings
from sparkify.ddl import set_setting, truncate
from sparkify.errors import LoadInProgressError, SparkifyError
from sparkify.models import STAGING_TABLES, STAR_TABLES, songplays, staging_events
from sparkify.sources import Plan, SourceObject, TableSources, is_s3
from sparkify.staging.base import ErrorBudget, Progress, T, Timed
from sparkify.staging.emulated import EmulatedStager, RowSink, builder_for
from sparkify.staging.pg_copy import copy_in, pg_type, takes_utf8
from sparkify.staging.sql_names import schema_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The index :meth:`PostgresStager.transforming` builds on ``staging_events.ts`` for one load.
TS_INDEX = "sparkify_load_staging_events_ts"
#: That index, on a table object of its own: the models' metadata never holds it.
_TS_INDEX = sa.Index(
    TS_INDEX,
    sa.Table(staging_events.name, sa.MetaData(), sa.Column("ts", sa.BigInteger)).c.ts,
)
#: Staged events from which that index pays (below, the dedup sort fits in ``work_mem``).
TS_INDEX_MIN_ROWS = 300_000

#: The columns of each valid, immediate, plain unique index (a primary key's too) of
#: some tables of a schema, one row per column (see :meth:`PostgresStager.unique_indexes`).
UNIQUE_INDEX_COLUMNS = sa.text(
    "SELECT c.relname AS table_name, i.indexrelid AS index_id, a.attname AS column_name "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
    "WHERE i.indisunique AND i.indisvalid AND i.indimmediate "
    "AND i.indpred IS NULL AND i.indexprs IS NULL "
    "AND n.nspname = coalesce(:schema, current_schema()) AND c.relname IN :tables"
).bindparams(sa.bindparam("tables", expanding=True))


#: Log files DuckDB may read must add up to this many bytes for it to read them: DuckDB's
#: fixed costs and the native screen outweigh its speed on a small batch (a day of the
#: 1M-event month, 37k events: 0.34 s staged natively against 0.15 s in Python).
NATIVE_MIN_BYTES = 256 * 1024 * 1024
#: DuckDB's threads at most: past them the one server process ingesting the COPY is the
#: bottleneck (about 1.3 s of its CPU for 1M events, against 2.5-3 s of DuckDB's).
NATIVE_MAX_THREADS = 4
#: DuckDB stages the events only with this many threads: with one, on 2 cores, it spent
#: 5% less CPU than the Python path on 1M events (3.55 s against 3.75 s) and the load
#: peaked 110 MB higher (195 MB against 84 MB).
NATIVE_MIN_THREADS = 2


def native_threads() -> int:
    """DuckDB's threads: a core each but one (the server's, ingesting the COPY, and this
    process's, sending it), at most :data:`NATIVE_MAX_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(NATIVE_MAX_THREADS, max(1, cores - 1))


def native_bytes(objects: Iterable[SourceObject]) -> int:
    """How many bytes of ``objects`` DuckDB may read: the local files'."""
    return sum(obj.size for obj in objects if not is_s3(obj.uri))


#: How long a reader waits for a table lock before it says what it waits for.
READ_PATIENCE_MS = 1000

#: Sessions holding this warehouse's load lock (pg_advisory_xact_lock of a bigint
#: key: "its high-order half in the classid column, its low-order half in the
#: objid column, and objsubid equal to 1",
#: https://www.postgresql.org/docs/current/view-pg-locks.html).
LOAD_LOCK_HOLDER = sa.text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1 LIMIT 1"
)


def lock_key(conn: sa.Connection) -> int:
    """The advisory-lock key of this warehouse: one per database schema."""
    schema = conn.execute(sa.select(sa.func.current_schema())).scalar_one()
    return zlib.crc32(f"sparkify-load:{schema}".encode())


#: The load transaction's planner settings (see :meth:`PostgresStager.prepare`).
LOAD_SETTINGS: tuple[tuple[str, str | int], ...] = (
    ("enable_nestloop", "off"),
    ("work_mem", "64MB"),
    ("jit", "off"),
    ("default_statistics_target", 10),
)


#: The quality gate's planner settings (see :meth:`PostgresStager.auditing`): nested
#: loops of index lookups allowed, and a random page read costed as a cached one.
AUDIT_SETTINGS: tuple[tuple[str, str], ...] = (
    ("enable_nestloop", "on"),
    ("random_page_cost", "1.1"),
)


class PostgresStager(EmulatedStager):
    """Stages into PostgreSQL with psycopg's binary COPY, in the load's transaction.

    Args:
        native_min_bytes: the log files DuckDB may read must add up to this many
            bytes for it to stage them (:data:`NATIVE_MIN_BYTES`; 0: any batch).
        native_min_threads: DuckDB must get this many threads
            (:func:`native_threads`) to stage them (:data:`NATIVE_MIN_THREADS`).
    """

    def __init__(
        self,
        *,
        native_min_bytes: int = NATIVE_MIN_BYTES,
        native_min_threads: int = NATIVE_MIN_THREADS,
    ) -> None:
        self.native_min_bytes = native_min_bytes
        self.native_min_threads = native_min_threads

    def prepare(self, conn: sa.Connection) -> None:
        """Tune the load transaction for bulk SQL.

        The transforms dedupe with ROW_NUMBER() ... WHERE rn = 1, which PostgreSQL
        estimates at 0.5% of the rows: it then nests loops over a day's plays and
        the whole catalogue (96 s instead of 1 s for one day on a 1M-event
        warehouse). A bulk load wants hash and merge joins, and sorts and hashes
        in memory. JIT compilation is off: the transforms are one-off statements,
        and compiling them cost more than it saved (0.26 s for the songplays
        merge of a 1M-event load, 4% of the statement). ANALYZE of the staging
        tables samples 3,000 rows instead of 30,000 (statistics target 10): the
        plans need the tables' sizes, not fine histograms, and it takes 0.02 s
        instead of 0.25 s. SET LOCAL ends with the transaction.
        """
        for name, value in LOAD_SETTINGS:
            conn.execute(set_setting(name, value, local=True))

    def lock(
        self, conn: sa.Connection, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> None:
        """A transaction-level advisory lock: released at commit, rollback or disconnect.

        See https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
        """
        key = lock_key(conn)
        if conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar_one():
            return
        if not wait:
            raise LoadInProgressError(
                "a load is in progress on this warehouse (another "
                "sparkify etl holds its lock); try again later or --wait"
            )
        notify(f"another load is in progress; waiting up to {timeout:.0f}s for it to finish")
        conn.execute(set_setting("lock_timeout", f"{int(timeout * 1000)}ms", local=True))
        try:
            with conn.begin_nested():
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        except sa.exc.OperationalError as exc:
            raise LoadInProgressError(
                f"a load is still in progress after waiting {timeout:.0f}s"
            ) from exc
        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))

    def read(
        self,
        engine: sa.Engine,
        query: Callable[[sa.Connection], T],
        *,
        notify: Callable[[str], None],
    ) -> T:
        """Run ``query``; when a table lock holds it up over a second, say why, then wait.

        A load empties the staging tables with TRUNCATE, which holds them
        ACCESS EXCLUSIVE until it commits (and a full refresh drops the keys of
        songplays and time, the same lock): a reader of those tables waits for
        the whole load. Reading without waiting would need DELETE instead of
        TRUNCATE, which leaves every staged row dead until VACUUM and slows the
        load, so the reader waits, but not silently: it first tries under a
        :data:`READ_PATIENCE_MS` ``lock_timeout``, then tells ``notify`` what it
        waits for and runs again without one. The query reads only, so running
        it again changes nothing.
        """
        with engine.connect() as conn:
            try:
                with conn.begin():
                    conn.execute(set_setting("lock_timeout", READ_PATIENCE_MS, local=True))
                    return query(conn)
            except (sa.exc.DBAPIError, SparkifyError) as exc:
                if not _lock_timed_out(exc):
                    raise
            notify(self._waiting_for(conn))
            with conn.begin():
                return query(conn)

    def _waiting_for(self, conn: sa.Connection) -> str:
        """What a reader held up by a table lock waits for, in a sentence."""
        with conn.begin():
            key = lock_key(conn)
            holder = conn.execute(LOAD_LOCK_HOLDER, {"high": key >> 32, "low": key & 0xFFFFFFFF})
            pid = holder.scalar()
        if pid is None:
            return "waiting for a lock another session holds on the warehouse's tables"
        return (
            f"waiting for the load in progress (PostgreSQL session {pid}) to commit: "
            "it emptied the staging tables with TRUNCATE, which holds them exclusively "
            "until then (a full refresh also holds songplays and time)"
        )

    @contextmanager
    def transforming(self, conn: sa.Connection, staged_events: int, timed: Timed) -> Iterator[None]:
        """Statistics, then an index on ``staging_events.ts`` for a big batch, dropped after.

        The songplays dedup window partitions by ts first. Log files hold a day
        each, in ts order, so the staged events are nearly in ts order and an
        index scan on ts feeds an incremental sort of tiny groups of equal ts,
        where a full sort of a 5M-event batch spills 1 GB to disk (songplays
        merge 13.7-18.1 s -> 10.8-11.2 s, for 1.0 s building the index; at 1M
        events 2.5-2.8 s -> 2.0-2.1 s for 0.2 s). Building the index after
        COPY is cheaper than keeping it up to date during COPY (1.5 s against
        2.5 s more at 5M). The planner reads the ts correlation from ANALYZE and
        sorts the plain way when the batch is not in ts order. A batch under
        :data:`TS_INDEX_MIN_ROWS` events (a day's file of a 5M-event month holds
        about 170k) sorts within ``work_mem`` anyway: no index then (100k
        events: 0.03 s saved). The index is dropped before the load commits
        (on leaving this context): the warehouse's schema stays the migrations'.
        """
        big = staged_events >= TS_INDEX_MIN_ROWS
        with timed("analyze"):
            self.analyze(conn, *STAGING_TABLES)
            if big:
                conn.execute(sa.schema.CreateIndex(_TS_INDEX, if_not_exists=True))
        yield
        if big:  # a failed load rolls back, the index with it
            with timed("analyze"):
                conn.execute(sa.schema.DropIndex(_TS_INDEX, if_exists=True))

    @contextmanager
    def keys_deferred(
        self,
        conn: sa.Connection,
        tables: Sequence[sa.Table],
        timed: Timed,
        begin_step: Callable[[str], None],
    ) -> Iterator[None]:
        """The keys of ``tables`` (emptied by a full load) dropped, then built after the inserts.

        Building a btree once over the rows is cheaper than maintaining it row
        by row: inserting 4.3M songplays and times took 27.9 s with their keys
        and 22.3 s without, plus 2.5 s to build the keys after (at 100k events:
        0.66 s against 0.43 s + 0.06 s). ``ALTER TABLE`` is transactional: a
        rollback brings the keys back as they were. It also locks the two
        tables until the load ends, so queries on them wait for a full load
        (an incremental one leaves the keys alone, and readers see the tables
        as they were until it commits).
        """
        keys: list[sa.Constraint] = [
            constraint
            for table in tables
            for constraint in table.constraints
            if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint)
        ]
        if not keys:  # an incremental load: the keys stay as they are
            yield
            return
        with timed("keys"):
            for constraint in keys:
                conn.execute(sa.schema.DropConstraint(constraint))
        yield
        if keys:
            begin_step("keys")
            with timed("keys"):
                for constraint in keys:
                    # isolate_from_table=True (the default) would leave the constraint
                    # out of its table's CREATE TABLE for the rest of the process.
                    conn.execute(sa.schema.AddConstraint(constraint, isolate_from_table=False))

    def unique_indexes(self, conn: sa.Connection) -> frozenset[tuple[str, tuple[str, ...]]]:
        """The star tables' unique indexes, read from the catalog: every key, as migrated.

        Read, not assumed: a key whose index is gone (dropped by hand, or a schema
        that is not the migrations') is checked by a query instead.
        """
        rows = conn.execute(
            UNIQUE_INDEX_COLUMNS,
            {"schema": schema_of(conn, songplays), "tables": [t.name for t in STAR_TABLES]},
        ).all()
        columns: dict[tuple[str, int], list[str]] = {}
        for table, index, column in rows:
            columns.setdefault((table, index), []).append(column)
        return frozenset((table, tuple(sorted(names))) for (table, _), names in columns.items())

    @contextmanager
    def auditing(self, conn: sa.Connection, *, from_empty: bool) -> Iterator[None]:
        """After an incremental run, :data:`AUDIT_SETTINGS` for the gate; then the load's again.

        The gate looks a day's staged plays up in songplays and time by their keys.
        With the merges' settings (:meth:`prepare`: no nested loops) and the default
        cost of a random page read, PostgreSQL hashes all of songplays instead
        (0.33 s against 0.13 s for a day on a 1M-event warehouse); yet the pages
        the gate reads are those the merges just read or wrote, in shared buffers.
        After a load from empty the gate reads every row: the merges' settings
        stay, so that it hashes (with these settings one plan walked songplays'
        index for a million plays: 4.0 s, against 2.1 s hashed, both serial).
        """
        if from_empty:
            yield
            return
        names = [name for name, _ in AUDIT_SETTINGS]
        before = [conn.execute(sa.select(sa.func.current_setting(n))).scalar_one() for n in names]
        for name, value in AUDIT_SETTINGS:
            conn.execute(set_setting(name, value, local=True))
        yield
        for name, value in zip(names, before, strict=True):
            conn.execute(set_setting(name, value, local=True))

    def clear(self, conn: sa.Connection, table: sa.Table) -> None:
        """TRUNCATE: transactional on PostgreSQL, and cheaper than DELETE."""
        conn.execute(truncate(table))

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
        """Events through DuckDB's reader where it pays (:mod:`~sparkify.staging.pg_native`).

        It pays with ``Settings.duckdb_staging`` ``native`` (the default), DuckDB
        getting :data:`NATIVE_MIN_THREADS` threads or more (3 cores and up) and
        a batch of :data:`NATIVE_MIN_BYTES` or more. The objects it leaves (S3
        objects, files with a bad record, files DuckDB cannot read)
        and the song files (50,000 one-object files: DuckDB's reader took 7.9 s
        of CPU for them against 0.9 s in Python) go through the Python path,
        which names every bad record as it always did.
        """
        objects: Iterable[SourceObject] = sources.objects
        rows = 0
        threads = native_threads()
        if (
            sources.table is staging_events
            and settings.duckdb_staging == "native"
            and threads >= self.native_min_threads
            and native_bytes(objects) >= self.native_min_bytes
            and takes_utf8(conn)
        ):
            from sparkify.staging.pg_native import copy_events  # imports DuckDB

            rows, objects = copy_events(
                conn, sources.table, objects, plan.jsonpaths, progress,
                threads=threads,
            )  # fmt: skip
            if not objects:
                return rows
        builder = builder_for(sources.table, plan)
        return rows + self.stage_python(
            conn, sources.table, builder, objects, budget=budget, progress=progress, client=client
        )

    @contextmanager
    def sink(self, conn: sa.Connection, table: sa.Table) -> Iterator[RowSink]:
        """Rows written with psycopg's ``write_row`` into a binary ``COPY ... FROM STDIN``."""
        with copy_in(conn, table) as copy:
            copy.set_types([pg_type(c) for c in table.columns])
            yield copy.write_row


def _lock_timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is PostgreSQL's lock_timeout."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, sa.exc.DBAPIError) and isinstance(cause.orig, LockNotAvailable):
            return True
        cause = cause.__cause__
    return False
