"""The quality gate of a load, on PostgreSQL and DuckDB: it passes correct loads and
stops one on a warehouse that breaks a check, leaving everything as it was.

Duplicate keys are planted as on Redshift, which enforces no key: the key's
constraint is dropped first (:func:`tests.warehouse.unenforce`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import gate, history, load, quality
from sparkify.config import Settings
from sparkify.errors import QualityGateError
from sparkify.execute import execute
from sparkify.models import artists, songplays, songs, staging_events, time, users
from sparkify.sources import Plan, plan_sources
from sparkify.staging import stager_for
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, settings_for, unenforce, warehouse_state

pytestmark = pytest.mark.integration

TIED = dt.datetime(2018, 11, 1, 20, 57, 10, 796000)  # PLAY_TIED's start_time (rule 1's example)


@pytest.fixture(params=["postgresql", "duckdb"])
def engine(request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(request.param, pg_url, tmp_path, build=True)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(engine: sa.Engine, tmp_path: Path) -> Settings:
    return settings_for(engine, fx.write_sources(tmp_path / "sources"))


def part(settings: Settings, days: tuple[int, ...], songs: tuple[str, ...] | None = None) -> Plan:
    """The sources' plan with only some days' log files and some song files (by song_id)."""
    plan = plan_sources(settings)
    names = tuple(f"2018-11-0{day}-events.json" for day in days)
    events = [obj for obj in plan.events.objects if obj.uri.endswith(names)]
    kept = plan.songs.objects
    if songs is not None:
        kept = [obj for obj in kept if obj.uri.endswith(tuple(f"TR{s}.json" for s in songs))]
    return dataclasses.replace(
        plan,
        events=dataclasses.replace(plan.events, objects=events),
        songs=dataclasses.replace(plan.songs, objects=kept),
    )


def insert_copy(engine: sa.Engine, table: sa.Table, where: Any, **changed: Any) -> None:
    """Insert a copy of the rows ``where`` selects, with some columns changed."""
    columns = [c.name for c in table.columns]
    values = [sa.literal(changed[c]) if c in changed else table.c[c] for c in columns]
    with engine.begin() as conn:
        conn.execute(sa.insert(table).from_select(columns, sa.select(*values).where(where)))


# -- correct loads pass -----------------------------------------------------------------


def test_the_gate_passes_a_first_load_incremental_days_and_a_full_load(
    engine: sa.Engine, settings: Settings
) -> None:
    reports = [
        load.run(engine, settings, plan=part(settings, (1,))),
        load.run(engine, settings, plan=part(settings, (1, 2))),
        load.run(engine, settings),
        load.run(engine, settings, mode="full"),
    ]
    assert [r.from_empty for r in reports] == [True, False, False, True]
    for report in reports:
        assert report.audited == gate.names()
        assert report.seconds["audit"] >= 0
        # The gate runs between the merges and the ledger write.
        steps = list(report.seconds)
        assert steps.index("time") < steps.index("audit") < steps.index("commit")


def test_the_gate_passes_a_load_that_re_matches_plays_to_songs_staged_after_them(
    engine: sa.Engine, settings: Settings
) -> None:
    load.run(engine, settings, plan=part(settings, (1, 2, 3), songs=("SOCAFE",)))
    report = load.run(engine, settings)
    assert report.updated["songplays"] == 3  # PLAY_TIED, PLAY_SAME_TS_OTHER_USER, SOCASE's
    assert report.audited == gate.names()


def test_keys_a_unique_index_keeps_are_proven_by_it_and_the_others_checked_by_a_query(
    engine: sa.Engine,
) -> None:
    def queried() -> list[str]:
        """The keys the gate checks with a query."""
        with engine.connect() as conn:
            indexes = stager_for(engine.dialect.name).unique_indexes(conn)
        unique = gate.probes(indexes, rematched=False)[: len(quality.UNIQUE_KEYS)]
        return [probe.checks[0].name for probe in unique if not probe.by_index]

    if engine.dialect.name == "postgresql":
        assert queried() == []  # every key has its index
    else:  # migration 0003: DuckDB's fact tables have no key
        assert queried() == [
            "unique.songplays.songplay_id",
            "unique.songplays.user_id.session_id.start_time",
            "unique.time.start_time",
        ]
    unenforce(engine, users)
    assert "unique.users.user_id" in queried()


# -- a broken warehouse takes no load ---------------------------------------------------

DUPLICATES = {
    "time": (time, time.c.start_time == TIED, {}, "unique.time.start_time", (TIED,)),
    "user": (users, users.c.user_id == 10, {}, "unique.users.user_id", (10,)),
    "song": (songs, songs.c.song_id == "SOTIEA", {}, "unique.songs.song_id", ("SOTIEA",)),
    "artist": (
        artists,
        artists.c.artist_id == "ARTIE1",
        {"name": "Tie Band (again)"},
        "unique.artists.artist_id",
        ("ARTIE1",),
    ),
    "songplay": (
        songplays,
        songplays.c.start_time == TIED,
        {"songplay_id": 1000},
        "unique.songplays.user_id.session_id.start_time",
        (10, 7, TIED),
    ),
    "songplay_id": (
        songplays,
        songplays.c.start_time == TIED,
        {"session_id": 8},
        "unique.songplays.songplay_id",
        None,
    ),
}


def redeliver(settings: Settings, day: int) -> None:
    """Touch a day's log file: the next incremental load stages it again."""
    path = Path(settings.log_data) / "2018" / "11" / f"2018-11-0{day}-events.json"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize("planted", sorted(DUPLICATES))
def test_a_planted_duplicate_key_stops_the_next_load_naming_it_and_changing_nothing(
    engine: sa.Engine, settings: Settings, planted: str
) -> None:
    table, where, changed, check, key = DUPLICATES[planted]
    load.run(engine, settings, plan=part(settings, (1, 2)))
    unenforce(engine, table)
    insert_copy(engine, table, where, **changed)
    if check == gate.PLAY_KEY:
        # Checked for the keys the run writes (below): day 1's play is staged again.
        redeliver(settings, 1)
    before = warehouse_state(engine)

    with pytest.raises(QualityGateError) as caught:
        load.run(engine, settings)

    assert (caught.value.check, caught.value.table) == (check, table.name)
    if key is not None:
        assert caught.value.sample == (key,)
    assert len(caught.value.sample) == 1 and not caught.value.more
    assert warehouse_state(engine) == before


def plant_a_duplicate_start_time(engine: sa.Engine, settings: Settings) -> None:
    """Days 1 and 2 loaded, then PLAY_TIED's time row inserted again by hand."""
    load.run(engine, settings, plan=part(settings, (1, 2)))
    unenforce(engine, time)
    insert_copy(engine, time, time.c.start_time == TIED)


def test_a_run_the_gate_stopped_is_in_the_load_history_as_failed_with_its_message(
    engine: sa.Engine, settings: Settings
) -> None:
    plant_a_duplicate_start_time(engine, settings)
    with pytest.raises(QualityGateError) as caught:
        load.run(engine, settings)
    with engine.connect() as conn:
        last = history.recent(conn, 1)[0]
    assert (last.status, last.error) == ("failed", str(caught.value))
    assert "audit" in last.seconds  # how long the gate ran before it stopped the run


def test_a_duplicate_songplay_key_the_run_does_not_write_is_left_to_sparkify_check(
    engine: sa.Engine, settings: Settings
) -> None:
    # Without an index on it, songplays' key is checked for the run's plays only:
    # a whole-table check would aggregate the whole fact table on every load.
    load.run(engine, settings, plan=part(settings, (1, 2)))
    unenforce(engine, songplays)
    insert_copy(engine, songplays, songplays.c.start_time == TIED, songplay_id=1000)
    report = load.run(engine, settings)  # day 3: not PLAY_TIED's key
    assert report.committed and gate.PLAY_KEY in report.audited
    with engine.connect() as conn:
        failed = [r.name for r in quality.run_checks(conn) if not r.passed]
    assert failed == [gate.PLAY_KEY]


def test_no_audit_lets_the_load_through_the_planted_duplicate(
    engine: sa.Engine, settings: Settings
) -> None:
    plant_a_duplicate_start_time(engine, settings)
    report = load.run(engine, settings, audit=False)
    assert report.committed
    assert "audit" not in report.seconds and report.audited == []
    assert report.inserted["songplays"] == 4


def test_a_song_of_a_missing_artist_played_by_the_run_stops_it(
    engine: sa.Engine, settings: Settings
) -> None:
    load.run(engine, settings, plan=part(settings, (1,)))  # PLAY_TIED: SOTIEA by ARTIE1
    with engine.begin() as conn:
        conn.execute(sa.delete(artists).where(artists.c.artist_id == "ARTIE1"))
    before = warehouse_state(engine)
    # Day 3 plays SOTIEA again (PLAY_SAME_TS_OTHER_USER): a new songplay of ARTIE1.
    with pytest.raises(QualityGateError) as caught:
        load.run(engine, settings, plan=part(settings, (1, 3)))
    assert caught.value.check == "references.songplays.artist_id.artists"
    assert (caught.value.table, caught.value.key, caught.value.sample) == (
        "songplays",
        ("artist_id",),
        (("ARTIE1",),),
    )
    assert warehouse_state(engine) == before


@pytest.mark.parametrize(
    ("dimension", "where", "check", "key"),
    [
        (users, users.c.user_id == 10, "references.songplays.user_id.users", 10),
        (time, time.c.start_time == TIED, "references.songplays.start_time.time", TIED),
    ],
    ids=["user", "time"],
)
def test_a_songplay_re_matched_by_the_run_whose_dimension_row_is_missing_stops_it(
    engine: sa.Engine, settings: Settings, dimension: sa.Table, where: Any, check: str, key: Any
) -> None:
    # PLAY_TIED (user 10) is stored without a match: its song is not loaded yet.
    load.run(engine, settings, plan=part(settings, (1,), songs=("SOCAFE",)))
    with engine.begin() as conn:
        conn.execute(sa.delete(dimension).where(where))
    before = warehouse_state(engine)
    # Its song arrives alone: the re-match updates the play, and only the re-match.
    with pytest.raises(QualityGateError) as caught:
        load.run(engine, settings, plan=part(settings, (1,), songs=("SOTIEA", "SOCAFE")))
    assert (caught.value.check, caught.value.sample) == (check, ((key,),))
    assert warehouse_state(engine) == before


def test_a_staged_play_without_a_songplay_fails_completeness_with_its_key(
    engine: sa.Engine, settings: Settings
) -> None:
    load.run(engine, settings, plan=part(settings, (1,)))
    ts = fx.ms(dt.datetime(2018, 11, 1, 21, 0, 0, 1000))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(staging_events),
            [
                {"page": "NextSong", "user_id": 10, "session_id": 7, "ts": ts},
                {"page": "NextSong", "user_id": 10, "session_id": 7, "ts": ts},  # twice: one key
                {"page": "Home", "user_id": 10, "session_id": 7, "ts": ts + 1},
            ],
        )
        with pytest.raises(QualityGateError) as caught:
            gate.run_gate(conn, execute, gate.probes((), rematched=False))
    assert caught.value.check == "complete.songplays.staging_events"
    assert caught.value.key == ("user_id", "session_id", "ts")
    assert caught.value.sample == ((10, 7, ts),)
    assert "(user_id, session_id, ts): (10, 7, 1541106000001)" in str(caught.value)


def test_an_error_shows_five_offending_keys_and_says_there_are_more(
    engine: sa.Engine, settings: Settings
) -> None:
    load.run(engine, settings, plan=part(settings, (1,)))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(staging_events),
            [{"page": "NextSong", "user_id": 50 + n, "session_id": 1, "ts": n} for n in range(7)],
        )
        with pytest.raises(QualityGateError) as caught:
            gate.run_gate(conn, execute, gate.probes((), rematched=False))
    assert caught.value.sample == tuple((50 + n, 1, n) for n in range(5))
    assert caught.value.more
    assert str(caught.value).count("\n") == 0 and ", ...;" in str(caught.value)
