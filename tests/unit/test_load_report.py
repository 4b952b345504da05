"""A load report as plain data: what ``etl --format json`` prints."""

from __future__ import annotations

import json

import pytest

from sparkify.load import LoadReport

pytestmark = pytest.mark.unit


def a_report(*, committed: bool) -> LoadReport:
    return LoadReport(
        run_id="abc",
        backend="duckdb",
        mode="full",
        from_empty=True,
        objects={"staging_events": 2},
        new_objects={"staging_events": 2},
        bytes={"staging_events": 1234},
        staged={"staging_events": 11},
        inserted={"songplays": 6},
        updated={"users": 1},
        totals={"staging_events": 11, "songplays": 6},
        seconds={"plan": 0.25, "staging": 0.5},
        committed=committed,
    )


def test_a_committed_run_is_succeeded_with_every_figure_and_no_error() -> None:
    data = a_report(committed=True).as_dict()
    assert list(data)[:2] == ["run_id", "status"]
    assert data["status"] == "succeeded" and data["error"] is None
    assert data["backend"] == "duckdb" and data["mode"] == "full" and data["from_empty"] is True
    assert data["objects"] == {"staging_events": 2}
    assert data["bytes"] == {"staging_events": 1234}
    assert data["inserted"] == {"songplays": 6} and data["updated"] == {"users": 1}
    assert data["totals"] == {"staging_events": 11, "songplays": 6}
    assert data["seconds"] == {"plan": 0.25, "staging": 0.5}
    assert data["total_seconds"] == 0.75
    assert "committed" not in data
    assert json.loads(json.dumps(data)) == data


def test_a_run_that_did_not_commit_is_failed_with_its_error() -> None:
    data = a_report(committed=False).as_dict(error="bad record in a.json line 3")
    assert data["status"] == "failed"
    assert data["error"] == "bad record in a.json line 3"
    assert set(data) == set(a_report(committed=True).as_dict())
