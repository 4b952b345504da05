"""Redshift JSONPaths files: parse them and apply them to records, as COPY does.

A JSONPaths file is ``{"jsonpaths": ["$['artist']", "$.auth", "$['a'][0]", ...]}``;
the n-th path feeds the n-th column of the target table. Redshift accepts
bracket notation (``['name']`` or ``["name"]``), dot notation (``.name``) and
array indexes (``[0]``); see
https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
        else:
            steps.append(match.group(4))
        pos = match.end()
    if not steps:
        raise ValueError(f"{text!r} selects the whole record, not a field")
    return JsonPath(text, tuple(steps))


def parse_jsonpaths(data: bytes | str, source: str, expected: int | None = None) -> list[JsonPath]:
    """Parse a JSONPaths file.

    Args:
        data: the file's content.
        source: where it came from, for error messages.
        expected: the number of paths required (the target table's column count).

    Raises:
        SourceError: naming the file, when it is not valid JSON, has no
            ``jsonpaths`` list, holds a path Redshift would reject, or has the
            wrong number of paths.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(source, f"the JSONPaths file is not valid JSON ({exc})") from None
    paths = document.get("jsonpaths") if isinstance(document, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise SourceError(source, 'the JSONPaths file needs a "jsonpaths" list of strings')
    try:
        parsed = [parse_path(path) for path in paths]
    except ValueError as exc:
        raise SourceError(source, f"bad JSONPath: {exc}") from None
    if expected is not None and len(parsed) != expected:
        raise SourceError(
            source, f"the JSONPaths file has {len(parsed)} paths; the table has {expected} columns"
        )
    return parsed


def getters(paths: Sequence[JsonPath]) -> list[Callable[[Any], Any]]:
    """The getter of every path, in order."""
    return [path.getter() for path in paths]
