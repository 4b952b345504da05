"""The analytics questions on PostgreSQL and DuckDB, over ten hand-written plays.

The plays (UTC; weekday 0 = Sunday):

| start_time              | wd | user | level | song       | artist | location | browser |
|-------------------------|----|------|-------|------------|--------|----------|---------|
| 2018-11-01 20:57:10.796 | 4  | 1    | paid  | Song One   | Alpha  | SF       | Chrome  |
| 2018-11-01 20:59:02     | 4  | 1    | paid  | Song One   | Alpha  | SF       | Chrome  |
| 2018-11-02 08:00:00     | 5  | 2    | free  | Song One   | Alpha  | Austin   | Firefox |
| 2018-11-03 09:15:00     | 6  | 2    | free  | Song Two   | Beta   | Austin   | Firefox |
| 2018-11-04 09:30:00     | 0  | 3    | paid  | Song Two   | Beta   | Boston   | Safari  |
| 2018-11-04 12:00:00     | 0  | 3    | paid  | (no match) |        | Boston   | Safari  |
| 2018-11-05 23:59:59.999 | 1  | 1    | paid  | Song Three | Alpha  | SF       | IE 11   |
| 2018-11-05 00:00:00     | 1  | 2    | free  | (no match) |        | Austin   | curl    |
| 2018-11-06 20:10:00     | 2  | 1    | paid  | (no match) |        | SF       | Edge    |
| 2018-11-07 15:00:00     | 3  | 2    | free  | Song Two   | Beta   | (none)   | Chrome  |
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import analytics, models
from sparkify.analytics import QUESTIONS, Answer
from sparkify.db import engine_for_url
from sparkify.errors import DatabaseError, MissingExtraError, UnknownQuestionError
from tests.redshift_sql import assert_redshift_parses, compile_redshift
from tests.warehouse import empty_all, time_row

pytestmark = pytest.mark.integration

TABLE = models.metadata.tables

CHROME = (
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"'
)
FIREFOX = "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0"
SAFARI = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 '
    '(KHTML, like Gecko) Version/7.0.5 Safari/537.77.4"'
)
IE11 = "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0) like Gecko"
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/70.0.3538.102 Safari/537.36 Edge/18.18362"
)
CURL = "curl/7.61.0"

SF, AUSTIN, BOSTON = "San Francisco, CA", "Austin-Round Rock, TX", "Boston-Cambridge, MA-NH"

USERS: list[dict[str, Any]] = [
    {
        "user_id": 1,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "gender": "F",
        "level": "paid",
        "last_event_ts": 1541548200000,
    },
    {
        "user_id": 2,
        "first_name": "Bob",
        "last_name": "Dylan",
        "gender": "M",
        "level": "free",
        "last_event_ts": 1541602800000,
    },
    {
        "user_id": 3,
        "first_name": "Cy",
        "last_name": "Twombly",
        "gender": "M",
        "level": "paid",
        "last_event_ts": 1541332800000,
    },
]
ARTISTS: list[dict[str, Any]] = [
    {"artist_id": "AR1", "name": "Alpha", "location": None, "latitude": None, "longitude": None},
    {"artist_id": "AR2", "name": "Beta", "location": None, "latitude": None, "longitude": None},
    {"artist_id": "AR3", "name": "Gamma", "location": None, "latitude": None, "longitude": None},
]
SONGS: list[dict[str, Any]] = [
    {"song_id": "SO1", "title": "Song One", "artist_id": "AR1", "year": 2001, "duration": 200.5},
    {"song_id": "SO2", "title": "Song Two", "artist_id": "AR2", "year": None, "duration": 180.0},
    {"song_id": "SO3", "title": "Song Three", "artist_id": "AR1", "year": 1999, "duration": 99.9},
    {"song_id": "SO4", "title": "Song Four", "artist_id": "AR3", "year": 1990, "duration": 60.0},
]


def _play(
    start: dt.datetime,
    user: int,
    level: str,
    song: str | None,
    session: int,
    location: str | None,
    agent: str,
) -> dict[str, Any]:
    artist = {"SO1": "AR1", "SO2": "AR2", "SO3": "AR1", None: None}[song]
    return {
        "start_time": start,
        "user_id": user,
        "level": level,
        "song_id": song,
        "artist_id": artist,
        "session_id": session,
        "location": location,
        "user_agent": agent,
    }


SONGPLAYS: list[dict[str, Any]] = [
    _play(dt.datetime(2018, 11, 1, 20, 57, 10, 796000), 1, "paid", "SO1", 10, SF, CHROME),
    _play(dt.datetime(2018, 11, 1, 20, 59, 2), 1, "paid", "SO1", 10, SF, CHROME),
    _play(dt.datetime(2018, 11, 2, 8, 0, 0), 2, "free", "SO1", 20, AUSTIN, FIREFOX),
    _play(dt.datetime(2018, 11, 3, 9, 15, 0), 2, "free", "SO2", 21, AUSTIN, FIREFOX),
    _play(dt.datetime(2018, 11, 4, 9, 30, 0), 3, "paid", "SO2", 30, BOSTON, SAFARI),
    _play(dt.datetime(2018, 11, 4, 12, 0, 0), 3, "paid", None, 30, BOSTON, SAFARI),
    _play(dt.datetime(2018, 11, 5, 23, 59, 59, 999000), 1, "paid", "SO3", 11, SF, IE11),
    _play(dt.datetime(2018, 11, 5, 0, 0, 0), 2, "free", None, 22, AUSTIN, CURL),
    _play(dt.datetime(2018, 11, 6, 20, 10, 0), 1, "paid", None, 12, SF, EDGE),
    _play(dt.datetime(2018, 11, 7, 15, 0, 0), 2, "free", "SO2", 23, None, CHROME),
]


def load_plays(engine: sa.Engine) -> None:
    """Insert the ten plays and their dimensions; songplay_id comes from the database."""
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE["users"]), USERS)
        conn.execute(sa.insert(TABLE["artists"]), ARTISTS)
        conn.execute(sa.insert(TABLE["songs"]), SONGS)
        conn.execute(sa.insert(TABLE["time"]), [time_row(p["start_time"]) for p in SONGPLAYS])
        conn.execute(sa.insert(TABLE["songplays"]), SONGPLAYS)


@pytest.fixture
def plays(engine: sa.Engine) -> sa.Engine:
    """Each backend in turn, holding the ten plays."""
    load_plays(engine)
    return engine


def answer(engine: sa.Engine, name: str, limit: int = 10) -> Answer:
    with engine.connect() as conn:
        return analytics.run(conn, name, limit)


def test_most_played_songs_break_ties_by_title(plays: sa.Engine) -> None:
    result = answer(plays, "songs")
    assert result.columns == ["title", "artist", "plays"]
    assert result.rows == [
        ("Song One", "Alpha", 3),
        ("Song Two", "Beta", 3),
        ("Song Three", "Alpha", 1),
    ]


def test_limit_keeps_the_top_rows(plays: sa.Engine) -> None:
    assert answer(plays, "songs", limit=1).rows == [("Song One", "Alpha", 3)]
    assert answer(plays, "users", limit=2).rows == [
        (1, "Ada", "Lovelace", 4),
        (2, "Bob", "Dylan", 4),
    ]


def test_most_played_artists_count_every_song_of_the_artist(plays: sa.Engine) -> None:
    result = answer(plays, "artists")
    assert result.columns == ["artist", "plays"]
    assert result.rows == [("Alpha", 4), ("Beta", 3)]


def test_plays_by_hour_come_from_the_time_table(plays: sa.Engine) -> None:
    result = answer(plays, "hours")
    assert result.columns == ["hour", "plays"]
    assert result.rows == [(0, 1), (8, 1), (9, 2), (12, 1), (15, 1), (20, 3), (23, 1)]


def test_plays_by_weekday_start_on_sunday(plays: sa.Engine) -> None:
    result = answer(plays, "weekdays")
    assert result.columns == ["weekday", "day", "plays"]
    assert result.rows == [
        (0, "Sunday", 2),
        (1, "Monday", 2),
        (2, "Tuesday", 1),
        (3, "Wednesday", 1),
        (4, "Thursday", 2),
        (5, "Friday", 1),
        (6, "Saturday", 1),
    ]


def test_level_share_is_a_fraction_of_all_plays(plays: sa.Engine) -> None:
    result = answer(plays, "levels")
    assert result.columns == ["level", "plays", "share"]
    assert result.rows == [("paid", 6, 0.6), ("free", 4, 0.4)]
    assert all(isinstance(share, float) for _, _, share in result.rows)


def test_most_active_users_break_ties_by_user_id(plays: sa.Engine) -> None:
    result = answer(plays, "users")
    assert result.columns == ["user_id", "first_name", "last_name", "plays"]
    assert result.rows == [
        (1, "Ada", "Lovelace", 4),
        (2, "Bob", "Dylan", 4),
        (3, "Cy", "Twombly", 2),
    ]


def test_top_locations_leave_out_plays_without_one(plays: sa.Engine) -> None:
    result = answer(plays, "locations")
    assert result.columns == ["location", "plays"]
    assert result.rows == [(SF, 4), (AUSTIN, 3), (BOSTON, 2)]


def test_plays_by_user_agent_family(plays: sa.Engine) -> None:
    result = answer(plays, "user_agents")
    assert result.columns == ["family", "plays"]
    assert result.rows == [
        ("Chrome", 3),
        ("Firefox", 2),
        ("Safari", 2),
        ("Edge", 1),
        ("Internet Explorer", 1),
        ("Other", 1),
    ]


AGENTS = {
    CHROME: "Chrome",
    FIREFOX: "Firefox",
    SAFARI: "Safari",
    IE11: "Internet Explorer",
    EDGE: "Edge",
    CURL: "Other",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)": "Internet Explorer",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91": "Edge",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0": "Opera",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 "
    "(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53": "Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1": "Chrome",
    "": "Other",
}


def test_user_agent_family_tries_the_more_specific_families_first(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        found = {
            agent: conn.execute(
                sa.select(analytics.user_agent_family(sa.literal(agent, sa.String)))
            ).scalar_one()
            for agent in AGENTS
        }
        null_agent = conn.execute(
            sa.select(analytics.user_agent_family(sa.null().cast(sa.String)))
        ).scalar_one()
    assert found == AGENTS
    assert null_agent == "Other"


def test_questions_on_an_empty_warehouse_have_no_rows(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        answers = analytics.run_all(conn)
    assert [a.name for a in answers] == list(QUESTIONS)
    assert all(a.rows == [] for a in answers)


def test_every_question_answers_the_same_on_postgresql_and_duckdb(
    pg_warehouse: sa.Engine, duckdb_warehouse: sa.Engine
) -> None:
    empty_all(pg_warehouse)
    answers = []
    for engine in (pg_warehouse, duckdb_warehouse):
        load_plays(engine)
        with engine.connect() as conn:
            answers.append(analytics.run_all(conn, limit=5))
    on_postgresql, on_duckdb = answers
    assert on_postgresql == on_duckdb
    assert [[tuple(type(v) for v in row) for row in a.rows] for a in on_postgresql] == [
        [tuple(type(v) for v in row) for row in a.rows] for a in on_duckdb
    ]


def test_an_unknown_question_names_the_known_ones() -> None:
    with pytest.raises(UnknownQuestionError, match="unknown question 'nope'; choose from: songs"):
        analytics.run(None, "nope")  # type: ignore[arg-type]


def test_a_missing_table_is_a_database_error(duckdb_url: sa.URL) -> None:
    engine = engine_for_url(duckdb_url)  # no schema built
    with engine.connect() as conn, pytest.raises(DatabaseError, match="analytics question songs"):
        analytics.run(conn, "songs")
    engine.dispose()


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_question_compiles_to_sql_that_redshift_parses(name: str) -> None:
    sql = compile_redshift(QUESTIONS[name](limit=10))
    assert_redshift_parses(sql)


def test_every_question_has_a_description() -> None:
    assert all(q.description and q.name == name for name, q in QUESTIONS.items())


LEVELS = Answer(
    "levels",
    "Free vs paid share of plays",
    ["level", "plays", "share"],
    [("paid", 6, 0.6), ("free", 4, 0.4)],
)
HOURS = Answer("hours", "Plays by hour of day (UTC)", ["hour", "plays"], [(0, 1), (20, 3)])


def test_charts_without_matplotlib_say_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A None entry in sys.modules makes the import fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError) as caught:
        analytics.write_charts([LEVELS], tmp_path / "charts")
    message = str(caught.value)
    assert "pip install 'sparkify[charts]'" in message
    assert "uv sync --extra charts" in message
    assert not (tmp_path / "charts").exists()


def test_charts_are_png_files_when_matplotlib_is_installed(tmp_path: Path) -> None:
    out = tmp_path / "charts"
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(MissingExtraError, match=r"sparkify\[charts\]"):
            analytics.write_charts([LEVELS, HOURS], out)
        return
    written = analytics.write_charts([LEVELS, HOURS], out)
    assert written == [out / "levels.png", out / "hours.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
