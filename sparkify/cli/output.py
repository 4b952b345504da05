"""Rows on stdout as a table, JSON or CSV: the ``--format`` every reporting command takes.

    emit(rows, ("table", "rows"), fmt, title="Row counts")

``json`` is an array of objects keyed by column, ``csv`` a header row then
the rows (NULL as an empty field), ``table`` a rich table. JSON and CSV are
all a command writes on stdout; its notices and progress go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import click
from rich.table import Table

from sparkify.cli.console import cell, console

F = TypeVar("F", bound=Callable[..., Any])

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")


def formats_option(*choices: Format) -> Callable[[F], F]:
    """``--format`` among ``choices`` (``table`` by default); the command receives it as ``fmt``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default="table",
        show_default=True,
        help="Output on stdout: a table, JSON or CSV (notices and progress go to stderr).",
    )


#: ``--format table|json|csv``, as every reporting command takes it.
format_option = formats_option(*FORMATS)


def records(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows as objects keyed by column name."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def emit_json(document: Any) -> None:
    """Print a JSON document on stdout (dates, decimals and the like as their text)."""
    click.echo(json.dumps(document, indent=2, default=str))


def emit_csv(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
    """Print a CSV header row then the rows on stdout (NULL as an empty field)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    click.echo(out.getvalue(), nl=False)


def emit(
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    title: str | None = None,
    table: Table | None = None,
) -> None:
    """Print rows in the format asked for.

    Args:
        rows: The rows, each with one value per column.
        columns: The column names: the JSON keys and the CSV header.
        fmt: ``table``, ``json`` (an array of objects) or ``csv``.
        title: The table's title (``table`` only).
        table: The table to print for ``table`` when it shows the rows in its own
            way (headers, colours, thousands separators); by default each value
            as its text under its column name.
    """
    if fmt == "json":
        emit_json(records(rows, columns))
    elif fmt == "csv":
        emit_csv(rows, columns)
    else:
        if table is None:
            table = Table(*columns, title=title)
            for row in rows:
                table.add_row(*(cell(value) for value in row))
        console.print(table)
