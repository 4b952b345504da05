"""Objects parsed by the Python path in a thread, while DuckDB stages something else.

On DuckDB the song files (Python, one core) and the log files (DuckDB's reader,
every core) used to be staged one after the other. :class:`BackgroundParse`
parses one table's objects in a thread of this process into JSON-lines files
in the scratch folder, as :meth:`~sparkify.staging.duckdb.DuckDBStager.sink`
writes them, while the main thread has DuckDB insert the log files (DuckDB
lets go of the GIL while it runs a statement). The thread touches no database
connection (a DuckDB connection is used by one thread at a time): the main
thread inserts the files once the thread is done. Nothing is decided in the
thread: its bad records and its failure are handed to the main thread, which
counts them against ``--max-errors`` in the order the sequential staging would
(:meth:`BackgroundParse.replay`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import orjson

from sparkify.errors import BadRecordError
from sparkify.sources import SourceObject, stream_sources
from sparkify.staging.base import ErrorBudget, Progress
from sparkify.staging.rows import RowBuilder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class BackgroundParse:
    """``objects`` parsed by ``builder`` in a thread: rows to files, bad records kept.

    Args:
        objects: what to parse, in order.
        builder: the table's row builder.
        new_file: makes a new, empty file for rows and returns its path (called in
            the thread; the caller removes the files it returned, see :meth:`files`).
        rows_per_file: rows written to a file before the next one starts.
        max_errors: how many bad records may be skipped; the thread stops parsing
            after one more (the load fails at :meth:`replay` then).
        progress: told of each object parsed (the only progress call meanwhile).
        client: the S3 client for ``s3://`` objects.
    """

    def __init__(
        self,
        objects: Iterable[SourceObject],
        builder: RowBuilder,
        *,
        new_file: Callable[[], str],
        rows_per_file: int,
        max_errors: int,
        progress: Progress,
        client: S3Client | None,
    ) -> None:
        self._objects = objects
        self._builder = builder
        self._new_file = new_file
        self._rows_per_file = rows_per_file
        self._max_errors = max(max_errors, 0)
        self._progress = progress
        self._client = client
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        #: The files written, in order, each with its row count.
        self.files: list[tuple[str, int]] = []
        #: The bad records met, in order (at most ``max_errors`` + 1).
        self.errors: list[BadRecordError] = []
        self._thread = threading.Thread(target=self._run, name="sparkify-parse", daemon=True)

    def start(self) -> BackgroundParse:
        """Start parsing; returns ``self``."""
        self._thread.start()
        return self

    @property
    def rows(self) -> int:
        """How many rows were written."""
        return sum(count for _, count in self.files)

    def join(self) -> None:
        """Wait for the thread; raise what stopped it (a SourceError naming an object)."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def cancel(self, *, wait: bool = True) -> None:
        """Stop the thread at its next object; wait for it unless ``wait`` is false (on
        Ctrl-C: the load stops now, and the thread, a daemon, with the process)."""
        self._stop.set()
        if wait:
            self._thread.join()

    def replay(self, table: str, budget: ErrorBudget) -> None:
        """Count the bad records against ``budget`` in order (raising as it would), then
        raise what stopped the thread, as the sequential staging would have met them."""
        self._thread.join()
        for error in self.errors:
            budget.add(table, error)
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        try:
            self._parse()
        except BaseException as exc:  # handed to the main thread (join)
            self._failure = exc

    def _parse(self) -> None:
        out = None
        count = 0
        dumps = orjson.dumps
        try:
            for obj, blocks in stream_sources(self._objects, client=self._client):
                if self._stop.is_set():
                    return
                for row in self._builder.rows(blocks, obj.uri):
                    if isinstance(row, BadRecordError):
                        self.errors.append(row)
                        if len(self.errors) > self._max_errors:
                            return  # the load stops at this record: parse no further
                        continue
                    if out is None:
                        path = self._new_file()
                        out = open(path, "wb", buffering=1 << 20)  # noqa: SIM115
                        self.files.append((path, 0))
                    out.write(dumps(row))
                    out.write(b"\n")
                    count += 1
                    if count == self._rows_per_file:
                        out.close()
                        out = None
                        self.files[-1] = (self.files[-1][0], count)
                        count = 0
                self._progress.advance(1, obj.size)
        finally:
            if out is not None:
                out.close()
                self.files[-1] = (self.files[-1][0], count)
