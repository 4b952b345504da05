"""Redshift JSONPaths files: parse them and apply them to records, as COPY does.

A JSONPaths file is ``{"jsonpaths": ["$['artist']", "$.auth", "$['a'][0]", ...]}``;
the n-th path feeds the n-th column of the target table. Redshift accepts
bracket notation (``['name']`` or ``["name"]``), dot notation (``.name``) and
array indexes (``[0]``), and nothing that selects more than one element:
"a JSONPath expression specifies the explicit path to a single name element
in a JSON hierarchical data structure, using either bracket notation or dot
notation. Amazon Redshift doesn't support any JSONPath elements, such as
wildcard characters or filter expressions, that might resolve to an ambiguous
path or multiple name elements"
(https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html,
"JSONPath options").

A file Redshift takes can still map the wrong thing: ``$.*`` (a key named
``*`` at best), ``$['userId']['x']`` (nothing, in a log event), the keys in
another order. Each loads without an error, as NULLs or in the wrong columns.
So when the caller gives the keys the table's columns take (for the log
files, the contract's log keys in the JSONPaths order), every path must be the
plain member path of its column's key, or the file is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sparkify.errors import SourceError

_STEP = re.compile(
    r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]      # ['name']
      | \[\s*"((?:[^"\\]|\\.)*)"\s*\]      # ["name"]
      | \[\s*(\d+)\s*\]                     # [0]
      | \.([^.\[\]]+)                       # .name
    """,
    re.VERBOSE,
)

Step = str | int
_MISSING = object()


@dataclass(frozen=True)
class JsonPath:
    """One parsed path: the text as written and its steps (names or indexes)."""

    text: str
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        """The last name in the path (the source key), for error messages."""
        names = [step for step in self.steps if isinstance(step, str)]
        return names[-1] if names else self.text

    def getter(self) -> Callable[[Any], Any]:
        """A function ``record -> value`` (``None`` when the path is absent)."""
        if len(self.steps) == 1 and isinstance(self.steps[0], str):
            key = self.steps[0]

            def get_key(record: Any) -> Any:
                return record.get(key) if type(record) is dict else None

            return get_key
        steps = self.steps

        def get_path(record: Any) -> Any:
            value = record
            for step in steps:
                if isinstance(step, str) and type(value) is dict:
                    value = value.get(step, _MISSING)
                elif isinstance(step, int) and type(value) is list and step < len(value):
                    value = value[step]
                else:
                    return None
                if value is _MISSING:
                    return None
            return value

        return get_path


def parse_path(text: str) -> JsonPath:
    """Parse one JSONPath expression; raise ``ValueError`` when it is not one Redshift takes."""
    stripped = text.strip()
    if not stripped.startswith("$"):
        raise ValueError(f"{text!r} does not start with $")
    pos, steps = 1, list[Step]()
    while pos < len(stripped):
        match = _STEP.match(stripped, pos)
        if match is None:
            raise ValueError(f"{text!r} is not a JSONPath expression (at character {pos + 1})")
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        if quoted is not None:
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        elif match.group(3) is not None:
            steps.append(int(match.group(3)))
        elif match.group(4).strip() == "*":
            raise ValueError(f"{text!r} holds a wildcard, and Redshift takes one explicit path")
        else:
            steps.append(match.group(4))
        pos = match.end()
    if not steps:
        raise ValueError(f"{text!r} selects the whole record, not a field")
    return JsonPath(text, tuple(steps))


def parse_jsonpaths(
    data: bytes | str,
    source: str,
    expected: int | None = None,
    *,
    table: sa.Table | None = None,
    keys: Sequence[str] | None = None,
) -> list[JsonPath]:
    """Parse a JSONPaths file, and check it maps what the table needs.

    Args:
        data: the file's content.
        source: where it came from, for error messages.
        expected: the number of paths required (the target table's column count).
        table: the target table; with ``keys``, the file must map them to it.
        keys: the source key each column of ``table`` takes, in column order:
            the n-th path must be the member path of the n-th key
            (``$['key']``, ``$["key"]`` or ``$.key``).

    Raises:
        SourceError: naming the file, when it is not valid JSON, has no
            ``jsonpaths`` list, holds a path Redshift would reject, has the
            wrong number of paths, or (with ``table`` and ``keys``) a path that
            is not its column's key. The reason lists every problem found,
            each naming the path by its position.
    """
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise SourceError(
            source, f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(source, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise SourceError(source, "not valid JSON (nested too deeply)") from None
    paths = document.get("jsonpaths") if isinstance(document, dict) else None
    if not isinstance(paths, list):
        raise SourceError(
            source, 'not a JSONPaths file: expected {"jsonpaths": [...]}, a "jsonpaths" list'
        )
    if table is not None and keys is not None:
        if len(keys) != len(table.columns):  # a model bug, not input
            raise ValueError(f"{len(keys)} keys for {len(table.columns)} columns of {table.name}")
        expected = len(keys)
    problems: list[str] = []
    if expected is not None and len(paths) != expected:
        what = table.name if table is not None else "the table"
        problems.append(f"{_paths(len(paths))}, but {what} has {expected} columns")
    parsed: list[JsonPath] = []
    for number, text in enumerate(paths, start=1):
        if not isinstance(text, str):
            problems.append(f"path {number} is not a string ({json.dumps(text)})")
            continue
        try:
            path = parse_path(text)
        except ValueError as exc:
            problems.append(f"path {number}: {exc} (bad JSONPath: write $['name'] or $.name)")
            continue
        parsed.append(path)
        if table is not None and keys is not None and len(paths) == len(keys):
            key, column = keys[number - 1], list(table.columns)[number - 1].name
            if path.steps != (key,):
                problems.append(
                    f"path {number} is {text!r}, but column {column} takes the key {key!r}"
                )
    if problems:
        raise SourceError(source, "; ".join(problems))
    return parsed


def _paths(count: int) -> str:
    return f"{count} path" if count == 1 else f"{count} paths"


def getters(paths: Sequence[JsonPath]) -> list[Callable[[Any], Any]]:
    """The getter of every path, in order."""
    return [path.getter() for path in paths]
