"""Redshift: ``COPY ... FORMAT JSON`` straight from S3, in the load's transaction.

* events: ``FORMAT AS JSON AS '<JSONPaths file>'``; songs: ``FORMAT AS JSON AS 'auto'``
  (log keys are camelCase, song keys match the columns). ``ts`` stays epoch ms
  (converted in SQL), so no TIMEFORMAT. COMPUPDATE and STATUPDATE are off: the
  encodings are fixed by the DDL and staging is refilled every run.
* The staging tables are emptied with DELETE, not TRUNCATE: TRUNCATE commits
  the transaction on Redshift, which would break "one run, one transaction".
* A prefix is read as a folder (``prefix/``). When it holds objects that are not
  sources (``.ipynb_checkpoints/``, non-JSON files) or only some objects are to
  be loaded, COPY reads a manifest listing exactly the planned objects, written
  under ``[S3] MANIFEST_PREFIX``.
* A failed COPY is explained from ``sys_load_error_detail`` (``stl_load_errors``
  on clusters that lack it): the error names the S3 key, line, column and reason.

The statements come from sqlalchemy-redshift's ``CopyCommand``, compiled with
literal binds (redshift-connector would send bind parameters as ``$1``, which
COPY rejects: sqlalchemy-redshift issue 240); quotes in values are escaped.
See https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy_redshift.commands import CopyCommand, Format
from sqlalchemy_redshift.dialect import RedshiftDialect_redshift_connector

from sparkify.config import Settings
from sparkify.counts import first_line
from sparkify.errors import (
    BadRecordError,
    ConfigError,
    DatabaseError,
    LoadInProgressError,
    SourceError,
    TooManyBadRecordsError,
)
from sparkify.records import raw_text
from sparkify.sources import is_s3, s3_client, split_s3_uri
from sparkify.staging.base import (
    ErrorBudget,
    LockingStager,
    Plan,
    Progress,
    StageResult,
    TableSources,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_DIALECT = RedshiftDialect_redshift_connector()

#: The latest load error of a session for one table (the COPY that just failed). The
#: table filter keeps an error skipped earlier in the session (MAXERROR) by another
#: table's COPY from explaining this failure.
#: Plain text: these are catalog views, never subject to the schema translation.
SYS_LOAD_ERROR = sa.text(
    "SELECT TRIM(file_name) AS source, line_number AS line, TRIM(column_name) AS column_name, "
    "TRIM(error_message) AS reason, NULL AS raw_line FROM sys_load_error_detail "
    "WHERE session_id = :session AND table_id = CAST(CAST(:table AS REGCLASS) AS OID) "
    "ORDER BY start_time DESC LIMIT 1"
)
STL_LOAD_ERROR = sa.text(
    "SELECT TRIM(filename) AS source, line_number AS line, TRIM(colname) AS column_name, "
    "TRIM(err_reason) AS reason, TRIM(raw_line) AS raw_line FROM stl_load_errors "
    "WHERE session = :session AND tbl = CAST(CAST(:table AS REGCLASS) AS OID) "
    "ORDER BY starttime DESC LIMIT 1"
)
#: Every error a successful COPY skipped under MAXERROR.
LAST_COPY_ERRORS = sa.text(
    "SELECT TRIM(file_name) AS source, line_number AS line, TRIM(column_name) AS column_name, "
    "TRIM(error_message) AS reason FROM sys_load_error_detail "
    "WHERE query_id = pg_last_copy_id() ORDER BY file_name, line_number"
)


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
        max_errors: MAXERROR (0: the first error fails the COPY).
    """
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
            max_error=max_errors if max_errors > 0 else None,
            manifest=manifest,
        )
    except ValueError as exc:
        raise ConfigError(
            f"not an IAM role ARN Redshift accepts ({exc})", section="IAM_ROLE", key="ARN"
        ) from None
    return str(command.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


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


#: Another session's lock on the ledger (a load in progress), from the lock table.
LEDGER_LOCK_HOLDER = sa.text(
    "SELECT lock_owner_pid FROM stv_locks WHERE table_id = "
    "(SELECT oid FROM pg_class WHERE relname = 'load_ledger' "
    "AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())) "
    "AND lock_owner_pid <> pg_backend_pid() LIMIT 1"
)
#: The load lock: an exclusive lock on the ledger, held until the transaction ends.
LOCK_LEDGER = sa.text("LOCK load_ledger")


class RedshiftStager(LockingStager):
    """Stages with COPY from S3."""

    def lock(
        self, conn: sa.Connection, *, wait: bool, timeout: float, notify: Callable[[str], None]
    ) -> None:
        """``LOCK load_ledger`` inside the transaction (Redshift has no advisory locks).

        Redshift's LOCK has no NOWAIT: without ``wait``, ``stv_locks`` is asked
        first whether another session holds the ledger. See
        https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
        """
        holder = conn.execute(LEDGER_LOCK_HOLDER).scalar()
        if holder is not None:
            if not wait:
                raise LoadInProgressError(
                    f"a load is in progress (Redshift session {holder} "
                    "holds load_ledger); try again later or --wait"
                )
            notify(f"another load (session {holder}) is in progress; waiting for it")
        conn.execute(LOCK_LEDGER)

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
        s3 = client or s3_client(settings.region)
        results = []
        for sources in plan.tables:
            table = sources.table
            conn.execute(sa.delete(table))
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
                max_errors=budget.max_errors,
            )
            progress.begin_table(table.name, len(sources.objects), sources.size)
            session = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            try:
                conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError as exc:
                failure = copy_failure(conn.engine, session, table.name, exc)
                if budget.max_errors > 0 and isinstance(failure, BadRecordError):
                    # A COPY with MAXERROR fails only when it met more bad records.
                    raise TooManyBadRecordsError(budget.max_errors, failure) from exc
                raise failure from exc
            if budget.max_errors > 0:
                record_skipped(conn, table.name, budget)
            progress.advance(len(sources.objects), sources.size)
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            results.append(StageResult(table.name, len(sources.objects), sources.size, rows))
        budget.record(conn, run_id)
        return results

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


def copy_failure(
    engine: sa.Engine, session: int, table: str, exc: sa.exc.DBAPIError
) -> BadRecordError | DatabaseError:
    """Explain a failed COPY from the load-error views (read on a fresh connection).

    The failed COPY aborted the load's transaction, so the views are read on
    another connection, for the failed COPY's session.
    """
    driver_reason = first_line(exc)
    row = None
    with engine.connect() as other:
        for query in (SYS_LOAD_ERROR, STL_LOAD_ERROR):
            try:
                row = other.execute(query, {"session": session, "table": table}).mappings().first()
            except sa.exc.DBAPIError:
                other.rollback()
                continue
            if row is not None:
                break
    if row is None:
        return DatabaseError(f"COPY into {table}", driver_reason)
    return BadRecordError(
        source=str(row["source"]),
        line=int(row["line"]),
        reason=str(row["reason"]),
        raw=raw_text(str(row["raw_line"] or "")),
        column=row["column_name"] or None,
    )


def record_skipped(conn: sa.Connection, table: str, budget: ErrorBudget) -> None:
    """Account for the records a successful COPY skipped under MAXERROR."""
    for row in conn.execute(LAST_COPY_ERRORS).mappings():
        budget.add(
            table,
            BadRecordError(
                source=str(row["source"]),
                line=int(row["line"]),
                reason=str(row["reason"]),
                column=row["column_name"] or None,
            ),
        )
