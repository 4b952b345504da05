"""counts, check, analyze and s3 check from the command line, on PostgreSQL and DuckDB.

The warehouse is built from the hand-written contract fixture, so every figure
below follows from tests/contract_fixtures.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from sparkify.cli import main
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, schema_name

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx.write_sources(tmp_path_factory.mktemp("ops_sources"))


def source_args(sources: dict[str, Path]) -> list[str]:
    return [
        "--song-data",
        str(sources["song_data"]),
        "--log-data",
        str(sources["log_data"]),
        "--log-jsonpath",
        str(sources["log_jsonpath"]),
    ]


@pytest.fixture(scope="module", params=["postgresql", "duckdb"])
def warehouse(
    request: pytest.FixtureRequest,
    pg_url: sa.URL,
    sources: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[str]]:
    """Database flags of a warehouse built and loaded through the CLI."""
    engine = make_engine(request.param, pg_url, tmp_path_factory.mktemp("ops"))
    engine.dispose()
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if schema_name(engine):
        flags += ["--schema", str(schema_name(engine))]
    runner = CliRunner()
    assert runner.invoke(main, ["create-tables", *flags]).exit_code == 0
    loaded = runner.invoke(main, ["etl", *flags, *source_args(sources)])
    assert loaded.exit_code == 0, loaded.output
    yield flags


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_counts_prints_every_table_with_its_rows(warehouse: list[str]) -> None:
    result = invoke("counts", *warehouse)
    assert result.exit_code == 0, result.output
    found = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            found[cells[0]] = int(cells[1])
    assert found == {
        "staging_events": 11,
        "staging_songs": 7,
        "songplays": 6,
        "users": 3,
        "songs": 7,
        "artists": 5,
        "time": 4,
    }


def test_check_passes_on_a_clean_load(warehouse: list[str]) -> None:
    result = invoke("check", *warehouse)
    assert result.exit_code == 0, result.output
    assert "23 passed, 0 failed" in result.output


def test_analyze_answers_with_exact_figures_as_json(warehouse: list[str]) -> None:
    result = invoke("analyze", *warehouse, "--format", "json")
    assert result.exit_code == 0, result.output
    answers = {a["name"]: a["rows"] for a in json.loads(result.output)}
    assert answers["hours"] == [
        {"hour": 8, "plays": 1},
        {"hour": 12, "plays": 3},
        {"hour": 20, "plays": 1},
        {"hour": 23, "plays": 1},
    ]
    assert answers["levels"] == [
        {"level": "free", "plays": 3, "share": 0.5},
        {"level": "paid", "plays": 3, "share": 0.5},
    ]
    assert answers["users"][0] == {
        "user_id": 20,
        "first_name": "Bob",
        "last_name": "Ray",
        "plays": 3,
    }
    assert answers["songs"][0] == {"title": "Tied Song", "artist": "Tie Band", "plays": 2}
    assert answers["weekdays"][0] == {"weekday": 0, "day": "Sunday", "plays": 3}


def test_analyze_prints_csv_for_named_questions(warehouse: list[str]) -> None:
    result = invoke("analyze", *warehouse, "levels", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == ["level,plays,share", "free,3,0.5", "paid,3,0.5"]


def test_check_fails_with_exit_one_when_a_rule_is_broken(warehouse: list[str]) -> None:
    flags = dict(zip(warehouse[::2], warehouse[1::2], strict=True))
    engine = sa.create_engine(flags["--database-url"])
    prefix = f"{flags['--schema']}." if "--schema" in flags else ""
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {prefix}users WHERE user_id = 30"))
    engine.dispose()
    result = invoke("check", *warehouse)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "22 passed, 1 failed" in result.output


def test_s3_check_passes_on_good_sources_and_fails_on_a_missing_prefix(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    good = invoke("s3", "check", *source_args(sources))
    assert good.exit_code == 0, good.output
    bad = invoke(
        "s3",
        "check",
        "--song-data",
        str(tmp_path / "nowhere"),
        "--log-data",
        str(sources["log_data"]),
        "--log-jsonpath",
        str(sources["log_jsonpath"]),
    )
    assert bad.exit_code == 1
    assert "FAIL" in bad.output
