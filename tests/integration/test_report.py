"""The report read from a warehouse on PostgreSQL and DuckDB, hostile text included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify import analytics, load, quality, report
from sparkify.counts import table_counts
from sparkify.db import describe, engine_for_url
from sparkify.errors import OutputError
from tests import contract_fixtures as fx
from tests.integration.test_analytics import SONGS, load_plays
from tests.warehouse import make_engine, settings_for

pytestmark = pytest.mark.integration

HOSTILE = "<script>alert(1)</script> & \"Song\" 'One'"


@pytest.fixture
def plays(engine: sa.Engine) -> sa.Engine:
    """Each backend in turn, holding the analytics tests' ten plays; song SO1's title hostile."""
    load_plays(engine)
    with engine.begin() as conn:
        songs = sa.table("songs", sa.column("song_id"), sa.column("title"))
        conn.execute(sa.update(songs).where(songs.c.song_id == "SO1").values(title=HOSTILE))
    return engine


def test_collect_reads_every_answer_check_and_count(plays: sa.Engine) -> None:
    with plays.connect() as conn:
        data = report.collect(conn, limit=2, runs=5)
        counts = table_counts(conn)
    assert list(data.answers) == list(analytics.QUESTIONS)
    assert data.answers["songs"].rows[0] == (HOSTILE, "Alpha", 3)
    assert len(data.answers["songs"].rows) == 2  # the limit
    assert [c.name for c in data.checks] == [c.name for c in quality.checks()]
    assert data.counts == counts and data.counts["songplays"] == 10
    assert data.runs == []
    assert data.source == describe(plays)


def test_the_report_escapes_what_the_warehouse_holds(plays: sa.Engine) -> None:
    with plays.connect() as conn:
        page = report.render(report.collect(conn))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Song&quot; &#x27;One&#x27;" in page
    # In the chart, as matplotlib's SVG writer escapes it (quotes may stay: they are text there).
    chart = page[page.index('id="chart-songs"') : page.index('id="chart-artists"')]
    assert re.search(r"&lt;script&gt;alert\(1\)&lt;/script&gt; &amp; (&quot;|\")Song", chart)


def test_a_warehouse_with_no_runs_yet_reports_none(plays: sa.Engine) -> None:
    with plays.connect() as conn:
        assert report.recent_runs(conn, 10) == []


def test_a_warehouse_made_before_load_runs_reports_no_history(
    duckdb_url: sa.URL, tmp_path: Path
) -> None:
    engine = engine_for_url(duckdb_url)  # a database with no load_runs table
    try:
        with engine.connect() as conn:
            assert report.recent_runs(conn, 10) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_the_report_lists_the_runs_the_loads_recorded(
    backend: str, pg_url: sa.URL, tmp_path: Path
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    sources = fx.write_sources(tmp_path / "sources")
    try:
        first = load.run(engine, settings_for(engine, sources))
        second = load.run(engine, settings_for(engine, sources))
        with engine.connect() as conn:
            runs = report.recent_runs(conn, 10)
            page = report.render(report.collect(conn))
    finally:
        engine.dispose()
    assert [run["run_id"] for run in runs] == [second.run_id, first.run_id]  # newest first
    assert {run["status"] for run in runs} == {"succeeded"}
    assert runs[1]["inserted"] == first.inserted
    assert first.run_id in page and second.run_id in page


def test_collect_reads_a_warehouse_in_a_schema_of_its_own(pg_url: sa.URL, tmp_path: Path) -> None:
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(sa.table("songs", *(sa.column(k) for k in SONGS[0]))), SONGS)
        with engine.connect() as conn:
            data = report.collect(conn)
    finally:
        engine.dispose()
    assert data.counts["songs"] == len(SONGS) and data.runs == []


def test_writing_replaces_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    report.write(out, "<!DOCTYPE html>new")
    assert out.read_text() == "<!DOCTYPE html>new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_an_output_path_that_cannot_be_written_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    for path, reason in (
        (tmp_path, "it is a folder"),
        (tmp_path / "missing" / "r.html", "is not a folder"),
        (tmp_path / "a-file" / "r.html", "is not a folder"),
    ):
        with pytest.raises(OutputError, match=reason):
            report.check_output(path)
