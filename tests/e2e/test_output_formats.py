"""``--format table|json|csv`` and piped tables, through the CLI on generated data.

Every warehouse here is real (a DuckDB file, a PostgreSQL schema) and loaded
through ``sparkify etl``; the figures the JSON and CSV give are checked against
the generated files and the warehouse's own counts. Real pipes (a process of
its own) where it matters: what reaches stdout, and how wide a piped table is.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from sparkify import models
from sparkify.cli import main
from sparkify.generate import generate
from tests.load_runner import wait_until_paused
from tests.warehouse import make_engine, schema_name

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STAGING = ("staging_events", "staging_songs")
STAR = ("songplays", "users", "songs", "artists", "time")
#: What ``etl --format json`` prints, whether the run succeeded or failed.
REPORT_KEYS = {
    "run_id",
    "status",
    "backend",
    "mode",
    "from_empty",
    "objects",
    "new_objects",
    "changed_objects",
    "skipped_objects",
    "bytes",
    "staged",
    "skipped",
    "inserted",
    "updated",
    "totals",
    "seconds",
    "total_seconds",
    "error",
}


@dataclass
class Sources:
    """Generated sources: the CLI flags naming them, and each staging table's files."""

    flags: list[str]
    files: dict[str, list[Path]]

    def objects(self, table: str) -> int:
        return len(self.files[table])

    def size(self, table: str) -> int:
        return sum(path.stat().st_size for path in self.files[table])


def sources_in(folder: Path) -> Sources:
    return Sources(
        flags=[
            "--song-data",
            str(folder / "song_data"),
            "--log-data",
            str(folder / "log_data"),
            "--log-jsonpath",
            str(folder / "log_json_path.json"),
        ],
        files={
            "staging_songs": sorted((folder / "song_data").rglob("*.json")),
            "staging_events": sorted((folder / "log_data").rglob("*.json")),
        },
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, events=3_000, songs=120, users=25, days=3, seed=16)
    return folder


@pytest.fixture(scope="module")
def sources(generated: Path) -> Sources:
    return sources_in(generated)


@pytest.fixture(scope="module")
def bad_sources(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Sources:
    """The generated sources with a malformed line at the end of one event log."""
    folder = tmp_path_factory.mktemp("bad")
    shutil.copytree(generated, folder, dirs_exist_ok=True)
    log = sorted((folder / "log_data").rglob("*.json"))[-1]
    with log.open("a") as out:
        out.write('{"ts": 1541105830796, "userId": \n')
    return sources_in(folder)


@dataclass
class Warehouse:
    """A built, empty warehouse and the CLI flags that reach it."""

    engine: sa.Engine
    flags: list[str]

    def ledger_run_ids(self) -> set[str]:
        try:
            with self.engine.connect() as conn:
                return set(conn.execute(sa.select(models.load_ledger.c.run_id)).scalars())
        finally:
            self.engine.dispose()  # a DuckDB file stays free for the next command


@pytest.fixture(params=["postgresql", "duckdb"])
def warehouse(
    request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path: Path
) -> Iterator[Warehouse]:
    engine = make_engine(request.param, pg_url, tmp_path, build=True)
    engine.dispose()  # a DuckDB file is free for the commands' processes
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if schema_name(engine):
        flags += ["--schema", str(schema_name(engine))]
    yield Warehouse(engine, flags)
    engine.dispose()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def environment(columns: int = 80) -> dict[str, str]:
    """This environment, without sparkify's settings, as wide as an 80-column terminal.

    rich takes COLUMNS for the width when it writes to no terminal: 80 is the
    width it would cut a piped table to.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = str(columns)
    return env


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """``sparkify ARGS`` in a process of its own, stdout and stderr real pipes."""
    return subprocess.run(
        [sys.executable, "-m", "sparkify.cli", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts_of(warehouse: Warehouse) -> dict[str, int]:
    result = invoke("counts", *warehouse.flags, "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["table"]: row["rows"] for row in json.loads(result.stdout)}


def test_etl_json_is_one_object_on_stdout_with_the_runs_figures(
    warehouse: Warehouse, sources: Sources
) -> None:
    # Progress forced on: its bars go to stderr, never into the JSON.
    done = piped("etl", *warehouse.flags, *sources.flags, "--format", "json", "--progress")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout is the JSON and nothing else
    assert set(report) >= REPORT_KEYS
    assert "staging staging_events" in done.stderr and "{" not in done.stderr
    assert report["status"] == "succeeded" and report["error"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", report["run_id"])
    assert warehouse.ledger_run_ids() == {report["run_id"]}
    backend = warehouse.engine.url.get_backend_name()
    assert (report["backend"], report["mode"], report["from_empty"]) == (
        backend,
        "incremental",
        True,
    )
    for table in STAGING:
        assert report["objects"][table] == sources.objects(table)
        assert report["new_objects"][table] == sources.objects(table)
        assert report["changed_objects"][table] == report["skipped_objects"][table] == 0
        assert report["bytes"][table] == sources.size(table)
    assert report["skipped"] == 0
    totals = counts_of(warehouse)
    assert report["totals"] == totals
    assert report["staged"] == {table: totals[table] for table in STAGING}
    # A first load: every star row was inserted by this run.
    assert {table: report["inserted"].get(table, 0) for table in STAR} == {
        table: totals[table] for table in STAR
    }
    assert totals["songplays"] > 0
    assert {"plan", "staging", "songplays", "commit"} <= set(report["seconds"])
    assert report["total_seconds"] == pytest.approx(sum(report["seconds"].values()))


def test_etl_json_of_a_run_with_nothing_new_says_every_object_was_skipped(
    warehouse: Warehouse, sources: Sources
) -> None:
    first = invoke("etl", *warehouse.flags, *sources.flags, "--format", "json")
    assert first.exit_code == 0, first.output
    again = invoke("etl", *warehouse.flags, *sources.flags, "--format", "json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["from_empty"] is False and report["status"] == "succeeded"
    for table in STAGING:
        assert report["objects"].get(table, 0) == 0
        assert report["skipped_objects"][table] == sources.objects(table)
    assert sum(report["inserted"].values()) == 0
    assert report["totals"] == json.loads(first.stdout)["totals"] | {t: 0 for t in STAGING}
    assert warehouse.ledger_run_ids() == {json.loads(first.stdout)["run_id"]}


def test_etl_csv_has_one_row_per_table_that_the_csv_module_reads(
    warehouse: Warehouse, sources: Sources
) -> None:
    result = invoke("etl", *warehouse.flags, *sources.flags, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["table"] for row in rows] == [*STAGING, *STAR]
    assert {row["run_id"] for row in rows} == warehouse.ledger_run_ids()
    totals = counts_of(warehouse)
    by_table = {row.pop("table"): row for row in rows}
    for table in STAGING:
        row = by_table[table]
        assert int(row["objects"]) == int(row["new_objects"]) == sources.objects(table)
        assert int(row["bytes"]) == sources.size(table)
        assert int(row["staged"]) == int(row["total"]) == totals[table]
        assert row["inserted"] == row["updated"] == ""
    for table in STAR:
        row = by_table[table]
        assert int(row["inserted"]) == int(row["total"]) == totals[table]
        assert int(row["updated"]) >= 0
        assert row["objects"] == row["bytes"] == row["staged"] == ""


def test_a_failed_load_prints_the_failed_report_as_json_and_the_error_on_stderr(
    warehouse: Warehouse, bad_sources: Sources
) -> None:
    done = piped("etl", *warehouse.flags, *bad_sources.flags, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and "Traceback" not in done.stderr
    assert report["status"] == "failed"
    assert report["error"] == error_lines[0].removeprefix("error: ")
    assert bad_sources.files["staging_events"][-1].name in report["error"]
    assert re.fullmatch(r"[0-9a-f]{32}", report["run_id"])
    # The same shape as a success: what the run did until it failed (nothing committed).
    assert set(report) >= REPORT_KEYS
    assert report["new_objects"]["staging_events"] == bad_sources.objects("staging_events")
    assert {"plan", "staging"} <= set(report["seconds"]) and report["totals"] == {}
    assert warehouse.ledger_run_ids() == set()


def test_a_failed_load_prints_no_csv_and_the_error_on_stderr(
    warehouse: Warehouse, bad_sources: Sources
) -> None:
    result = invoke("etl", *warehouse.flags, *bad_sources.flags, "--format", "csv")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert counts_of(warehouse) == {table: 0 for table in (*STAGING, *STAR)}


@pytest.mark.parametrize("point", ["staging", "committed"])
def test_ctrl_c_prints_the_json_report_and_exits_130(
    warehouse: Warehouse, sources: Sources, point: str, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.e2e.interrupt_runner",
            point,
            str(ready),
            "etl",
            *warehouse.flags,
            *sources.flags,
            "--format",
            "json",
        ],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_paused(proc, ready)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    report: dict[str, Any] = json.loads(out)
    assert f"error: {report['error']}" in err
    if point == "committed":
        assert report["status"] == "succeeded"
        assert (
            report["error"] == f"interrupted after the load committed (run_id {report['run_id']})"
        )
        assert warehouse.ledger_run_ids() == {report["run_id"]}
    else:
        assert report["status"] == "failed"
        assert report["error"] == "interrupted: nothing was committed"
        assert warehouse.ledger_run_ids() == set()


def loaded(warehouse: Warehouse, sources: Sources) -> None:
    result = invoke("etl", *warehouse.flags, *sources.flags)
    assert result.exit_code == 0, result.output


def test_counts_json_and_csv_give_every_tables_rows(warehouse: Warehouse, sources: Sources) -> None:
    loaded(warehouse, sources)
    as_json = json.loads(invoke("counts", *warehouse.flags, "--format", "json").stdout)
    as_csv = list(
        csv.DictReader(io.StringIO(invoke("counts", *warehouse.flags, "--format", "csv").stdout))
    )
    assert [row["table"] for row in as_json] == [*STAGING, *STAR]
    assert as_csv == [{"table": row["table"], "rows": str(row["rows"])} for row in as_json]
    with warehouse.engine.connect() as conn:
        for row in as_json:
            table = models.metadata.tables[row["table"]]
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == row["rows"]
            )
    warehouse.engine.dispose()


def test_check_json_lists_every_check_with_its_table_and_a_failure_exits_one(
    warehouse: Warehouse, sources: Sources
) -> None:
    loaded(warehouse, sources)
    passing = invoke("check", *warehouse.flags, "--format", "json")
    assert passing.exit_code == 0, passing.output
    results = json.loads(passing.stdout)
    assert len(results) == 23 and all(r["passed"] and r["failing_rows"] == 0 for r in results)
    assert {tuple(r) for r in results} == {("check", "table", "passed", "failing_rows", "detail")}
    assert {r["table"] for r in results} == set(STAR)
    as_csv = list(
        csv.DictReader(io.StringIO(invoke("check", *warehouse.flags, "--format", "csv").stdout))
    )
    assert [row["check"] for row in as_csv] == [r["check"] for r in results]
    with warehouse.engine.begin() as conn:  # a songplay's user goes missing
        conn.execute(
            sa.delete(models.users).where(
                models.users.c.user_id
                == sa.select(sa.func.min(models.songplays.c.user_id)).scalar_subquery()
            )
        )
    warehouse.engine.dispose()
    failing = invoke("check", *warehouse.flags, "--format", "json")
    assert failing.exit_code == 1
    failed = [r for r in json.loads(failing.stdout) if not r["passed"]]
    assert [(r["check"], r["table"]) for r in failed] == [
        ("references.songplays.user_id.users", "songplays")
    ]
    assert failed[0]["failing_rows"] > 0 and "not in users" in failed[0]["detail"]


def test_a_piped_etl_report_keeps_its_tables_whole(warehouse: Warehouse, sources: Sources) -> None:
    done = piped("etl", *warehouse.flags, *sources.flags)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "…" not in done.stdout
    header = next(line for line in lines if "staging table" in line)
    assert "objects staged" in header and "already loaded" in header and "bytes" in header
    for table in STAGING:
        row = next(line for line in lines if f" {table} " in line)
        assert f" {sources.size(table):,} " in row
    run_line = next(line for line in lines if line.startswith("Run "))
    assert len(run_line) > 80 and "commit" in run_line


def test_piped_tables_of_the_reading_commands_are_never_cut(
    warehouse: Warehouse, sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded(warehouse, sources)
    monkeypatch.setenv("COLUMNS", "80")  # rich's width for output that is not a terminal
    checks = json.loads(invoke("check", *warehouse.flags, "--format", "json").stdout)
    table = invoke("check", *warehouse.flags)
    assert table.exit_code == 0 and "…" not in table.stdout
    for result in checks:
        assert any(
            result["check"] in line and result["detail"] in line
            for line in table.stdout.splitlines()
        ), result
    answers = json.loads(
        invoke("analyze", *warehouse.flags, "locations", "user_agents", "--format", "json").stdout
    )
    table = invoke("analyze", *warehouse.flags, "locations", "user_agents")
    assert table.exit_code == 0 and "…" not in table.stdout
    values = [str(v) for answer in answers for row in answer["rows"] for v in row.values()]
    assert max(len(v) for v in values) > 20
    assert all(value in table.stdout for value in values)
    counts = invoke("counts", *warehouse.flags)
    title = counts.stdout.splitlines()[0].strip()
    assert counts.exit_code == 0 and title.startswith("Row counts on ")
    assert str(warehouse.engine.url.database) in title  # a long DuckDB path, whole
    preflight = invoke("s3", "check", *sources.flags)
    assert preflight.exit_code == 0, preflight.output
    assert "…" not in preflight.stdout
    for path in sources.flags[1::2]:
        assert path in preflight.stdout
