"""The newcomer's first minute: `sparkify demo` and `sparkify generate`, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sparkify import schema
from sparkify.cli import main
from sparkify.counts import table_counts
from sparkify.db import engine_for_url

pytestmark = pytest.mark.e2e


def test_demo_generates_loads_and_reports_on_an_embedded_duckdb(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--dir", str(folder), "--events", "3000", "--songs", "300"]
    )
    assert result.exit_code == 0, result.output
    assert "checks passed, 0 failed" in result.output
    assert "Most played songs" in result.output and "Free vs paid share" in result.output
    engine = engine_for_url(f"duckdb:///{folder / 'sparkify.duckdb'}")
    assert schema.current_revision(engine) == schema.head_revision()
    with engine.connect() as conn:
        counts = table_counts(conn)
    engine.dispose()
    assert counts["staging_events"] == 3000
    assert counts["staging_songs"] == counts["songs"] == 300
    assert 0 < counts["songplays"] < 3000
    assert counts["users"] > 0 and counts["time"] > 0


def test_demo_twice_replaces_its_folder_and_gives_the_same_counts(tmp_path: Path) -> None:
    args = ["demo", "--dir", str(tmp_path / "demo"), "--events", "1000", "--songs", "100"]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    assert first.exit_code == second.exit_code == 0, second.output
    counts = [line for line in first.output.splitlines() if line.startswith("│ songplays")]
    assert counts == [line for line in second.output.splitlines() if line.startswith("│ songplays")]
    assert len(counts) == 1


def test_generate_writes_the_real_layout_and_says_how_to_load_it(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            str(out),
            "--events",
            "500",
            "--songs",
            "20",
            "--users",
            "10",
            "--days",
            "3",
            "--seed",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 500 events" in result.output and "sparkify etl --song-data" in result.output
    assert len(list((out / "song_data").rglob("*.json"))) == 20
    assert sorted(p.name for p in (out / "log_data").rglob("*.json")) == [
        "2018-11-01-events.json",
        "2018-11-02-events.json",
        "2018-11-03-events.json",
    ]
    again = CliRunner().invoke(main, ["generate", str(out), "--events", "500"])
    assert again.exit_code == 1 and "error:" in again.output  # refuses to mix runs
    forced = CliRunner().invoke(main, ["generate", str(out), "--events", "500", "--force"])
    assert forced.exit_code == 0, forced.output


def test_generated_data_loads_on_postgresql_with_all_checks_passing(
    tmp_path: Path, pg_engine: sa.Engine
) -> None:
    out = tmp_path / "data"
    assert (
        CliRunner()
        .invoke(main, ["generate", str(out), "--events", "2000", "--songs", "100", "--users", "20"])
        .exit_code
        == 0
    )
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS demo_pg CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA demo_pg")
    flags = [
        "--database-url",
        pg_engine.url.render_as_string(hide_password=False),
        "--schema",
        "demo_pg",
    ]
    runner = CliRunner()
    assert runner.invoke(main, ["create-tables", *flags]).exit_code == 0
    loaded = runner.invoke(
        main,
        [
            "etl",
            *flags,
            "--song-data",
            str(out / "song_data"),
            "--log-data",
            str(out / "log_data"),
            "--log-jsonpath",
            str(out / "log_json_path.json"),
        ],
    )
    assert loaded.exit_code == 0, loaded.output
    checked = runner.invoke(main, ["check", *flags])
    assert checked.exit_code == 0, checked.output
