"""Events staged into PostgreSQL by DuckDB: its JSON reader parses, SQL applies COPY's rules
(:mod:`sparkify.staging.native`), and the rows leave DuckDB as binary COPY tuples.

Parsing in Python costs about 3.5 µs an event on one core; DuckDB's reader
parses in parallel C++. Measured on 1M events with 2 cores shared with the
server (benchmarks/results/2026-12-04-pg-staging-options.md): the Python path
3.9 s of the client's CPU; DuckDB reading typed columns (no rules), tuples
built in SQL, 2.3 s; 2 worker processes running the Python path, 5.2 s with
their parent (each parses as slowly, and the rows then cross a pipe). With the
native rules and screen, one DuckDB thread spent 3.55 s (the Python path
3.75 s in the same sitting) for 110 MB more memory: PostgreSQL uses this
module only where DuckDB gets 2 threads or more
(:meth:`~sparkify.staging.postgres.PostgresStager.stage_table`).

DuckDB builds each row's tuple of PostgreSQL's binary format as one BLOB
(:func:`tuple_expression`), and Python only joins a batch of them for
``Copy.write``. Formatting DuckDB's rows in Python instead (``fetchmany`` of
tuples, then ``write_row``) cost 2.9 s of CPU, and the CSV format, which
DuckDB writes itself, leaves the server parsing text (1.7-2.9 s of its CPU
against 1.1-1.2 s). ``int2``, ``int4`` and ``int8`` are two's-complement
integers and ``float8`` an IEEE 754 double, big-endian, in that format: DuckDB's
cast to ``BIT`` gives exactly those bits, most significant first, and its cast
of ``BIT`` to ``BLOB`` those bytes. Text is its UTF-8 bytes: only a connection
whose client encoding is UTF-8 takes them (:func:`~sparkify.staging.pg_copy.takes_utf8`).

What stays with the Python path (:meth:`~sparkify.staging.emulated.EmulatedStager.stage_python`),
which names the file, line, column and reason of every bad record: S3 objects;
a file that changed since it was listed, or whose path DuckDB would take for a
glob pattern; a file in which the native rules find a bad record,
or that DuckDB cannot read or cannot read within its memory cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from typing import Any

import duckdb
import sqlalchemy as sa
from duckdb import CaseExpression, ColumnExpression, ConstantExpression, FunctionExpression

from sparkify.sources import JsonPath, SourceObject, is_s3, runs, unchanged
from sparkify.staging.base import Progress
from sparkify.staging.native import (
    REASON,
    NotNative,
    TableRules,
    checked,
    event_rules,
    readable,
    staged,
    triage_files,
)
from sparkify.staging.native_screen import INPUT_ERRORS, screen
from sparkify.staging.pg_copy import NULL_FIELD, SIGNATURE, TRAILER, copy_in

#: Tuples fetched from DuckDB and joined into one ``write`` (about 0.3 MB of events).
BATCH_ROWS = 1024
#: Files read by one DuckDB query, up to about this many bytes.
GROUP_BYTES = 64 * 1024 * 1024
#: DuckDB's memory cap per thread: its JSON reader holds up to two 32 MiB buffers a thread.
MEMORY_PER_THREAD_MB = 128
#: What a streaming query result holds ahead of the fetches (DuckDB's default: 10 MB).
STREAMING_BUFFER = "512KB"

#: The DuckDB type whose bits are a column's binary form, and its width in bytes.
_BINARY_FORMS = (
    (sa.SmallInteger, "SMALLINT", 2),
    (sa.BigInteger, "BIGINT", 8),
    (sa.Integer, "INTEGER", 4),
    (sa.Double, "DOUBLE", 8),
    (sa.Float, "DOUBLE", 8),
)


def _concat(parts: Iterable[duckdb.Expression]) -> duckdb.Expression:
    return reduce(lambda left, right: FunctionExpression("||", left, right), parts)


def _bits(value: duckdb.Expression, type_name: str) -> duckdb.Expression:
    """``value`` as DuckDB's ``type_name``, its bits as big-endian bytes."""
    typed = value.cast(duckdb.sqltype(type_name))
    return typed.cast(duckdb.sqltype("BIT")).cast(duckdb.sqltype("BLOB"))


def field(column: sa.Column[Any]) -> duckdb.Expression:
    """One field of a tuple: the length and bytes of the column's value, or NULL's -1.

    A text's length is ``strlen``, its bytes' count (``octet_length`` of its
    ``encode`` made the tuples a third slower to build).
    """
    value = ColumnExpression(column.name)
    if isinstance(column.type, sa.String):
        length = _bits(FunctionExpression("strlen", value), "INTEGER")
        framed = _concat([length, FunctionExpression("encode", value)])  # its UTF-8 bytes
    else:
        forms = [(name, width) for t, name, width in _BINARY_FORMS if isinstance(column.type, t)]
        if not forms:  # a model bug, not input
            raise TypeError(f"no binary COPY field for {column.name} ({column.type})")
        name, width = forms[0]
        framed = _concat([ConstantExpression(width.to_bytes(4, "big")), _bits(value, name)])
    return CaseExpression(value.isnull(), ConstantExpression(NULL_FIELD)).otherwise(framed)


def tuple_expression(columns: Sequence[sa.Column[Any]]) -> duckdb.Expression:
    """A BLOB expression: one binary COPY tuple of ``columns``, in their order."""
    count = ConstantExpression(len(columns).to_bytes(2, "big"))
    return _concat([count, *(field(column) for column in columns)]).alias("tuple")


#: DuckDB's failures that send a run's files to the Python path: the input's, and
#: its memory cap (a bug of ours, such as a binder error, propagates).
_DUCKDB_FAILS = (*INPUT_ERRORS, duckdb.OutOfMemoryException)


class RowRejected(Exception):
    """A row breaks a native rule: its file is the Python path's (internal)."""


def write_tuples(
    duck: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    table: sa.Table,
    write: Callable[[bytes], None],
) -> int:
    """Stream ``relation``'s rows to ``write`` as binary COPY tuples of ``table``; the row count.

    ``relation`` has a column named like each of ``table``'s, of a type that
    casts to the column's without loss. Only the tuples are written: the
    caller writes :data:`~sparkify.staging.pg_copy.SIGNATURE` before them and
    :data:`~sparkify.staging.pg_copy.TRAILER` after.
    """
    rows = 0
    for batch in _fetch(duck, relation.select(tuple_expression(list(table.columns)))):
        write(b"".join([row[0] for row in batch]))
        rows += len(batch)
    return rows


def write_checked(
    duck: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    table: sa.Table,
    write: Callable[[bytes], None],
) -> int:
    """:func:`write_tuples` for :func:`~sparkify.staging.native.checked` rows: at the
    first row with a reason (its tuple is NULL), :class:`RowRejected` is raised."""
    reason = ColumnExpression(REASON)
    tuple_ = CaseExpression(reason.isnull(), tuple_expression(list(table.columns)))
    rows = 0
    for batch in _fetch(duck, relation.select(tuple_.alias("tuple"))):
        tuples = [row[0] for row in batch]
        if None in tuples:
            raise RowRejected
        write(b"".join(tuples))
        rows += len(tuples)
    return rows


def _fetch(
    duck: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation
) -> Iterator[list[Any]]:
    """``relation``'s rows in batches of :data:`BATCH_ROWS`, streamed."""
    # A relation keeps no result: the query runs once, on a cursor that streams it.
    result = duck.execute(relation.sql_query())
    while batch := result.fetchmany(BATCH_ROWS):
        yield batch


# -- staging --------------------------------------------------------------------------------


@contextmanager
def reader(threads: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB for one load's reading, closed after.

    Its memory is capped (:data:`MEMORY_PER_THREAD_MB` a thread) and it never
    spills to disk: a file it cannot read within the cap fails its query, and
    goes to the Python path. It installs and loads no extension (JSON is built
    in). A streaming result holds :data:`STREAMING_BUFFER` ahead of the fetches,
    and a fetch :data:`BATCH_ROWS` tuples: with DuckDB's defaults (10 MB, and
    8,192 tuples) reading the files of a 5M-event month peaked 16 MB higher.
    """
    duck = duckdb.connect(
        config={
            "threads": threads,
            "memory_limit": f"{MEMORY_PER_THREAD_MB * threads}MB",
            "temp_directory": "",
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    duck.execute("SET streaming_buffer_size = ?", [STREAMING_BUFFER])
    try:
        yield duck
    finally:
        duck.close()


def natively_readable(obj: SourceObject) -> bool:
    """Whether DuckDB may read ``obj``: a local file as listed, its path no glob pattern."""
    return not is_s3(obj.uri) and readable(obj.uri) and unchanged(obj)


def copy_events(
    conn: sa.Connection,
    table: sa.Table,
    objects: Iterable[SourceObject],
    jsonpaths: Sequence[JsonPath],
    progress: Progress,
    *,
    threads: int,
) -> tuple[int, list[SourceObject]]:
    """Stage what DuckDB can of ``objects`` into ``table``; the rows, and the objects left.

    The objects left (S3, changed since listed, or refused by the native rules:
    :func:`copy_run`) keep their listing order, so the Python path meets their
    bad records in the order it would have. A JSONPaths file the native rules
    cannot map leaves every object. DuckDB runs ``threads`` threads.
    """
    try:
        rules = event_rules(jsonpaths)
    except NotNative:
        return 0, list(objects)
    rows = 0
    left: list[SourceObject] = []
    with reader(threads) as duck:
        # One query over several files keeps every thread busy (DuckDB's threads share
        # out the files); a query per run lets progress move, and limits what one
        # failed query sends back to Python.
        for run in runs(objects, GROUP_BYTES):
            readable = [obj.uri for obj in run if natively_readable(obj)]
            staged_rows, python = copy_run(conn, duck, table, readable, rules)
            rows += staged_rows
            done = set(readable) - python
            left += [obj for obj in run if obj.uri not in done]
            progress.advance(len(done), sum(obj.size for obj in run if obj.uri in done))
    return rows, left


def copy_run(
    conn: sa.Connection,
    duck: duckdb.DuckDBPyConnection,
    table: sa.Table,
    paths: Sequence[str],
    rules: TableRules,
) -> tuple[int, set[str]]:
    """COPY the rows of a run of files the native rules take; the rows, and the files left.

    One pass when every row loads: the files that pass the screen
    (:func:`~sparkify.staging.native_screen.screen`) are read once, checked and sent,
    in a savepoint. A row with a reason or a file DuckDB cannot read rolls the
    savepoint back; then :func:`~sparkify.staging.native.triage_files` sorts the
    run's files, and those it accepts are sent again. Bad input is rare and
    costs the run two more readings; clean input is read once after the screen
    (the triage first would read it twice: 4.9 s of CPU for 1M events against
    3.4 s, with the native module of c757cef).
    """
    if not paths:
        return 0, set()
    odd: dict[str, str] = {}
    try:
        odd = screen(duck, paths)
        candidates = [path for path in paths if path not in odd]
        if not candidates:
            return 0, set(odd)
        with _savepoint_copy(conn, table) as write:
            rows = write_checked(duck, checked(duck, candidates, rules), table, write)
        return rows, set(odd)
    except (RowRejected, *_DUCKDB_FAILS):
        pass  # rolled back
    try:
        triage = triage_files(duck, [path for path in paths if path not in odd], rules)
        if not triage.native:
            return 0, set(odd) | set(triage.python)
        relation = staged(duck, triage.native, rules, triage.plain)
        with _savepoint_copy(conn, table) as write:
            rows = write_tuples(duck, relation, table, write)
    except _DUCKDB_FAILS:  # over the memory cap, or a file changed under DuckDB
        return 0, set(paths)
    return rows, set(odd) | set(triage.python)


@contextmanager
def _savepoint_copy(conn: sa.Connection, table: sa.Table) -> Iterator[Callable[[bytes], None]]:
    """One binary COPY in a savepoint: anything raised inside rolls both back."""
    with conn.begin_nested(), copy_in(conn, table) as copy:
        copy.write(SIGNATURE)
        yield copy.write
        copy.write(TRAILER)
