"""Redshift: ``COPY ... FORMAT JSON`` straight from S3, in the load's transaction.

* The COPY statement and its manifest are built in :mod:`sparkify.staging.redshift_copy`;
  what a COPY rejected is read in :mod:`sparkify.staging.redshift_errors`.
* The staging tables are emptied with DELETE, not TRUNCATE: TRUNCATE commits
  the transaction on Redshift, which would break "one run, one transaction".
* A prefix is read as a folder (``prefix/``). When it holds objects that are not
  sources (``.ipynb_checkpoints/``, non-JSON files) or only some objects are to
  be loaded, COPY reads a manifest listing exactly the planned objects, written
  under ``[S3] MANIFEST_PREFIX``.
* The load lock is ``LOCK load_ledger``, the transaction's first statement that
  reads or writes, bounded by ``statement_timeout``.

Every statement is sent as Redshift text with its values inlined and no
parameters (:mod:`sparkify.execute`). See docs/redshift.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable

from sparkify.config import Settings
from sparkify.errors import (
    BadRecordError,
    ConfigError,
    LoadInProgressError,
    SourceError,
    TooManyBadRecordsError,
)
from sparkify.execute import execute_redshift, send_text
from sparkify.sources import Plan, TableSources, is_s3, is_unsigned, s3_client, split_s3_uri
from sparkify.staging.base import ErrorBudget, LockingStager, Progress, StageResult
from sparkify.staging.redshift_copy import (
    MAXERROR_LIMIT,
    copy_statement,
    folder,
    manifest_document,
    over_maxerror_limit,
    write_manifest,
)
from sparkify.staging.redshift_errors import (
    COPY_ERRORS,
    ERRORS_BEFORE,
    SESSION_ID,
    TABLE_ID,
    copy_failure,
    record_skipped,
    reject_staged_bad_records,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: How long ``--no-wait`` waits for the load lock on Redshift, in seconds: LOCK has no
#: NOWAIT, so it waits this long at most (a free lock is taken in milliseconds).
NO_WAIT_SECONDS = 1.0
#: After this many seconds waiting for the load lock, the user is told why.
WAIT_NOTICE_SECONDS = 1.0

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
            raise over_maxerror_limit(budget.max_errors)
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
        # Sources may be read unsigned (public data), but a manifest is written:
        # that request is signed with the credentials found, whatever the reads do.
        writer = s3_client(settings.region) if is_unsigned(client) else client
        write_manifest(uri, manifest_document(sources), writer)
        return uri, True


def _cancelled(exc: sa.exc.DBAPIError) -> bool:
    """Whether a statement was cancelled, as ``statement_timeout`` does (SQLSTATE 57014).

    Redshift's documented text for it is "Query (n) canceled on user's request"
    (https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html);
    PostgreSQL's "canceling statement due to statement timeout".
    """
    text = str(exc.orig).lower()
    return "57014" in text or "cancel" in text or "statement timeout" in text


def _count_keys(prefix: str, client: S3Client) -> int:
    bucket, key = split_s3_uri(prefix)
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        count += len(page.get("Contents", []))
    return count
