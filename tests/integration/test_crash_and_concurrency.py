"""Loads killed mid-way, and two loads at once, with real processes (contract rule 8).

A load in tests/load_runner.py SIGKILLs itself at a chosen point — during
staging, during a transform, just before COMMIT — so it dies as abruptly as a
crash. Then a normal run must end in exactly the state of an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sparkify import load
from sparkify.cli import main
from sparkify.models import load_ledger
from tests import contract_fixtures as fx
from tests.load_runner import wait_until_paused
from tests.warehouse import make_engine, schema_name, settings_for, star_snapshot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["postgresql", "duckdb"]
KILL_POINTS = ["staging", "songplays", "time", "commit"]


def runner(engine: sa.Engine, sources: dict[str, Path], *extra: str) -> list[str]:
    url = engine.url.render_as_string(hide_password=False)
    command = [
        sys.executable,
        "-m",
        "tests.load_runner",
        url,
        str(sources["song_data"]),
        str(sources["log_data"]),
        str(sources["log_jsonpath"]),
        *extra,
    ]
    name = schema_name(engine)
    return [*command, "--schema", name] if name else command


def ledger_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(load_ledger)).scalar_one())


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return fx.write_sources(tmp_path / "sources")


@pytest.mark.parametrize("point", KILL_POINTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_load_killed_at_any_point_then_run_again_ends_as_an_uninterrupted_one(
    backend: str, point: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    reference = make_engine(backend, pg_url, tmp_path, build=True)
    load.run(reference, settings_for(reference, sources))
    expected = star_snapshot(reference)
    reference.dispose()

    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()  # the killed process must be the only one holding a DuckDB file
    killed = subprocess.run(
        runner(engine, sources, "--kill-at", point),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert ledger_size(engine) == 0  # nothing of the killed run was committed
    assert all(not rows for rows in star_snapshot(engine).values())
    load.run(engine, settings_for(engine, sources))
    assert star_snapshot(engine) == expected
    engine.dispose()


def pause_a_load(
    engine: sa.Engine, sources: dict[str, Path], tmp_path: Path
) -> tuple[subprocess.Popen[str], Path]:
    """Start a load that stops inside its transaction, holding the lock, until released."""
    ready, release = tmp_path / "ready", tmp_path / "release"
    first = subprocess.Popen(
        runner(
            engine,
            sources,
            "--pause-at",
            "songplays",
            "--ready",
            str(ready),
            "--release",
            str(release),
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_paused(first, ready)
    return first, release


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_load_fails_clearly_while_one_is_in_progress(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()
    first, release = pause_a_load(engine, sources, tmp_path)
    try:
        second = subprocess.run(
            runner(engine, sources, "--no-wait"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 1
        assert "a load is in progress" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        release.write_text("go")
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert ledger_size(engine) == 8  # the first load, alone, loaded everything
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_load_waits_for_the_first_then_finds_nothing_new(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()
    first, release = pause_a_load(engine, sources, tmp_path)
    second = subprocess.Popen(
        runner(engine, sources), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Its first line on stderr is the notice that it waits (however long the
        # process takes to start); only then is the first load let go.
        assert second.stderr is not None
        notice = second.stderr.readline()
        assert "waiting" in notice, notice
        assert second.poll() is None  # still waiting for the lock
    finally:
        release.write_text("go")
        first.communicate(timeout=120)
        out, err = second.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 0, err
    assert "loaded 0 objects" in out  # the first load's ledger was committed before
    reference = make_engine(backend, pg_url, tmp_path, build=True)
    load.run(reference, settings_for(reference, sources))
    assert star_snapshot(engine, staging=False) == star_snapshot(reference, staging=False)
    reference.dispose()
    engine.dispose()


def test_the_cli_reports_a_load_in_progress_in_one_line(
    pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    engine.dispose()
    first, release = pause_a_load(engine, sources, tmp_path)
    try:
        result = CliRunner().invoke(
            main,
            [
                "etl",
                "--no-wait",
                "--database-url",
                str(engine.url),
                "--song-data",
                str(sources["song_data"]),
                "--log-data",
                str(sources["log_data"]),
                "--log-jsonpath",
                str(sources["log_jsonpath"]),
            ],
        )
    finally:
        release.write_text("go")
        first.communicate(timeout=120)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "a load is in progress" in lines[0]
    assert os.path.exists(engine.url.database or "")
