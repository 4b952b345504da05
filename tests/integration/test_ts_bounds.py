"""The range of ts the warehouse holds (models.TS_MIN_MS .. TS_MAX_MS, years 1-9999 UTC)
is right: at both bounds the epoch conversion and the time fields give Python's
answers on PostgreSQL and DuckDB, and the transforms as Redshift gets them run on
PostgreSQL without failing.

One past either bound is a bad record at staging (tests/integration/test_bad_input.py),
so no transform ever sees a ts outside this range.
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
from sparkify.models import TS_MAX_MS, TS_MIN_MS, songplays, staging_events, time
from sparkify.sql import date_field, start_time
from tests.redshift_sql import compile_redshift

pytestmark = pytest.mark.integration

EPOCH = dt.datetime(1970, 1, 1)
FIELDS = ("hour", "day", "week", "month", "year", "dow")
BOUNDS = [TS_MIN_MS, TS_MIN_MS + 1, -1, 0, TS_MAX_MS - 1, TS_MAX_MS]


def expected(ts: int) -> tuple[Any, ...]:
    """Python's answer: the UTC timestamp and its hour, day, ISO week, month, year, DOW."""
    moment = EPOCH + dt.timedelta(milliseconds=ts)
    return (
        moment,
        moment.hour,
        moment.day,
        moment.isocalendar().week,
        moment.month,
        moment.year,
        moment.isoweekday() % 7,
    )


def conversion() -> sa.Select[Any]:
    values = sa.values(sa.column("ts", sa.BigInteger), name="v").data([(ts,) for ts in BOUNDS])
    started = start_time(values.c.ts)
    fields = [sa.cast(date_field(f, started), sa.Integer) for f in FIELDS]
    return sa.select(values.c.ts, started, *fields).order_by(values.c.ts)


def test_the_bounds_are_years_1_to_9999_in_epoch_milliseconds() -> None:
    assert expected(TS_MIN_MS)[0] == dt.datetime(1, 1, 1)
    assert expected(TS_MAX_MS)[0] == dt.datetime(9999, 12, 31, 23, 59, 59, 999_000)


@pytest.mark.parametrize("name", ["pg", "duckdb"], ids=["postgresql", "duckdb"])
def test_start_time_and_the_time_fields_are_exact_at_the_bounds(
    request: pytest.FixtureRequest, name: str
) -> None:
    engine: sa.Engine = request.getfixturevalue(f"{name}_warehouse")
    with engine.connect() as conn:
        got = conn.execute(conversion()).all()
    assert [tuple(row) for row in got] == [(ts, *expected(ts)) for ts in sorted(BOUNDS)]


def test_the_redshift_text_runs_on_postgresql_at_the_bounds(pg_warehouse: sa.Engine) -> None:
    # The Redshift text computes ts / 1000.0 * INTERVAL '1 second'; PostgreSQL
    # multiplies an interval in double precision, which keeps whole seconds and
    # milliseconds exact only while the product stays under 2^53 microseconds
    # (until 2255). Near 9999 it lands a few microseconds off (.999008), so here
    # the Redshift text is held to the millisecond; Redshift's own interval
    # arithmetic is not PostgreSQL's. The time fields must be exact.
    with pg_warehouse.connect() as conn:
        got = conn.exec_driver_sql(compile_redshift(conversion())).all()
    for row, ts in zip(got, sorted(BOUNDS), strict=True):
        want = expected(ts)
        assert row[0] == ts
        assert abs(row[1] - want[0]) < dt.timedelta(milliseconds=1), (ts, row[1])
        assert tuple(row[2:]) == want[1:]


# -- the whole transforms, as Redshift gets them, on PostgreSQL ----------------------------


def play(user_id: int, ts: int) -> dict[str, Any]:
    return {
        "artist": "Nobody", "auth": "Logged In", "first_name": "Ana", "gender": "F",
        "item_in_session": 0, "last_name": "Lee", "length": 1.0, "level": "free",
        "location": "Town", "method": "PUT", "page": "NextSong", "registration": None,
        "session_id": user_id, "song": "Unknown", "status": 200, "ts": ts,
        "user_agent": "UA", "user_id": user_id,
    }  # fmt: skip


@pytest.fixture
def pg_schema(pg_url: sa.URL) -> Iterator[tuple[sa.Engine, str]]:
    """A warehouse in a PostgreSQL schema of its own."""
    name = f"ts_bounds_{uuid.uuid4().hex[:8]}"
    admin = engine_for_url(pg_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    engine = engine_for_url(pg_url, schema=name, poolclass=sa.pool.NullPool)
    schema.upgrade(engine, schema=name)
    try:
        yield engine, name
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()


@pytest.mark.parametrize("as_redshift", [False, True], ids=["postgresql", "redshift-text"])
def test_the_transforms_load_events_at_both_bounds(
    pg_schema: tuple[sa.Engine, str], as_redshift: bool
) -> None:
    engine, name = pg_schema
    with engine.begin() as conn:
        conn.execute(sa.insert(staging_events), [play(1, TS_MIN_MS), play(2, TS_MAX_MS)])
    with engine.begin() as conn:
        if as_redshift:  # the text names no schema: search_path
            conn.exec_driver_sql(f"SET LOCAL search_path TO {name}")
            for step in transform.STEPS:
                conn.exec_driver_sql(compile_redshift(step.build()))
        else:
            for step in transform.STEPS:
                conn.execute(step.build())
    with engine.connect() as conn:
        plays = conn.execute(
            sa.select(songplays.c.user_id, songplays.c.start_time).order_by(songplays.c.user_id)
        ).all()
        times = conn.execute(
            sa.select(*(time.c[c] for c in ("start_time", "hour", "day", "week", "month")))
            .add_columns(time.c.year, time.c.weekday)
            .order_by(time.c.start_time)
        ).all()
    want = [expected(TS_MIN_MS), expected(TS_MAX_MS)]
    assert [row[0] for row in plays] == [1, 2]
    assert [tuple(row[1:]) for row in times] == [w[1:] for w in want]
    for (_, started), (moment, *_rest), row in zip(plays, want, times, strict=True):
        if as_redshift:  # held to the millisecond: see the test above
            assert abs(started - moment) < dt.timedelta(milliseconds=1)
            assert abs(row[0] - moment) < dt.timedelta(milliseconds=1)
        else:
            assert started == moment and row[0] == moment
