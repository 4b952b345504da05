"""Data-quality checks and table counts on PostgreSQL and DuckDB.

Every check passes on a small clean warehouse and fails, with the right number
of failing rows, on data broken for it.

PostgreSQL and DuckDB enforce NOT NULL, PRIMARY KEY and UNIQUE, so NULL and
duplicate keys cannot be inserted into the real tables; Redshift enforces
NOT NULL only, which is why the checks exist. Those checks are shown failing
on a "Redshift-like" copy of the warehouse: the same tables and columns without
any constraint, in a schema of their own, reached through SQLAlchemy's
``schema_translate_map`` (as sparkify reaches a configured schema). The checks
run unchanged, so the SQL under test is the SQL that runs on Redshift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb_engine
import pytest
import sqlalchemy as sa

from sparkify import models, quality
from sparkify.counts import table_counts, table_counts_query
from sparkify.db import engine_for_url
from sparkify.errors import DatabaseError
from sparkify.quality import CheckResult, run_checks
from sparkify.sql import start_time
from tests.redshift_sql import REDSHIFT, assert_redshift_parses, compile_redshift
from tests.warehouse import time_row

pytestmark = pytest.mark.integration

TABLE = models.metadata.tables

EPOCH = dt.datetime(1970, 1, 1)
UNENFORCED = "quality_unenforced"


def epoch_ms(moment: dt.datetime) -> int:
    """A naive UTC datetime as epoch milliseconds, exactly."""
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


P1 = dt.datetime(2018, 11, 1, 20, 57, 10, 796000)  # ts 1541105830796, the contract's example
P2 = dt.datetime(2018, 11, 5, 23, 59, 59, 999000)
P3 = dt.datetime(2018, 11, 6, 0, 0, 0, 1000)

USERS: list[dict[str, Any]] = [
    {
        "user_id": 1,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "gender": "F",
        "level": "paid",
        "last_event_ts": epoch_ms(P1),
    },
    {
        "user_id": 2,
        "first_name": "Bob",
        "last_name": "Dylan",
        "gender": "M",
        "level": "free",
        "last_event_ts": epoch_ms(P3),
    },
]
ARTISTS: list[dict[str, Any]] = [
    {"artist_id": "AR1", "name": "Alpha"},
    {"artist_id": "AR2", "name": "Beta"},
]
SONGS: list[dict[str, Any]] = [
    {"song_id": "SO1", "title": "Song One", "artist_id": "AR1", "duration": 200.5},
    {"song_id": "SO2", "title": "Song Two", "artist_id": "AR2", "duration": 180.0},
]
SONGPLAYS: list[dict[str, Any]] = [
    {
        "start_time": P1,
        "user_id": 1,
        "level": "paid",
        "song_id": "SO1",
        "artist_id": "AR1",
        "session_id": 10,
    },
    {
        "start_time": P2,
        "user_id": 2,
        "level": "free",
        "song_id": "SO2",
        "artist_id": "AR2",
        "session_id": 20,
    },
    {
        "start_time": P3,
        "user_id": 2,
        "level": "free",
        "song_id": None,
        "artist_id": None,
        "session_id": 20,
    },
]
STAGING_SONGS: list[dict[str, Any]] = [
    {
        "song_id": s["song_id"],
        "title": s["title"],
        "artist_id": s["artist_id"],
        "artist_name": a["name"],
        "duration": s["duration"],
        "num_songs": 1,
    }
    for s, a in zip(SONGS, ARTISTS, strict=True)
]


def event(
    user: int | None, session: int, moment: dt.datetime, page: str = "NextSong", item: int = 0
) -> dict[str, Any]:
    return {
        "user_id": user,
        "session_id": session,
        "ts": epoch_ms(moment),
        "page": page,
        "item_in_session": item,
    }


STAGING_EVENTS: list[dict[str, Any]] = [
    event(1, 10, P1),
    event(1, 10, P1),  # the same line staged twice: still one songplay
    event(2, 20, P2),
    event(2, 20, P3),
    event(2, 20, P3 - dt.timedelta(seconds=5), page="Home"),  # not a play
    event(None, 30, P3, item=1),  # logged out: not a play
]


def load_clean_data(conn: sa.Connection, *, songplay_ids: bool = False) -> None:
    """Insert a small warehouse that passes every check.

    songplay_id comes from the database, except on the unenforced copy (no identity).
    """
    plays = [{**p, "songplay_id": i} if songplay_ids else p for i, p in enumerate(SONGPLAYS)]
    conn.execute(sa.insert(TABLE["users"]), USERS)
    conn.execute(sa.insert(TABLE["artists"]), ARTISTS)
    conn.execute(sa.insert(TABLE["songs"]), SONGS)
    conn.execute(sa.insert(TABLE["time"]), [time_row(p["start_time"]) for p in SONGPLAYS])
    conn.execute(sa.insert(TABLE["songplays"]), plays)
    conn.execute(sa.insert(TABLE["staging_songs"]), STAGING_SONGS)
    conn.execute(sa.insert(TABLE["staging_events"]), STAGING_EVENTS)


@pytest.fixture
def warehouse(engine: sa.Engine) -> sa.Engine:
    """Each backend in turn, holding the clean data."""
    with engine.begin() as conn:
        load_clean_data(conn)
    return engine


@pytest.fixture
def unenforced(engine: sa.Engine) -> Iterator[sa.Engine]:
    """A Redshift-like warehouse: every table, no NOT NULL, key or identity; clean data in it.

    Yields an engine whose statements on the models' tables go to that copy.
    """
    copy = sa.MetaData()
    for table in models.metadata.sorted_tables:
        sa.Table(table.name, copy, *(sa.Column(c.name, c.type) for c in table.columns))
    with engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(UNENFORCED, cascade=True, if_exists=True))
        conn.execute(sa.schema.CreateSchema(UNENFORCED))
    mapped = engine.execution_options(schema_translate_map={None: UNENFORCED})
    with mapped.begin() as conn:
        copy.create_all(conn)
        load_clean_data(conn, songplay_ids=True)
    yield mapped
    with engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(UNENFORCED, cascade=True, if_exists=True))


def results(engine: sa.Engine) -> dict[str, CheckResult]:
    with engine.connect() as conn:
        return {result.name: result for result in run_checks(conn)}


def failures(engine: sa.Engine) -> dict[str, int]:
    """The failing checks and their failing rows."""
    return {r.name: r.failing_rows for r in results(engine).values() if not r.passed}


def insert(engine: sa.Engine, table: sa.Table, *rows: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table), list(rows))


def play(**overrides: Any) -> dict[str, Any]:
    """A songplay that breaks nothing (a new session of user 1 at a known time), overridden."""
    return {
        "start_time": P1,
        "user_id": 1,
        "level": "paid",
        "song_id": "SO1",
        "artist_id": "AR1",
        "session_id": 99,
        **overrides,
    }


# Table counts -------------------------------------------------------------------------


def test_table_counts_give_every_staging_and_star_table_in_order(warehouse: sa.Engine) -> None:
    with warehouse.connect() as conn:
        counts = table_counts(conn)
    assert list(counts.items()) == [
        ("staging_events", 6),
        ("staging_songs", 2),
        ("songplays", 3),
        ("users", 2),
        ("songs", 2),
        ("artists", 2),
        ("time", 3),
    ]


def test_table_counts_are_zero_on_an_empty_warehouse(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert set(table_counts(conn).values()) == {0}


def test_table_counts_on_a_missing_table_are_a_database_error(duckdb_url: sa.URL) -> None:
    engine = engine_for_url(duckdb_url)  # no schema built
    with engine.connect() as conn, pytest.raises(DatabaseError, match="counting table rows"):
        table_counts(conn)
    engine.dispose()


# Clean data ---------------------------------------------------------------------------


def test_every_check_passes_on_clean_data(warehouse: sa.Engine) -> None:
    found = results(warehouse)
    assert len(found) == 23
    assert [name for name, r in found.items() if not r.passed] == []
    assert {r.failing_rows for r in found.values()} == {0}
    assert found["references.songplays.user_id.users"].detail == (
        "every songplays.user_id is in users"
    )


def test_every_check_passes_on_clean_data_without_constraints(unenforced: sa.Engine) -> None:
    assert failures(unenforced) == {}


def test_check_names_are_stable() -> None:
    assert [check.name for check in quality.checks()] == [
        "not_null.songplays.songplay_id",
        "not_null.songplays.start_time",
        "not_null.songplays.user_id",
        "not_null.users.user_id",
        "not_null.songs.song_id",
        "not_null.artists.artist_id",
        "not_null.time.start_time",
        "unique.songplays.songplay_id",
        "unique.songplays.user_id.session_id.start_time",
        "unique.users.user_id",
        "unique.songs.song_id",
        "unique.artists.artist_id",
        "unique.time.start_time",
        "references.songplays.user_id.users",
        "references.songplays.start_time.time",
        "references.songplays.song_id.songs",
        "references.songplays.artist_id.artists",
        "complete.songplays.staging_events",
        "not_empty.songplays",
        "not_empty.users",
        "not_empty.songs",
        "not_empty.artists",
        "not_empty.time",
    ]


# References ---------------------------------------------------------------------------


def test_songplays_of_an_unknown_user_fail_the_users_reference(warehouse: sa.Engine) -> None:
    insert(warehouse, TABLE["songplays"], play(user_id=77), play(user_id=78))
    assert failures(warehouse) == {"references.songplays.user_id.users": 2}
    assert results(warehouse)["references.songplays.user_id.users"].detail == (
        "2 songplays row(s) whose user_id is not in users"
    )


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ({"start_time": P1 + dt.timedelta(milliseconds=1)}, "references.songplays.start_time.time"),
        ({"song_id": "SO-UNKNOWN"}, "references.songplays.song_id.songs"),
        ({"artist_id": "AR-UNKNOWN"}, "references.songplays.artist_id.artists"),
    ],
    ids=["time", "song", "artist"],
)
def test_a_songplay_with_an_unknown_dimension_key_fails_its_reference(
    warehouse: sa.Engine, override: dict[str, Any], check: str
) -> None:
    insert(warehouse, TABLE["songplays"], play(**override))
    assert failures(warehouse) == {check: 1}


def test_unmatched_songplays_with_null_song_and_artist_pass_the_references(
    warehouse: sa.Engine,
) -> None:
    insert(warehouse, TABLE["songplays"], play(song_id=None, artist_id=None))
    assert failures(warehouse) == {}


# Completeness against staging ---------------------------------------------------------


def test_a_staged_play_without_a_songplay_fails_completeness_once(warehouse: sa.Engine) -> None:
    moment = dt.datetime(2018, 11, 7, 1, 2, 3, 456000)
    insert(warehouse, TABLE["staging_events"], event(1, 11, moment), event(1, 11, moment))
    assert failures(warehouse) == {"complete.songplays.staging_events": 1}
    assert results(warehouse)["complete.songplays.staging_events"].detail == (
        "1 NextSong event(s) of a known user in staging_events have no songplay"
    )


def test_completeness_compares_start_time_to_the_millisecond(warehouse: sa.Engine) -> None:
    insert(warehouse, TABLE["staging_events"], event(1, 10, P1 + dt.timedelta(milliseconds=1)))
    assert failures(warehouse) == {"complete.songplays.staging_events": 1}


def test_completeness_ignores_other_pages_and_logged_out_plays(warehouse: sa.Engine) -> None:
    moment = dt.datetime(2018, 11, 7, 1, 2, 3)
    insert(
        warehouse,
        TABLE["staging_events"],
        event(1, 12, moment, page="Logout"),
        event(None, 12, moment),
    )
    assert failures(warehouse) == {}


def test_completeness_passes_when_staging_holds_only_the_latest_batch(
    warehouse: sa.Engine,
) -> None:
    with warehouse.begin() as conn:
        conn.execute(
            sa.delete(TABLE["staging_events"]).where(TABLE["staging_events"].c.user_id == 1)
        )
    assert failures(warehouse) == {}


# Empty tables -------------------------------------------------------------------------


@pytest.mark.parametrize("table", quality.NON_EMPTY_TABLES)
def test_an_empty_star_table_fails_not_empty(warehouse: sa.Engine, table: str) -> None:
    with warehouse.begin() as conn:
        conn.execute(sa.delete(TABLE[table]))
    result = results(warehouse)[f"not_empty.{table}"]
    assert result == CheckResult(
        f"not_empty.{table}", passed=False, detail=f"{table} is empty", failing_rows=1
    )


# NULL and duplicate keys (Redshift enforces neither keys nor uniqueness) --------------


@pytest.mark.parametrize(
    ("table", "column"), quality.NOT_NULL_KEYS, ids=[f"{t}.{c}" for t, c in quality.NOT_NULL_KEYS]
)
def test_a_null_key_fails_not_null(unenforced: sa.Engine, table: str, column: str) -> None:
    rows: dict[str, dict[str, Any]] = {
        "songplays": {**play(), "songplay_id": 100, column: None},
        "users": {**USERS[0], "user_id": None},
        "songs": {**SONGS[0], "song_id": None},
        "artists": {**ARTISTS[0], "artist_id": None},
        "time": {**time_row(P1), "start_time": None},
    }
    insert(unenforced, TABLE[table], rows[table])
    assert failures(unenforced) == {f"not_null.{table}.{column}": 1}
    assert results(unenforced)[f"not_null.{table}.{column}"].detail == (
        f"1 {table} row(s) with NULL {column}"
    )


DUPLICATES: list[tuple[str, list[dict[str, Any]], str, int]] = [
    ("users", [USERS[0]], "unique.users.user_id", 1),
    ("users", [USERS[1], {**USERS[1], "level": "paid"}], "unique.users.user_id", 2),
    ("songs", [SONGS[0]], "unique.songs.song_id", 1),
    (
        "artists",
        [{**ARTISTS[1], "name": "Beta (spelled otherwise)"}],
        "unique.artists.artist_id",
        1,
    ),
    ("time", [time_row(P2)], "unique.time.start_time", 1),
    (
        "songplays",
        [{**SONGPLAYS[0], "songplay_id": 100}],
        "unique.songplays.user_id.session_id.start_time",
        1,
    ),
    ("songplays", [play(songplay_id=0)], "unique.songplays.songplay_id", 1),
]


@pytest.mark.parametrize(
    ("table", "rows", "check", "surplus"),
    DUPLICATES,
    ids=["user", "user-thrice", "song", "artist", "time", "songplay-event", "songplay-id"],
)
def test_a_duplicate_key_fails_unique_with_its_surplus_rows(
    unenforced: sa.Engine, table: str, rows: list[dict[str, Any]], check: str, surplus: int
) -> None:
    insert(unenforced, TABLE[table], *rows)
    assert failures(unenforced) == {check: surplus}


def test_the_real_tables_refuse_duplicate_keys_so_the_check_cannot_fail_there(
    warehouse: sa.Engine,
) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        insert(warehouse, TABLE["users"], USERS[0])
    assert failures(warehouse) == {}


# SQL for Redshift ---------------------------------------------------------------------


@pytest.mark.parametrize("check", quality.checks(), ids=lambda check: check.name)
def test_check_compiles_to_sql_that_redshift_parses(check: quality.Check) -> None:
    assert_redshift_parses(compile_redshift(check.query))


@pytest.mark.parametrize("dialect", [REDSHIFT, duckdb_engine.Dialect()], ids=["redshift", "duckdb"])
def test_completeness_converts_ts_as_the_loader_does(dialect: sa.Dialect) -> None:
    def sql(element: sa.ClauseElement) -> str:
        return str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    loaders = sql(start_time(TABLE["staging_events"].c.ts))
    assert loaders in sql(quality.unloaded_events())


def test_table_counts_compile_to_sql_that_redshift_parses() -> None:
    assert_redshift_parses(compile_redshift(table_counts_query()))


def test_a_missing_table_is_a_database_error_naming_the_check(duckdb_url: sa.URL) -> None:
    engine = engine_for_url(duckdb_url)  # no schema built
    with (
        engine.connect() as conn,
        pytest.raises(
            DatabaseError, match=r"data-quality check not_null\.songplays\.songplay_id failed"
        ),
    ):
        run_checks(conn)
    engine.dispose()
