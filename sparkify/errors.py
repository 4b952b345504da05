"""The error tree: every failure a user can act on is a ``SparkifyError``.

Each class carries its data as attributes and builds its message from them, so
callers can react to the parts (the CLI prints ``str(exc)`` on one line).
"""

from __future__ import annotations


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
