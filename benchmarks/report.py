"""Summaries of the measured runs: medians, the issue's targets, markdown tables.

Pure functions over plain data (no database, no processes), so the harness and
its test share them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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

#: The issue's targets (full loads).
MEDIUM_SECONDS = {"postgresql": 23.0, "duckdb": 17.0}
MEDIUM_RSS_MB = {"postgresql": 200.0, "duckdb": 1000.0}
LARGE_TIME_FACTOR = 5.5
#: "No more memory at 5M than at 1M", with this much allowance for noise.
LARGE_RSS_TOLERANCE = 0.05
ROWWISE_FACTOR = 50.0
#: The quality gate (the ``audit`` step) at most this share of the load without it.
GATE_SHARE = 0.10

PASS, MISS, NOT_MEASURED = "PASS", "MISS", "not measured"


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
        mode: ``full`` or ``incremental``.
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
    def gate(self) -> float:
        """Seconds of the quality gate (``audit``; 0 when the load ran without it)."""
        return float(self.result["seconds"].get("audit", 0.0))

    @property
    def load(self) -> float:
        """Wall seconds without the quality gate: what the speed targets are about."""
        return self.wall - self.gate

    @property
    def events(self) -> int:
        """Events staged (for an incremental load: the new day's)."""
        return int(self.result["staged"].get("staging_events", 0))

    @property
    def rss_mb(self) -> float:
        """Peak RSS of the worker, in MB (10^6 bytes)."""
        return int(self.result["peak_rss_kb"]) * 1024 / 1e6

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
    """The runs of one (size, backend, mode), summarized."""

    size: str
    backend: str
    mode: str
    runs: int
    events: int
    steps: dict[str, float]
    total: Spread
    rss_mb: Spread
    load: Spread
    gate_share: Spread

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


@dataclass(frozen=True)
class TargetResult:
    """One of the issue's targets and how the measurements fare."""

    target: str
    measured: str
    status: str


@dataclass
class Summary:
    """Everything the tables show."""

    rows: list[Row]
    rowwise: RowwiseRow | None
    ratio: float | None
    targets: list[TargetResult]
    notes: dict[tuple[str, str, str], str] = field(default_factory=dict)


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
                load=Spread.of(run.load for run in group),
                gate_share=Spread.of(run.gate / run.load for run in group),
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


def build_summary(runs: Sequence[Run], rowwise: RowwiseRow | None) -> Summary:
    """Medians, the sparkify-vs-row-by-row ratio and the targets."""
    rows = summarize(runs)
    ratio = None
    if rowwise is not None:
        pg = _find(rows, rowwise.size, "postgresql", "full")
        if pg is not None and rowwise.events_per_second > 0:
            ratio = pg.events_per_second / rowwise.events_per_second
    targets, notes = evaluate_targets(rows, rowwise, ratio)
    return Summary(rows=rows, rowwise=rowwise, ratio=ratio, targets=targets, notes=notes)


def evaluate_targets(
    rows: Sequence[Row], rowwise: RowwiseRow | None, ratio: float | None
) -> tuple[list[TargetResult], dict[tuple[str, str, str], str]]:
    """Check the issue's targets against the medians.

    Returns:
        The targets (``not measured`` where a size or backend was not run) and,
        per (size, backend, mode) row, a short note for the table's target column.
    """
    targets: list[TargetResult] = []
    notes: dict[tuple[str, str, str], str] = {}
    medium, large = SIZES["medium"], SIZES["large"]
    for backend in ("postgresql", "duckdb"):
        row = _find(rows, "medium", backend, "full")
        limit, rss_limit = MEDIUM_SECONDS[backend], MEDIUM_RSS_MB[backend]
        time_ok = _verdict(row is not None and row.load.median <= limit, row is not None)
        rss_ok = _verdict(row is not None and row.rss_mb.median < rss_limit, row is not None)
        targets.append(
            TargetResult(
                f"{medium.label}: {backend} full load <= {limit:g} s",
                f"{row.load.median:.1f} s" if row else "-",
                time_ok,
            )
        )
        targets.append(
            TargetResult(
                f"{medium.label}: {backend} full load peak RSS < {_mb(rss_limit)}",
                f"{row.rss_mb.median:.0f} MB" if row else "-",
                rss_ok,
            )
        )
        if row:
            notes[("medium", backend, "full")] = (
                f"<= {limit:g} s {time_ok}; < {_mb(rss_limit)} {rss_ok}"
            )

        big = _find(rows, "large", backend, "full")
        time_measured = rss_measured = "-"
        time_ok = rss_ok = NOT_MEASURED
        if big and row:
            factor = big.load.median / row.load.median
            rss_cap = row.rss_mb.median * (1 + LARGE_RSS_TOLERANCE)
            time_ok = _verdict(factor <= LARGE_TIME_FACTOR)
            rss_ok = _verdict(big.rss_mb.median <= rss_cap)
            time_measured = f"{factor:.2f}x ({big.load.median:.1f} s vs {row.load.median:.1f} s)"
            rss_measured = f"{big.rss_mb.median:.0f} MB vs {row.rss_mb.median:.0f} MB"
            notes[("large", backend, "full")] = (
                f"<= {LARGE_TIME_FACTOR:g}x 1M {time_ok}; RSS <= 1M {rss_ok}"
            )
        targets.append(
            TargetResult(
                f"{large.label}: {backend} full load <= {LARGE_TIME_FACTOR:g}x the 1M time",
                time_measured,
                time_ok,
            )
        )
        targets.append(
            TargetResult(
                f"{large.label}: {backend} full load peak RSS <= the 1M one "
                f"(+{LARGE_RSS_TOLERANCE:.0%} for noise)",
                rss_measured,
                rss_ok,
            )
        )

    for backend in ("postgresql", "duckdb"):
        for mode in ("full", "incremental"):
            targets.append(_gate_target(_find(rows, "medium", backend, mode), backend, mode))

    at_small = rowwise is not None and rowwise.size == "small"
    measured = "-"
    if ratio is not None and rowwise is not None:
        measured = f"{ratio:.1f} x" + ("" if at_small else f" (at {rowwise.size}, not small)")
    status = (
        (PASS if ratio >= ROWWISE_FACTOR else MISS)
        if ratio is not None and at_small
        else NOT_MEASURED
    )
    targets.append(
        TargetResult(
            f"{SIZES['small'].label}: postgresql full load >= {ROWWISE_FACTOR:g} x "
            "row-by-row events/s",
            measured,
            status,
        )
    )
    if ratio is not None and rowwise is not None:
        key = (rowwise.size, "postgresql", "full")
        note = f"{ratio:.0f}x row-by-row" + (
            f" (>= {ROWWISE_FACTOR:g}x {status})" if at_small else ""
        )
        notes[key] = f"{notes[key]}; {note}" if key in notes else note
    return targets, notes


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = ()
) -> str:
    """A padded markdown table; columns whose index is in ``right`` are right-aligned."""
    right = set(right)
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return "\n".join([line(headers), rule + "|", *(line(row) for row in rows)])


def step_names(rows: Sequence[Row]) -> list[str]:
    """The step columns of the load table: STEP_COLUMNS, any extra steps before ``commit``."""
    known = [name for name, _ in STEP_COLUMNS]
    extra = [
        name
        for name in dict.fromkeys(name for row in rows for name in row.steps)
        if name not in known and name != "other"
    ]
    return [*known[:-1], *extra, known[-1], "other"]


def load_table(summary: Summary) -> str:
    """The main table: medians per (size, backend, mode)."""
    steps = step_names(summary.rows)
    headers = (
        "size",
        "backend",
        "mode",
        "events",
        *steps,
        "total s",
        "events/s",
        "peak RSS MB",
        "runs",
        "target",
    )
    body = [
        [
            row.size,
            row.backend,
            row.mode,
            f"{row.events:,}",
            *(f"{row.steps.get(name, 0.0):.3f}" for name in steps),
            f"{row.total.median:.3f}",
            f"{row.events_per_second:,.0f}",
            f"{row.rss_mb.median:.0f}",
            str(row.runs),
            summary.notes.get((row.size, row.backend, row.mode), ""),
        ]
        for row in summary.rows
    ]
    return markdown_table(headers, body, right=range(3, len(headers) - 1))


def spread_table(summary: Summary) -> str:
    """Min, median and max of the total time and peak RSS of each row."""
    body = [
        [
            row.size,
            row.backend,
            row.mode,
            str(row.runs),
            f"{row.total.low:.3f}",
            f"{row.total.median:.3f}",
            f"{row.total.high:.3f}",
            f"{row.rss_mb.low:.0f}",
            f"{row.rss_mb.median:.0f}",
            f"{row.rss_mb.high:.0f}",
        ]
        for row in summary.rows
    ]
    headers = (
        "size",
        "backend",
        "mode",
        "runs",
        "total s min",
        "median",
        "max",
        "RSS MB min",
        "median",
        "max",
    )
    return markdown_table(headers, body, right=range(3, 10))


def rowwise_section(summary: Summary) -> str:
    """The row-by-row baseline and the ratio, as a few lines and a table."""
    rw = summary.rowwise
    if rw is None:
        return "Row-by-row baseline: not run (it needs the postgresql backend)."
    size = SIZES[rw.size]
    if rw.capped:
        timed = (
            f"{rw.events_timed:,} of {rw.events_total:,} (log phase extrapolated: "
            f"{rw.event_seconds:.2f} s x {rw.events_total:,} / {rw.events_timed:,})"
        )
        events_s = f"{rw.event_seconds:.2f} -> {rw.estimated.median - rw.song_seconds:.2f}"
    else:
        timed = f"all {rw.events_total:,}"
        events_s = f"{rw.event_seconds:.2f}"
    table = markdown_table(
        (
            "size",
            "song files",
            "song files s",
            "events timed",
            "log phase s",
            "total s",
            "events/s",
            "peak RSS MB",
            "runs",
        ),
        [
            [
                rw.size,
                f"{rw.song_files:,}",
                f"{rw.song_seconds:.2f}",
                timed,
                events_s,
                f"{rw.estimated.median:.2f}" + (" (est.)" if rw.capped else ""),
                f"{rw.events_per_second:,.0f}",
                f"{rw.rss_mb.median:.0f}",
                str(rw.runs),
            ]
        ],
        right=(1, 2, 4, 5, 6, 7, 8),
    )
    pg = _find(summary.rows, rw.size, "postgresql", "full")
    if summary.ratio is not None and pg is not None:
        verdict = (
            f"sparkify postgresql full load at {rw.size} ({size.label}): "
            f"{pg.events_per_second:,.0f} events/s vs row-by-row {rw.events_per_second:,.0f} "
            f"events/s -> {summary.ratio:.1f}x faster (target >= {ROWWISE_FACTOR:g}x at small)"
        )
    else:
        verdict = "no sparkify postgresql full load at that size to compare with"
    return (
        f"Row-by-row baseline (benchmarks/rowwise.py, postgresql, {rw.size}: {size.label})\n\n"
        f"{table}\n\n{verdict}"
    )


def targets_table(summary: Summary) -> str:
    """The issue's targets with PASS / MISS / not measured."""
    return markdown_table(
        ("target", "measured (median)", "status"),
        [[t.target, t.measured, t.status] for t in summary.targets],
    )


def console_report(summary: Summary, *, repeat: int) -> str:
    """What the command prints: the load table, the baseline and the targets."""
    return "\n\n".join(
        [
            f"Loads (median of {repeat} run(s); seconds per step from LoadReport.seconds; "
            f"'other' = {OTHER_STEPS})",
            load_table(summary),
            rowwise_section(summary),
            "Targets (from the issue)",
            targets_table(summary),
        ]
    )


def _gate_target(row: Row | None, backend: str, mode: str) -> TargetResult:
    """The quality gate's share of a 1M-event load (full, or the incremental day)."""
    what = "full load" if mode == "full" else "incremental day"
    target = (
        f"{SIZES['medium'].label}: {backend} {what}: quality gate < {GATE_SHARE:.0%} "
        "of the load without it"
    )
    if row is None or row.steps.get("audit", 0.0) == 0.0:
        return TargetResult(target, "-", NOT_MEASURED)
    share = row.gate_share.median
    measured = f"{share:.1%} ({row.steps['audit']:.3f} s of {row.load.median:.3f} s)"
    return TargetResult(target, measured, _verdict(share < GATE_SHARE))


def _find(rows: Iterable[Row], size: str, backend: str, mode: str) -> Row | None:
    for row in rows:
        if (row.size, row.backend, row.mode) == (size, backend, mode):
            return row
    return None


def _verdict(ok: bool, measured: bool = True) -> str:
    if not measured:
        return NOT_MEASURED
    return PASS if ok else MISS


def _mb(value: float) -> str:
    return f"{value / 1000:g} GB" if value >= 1000 else f"{value:g} MB"


def _short(value: int) -> str:
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value >= 1_000 and value % 1_000 == 0:
        return f"{value // 1_000}k"
    return f"{value:,}"
