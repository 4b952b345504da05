"""Commands run while a load holds the warehouse: they say that they wait, and for what.

A real load (tests/load_runner.py) pauses inside its transaction, holding the
load lock and every lock its statements took, until the test lets it go.
``create-tables`` takes the same load lock first, as a second load would; on
PostgreSQL ``counts`` and ``check`` wait for the staging tables the load
emptied with TRUNCATE, and say so.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import contract_fixtures as fx
from tests.integration.test_crash_and_concurrency import ledger_size, pause_a_load
from tests.warehouse import make_engine, schema_name

pytestmark = pytest.mark.integration

BACKENDS = ["postgresql", "duckdb"]


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return fx.write_sources(tmp_path / "sources")


def cli(engine: sa.Engine, *args: str) -> list[str]:
    """The sparkify command line on ``engine``'s warehouse, as a process of its own."""
    url = engine.url.render_as_string(hide_password=False)
    command = [sys.executable, "-m", "sparkify.cli", *args, "--database-url", url]
    name = schema_name(engine)
    return [*command, "--schema", name] if name else command


def start(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_")}
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_stderr_line(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """The first line the process writes on stderr ('' if none within ``timeout``)."""
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], timeout)
    return process.stderr.readline() if ready else ""


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_tables_during_a_load_waits_with_a_message_then_runs_after_it(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()
    load, release = pause_a_load(engine, sources, tmp_path)
    create = start(cli(engine, "create-tables"), tmp_path)
    try:
        notice = first_stderr_line(create)
        assert "waiting" in notice and "load" in notice, notice
        assert create.poll() is None  # still waiting for the load
    finally:
        release.write_text("go")
        _out, load_err = load.communicate(timeout=120)
        out, err = create.communicate(timeout=120)
    assert load.returncode == 0, load_err  # the load committed, undisturbed
    assert create.returncode == 0, err
    assert "Recreated" in out
    assert ledger_size(engine) == 0  # create-tables ran after the load's commit
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_tables_no_wait_during_a_load_exits_1_and_changes_nothing(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()
    load, release = pause_a_load(engine, sources, tmp_path)
    try:
        create = start(cli(engine, "create-tables", "--no-wait"), tmp_path)
        out, err = create.communicate(timeout=60)
    finally:
        release.write_text("go")
        _out, load_err = load.communicate(timeout=120)
    assert create.returncode == 1, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "a load is in progress" in lines[0]
    assert load.returncode == 0, load_err
    assert ledger_size(engine) == 8  # the load's rows are there: nothing was dropped
    engine.dispose()


def test_create_tables_lock_timeout_gives_up_after_waiting(
    pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    load, release = pause_a_load(engine, sources, tmp_path)
    try:
        began = time.monotonic()
        create = start(cli(engine, "create-tables", "--lock-timeout", "1"), tmp_path)
        _out, err = create.communicate(timeout=60)
        waited = time.monotonic() - began
    finally:
        release.write_text("go")
        load.communicate(timeout=120)
    assert create.returncode == 1, err
    assert "still in progress" in err and "Traceback" not in err
    assert waited < 30
    assert ledger_size(engine) == 8
    engine.dispose()


@pytest.mark.parametrize("command", ["counts", "check"])
def test_a_reader_on_postgresql_during_a_load_says_it_waits_for_it_then_answers(
    command: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    load, release = pause_a_load(engine, sources, tmp_path)  # staging TRUNCATEd, uncommitted
    reader = start(cli(engine, command), tmp_path)
    try:
        notice = first_stderr_line(reader)
        assert "waiting" in notice and "load" in notice and "TRUNCATE" in notice, notice
        assert reader.poll() is None  # it does wait: the load holds the staging tables
    finally:
        release.write_text("go")
        _out, load_err = load.communicate(timeout=120)
        out, err = reader.communicate(timeout=120)
    assert load.returncode == 0, load_err
    assert "Traceback" not in err and not err.strip(), err  # one notice, nothing more
    if command == "counts":
        assert reader.returncode == 0, err
        assert "staging_events" in out and "songplays" in out
    else:
        assert reader.returncode in (0, 1), err  # 1: a check failed, which it reports
        assert "passed" in out
    engine.dispose()


@pytest.mark.parametrize("command", ["counts", "check"])
def test_a_reader_on_postgresql_with_no_load_running_says_nothing_on_stderr(
    command: str, pg_url: sa.URL, tmp_path: Path
) -> None:
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    reader = start(cli(engine, command), tmp_path)
    _out, err = reader.communicate(timeout=120)
    assert reader.returncode in (0, 1) and err == "", err
    engine.dispose()
