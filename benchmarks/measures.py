"""What the harness measured, summarized: sizes, runs, medians per row.

Pure data and functions (no database, no processes): :mod:`benchmarks.targets`
judges these rows, :mod:`benchmarks.report` prints them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: Table columns of the load steps, each the sum of these ``LoadReport.seconds`` keys.
STEP_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("staging", ("staging",)),
    ("songs", ("songs",)),
    ("artists", ("artists (update)", "artists")),
    ("users", ("users (update)", "users")),
    ("songplays", ("songplays", "songplays (re-match)")),
    ("time", ("time",)),
    ("commit", ("commit",)),
)
#: ``LoadReport.seconds`` keys counted in the ``other`` column. Any key neither
#: here nor in STEP_COLUMNS (a step added to the loader later) gets a column of its own.
OTHER_KEYS = ("plan", "ledger", "clear star tables")
#: What the ``other`` column holds: the rest of the run's wall time.
OTHER_STEPS = "plan, ledger, clearing the star tables, connecting and locking"
#: The load modes, as the table names them. ``first`` is a plain (incremental) load
#: on a freshly built, empty warehouse: a user's first ``sparkify etl``.
MODES = ("full", "first", "incremental")


def threads_mode(threads: int) -> str:
    """The mode of a DuckDB full load run with ``threads`` threads (the thread-scaling rows)."""
    return f"full threads={threads}"


@dataclass(frozen=True)
class Size:
    """One benchmark size of generated data.

    Attributes:
        name: ``tiny``, ``small``, ``medium`` or ``large``.
        events: event lines over all log files.
        songs: song files.
        users: distinct listeners.
        days: daily log files (the incremental benchmark loads the last one).
    """

    name: str
    events: int
    songs: int
    users: int
    days: int = 30

    @property
    def label(self) -> str:
        """``1M events / 50k songs``."""
        return f"{_short(self.events)} events / {_short(self.songs)} songs"


SIZES: dict[str, Size] = {
    size.name: size
    for size in (
        Size("tiny", 2_000, 200, 50),
        Size("small", 100_000, 10_000, 1_000),
        Size("medium", 1_000_000, 50_000, 5_000),
        Size("large", 5_000_000, 100_000, 10_000),
    )
}


@dataclass(frozen=True)
class Run:
    """One measured sparkify load (one worker process).

    Attributes:
        size: the size's name.
        backend: ``duckdb`` or ``postgresql``.
        mode: one of :data:`MODES`, or :func:`threads_mode` for a DuckDB full load
            with a set number of threads.
        repeat: which repetition (from 1).
        result: what the worker printed (``wall``, ``seconds``, ``staged``, ``peak_rss_kb``...).
    """

    size: str
    backend: str
    mode: str
    repeat: int
    result: dict[str, Any]

    @property
    def wall(self) -> float:
        """Wall seconds of the ``run`` call."""
        return float(self.result["wall"])

    @property
    def events(self) -> int:
        """Events staged (for an incremental load: the new day's)."""
        return int(self.result["staged"].get("staging_events", 0))

    @property
    def rss_mb(self) -> float:
        """Peak RSS of the worker, in MB (10^6 bytes)."""
        return int(self.result["peak_rss_kb"]) * 1024 / 1e6

    @property
    def threads(self) -> int | None:
        """DuckDB's ``threads`` setting during the load, as the worker read it (else ``None``)."""
        value = self.result.get("duckdb_threads")
        return None if value is None else int(value)

    def columns(self) -> dict[str, float]:
        """Seconds per table column, ``other`` the rest of the wall time."""
        seconds: dict[str, float] = self.result["seconds"]
        out = {name: sum(seconds.get(key, 0.0) for key in keys) for name, keys in STEP_COLUMNS}
        grouped = {key for _, keys in STEP_COLUMNS for key in keys}
        for key, value in seconds.items():
            if key not in grouped and key not in OTHER_KEYS:
                out[key] = value
        out["other"] = max(self.wall - sum(out.values()), 0.0)
        return out


@dataclass(frozen=True)
class Spread:
    """Median, min and max of some measurements."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        data = list(values)
        return cls(statistics.median(data), min(data), max(data))


@dataclass(frozen=True)
class Row:
    """The runs of one (size, backend, mode), summarized.

    ``threads`` is DuckDB's ``threads`` setting during the first run (``None`` on
    PostgreSQL, or from a worker that did not report it).
    """

    size: str
    backend: str
    mode: str
    runs: int
    events: int
    steps: dict[str, float]
    total: Spread
    rss_mb: Spread
    threads: int | None = None

    @property
    def events_per_second(self) -> float:
        """Events loaded per wall second (median run time)."""
        return self.events / self.total.median if self.total.median > 0 else 0.0


@dataclass(frozen=True)
class RowwiseRow:
    """The row-by-row baseline runs, summarized."""

    size: str
    runs: int
    events_total: int
    events_timed: int
    song_files: int
    song_seconds: float
    event_seconds: float
    estimated: Spread
    rss_mb: Spread

    @property
    def capped(self) -> bool:
        """Whether the log phase was timed on the first events only and extrapolated."""
        return self.events_timed < self.events_total

    @property
    def events_per_second(self) -> float:
        """Events per (estimated) wall second of the whole load."""
        return self.events_total / self.estimated.median if self.estimated.median > 0 else 0.0


def summarize(runs: Sequence[Run]) -> list[Row]:
    """Group runs by (size, backend, mode), in first-seen order; take medians."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.size, run.backend, run.mode), []).append(run)
    rows = []
    for (size, backend, mode), group in groups.items():
        columns = [run.columns() for run in group]
        names = dict.fromkeys(name for c in columns for name in c)
        steps = {name: statistics.median(c.get(name, 0.0) for c in columns) for name in names}
        rows.append(
            Row(
                size=size,
                backend=backend,
                mode=mode,
                runs=len(group),
                events=group[0].events,
                steps=steps,
                total=Spread.of(run.wall for run in group),
                rss_mb=Spread.of(run.rss_mb for run in group),
                threads=group[0].threads,
            )
        )
    return rows


def summarize_rowwise(size: str, results: Sequence[dict[str, Any]]) -> RowwiseRow | None:
    """Summarize the row-by-row worker results (``None`` when there are none)."""
    if not results:
        return None
    return RowwiseRow(
        size=size,
        runs=len(results),
        events_total=int(results[0]["events_total"]),
        events_timed=int(results[0]["events"]),
        song_files=int(results[0]["song_files"]),
        song_seconds=statistics.median(float(r["song_seconds"]) for r in results),
        event_seconds=statistics.median(float(r["event_seconds"]) for r in results),
        estimated=Spread.of(float(r["estimated_seconds"]) for r in results),
        rss_mb=Spread.of(int(r["peak_rss_kb"]) * 1024 / 1e6 for r in results),
    )


@dataclass(frozen=True)
class StartupRow:
    """The installed ``sparkify`` console script, started ``runs`` times with ``args``."""

    args: str
    runs: int
    seconds: Spread


def summarize_startup(timings: dict[str, list[float]]) -> list[StartupRow]:
    """One row per argument list (``"--version"``), from its wall seconds per start."""
    return [
        StartupRow(args, len(seconds), Spread.of(seconds))
        for args, seconds in timings.items()
        if seconds
    ]


def find(rows: Iterable[Row], size: str, backend: str, mode: str) -> Row | None:
    """The row of (size, backend, mode), or ``None`` when it was not measured."""
    for row in rows:
        if (row.size, row.backend, row.mode) == (size, backend, mode):
            return row
    return None


def _short(value: int) -> str:
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value >= 1_000 and value % 1_000 == 0:
        return f"{value // 1_000}k"
    return f"{value:,}"
