"""COPY's semantics in Python, first half: split source objects into JSON records.

This is what the PostgreSQL and DuckDB stagers share (with
:mod:`sparkify.staging.rows`, which turns the records into rows), so that they
load exactly what Redshift's ``COPY ... FORMAT JSON`` would:

* an object holds JSON values one after another: one per line (NDJSON), one per
  file, several concatenated, pretty-printed over many lines; a final newline is
  optional. Each value must be an object.
* An error's line is the last line of the record, as in Redshift's
  ``sys_load_error_detail.line_number``.

JSON nested deeper than the parser takes (:data:`MAX_DEPTH` levels) is a bad
record too, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

RAW_LINE_BYTES = 1024
#: The deepest nesting of arrays and objects a record may have: orjson's limit
#: (1,024 levels). Deeper JSON is a bad record ("JSON nested too deeply").
MAX_DEPTH = 1024
NESTED_TOO_DEEPLY = "JSON nested too deeply"
#: The error of a record that is JSON but not an object (its value is kept).
NOT_AN_OBJECT = "not a JSON object"


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
