"""The benchmark harness (``python -m benchmarks.run``) end to end at its tiny size."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.report import PASS, Run, build_summary
from benchmarks.run import main

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
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out

    loads = _table(out, "| size | backend")
    assert [(r["size"], r["backend"], r["mode"]) for r in loads] == [
        ("tiny", "duckdb", "full"),
        ("tiny", "duckdb", "incremental"),
        ("tiny", "postgresql", "full"),
        ("tiny", "postgresql", "incremental"),
    ]
    for row in loads:
        assert all(_number(row[name]) >= 0 for name in STEP_COLUMNS), row
        for name in ("events", "total s", "events/s", "peak RSS MB"):
            assert _number(row[name]) > 0, (name, row)
        assert row["runs"] == "1"
    full = {r["backend"]: r for r in loads if r["mode"] == "full"}
    assert {_number(r["events"]) for r in full.values()} == {2000}
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
        "tiny duckdb incremental #1",
        "tiny postgresql full #1",
        "tiny postgresql row-by-row #1",
        "tiny postgresql row-by-row #2",
        "tiny postgresql row-by-row #3",
        "tiny postgresql incremental #1",
    ]

    rowwise = _table(out, "| size | song files")
    assert len(rowwise) == 1
    assert rowwise[0]["runs"] == "3"
    assert rowwise[0]["events timed"].startswith("200 of 2,000")
    assert _number(rowwise[0]["events/s"]) > 0
    assert "x faster" in out

    targets = _table(out, "| target")
    assert len(targets) == 13
    assert {t["status"] for t in targets} == {"not measured"}  # no medium/large/small run

    md = list((tmp_path / "results").glob("*.md"))
    data_files = list((tmp_path / "results").glob("*.json"))
    assert len(md) == len(data_files) == 1
    assert md[0].stem == data_files[0].stem
    text = md[0].read_text(encoding="utf-8")
    assert "## Machine" in text and "| CPU" in text and "| PostgreSQL" in text
    data = json.loads(data_files[0].read_text(encoding="utf-8"))
    assert len(data["runs"]) == 4
    for run in data["runs"]:
        assert run["result"]["peak_rss_kb"] > 0
        assert run["result"]["seconds"]["staging"] > 0 and run["result"]["wall"] > 0
    assert data["rowwise"]["capped"] is True and data["rowwise"]["events_timed"] == 200
    assert data["ratio_vs_rowwise"] > 0
    for row in data["summary"]:
        assert row["total"]["low"] <= row["total"]["median"] <= row["total"]["high"]
    assert (tmp_path / "data" / "tiny-0" / "generated.json").is_file()


def _run(size: str, backend: str, wall: float, rss_mb: float, events: int) -> Run:
    result = {
        "wall": wall,
        "seconds": {"staging": wall / 2},
        "staged": {"staging_events": events},
        "peak_rss_kb": int(rss_mb * 1e6 / 1024),
    }
    return Run(size, backend, "full", 1, result)


def test_targets_pass_and_miss_on_the_medians() -> None:
    runs = [
        _run("medium", "postgresql", 20.0, 150, 1_000_000),
        _run("large", "postgresql", 120.0, 150, 5_000_000),  # 6x the 1M time: a miss
        _run("medium", "duckdb", 18.0, 900, 1_000_000),  # over 17 s: a miss
        _run("large", "duckdb", 80.0, 1200, 5_000_000),  # more memory than at 1M: a miss
    ]
    targets = {t.target: t.status for t in build_summary(runs, None).targets}
    by_start = {name.split(": ", 1)[1]: status for name, status in targets.items()}
    assert by_start["postgresql full load <= 23 s"] == PASS
    assert by_start["postgresql full load peak RSS < 200 MB"] == PASS
    assert by_start["postgresql full load <= 5.5x the 1M time"] == "MISS"
    assert by_start["duckdb full load <= 17 s"] == "MISS"
    assert by_start["duckdb full load peak RSS < 1 GB"] == PASS
    assert by_start["duckdb full load <= 5.5x the 1M time"] == PASS
    assert by_start["duckdb full load peak RSS <= the 1M one (+5% for noise)"] == "MISS"
    assert by_start["postgresql full load >= 50 x row-by-row events/s"] == "not measured"
