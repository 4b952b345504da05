"""The shared emitter of ``--format table|json|csv`` and the stdout console's width."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from rich.table import Table

from sparkify.cli.console import StdoutConsole
from sparkify.cli.output import emit, emit_json, records

pytestmark = pytest.mark.unit

COLUMNS = ("location", "plays", "share")
ROWS = [("Austin, TX", 6, 0.6), (None, 4, 0.4)]
LONG = "San Francisco-Oakland-Hayward, CA and a name longer than any terminal is wide " * 2


def test_json_is_an_array_of_objects_keyed_by_column(capsys: pytest.CaptureFixture[str]) -> None:
    emit(ROWS, COLUMNS, "json")
    assert json.loads(capsys.readouterr().out) == [
        {"location": "Austin, TX", "plays": 6, "share": 0.6},
        {"location": None, "plays": 4, "share": 0.4},
    ]


def test_json_gives_dates_and_decimals_as_their_text(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json(records([(dt.date(2018, 11, 1), Decimal("0.50"))], ("day", "share")))
    assert json.loads(capsys.readouterr().out) == [{"day": "2018-11-01", "share": "0.50"}]


def test_csv_has_a_header_quotes_commas_and_leaves_null_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit(ROWS, COLUMNS, "csv")
    text = capsys.readouterr().out
    assert text == 'location,plays,share\n"Austin, TX",6,0.6\n,4,0.4\n'
    assert list(csv.reader(io.StringIO(text))) == [
        ["location", "plays", "share"],
        ["Austin, TX", "6", "0.6"],
        ["", "4", "0.4"],
    ]


def test_a_table_piped_keeps_every_cell_whole_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit([(LONG, 93_630_215_000, 0.5)], COLUMNS, "table", title="Top locations by plays")
    lines = capsys.readouterr().out.splitlines()
    assert "…" not in "".join(lines)
    assert any(LONG in line and "93630215000" in line for line in lines)
    assert "Top locations by plays" in lines[0]


def test_a_table_piped_is_as_wide_as_its_title() -> None:
    out = io.StringIO()
    title = "Row counts on postgresql+psycopg://postgres@127.0.0.1:5432/a_long_database_name"
    table = Table("table", "rows", title=title)
    table.add_row("staging_events", "1,000")
    StdoutConsole(file=out, highlight=False).print(table)
    assert out.getvalue().splitlines()[0].strip() == title


def test_a_table_in_a_terminal_keeps_the_terminals_width() -> None:
    out = io.StringIO()
    terminal = StdoutConsole(file=out, force_terminal=True, width=60, color_system=None)
    table = Table(*COLUMNS)
    table.add_row(LONG, "93,630,215,000", "0.5")
    terminal.print(table)
    assert max(len(line) for line in out.getvalue().splitlines()) == 60
    assert LONG not in out.getvalue()
