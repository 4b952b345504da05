"""Incremental loads (contract rule 8): only new or changed objects, merged, never twice."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify import load, transform
from sparkify.models import STAGING_TABLES, STAR_TABLES, load_ledger, songplays, users
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, rows, settings_for, star_snapshot

pytestmark = pytest.mark.integration

BACKENDS = ["postgresql", "duckdb"]
LOGS = Path("log_data") / "2018" / "11"


@pytest.fixture
def full(tmp_path: Path) -> dict[str, Path]:
    """The contract fixture, all of it, in one folder."""
    return fx.write_sources(tmp_path / "all")


@pytest.fixture
def live(tmp_path: Path, full: dict[str, Path]) -> dict[str, Path]:
    """An initially empty source folder that files are moved into, day by day."""
    root = tmp_path / "live"
    (root / LOGS).mkdir(parents=True)
    (root / "song_data").mkdir()
    shutil.copy(full["log_jsonpath"], root / "log_json_path.json")
    return {
        "song_data": root / "song_data",
        "log_data": root / "log_data",
        "log_jsonpath": root / "log_json_path.json",
    }


def arrive(full: dict[str, Path], live: dict[str, Path], *names: str) -> None:
    """Copy source files (log file names, or ``songs``) into the live folder."""
    for name in names:
        if name == "songs":
            shutil.copytree(full["song_data"], live["song_data"], dirs_exist_ok=True)
        else:
            shutil.copy(full["log_data"] / "2018" / "11" / name, live["log_data"] / "2018" / "11")


def day(n: int) -> str:
    return f"2018-11-0{n}-events.json"


def one_full_load(
    backend: str, pg_url: sa.URL, tmp: Path, full: dict[str, Path]
) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(backend, pg_url, tmp, build=True)
    load.run(engine, settings_for(engine, full), mode="full")
    snapshot = star_snapshot(engine, staging=False)
    engine.dispose()
    return snapshot


@pytest.mark.parametrize("backend", BACKENDS)
def test_days_loaded_one_by_one_equal_one_full_load(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path], live: dict[str, Path]
) -> None:
    expected = one_full_load(backend, pg_url, tmp_path, full)
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, live)
    arrive(full, live, "songs", day(1))
    first = load.run(engine, settings)
    assert first.new_objects == {"staging_events": 1, "staging_songs": 5}
    for n in (2, 3):
        arrive(full, live, day(n))
        report = load.run(engine, settings)
        assert report.new_objects == {"staging_events": 1, "staging_songs": 0}
        assert report.skipped_objects == {"staging_events": n - 1, "staging_songs": 5}
        assert report.objects["staging_events"] == 1
    assert star_snapshot(engine, staging=False) == expected
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_day_arriving_late_never_overwrites_newer_user_attributes(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path], live: dict[str, Path]
) -> None:
    expected = one_full_load(backend, pg_url, tmp_path, full)
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, live)
    arrive(full, live, "songs", day(3))  # the newest day first (user 20's 2021 plays)
    load.run(engine, settings)
    arrive(full, live, day(2))
    load.run(engine, settings)
    arrive(full, live, day(1))  # then the oldest (user 20's "Old Name" login)
    report = load.run(engine, settings)
    assert report.updated.get("users", 0) == 0
    with engine.connect() as conn:
        by_id = {r[0]: r for r in rows(conn, users)}
    assert by_id[20][1:5] == ("Bob", "Ray", "M", "free")
    assert by_id[10][1:5] == ("Annie", "Lee", "F", "paid")
    assert star_snapshot(engine, staging=False) == expected
    engine.dispose()


PLACEHOLDER = fx.song("SOZZZ", "Z", "ARZZZ", "Z", 1.0)


def plays_before_their_songs(
    engine: sa.Engine, full: dict[str, Path], live: dict[str, Path]
) -> load.LoadReport:
    """Load every day with only a placeholder song (song_data must not be empty):
    every play is stored without a match."""
    arrive(full, live, day(1), day(2), day(3))
    (live["song_data"] / "placeholder.json").write_text(json.dumps(PLACEHOLDER))
    report = load.run(engine, settings_for(engine, live))
    with engine.connect() as conn:
        matched = conn.execute(
            sa.select(sa.func.count()).where(songplays.c.song_id.is_not(None))
        ).scalar()
    assert matched == 0
    return report


def without_placeholder(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """The star tables, the placeholder song and its artist left out."""
    snapshot = star_snapshot(engine, staging=False)
    snapshot["songs"] = [r for r in snapshot["songs"] if r[0] != PLACEHOLDER["song_id"]]
    snapshot["artists"] = [r for r in snapshot["artists"] if r[0] != PLACEHOLDER["artist_id"]]
    return snapshot


@pytest.mark.parametrize("backend", BACKENDS)
def test_songs_arriving_after_their_plays_are_matched_then(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path], live: dict[str, Path]
) -> None:
    expected = one_full_load(backend, pg_url, tmp_path, full)
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    plays_before_their_songs(engine, full, live)
    (live["song_data"] / "placeholder.json").unlink()
    arrive(full, live, "songs")
    report = load.run(engine, settings_for(engine, live))
    assert report.updated["songplays"] == 4  # SOTIEA x2, SOCAFE, SOCASE
    # The placeholder song stays (a merge never deletes); everything else is as a full load.
    assert without_placeholder(engine) == expected
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_full_load_skips_the_re_match_which_would_change_nothing(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path], live: dict[str, Path]
) -> None:
    expected = one_full_load(backend, pg_url, tmp_path, full)
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    first = plays_before_their_songs(engine, full, live)
    # The first load of an empty warehouse has no earlier plays to re-match.
    assert first.from_empty
    assert "songplays (re-match)" not in first.seconds
    arrive(full, live, "songs")
    report = load.run(engine, settings_for(engine, live), mode="full")
    assert "songplays (re-match)" not in report.seconds
    # Run it anyway: after a full load no play has a better match to take.
    with engine.begin() as conn:
        rematch = transform.songplays_rematch().execution_options(preserve_rowcount=True)
        assert conn.execute(rematch).rowcount == 0
    assert without_placeholder(engine) == expected
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_changed_object_is_loaded_again_and_an_unchanged_one_never(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, full)
    first = load.run(engine, settings)
    before = star_snapshot(engine, staging=False)
    path = full["log_data"] / "2018" / "11" / day(2)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # re-delivered
    second = load.run(engine, settings)
    assert second.changed_objects == {"staging_events": 1, "staging_songs": 0}
    assert second.objects == {"staging_events": 1, "staging_songs": 0}
    assert second.staged["staging_events"] == 2
    assert star_snapshot(engine, staging=False) == before  # merged again: nothing new
    with engine.connect() as conn:
        entries = conn.execute(sa.select(load_ledger.c.source, load_ledger.c.run_id)).all()
    runs = {source: run_id for source, run_id in entries}
    assert len(runs) == 8
    assert runs[str(path)] == second.run_id
    assert sum(1 for r in runs.values() if r == first.run_id) == 7
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_refresh_rebuilds_everything_and_rewrites_the_ledger(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, full)
    load.run(engine, settings)
    before = star_snapshot(engine)
    refresh = load.run(engine, settings, mode="full")
    assert refresh.mode == "full"
    assert refresh.objects == {"staging_events": 3, "staging_songs": 5}
    assert refresh.skipped_objects == {"staging_events": 0, "staging_songs": 0}
    assert star_snapshot(engine) == before
    with engine.connect() as conn:
        ledger_runs = set(conn.execute(sa.select(load_ledger.c.run_id)).scalars())
    assert ledger_runs == {refresh.run_id}
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_ledger_commits_with_the_star_tables_or_not_at_all(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, full)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE time RENAME TO time_away"))
    with pytest.raises(Exception, match="time"):
        load.run(engine, settings)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE time_away RENAME TO time"))
        assert conn.execute(sa.select(sa.func.count()).select_from(load_ledger)).scalar() == 0
    report = load.run(engine, settings)  # nothing was marked loaded: all of it loads now
    assert report.new_objects == {"staging_events": 3, "staging_songs": 5}
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_first_plain_load_of_an_empty_warehouse_takes_the_full_loads_path(
    backend: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path]
) -> None:
    expected = one_full_load(backend, pg_url, tmp_path, full)
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, full)
    first = load.run(engine, settings)
    assert (first.mode, first.from_empty) == ("incremental", True)
    # Nothing stored before: no re-match, no update of stored users or artists.
    assert not {"songplays (re-match)", "users (update)", "artists (update)"} & set(first.seconds)
    if backend == "postgresql":
        assert "keys" in first.seconds  # the fact keys built after their rows
    assert without_placeholder(engine) == expected
    # Then the warehouse is not empty: the next load merges (re-match included).
    path = full["log_data"] / "2018" / "11" / day(2)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load.run(engine, settings)
    assert not second.from_empty
    assert {"songplays (re-match)", "users (update)", "artists (update)"} <= set(second.seconds)
    assert "keys" not in second.seconds
    assert without_placeholder(engine) == expected
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("left", ["ledger", "star"])
def test_a_warehouse_with_a_ledger_or_star_rows_is_no_first_load(
    backend: str, left: str, pg_url: sa.URL, tmp_path: Path, full: dict[str, Path]
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    settings = settings_for(engine, full)
    load.run(engine, settings)
    with engine.begin() as conn:  # keep only the ledger, or only the star tables
        emptied = (load_ledger,) if left == "star" else (*reversed(STAR_TABLES), *STAGING_TABLES)
        for table in emptied:
            conn.execute(sa.delete(table))
    report = load.run(engine, settings)
    assert not report.from_empty
    assert "songplays (re-match)" in report.seconds
    engine.dispose()
