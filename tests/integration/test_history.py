"""Load history (``load_runs``) on PostgreSQL and DuckDB: every run leaves its row.

A succeeded run's row commits with the load; a failed run's row is written after
the rollback and is the one thing the run leaves behind; a failure to write it
never hides the run's own error (see sparkify/history.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import history, load, models, schema
from sparkify.config import Settings
from sparkify.db import engine_for_url
from sparkify.errors import (
    BadRecordError,
    DatabaseError,
    LoadInProgressError,
    LoadInterrupted,
    SourceError,
)
from sparkify.staging.base import NoProgress
from tests import contract_fixtures as fx
from tests.integration.test_crash_and_concurrency import pause_a_load
from tests.warehouse import make_engine, rows, schema_name, settings_for

pytestmark = pytest.mark.integration

BACKENDS = ["postgresql", "duckdb"]


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return fx.write_sources(tmp_path / "sources")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path: Path) -> Iterator[sa.Engine]:
    built = make_engine(request.param, pg_url, tmp_path, build=True)
    yield built
    built.dispose()


def settings(engine: sa.Engine, sources: dict[str, Path], **replace: str) -> Settings:
    return settings_for(engine, {**sources, **replace})


def recorded(engine: sa.Engine) -> list[history.RunRecord]:
    with engine.connect() as conn:
        return history.recent(conn, 100)


def everything_else(engine: sa.Engine, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every table's rows but load_runs' (and ``without``'s)."""
    with engine.connect() as conn:
        return {
            table.name: rows(conn, table, skip=("songplay_id",))
            for table in models.metadata.sorted_tables
            if table.name not in ("load_runs", *without)
        }


def add_day(sources: dict[str, Path], day: int, *lines: str) -> None:
    """A log file of another November day holding ``lines``."""
    path = sources["log_data"] / "2018" / "11" / f"2018-11-{day:02d}-events.json"
    path.write_text("\n".join(lines) + "\n")


GOOD = json.dumps(fx.event(fx.ms(dt.datetime(2018, 11, 9, 10)), "7", session=90))
BAD = '{"userId": "x", "ts": 1541290000000, "sessionId": 1, "page": "Home"}'


class FailAt(NoProgress):
    """Raises ``error`` when the load reaches ``step``."""

    def __init__(self, step: str, error: BaseException) -> None:
        self.step = step
        self.error = error

    def begin_step(self, name: str) -> None:
        if name == self.step:
            raise self.error


def the_failed_row(engine: sa.Engine, error: BaseException) -> history.RunRecord:
    """The newest row, which must be a failed run's with ``error``'s one-line message."""
    newest = recorded(engine)[0]
    assert newest.status == "failed"
    assert newest.error == history.one_line(error)
    assert "\n" not in newest.error
    assert newest.started_at <= newest.finished_at
    return newest


# -- a succeeded run -----------------------------------------------------------------------


def test_a_succeeded_run_writes_one_row_with_every_figure_of_its_report(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    add_day(sources, 9, GOOD, BAD)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    report = load.run(engine, settings(engine, sources), max_errors=1)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    (row,) = recorded(engine)
    assert row.run_id == report.run_id
    assert row.status == "succeeded" and row.error is None
    assert (row.mode, row.backend) == ("incremental", engine.url.get_backend_name())
    assert row.objects == report.objects == {"staging_songs": 5, "staging_events": 4}
    assert row.staged == report.staged
    assert row.inserted == report.inserted
    assert row.updated == report.updated
    assert row.skipped == report.skipped == 1
    # Written just before COMMIT: every step but the commit.
    assert row.seconds == {step: s for step, s in report.seconds.items() if step != "commit"}
    assert before <= row.started_at <= row.finished_at <= after
    assert row.as_dict()["inserted"] == report.inserted


def test_a_full_refresh_is_recorded_with_its_mode(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    load.run(engine, settings(engine, sources))
    again = load.run(engine, settings(engine, sources), mode="full")
    newest, oldest = recorded(engine)
    assert (newest.run_id, newest.mode) == (again.run_id, "full")
    assert oldest.mode == "incremental"


def test_the_succeeded_row_is_written_in_the_loads_transaction(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    # A failure at the commit step comes after the row was written: the rollback
    # takes it away with the data, and the failed row takes its place.
    error = RuntimeError("failed at commit")
    with pytest.raises(RuntimeError, match="failed at commit"):
        load.run(engine, settings(engine, sources), progress=FailAt("commit", error))
    (row,) = recorded(engine)
    assert the_failed_row(engine, error) == row
    assert row.error == "RuntimeError: failed at commit"
    # The figures are what the run had done when it failed (none of it committed).
    assert row.staged == {"staging_songs": 7, "staging_events": 11}
    assert all(not found for found in everything_else(engine).values())


# -- failed runs: the row is all they leave --------------------------------------------


def test_a_bad_record_leaves_one_failed_row_and_nothing_else(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    first = load.run(engine, settings(engine, sources))
    before = everything_else(engine)
    add_day(sources, 9, GOOD, BAD)
    with pytest.raises(BadRecordError) as caught:
        load.run(engine, settings(engine, sources))
    failed = the_failed_row(engine, caught.value)
    assert "2018-11-09-events.json, line 2" in str(failed.error)
    assert [r.run_id for r in recorded(engine)] == [failed.run_id, first.run_id]
    assert failed.run_id != first.run_id
    assert everything_else(engine) == before


def test_a_database_error_leaves_one_failed_row_and_nothing_else(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    load.run(engine, settings(engine, sources))
    with engine.begin() as conn:
        conn.execute(sa.schema.DropTable(models.time))
    before = everything_else(engine, without=("time",))
    add_day(sources, 9, GOOD)
    with pytest.raises(DatabaseError) as caught:
        load.run(engine, settings(engine, sources))
    assert "time" in str(caught.value)
    failed = the_failed_row(engine, caught.value)
    assert failed.error is not None and failed.error.startswith("the load failed: ")
    assert len(recorded(engine)) == 2
    assert everything_else(engine, without=("time",)) == before


def test_ctrl_c_during_a_load_is_recorded_as_interrupted(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    with pytest.raises(KeyboardInterrupt) as caught:
        load.run(engine, settings(engine, sources), progress=FailAt("songs", KeyboardInterrupt()))
    failed = the_failed_row(engine, caught.value)
    assert failed.error == "interrupted: nothing was committed"
    assert all(not found for found in everything_else(engine).values())


def test_a_source_that_cannot_be_listed_is_recorded_as_failed(
    engine: sa.Engine, sources: dict[str, Path], tmp_path: Path
) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(SourceError) as caught:
        load.run(engine, settings(engine, sources, song_data=missing))
    failed = the_failed_row(engine, caught.value)
    assert missing in str(failed.error)
    assert (failed.objects, failed.staged, failed.inserted) == ({}, {}, {})
    assert list(failed.seconds) == ["plan"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_refused_by_a_load_in_progress_is_recorded_where_the_database_allows(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    """PostgreSQL: a failed row, written at once on a connection that takes no lock.
    DuckDB: the other process holds the file, so nothing can be recorded."""
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    engine.dispose()
    other, release = pause_a_load(engine, sources, tmp_path)
    try:
        start = dt.datetime.now()
        with pytest.raises(LoadInProgressError) as caught:
            load.run(engine, settings(engine, sources), wait=False)
        waited = (dt.datetime.now() - start).total_seconds()
        engine.dispose()
    finally:
        release.write_text("go")
        _out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert waited < 10
    runs = recorded(engine)
    assert [r.status for r in runs] == (
        ["failed", "succeeded"] if backend == "postgresql" else ["succeeded"]
    )
    if backend == "postgresql":
        the_failed_row(engine, caught.value)
    engine.dispose()


def test_a_run_interrupted_during_a_commit_that_went_through_keeps_its_succeeded_row(
    engine: sa.Engine,
) -> None:
    report = load.LoadReport(run_id="c0ffee", backend="duckdb")
    recorder = history.Recorder(engine, report)
    with engine.begin() as conn:  # the load's transaction, committed
        recorder.succeeded(conn)
    report.seconds["commit"] = 0.5  # Ctrl-C arrived while COMMIT ran
    recorder.phase = "open"
    recorder.failed(LoadInterrupted(report.run_id, committed=False))
    (row,) = recorded(engine)
    assert (row.run_id, row.status) == ("c0ffee", "succeeded")


# -- a failure to record never hides the run's error ----------------------------------------


def test_a_failed_run_that_cannot_be_recorded_raises_its_own_error(
    engine: sa.Engine, sources: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    load.run(engine, settings(engine, sources))
    with engine.begin() as conn:
        conn.execute(sa.schema.DropTable(models.load_runs))
    add_day(sources, 9, GOOD, BAD)
    with (
        caplog.at_level(logging.WARNING, logger="sparkify.history"),
        pytest.raises(BadRecordError),
    ):
        load.run(engine, settings(engine, sources))
    (message,) = [r.getMessage() for r in caplog.records if r.name == "sparkify.history"]
    assert "could not be recorded in load_runs" in message


def test_a_warehouse_made_before_load_runs_fails_the_load_naming_the_table(
    engine: sa.Engine, sources: dict[str, Path]
) -> None:
    schema.downgrade(engine, "0003", schema=schema_name(engine))
    with pytest.raises(DatabaseError) as caught:
        load.run(engine, settings(engine, sources))
    assert str(caught.value).startswith("recording the run in load_runs failed: ")
    assert all(not found for found in everything_else(engine).values())


def test_a_database_that_cannot_be_reached_is_not_tried_again_for_the_record(
    pg_url: sa.URL, sources: dict[str, Path]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = engine_for_url(pg_url.set(port=port))
    attempts: list[int] = []
    sa.event.listen(engine, "do_connect", lambda *args: attempts.append(1))
    with pytest.raises(DatabaseError):
        load.run(engine, settings_for(engine, sources))
    assert len(attempts) == 1
    engine.dispose()
