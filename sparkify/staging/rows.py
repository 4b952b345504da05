"""COPY's semantics in Python, second half: turn JSON records into staging rows,
or into bad-record errors.

The records come from :func:`~sparkify.staging.records.split_records`; this is
what the PostgreSQL and DuckDB stagers share, so that they load exactly what
Redshift's ``COPY ... FORMAT JSON`` would:

* events map to columns through the JSONPaths file; songs by key name
  (``JSON 'auto'``). Absent keys load as NULL; keys the table lacks are ignored.
* Redshift loads an empty field into a non-text column as NULL, and rejects
  text that is not a number there (``Invalid digit``). A text value longer than
  its VARCHAR (in *bytes*) is an error, never truncated. A NULL in a NOT NULL
  column (a missing ``ts``) is an error.

Two rules go beyond COPY's, because the star schema needs them (see
:func:`event_builder` and :func:`song_builder`): an event's ``ts`` must lie in
the range of epoch milliseconds the warehouse holds, and a song record needs a
``song_id`` and an ``artist_id``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import sqlalchemy as sa

from sparkify.errors import BadRecordError
from sparkify.models import TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import JsonPath, parse_path
from sparkify.staging.records import split_records

_INT_RANGES = {
    sa.SmallInteger: (-(2**15), 2**15 - 1),
    sa.BigInteger: (-(2**63), 2**63 - 1),
    sa.Integer: (-(2**31), 2**31 - 1),
}


class BadValue(Exception):
    """A value that does not fit its column (internal: becomes a BadRecordError)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


# -- turning records into rows --------------------------------------------------------

Converter = Callable[[Any], Any]

#: Text a numeric column takes, once stripped (also SQL's rule: staging/native.py).
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


#: The most digits an integer given as text is converted with (Python's own limit,
#: ``sys.get_int_max_str_digits()``, is 4,300); a longer one is out of every range.
INT_MAX_DIGITS = 4300


class Bound(NamedTuple):
    """A narrower range for an integer column than its type holds, and what to say outside it."""

    lo: int
    hi: int
    outside: str  # completes "<key>: <value> ..."


#: The range of ``ts`` the star schema holds on every backend (models.TS_MIN_MS).
TS_BOUND = Bound(
    TS_MIN_MS,
    TS_MAX_MS,
    "is outside the range of epoch milliseconds the warehouse holds (years 1-9999)",
)


def _int_converter(column: str, key: str, lo: int, hi: int, outside: str) -> Converter:
    def convert(value: Any) -> Any:
        cls = value.__class__
        if cls is int:
            result = value
        elif value is None:
            return None
        elif cls is str:
            text = value.strip()
            if not text:
                return None  # Redshift loads an empty field of a non-text column as NULL
            if not INTEGER_TEXT.fullmatch(text):  # Python's int() takes "1_000" and "١٢"
                raise BadValue(column, f"{key}: {value!r} is not an integer")
            digits = text.lstrip("+-").lstrip("0") or "0"
            if len(digits) > INT_MAX_DIGITS:  # beyond every range, and what int() converts
                raise BadValue(column, f"{key}: a number of {len(digits)} digits {outside}")
            result = -int(digits) if text[0] == "-" else int(digits)
        elif cls is float and value.is_integer():
            result = int(value)  # 1540991795796.0: epoch ms written as a float
        else:
            raise BadValue(column, f"{key}: {_describe(value)} where an integer was expected")
        if not lo <= result <= hi:
            raise BadValue(column, f"{key}: {result} {outside}")
        return result

    return convert


def _float_converter(column: str, key: str) -> Converter:
    def convert(value: Any) -> Any:
        cls = value.__class__
        if cls is float:
            result = value
        elif value is None:
            return None
        elif cls is int:
            try:
                result = float(value)
            except OverflowError:
                raise BadValue(column, f"{key}: number out of range") from None
        elif cls is str:
            text = value.strip()
            if not text:
                return None
            if not NUMBER_TEXT.fullmatch(text):
                raise BadValue(column, f"{key}: {value!r} is not a number")
            result = float(text)
        else:
            raise BadValue(column, f"{key}: {_describe(value)} where a number was expected")
        if not math.isfinite(result):
            raise BadValue(column, f"{key}: number out of range")
        return result

    return convert


def _text_converter(column: str, key: str, max_bytes: int) -> Converter:
    def convert(value: Any) -> Any:
        cls = value.__class__
        if cls is str:
            text = value
        elif value is None:
            return None
        elif cls is int or cls is float:
            text = json.dumps(value)
        elif cls is bool:
            text = "true" if value else "false"
        else:
            raise BadValue(column, f"{key}: {_describe(value)} where text was expected")
        size = len(text)
        if not text.isascii():
            try:
                size = len(text.encode("utf-8"))  # Redshift's VARCHAR(n) counts bytes
            except UnicodeEncodeError:
                raise BadValue(column, f"{key}: text holds an unpaired surrogate") from None
        if size > max_bytes:
            raise BadValue(
                column, f"{key}: value is {size} bytes, longer than the column's {max_bytes}"
            )
        if "\x00" in text:
            raise BadValue(column, f"{key}: text holds a NUL character")
        return text

    return convert


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return repr(value)


def int_range(column: sa.Column[Any], bound: Bound | None) -> Bound:
    """The range an integer column takes: ``bound``, else its type's."""
    if bound is not None:
        return bound
    lo, hi = next(r for t, r in _INT_RANGES.items() if isinstance(column.type, t))
    return Bound(lo, hi, "is out of range for its column")


def converter_for(column: sa.Column[Any], key: str, bound: Bound | None = None) -> Converter:
    """The COPY-like converter of a source value for ``column`` (named ``key`` in the source).

    ``bound``: for an integer column, a narrower range than its type's.
    """
    type_ = column.type
    if isinstance(type_, sa.Integer):
        return _int_converter(column.name, key, *int_range(column, bound))
    if isinstance(type_, sa.Float | sa.Double | sa.Numeric):
        return _float_converter(column.name, key)
    if isinstance(type_, sa.String):
        return _text_converter(column.name, key, type_.length or 65535)
    raise TypeError(f"no COPY converter for {column.name} ({type_})")  # a model bug, not input


class RowBuilder:
    """Builds a staging row (a tuple in column order) from a parsed JSON record.

    Args:
        table: the staging table.
        paths: one JSONPath per column (COPY ... JSON 'jsonpaths file'), or ``None``
            to map keys to columns by name (COPY ... JSON 'auto').
        bounds: integer columns (by name) that hold a narrower range than their type.
        required: text columns (by name) that must hold a non-empty value, as
            NOT NULL columns must hold a value.
    """

    def __init__(
        self,
        table: sa.Table,
        paths: Sequence[JsonPath] | None = None,
        *,
        bounds: Mapping[str, Bound] | None = None,
        required: Collection[str] = (),
    ) -> None:
        columns = list(table.columns)
        if paths is None:
            paths = [parse_path(f"$['{column.name}']") for column in columns]
        if len(paths) != len(columns):
            raise ValueError(f"{len(paths)} paths for {len(columns)} columns of {table.name}")
        bounds = dict(bounds or {})
        for name in [*bounds, *required]:  # a model bug, not input
            if name not in table.columns:
                raise ValueError(f"{table.name} has no column {name}")
        self.table = table
        self.columns = columns
        self.keys = [path.name for path in paths]
        self._getters = [path.getter() for path in paths]
        self._converters = [
            converter_for(c, k, bounds.get(c.name)) for c, k in zip(columns, self.keys, strict=True)
        ]
        self._required = [
            (i, column.name, key, column.name in required)
            for i, (column, key) in enumerate(zip(columns, self.keys, strict=True))
            if not column.nullable or column.name in required
        ]
        self._pairs = list(zip(self._getters, self._converters, strict=True))
        compile_ = partial(
            _compile_builder,
            columns,
            list(paths),
            self._getters,
            self._converters,
            bounds=bounds,
            required=frozenset(required),
        )
        self.build = compile_()
        #: the shortest VARCHAR of the table, in bytes (0 when it has no text column)
        self.shortest_text = min(
            (c.type.length or 65535 for c in columns if isinstance(c.type, sa.String)), default=0
        )
        self.build_short = compile_(short_line=True)

    def build_slowly(self, record: Any) -> tuple[Any, ...]:
        """Convert one record with the general converters only (the reference behaviour)."""
        row = tuple([convert(get(record)) for get, convert in self._pairs])
        for index, column, key, non_empty in self._required:
            if row[index] is None:
                raise BadValue(column, f"{key} is missing")
            if non_empty and row[index] == "":
                raise BadValue(column, f"{key} is empty")
        return row

    def rows(
        self, data: bytes | Iterable[bytes], source: str
    ) -> Iterator[tuple[Any, ...] | BadRecordError]:
        """Every row of one source object (bytes, or blocks), or a :class:`BadRecordError`."""
        build, build_short, shortest = self.build, self.build_short, self.shortest_text
        for record in split_records(data):
            if record.error is not None:
                yield BadRecordError(source, record.line, record.error, record.text)
                continue
            raw = record.raw
            try:
                if raw.__class__ is bytes and len(raw) <= shortest and _NUL_ESCAPE not in raw:
                    yield build_short(record.value)
                else:
                    yield build(record.value)
            except BadValue as exc:
                yield BadRecordError(source, record.line, exc.reason, record.text, exc.column)


#: How a NUL character can appear in a JSON line: JSON has no raw control characters.
_NUL_ESCAPE = b"\\u0000"


def _compile_builder(
    columns: Sequence[sa.Column[Any]],
    paths: Sequence[JsonPath],
    getters: Sequence[Callable[[Any], Any]],
    converters: Sequence[Converter],
    *,
    bounds: Mapping[str, Bound],
    required: frozenset[str],
    short_line: bool = False,
) -> Callable[[Any], tuple[Any, ...]]:
    """A row function specialised for one table: the common case inline, the rest delegated.

    Each value takes a fast path when it already has its column's type (a str
    that is ASCII, NUL-free and short enough; an int in range; a finite float),
    and otherwise goes through the general converter, which accepts or rejects
    it exactly as :meth:`RowBuilder.build_slowly` would. Source keys and limits
    reach the generated code as variables, never as source text.

    With ``short_line`` the function is for a record parsed by orjson from a line
    no longer than the table's shortest VARCHAR and holding no ``\\u0000``: then
    any str is valid text. Its UTF-8 form is shorter than its JSON form (an
    escape never decodes to more bytes than it takes), so it fits every column;
    a NUL can only come from that escape; and orjson refuses unpaired
    surrogates. Only the type of a text value is then checked.

    ``bounds`` and ``required`` are :class:`RowBuilder`'s: a bound replaces the
    type's range in the fast path's comparison, so it costs nothing more.
    """
    namespace: dict[str, Any] = {"BadValue": BadValue}
    lines = ["def build(record):"]
    simple = all(len(p.steps) == 1 and isinstance(p.steps[0], str) for p in paths)
    checked: list[int] = []
    if simple:
        lines += [
            "    if record.__class__ is not dict:",
            "        record = {}",
            "    get = record.get",
        ]
    for i, (column, path) in enumerate(zip(columns, paths, strict=True)):
        namespace[f"k{i}"], namespace[f"g{i}"], namespace[f"c{i}"] = (
            path.steps[0] if simple else None,
            getters[i],
            converters[i],
        )
        lines.append(f"    v{i} = get(k{i})" if simple else f"    v{i} = g{i}(record)")
        type_ = column.type
        if isinstance(type_, sa.String):
            namespace[f"n{i}"] = type_.length or 65535
            fast = (
                f"v{i}.__class__ is str"
                if short_line
                else (
                    f"v{i}.__class__ is str and v{i}.isascii() and len(v{i}) <= n{i} "
                    f"and '\\x00' not in v{i}"
                )
            )
        elif isinstance(type_, sa.Integer):
            lo, hi, _ = int_range(column, bounds.get(column.name))
            namespace[f"lo{i}"], namespace[f"hi{i}"] = lo, hi
            fast = f"v{i}.__class__ is int and lo{i} <= v{i} <= hi{i}"
            # Digits as text (the real logs' userId) and whole floats (their
            # registration) convert inline when they fit: the converter's result.
            lines.append(f"    if v{i} is not None and not ({fast}):")
            lines.append(
                f"        if v{i}.__class__ is str and len(v{i}) < 19 and v{i}.isdigit() "
                f"and v{i}.isascii() and lo{i} <= (w := int(v{i})) <= hi{i}:"
            )
            lines.append(f"            v{i} = w")
            lines.append(
                f"        elif v{i}.__class__ is float and v{i}.is_integer() "
                f"and lo{i} <= (w := int(v{i})) <= hi{i}:"
            )
            lines.append(f"            v{i} = w")
            lines.append("        else:")
            lines.append(f"            v{i} = c{i}(v{i})")
            fast = ""
        else:
            fast = f"v{i}.__class__ is float and v{i} - v{i} == 0.0"  # finite
        if fast:
            lines.append(f"    if v{i} is not None and not ({fast}):")
            lines.append(f"        v{i} = c{i}(v{i})")
        if not column.nullable or column.name in required:
            namespace[f"col{i}"], namespace[f"miss{i}"] = column.name, f"{path.name} is missing"
            namespace[f"empty{i}"] = f"{path.name} is empty"
            checked.append(i)
    for i in checked:  # after every conversion, as build_slowly checks them
        lines.append(f"    if v{i} is None:")
        lines.append(f"        raise BadValue(col{i}, miss{i})")
        if columns[i].name in required:
            lines.append(f"    if v{i} == '':")
            lines.append(f"        raise BadValue(col{i}, empty{i})")
    lines.append("    return (" + ", ".join(f"v{i}" for i in range(len(columns))) + ",)")
    exec("\n".join(lines), namespace)
    build: Callable[[Any], tuple[Any, ...]] = namespace["build"]
    return build


# -- the contract's rules beyond COPY's ---------------------------------------------------


def event_builder(paths: Sequence[JsonPath]) -> RowBuilder:
    """The ``staging_events`` rows of log records, through the JSONPaths file's ``paths``.

    COPY loads any 64-bit ``ts``; the star schema holds a ts only from
    :data:`~sparkify.models.TS_MIN_MS` to :data:`~sparkify.models.TS_MAX_MS`
    (years 1-9999 UTC), and one outside would fail the transforms of the whole
    load, naming no line. So such an event is a bad record here, at its line.
    The check is the fast path's range comparison with other limits: free.
    """
    return RowBuilder(staging_events, paths, bounds={"ts": TS_BOUND})


#: The song keys a song record must hold, non-empty: ``song_id`` identifies its
#: ``songs`` row and ``artist_id`` its ``artists`` row (contract, rules 5 and 6).
#: Without them the record would be staged, then dropped by the transforms
#: without a word.
REQUIRED_SONG_KEYS = ("song_id", "artist_id")


def song_builder() -> RowBuilder:
    """The ``staging_songs`` rows of song records (keys mapped by name, JSON 'auto').

    A record without a :data:`REQUIRED_SONG_KEYS` value (absent, null or
    empty) is a bad record.
    """
    return RowBuilder(staging_songs, required=REQUIRED_SONG_KEYS)
