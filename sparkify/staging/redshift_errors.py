"""What a Redshift COPY rejected: its rows in ``sys_load_error_detail``, and the
staged rows the warehouse cannot take.

* A failed COPY, and the records a COPY skipped under MAXERROR, are read from
  ``sys_load_error_detail`` (the SYS views exist on provisioned clusters and on
  Serverless; STL and STV tables only on clusters): the error names the S3 key,
  line, column and reason.
* COPY loads what :mod:`sparkify.staging.rows` refuses beyond COPY's rules (a
  ``ts`` out of range, a song without its keys): :data:`STAGED_RULES` finds
  such rows in staging after the COPY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from sparkify.errors import BadRecordError, DatabaseError, first_line
from sparkify.execute import Execute, execute_redshift
from sparkify.models import TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import TableSources
from sparkify.staging.base import ErrorBudget

#: This session's id: the ``session_id`` of the SYS views' rows for its statements.
SESSION_ID = sa.text("SELECT pg_backend_pid()")

#: A staging table's id, as the SYS views' ``table_id`` holds it: a catalog-only query
#: (REGCLASS is not a type Redshift supports, and leader-node functions such as
#: current_schema() cannot be combined with system views:
#: https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-datatypes.html,
#: https://docs.aws.amazon.com/redshift/latest/dg/c_sql-functions-leader-node.html).
#: current_schema() is where ``create-tables`` made the tables (the configured schema,
#: first on the search path).
TABLE_ID = sa.text(
    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = :table AND n.nspname = current_schema()"
).bindparams(sa.bindparam("table", type_=sa.String))

#: The newest load error of this session for a table, before a COPY: every row newer
#: than it is the COPY's own. SYS_LOAD_ERROR_DETAIL exists on provisioned clusters and
#: Serverless alike, and shows a regular user the rows of their own queries
#: (https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html). Its
#: ``query_id`` is not ``pg_last_copy_id()`` (STL's id), so the COPY is found by its
#: session, its table and time. The text form keeps the microseconds.
ERRORS_BEFORE = sa.text(
    "SELECT CAST(MAX(start_time) AS VARCHAR(32)) FROM sys_load_error_detail "
    "WHERE session_id = :session AND table_id = :table_id"
).bindparams(
    sa.bindparam("session", type_=sa.BigInteger), sa.bindparam("table_id", type_=sa.BigInteger)
)
#: The records a COPY under MAXERROR skipped, or the error that failed it.
#: SYS_LOAD_ERROR_DETAIL has no raw line: ``raw_line`` stays empty on Redshift.
COPY_ERRORS = sa.text(
    "SELECT TRIM(file_name) AS source, line_number AS line, TRIM(column_name) AS column_name, "
    "TRIM(error_message) AS reason FROM sys_load_error_detail "
    "WHERE session_id = :session AND table_id = :table_id "
    "AND start_time > COALESCE(CAST(:since AS TIMESTAMP), CAST('1900-01-01' AS TIMESTAMP)) "
    "ORDER BY file_name, line_number"
).bindparams(
    sa.bindparam("session", type_=sa.BigInteger),
    sa.bindparam("table_id", type_=sa.BigInteger),
    sa.bindparam("since", type_=sa.String),
)


def _bad_record(row: sa.RowMapping) -> BadRecordError:
    return BadRecordError(
        source=str(row["source"]),
        line=int(row["line"]),
        reason=str(row["reason"]),
        column=row["column_name"] or None,
    )


def copy_failure(
    engine: sa.Engine, errors: sa.TextClause, table: str, exc: sa.exc.DBAPIError
) -> BadRecordError | DatabaseError:
    """Explain a failed COPY from its rows in SYS_LOAD_ERROR_DETAIL (on a fresh connection).

    The failed COPY aborted the load's transaction, so the view is read on
    another connection, for the failed COPY's session, table and time
    (``errors``: :data:`COPY_ERRORS` bound to them). With none, the driver's
    message is the reason (e.g. access denied to S3).
    """
    with engine.connect() as other:
        try:
            found = execute_redshift(other, errors).mappings().all()
        except sa.exc.DBAPIError:
            found = []
    if not found:
        return DatabaseError(f"COPY into {table}", first_line(exc))
    return _bad_record(found[-1])


def record_skipped(
    conn: sa.Connection,
    errors: sa.TextClause,
    table: str,
    budget: ErrorBudget,
    execute: Execute = execute_redshift,
) -> None:
    """Account for the records a successful COPY skipped under MAXERROR (``errors``)."""
    for row in execute(conn, errors).mappings():
        budget.add(table, _bad_record(row))


@dataclass(frozen=True)
class StagedRule:
    """What COPY loads but the warehouse cannot take, found in staging after the COPY.

    The emulated stagers refuse such a record at its file and line; Redshift's
    staged row no longer says where it came from, so it is named by the table's
    prefix and identified by ``shown`` columns.
    """

    broken: Callable[[], sa.ColumnElement[bool]]
    shown: tuple[str, ...]
    column: str
    reason: str


#: The staged rows that are bad records, per staging table (rows.py's rules).
STAGED_RULES = {
    "staging_events": StagedRule(
        lambda: sa.or_(staging_events.c.ts < TS_MIN_MS, staging_events.c.ts > TS_MAX_MS),
        ("user_id", "session_id", "ts"),
        "ts",
        "ts is outside the epoch milliseconds the warehouse holds (years 1-9999 UTC)",
    ),
    "staging_songs": StagedRule(
        lambda: sa.or_(
            *(sa.func.coalesce(staging_songs.c[key], "") == "" for key in ("song_id", "artist_id"))
        ),
        ("song_id", "artist_id", "title"),
        "song_id",
        "a song record needs a song_id and an artist_id",
    ),
}


def reject_staged_bad_records(
    conn: sa.Connection,
    sources: TableSources,
    budget: ErrorBudget,
    execute: Execute = execute_redshift,
) -> None:
    """Staged rows that break a :data:`STAGED_RULES` rule are bad records.

    COPY loads any BIGINT into ``ts`` and a song record without ``song_id``;
    the transforms would then fail (a ts out of range) or drop the row without
    a word. Without ``--max-errors`` the first stops the load; under it each
    counts against the budget, is recorded, and is deleted from staging, so
    the transforms never see it.
    """
    table = sources.table
    rule = STAGED_RULES[table.name]
    shown = [table.c[name] for name in rule.shown]
    found = execute(
        conn,
        sa.select(*shown).where(rule.broken()).order_by(*shown).limit(budget.remaining + 1),
    ).all()
    for row in found:
        values = ", ".join(f"{name} {value!r}" for name, value in zip(rule.shown, row, strict=True))
        budget.add(
            table.name,
            BadRecordError(
                source=sources.prefix,
                line=0,
                column=rule.column,
                reason=f"{rule.reason} ({values})",
            ),
        )
    if found:
        execute(conn, sa.delete(table).where(rule.broken()))
