"""The issues' targets, judged on the medians: issue 6 (the loader) and issue 15.

Issue 6 set the first targets (1M events within 23 s on PostgreSQL and 17 s on
DuckDB, memory, the 5M / 1M ratio, 50x a row-by-row loader); issue 15 ("stage
at the speed of the parsers") tightens the times and memory, keeps the 5M / 1M
ratio and the flat memory, adds the incremental day at 1M and the CLI's
start-up. A target is ``not measured`` when its size, backend or mode did not
run. Pure functions over :mod:`benchmarks.measures` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.measures import SIZES, Row, RowwiseRow, StartupRow, find

PASS, MISS, NOT_MEASURED = "PASS", "MISS", "not measured"

#: Issue 6, 1M events / 50k songs, full loads.
MEDIUM_SECONDS = {"postgresql": 23.0, "duckdb": 17.0}
MEDIUM_RSS_MB = {"postgresql": 200.0, "duckdb": 1000.0}
#: Issues 6 and 15: 5M events take at most this many times the 1M time...
LARGE_TIME_FACTOR = 5.5
#: ... and no more memory than at 1M, with this much allowance for noise.
LARGE_RSS_TOLERANCE = 0.05
#: Issue 6, 100k events: sparkify's PostgreSQL full load against the row-by-row loader.
ROWWISE_FACTOR = 50.0

#: Issue 15, 1M events / 50k songs, full loads.
FAST_MEDIUM_SECONDS = {"duckdb": 4.0, "postgresql": 7.0}
#: Issue 15, peak RSS of full loads at 1M and at 5M events.
FAST_RSS_MB = {"duckdb": 512.0, "postgresql": 200.0}
#: Issue 15, an incremental day on a loaded month at 1M events: no worse than before.
INCREMENTAL_DAY_SECONDS = {"duckdb": 1.0, "postgresql": 1.3}
#: Issue 15, ``sparkify --version`` and ``--help`` on the installed console script.
STARTUP_SECONDS = 0.3

RowKey = tuple[str, str, str]


@dataclass(frozen=True)
class TargetResult:
    """One of an issue's targets and how the measurements fare."""

    issue: str
    target: str
    measured: str
    status: str


@dataclass
class _Judged:
    """The targets judged so far, and a short note per load-table row."""

    targets: list[TargetResult] = field(default_factory=list)
    notes: dict[RowKey, list[str]] = field(default_factory=dict)

    def add(self, issue: str, target: str, measured: str, status: str) -> None:
        self.targets.append(TargetResult(issue, target, measured, status))

    def note(self, key: RowKey, text: str) -> None:
        self.notes.setdefault(key, []).append(text)

    def within(self, issue: str, rows: Sequence[Row], key: RowKey, limit: float) -> None:
        """A time target: the median total of row ``key`` at most ``limit`` seconds."""
        size, backend, mode = key
        row = find(rows, size, backend, mode)
        ok = _verdict(row is not None and row.total.median <= limit, row is not None)
        load = "incremental day" if mode == "incremental" else f"{mode} load"
        self.add(
            issue,
            f"{SIZES[size].label}: {backend} {load} <= {limit:g} s",
            f"{row.total.median:.2f} s" if row else "-",
            ok,
        )
        if row:
            self.note(key, f"#{issue} <= {limit:g} s {ok}")


def evaluate_targets(
    rows: Sequence[Row],
    rowwise: RowwiseRow | None,
    ratio: float | None,
    startup: Sequence[StartupRow] = (),
) -> tuple[list[TargetResult], dict[RowKey, str]]:
    """Check the issues' targets against the medians.

    Returns:
        The targets (``not measured`` where a size, backend or mode was not run)
        and, per (size, backend, mode) row, a short note for the table's target
        column.
    """
    judged = _Judged()
    for backend in ("postgresql", "duckdb"):
        _medium_full(judged, rows, backend)
        _large_full(judged, rows, backend)
    _rowwise(judged, rowwise, ratio)
    for backend in ("duckdb", "postgresql"):
        _fast_full(judged, rows, backend)
        _incremental_day(judged, rows, backend)
    _startup(judged, startup)
    notes = {key: "; ".join(texts) for key, texts in judged.notes.items()}
    return judged.targets, notes


def _medium_full(judged: _Judged, rows: Sequence[Row], backend: str) -> None:
    """Issue 6: 1M events, full load, time and peak RSS."""
    judged.within("6", rows, ("medium", backend, "full"), MEDIUM_SECONDS[backend])
    row = find(rows, "medium", backend, "full")
    rss_limit = MEDIUM_RSS_MB[backend]
    rss_ok = _verdict(row is not None and row.rss_mb.median < rss_limit, row is not None)
    judged.add(
        "6",
        f"{SIZES['medium'].label}: {backend} full load peak RSS < {_mb(rss_limit)}",
        f"{row.rss_mb.median:.0f} MB" if row else "-",
        rss_ok,
    )
    if row:
        judged.note(("medium", backend, "full"), f"#6 < {_mb(rss_limit)} {rss_ok}")


def _large_full(judged: _Judged, rows: Sequence[Row], backend: str) -> None:
    """Issues 6 and 15: 5M events in at most 5.5x the 1M time, memory flat."""
    row = find(rows, "medium", backend, "full")
    big = find(rows, "large", backend, "full")
    label = SIZES["large"].label
    time_measured = rss_measured = "-"
    time_ok = rss_ok = NOT_MEASURED
    if big and row:
        factor = big.total.median / row.total.median
        rss_cap = row.rss_mb.median * (1 + LARGE_RSS_TOLERANCE)
        time_ok = _verdict(factor <= LARGE_TIME_FACTOR)
        rss_ok = _verdict(big.rss_mb.median <= rss_cap)
        time_measured = f"{factor:.2f}x ({big.total.median:.1f} s vs {row.total.median:.1f} s)"
        rss_measured = f"{big.rss_mb.median:.0f} MB vs {row.rss_mb.median:.0f} MB"
        judged.note(("large", backend, "full"), f"#6/15 <= {LARGE_TIME_FACTOR:g}x 1M {time_ok}")
        judged.note(("large", backend, "full"), f"#6/15 RSS <= 1M {rss_ok}")
    judged.add(
        "6, 15",
        f"{label}: {backend} full load <= {LARGE_TIME_FACTOR:g}x the 1M time",
        time_measured,
        time_ok,
    )
    judged.add(
        "6, 15",
        f"{label}: {backend} full load peak RSS <= the 1M one "
        f"(+{LARGE_RSS_TOLERANCE:.0%} for noise)",
        rss_measured,
        rss_ok,
    )


def _rowwise(judged: _Judged, rowwise: RowwiseRow | None, ratio: float | None) -> None:
    """Issue 6: at 100k events, 50x the row-by-row loader's events per second."""
    at_small = rowwise is not None and rowwise.size == "small"
    measured = "-"
    if ratio is not None and rowwise is not None:
        measured = f"{ratio:.1f} x" + ("" if at_small else f" (at {rowwise.size}, not small)")
    status = (
        (PASS if ratio >= ROWWISE_FACTOR else MISS)
        if ratio is not None and at_small
        else NOT_MEASURED
    )
    judged.add(
        "6",
        f"{SIZES['small'].label}: postgresql full load >= {ROWWISE_FACTOR:g} x row-by-row events/s",
        measured,
        status,
    )
    if ratio is not None and rowwise is not None:
        note = f"#6 {ratio:.0f}x row-by-row" + (
            f" (>= {ROWWISE_FACTOR:g}x {status})" if at_small else ""
        )
        judged.note((rowwise.size, "postgresql", "full"), note)


def _fast_full(judged: _Judged, rows: Sequence[Row], backend: str) -> None:
    """Issue 15: 1M events in 4 s (DuckDB) or 7 s (PostgreSQL); memory at 1M and 5M."""
    judged.within("15", rows, ("medium", backend, "full"), FAST_MEDIUM_SECONDS[backend])
    row = find(rows, "medium", backend, "full")
    big = find(rows, "large", backend, "full")
    rss_limit = FAST_RSS_MB[backend]
    measured = [r for r in (row, big) if r is not None]
    both = row is not None and big is not None
    rss_ok = _verdict(all(r.rss_mb.median < rss_limit for r in measured) and both, both)
    judged.add(
        "15",
        f"1M and 5M events: {backend} full load peak RSS < {_mb(rss_limit)}",
        " / ".join(f"{r.rss_mb.median:.0f} MB" for r in measured) or "-",
        rss_ok,
    )
    for key_row in measured:
        verdict = _verdict(key_row.rss_mb.median < rss_limit)
        judged.note((key_row.size, backend, "full"), f"#15 < {_mb(rss_limit)} {verdict}")


def _incremental_day(judged: _Judged, rows: Sequence[Row], backend: str) -> None:
    """Issue 15: a day on top of a loaded month at 1M events, no slower than before."""
    judged.within("15", rows, ("medium", backend, "incremental"), INCREMENTAL_DAY_SECONDS[backend])


def _startup(judged: _Judged, startup: Sequence[StartupRow]) -> None:
    """Issue 15: ``sparkify --version`` and ``--help`` within 0.3 s."""
    by_args = {row.args: row for row in startup}
    for args in ("--version", "--help"):
        row = by_args.get(args)
        judged.add(
            "15",
            f"sparkify {args} (installed console script) <= {STARTUP_SECONDS:g} s",
            f"{row.seconds.median:.3f} s" if row else "-",
            _verdict(row is not None and row.seconds.median <= STARTUP_SECONDS, row is not None),
        )


def _verdict(ok: bool, measured: bool = True) -> str:
    if not measured:
        return NOT_MEASURED
    return PASS if ok else MISS


def _mb(value: float) -> str:
    return f"{value / 1000:g} GB" if value >= 1000 else f"{value:g} MB"
