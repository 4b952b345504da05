"""COPY's rules in SQL, on DuckDB's own JSON reader: staging at the speed of the parser.

The Python path (:mod:`~sparkify.staging.records`, :mod:`~sparkify.staging.rows`)
parses every record with orjson and converts it in Python, on one core. Here
DuckDB reads newline-delimited files with ``read_json`` (C++, on every thread)
and the same rules run as SQL over its columns, built with DuckDB's relational
API (no SQL text). The Python path stays the reference and the diagnostician:
a file in which this module finds anything it cannot stage exactly as the
Python path would is read by the Python path instead, whole, so the errors,
``load_errors`` rows and ``--max-errors`` counting are the Python path's.

Interface (any target: DuckDB's own staging table, or another database that
uses an in-process DuckDB only as its parser)::

    rules = event_rules(plan.jsonpaths)         # or song_rules(), TableRules(...)
    triage = triage_files(duck, paths, rules)   # Triage(native=[...], python={path: why},
                                                #        rows=..., plain=...)
    rows = staged(duck, triage.native, rules, triage.plain)
                                                # relation: the table's columns, in order
    checked(duck, paths, rules)                 # every row of any files, with ``source``
                                                # first and ``reason`` last (NULL: it loads)

``duck`` is any DuckDB connection; ``paths`` are local files (absolute paths, no
glob characters). :func:`triage_files` runs statements that may fail on bad
input (DuckDB aborts the transaction of a failed statement), so give it a
connection whose transaction holds nothing else: a second connection to the
target database (``duck.duplicate()``), or an in-memory one. :func:`staged`
reads the files it accepted again where the rows are wanted; they read without
an error (unless they change in between). :func:`checked` alone does not screen
the raw text (:mod:`~sparkify.staging.native_screen`): its reasons cover the
rows DuckDB reads.

Why a file goes to the Python path (the ``python`` reasons):

* the screen of its raw text (:mod:`~sparkify.staging.native_screen`) finds
  what DuckDB's parser takes and orjson refuses: NaN and Infinity literals,
  trailing commas, numbers too big for a double or beyond 64 bits, a byte order
  mark, vertical tab or form feed, nesting deeper than orjson takes; or an
  escaped NUL (``\\u0000``), which no text column may hold;
* ``read_json`` cannot read it (malformed JSON, invalid UTF-8, a duplicated key
  of a mapped column, nesting deeper than DuckDB takes, a line that is not an
  object...): DuckDB reads strictly and the file is retried alone to find it;
* a row breaks a rule, or holds a value whose exact conversion only the Python
  path decides (text that starts like a JSON object; a float into an integer
  column, which the reader's text cannot tell from text of the same
  characters): its ``reason``.

The values match the Python path's exactly: DuckDB writes a JSON number read
into a text column as Python's ``json.dumps`` does (shortest round trip, ``1e+16``),
and parses the texts it wrote back into the same doubles.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlalchemy as sa
from duckdb import (
    CaseExpression,
    CoalesceOperator,
    ColumnExpression,
    ConstantExpression,
    Expression,
)
from duckdb import FunctionExpression as Fn
from duckdb import sqltypes as types

from sparkify.models import staging_events, staging_songs
from sparkify.sources import JsonPath
from sparkify.staging import rows
from sparkify.staging.native_screen import FILE_COLUMN, per_file, screen
from sparkify.staging.rows import REQUIRED_SONG_KEYS, TS_BOUND, Bound, int_range

#: The column of :func:`checked` naming each row's file, and the one saying why a row
#: does not load natively (``NULL``: it does).
SOURCE = "source"
REASON = "reason"
#: What Python's ``str.strip()`` strips (every ``str.isspace()`` character): the rows'
#: rule for numbers given as text. Written out: finding them takes 60 ms (a unit test does).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Python's rules for text in a numeric column (RE2 takes Python's syntax here).
INTEGER_TEXT = rows.INTEGER_TEXT.pattern
NUMBER_TEXT = rows.NUMBER_TEXT.pattern
#: A number as JSON writes it (what DuckDB's reader reads as DOUBLE, whether number or text).
JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
#: A float as the reader writes it in text (Python's repr): a fraction or an exponent.
FLOAT_TEXT = r"-?[0-9]+(?:\.[0-9]+(?:e[+-][0-9]+)?|e[+-][0-9]+)"
#: Source keys the native path maps: plain names (DuckDB's column names ignore case).
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The prefix of the flags saying a value is plain (see ``_Column.plain``).
_PLAIN = "plain_"
#: Characters a path may not hold: DuckDB would read it as a glob pattern.
_GLOB = frozenset("*?[{")


class NotNative(ValueError):
    """The table's mapping cannot be staged natively (the Python path stages it)."""


# -- the rules of a table ---------------------------------------------------------------


@dataclass(frozen=True)
class TableRules:
    """What :class:`~sparkify.staging.rows.RowBuilder` applies to a table, for SQL.

    Attributes:
        table: the staging table.
        keys: the source key of each column, in column order.
        bounds: integer columns (by name) that hold a narrower range than their type.
        required: text columns (by name) that must hold a non-empty value.
    """

    table: sa.Table
    keys: tuple[str, ...]
    bounds: Mapping[str, Bound] = field(default_factory=dict)
    required: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.table.columns):
            raise ValueError(f"{len(self.keys)} keys for {len(self.table.columns)} columns")
        bad = [key for key in self.keys if not _PLAIN_KEY.fullmatch(key)]
        if bad:
            raise NotNative(f"keys DuckDB would not map as the Python path does: {bad}")
        if len({key.lower() for key in (*self.keys, FILE_COLUMN)}) != len(self.keys) + 1:
            raise NotNative("keys that differ only in case")


def event_rules(paths: Sequence[JsonPath]) -> TableRules:
    """The rules of ``staging_events`` (:func:`~sparkify.staging.rows.event_builder`'s)."""
    if not all(len(p.steps) == 1 and isinstance(p.steps[0], str) for p in paths):
        raise NotNative("a JSONPath that is not one key")
    return TableRules(staging_events, tuple(p.name for p in paths), {"ts": TS_BOUND})


def song_rules() -> TableRules:
    """The rules of ``staging_songs`` (:func:`~sparkify.staging.rows.song_builder`'s)."""
    keys = tuple(column.name for column in staging_songs.columns)
    return TableRules(staging_songs, keys, required=frozenset(REQUIRED_SONG_KEYS))


# -- SQL over one column ----------------------------------------------------------------


def _k(value: Any) -> Expression:
    return ConstantExpression(value)


def _none() -> Expression:
    return ConstantExpression(None)


def _col(name: str) -> Expression:
    return ColumnExpression(name)


def _text(kind: sa.types.TypeEngine[Any]) -> bool:
    return isinstance(kind, sa.String)


def _reader_type(column: sa.Column[Any], typed: bool) -> str:
    """Every column read as VARCHAR (see :class:`_Column`), or as BIGINT and DOUBLE where
    a file's values are all plain (``typed``: see :meth:`_Column.plain`)."""
    if isinstance(column.type, sa.Integer) and typed:
        return "BIGINT"
    if isinstance(column.type, sa.Float | sa.Double | sa.Numeric) and typed:
        return "DOUBLE"
    if isinstance(column.type, sa.String | sa.Integer | sa.Float | sa.Double | sa.Numeric):
        return "VARCHAR"
    raise TypeError(f"no native rule for {column.name} ({column.type})")  # a model bug


class _Column:
    """The expressions of one column, in three layers (each computed once per row).

    DuckDB's reader gives each value as VARCHAR: a string as its text, a number
    as Python's ``json.dumps`` writes it (an integer's digits; a float's shortest
    round trip, always with a ``.`` or an exponent), ``true``/``false``, an object
    or array as JSON. Only one case differs between a number and text of the same
    characters: a float into an integer column (Python takes a whole float, and
    refuses text with a fraction), so that value is left to the Python path.
    """

    def __init__(
        self, index: int, column: sa.Column[Any], key: str, rules: TableRules, typed: bool
    ) -> None:
        self.i, self.column, self.key = index, column, key
        self.name = column.name
        # Read as its type by DuckDB (every value plain: see plain()), so no rule to apply.
        self.typed = typed and not _text(column.type)
        self.bound = (
            int_range(column, rules.bounds.get(column.name))
            if isinstance(column.type, sa.Integer)
            else None
        )
        self.required = column.name in rules.required
        self.not_null = not column.nullable or self.required

    def _n(self, part: str) -> str:
        return f"{part}{self.i}"

    # layer 1: from the reader's column
    def first(self) -> list[Expression]:
        return [_col(self.key).alias(self._n("v"))]

    # layer 2: the conversion's fast path (a plain value), and the stripped text otherwise
    def second(self) -> list[Expression]:
        v = _col(self._n("v"))
        if _text(self.column.type) or self.typed:
            return [v]
        if self.bound is not None:
            fast = v.try_cast(types.BIGINT)
            plain = CaseExpression(fast.cast(types.VARCHAR) == v, fast)
        else:
            plain = CaseExpression(
                Fn("regexp_full_match", v, _k(JSON_NUMBER)), v.try_cast(types.DOUBLE)
            )
        # Python strips whitespace from text in a numeric column; only the rare value
        # that is not plain pays for it.
        stripped = Fn("trim", v, _k(PY_WHITESPACE))
        return [
            v,
            plain.alias(self._n("p")),
            CaseExpression(plain.isnull(), stripped).alias(self._n("t")),
        ]

    # layer 3: the value and why it does not load (NULL: it does)
    def last(self) -> tuple[Expression, Expression]:
        v = _col(self._n("v"))
        if self.typed:
            return v.alias(self.name), _none()
        if _text(self.column.type):
            return v.alias(self.name), self._text_reason(v)
        if self.bound is not None:
            return self._integer()
        return self._double()

    def _text_reason(self, v: Expression) -> Expression:
        limit = self.column.type.length or 65535  # type: ignore[attr-defined]
        size = Fn("strlen", v)
        too_long = Fn(
            "concat",
            _k(f"{self.key}: value is "),
            size.cast(types.VARCHAR),
            _k(f" bytes, longer than the column's {limit}"),
        )
        starts = Fn("prefix", v, _k("{")) | Fn("prefix", v, _k("["))
        undecided = _k(
            f"{self.key}: a JSON object or array, or text that starts like one "
            "(the Python path decides)"
        )
        return CaseExpression(size > _k(limit), too_long).when(starts, undecided)

    def _integer(self) -> tuple[Expression, Expression]:
        assert self.bound is not None
        lo, hi, outside = self.bound
        v, fast, t = _col(self._n("v")), _col(self._n("p")), _col(self._n("t"))
        # Text of ASCII digits after stripping, as Python's int() takes it.
        slow = CaseExpression(
            Fn("regexp_full_match", t, _k(INTEGER_TEXT)), t.try_cast(types.HUGEINT)
        )
        fits = fast.between(_k(lo), _k(hi))
        value = (
            CaseExpression(fits, fast)
            .when(fast.isnull() & slow.between(_k(lo), _k(hi)), slow.cast(types.BIGINT))
            .alias(self.name)
        )
        number = CoalesceOperator(fast.cast(types.HUGEINT), slow)
        reason = (
            CaseExpression(v.isnull() | fits | (t == _k("")), _none())
            .when(
                number.isnotnull() & ~number.between(_k(lo), _k(hi)),
                Fn("concat", _k(f"{self.key}: "), number.cast(types.VARCHAR), _k(f" {outside}")),
            )
            .when(number.isnotnull(), _none())
            .when(
                Fn("regexp_full_match", v, _k(FLOAT_TEXT)),
                _k(f"{self.key}: a float, or text that looks like one (the Python path decides)"),
            )
            .otherwise(_k(f"{self.key}: not an integer"))
        )
        return value, reason

    def _double(self) -> tuple[Expression, Expression]:
        v, fast, t = _col(self._n("v")), _col(self._n("p")), _col(self._n("t"))
        slow = CaseExpression(Fn("regexp_full_match", t, _k(NUMBER_TEXT)), t.try_cast(types.DOUBLE))
        number = CoalesceOperator(fast, slow)
        finite = Fn("isfinite", number)
        value = CaseExpression(finite, number).alias(self.name)
        reason = (
            CaseExpression(v.isnull() | (t == _k("")), _none())
            .when(number.isnull(), _k(f"{self.key}: not a number"))
            .when(~finite, _k(f"{self.key}: number out of range"))
        )
        return value, reason

    def plain(self) -> Expression | None:
        """Whether a row's value is one DuckDB's reader converts to the column's type as
        the rules do: an integer in canonical form, a number in JSON's form (both as a
        JSON number or as text). ``None`` for text columns."""
        if _text(self.column.type) or self.typed:
            return None
        return _col(self._n("v")).isnull() | _col(self._n("p")).isnotnull()

    def missing(self) -> Expression | None:
        """Why a NOT NULL or required column's value does not load."""
        if not self.not_null:
            return None
        value = _col(self.name)
        check = CaseExpression(value.isnull(), _k(f"{self.key} is missing"))
        if self.required:
            check = check.when(value == _k(""), _k(f"{self.key} is empty"))
        return check


# -- reading ------------------------------------------------------------------------------


def readable(path: str) -> bool:
    """Whether DuckDB reads ``path`` as the file it names (no glob characters)."""
    return os.path.isabs(path) and not (_GLOB & set(path))


def checked(
    duck: duckdb.DuckDBPyConnection, paths: Sequence[str], rules: TableRules
) -> duckdb.DuckDBPyRelation:
    """Every record of ``paths`` as a row of ``rules.table``, with its file and its reason.

    Columns: ``source`` (the file), the table's columns in order, ``reason``
    (``NULL`` when the row loads as the Python path would load it). DuckDB reads
    strictly: a file it cannot read fails the statement that reads this relation.
    """
    return _relation(duck, paths, rules).select(
        _col(SOURCE), *(_col(c.name) for c in rules.table.columns), _col(REASON)
    )


def staged(
    duck: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    rules: TableRules,
    plain: Iterable[str] = (),
) -> duckdb.DuckDBPyRelation:
    """The rows of ``paths`` in the table's columns, for files :func:`triage_files` accepted.

    Every reason of those files is ``NULL``, so none is computed here (DuckDB
    drops the unused expressions): a row that would not load is not filtered out.
    ``plain``: the columns DuckDB reads as their type (``Triage.plain``).
    """
    rel = _relation(duck, paths, rules, frozenset(plain))
    return rel.select(*(_col(c.name) for c in rules.table.columns))


def _relation(
    duck: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    rules: TableRules,
    typed: frozenset[str] = frozenset(),
) -> duckdb.DuckDBPyRelation:
    """``source``, the table's columns, ``reason``, and ``plain_<column>`` flags."""
    if not all(readable(p) for p in paths):
        raise ValueError("takes local absolute paths without glob characters")
    columns = [
        _Column(i, column, key, rules, column.name in typed)
        for i, (column, key) in enumerate(zip(rules.table.columns, rules.keys, strict=True))
    ]
    reader = duck.read_json(
        list(paths),
        columns={c.key: _reader_type(c.column, c.typed) for c in columns},
        format="newline_delimited",
        records="true",
        compression="none",
        filename=FILE_COLUMN,
    )
    source = _col(SOURCE)
    first = reader.select(_col(FILE_COLUMN).alias(SOURCE), *(e for c in columns for e in c.first()))
    second = first.select(source, *(e for c in columns for e in c.second()))
    last = [c.last() for c in columns]
    flags = [(f"{_PLAIN}{c.name}", c.plain()) for c in columns]
    converted = second.select(
        source,
        *(value for value, _ in last),
        CoalesceOperator(*(r for _, r in last)).alias("why"),
        *(flag.alias(name) for name, flag in flags if flag is not None),
    )
    missing = [m for m in (c.missing() for c in columns) if m is not None]
    reason = CoalesceOperator(_col("why"), *missing) if missing else _col("why")
    return converted.select(
        source,
        *(_col(c.name) for c in columns),
        reason.alias(REASON),
        *(_col(name) for name, flag in flags if flag is not None),
    )


# -- which files the native path stages ---------------------------------------------------


@dataclass(frozen=True)
class Triage:
    """Which files the native path stages (``native``, in the order given) and which
    the Python path must read (``python``: path and reason)."""

    native: list[str]
    python: dict[str, str]
    rows: int = 0
    #: The numeric columns whose values are plain in every native file: DuckDB reads
    #: them as their type (faster; see :func:`staged`).
    plain: frozenset[str] = frozenset()


def screened(duck: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> dict[str, str]:
    """The files of ``paths`` left to the Python path before DuckDB reads them as JSON,
    and why: a path DuckDB would read as a glob pattern, or what the screen of the raw
    text finds (:func:`~sparkify.staging.native_screen.screen`)."""
    left = {p: "a path DuckDB would read as a glob pattern" for p in paths if not readable(p)}
    left.update(screen(duck, [p for p in paths if p not in left]))
    return left


def triage_files(
    duck: duckdb.DuckDBPyConnection, paths: Sequence[str], rules: TableRules
) -> Triage:
    """Screen ``paths`` and read them with the rules; sort them into native and Python.

    A file is native when the screen finds nothing in it, DuckDB reads it, and
    every row loads (reason ``NULL``). ``rows``: how many rows the native files hold.
    """
    python = screened(duck, paths)
    candidates = [p for p in paths if p not in python]

    numeric = [c.name for c in rules.table.columns if not _text(c.type)]

    def build(batch: Sequence[str]) -> duckdb.DuckDBPyRelation:
        rel = _relation(duck, batch, rules)
        flags = [Fn("bool_and", _col(f"{_PLAIN}{name}")) for name in numeric]
        counts = [Fn("count", _k(1)), Fn("any_value", _col(REASON))]
        return rel.aggregate([_col(SOURCE), *counts, *flags], _col(SOURCE))

    total = 0
    failed: dict[str, str] = {}
    plain = set(numeric)
    for path, count, why, *flags in per_file(candidates, build, failed):
        if why is not None:
            python[path] = why
        else:
            total += count
            plain -= {name for name, flag in zip(numeric, flags, strict=True) if not flag}
    python.update(failed)
    native = [p for p in paths if p not in python]
    return Triage(native, python, total, frozenset(plain) if native else frozenset())
