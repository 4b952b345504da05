"""Rules 1 and 7 at the level of single values: every backend's epoch conversion and
date fields agree with Python's calendar, and PostgreSQL's own forms agree with the
Redshift text run on PostgreSQL.

PostgreSQL compiles ``start_time`` and the time fields differently from Redshift
(``* INTERVAL '1 millisecond'`` and ``date_part``, for speed), so the Redshift
forms are run on PostgreSQL as well: all three must give Python's answers.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify.sql import date_field, start_time
from tests.redshift_sql import compile_redshift

pytestmark = pytest.mark.integration

FIELDS = ("hour", "day", "week", "month", "year", "dow")
EPOCH = dt.datetime(1970, 1, 1)

EDGES = [
    0,
    1,
    -1,
    999,
    1000,
    1541105830796,  # the contract's example: 2018-11-01 20:57:10.796
    1609675200000,  # 2021-01-03 12:00: ISO week 53 of 2020, calendar year 2021
    1546300799999,  # the last millisecond of 2018
    1546300800000,  # the first of 2019
    951782400000,  # 2000-02-29
    -2208988800000,  # 1900-01-01
    4102444799999,  # the last millisecond of 2099
]
SAMPLE = EDGES + [random.Random(7).randint(-2208988800000, 4102444800000) for _ in range(3000)]


def expected(ts: int) -> tuple[Any, ...]:
    """Python's answer: the UTC timestamp and its hour, day, ISO week, month, year, DOW."""
    moment = EPOCH + dt.timedelta(milliseconds=ts)
    dow = moment.isoweekday() % 7  # 0 = Sunday, as EXTRACT(DOW)
    return (moment, moment.hour, moment.day, moment.isocalendar().week, moment.month,
            moment.year, dow)  # fmt: skip


def conversion(values: sa.FromClause) -> sa.Select[Any]:
    started = start_time(values.c.ts)
    fields = [sa.cast(date_field(f, started), sa.Integer) for f in FIELDS]
    return sa.select(values.c.ts, started, *fields).order_by(values.c.ts)


def values_of(sample: list[int]) -> sa.FromClause:
    return sa.values(sa.column("ts", sa.BigInteger), name="v").data([(ts,) for ts in sample])


@pytest.fixture(params=["pg", "duckdb"], ids=["postgresql", "duckdb"])
def backend(request: pytest.FixtureRequest) -> sa.Engine:
    engine: sa.Engine = request.getfixturevalue(f"{request.param}_warehouse")
    return engine


def test_start_time_and_date_fields_agree_with_python(backend: sa.Engine) -> None:
    with backend.connect() as conn:
        got = conn.execute(conversion(values_of(SAMPLE))).all()
    assert [(r[0], *r[1:]) for r in got] == [(ts, *expected(ts)) for ts in sorted(SAMPLE)]


def test_the_redshift_forms_give_the_same_values_on_postgresql(pg_warehouse: sa.Engine) -> None:
    redshift_text = compile_redshift(conversion(values_of(SAMPLE)))
    assert "1000.0 * INTERVAL '1 second'" in redshift_text
    assert "EXTRACT(dow FROM" in redshift_text
    with pg_warehouse.connect() as conn:
        got = conn.exec_driver_sql(redshift_text).all()
    assert [tuple(r) for r in got] == [(ts, *expected(ts)) for ts in sorted(SAMPLE)]
