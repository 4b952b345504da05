"""The error tree, and the one boundary where driver errors join it.

Every failure a user can act on is a ``SparkifyError``. Each class carries its
data as attributes and builds its message from them, so callers can react to
the parts (the CLI prints ``str(exc)`` on one line). :func:`translated` turns
the database driver's errors into them wherever a statement runs.

    SparkifyError
        ConfigError, SourceError, BadRecordError, TooManyBadRecordsError,
        DatabaseError, LoadInProgressError, FolderNotEmptyError,
        NoWarehouseError (OutdatedWarehouseError), UnknownRunError,
        OutputError                            (the library)
        UnknownQuestionError, MissingExtraError (analytics)
        AwsError, InfraStateError, InfraTimeoutError (infra)
    KeyboardInterrupt
        LoadInterrupted                        (Ctrl-C during a load)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

# SQLAlchemy is imported where a driver's error is looked at, not here: the CLI's
# group imports this module to catch SparkifyError, and ``sparkify --help`` must
# not pay for SQLAlchemy (issue 15: start-up).


class SparkifyError(Exception):
    """Base of every error sparkify raises on purpose."""


class ConfigError(SparkifyError):
    """A setting is missing or malformed."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.section = section
        self.key = key
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"section [{section}]" if section else "",
                f"key {key}" if key else "",
            )
            if part
        )
        super().__init__(f"configuration error ({where}): {reason}" if where else reason)


class SourceError(SparkifyError):
    """A source prefix or object cannot be listed or read."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class BadRecordError(SparkifyError):
    """A source record cannot be loaded (malformed JSON, wrong type, too long...)."""

    def __init__(
        self, source: str, line: int, reason: str, raw: str = "", column: str | None = None
    ) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        self.raw = raw
        self.column = column
        # Line 0: not known (Redshift's staged rows do not say which line they came from).
        where = f", line {line}" if line else ""
        col = f", column {column}" if column else ""
        super().__init__(f"bad record in {source}{where}{col}: {reason}")


class TooManyBadRecordsError(SparkifyError):
    """More bad records than ``--max-errors`` allows."""

    def __init__(self, max_errors: int, last: BadRecordError) -> None:
        self.max_errors = max_errors
        self.last = last
        super().__init__(
            f"more than {max_errors} bad record(s); the last one: {last}; nothing was committed"
        )


class DatabaseError(SparkifyError):
    """The warehouse database refused a statement or could not be reached."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"{action} failed: {reason}")


class LoadInProgressError(SparkifyError):
    """Another load holds the warehouse's load lock."""


class FolderNotEmptyError(SparkifyError):
    """``generate`` was asked to write into a folder that already holds files."""

    def __init__(self, folder: str, remedy: str = "pass overwrite=True") -> None:
        self.folder = folder
        self.remedy = remedy
        super().__init__(
            f"{folder} is not empty; generate into an empty folder (or {remedy} to replace "
            "it), so that old files do not mix with the new ones"
        )


class NoWarehouseError(SparkifyError):
    """The warehouse has not been built: no DuckDB file, or its tables are missing."""

    def __init__(self, where: str, missing: tuple[str, ...] = ()) -> None:
        self.where = where
        self.missing = missing
        detail = f" (missing: {', '.join(missing)})" if missing else ""
        super().__init__(f"no warehouse at {where}{detail}: run `sparkify create-tables`")


class OutdatedWarehouseError(NoWarehouseError):
    """The warehouse lacks tables a command needs: made before the migration that adds them."""

    def __init__(self, where: str, missing: tuple[str, ...]) -> None:
        self.where = where
        self.missing = missing
        SparkifyError.__init__(
            self,
            f"the warehouse at {where} has no {', '.join(missing)} table: run the migrations "
            "(`alembic upgrade head` keeps its data; `sparkify create-tables` rebuilds every "
            "table empty)",
        )


class UnknownRunError(SparkifyError):
    """No load run has the given run_id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no load run {run_id!r} in load_runs; `sparkify runs` lists them")


class LoadInterrupted(KeyboardInterrupt):
    """A load stopped by Ctrl-C (SIGINT), saying whether it had committed.

    A ``KeyboardInterrupt``, so whatever catches interrupts still does; the CLI
    reads ``committed`` to tell the user exactly what the warehouse holds.
    """

    def __init__(self, run_id: str, *, committed: bool) -> None:
        self.run_id = run_id
        self.committed = committed
        super().__init__(
            f"interrupted after the load committed (run_id {run_id})"
            if committed
            else "interrupted: nothing was committed"
        )


class OutputError(SparkifyError):
    """A file or folder a command writes cannot be written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


class UnknownQuestionError(SparkifyError):
    """No analytics question has the given name."""

    def __init__(self, name: str, choices: tuple[str, ...]) -> None:
        self.name = name
        self.choices = choices
        super().__init__(f"unknown question {name!r}; choose from: {', '.join(choices)}")


class MissingExtraError(SparkifyError):
    """An optional feature needs a package that is not installed."""

    def __init__(self, feature: str, package: str, hint: str) -> None:
        self.feature = feature
        self.package = package
        self.hint = hint
        super().__init__(f"{feature} need {package}, which is not installed: {hint}")


class AwsError(SparkifyError):
    """An AWS API call failed (the botocore error, translated, secrets removed)."""

    def __init__(self, action: str, code: str, reason: str) -> None:
        self.action = action
        self.code = code
        self.reason = reason
        super().__init__(f"could not {action} (AWS said {code}): {reason}")


class InfraStateError(SparkifyError):
    """A resource is in a state the command cannot work with."""

    def __init__(self, resource: str, state: str, hint: str) -> None:
        self.resource = resource
        self.state = state
        self.hint = hint
        super().__init__(f"{resource} is {state}: {hint}")


class InfraTimeoutError(SparkifyError):
    """A resource did not reach the wanted state before the timeout."""

    def __init__(self, resource: str, wanted: str, last_state: str, waited: float) -> None:
        self.resource = resource
        self.wanted = wanted
        self.last_state = last_state
        self.waited = waited
        super().__init__(
            f"{resource} still {last_state} after {waited:.0f} s "
            f"(waiting for {wanted}); run the command again to keep waiting"
        )


def first_line(exc: sa.exc.DBAPIError) -> str:
    """The driver's own message of a database error, first line only (no SQL, no values)."""
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def is_interrupt(exc: BaseException) -> bool:
    """Whether an error is DuckDB's answer to Ctrl-C during a query.

    DuckDB checks for SIGINT while a query runs and stops it with
    ``RuntimeError("Query interrupted")`` (2.0; outside the DB-API's errors,
    so SQLAlchemy passes it on unwrapped), or its ``InterruptException``.
    """
    import sqlalchemy as sa

    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return type(cause).__name__ == "InterruptException" or (
        isinstance(cause, RuntimeError) and str(cause) == "Query interrupted"
    )


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether DuckDB refused to open its file because another process holds it."""
    return "Could not set lock on file" in str(exc)


@contextmanager
def translated(action: str, engine: sa.Engine | None = None) -> Iterator[None]:
    """Turn driver errors inside the block into one-line :class:`SparkifyError` s.

    The one boundary where sparkify meets the driver: the message is the
    driver's first line (never the SQL or its values). Ours pass through as
    they are; DuckDB's interrupted query becomes ``KeyboardInterrupt``, and
    its "another process holds the file" :class:`LoadInProgressError`, as a
    second load says it.

    Args:
        action: what was being done, for the message ("counting table rows").
        engine: at a command's boundary, the engine in use: the URL's password
            is masked should the driver quote it, and the driver's error is
            not chained (it may hold the password). Without it, the
            ``DatabaseError`` is raised from the driver's error, so that a
            caller can look through it (e.g. for PostgreSQL's lock_timeout).
    """
    import sqlalchemy as sa

    try:
        yield
    except SparkifyError:
        raise
    except RuntimeError as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt from exc
        raise
    except sa.exc.DBAPIError as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt from exc
        if is_lock_conflict(exc):
            where = engine.url.database if engine is not None else "the DuckDB file"
            raise LoadInProgressError(
                f"a load is in progress: another process has {where} open for writing; "
                "try again when it ends"
            ) from None
        if engine is None:
            raise DatabaseError(action, first_line(exc)) from exc
        reason = first_line(exc)
        password = engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseError(action, reason) from None
