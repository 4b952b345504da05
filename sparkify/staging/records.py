"""COPY's semantics in Python: split source objects into JSON records and turn
records into staging rows, or into bad-record errors.

This is what the PostgreSQL and DuckDB stagers share, so that they load exactly
what Redshift's ``COPY ... FORMAT JSON`` would:

* an object holds JSON values one after another: one per line (NDJSON), one per
  file, several concatenated, pretty-printed over many lines; a final newline is
  optional. Each value must be an object.
* events map to columns through the JSONPaths file; songs by key name
  (``JSON 'auto'``). Absent keys load as NULL; keys the table lacks are ignored.
* Redshift loads an empty field into a non-text column as NULL, and rejects
  text that is not a number there (``Invalid digit``). A text value longer than
  its VARCHAR (in *bytes*) is an error, never truncated. A NULL in a NOT NULL
  column (a missing ``ts``) is an error.
* An error's line is the last line of the record, as in Redshift's
  ``sys_load_error_detail.line_number``.

Two rules go beyond COPY's, because the star schema needs them (see
:func:`event_builder` and :func:`song_builder`): an event's ``ts`` must lie in
the range of epoch milliseconds the warehouse holds, and a song record needs a
``song_id`` and an ``artist_id``. JSON nested deeper than the parser takes
(:data:`MAX_DEPTH` levels) is a bad record too, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa

from sparkify.errors import BadRecordError
from sparkify.models import TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import JsonPath, parse_path

RAW_LINE_BYTES = 1024
#: The deepest nesting of arrays and objects a record may have: orjson's limit
#: (1,024 levels). Deeper JSON is a bad record ("JSON nested too deeply").
MAX_DEPTH = 1024
NESTED_TOO_DEEPLY = "JSON nested too deeply"
#: The error of a record that is JSON but not an object (its value is kept).
NOT_AN_OBJECT = "not a JSON object"

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


def raw_text(text: str) -> str:
    """A record's text cut to Redshift's raw_line size (1024 bytes), on a character boundary."""
    data = text.encode("utf-8", "replace")
    if len(data) <= RAW_LINE_BYTES:
        return text
    return data[:RAW_LINE_BYTES].decode("utf-8", "ignore")


def storable_text(text: str, max_bytes: int = RAW_LINE_BYTES) -> str:
    """``text`` as every backend's text column can hold it, for ``load_errors``.

    A NUL character becomes U+FFFD (the replacement character, as invalid UTF-8
    already reads): PostgreSQL's text types cannot hold NUL at all, and a bad
    line may hold a raw NUL byte. An unpaired surrogate becomes ``?``. The
    result is cut to ``max_bytes`` bytes of UTF-8 on a character boundary (the
    1024-byte VARCHARs of ``load_errors`` count bytes on Redshift), after the
    replacement, which may lengthen it.
    """
    data = text.replace("\x00", "\ufffd").encode("utf-8", "replace")
    return data[:max_bytes].decode("utf-8", "ignore")


# -- splitting an object into records -------------------------------------------------


class Record(NamedTuple):
    """One JSON value of a source object, or the reason it could not be parsed.

    ``raw`` is the record's text: the line's bytes on the fast path (decoded only
    when the record turns out bad), text otherwise. A named tuple, not a frozen
    dataclass: one is made per record, and a tuple is made in a third of the time.
    """

    line: int
    value: Any
    raw: str | bytes
    error: str | None = None

    @property
    def text(self) -> str:
        """The record's text, cut to Redshift's raw_line size."""
        raw = self.raw.decode("utf-8", "replace") if isinstance(self.raw, bytes) else self.raw
        return raw_text(raw)


def split_records(data: bytes | Iterable[bytes]) -> Iterator[Record]:
    """Yield the JSON values of one source object, with their last line numbers.

    ``data`` is the object's bytes, or its bytes as consecutive blocks (a big
    object streamed): only one block and its lines are in memory at a time.
    Lines are parsed one by one with orjson (NDJSON, or one value per file) and
    yielded as they come. From the first line that does not parse alone, the
    rest of the object is read as a stream of concatenated values
    (pretty-printed objects, several on a line), which reports a malformed value
    at the line where parsing failed and resumes at the next line.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    blocks = iter((data,) if isinstance(data, bytes) else data)
    number, carry, final = 0, b"", False
    while not final:
        lines = []  # drop the last block's lines before reading the next block
        block = next(blocks, None)
        if block is None:
            final, lines = True, ([carry] if carry else [])
        else:
            # Split the block as it is (no joined copy); the partial line at its
            # end carries over, the carried one completes its first line.
            lines = block.split(b"\n")
            del block
            if carry:
                lines[0] = carry + lines[0]
            carry = lines.pop()
        for index, line in enumerate(lines):
            number += 1
            if not line or line.isspace():
                continue
            try:
                value = loads(line)
            except decode_error:
                rest = b"\n".join(lines[index:])
                if not final:
                    rest += b"\n" + carry + b"".join(blocks)
                yield from _split_stream(rest, first_line=number)
                return
            if value.__class__ is dict:
                yield Record(number, value, line)
            else:
                yield Record(
                    number, value, raw_text(line.decode("utf-8", "replace")), NOT_AN_OBJECT
                )


def _split_stream(data: bytes, first_line: int = 1) -> Iterator[Record]:
    """Parse concatenated JSON values; every problem is one record at its own line."""
    bad: list[Record] = []
    decoded: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=first_line):
        try:
            decoded.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            # Only this line is lost: the records before and after it still load.
            bad.append(
                Record(
                    number,
                    None,
                    raw_text(raw.decode("utf-8", "replace")),
                    f"invalid UTF-8 at byte {exc.start}",
                )
            )
            decoded.append("")
    records = list(_parse_text("\n".join(decoded), first_line)) + bad
    yield from sorted(records, key=lambda record: record.line)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_text(text: str, first_line: int = 1) -> Iterator[Record]:
    pos, line, size = 0, first_line, len(text)
    nesting: _Nesting | None = None
    while True:
        start = _skip_space(text, pos)
        line += text.count("\n", pos, start)
        if start >= size:
            return
        try:
            value, end = _DECODER.raw_decode(text, start)
        except RecursionError:
            nesting = nesting or _Nesting(text)  # built once, only for deep values
            record, pos, line = _parse_deep(nesting, start, line)
            yield record
            continue
        except ValueError as exc:  # JSONDecodeError, NaN/Infinity, too many digits
            at = exc.pos if isinstance(exc, json.JSONDecodeError) else start
            err_line = line + text.count("\n", start, at)
            line_start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at)
            line_end = size if line_end < 0 else line_end
            reason = (
                f"{exc.msg} (column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            yield Record(
                err_line, None, raw_text(text[line_start:line_end]), f"malformed JSON: {reason}"
            )
            # Resume at the next line: a bad record must not hide the good ones after it.
            pos, line = (line_end + 1, err_line + 1) if line_end < size else (size, err_line)
            continue
        line += text.count("\n", start, end)
        if value.__class__ is dict:
            yield Record(line, value, text[start:end])
        else:
            yield Record(line, value, raw_text(text[start:end]), NOT_AN_OBJECT)
        pos = end


#: What moves the nesting depth of JSON text: a string (skipped whole; JSON strings
#: hold no raw newline), a bracket or brace, and the newlines that end lines.
_NESTING_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}\n]')
#: How much of a value that never closes orjson is given to say why it is bad.
_UNCLOSED_SAMPLE = 1 << 16


class _Nesting:
    """The bracket depth of a text line by line, so that a value's end is found in
    time linear in the text, however many values are too deep for Python's decoder.

    Scanning from a value's start to its closing bracket costs the value's
    length, and values do not overlap; but a value that never closes would be
    scanned to the end of the text, once per such value (a file of unclosed
    deep lines: quadratic). Here one pass records the depth at each line's
    start and the lowest depth from each line to the end of the text, which
    says at once whether a value ever closes.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        starts, depths, lows = array("q", [0]), array("q", [0]), array("q")
        depth = low = 0
        for match in _NESTING_TOKEN.finditer(text):
            token = match.group()
            if token == "\n":
                lows.append(low)
                starts.append(match.end())
                depths.append(depth)
                low = depth
            elif token == "[" or token == "{":
                depth += 1
            elif token == "]" or token == "}":
                depth -= 1
                low = min(low, depth)
        lows.append(low)
        for index in range(len(lows) - 2, -1, -1):  # the lowest from each line on
            lows[index] = min(lows[index], lows[index + 1])
        self.starts, self.depths, self.lowest = starts, depths, lows

    def value_end(self, start: int) -> int | None:
        """Where the array or object at ``start`` ends (by its brackets), or ``None``."""
        index = bisect_right(self.starts, start) - 1
        # The value ends where the depth first comes back to the depth before it.
        before = self.depths[index] + _depth_change(self.text, self.starts[index], start)
        closes = index + 1 < len(self.lowest) and self.lowest[index + 1] <= before
        line_end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
        depth = before
        for match in _NESTING_TOKEN.finditer(
            self.text, start, len(self.text) if closes else line_end
        ):
            token = match.group()
            if token == "[" or token == "{":
                depth += 1
            elif token == "]" or token == "}":
                depth -= 1
                if depth <= before:
                    return match.end()
        return None


_NEVER_CLOSED = "malformed JSON: an array or object that is never closed"


def _too_deep_at(text: str, start: int, end: int) -> int | None:
    """Where the value at ``start`` passes :data:`MAX_DEPTH` levels, before ``end``."""
    depth = 0
    for match in _NESTING_TOKEN.finditer(text, start, end):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token == "]" or token == "}":
            depth -= 1
    return None


def _depth_change(text: str, start: int, end: int) -> int:
    change = 0
    for match in _NESTING_TOKEN.finditer(text, start, end):
        token = match.group()
        change += 1 if token in ("[", "{") else -1 if token in ("]", "}") else 0
    return change


def _parse_deep(nesting: _Nesting, start: int, line: int) -> tuple[Record, int, int]:
    """The record of the value at ``start`` (on ``line``), too deep for Python's decoder.

    Python's decoder recurses once per level and gives up near 1,000 levels
    (``RecursionError``); orjson, which parses every line until the first
    malformed one, takes :data:`MAX_DEPTH`. So the value is found by its
    brackets and parsed by orjson: the same record loads, or is bad, wherever it
    stands in its object. Returns the record and the position and line to
    resume at.
    """
    text = nesting.text
    end = nesting.value_end(start)
    if end is None:
        # Never closed, so bad whatever it holds: nested too deeply where it
        # passes MAX_DEPTH (looked for in its first 64 KiB), else malformed. The
        # line there is the bad record, as for malformed JSON; parsing resumes
        # at the next line.
        deep_at = _too_deep_at(text, start, min(len(text), start + _UNCLOSED_SAMPLE))
        reason = NESTED_TOO_DEEPLY if deep_at is not None else _NEVER_CLOSED
        at = start if deep_at is None else deep_at
        err_line = line + text.count("\n", start, at)
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        if line_end < 0:
            return Record(err_line, None, raw_text(text[line_start:]), reason), len(text), err_line
        record = Record(err_line, None, raw_text(text[line_start:line_end]), reason)
        return record, line_end + 1, err_line + 1
    piece = text[start:end]
    last = line + text.count("\n", start, end)
    try:
        value = orjson.loads(piece)
    except orjson.JSONDecodeError as exc:
        reason = (
            NESTED_TOO_DEEPLY
            if exc.msg.startswith("depth limit")
            else f"malformed JSON: {exc.msg} (column {exc.colno})"
        )
        return Record(last, None, raw_text(piece), reason), end, last
    if value.__class__ is dict:
        return Record(last, value, piece), end, last
    return Record(last, value, raw_text(piece), NOT_AN_OBJECT), end, last


def _skip_space(text: str, pos: int) -> int:
    size = len(text)
    while pos < size and text[pos] in " \t\r\n":
        pos += 1
    return pos


# -- turning records into rows --------------------------------------------------------

Converter = Callable[[Any], Any]

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


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
            if not _INTEGER_TEXT.fullmatch(text):  # Python's int() takes "1_000" and "١٢"
                raise BadValue(column, f"{key}: {value!r} is not an integer")
            result = int(text)
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
            if not _NUMBER_TEXT.fullmatch(text):
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


def _int_range(column: sa.Column[Any], bound: Bound | None) -> Bound:
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
        return _int_converter(column.name, key, *_int_range(column, bound))
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
            lo, hi, _ = _int_range(column, bounds.get(column.name))
            namespace[f"lo{i}"], namespace[f"hi{i}"] = lo, hi
            fast = f"v{i}.__class__ is int and lo{i} <= v{i} <= hi{i}"
        else:
            fast = f"v{i}.__class__ is float and v{i} - v{i} == 0.0"  # finite
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
