"""``sparkify runs`` and ``runs show`` from the command line, on PostgreSQL and DuckDB.

Each warehouse has three runs made through ``sparkify etl``: a clean load, one
that skipped two bad records under ``--max-errors``, and one that failed (its
song folder missing). ``runs`` lists them newest first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from sparkify import schema
from sparkify.cli import main
from sparkify.cli.console import console
from sparkify.models import load_runs
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, schema_name

pytestmark = pytest.mark.e2e

SCHEMA_KEYS = [column.name for column in load_runs.columns]


@dataclass
class Warehouse:
    """Database flags of a warehouse, and its runs' ids, oldest first."""

    flags: list[str]
    clean: str = ""
    skipped: str = ""
    failed: str = ""
    bad_file: str = ""

    @property
    def newest_first(self) -> list[str]:
        return [self.failed, self.skipped, self.clean]


def source_args(sources: dict[str, Path], **replace: str) -> list[str]:
    paths = {name: str(path) for name, path in sources.items()} | replace
    return [
        "--song-data",
        paths["song_data"],
        "--log-data",
        paths["log_data"],
        "--log-jsonpath",
        paths["log_jsonpath"],
    ]


def invoke(*args: str, columns: int | None = 80) -> Result:
    """Run the command as in a terminal ``columns`` wide, or piped when ``None``.

    rich reads COLUMNS once, at import, so the console's width is set here.
    """
    saved = console._width, console._force_terminal
    if columns is not None:
        console._width, console._force_terminal = columns, True
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        console._width, console._force_terminal = saved


def newest_id(flags: list[str]) -> str:
    result = invoke("runs", *flags, "--limit", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)
    return str(run["run_id"])


@pytest.fixture(scope="module", params=["postgresql", "duckdb"])
def warehouse(
    request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("runs")
    sources = fx.write_sources(root / "sources")
    engine = make_engine(request.param, pg_url, root, build=True)
    engine.dispose()
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if schema_name(engine):
        flags += ["--schema", str(schema_name(engine))]
    house = Warehouse(flags)
    assert invoke("etl", *flags, *source_args(sources)).exit_code == 0
    house.clean = newest_id(flags)
    bad = sources["log_data"] / "2018" / "11" / "2018-11-09-events.json"
    bad.write_text('{"userId": "x", "ts": 1541290000000, "sessionId": 1}\n{not json\n')
    house.bad_file = str(bad)
    skipped = invoke("etl", *flags, *source_args(sources), "--max-errors", "5")
    assert skipped.exit_code == 0, skipped.output
    house.skipped = newest_id(flags)
    failed = invoke("etl", *flags, *source_args(sources, song_data=str(root / "nowhere")))
    assert failed.exit_code == 1
    house.failed = newest_id(flags)
    yield house


def test_runs_lists_every_run_newest_first_with_a_failed_runs_error(
    warehouse: Warehouse,
) -> None:
    result = invoke("runs", *warehouse.flags)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = [next(i for i, line in enumerate(lines) if run in line) for run in warehouse.newest_first]
    assert at == sorted(at)
    assert "failed" in lines[at[0]] and "succeeded" in lines[at[1]]
    assert "no such folder" in lines[at[0] + 1]  # the error, under its run
    assert "runs show RUN_ID" in result.output


def test_piped_runs_is_the_whole_table_never_cut(warehouse: Warehouse) -> None:
    result = invoke("runs", *warehouse.flags, columns=None)
    assert result.exit_code == 0, result.output
    failed = next(line for line in result.output.splitlines() if warehouse.failed in line)
    assert "no such folder" in failed and "…" not in result.output


def test_runs_on_a_wide_terminal_is_one_table_with_each_runs_totals(
    warehouse: Warehouse,
) -> None:
    result = invoke("runs", *warehouse.flags, columns=220)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "run_id" in line)
    cells = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    assert cells == [
        "run_id", "status", "started (UTC)", "seconds", "mode", "objects", "staged",
        "inserted", "updated", "skipped", "error",
    ]  # fmt: skip
    clean = next(line for line in result.output.splitlines() if warehouse.clean in line)
    # 8 objects, 18 rows staged, 25 rows inserted, nothing updated or skipped.
    assert [c.strip() for c in clean.strip("│ ").split("│")][4:10] == [
        "incremental", "8", "18", "25", "0", "0",
    ]  # fmt: skip


def test_runs_limit_keeps_the_newest(warehouse: Warehouse) -> None:
    result = invoke("runs", *warehouse.flags, "--limit", "2")
    assert result.exit_code == 0, result.output
    assert warehouse.failed in result.output and warehouse.skipped in result.output
    assert warehouse.clean not in result.output


def test_runs_as_json_is_an_array_of_every_column_with_figures_decoded(
    warehouse: Warehouse,
) -> None:
    result = invoke("runs", *warehouse.flags, "--format", "json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)
    assert [run["run_id"] for run in runs] == warehouse.newest_first
    assert all(set(SCHEMA_KEYS) <= set(run) for run in runs)
    failed, skipped, clean = runs
    assert failed["status"] == "failed" and "no such folder" in failed["error"]
    assert skipped["skipped"] == 2 and skipped["objects"]["staging_events"] == 1
    assert clean["status"] == "succeeded" and clean["error"] is None
    assert clean["inserted"] == {"songs": 7, "artists": 5, "users": 3, "songplays": 6, "time": 4}
    assert clean["started_at"].endswith("+00:00")


def test_runs_as_csv_is_one_row_per_run_with_figures_as_json_text(warehouse: Warehouse) -> None:
    result = invoke("runs", *warehouse.flags, "--format", "csv")
    assert result.exit_code == 0, result.output
    header, *runs = list(csv.reader(io.StringIO(result.output)))
    assert header == SCHEMA_KEYS
    assert [run[0] for run in runs] == warehouse.newest_first
    clean = dict(zip(header, runs[2], strict=True))
    assert json.loads(clean["staged"]) == {"staging_songs": 7, "staging_events": 11}
    assert (clean["status"], clean["skipped"], clean["error"]) == ("succeeded", "0", "")


def test_runs_show_lists_the_bad_records_the_run_skipped(warehouse: Warehouse) -> None:
    result = invoke("runs", "show", warehouse.skipped, *warehouse.flags, columns=200)
    assert result.exit_code == 0, result.output
    assert f"Load run {warehouse.skipped}" in result.output
    assert "Bad records skipped" in result.output
    assert "userId: 'x' is not an integer" in result.output
    assert "malformed JSON" in result.output
    shown = invoke("runs", "show", warehouse.skipped, *warehouse.flags, "--format", "json")
    document = json.loads(shown.output)
    assert document["run_id"] == warehouse.skipped and document["skipped"] == 2
    assert [(e["source"], e["line"]) for e in document["load_errors"]] == [
        (warehouse.bad_file, 1),
        (warehouse.bad_file, 2),
    ]


def test_runs_show_of_a_run_without_bad_records_says_so(warehouse: Warehouse) -> None:
    result = invoke("runs", "show", warehouse.clean, *warehouse.flags)
    assert result.exit_code == 0, result.output
    assert "No bad records skipped." in result.output
    assert "songplays" in result.output  # the per-table figures


def test_runs_show_of_an_unknown_run_is_a_one_line_error(warehouse: Warehouse) -> None:
    result = invoke("runs", "show", "no-such-run", *warehouse.flags)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: no load run 'no-such-run' in load_runs; `sparkify runs` lists them"
    )


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_runs_on_a_warehouse_made_before_load_runs_says_to_run_the_migrations(
    backend: str, pg_url: sa.URL, tmp_path: Path
) -> None:
    engine = make_engine(backend, pg_url, tmp_path)
    schema.upgrade(engine, "0003", schema=schema_name(engine))
    engine.dispose()
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if schema_name(engine):
        flags += ["--schema", str(schema_name(engine))]
    result = invoke("runs", *flags, columns=300)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("error: the warehouse at ")
    assert "has no load_runs table: run the migrations (`alembic upgrade head`" in line


def test_runs_where_there_is_no_warehouse_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    result = invoke("runs", "--database-url", f"duckdb:///{missing}", columns=300)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: no warehouse at {missing}")
    assert not missing.exists()


def test_runs_on_a_new_warehouse_says_none_are_recorded(pg_url: sa.URL, tmp_path: Path) -> None:
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    engine.dispose()
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    assert "No load runs recorded yet" in invoke("runs", *flags).output
    assert invoke("runs", *flags, "--format", "json").output.strip() == "[]"
    assert invoke("runs", *flags, "--format", "csv").output.strip() == ",".join(SCHEMA_KEYS)
