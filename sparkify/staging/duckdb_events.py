"""DuckDB stages the log files with its own JSON reader; the Python path stages the rest.

:mod:`sparkify.staging.native` holds the rules (SQL over ``read_json``) and sorts
files into those it stages exactly as the Python path would and the others.
This module applies it to DuckDB's ``staging_events``, a batch of log files at a
time (in listing order, up to :data:`BATCH_BYTES`):

1. every file as a local path: a local file as it is, when it is still the file
   that was listed; an ``s3://`` object copied to ``<database>.sparkify-tmp/``
   (DuckDB's httpfs extension is not used: it would have to be downloaded);
2. which files DuckDB reads, in one of two ways:

   * **optimistic** (a load's first try): the screen of the raw text
     (:func:`~sparkify.staging.native_screen.screen`), then the files it passes
     inserted by one ``INSERT ... SELECT`` over ``read_json`` that checks every
     rule as it goes and fails at the first row with a reason. Clean files are
     read once after the screen. A failure (a bad record, a file DuckDB cannot
     read) aborts the load's transaction (DuckDB has no savepoints):
     :class:`Declined` is raised, and the stager rolls back and stages again,
     carefully (:meth:`~sparkify.staging.duckdb.DuckDBStager.stage`);
   * **careful**: the triage (:func:`~sparkify.staging.native.triage_files`) on a
     second connection to the same database, where a statement that fails on bad
     input leaves the load's transaction alone; then the files it accepts
     inserted in the load's transaction;
3. the other files through the Python path, in listing order, so that errors,
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
    optimistic: bool = False,
) -> int:
    """Stage the log files natively where exact, the rest through ``python``; return the rows.

    Raises:
        Declined: ``optimistic``, and a file the screen passed holds a bad record or
            cannot be read by DuckDB: the load's transaction is aborted.
    """
    main = duck_connection(conn)
    side = main.duplicate()
    try:
        rows = 0
        for batch in runs(objects, BATCH_BYTES):
            rows += _stage_batch(
                conn, main, side, batch, rules, python, progress, client, optimistic
            )
        return rows
    finally:
        side.close()


def _stage_batch(
    conn: sa.Connection,
    main: duckdb.DuckDBPyConnection,
    side: duckdb.DuckDBPyConnection,
    batch: list[SourceObject],
    rules: native.TableRules,
    python: PythonPath,
    progress: Progress,
    client: S3Client | None,
    optimistic: bool,
) -> int:
    with ExitStack() as stack:
        local: dict[str, str] = {}  # URI -> local path, for the objects DuckDB may read
        for obj in batch:
            if is_s3(obj.uri):
                path = stack.enter_context(_copy(conn, obj, client))
                if path is not None:
                    local[obj.uri] = path
            elif unchanged(obj):
                local[obj.uri] = obj.uri
        if optimistic:
            left = native.screened(side, list(local.values()))
            accepted = {path for path in local.values() if path not in left}
        else:
            triage = native.triage_files(side, list(local.values()), rules)
            left, accepted = triage.python, set(triage.native)
        log.debug(
            "%d of %d log files staged natively; the Python path reads %s",
            len(accepted), len(batch), left or "none",
        )  # fmt: skip
        done = [obj for obj in batch if local.get(obj.uri) in accepted]
        rows = 0
        if done:
            paths = [local[obj.uri] for obj in done]
            if optimistic:
                rows = _insert_checked(conn, main, paths, rules)
            else:
                _insert(conn, main, paths, rules, triage.plain)
                rows = triage.rows
            for obj in done:
                if not is_s3(obj.uri) and not unchanged(obj):
                    raise SourceError(obj.uri, "the file changed while it was staged")
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
        return rows + (python(rest, names) if rest else 0)


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
    order = list(conn.execute(sa.select(sa.text("*")).select_from(staging_events).limit(0)).keys())
    rows = native.staged(main, paths, rules, plain)
    try:
        with _any_order(conn):
            rows.select(*(duckdb.ColumnExpression(name) for name in order)).insert_into(
                qualified_name(conn, staging_events)
            )
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
    order = list(conn.execute(sa.select(sa.text("*")).select_from(staging_events).limit(0)).keys())
    rows = native.checked(main, paths, rules)
    reason = duckdb.ColumnExpression(native.REASON)
    loads = duckdb.CaseExpression(reason.isnull(), duckdb.ConstantExpression(True)).otherwise(
        duckdb.FunctionExpression("error", reason)
    )
    selected = rows.filter(loads).select(*(duckdb.ColumnExpression(name) for name in order))
    insert = f"INSERT INTO {qualified_name(conn, staging_events)} {selected.sql_query()}"
    try:
        with _any_order(conn):
            count = main.execute(insert).fetchone()
    except _DECLINES as exc:
        log.debug("the optimistic insert declined: %s", str(exc).splitlines()[0])
        raise Declined(str(exc).splitlines()[0]) from None
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
