"""Embedded DuckDB: COPY's semantics emulated, rows bulk-loaded through ``read_json``.

Validated rows are written as JSON arrays, one per line, to a temporary file and
inserted with one ``INSERT ... SELECT`` over ``read_ndjson_objects``: DuckDB's own
parser is far faster than row-by-row inserts from Python, and memory stays flat
(the rows wait on disk, not in memory).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa

from sparkify.errors import LoadInProgressError
from sparkify.staging.base import EmulatedStager, RowSink
from sparkify.staging.sql_names import qualified_name

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


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether DuckDB refused to open its file because another process holds it."""
    return "Could not set lock on file" in str(exc)


class DuckDBStager(EmulatedStager):
    """Stages into DuckDB through a temporary NDJSON file, in the load's transaction."""

    def analyze(self, conn: sa.Connection, *tables: sa.Table) -> None:
        """Nothing to do: DuckDB's optimizer reads table cardinalities directly."""

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
        with conn:
            yield conn

    @contextmanager
    def sink(self, conn: sa.Connection, table: sa.Table) -> Iterator[RowSink]:
        """Collect rows in a temporary file; insert them all when the context closes.

        Each row is one JSON array per line (orjson, the fastest encoding of a
        tuple); DuckDB reads the lines, splits each array into text values and
        casts them to the column types. JSON numbers keep their shortest exact
        form, so doubles and 64-bit integers come back bit for bit.
        """
        names = [c.name for c in table.columns]
        fd, path = tempfile.mkstemp(prefix=f"sparkify-{table.name}-", suffix=".ndjson")
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as out:
                dumps, write = orjson.dumps, out.write

                def sink(row: tuple[Any, ...]) -> None:
                    write(dumps(row))
                    write(b"\n")

                yield sink
            if os.path.getsize(path):
                values = ", ".join(
                    f"CAST(j[{n}] AS {duck_type(c)})" for n, c in enumerate(table.columns, 1)
                )
                conn.exec_driver_sql(
                    f"INSERT INTO {qualified_name(conn, table)} ({', '.join(names)}) "  # noqa: S608
                    f"SELECT {values} FROM (SELECT json_transform(json, '[\"VARCHAR\"]') AS j "
                    "FROM read_ndjson_objects(?))",
                    (path,),
                )
        finally:
            os.unlink(path)
