"""The screen of the native staging: what DuckDB's JSON parser takes and orjson refuses.

DuckDB reads JSON with flags orjson does not have (NaN and Infinity, trailing
commas, numbers beyond a double) and skips what orjson refuses (a byte order
mark, a vertical tab or form feed around a record), and it reads any nesting
depth where orjson stops at :data:`~sparkify.staging.records.MAX_DEPTH` levels.
None of that shows in the values it reads, so the raw lines are screened, and a
file in which the screen finds any is left to the Python path
(:func:`sparkify.staging.native.triage_files`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
from duckdb import CaseExpression, ColumnExpression, ConstantExpression
from duckdb import FunctionExpression as Fn

from sparkify.staging.records import MAX_DEPTH

#: DuckDB's errors about the input. A UnicodeDecodeError is one too: DuckDB quotes the
#: bad line in its message, cut at a byte count, and Python cannot decode the message.
INPUT_ERRORS = (
    duckdb.InvalidInputException,
    duckdb.IOException,
    duckdb.ConversionException,
    UnicodeDecodeError,
)
#: The column of file names a reader adds (see ``filename=``).
FILE_COLUMN = "sparkify_file_"

#: A value DuckDB's parser takes and orjson refuses, after ``:``, ``,`` or ``[``:
#: NaN or Infinity (any case), or a number too big for a double (an exponent of
#: three digits; a run of 19 digits, also beyond 64 bits, which orjson reads as a
#: float and DuckDB as its digits). Each pattern starts with one literal byte,
#: which RE2 finds with memchr: one pattern of the three alternatives would scan
#: every byte (8 times slower).
_ODD_VALUE = r"[ \t\r]*(?:[-+]?(?i:nan|inf)|-?[0-9]{19}|-?[0-9][0-9.]*[eE][-+]?[0-9]{3})"
SCREEN_PATTERNS = (
    (
        "a trailing comma, NaN, Infinity or a number beyond a double",
        r",(?:[ \t\r]*[\]}]|" + _ODD_VALUE + ")",
    ),
    ("NaN, Infinity or a number beyond a double", ":" + _ODD_VALUE),
    ("NaN, Infinity or a number beyond a double", r"\[" + _ODD_VALUE),
)
#: Bytes orjson refuses where DuckDB's reader skips them as blanks, and the escape
#: of the one character no text column may hold.
SCREEN_LITERALS = (
    ("a vertical tab", "\x0b"),
    ("a form feed", "\x0c"),
    ("an escaped NUL character (\\u0000)", "\\u0000"),
)
_BOM = b"\xef\xbb\xbf"
#: A line shorter than this cannot hold a record nested deeper than MAX_DEPTH levels
#: (that many brackets open, and as many close).
_DEEP_LINE = 2 * (MAX_DEPTH + 1)


def screen(duck: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> dict[str, str]:
    """The files whose raw text holds what DuckDB's parser and orjson read differently.

    Returns each such path with the reason; a file DuckDB cannot read as lines of
    UTF-8 text (``read_csv`` of one column, no quoting) is one of them. The lines
    stream through (memory stays flat whatever the files' size). A line long
    enough to be nested deeper than orjson's
    :data:`~sparkify.staging.records.MAX_DEPTH` levels (DuckDB's parser takes any
    depth) is odd when it holds more brackets than that.
    """
    odd: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, "rb") as file:
                if file.read(len(_BOM)) == _BOM:  # DuckDB's readers skip it; orjson refuses it
                    odd[path] = "a byte order mark"
        except OSError as exc:
            odd[path] = f"cannot read it: {exc.strerror or exc}"
    line = ColumnExpression("line")
    checks = [
        (why, Fn("contains", line, ConstantExpression(text))) for why, text in SCREEN_LITERALS
    ]
    checks += [
        (why, Fn("regexp_matches", line, ConstantExpression(pattern)))
        for why, pattern in SCREEN_PATTERNS
    ]
    unbracketed = Fn(
        "replace",
        Fn("replace", line, ConstantExpression("["), ConstantExpression("")),
        ConstantExpression("{"),
        ConstantExpression(""),
    )
    deep = CaseExpression(
        Fn("strlen", line) >= ConstantExpression(_DEEP_LINE),
        Fn("strlen", line) - Fn("strlen", unbracketed) > ConstantExpression(MAX_DEPTH),
    )
    checks.append((f"a record that may be nested deeper than {MAX_DEPTH} levels", deep))
    reason = CaseExpression(checks[0][1], ConstantExpression(checks[0][0]))
    for why, check in checks[1:]:
        reason = reason.when(check, ConstantExpression(why))

    def build(batch: Sequence[str]) -> duckdb.DuckDBPyRelation:
        lines = duck.read_csv(
            list(batch),
            columns={"line": "VARCHAR"},
            delimiter="\x01",  # never in a JSON line: raw control characters are invalid
            quotechar="",
            escapechar="",
            header=False,
            auto_detect=False,
            filename=FILE_COLUMN,
        )
        return lines.aggregate(
            [ColumnExpression(FILE_COLUMN), Fn("min", reason)], ColumnExpression(FILE_COLUMN)
        )

    for path, why in per_file([p for p in paths if p not in odd], build, odd):
        if why is not None:
            odd[path] = why
    return odd


def per_file(
    paths: Sequence[str],
    build: Callable[[Sequence[str]], duckdb.DuckDBPyRelation],
    failed: dict[str, str],
) -> list[Any]:
    """The rows of ``build(paths)``; when DuckDB fails on the input, those of each file
    alone, the failing files recorded in ``failed`` with DuckDB's reason (its first line).

    Only running the relation is retried: a relation that cannot be built is a bug.
    """
    if not paths:
        return []
    try:
        return build(paths).fetchall()
    except INPUT_ERRORS:
        pass
    rows: list[Any] = []
    for path in paths:
        rel = build([path])
        try:
            rows += rel.fetchall()
        except INPUT_ERRORS as exc:
            failed[path] = "DuckDB cannot read it: " + str(exc).splitlines()[0]
    return rows
