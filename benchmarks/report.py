"""The tables the harness prints and writes: loads, spreads, baseline, start-up, targets.

Pure functions over plain data (no database, no processes), so the harness and
its test share them. The measurements are :mod:`benchmarks.measures`' rows, the
targets :mod:`benchmarks.targets`' verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from benchmarks.measures import (
    OTHER_STEPS,
    SIZES,
    STEP_COLUMNS,
    Row,
    RowwiseRow,
    Run,
    StartupRow,
    find,
    summarize,
)
from benchmarks.targets import ROWWISE_FACTOR, STARTUP_SECONDS, TargetResult, evaluate_targets

#: The machine the thread-scaling table extrapolates to (an estimate, not a measurement).
ESTIMATE_CORES = 16
#: Load-table columns counted as ``rest`` in the thread-scaling table.
REST = ("commit", "other")


@dataclass
class Summary:
    """Everything the tables show."""

    rows: list[Row]
    rowwise: RowwiseRow | None
    ratio: float | None
    targets: list[TargetResult]
    notes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    startup: list[StartupRow] = field(default_factory=list)


def build_summary(
    runs: Sequence[Run], rowwise: RowwiseRow | None, startup: Sequence[StartupRow] = ()
) -> Summary:
    """Medians, the sparkify-vs-row-by-row ratio, the start-up rows and the targets."""
    rows = summarize(runs)
    ratio = None
    if rowwise is not None:
        pg = find(rows, rowwise.size, "postgresql", "full")
        if pg is not None and rowwise.events_per_second > 0:
            ratio = pg.events_per_second / rowwise.events_per_second
    targets, notes = evaluate_targets(rows, rowwise, ratio, startup)
    for row in rows:  # a first plain etl, next to the full load of its size and backend
        full = find(rows, row.size, row.backend, "full")
        if row.mode == "first" and full is not None and full.total.median > 0:
            key = (row.size, row.backend, row.mode)
            ratio_note = f"{row.total.median / full.total.median:.2f}x the full load"
            notes[key] = f"{notes[key]}; {ratio_note}" if key in notes else ratio_note
    return Summary(
        rows=rows,
        rowwise=rowwise,
        ratio=ratio,
        targets=targets,
        notes=notes,
        startup=list(startup),
    )


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
    pg = find(summary.rows, rw.size, "postgresql", "full")
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


def startup_section(summary: Summary) -> str:
    """The console script's start-up: median, min and max wall seconds per argument list."""
    if not summary.startup:
        return "CLI start-up: not measured (--startup-repeat 0, or no console script)."
    table = markdown_table(
        ("command", "runs", "median s", "min s", "max s", "target"),
        [
            [
                f"sparkify {row.args}",
                str(row.runs),
                f"{row.seconds.median:.3f}",
                f"{row.seconds.low:.3f}",
                f"{row.seconds.high:.3f}",
                f"<= {STARTUP_SECONDS:g} s "
                + ("PASS" if row.seconds.median <= STARTUP_SECONDS else "MISS"),
            ]
            for row in summary.startup
        ],
        right=(1, 2, 3, 4),
    )
    return (
        "CLI start-up (the installed console script, bytecode compiled by a first "
        "untimed run; wall time of the process)\n\n" + table
    )


@dataclass(frozen=True)
class ScalingLine:
    """One line of the thread-scaling table: a DuckDB full load's parts, in seconds."""

    size: str
    threads: str
    staging: float
    transforms: float
    rest: float
    events: int
    estimated: bool = False

    @property
    def total(self) -> float:
        """Staging, transforms and the rest."""
        return self.staging + self.transforms + self.rest


def scaling_lines(rows: Sequence[Row]) -> list[ScalingLine]:
    """DuckDB's full loads by threads, per size, and an estimate for ESTIMATE_CORES threads.

    Rows come from the ``full`` rows (DuckDB's default threads) and the
    ``full threads=N`` ones; the thread count is what the worker read from
    DuckDB. ``transforms`` is every step between staging and commit; ``rest``
    is commit and ``other``. With 1 and 2 threads measured, each part of the
    estimate follows Amdahl's law from its own 1- and 2-thread medians.
    """
    lines: list[ScalingLine] = []
    for size in dict.fromkeys(row.size for row in rows):
        by_threads: dict[int, ScalingLine] = {}
        for row in rows:
            if row.size != size or row.backend != "duckdb" or row.threads is None:
                continue
            if row.mode != "full" and not row.mode.startswith("full threads="):
                continue
            staging = row.steps.get("staging", 0.0)
            rest = sum(row.steps.get(name, 0.0) for name in REST)
            transforms = sum(row.steps.values()) - staging - rest
            line = ScalingLine(size, str(row.threads), staging, transforms, rest, row.events)
            by_threads.setdefault(row.threads, line)
        found = [by_threads[n] for n in sorted(by_threads)]
        lines.extend(found)
        if 1 in by_threads and 2 in by_threads and ESTIMATE_CORES not in by_threads:
            one, two = by_threads[1], by_threads[2]
            lines.append(
                ScalingLine(
                    size,
                    f"{ESTIMATE_CORES} (est.)",
                    staging=amdahl(one.staging, two.staging, ESTIMATE_CORES),
                    transforms=amdahl(one.transforms, two.transforms, ESTIMATE_CORES),
                    rest=amdahl(one.rest, two.rest, ESTIMATE_CORES),
                    events=one.events,
                    estimated=True,
                )
            )
    return lines


def amdahl(one: float, two: float, threads: int) -> float:
    """Seconds on ``threads`` threads by Amdahl's law, from the times on 1 and 2 threads.

    The parallel fraction is ``p = 2 (1 - two / one)``, clamped to 0..1 (noise
    can make 2 threads look slower, or more than twice as fast), and the time
    ``one ((1 - p) + p / threads)``.
    """
    if one <= 0:
        return two
    parallel = min(max(2 * (1 - two / one), 0.0), 1.0)
    return one * ((1 - parallel) + parallel / threads)


def scaling_section(summary: Summary) -> str:
    """The thread-scaling table, or why there is none."""
    lines = scaling_lines(summary.rows)
    if not lines:
        return "DuckDB thread scaling: no DuckDB full load measured."
    base = {line.size: line.total for line in lines if line.threads == "1"}
    body = [
        [
            line.size,
            line.threads,
            f"{line.staging:.3f}",
            f"{line.transforms:.3f}",
            f"{line.rest:.3f}",
            f"{line.total:.3f}",
            f"{base[line.size] / line.total:.2f}x" if line.size in base and line.total else "-",
            f"{line.events / line.total:,.0f}" if line.total else "-",
        ]
        for line in lines
    ]
    table = markdown_table(
        (
            "size",
            "threads",
            "staging s",
            "transforms s",
            "commit + other s",
            "total s",
            "vs 1 thread",
            "events/s",
        ),
        body,
        right=range(2, 8),
    )
    return (
        "DuckDB thread scaling (full loads; medians; the threads DuckDB reported). "
        f"The {ESTIMATE_CORES}-thread line is an estimate, not a measurement: each part "
        "by Amdahl's law from its 1- and 2-thread times.\n\n" + table
    )


def targets_table(summary: Summary) -> str:
    """The issues' targets with PASS / MISS / not measured."""
    return markdown_table(
        ("issue", "target", "measured (median)", "status"),
        [[t.issue, t.target, t.measured, t.status] for t in summary.targets],
    )


def console_report(summary: Summary, *, repeat: int) -> str:
    """What the command prints: loads, thread scaling, baseline, start-up and targets."""
    return "\n\n".join(
        [
            f"Loads (median of {repeat} run(s); seconds per step from LoadReport.seconds; "
            f"'other' = {OTHER_STEPS})",
            load_table(summary),
            scaling_section(summary),
            rowwise_section(summary),
            startup_section(summary),
            "Targets (from the issues)",
            targets_table(summary),
        ]
    )
