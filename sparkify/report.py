"""The warehouse report: one self-contained HTML file to open in a browser.

:func:`collect` reads what the report shows from a connection: the analytics
answers, the data-quality results, the table counts and the recent load runs.
:func:`render` turns them into one HTML page that needs nothing else at view
time: the charts are inline SVG drawn by matplotlib (:mod:`sparkify.charts`, the
``charts`` extra), the styles one ``<style>`` block, no script, font, image or
stylesheet is fetched. Every text that comes from the warehouse (song titles,
names, locations, error messages) is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkify import analytics, history, quality, report_page
from sparkify.analytics import Answer
from sparkify.counts import table_counts
from sparkify.db import describe
from sparkify.errors import OutputError
from sparkify.execute import executor_for
from sparkify.quality import CheckResult

__all__ = [
    "ReportData",
    "check_output",
    "collect",
    "recent_runs",
    "render",
    "write",
]


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, read in one go.

    Attributes:
        source: Where the warehouse is (a password-free URL).
        generated_at: When the data was read (UTC).
        answers: Every analytics answer, by question name.
        checks: The data-quality results, in :func:`quality.checks` order.
        counts: Row count per table.
        runs: The recent load runs, newest first (``RunRecord.as_dict()`` each).
        version: The sparkify version that made the report.
    """

    source: str
    generated_at: dt.datetime
    answers: dict[str, Answer]
    checks: list[CheckResult]
    counts: dict[str, int]
    runs: list[dict[str, Any]] = field(default_factory=list)
    version: str = field(default_factory=lambda: version("sparkify"))


def collect(conn: sa.Connection, *, limit: int = 10, runs: int = 10) -> ReportData:
    """Read everything the report shows.

    Args:
        conn: A connection to a built warehouse.
        limit: Rows per ranking question (songs, artists, users, locations).
        runs: How many recent load runs to show.

    Raises:
        DatabaseError: The database refused a query (e.g. a table is missing).
    """
    generated_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    answers = {answer.name: answer for answer in analytics.run_all(conn, limit)}
    return ReportData(
        source=describe(conn.engine),
        generated_at=generated_at,
        answers=answers,
        checks=quality.run_checks(conn),
        counts=table_counts(conn),
        runs=recent_runs(conn, runs),
    )


def recent_runs(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` load runs as dicts, or ``[]`` where the warehouse keeps none.

    A warehouse not migrated to the load history (table ``load_runs``) gives
    ``[]``, and the report says "no load history in this warehouse".
    """
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    if not sa.inspect(conn).has_table("load_runs", schema=translate.get(None)):
        return []
    return [record.as_dict() for record in history.recent(conn, limit, executor_for(conn))]


def check_output(path: Path) -> None:
    """Fail early, before the warehouse is read, when ``path`` cannot be written.

    Raises:
        OutputError: ``path`` is a folder, or its folder is missing or not writable.
    """
    if path.is_dir():
        raise OutputError(str(path), "it is a folder")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(str(path), f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(str(path), f"{folder} is not writable")


def write(path: Path, page: str) -> None:
    """Write the page to ``path`` whole or not at all (a temporary file, then a rename).

    Raises:
        OutputError: the file cannot be written (nothing is left behind).
    """
    folder = path.absolute().parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or type(exc).__name__) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(str(path), exc.strerror or type(exc).__name__) from None


def render(data: ReportData) -> str:
    """The report as one self-contained HTML page (see :mod:`sparkify.report_page`).

    Raises:
        MissingExtraError: matplotlib (the ``charts`` extra) is not installed.
    """
    return report_page.page(data)
