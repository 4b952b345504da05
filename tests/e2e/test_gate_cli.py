"""``sparkify etl``'s quality gate from the command line, on PostgreSQL and DuckDB."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from sparkify.cli import main
from sparkify.models import time
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, schema_name, unenforce

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["postgresql", "duckdb"])
def engine(request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(request.param, pg_url, tmp_path)
    yield engine
    engine.dispose()


def etl(engine: sa.Engine, sources: dict[str, Path], *flags: str) -> Result:
    database = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if schema_name(engine):
        database += ["--schema", str(schema_name(engine))]
    paths = [f"--{key.replace('_', '-')}={value}" for key, value in sources.items()]
    engine.dispose()  # DuckDB: the command opens the file itself
    runner = CliRunner()
    if flags == ("create-tables",):
        return runner.invoke(main, ["create-tables", *database])
    return runner.invoke(main, ["etl", *database, *paths, *flags])


def test_a_load_that_fails_the_gate_exits_1_with_one_line_naming_check_table_and_keys(
    engine: sa.Engine, tmp_path: Path
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    assert etl(engine, sources, "create-tables").exit_code == 0
    first = etl(engine, sources)
    assert first.exit_code == 0, first.output
    assert "Quality gate: 11 checks passed in " in first.stdout
    assert " audit " in first.stdout  # a step of the run's timings

    unenforce(engine, time)  # as on Redshift, which enforces no key
    with engine.begin() as conn:
        conn.execute(sa.insert(time).from_select([c.name for c in time.columns], sa.select(time)))
    day4 = fx.event(fx.ms(dt.datetime(2018, 11, 4, 9)), "10", session=12)
    (sources["log_data"] / "2018" / "11" / "2018-11-04-events.json").write_text(json.dumps(day4))

    failed = etl(engine, sources)
    assert failed.exit_code == 1
    assert "Traceback" not in failed.output
    assert failed.stdout.strip() == ""  # no report: nothing was loaded
    (line,) = [line for line in failed.stderr.splitlines() if line.strip()]
    assert line.startswith("error: quality gate: check unique.time.start_time failed on table ")
    assert "offending start_time: 2018-11-01 20:57:10.796, " in line  # the contract's example
    assert line.endswith("nothing was committed")

    skipped = etl(engine, sources, "--no-audit")
    assert skipped.exit_code == 0, skipped.output
    assert "Quality gate: skipped (--no-audit)." in skipped.stdout
