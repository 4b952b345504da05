"""The star transforms as Redshift gets them, run on the PostgreSQL stand-in.

Redshift descends from PostgreSQL 8.0, so the statements compiled for the
*Redshift dialect* (values inlined: the exact text Redshift would receive) also
run on PostgreSQL. Here they run, in ``transform.STEPS`` order, on hand-written
staging rows covering the contract's rules 1-7, and must give the contract's
star rows; the PostgreSQL-compiled statements must give the same tables.

One construct differs by design: ``sparkify.sql.binary`` (byte-order text
comparison) is plain on Redshift, whose text order is bytewise, and
``COLLATE "C"`` on PostgreSQL, whose order follows the database collation. The
rows below are chosen so that no result depends on collation (ties are broken
by distinct ts or song ids that sort alike in every collation), so the Redshift
text is a fair check on any stand-in; the last tests show why PostgreSQL needs
the COLLATE.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import schema, transform
from sparkify.db import engine_for_url
from sparkify.models import (
    artists,
    songplays,
    songs,
    staging_events,
    staging_songs,
    time,
    users,
)
from sparkify.sql import binary
from tests.redshift_sql import compile_redshift

pytestmark = pytest.mark.integration


# -- staging rows ---------------------------------------------------------------------


def song(
    song_id: str,
    title: str,
    artist_id: str,
    artist_name: str,
    duration: float,
    year: int,
    location: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
) -> dict[str, Any]:
    return {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_latitude": latitude,
        "artist_longitude": longitude,
        "artist_location": location,
        "artist_name": artist_name,
        "song_id": song_id,
        "title": title,
        "duration": duration,
        "year": year,
    }


SONG_ROWS = [
    # Two songs match the same play (title, artist name, duration): the smallest
    # song_id wins (rule 3). The larger one is staged first.
    song("SOTIE2", "Tie Song", "ARTIE2", "Tie Artist", 200.5, 0),
    song("SOTIE1", "Tie Song", "ARTIE1", "Tie Artist", 200.5, 2001, "Charlotte, NC", 35.5, -80.25),
    # The same record twice (a file loaded again): one song, one artist.
    song("SOTIE1", "Tie Song", "ARTIE1", "Tie Artist", 200.5, 2001, "Charlotte, NC", 35.5, -80.25),
    # Year 0 is unknown (rule 5); an empty location never replaces Berlin (rule 6).
    song("SOSOLO", "Solo Song", "ARSOLO", "Solo Artist", 180.25, 0),
    song("SOSOLO2", "Other Song", "ARSOLO", "Solo Artist", 99.0, 1999, "Berlin", 52.52, 13.405),
]


def event(
    user_id: int | None,
    ts: int,
    *,
    page: str = "NextSong",
    session_id: int = 100,
    item: int = 0,
    song: str | None = None,
    artist: str | None = None,
    length: float | None = None,
    first_name: str | None = "Ana",
    last_name: str | None = "Lee",
    gender: str | None = "F",
    level: str = "free",
) -> dict[str, Any]:
    logged_in = user_id is not None
    return {
        "artist": artist,
        "auth": "Logged In" if logged_in else "Logged Out",
        "first_name": first_name if logged_in else None,
        "gender": gender if logged_in else None,
        "item_in_session": item,
        "last_name": last_name if logged_in else None,
        "length": length,
        "level": level,
        "location": f"Town of {user_id}" if logged_in else None,
        "method": "PUT" if page == "NextSong" else "GET",
        "page": page,
        "registration": 1540991795796 if logged_in else None,
        "session_id": session_id,
        "song": song,
        "status": 200,
        "ts": ts,
        "user_agent": f"UA-{user_id}",
        "user_id": user_id,
    }


TS_ANA_1 = 1541105830796  # 2018-11-01 20:57:10.796 UTC (rule 1: ms kept)
TS_ANA_2 = TS_ANA_1 + 200_500  # 2018-11-01 21:00:31.296
TS_ANA_HOME = 1541106100000  # later, not a NextSong
TS_BO_OLD = 1609600000000  # 2021-01-02 15:06:40, a Saturday (weekday 6)
TS_BO_1 = 1609675200000  # 2021-01-03 12:00:00, a Sunday: ISO week 53 of 2020, year 2021
TS_BO_2 = 1609675260000  # 2021-01-03 12:01:00

PLAY_TIE = {"song": "Tie Song", "artist": "Tie Artist", "length": 200.5}
PLAY_SOLO = {"song": "Solo Song", "artist": "Solo Artist", "length": 180.25}

EVENT_ROWS = [
    event(10, TS_ANA_1, item=0, **PLAY_TIE),
    # The same event twice (duplicate line): one songplay (rule 2).
    event(10, TS_ANA_1, item=0, **PLAY_TIE),
    event(10, TS_ANA_2, item=1, **PLAY_SOLO),
    # Ana's latest event is no NextSong: her attributes still come from it (rule 4).
    event(10, TS_ANA_HOME, item=2, page="Home", last_name="Lee-Smith", level="paid"),
    # Logged out: no songplay, no user, no time row.
    event(None, TS_ANA_1 + 1, session_id=200, **PLAY_TIE),
    # Bo: the newer events are staged before the older one (rule 4 by ts, not order).
    event(20, TS_BO_1, session_id=300, item=1, first_name="Bo", last_name="Kim", gender="M",
          level="paid", song="Unknown Song", artist="Nobody", length=100.0),
    # Title differs by case only: no match (rule 3 is case-sensitive).
    event(20, TS_BO_2, session_id=300, item=2, first_name="Bo", last_name="Kim", gender="M",
          level="paid", song="tie song", artist="Tie Artist", length=200.5),
    event(20, TS_BO_OLD, session_id=299, item=0, first_name="Bob", last_name="Kim", gender="M",
          level="free", **PLAY_SOLO),
]  # fmt: skip


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


EXPECTED = {
    "songplays": [
        (at("2018-11-01 20:57:10.796"), 10, "free", "SOTIE1", "ARTIE1", 100, "Town of 10", "UA-10"),
        (at("2018-11-01 21:00:31.296"), 10, "free", "SOSOLO", "ARSOLO", 100, "Town of 10", "UA-10"),
        (at("2021-01-02 15:06:40"), 20, "free", "SOSOLO", "ARSOLO", 299, "Town of 20", "UA-20"),
        (at("2021-01-03 12:00:00"), 20, "paid", None, None, 300, "Town of 20", "UA-20"),
        (at("2021-01-03 12:01:00"), 20, "paid", None, None, 300, "Town of 20", "UA-20"),
    ],
    "users": [
        (10, "Ana", "Lee-Smith", "F", "paid"),
        (20, "Bo", "Kim", "M", "paid"),
    ],
    "songs": [
        ("SOSOLO", "Solo Song", "ARSOLO", None, 180.25),
        ("SOSOLO2", "Other Song", "ARSOLO", 1999, 99.0),
        ("SOTIE1", "Tie Song", "ARTIE1", 2001, 200.5),
        ("SOTIE2", "Tie Song", "ARTIE2", None, 200.5),
    ],
    "artists": [
        ("ARSOLO", "Solo Artist", "Berlin", 52.52, 13.405),
        ("ARTIE1", "Tie Artist", "Charlotte, NC", 35.5, -80.25),
        ("ARTIE2", "Tie Artist", None, None, None),
    ],
    "time": [
        (at("2018-11-01 20:57:10.796"), 20, 1, 44, 11, 2018, 4),
        (at("2018-11-01 21:00:31.296"), 21, 1, 44, 11, 2018, 4),
        (at("2021-01-02 15:06:40"), 15, 2, 53, 1, 2021, 6),
        (at("2021-01-03 12:00:00"), 12, 3, 53, 1, 2021, 0),
        (at("2021-01-03 12:01:00"), 12, 3, 53, 1, 2021, 0),
    ],
}  # fmt: skip

#: The contract's columns of each star table (songplay_id, a surrogate key, aside).
COLUMNS = {
    "songplays": (
        songplays,
        [
            "start_time",
            "user_id",
            "level",
            "song_id",
            "artist_id",
            "session_id",
            "location",
            "user_agent",
        ],
    ),
    "users": (users, ["user_id", "first_name", "last_name", "gender", "level"]),
    "songs": (songs, ["song_id", "title", "artist_id", "year", "duration"]),
    "artists": (artists, ["artist_id", "name", "location", "latitude", "longitude"]),
    "time": (time, ["start_time", "hour", "day", "week", "month", "year", "weekday"]),
}


# -- schemas ----------------------------------------------------------------------------


class Warehouse:
    """A warehouse in a PostgreSQL schema of its own, staging filled with the rows above."""

    def __init__(self, pg_url: sa.URL, name: str) -> None:
        self.name = name
        self.admin = engine_for_url(pg_url, poolclass=sa.pool.NullPool)
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        self.engine = engine_for_url(pg_url, schema=name, poolclass=sa.pool.NullPool)
        schema.upgrade(self.engine, schema=name)
        with self.engine.begin() as conn:
            conn.execute(sa.insert(staging_songs), SONG_ROWS)
            conn.execute(sa.insert(staging_events), EVENT_ROWS)

    def run_redshift_text(self) -> list[str]:
        """Run every step as Redshift's SQL text; the text names no schema, so search_path."""
        texts = [compile_redshift(step.build()) for step in transform.STEPS]
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL search_path TO {self.name}")
            for text in texts:
                conn.exec_driver_sql(text)
        return texts

    def run_postgresql(self) -> None:
        """Run every step as PostgreSQL's compile (the schema comes from the translate map)."""
        with self.engine.begin() as conn:
            for step in transform.STEPS:
                conn.execute(step.build())

    def star(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.connect() as conn:
            return {
                name: [
                    tuple(row)
                    for row in conn.execute(
                        sa.select(*(table.c[c] for c in cols)).order_by(*(table.c[c] for c in cols))
                    )
                ]
                for name, (table, cols) in COLUMNS.items()
            }

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {self.name} CASCADE")
        self.admin.dispose()


@pytest.fixture
def make_warehouse(pg_url: sa.URL) -> Iterator[Any]:
    made: list[Warehouse] = []

    def make(label: str) -> Warehouse:
        warehouse = Warehouse(pg_url, f"redshift_sql_{label}_{uuid.uuid4().hex[:8]}")
        made.append(warehouse)
        return warehouse

    yield make
    for warehouse in made:
        warehouse.drop()


# -- the tests --------------------------------------------------------------------------


def test_redshift_compiled_transforms_give_the_contract_rows_on_postgresql(
    make_warehouse: Any,
) -> None:
    warehouse = make_warehouse("rs")
    warehouse.run_redshift_text()
    star = warehouse.star()
    for name, rows in EXPECTED.items():
        assert star[name] == rows, name


def test_redshift_compiled_text_is_run_as_is_with_values_inlined(make_warehouse: Any) -> None:
    warehouse = make_warehouse("rs")
    texts = warehouse.run_redshift_text()
    assert len(texts) == len(transform.STEPS)
    assert any("'NextSong'" in text for text in texts)
    assert not any("COLLATE" in text for text in texts)


def test_songplay_ids_are_unique_surrogate_keys(make_warehouse: Any) -> None:
    warehouse = make_warehouse("rs")
    warehouse.run_redshift_text()
    with warehouse.engine.connect() as conn:
        ids = conn.execute(sa.select(songplays.c.songplay_id)).scalars().all()
    assert len(ids) == len(set(ids)) == len(EXPECTED["songplays"])


def test_running_the_redshift_text_again_on_the_same_staging_changes_nothing(
    make_warehouse: Any,
) -> None:
    warehouse = make_warehouse("rs")
    warehouse.run_redshift_text()
    with warehouse.engine.connect() as conn:
        ids = conn.execute(
            sa.select(songplays.c.songplay_id).order_by(songplays.c.start_time)
        ).all()
    warehouse.run_redshift_text()
    assert warehouse.star() == EXPECTED
    with warehouse.engine.connect() as conn:
        again = conn.execute(
            sa.select(songplays.c.songplay_id).order_by(songplays.c.start_time)
        ).all()
    assert again == ids


def test_redshift_and_postgresql_compiles_build_identical_star_tables(
    make_warehouse: Any,
) -> None:
    redshift = make_warehouse("rs")
    postgres = make_warehouse("pg")
    redshift.run_redshift_text()
    postgres.run_postgresql()
    assert redshift.star() == postgres.star() == EXPECTED


# -- why the PostgreSQL compile says COLLATE "C" ----------------------------------------


def linguistic_collation(engine: sa.Engine) -> str | None:
    """A collation that orders letters case-insensitively first (en_US-like), if any."""
    with engine.connect() as conn:
        names = set(conn.exec_driver_sql("SELECT collname FROM pg_collation").scalars())
    for name in ("en_US.utf8", "en_US.UTF-8", "en_US", "en-US-x-icu", "und-x-icu"):
        if name in names:
            return name
    return None


def test_text_order_differs_between_linguistic_and_byte_collations(pg_engine: sa.Engine) -> None:
    collation = linguistic_collation(pg_engine)
    if collation is None:
        pytest.skip("this PostgreSQL server has no en_US or ICU collation to compare with")
    with pg_engine.connect() as conn:
        byte_max, linguistic_max = conn.exec_driver_sql(
            f'SELECT max(v COLLATE "C"), max(v COLLATE "{collation}") '
            "FROM (VALUES ('a'), ('B')) AS t(v)"
        ).one()
    # Redshift (and DuckDB) compare bytes: 'a' (0x61) > 'B' (0x42).
    assert byte_max == "a"
    assert linguistic_max == "B"


def test_binary_keeps_byte_order_on_postgresql_whatever_the_column_collation(
    pg_engine: sa.Engine,
) -> None:
    collation = linguistic_collation(pg_engine)
    if collation is None:
        pytest.skip("this PostgreSQL server has no en_US or ICU collation to compare with")
    values = sa.table("names", sa.column("v", sa.String()))
    plain = sa.select(sa.func.max(values.c.v))  # what the Redshift text says
    binary_max = sa.select(sa.func.max(binary(values.c.v)))  # PostgreSQL's compile
    with pg_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE TEMPORARY TABLE names (v text COLLATE "{collation}")')
        conn.exec_driver_sql("INSERT INTO names VALUES ('a'), ('B')")
        assert 'COLLATE "C"' in str(binary_max.compile(conn))
        # Without COLLATE "C" the greatest artist name would be 'B' here, 'a' on Redshift.
        assert conn.execute(plain).scalar_one() == "B"
        assert conn.execute(binary_max).scalar_one() == "a"
        conn.rollback()
