"""Redshift: ``COPY ... FORMAT JSON`` straight from S3, in the load's transaction.

* events: ``FORMAT AS JSON AS '<JSONPaths file>'``; songs: ``FORMAT AS JSON AS 'auto'``
  (log keys are camelCase, song keys match the columns). ``ts`` stays epoch ms
  (converted in SQL), so no TIMEFORMAT. COMPUPDATE and STATUPDATE are off: column
  encodings stay as the tables have them (ENCODE AUTO), and the load runs ANALYZE
  itself on the columns the transforms use.
* The staging tables are emptied with DELETE, not TRUNCATE: TRUNCATE commits
  the transaction on Redshift, which would break "one run, one transaction".
* A prefix is read as a folder (``prefix/``). When it holds objects that are not
  sources (``.ipynb_checkpoints/``, non-JSON files) or only some objects are to
  be loaded, COPY reads a manifest listing exactly the planned objects, written
  under ``[S3] MANIFEST_PREFIX``.
* A failed COPY, and the records a COPY skipped under MAXERROR, are read from
  ``sys_load_error_detail`` (the SYS views exist on provisioned clusters and on
  Serverless; STL and STV tables only on clusters): the error names the S3 key,
  line, column and reason.
* The load lock is ``LOCK load_ledger``, the transaction's first statement that
  reads or writes, bounded by ``statement_timeout``.

Every statement is sent as Redshift text with its values inlined and no
parameters (:mod:`sparkify.execute`); the COPY comes from sqlalchemy-redshift's
``CopyCommand``. See https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
and docs/redshift.md.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable
from sqlalchemy_redshift.commands import CopyCommand, Format

from sparkify.config import Settings
from sparkify.errors import (
    BadRecordError,
    ConfigError,
    DatabaseError,
    LoadInProgressError,
    SourceError,
    TooManyBadRecordsError,
    first_line,
)
from sparkify.execute import Execute, execute_redshift, redshift_text, send_text
from sparkify.models import TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import Plan, TableSources, is_s3, s3_client, split_s3_uri
from sparkify.staging.base import ErrorBudget, LockingStager, Progress, StageResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: A COPY's MAXERROR cannot exceed this: "The maximum limit is 100,000"
#: (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html).
MAXERROR_LIMIT = 100_000

#: How long ``--no-wait`` waits for the load lock on Redshift, in seconds: LOCK has no
#: NOWAIT, so it waits this long at most (a free lock is taken in milliseconds).
NO_WAIT_SECONDS = 1.0
#: After this many seconds waiting for the load lock, the user is told why.
WAIT_NOTICE_SECONDS = 1.0

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

#: The statement timeout around the load lock (milliseconds; 0 turns it off). LOCK
#: waits as long as it must (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html);
#: statement_timeout ends any statement that runs longer
#: (https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html). SET is
#: no SELECT or DML, so the snapshot still starts after the lock; LOCAL: "the setting
#: is valid for the current transaction" (https://docs.aws.amazon.com/redshift/latest/dg/r_SET.html),
#: so it cannot outlive a load that failed before the RESET. AWS does not say in so
#: many words that a wait for a lock counts (its time "includes planning, queueing in
#: workload management (WLM), and execution time"): checked on PostgreSQL only.
SET_TIMEOUT = sa.text("SET LOCAL statement_timeout TO :ms").bindparams(
    sa.bindparam("ms", type_=sa.BigInteger)
)
RESET_TIMEOUT = sa.text("RESET statement_timeout")
#: The load lock: an exclusive lock on the ledger, held until the transaction ends.
LOCK_LEDGER = sa.text("LOCK load_ledger")

#: An IAM role ARN as Redshift takes it, whole (sqlalchemy-redshift only checks a prefix).
IAM_ROLE_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}"
)


def copy_statement(
    sources: TableSources,
    location: str,
    *,
    iam_role_arn: str,
    region: str,
    json_option: str,
    manifest: bool,
    max_errors: int,
) -> str:
    """The COPY statement for one staging table, as Redshift SQL text.

    Args:
        sources: the table and its objects.
        location: the folder prefix (``s3://bucket/prefix/``) or the manifest's URI.
        iam_role_arn: the role Redshift assumes to read S3.
        region: the bucket's region.
        json_option: ``'auto'`` or the JSONPaths file's URI.
        manifest: whether ``location`` is a manifest.
        max_errors: how many bad records the COPY may skip (0: the first fails it).
            Redshift fails a COPY that meets MAXERROR errors "or greater"
            (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html),
            so skipping N takes MAXERROR N+1 (at most :data:`MAXERROR_LIMIT`).
    """
    if max_errors >= MAXERROR_LIMIT:
        raise _over_maxerror_limit(max_errors)
    if not IAM_ROLE_ARN.fullmatch(iam_role_arn):
        raise ConfigError(
            "not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
            section="IAM_ROLE",
            key="ARN",
        )
    try:
        command = CopyCommand(
            list(sources.table.columns),
            data_location=location,
            iam_role_arns=[iam_role_arn],
            format=Format.json,
            path_file=json_option,
            region=region,
            comp_update=False,
            stat_update=False,
            max_error=max_errors + 1 if max_errors > 0 else None,
            manifest=manifest,
        )
    except ValueError as exc:
        raise ConfigError(
            f"not an IAM role ARN Redshift accepts ({exc})", section="IAM_ROLE", key="ARN"
        ) from None
    return redshift_text(command)


def _over_maxerror_limit(max_errors: int) -> ConfigError:
    return ConfigError(
        f"--max-errors {max_errors}: Redshift's COPY skips at most "
        f"{MAXERROR_LIMIT - 1:,} bad records (MAXERROR's limit is {MAXERROR_LIMIT:,})",
        key="--max-errors",
    )


def manifest_document(sources: TableSources) -> dict[str, Any]:
    """A COPY manifest naming exactly the planned objects (all mandatory)."""
    return {
        "entries": [
            {"url": obj.uri, "mandatory": True, "meta": {"content_length": obj.size}}
            for obj in sources.objects
        ]
    }


def folder(prefix: str) -> str:
    """A prefix read as a folder: ``s3://b/log_data`` → ``s3://b/log_data/``."""
    return prefix if prefix.endswith("/") else prefix + "/"


class RedshiftStager(LockingStager):
    """Stages with COPY from S3; every statement goes out as Redshift text, no parameters."""

    def execute(self, conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
        """Send the statement as :func:`~sparkify.execute.redshift_text` makes it."""
        return execute_redshift(conn, statement)

    def lock(
        self, conn: sa.Connection, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> None:
        """``LOCK load_ledger``, the first statement of the transaction that reads anything.

        A Redshift transaction's snapshot starts at its first SELECT or DML, a
        SELECT on a system table included
        (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html): a
        load that waited for another must read the ledger and the star tables as
        that load left them, so nothing is read before the lock. LOCK has no
        NOWAIT and no timeout (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html):
        the wait is bounded by ``statement_timeout`` around it (``timeout``
        seconds, or :data:`NO_WAIT_SECONDS` without ``wait``), which any user may
        set, on a cluster and on Serverless. No lock table is read: STV_LOCKS is
        visible only to superusers and exists only on provisioned clusters.
        """
        limit = timeout if wait else NO_WAIT_SECONDS
        self.execute(conn, SET_TIMEOUT.bindparams(ms=max(1, round(limit * 1000))))
        notice = threading.Timer(
            WAIT_NOTICE_SECONDS,
            notify,
            [f"waiting up to {limit:.0f}s for the load lock (another load is in progress)"],
        )
        notice.daemon = True
        if wait:
            notice.start()
        start = time.monotonic()
        try:
            self.execute(conn, LOCK_LEDGER)
        except sa.exc.DBAPIError as exc:
            # Redshift's text for a statement timeout is that of any cancel: only a
            # cancel after the whole wait is the timeout.
            if not (_cancelled(exc) and time.monotonic() - start >= 0.9 * limit):
                raise
            waited = f"after waiting {limit:.0f}s" if wait else "(--no-wait)"
            raise LoadInProgressError(
                f"a load is in progress: another session holds load_ledger {waited}; "
                "try again later" + (" or raise --lock-timeout" if wait else " or --wait")
            ) from exc
        finally:
            notice.cancel()
        self.execute(conn, RESET_TIMEOUT)

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
        """Empty both staging tables and COPY the planned objects into them."""
        if not settings.iam_role_arn:
            raise ConfigError(
                "Redshift's COPY needs the IAM role it assumes to read S3",
                file=str(settings.config_file or "dwh.cfg"),
                section="IAM_ROLE",
                key="ARN",
            )
        if not is_s3(plan.jsonpath_uri):
            raise SourceError(plan.jsonpath_uri, "Redshift's COPY reads the JSONPaths file from S3")
        if budget.max_errors >= MAXERROR_LIMIT:
            raise _over_maxerror_limit(budget.max_errors)
        s3 = client or s3_client(settings.region)
        session = int(self.execute(conn, SESSION_ID).scalar_one())
        results = []
        for sources in plan.tables:
            table = sources.table
            self.execute(conn, sa.delete(table))
            if not sources.objects:
                results.append(StageResult(table.name, 0, 0, 0))
                continue
            location, manifest = self.location(sources, settings, run_id, s3)
            json_option = "auto" if table.name == "staging_songs" else plan.jsonpath_uri
            statement = copy_statement(
                sources,
                location,
                iam_role_arn=settings.iam_role_arn,
                region=settings.region,
                json_option=json_option,
                manifest=manifest,
                max_errors=budget.remaining if budget.max_errors > 0 else 0,
            )
            progress.begin_table(table.name, len(sources.objects), sources.size)
            table_id = int(self.execute(conn, TABLE_ID.bindparams(table=table.name)).scalar_one())
            lookup = {"session": session, "table_id": table_id}
            since = self.execute(conn, ERRORS_BEFORE.bindparams(**lookup)).scalar()
            errors = COPY_ERRORS.bindparams(**lookup, since=since)
            try:
                self.copy(conn, statement, sources, plan, s3)
            except sa.exc.DBAPIError as exc:
                failure = copy_failure(conn.engine, errors, table.name, exc)
                if budget.max_errors > 0 and isinstance(failure, BadRecordError):
                    # A COPY under MAXERROR fails only when it met more bad records.
                    raise TooManyBadRecordsError(budget.max_errors, failure) from exc
                raise failure from exc
            if budget.max_errors > 0:
                record_skipped(conn, errors, table.name, budget, self.execute)
            reject_staged_bad_records(conn, sources, budget, self.execute)
            progress.advance(len(sources.objects), sources.size)
            count = sa.select(sa.func.count()).select_from(table)
            rows = int(self.execute(conn, count).scalar_one())
            results.append(StageResult(table.name, len(sources.objects), sources.size, rows))
        budget.record(conn, run_id, self.execute)
        return results

    def copy(
        self,
        conn: sa.Connection,
        statement: str,
        sources: TableSources,
        plan: Plan,
        client: S3Client,
    ) -> None:
        """Run one COPY (the Redshift model tests stand in for this step alone)."""
        send_text(conn, statement)

    def location(
        self, sources: TableSources, settings: Settings, run_id: str, client: S3Client
    ) -> tuple[str, bool]:
        """Where COPY reads: the folder itself, or a manifest when it holds more than the plan."""
        prefix = folder(sources.prefix)
        if not is_s3(prefix):
            raise SourceError(
                sources.prefix, "Redshift's COPY reads sources from S3, not a local path"
            )
        if _count_keys(prefix, client) == len(sources.objects):
            return prefix, False
        if not settings.manifest_prefix:
            raise ConfigError(
                f"{prefix} holds objects that are not sources (or not all are to be loaded); "
                "COPY needs a manifest: set an s3:// prefix to write it to",
                section="S3",
                key="MANIFEST_PREFIX",
            )
        uri = f"{folder(settings.manifest_prefix)}{run_id}/{sources.table.name}.manifest"
        write_manifest(uri, manifest_document(sources), client)
        return uri, True


def _cancelled(exc: sa.exc.DBAPIError) -> bool:
    """Whether a statement was cancelled, as ``statement_timeout`` does (SQLSTATE 57014).

    Redshift's documented text for it is "Query (n) canceled on user's request"
    (https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html);
    PostgreSQL's "canceling statement due to statement timeout".
    """
    text = str(exc.orig).lower()
    return "57014" in text or "cancel" in text or "statement timeout" in text


def write_manifest(uri: str, document: dict[str, Any], client: S3Client) -> None:
    """Put a manifest document at ``uri``."""
    bucket, key = split_s3_uri(uri)
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )
    except Exception as exc:  # botocore errors: one boundary, a clear message
        raise SourceError(uri, f"cannot write the COPY manifest ({type(exc).__name__})") from exc


def _count_keys(prefix: str, client: S3Client) -> int:
    bucket, key = split_s3_uri(prefix)
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        count += len(page.get("Contents", []))
    return count


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


#: The staged rows that are bad records, per staging table (records.py's rules).
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
