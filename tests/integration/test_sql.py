"""The shared SQL helpers of ``sparkify.sql`` on a real database (DuckDB).

``first_per_key`` is how five merges keep one row per key; the merges' golden
SQL pins its text, this pins what it returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify.sql import ascending, descending, first_per_key

pytestmark = pytest.mark.integration

ROWS = [
    {"k": 1, "v": "b", "n": 2},
    {"k": 1, "v": "a", "n": None},
    {"k": 1, "v": "c", "n": 9},
    {"k": 2, "v": "z", "n": 1},
    {"k": 3, "v": None, "n": 5},
    {"k": 3, "v": "A", "n": 5},
]


@pytest.fixture
def table() -> sa.Table:
    return sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("k", sa.Integer),
        sa.Column("v", sa.String),
        sa.Column("n", sa.Integer),
    )


@pytest.fixture
def engine(tmp_path: Path, table: sa.Table) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'sql.duckdb'}")
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(sa.insert(table), ROWS)
    yield engine
    engine.dispose()


def test_first_per_key_keeps_the_first_row_of_each_key_in_the_given_order(
    engine: sa.Engine, table: sa.Table
) -> None:
    t = table.c
    first = first_per_key(
        sa.select(t.k, t.v, t.n), key=t.k, order_by=ascending(t.v, True), names=("r", "f")
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(first).order_by(first.c.k)).all()
    assert [tuple(r) for r in rows] == [(1, "a", None), (2, "z", 1), (3, "A", 5)]  # NULL last


def test_first_per_key_orders_nulls_lowest_descending_and_honours_conditions(
    engine: sa.Engine, table: sa.Table
) -> None:
    t = table.c
    first = first_per_key(
        sa.select(t.k, t.v).where(t.k != 2),
        key=[t.k],
        order_by=[descending(t.n), descending(t.v, True)],
        names=("r", "f"),
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(first).order_by(first.c.k)).all()
    assert [tuple(r) for r in rows] == [(1, "c"), (3, "A")]


def test_first_per_key_returns_the_row_number_only_when_asked(table: sa.Table) -> None:
    t = table.c
    select = sa.select(t.k, t.v)
    plain = first_per_key(select, key=t.k, order_by=t.v, names=("r", "f"))
    kept = first_per_key(select, key=t.k, order_by=t.v, names=("r", "f"), keep_rn=True)
    assert list(plain.c.keys()) == ["k", "v"]
    assert list(kept.c.keys()) == ["k", "v", "rn"]
    assert "WHERE r.rn = :rn_1" in " ".join(str(plain.select().compile()).split())
