"""``sparkify report`` from the command line, on PostgreSQL and DuckDB.

The warehouse is built and loaded through the CLI from the hand-written
contract fixture (the fixtures of tests/e2e/test_operations_cli.py), so the
figures below follow from tests/contract_fixtures.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sparkify.cli import main
from tests.e2e.test_operations_cli import sources, warehouse

pytestmark = pytest.mark.e2e

__all__ = ["sources", "warehouse"]  # fixtures, used by name


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_report_writes_one_page_with_charts_checks_counts_and_runs(
    warehouse: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = invoke("report", str(out), *warehouse)

    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output.replace("\n", "")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert re.findall(r'id="chart-(\w+)"><h3>[^<]*</h3><svg ', page) == [
        "hours",
        "weekdays",
        "levels",
        "songs",
        "artists",
    ]
    assert "Tied Song — Tie Band" in page  # the top song, a bar's label
    assert "23 passed, 0 failed" in page
    counts = dict(re.findall(r"<tr><td>(\w+)</td><td class=\"number\">([\d,]+)</td></tr>", page))
    assert counts["songplays"] == "6" and counts["staging_events"] == "11"
    runs = page[page.index('<section id="runs">') :]
    runs = runs[: runs.index("</section>")]
    assert "no load history" not in runs and runs.count("succeeded") == 1  # the fixture's load
    assert not re.search(r"(?:src|href)=\"?(?:https?:)?//", page)


def test_report_takes_the_ranking_limit(warehouse: list[str], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke("report", str(out), *warehouse, "--limit", "1")
    assert result.exit_code == 0, result.output
    users = out.read_text()
    users = users[users.index('id="table-users"') : users.index('id="table-locations"')]
    assert users.count("<tr>") == 2  # the heading and one user


def test_report_without_matplotlib_says_how_to_install_it_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules makes the import fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "report.html"
    line = one_error_line(
        invoke("report", str(out), "--database-url", f"duckdb:///{tmp_path / 'w.duckdb'}")
    )
    assert "matplotlib" in line and "pip install 'sparkify[charts]'" in line
    assert "uv sync --extra charts" in line
    assert list(tmp_path.iterdir()) == []


def test_report_on_a_warehouse_not_built_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    line = one_error_line(
        invoke("report", str(out), "--database-url", f"duckdb:///{tmp_path / 'w.duckdb'}")
    )
    assert "no warehouse at" in line
    assert list(tmp_path.iterdir()) == []


def test_report_into_a_missing_folder_fails_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "report.html"
    line = one_error_line(
        invoke("report", str(out), "--database-url", f"duckdb:///{tmp_path / 'w.duckdb'}")
    )
    assert f"cannot write {out}" in line
    assert list(tmp_path.iterdir()) == []
