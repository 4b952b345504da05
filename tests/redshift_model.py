"""A model of Redshift on PostgreSQL: the Redshift stager's whole flow, COPY aside.

Everything the Redshift stager sends (the lock, the system-view queries, DELETE,
ANALYZE, the merges, the ledger and load_errors writes, the counts) goes to
PostgreSQL as the exact Redshift text (:func:`sparkify.execute.redshift_text`),
with no parameters. What PostgreSQL lacks is played by stand-ins in the
warehouse's schema:

* COPY itself: :class:`ModelStager` overrides only ``copy``, staging the planned
  objects with the emulation of COPY's semantics (the PostgreSQL stager's sink).
  Like COPY it honours MAXERROR, writes the records it skips or fails on into
  ``sys_load_error_detail`` outside the load's transaction (system tables are
  not rolled back), and fails with Redshift's message.
* ``sys_load_error_detail``: a table with Redshift's columns (CHAR blank-padded),
  ``query_id`` values that are not ``pg_last_copy_id()``'s.
* String literals: Redshift reads backslashes in them as escapes; PostgreSQL does
  the same with ``standard_conforming_strings = off``, set on every connection.

Isolation: a Redshift database runs SERIALIZABLE or SNAPSHOT isolation
(Serverless and clusters created since May 2024 default to SNAPSHOT, older
clusters to SERIALIZABLE); PostgreSQL's SERIALIZABLE and REPEATABLE READ are the
nearest, and both take a transaction's snapshot at its first SELECT or DML, as
Redshift does (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sparkify import schema
from sparkify.db import engine_for_url
from sparkify.errors import BadRecordError
from sparkify.models import staging_events, staging_songs
from sparkify.sources import Plan, TableSources, stream_sources
from sparkify.staging.postgres import PostgresStager
from sparkify.staging.redshift import RedshiftStager
from sparkify.staging.rows import RowBuilder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Redshift's view, as the developer guide lists its columns (CHAR columns padded).
SYS_LOAD_ERROR_DETAIL = """
CREATE TABLE sys_load_error_detail (
    user_id int, query_id bigint, transaction_id bigint, session_id int,
    database_name char(64), table_id int, start_time timestamp, file_name char(256),
    line_number bigint, column_name char(127), column_type char(10), column_length char(10),
    position int, error_code int, error_message char(512)
)"""
#: STL's id of the last COPY: never the SYS view's query_id.
LAST_COPY_ID = """
CREATE FUNCTION pg_last_copy_id() RETURNS bigint LANGUAGE sql AS 'SELECT 987654321::bigint'
"""
#: The message Redshift's driver raises for a COPY that met a bad record.
COPY_FAILED = (
    "Load into table ''{table}'' failed. Check ''sys_load_error_detail'' system table for details."
)
ISOLATION_LEVELS = ["SERIALIZABLE", "REPEATABLE READ"]


def model_engine(pg_url: sa.URL, isolation: str) -> sa.Engine:
    """A new warehouse (migrations applied) in a schema of its own, with the stand-ins."""
    name = f"rsmodel_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(pg_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    admin.dispose()
    engine = engine_for_url(pg_url, schema=name, isolation_level=isolation)

    @sa.event.listens_for(engine, "connect")
    def _like_redshift(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET standard_conforming_strings = off")
            cursor.execute("SET escape_string_warning = off")
        dbapi_connection.commit()

    schema.upgrade(engine, schema=name)
    with engine.begin() as conn:
        conn.exec_driver_sql(SYS_LOAD_ERROR_DETAIL)
        conn.exec_driver_sql(LAST_COPY_ID)
    return engine


class ModelStager(RedshiftStager):
    """Redshift's stager with COPY played by the emulation (everything else as sent).

    Attributes:
        copies: the COPY statements the load would have sent, in order.
    """

    def __init__(self) -> None:
        self.copies: list[str] = []

    def copy(
        self,
        conn: sa.Connection,
        statement: str,
        sources: TableSources,
        plan: Plan,
        client: S3Client,
    ) -> None:
        """Stage ``sources`` as COPY would, honouring the statement's MAXERROR."""
        self.copies.append(statement)
        found = re.search(r"\bMAXERROR AS (\d+)", statement)
        max_error = int(found.group(1)) if found else 0
        table = sources.table
        builder = RowBuilder(table, plan.jsonpaths if table is staging_events else None)
        bad: list[BadRecordError] = []
        rows = self.staged_rows(sources, builder, bad, client)
        with PostgresStager().sink(conn, table) as write:
            for row in rows:
                write(row)
        if bad and len(bad) >= max(max_error, 1):
            # "If the load returns the error_count number of errors or greater, the load
            # fails." The transaction is aborted, as on Redshift; the errors stay in the
            # view, where the failure path reads them on another connection.
            with _side_connection(conn.engine) as side:
                self.log_errors(conn, side, table, bad)
            message = COPY_FAILED.format(table=table.name)
            conn.exec_driver_sql(f"DO $$BEGIN RAISE EXCEPTION '{message}'; END$$")
        elif bad:
            # Skipped records: the load reads them in its own transaction, after its
            # snapshot began (a system view is no table of the snapshot).
            self.log_errors(conn, conn, table, bad)

    def staged_rows(
        self,
        sources: TableSources,
        builder: RowBuilder,
        bad: list[BadRecordError],
        client: S3Client,
    ) -> Iterator[tuple[Any, ...]]:
        """The rows COPY would load; bad records go to ``bad``."""
        for obj, blocks in stream_sources(sources.objects, client=client):
            for row in builder.rows(blocks, obj.uri):
                if isinstance(row, BadRecordError):
                    bad.append(row)
                else:
                    yield row

    @staticmethod
    def log_errors(
        conn: sa.Connection, side: sa.Connection, table: sa.Table, bad: list[BadRecordError]
    ) -> None:
        """Write the COPY's errors to the view's stand-in through ``side``."""
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        session = dbapi.info.backend_pid
        query_id = uuid.uuid4().int % 10**12
        # Through the driver: the stand-in's own statements are no text sparkify sends.
        cursor = side.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor:
            cursor.execute("SELECT CAST(%s AS regclass)::oid", (table.name,))
            (table_id,) = cursor.fetchone()
            cursor.executemany(
                "INSERT INTO sys_load_error_detail (user_id, query_id, transaction_id, "
                "session_id, database_name, table_id, start_time, file_name, line_number, "
                "column_name, column_type, column_length, position, error_code, "
                "error_message) VALUES (100, %(query_id)s, %(query_id)s, %(session)s, 'dev', "
                "%(table_id)s, clock_timestamp() AT TIME ZONE 'UTC', %(file)s, %(line)s, "
                "%(column)s, '', '', 0, 1207, %(reason)s)",
                [
                    {
                        "query_id": query_id,
                        "session": session,
                        "table_id": table_id,
                        "file": error.source,
                        "line": error.line,
                        "column": error.column or "",
                        "reason": error.reason[:512],
                    }
                    for error in bad
                ],
            )


@contextmanager
def _side_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as side, side.begin():
        yield side


#: The staging tables, for tests that look at what COPY loaded.
STAGING = (staging_songs, staging_events)
