"""SQL expression constructs shared by the transforms, the analytics and the checks.

Per-backend SQL goes through ``@compiles`` rules here (the epoch conversion,
byte-order text, timestamp fields); everything built from them is the same
statement on Redshift, PostgreSQL and DuckDB. The helpers below them state
orders the contract relies on (NULLs lowest, text in byte order) and "the
first row per key", so the statement builders of :mod:`sparkify.transform`
read as the rules they implement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

# -- constructs with per-backend SQL ----------------------------------------------------


class epoch_ms_to_timestamp(FunctionElement[Any]):
    """Epoch milliseconds to a UTC ``TIMESTAMP`` with the milliseconds kept (rule 1).

    Renders ``TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second'`` on Redshift;
    ``/`` is emitted as an operator because SQLAlchemy would turn a ``1000.0``
    literal into ``CAST(1000.0 AS NUMERIC)``, which is NUMERIC(18,0) on Redshift
    and loses the milliseconds. PostgreSQL adds whole seconds and the remaining
    milliseconds as integer multiples of intervals (exact, and no NUMERIC
    arithmetic); DuckDB uses its exact ``epoch_ms``. The tests run the Redshift
    text on PostgreSQL too, so both forms give the same rows.
    """

    type = sa.DateTime()
    name = "epoch_ms_to_timestamp"
    inherit_cache = True


@compiles(epoch_ms_to_timestamp)
def _epoch_default(element: epoch_ms_to_timestamp, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"TIMESTAMP 'epoch' + {compiler.process(arg, **kw)} / 1000.0 * INTERVAL '1 second'"


@compiles(epoch_ms_to_timestamp, "postgresql")
def _epoch_postgresql(element: epoch_ms_to_timestamp, compiler: SQLCompiler, **kw: Any) -> str:
    # No NUMERIC arithmetic: 10x cheaper than the division above (1.3 s less per
    # 5M events and per use). PostgreSQL multiplies an interval in double
    # precision, so ``ts * INTERVAL '1 millisecond'`` is exact only while ts * 1000
    # microseconds < 2^53 (until 2255): 9999-12-31 23:59:59.999 came out .999008.
    # Whole seconds times 1 s (n * 10^6 < 2^53 up to year 9999) plus the rest in
    # milliseconds are exact from models.TS_MIN_MS to TS_MAX_MS; integer / and
    # mod() both truncate toward zero, so they add up to ts when it is negative
    # too (mod(), not %, which the driver would read as a placeholder). About
    # 0.1 us more a row.
    (arg,) = element.clauses
    ts = compiler.process(arg, **kw)
    return (
        f"TIMESTAMP 'epoch' + ({ts}) / 1000 * INTERVAL '1 second' "
        f"+ mod({ts}, 1000) * INTERVAL '1 millisecond'"
    )


@compiles(epoch_ms_to_timestamp, "duckdb")
def _epoch_duckdb(element: epoch_ms_to_timestamp, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"epoch_ms({compiler.process(arg, **kw)})"


class binary(FunctionElement[Any]):
    """A text expression compared and sorted byte by byte, on every backend.

    Redshift and DuckDB order text by bytes; PostgreSQL by the database's
    collation (often en_US), so there it gets ``COLLATE "C"``.
    """

    type = sa.String()
    name = "binary"
    inherit_cache = True


@compiles(binary)
def _binary_default(element: binary, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return str(compiler.process(arg, **kw))


@compiles(binary, "postgresql")
def _binary_postgresql(element: binary, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f'({compiler.process(arg, **kw)} COLLATE "C")'


class date_field(FunctionElement[Any]):
    """A field of a timestamp: ``EXTRACT(field FROM t)`` (hour, day, week, month, year, dow).

    PostgreSQL renders ``date_part('field', t)``: the same value, as a double
    instead of a NUMERIC (PostgreSQL 14 made EXTRACT return NUMERIC, which is
    slower to compute: 1.1 s more for the six fields of 5M times). The field is
    the first clause, so it is part of the statement's cache key.
    """

    name = "date_field"
    inherit_cache = True

    def __init__(self, field: str, value: ColumnElement[Any]) -> None:
        super().__init__(sa.literal_column(field), value)


def _field_and_value(element: date_field, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    field, value = element.clauses
    assert isinstance(field, sa.ColumnClause)
    return field.name, compiler.process(value, **kw)


@compiles(date_field)
def _date_field_default(element: date_field, compiler: SQLCompiler, **kw: Any) -> str:
    field, value = _field_and_value(element, compiler, **kw)
    return f"EXTRACT({field} FROM {value})"


@compiles(date_field, "postgresql")
def _date_field_postgresql(element: date_field, compiler: SQLCompiler, **kw: Any) -> str:
    field, value = _field_and_value(element, compiler, **kw)
    return f"date_part('{field}', {value})"


def start_time(ts: ColumnElement[Any]) -> ColumnElement[Any]:
    """Rule 1: ``ts`` (epoch ms) as a UTC timestamp, milliseconds kept."""
    return epoch_ms_to_timestamp(ts)


class postgresql_or(sa.sql.functions.GenericFunction[Any]):
    """One value on PostgreSQL, another on every other backend.

    For a difference of plan, not of value: see :func:`start_time_column`.
    """

    name = "postgresql_or"
    inherit_cache = True

    def __init__(self, postgresql: ColumnElement[Any], other: ColumnElement[Any]) -> None:
        super().__init__(postgresql, other)
        self.type = other.type


@compiles(postgresql_or)
def _postgresql_or_default(element: postgresql_or, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[1], **kw)


@compiles(postgresql_or, "postgresql")
def _postgresql_or_postgresql(element: postgresql_or, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


def start_time_column(ts: ColumnElement[Any]) -> ColumnElement[Any]:
    """Rule 1's start_time for a subquery to carry, on PostgreSQL; NULL elsewhere.

    PostgreSQL costs the exact epoch form's operators on every comparison of a
    merge join: a NOT EXISTS on ``songplays.start_time = <the form>`` then
    hashes all of songplays where one on a plain column merges a day's plays
    along songplays' key index (0.61 against 0.33 s for a day of a 1M-event
    month). Carried through a window's sort, the column costs DuckDB 0.2 s of a
    1M-event full load, and it changes no plan there: the other backends carry
    a NULL and compute the form where it is used (:func:`start_time_of`).
    """
    return postgresql_or(start_time(ts), sa.null().cast(sa.DateTime()))


def start_time_of(column: ColumnElement[Any], ts: ColumnElement[Any]) -> ColumnElement[Any]:
    """The start_time of a row carrying :func:`start_time_column` as ``column``."""
    return postgresql_or(column, start_time(ts))


# -- orders and ranking -----------------------------------------------------------------


def greater(
    new: ColumnElement[Any], old: ColumnElement[Any], text: bool = False
) -> ColumnElement[bool]:
    """``new > old`` where NULL is lowest (the order of ``DESC NULLS LAST``)."""
    a, b = (binary(new), binary(old)) if text else (new, old)
    return sa.and_(new.is_not(None), sa.or_(old.is_(None), a > b))


def _same(new: ColumnElement[Any], old: ColumnElement[Any]) -> ColumnElement[bool]:
    """``new = old`` where two NULLs are the same."""
    return sa.or_(new == old, sa.and_(new.is_(None), old.is_(None)))


def tuple_greater(
    pairs: Sequence[tuple[ColumnElement[Any], ColumnElement[Any], bool]],
) -> ColumnElement[bool]:
    """Lexicographic ``new > old`` over (new, old, is_text) pairs, NULLs lowest."""
    (new, old, text), *rest = pairs
    if not rest:
        return greater(new, old, text)
    return sa.or_(greater(new, old, text), sa.and_(_same(new, old), tuple_greater(rest)))


def descending(column: ColumnElement[Any], text: bool = False) -> ColumnElement[Any]:
    """``column DESC NULLS LAST``; text (``text=True``) in byte order."""
    return (binary(column) if text else column).desc().nulls_last()


def ascending(column: ColumnElement[Any], text: bool = False) -> ColumnElement[Any]:
    """``column ASC NULLS LAST``; text (``text=True``) in byte order."""
    return (binary(column) if text else column).asc().nulls_last()


def first_per_key(
    select: sa.Select[Any],
    *,
    key: ColumnElement[Any] | Sequence[ColumnElement[Any]],
    order_by: ColumnElement[Any] | Sequence[ColumnElement[Any]],
    names: tuple[str, str],
    keep_rn: bool = False,
) -> sa.Subquery:
    """The first row of ``select`` for each ``key``, in ``order_by``: one row per key.

    Numbers the rows of each key with ``row_number()`` (as ``rn``) in a
    subquery named ``names[0]`` and keeps those numbered 1 in one named
    ``names[1]``. ``order_by`` decides which row is first, so it must leave no
    ties for the result to be deterministic.

    Args:
        select: The candidate rows (their columns and conditions).
        key: The column(s) that name a row of the result (``PARTITION BY``).
        order_by: The order within a key; the first row is kept.
        names: The subqueries' names: the numbered rows, then the result.
        keep_rn: Also return ``rn`` (always 1). songs and songplays always
            have; it changes no row, but their SQL is pinned as golden text.
    """
    numbered = select.add_columns(
        sa.func.row_number().over(partition_by=key, order_by=order_by).label("rn")
    ).subquery(names[0])
    columns = [c for c in numbered.c if keep_rn or c.key != "rn"]
    return sa.select(*columns).where(numbered.c.rn == 1).subquery(names[1])
