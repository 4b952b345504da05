"""The data contract (../shared/CONTRACT.md), rule by rule, on PostgreSQL and DuckDB.

The hand-written sources of tests/contract_fixtures.py are loaded once per
(backend, source kind) — local folders and moto's S3 server — and each test
checks one rule against exact expected rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import load, schema
from sparkify.models import artists, songplays, songs, time, users
from tests import contract_fixtures as fx
from tests.warehouse import (
    LOAD_BACKENDS,
    make_engine,
    rows,
    settings_for,
    staged_by,
    star_snapshot,
)

pytestmark = pytest.mark.integration

#: DuckDB loads twice: its log files staged natively, and by the Python path (the reference).
CASES = [(backend, kind) for kind in ("local", "s3") for backend in LOAD_BACKENDS]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx.write_sources(tmp_path_factory.mktemp("contract_sources"))


@pytest.fixture(scope="module")
def s3_sources(sources: dict[str, Path], moto_endpoint: str) -> Iterator[dict[str, str]]:
    """The same sources uploaded to a bucket on moto's S3 server."""
    import boto3

    with pytest.MonkeyPatch.context() as mp:
        for var, value in (
            ("AWS_ENDPOINT_URL", moto_endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ):
            mp.setenv(var, value)
        bucket = f"contract-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", region_name="us-west-2").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        root = sources["song_data"].parent
        fx.upload_tree(root, bucket, "udacity/")
        yield {
            "song_data": f"s3://{bucket}/udacity/song_data",
            "log_data": f"s3://{bucket}/udacity/log_data",
            "log_jsonpath": f"s3://{bucket}/udacity/log_json_path.json",
        }


@pytest.fixture(scope="module", params=CASES, ids=[f"{b}-{s}" for b, s in CASES])
def loaded(
    request: pytest.FixtureRequest,
    pg_url: sa.URL,
    sources: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sa.Engine, load.LoadReport]]:
    """A warehouse built by the migrations and loaded once from the fixture sources."""
    backend, kind = request.param
    paths: dict[str, Any] = sources
    if kind == "s3":
        paths = request.getfixturevalue("s3_sources")
    engine = make_engine(backend, pg_url, tmp_path_factory.mktemp("wh"))
    schema_name = engine.get_execution_options().get("schema_translate_map", {}).get(None)
    schema.upgrade(engine, schema=schema_name)
    if kind == "s3":
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL", request.getfixturevalue("moto_endpoint"))
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            report = load.run(engine, staged_by(settings_for(engine, paths), backend))
    else:
        report = load.run(engine, staged_by(settings_for(engine, paths), backend))
    yield engine, report
    engine.dispose()


def star(
    loaded: tuple[sa.Engine, load.LoadReport], table: sa.Table, skip: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    with loaded[0].connect() as conn:
        return rows(conn, table, skip=skip)


RULE1_TIME = dt.datetime(2018, 11, 1, 20, 57, 10, 796000)
LATER_TIME = dt.datetime(2018, 11, 2, 8, 0, 0, 1000)
WEEK53_TIME = dt.datetime(2021, 1, 3, 12, 0, 0, 123000)
NEW_YEAR_TIME = dt.datetime(2018, 12, 31, 23, 59, 59, 999000)


# -- sources and staging -----------------------------------------------------------------


def test_every_source_object_is_staged_and_nothing_else(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    report = loaded[1]
    # 5 song files (.ipynb_checkpoints and README.txt are not sources), 3 log files
    assert report.objects == {"staging_songs": 5, "staging_events": 3}
    assert report.staged == {"staging_songs": 7, "staging_events": 11}


def test_staging_holds_the_records_as_they_are(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    with loaded[0].connect() as conn:
        cafe = conn.execute(
            sa.text(
                "SELECT title, artist_name, artist_location, duration FROM staging_songs "
                "WHERE song_id = 'SOCAFE'"
            )
        ).one()
        logged_out = conn.execute(
            sa.text("SELECT COUNT(*) FROM staging_events WHERE user_id IS NULL")
        ).scalar()
        registration = conn.execute(
            sa.text("SELECT MAX(registration) FROM staging_events")
        ).scalar()
    assert tuple(cafe) == ("Café \"Quoted\" 'Song'", "Ünïcode Ärtist", "Zürich", 123.45678)
    assert logged_out == 2  # userId "" loads as NULL
    assert registration == 1540991795796


# -- rule 1: start_time --------------------------------------------------------------------


def test_rule1_start_time_keeps_the_milliseconds(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    starts = {r[0] for r in star(loaded, songplays, skip=("songplay_id",))}
    assert RULE1_TIME in starts  # 1541105830796 -> 2018-11-01 20:57:10.796
    assert starts == {RULE1_TIME, LATER_TIME, WEEK53_TIME, NEW_YEAR_TIME}


# -- rules 2 and 3: songplays and the song match -------------------------------------------

EXPECTED_SONGPLAYS = [
    # start_time, user_id, level, song_id, artist_id, session_id, location, user_agent,
    # song_title, artist_name, song_length
    (
        RULE1_TIME,
        10,
        "free",
        "SOTIEA",
        "ARTIE1",
        7,
        "Austin, TX",
        fx.UA,
        "Tied Song",
        "Tie Band",
        200.5,
    ),
    (
        LATER_TIME,
        10,
        "paid",
        "SOCAFE",
        "ARUNI",
        7,
        "Austin, TX",
        fx.UA,
        "Café \"Quoted\" 'Song'",
        "Ünïcode Ärtist",
        123.45678,
    ),
    (
        NEW_YEAR_TIME,
        20,
        "paid",
        None,
        None,
        11,
        "Austin, TX",
        fx.UA,
        "Tied Song",
        "Tie Band",
        200.50001,
    ),
    (WEEK53_TIME, 20, "free", None, None, 9, "Austin, TX", fx.UA, "Nobody Knows", "Nobody", 1.0),
    (
        WEEK53_TIME,
        20,
        "free",
        "SOCASE",
        "ARCASE",
        10,
        "Austin, TX",
        fx.UA,
        "tied song",
        "Tie Band",
        200.5,
    ),
    (
        WEEK53_TIME,
        30,
        "paid",
        "SOTIEA",
        "ARTIE1",
        3,
        "Austin, TX",
        fx.UA,
        "Tied Song",
        "Tie Band",
        200.5,
    ),
]


def test_rule2_one_songplay_per_nextsong_event_of_a_known_user(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    found = star(loaded, songplays, skip=("songplay_id",))
    assert sorted(found, key=str) == sorted(EXPECTED_SONGPLAYS, key=str)


def test_rule2_duplicate_lines_make_one_songplay(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    keys = [(r[1], r[5], r[0]) for r in star(loaded, songplays, skip=("songplay_id",))]
    assert len(keys) == len(set(keys))
    assert keys.count((10, 7, RULE1_TIME)) == 1


def test_rule2_logged_out_plays_are_not_songplays(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    sessions = {r[5] for r in star(loaded, songplays, skip=("songplay_id",))}
    assert 99 not in sessions


def test_rule2_songplay_ids_are_unique(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    ids = [r[0] for r in star(loaded, songplays)]
    assert len(ids) == len(set(ids)) == 6
    assert all(isinstance(i, int) for i in ids)


def test_rule3_tied_matches_take_the_smallest_song_id_and_its_artist(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    found = star(loaded, songplays, skip=("songplay_id",))
    tied = {(r[3], r[4]) for r in found if r[8] == "Tied Song" and r[10] == 200.5}
    assert tied == {("SOTIEA", "ARTIE1")}


def test_rule3_match_is_exact_and_case_sensitive(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    found = star(loaded, songplays, skip=("songplay_id",))
    by_title = {(r[8], r[10]): r[3] for r in found}
    assert by_title[("tied song", 200.5)] == "SOCASE"  # not SOTIEA: case matters
    assert by_title[("Tied Song", 200.50001)] is None  # duration differs: no match
    assert by_title[("Nobody Knows", 1.0)] is None  # unknown song: kept, unmatched


# -- rule 4: users -----------------------------------------------------------------------------


def test_rule4_users_take_their_latest_event_whatever_the_page(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    found = star(loaded, users, skip=("last_event_ts",))
    assert found == [
        (10, "Annie", "Lee", "F", "paid"),  # the Home event is the latest
        (20, "Bob", "Ray", "M", "free"),  # the 2021 plays are later than the 2018 ones
        (30, "Cy", "Doe", "M", "paid"),
    ]


def test_rule4_logged_out_events_make_no_user(loaded: tuple[sa.Engine, load.LoadReport]) -> None:
    assert all(r[0] is not None for r in star(loaded, users))


# -- rule 5: songs ---------------------------------------------------------------------------


def test_rule5_one_row_per_song_with_year_zero_as_null(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    found = star(loaded, songs, skip=("artist_name",))
    assert found == sorted(
        [
            ("SOAMST", "In Amsterdam", "ARTWO", 2000, 181.0),
            ("SOBERL", "In Berlin", "ARTWO", 2000, 180.0),
            ("SOCAFE", "Café \"Quoted\" 'Song'", "ARUNI", 2005, 123.45678),
            ("SOCAFF", "Second Song", "ARUNI", 2000, 99.0),
            ("SOCASE", "tied song", "ARCASE", 2000, 200.5),
            ("SOTIEA", "Tied Song", "ARTIE1", 1999, 200.5),
            ("SOTIEB", "Tied Song", "ARTIE2", None, 200.5),
        ]
    )


# -- rule 6: artists ---------------------------------------------------------------------------


def test_rule6_artists_with_empty_location_as_null_and_values_never_emptied(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    found = star(loaded, artists)
    assert found == [
        ("ARCASE", "Tie Band", None, None, None),
        ("ARTIE1", "Tie Band", None, None, None),
        ("ARTIE2", "Tie Band", None, None, None),
        # Berlin > Amsterdam (greatest non-empty, byte order), coordinates with it
        ("ARTWO", "Two Cities", "Berlin", 52.52, 13.40),
        # SOCAFF's empty location and null coordinates never replace Zürich's
        ("ARUNI", "Ünïcode Ärtist", "Zürich", 47.37, 8.54),
    ]


# -- rule 7: time -------------------------------------------------------------------------------


def test_rule7_time_parts_in_utc_iso_week_and_dow(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    assert star(loaded, time) == [
        # start_time, hour, day, week, month, year, weekday (0 = Sunday)
        (RULE1_TIME, 20, 1, 44, 11, 2018, 4),
        (LATER_TIME, 8, 2, 44, 11, 2018, 5),
        (NEW_YEAR_TIME, 23, 31, 1, 12, 2018, 1),  # ISO week 1 (of 2019), calendar year 2018
        (WEEK53_TIME, 12, 3, 53, 1, 2021, 0),  # ISO week 53 (of 2020), calendar year 2021
    ]


def test_rule7_one_time_row_per_distinct_songplay_start(
    loaded: tuple[sa.Engine, load.LoadReport],
) -> None:
    starts = {r[0] for r in star(loaded, songplays, skip=("songplay_id",))}
    assert [r[0] for r in star(loaded, time)] == sorted(starts)


# -- every backend, every source kind: the same rows -------------------------------------------

_SNAPSHOTS: dict[str, dict[str, list[tuple[Any, ...]]]] = {}


def test_every_backend_and_source_kind_gives_the_same_rows(
    loaded: tuple[sa.Engine, load.LoadReport], request: pytest.FixtureRequest
) -> None:
    snapshot = star_snapshot(loaded[0])
    _SNAPSHOTS[request.node.callspec.id] = snapshot
    for other in _SNAPSHOTS.values():
        assert other == snapshot


# -- a run twice, and a failed run --------------------------------------------------------------


def star_only(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {name: found for name, found in snapshot.items() if not name.startswith("staging")}


@pytest.mark.parametrize("backend", LOAD_BACKENDS)
def test_running_twice_gives_the_same_tables(
    backend: str, pg_url: sa.URL, sources: dict[str, Path], tmp_path: Path
) -> None:
    engine = make_engine(backend, pg_url, tmp_path)
    schema.upgrade(
        engine, schema=engine.get_execution_options().get("schema_translate_map", {}).get(None)
    )
    settings = staged_by(settings_for(engine, sources), backend)
    load.run(engine, settings, mode="full")
    first = star_snapshot(engine)
    # A full refresh again: every table, staging included, is the same.
    load.run(engine, settings, mode="full")
    assert star_snapshot(engine) == first
    # An incremental run finds nothing new: it stages nothing and changes no star row.
    again = load.run(engine, settings, mode="incremental")
    assert again.objects == {"staging_events": 0, "staging_songs": 0}
    assert again.skipped_objects == {"staging_events": 3, "staging_songs": 5}
    assert sum(again.inserted.values()) == sum(again.updated.values()) == 0
    assert star_only(star_snapshot(engine)) == star_only(first)
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_a_failing_step_leaves_the_warehouse_as_it_was(
    backend: str, pg_url: sa.URL, sources: dict[str, Path], tmp_path: Path
) -> None:
    engine = make_engine(backend, pg_url, tmp_path)
    schema.upgrade(
        engine, schema=engine.get_execution_options().get("schema_translate_map", {}).get(None)
    )
    settings = settings_for(engine, sources)
    load.run(engine, settings)
    before = star_snapshot(engine)
    # Make the last transform step fail for real: its table is gone.
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE time RENAME TO time_away"))
    changed = settings.with_sources(log_data=str(sources["log_data"] / "2018" / "11"))
    with pytest.raises(Exception, match="time"):
        load.run(engine, changed)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE time_away RENAME TO time"))
    assert star_snapshot(engine) == before
    engine.dispose()
