"""DuckDB stages the log files with its own JSON reader; the Python path stages the rest.

:mod:`sparkify.staging.native` holds the rules (SQL over ``read_json``) and sorts
files into those it stages exactly as the Python path would and the others.
This module applies it to DuckDB's ``staging_events``, a batch of log files at a
time (in listing order, up to :data:`BATCH_BYTES`):

1. every file as a local path: a local file as it is, when it is still the file
   that was listed; an ``s3://`` object copied to ``<database>.sparkify-tmp/``
   (DuckDB's httpfs extension is not used: it would have to be downloaded);
2. which files DuckDB reads, in one of two ways:

   * **optimistic** (:func:`insert_native`, a load's first try): the screen of
     the raw text (:func:`~sparkify.staging.native.screened`), then the files it
     passes inserted by one ``INSERT ... SELECT`` over ``read_json`` that checks
     every rule as it goes and fails at the first row with a reason. Clean files
     are read once after the screen. A failure (a bad record, a file DuckDB
     cannot read) aborts the load's transaction (DuckDB has no savepoints):
     :class:`Declined` is raised, and the stager rolls back and stages again,
     carefully (:meth:`~sparkify.staging.duckdb.DuckDBStager.stage`). The files
     left are returned, for the caller to stage through the Python path after
     the song files;
   * **careful** (:func:`stage_events`): the triage
     (:func:`~sparkify.staging.native.triage_files`) on a second connection to
     the same database, where a statement that fails on bad input leaves the
     load's transaction alone; then the files it accepts inserted in the load's
     transaction, and the others through the Python path, batch by batch;
3. the Python path stages the other files in listing order, so that errors,
   ``load_errors`` rows and ``--max-errors`` counting are exactly the Python
   path's (the native files hold no bad record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, cast

import duckdb
import sqlalchemy as sa

from sparkify.ddl import set_setting
from sparkify.errors import SourceError
from sparkify.models import staging_events
from sparkify.sources import SourceObject, copy_to_file, is_s3, runs, unchanged
from sparkify.staging import native
from sparkify.staging.base import Progress
from sparkify.staging.duckdb import scratch_file
from sparkify.staging.native_screen import INPUT_ERRORS
from sparkify.staging.sql_names import qualified_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

#: Log bytes per batch: what ``<database>.sparkify-tmp/`` holds at most in copies
#: of ``s3://`` objects (local files are not copied; a batch is one ``INSERT``).
BATCH_BYTES = 1 << 30

#: DuckDB's failures of an optimistic insert that send the load to the careful path:
#: the input's, its memory cap, and a row with a reason (``error()`` raises InvalidInput).
_DECLINES = (*INPUT_ERRORS, duckdb.OutOfMemoryException)


class Declined(Exception):
    """An optimistic insert met a file or a row that only the careful path stages as the
    Python path would. DuckDB has aborted the load's transaction: roll it back."""


#: Stages objects through the Python path: objects, and the names their errors
#: give the local copies among them; returns the rows staged.
PythonPath = Callable[[Sequence[SourceObject], Mapping[str, str]], int]


def duck_connection(conn: sa.Connection) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under a SQLAlchemy one (the same transaction)."""
    # duckdb_engine's wrapper hands every attribute it lacks to the DuckDB connection.
    return cast(duckdb.DuckDBPyConnection, conn.connection.driver_connection)


def stage_events(
    conn: sa.Connection,
    objects: Iterable[SourceObject],
    rules: native.TableRules,
    python: PythonPath,
    *,
    progress: Progress,
    client: S3Client | None,
) -> int:
    """Stage the log files natively where exact, the rest through ``python``; return the
    rows. Careful: each batch's files are triaged on a second connection first."""
    main = duck_connection(conn)
    side = main.duplicate()
    try:
        rows = 0
        for batch in runs(objects, BATCH_BYTES):
            rows += _stage_batch(conn, main, side, batch, rules, python, progress, client)
        return rows
    finally:
        side.close()


def insert_native(
    conn: sa.Connection,
    objects: Iterable[SourceObject],
    rules: native.TableRules,
    *,
    progress: Progress,
    client: S3Client | None,
) -> tuple[int, list[SourceObject]]:
    """Insert the log files the screen passes, optimistically; the rows, and the objects
    left for the Python path (in listing order: the caller stages them).

    Raises:
        Declined: a file the screen passed holds a bad record or cannot be read by
            DuckDB: the load's transaction is aborted.
    """
    main = duck_connection(conn)
    side = main.duplicate()
    try:
        rows = 0
        left: list[SourceObject] = []
        for batch in runs(objects, BATCH_BYTES):
            with ExitStack() as stack:
                local = _local_paths(stack, conn, batch, client)
                screened = native.screened(side, list(local.values()))
                done = [obj for obj in batch if obj.uri in local and local[obj.uri] not in screened]
                _log_batch(len(done), len(batch), screened)
                if done:
                    rows += _insert_checked(conn, main, [local[obj.uri] for obj in done], rules)
                    _check_unchanged(done)
                    progress.advance(len(done), sum(obj.size for obj in done))
                accepted = {obj.uri for obj in done}
                left += [obj for obj in batch if obj.uri not in accepted]
        return rows, left
    finally:
        side.close()


def _local_paths(
    stack: ExitStack, conn: sa.Connection, batch: list[SourceObject], client: S3Client | None
) -> dict[str, str]:
    """URI -> local path, for the objects DuckDB may read: a local file as listed, or a
    copy of an ``s3://`` object (removed when ``stack`` closes)."""
    local: dict[str, str] = {}
    for obj in batch:
        if is_s3(obj.uri):
            path = stack.enter_context(_copy(conn, obj, client))
            if path is not None:
                local[obj.uri] = path
        elif unchanged(obj):
            local[obj.uri] = obj.uri
    return local


def _log_batch(native_files: int, files: int, left: Mapping[str, str]) -> None:
    log.debug(
        "%d of %d log files staged natively; the Python path reads %s",
        native_files, files, dict(left) or "none",
    )  # fmt: skip


def _check_unchanged(done: Iterable[SourceObject]) -> None:
    """A local file DuckDB read must still be the file that was listed."""
    for obj in done:
        if not is_s3(obj.uri) and not unchanged(obj):
            raise SourceError(obj.uri, "the file changed while it was staged")


def _stage_batch(
    conn: sa.Connection,
    main: duckdb.DuckDBPyConnection,
    side: duckdb.DuckDBPyConnection,
    batch: list[SourceObject],
    rules: native.TableRules,
    python: PythonPath,
    progress: Progress,
    client: S3Client | None,
) -> int:
    with ExitStack() as stack:
        local = _local_paths(stack, conn, batch, client)
        triage = native.triage_files(side, list(local.values()), rules)
        _log_batch(len(triage.native), len(batch), triage.python)
        accepted = set(triage.native)
        done = [obj for obj in batch if local.get(obj.uri) in accepted]
        if done:
            _insert(conn, main, [local[obj.uri] for obj in done], rules, triage.plain)
            _check_unchanged(done)
            progress.advance(len(done), sum(obj.size for obj in done))
        rest, names = [], {}
        for obj in batch:
            path = local.get(obj.uri)
            if path in accepted:
                continue
            if path is not None and path != obj.uri:  # a copy: read it, name the object
                names[path] = obj.uri
                obj = SourceObject(path, obj.size, "")
            rest.append(obj)
        return triage.rows + (python(rest, names) if rest else 0)


@contextmanager
def _copy(conn: sa.Connection, obj: SourceObject, client: S3Client | None) -> Iterator[str | None]:
    """A local copy of an ``s3://`` object in the scratch folder; ``None`` if the object
    cannot be read (the Python path then reads it and raises its error in turn)."""
    with scratch_file(conn, "sparkify-events-", ".json") as path:
        try:
            copy_to_file(obj, path, client=client)
        except SourceError:
            yield None
        else:
            yield path


def _insert(
    conn: sa.Connection,
    main: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    rules: native.TableRules,
    plain: frozenset[str],
) -> None:
    """Insert the rows of the native files, in the load's transaction."""
    try:
        _insert_rows(conn, main, native.staged(main, paths, rules, plain))
    except INPUT_ERRORS as exc:  # a file replaced since the triage read it
        reason = "changed while it was staged: " + str(exc).splitlines()[0]
        raise SourceError(paths[0], reason) from None


def _insert_checked(
    conn: sa.Connection,
    main: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    rules: native.TableRules,
) -> int:
    """Insert the rows of ``paths`` in the load's transaction, every rule checked as they go;
    the rows inserted.

    The rows are :func:`~sparkify.staging.native.checked`'s: each with its reason,
    ``NULL`` when it loads as the Python path would load it. A row with a reason
    stops the statement (``error()``), as does a file DuckDB cannot read.

    Raises:
        Declined: the statement failed on the input; the load's transaction is aborted.
    """
    reason = duckdb.ColumnExpression(native.REASON)
    loads = duckdb.CaseExpression(reason.isnull(), duckdb.ConstantExpression(True)).otherwise(
        duckdb.FunctionExpression("error", reason)
    )
    try:
        return _insert_rows(conn, main, native.checked(main, paths, rules).filter(loads))
    except _DECLINES as exc:
        log.debug("the optimistic insert declined: %s", str(exc).splitlines()[0])
        raise Declined(str(exc).splitlines()[0]) from None


def _insert_rows(
    conn: sa.Connection, main: duckdb.DuckDBPyConnection, rows: duckdb.DuckDBPyRelation
) -> int:
    """Insert ``rows`` (a column named as each of ``staging_events``') in the load's
    transaction, in any order; the rows inserted."""
    order = list(conn.execute(sa.select(sa.text("*")).select_from(staging_events).limit(0)).keys())
    selected = rows.select(*(duckdb.ColumnExpression(name) for name in order))
    insert = f"INSERT INTO {qualified_name(conn, staging_events)} {selected.sql_query()}"
    with _any_order(conn):
        count = main.execute(insert).fetchone()
    return int(count[0]) if count else 0


@contextmanager
def _any_order(conn: sa.Connection) -> Iterator[None]:
    """Let DuckDB insert rows in any order (staging has none): about 10% less work.

    A ``preserve_insertion_order`` in the URL is the user's choice and is left alone.
    """
    if "preserve_insertion_order" in conn.engine.url.query:
        yield
        return
    conn.execute(set_setting("preserve_insertion_order", "false"))
    try:
        yield
    finally:
        with suppress(sa.exc.DBAPIError):  # an aborted transaction: the load fails anyway
            conn.exec_driver_sql("RESET preserve_insertion_order")
