"""The benchmark harness (``python -m benchmarks.run``) end to end at its tiny size; its targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.measures import Run, Spread, StartupRow
from benchmarks.report import amdahl, build_summary, scaling_lines
from benchmarks.run import duckdb_default_threads, main
from benchmarks.targets import MISS, NOT_MEASURED, PASS

pytestmark = pytest.mark.e2e

# The same server as the rest of the suite (see tests/conftest.py); the harness
# creates and drops databases of its own next to this one.
ADMIN_URL = os.environ.get(
    "SPARKIFY_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STEP_COLUMNS = ("staging", "songs", "artists", "users", "songplays", "time", "commit", "other")


def _table(output: str, header_start: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose header line starts with ``header_start``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    headers = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def _number(text: str) -> float:
    return float(text.replace(",", "").split()[0])


def test_tiny_benchmark_prints_the_tables_and_writes_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--sizes",
            "tiny",
            "--repeat",
            "1",
            "--backends",
            "duckdb,postgresql",
            "--rowwise-events",
            "200",
            "--postgres-url",
            ADMIN_URL,
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
            "--duckdb-threads",
            "1,2",
            "--startup-repeat",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    # DuckDB's default (the cores) is the full row's own thread count: not run again.
    default_threads = duckdb_default_threads()
    extra = [n for n in (1, 2) if n != default_threads]

    loads = _table(out, "| size | backend")
    assert [(r["size"], r["backend"], r["mode"]) for r in loads] == [
        ("tiny", "duckdb", "full"),
        *(("tiny", "duckdb", f"full threads={n}") for n in extra),
        ("tiny", "duckdb", "first"),
        ("tiny", "duckdb", "incremental"),
        ("tiny", "postgresql", "full"),
        ("tiny", "postgresql", "first"),
        ("tiny", "postgresql", "incremental"),
    ]
    for row in loads:
        assert all(_number(row[name]) >= 0 for name in STEP_COLUMNS), row
        for name in ("events", "total s", "events/s", "peak RSS MB"):
            assert _number(row[name]) > 0, (name, row)
        assert row["runs"] == "1"
    full = [r for r in loads if r["mode"].startswith("full")]
    assert {_number(r["events"]) for r in full} == {2000}
    # A first plain etl loads everything too, and is compared with the full load.
    first = [r for r in loads if r["mode"] == "first"]
    assert {_number(r["events"]) for r in first} == {2000}
    assert all("x the full load" in r["target"] for r in first)
    incremental = [r for r in loads if r["mode"] == "incremental"]
    assert all(0 < _number(r["events"]) < 2000 for r in incremental)  # the last day only

    # The row-by-row runs (3 by default) come right after the PostgreSQL full load
    # of their size, before anything else runs.
    order = [
        line.split("] ", 1)[1].split(":", 1)[0]
        for line in captured.err.splitlines()
        if line.startswith("[")
    ]
    assert order == [
        "tiny duckdb full #1",
        *(f"tiny duckdb full threads={n} #1" for n in extra),
        "tiny duckdb first #1",
        "tiny duckdb incremental #1",
        "tiny postgresql full #1",
        "tiny postgresql row-by-row #1",
        "tiny postgresql row-by-row #2",
        "tiny postgresql row-by-row #3",
        "tiny postgresql first #1",
        "tiny postgresql incremental #1",
    ]

    # DuckDB's thread scaling: 1 and 2 threads measured, 16 estimated.
    scaling = _table(out, "| size | threads")
    assert [r["threads"] for r in scaling] == ["1", "2", "16 (est.)"]
    for row in scaling:
        assert _number(row["staging s"]) > 0 and _number(row["total s"]) > 0, row
    assert scaling[0]["vs 1 thread"] == "1.00x"

    # The installed console script's start-up, a row per argument list.
    startup = _table(out, "| command")
    assert [r["command"] for r in startup] == ["sparkify --version", "sparkify --help"]
    for row in startup:
        assert row["runs"] == "3" and 0 < _number(row["median s"]) < 10, row

    rowwise = _table(out, "| size | song files")
    assert len(rowwise) == 1
    assert rowwise[0]["runs"] == "3"
    assert rowwise[0]["events timed"].startswith("200 of 2,000")
    assert _number(rowwise[0]["events/s"]) > 0
    assert "x faster" in out

    targets = _table(out, "| issue")
    assert len(targets) == 17
    loads_targets = [t for t in targets if not t["target"].startswith("sparkify --")]
    assert {t["status"] for t in loads_targets} == {NOT_MEASURED}  # no medium/large/small run
    cli_targets = [t for t in targets if t["target"].startswith("sparkify --")]
    assert len(cli_targets) == 2 and {t["status"] for t in cli_targets} <= {PASS, MISS}

    md = list((tmp_path / "results").glob("*.md"))
    data_files = list((tmp_path / "results").glob("*.json"))
    assert len(md) == len(data_files) == 1
    assert md[0].stem == data_files[0].stem
    text = md[0].read_text(encoding="utf-8")
    assert "## Machine" in text and "| CPU" in text and "| PostgreSQL" in text
    data = json.loads(data_files[0].read_text(encoding="utf-8"))
    assert len(data["runs"]) == 6 + len(extra)
    for run in data["runs"]:
        assert run["result"]["peak_rss_kb"] > 0
        assert run["result"]["seconds"]["staging"] > 0 and run["result"]["wall"] > 0
        mode, threads = run["mode"], run["result"]["duckdb_threads"]
        if run["backend"] == "postgresql":
            assert threads is None
        elif mode.startswith("full threads="):
            assert threads == int(mode.removeprefix("full threads="))
        else:
            assert threads == default_threads
    assert [row["args"] for row in data["startup"]] == ["--version", "--help"]
    assert "## CLI start-up" in text and "## DuckDB thread scaling" in text
    assert data["rowwise"]["capped"] is True and data["rowwise"]["events_timed"] == 200
    assert data["ratio_vs_rowwise"] > 0
    for row in data["summary"]:
        assert row["total"]["low"] <= row["total"]["median"] <= row["total"]["high"]
    assert (tmp_path / "data" / "tiny-0" / "generated.json").is_file()


def _run(
    size: str,
    backend: str,
    wall: float,
    rss_mb: float,
    events: int,
    mode: str = "full",
    threads: int | None = None,
) -> Run:
    result = {
        "wall": wall,
        "seconds": {"staging": wall / 2, "songplays": wall / 4},
        "staged": {"staging_events": events},
        "peak_rss_kb": int(rss_mb * 1e6 / 1024),
        "duckdb_threads": threads,
    }
    return Run(size, backend, mode, 1, result)


def test_issue_6_targets_pass_and_miss_on_the_medians() -> None:
    runs = [
        _run("medium", "postgresql", 20.0, 150, 1_000_000),
        _run("large", "postgresql", 120.0, 150, 5_000_000),  # 6x the 1M time: a miss
        _run("medium", "duckdb", 18.0, 900, 1_000_000),  # over 17 s: a miss
        _run("large", "duckdb", 80.0, 1200, 5_000_000),  # more memory than at 1M: a miss
    ]
    summary = build_summary(runs, None)
    targets = {t.target: t.status for t in summary.targets if "6" in t.issue.split(", ")}
    by_start = {name.split(": ", 1)[1]: status for name, status in targets.items()}
    assert by_start["postgresql full load <= 23 s"] == PASS
    assert by_start["postgresql full load peak RSS < 200 MB"] == PASS
    assert by_start["postgresql full load <= 5.5x the 1M time"] == "MISS"
    assert by_start["duckdb full load <= 17 s"] == "MISS"
    assert by_start["duckdb full load peak RSS < 1 GB"] == PASS
    assert by_start["duckdb full load <= 5.5x the 1M time"] == PASS
    assert by_start["duckdb full load peak RSS <= the 1M one (+5% for noise)"] == "MISS"
    assert by_start["postgresql full load >= 50 x row-by-row events/s"] == "not measured"


def test_issue_15_targets_pass_and_miss_on_the_medians() -> None:
    runs = [
        _run("medium", "duckdb", 3.9, 400, 1_000_000),
        _run("large", "duckdb", 22.0, 520, 5_000_000),  # 5.6x, and over 512 MB: misses
        _run("medium", "postgresql", 7.5, 90, 1_000_000),  # over 7 s: a miss
        _run("large", "postgresql", 36.0, 91, 5_000_000),
        _run("medium", "duckdb", 0.9, 300, 30_000, mode="incremental"),
        _run("medium", "postgresql", 1.4, 80, 30_000, mode="incremental"),  # over 1.3 s
    ]
    startup = [
        StartupRow("--version", 10, Spread(0.05, 0.04, 0.07)),
        StartupRow("--help", 10, Spread(0.35, 0.3, 0.4)),  # over 0.3 s: a miss
    ]
    found = {(t.issue, t.target): t.status for t in build_summary(runs, None, startup).targets}
    assert found["15", "1M events / 50k songs: duckdb full load <= 4 s"] == PASS
    assert found["15", "1M events / 50k songs: postgresql full load <= 7 s"] == MISS
    assert found["15", "1M and 5M events: duckdb full load peak RSS < 512 MB"] == MISS
    assert found["15", "1M and 5M events: postgresql full load peak RSS < 200 MB"] == PASS
    assert found["6, 15", "5M events / 100k songs: duckdb full load <= 5.5x the 1M time"] == MISS
    assert found["15", "1M events / 50k songs: duckdb incremental day <= 1 s"] == PASS
    assert found["15", "1M events / 50k songs: postgresql incremental day <= 1.3 s"] == MISS
    assert found["15", "sparkify --version (installed console script) <= 0.3 s"] == PASS
    assert found["15", "sparkify --help (installed console script) <= 0.3 s"] == MISS


def test_thread_scaling_estimates_16_threads_by_amdahls_law_from_1_and_2() -> None:
    # Half the work parallel: 2 threads take 75%, 16 threads 50% + 50% / 16.
    assert amdahl(8.0, 6.0, 16) == 8.0 * (0.5 + 0.5 / 16)
    assert amdahl(8.0, 9.0, 16) == 8.0  # slower on 2 threads: nothing parallel
    assert amdahl(8.0, 3.0, 16) == 8.0 / 16  # more than twice as fast: all parallel
    runs = [
        _run("medium", "duckdb", 8.0, 400, 1_000_000, threads=2),
        _run("medium", "duckdb", 12.0, 400, 1_000_000, mode="full threads=1", threads=1),
        _run("medium", "postgresql", 9.0, 90, 1_000_000),
    ]
    lines = scaling_lines(build_summary(runs, None).rows)
    assert [line.threads for line in lines] == ["1", "2", "16 (est.)"]
    assert [line.staging for line in lines[:2]] == [6.0, 4.0]
    assert lines[2].estimated and lines[2].staging == amdahl(6.0, 4.0, 16)
    assert lines[2].total < lines[1].total
