"""The load history's records and SQL, with no database: the row, the one-line error,
and the Redshift text of every statement (golden files ``tests/golden/history_*.sql``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlglot import exp

from sparkify import history
from sparkify.errors import BadRecordError, LoadInterrupted
from sparkify.load import LoadReport
from tests.redshift_sql import assert_golden, assert_redshift_parses, compile_redshift

pytestmark = pytest.mark.unit

STARTED = dt.datetime(2026, 11, 26, 2, 0, 0, 123456)
RECORD = history.RunRecord(
    run_id="0123456789abcdef0123456789abcdef",
    status="failed",
    started_at=STARTED,
    finished_at=STARTED + dt.timedelta(seconds=12.5),
    mode="incremental",
    backend="redshift",
    objects={"staging_songs": 5, "staging_events": 3},
    staged={"staging_songs": 7, "staging_events": 11},
    inserted={"songs": 7, "songplays": 6},
    updated={"users": 1},
    skipped=2,
    seconds={"plan": 0.25, "staging": 10.5, "songs": 1.75},
    error="bad record in s3://b/o'brien\\logs/2018-11-09-events.json, line 2: 50% bad",
)

STATEMENTS = {
    "history_insert_run": history.insert_run(RECORD),
    "history_recent_runs": history.recent_query(20),
    "history_one_run": history.one_query(RECORD.run_id),
    "history_run_errors": history.errors_query(RECORD.run_id),
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_history_statement_matches_golden_text(name: str) -> None:
    assert_golden(name, compile_redshift(STATEMENTS[name]))


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_history_statement_parses_as_redshift(name: str) -> None:
    (tree,) = assert_redshift_parses(compile_redshift(STATEMENTS[name]))
    assert isinstance(tree, exp.Insert if name == "history_insert_run" else exp.Select)


def test_the_insert_inlines_quotes_backslashes_and_percents_as_redshift_reads_them() -> None:
    sql = compile_redshift(STATEMENTS["history_insert_run"])
    assert "s3://b/o''brien\\\\logs/" in sql
    assert "50% bad" in sql
    assert '\'{"staging_songs":5,"staging_events":3}\'' in sql


def test_a_row_read_back_is_the_record_written() -> None:
    row = RECORD.as_row()
    assert row["objects"] == '{"staging_songs":5,"staging_events":3}'
    assert row["started_at"] == STARTED
    assert history.RunRecord.from_row(row) == RECORD


def test_as_dict_is_json_with_every_column_and_utc_times() -> None:
    document = json.loads(json.dumps(RECORD.as_dict()))
    assert list(document) == [
        "run_id", "status", "started_at", "finished_at", "mode", "backend", "objects",
        "staged", "inserted", "updated", "skipped", "seconds", "error",
    ]  # fmt: skip
    assert document["started_at"] == "2026-11-26T02:00:00.123456+00:00"
    assert document["seconds"] == {"plan": 0.25, "staging": 10.5, "songs": 1.75}
    assert RECORD.total_seconds == 12.5


def test_null_figures_read_back_as_empty() -> None:
    row = {**RECORD.as_row(), "objects": None, "seconds": ""}
    record = history.RunRecord.from_row(row)
    assert (record.objects, record.seconds) == ({}, {})


def test_one_line_is_the_message_the_cli_prints_on_one_line() -> None:
    bad = BadRecordError("s3://b/day.json", 2, "malformed JSON")
    assert history.one_line(bad) == "bad record in s3://b/day.json, line 2: malformed JSON"
    assert history.one_line(ValueError("first\n  second\n")) == "ValueError: first second"
    assert history.one_line(RuntimeError()) == "RuntimeError"
    assert history.one_line(KeyboardInterrupt()) == "interrupted"
    interrupted = LoadInterrupted("abc", committed=False)
    assert history.one_line(interrupted) == "interrupted: nothing was committed"


def test_a_long_error_is_cut_to_1024_bytes_on_a_character_boundary() -> None:
    report = LoadReport(run_id="r", backend="duckdb", mode="full")
    record = history.RunRecord.of(report, "failed", "é" * 1000, STARTED, STARTED)
    assert record.error is not None
    assert len(record.error.encode()) <= 1024
    assert record.error == "é" * 512
