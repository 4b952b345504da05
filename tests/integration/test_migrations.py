"""Alembic migrations on PostgreSQL, DuckDB, and Redshift (offline SQL)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from sparkify import models, schema
from sparkify.db import engine_for_url
from tests.redshift_sql import assert_redshift_parses
from tests.warehouse import schema_diff

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_TABLES = set(models.metadata.tables)


@pytest.fixture
def pg_schema_engine(pg_engine: sa.Engine) -> sa.Engine:
    """The session database with its own fresh schema, so migrations start from nothing."""
    name = "migrations_test"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    return engine_for_url(pg_engine.url, schema=name)


def tables_in(engine: sa.Engine, schema_name: str | None = None) -> set[str]:
    return set(sa.inspect(engine).get_table_names(schema=schema_name))


def test_there_is_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(schema.alembic_config()).get_heads()
    assert len(heads) == 1


def test_upgrade_head_on_postgresql_matches_the_models(pg_schema_engine: sa.Engine) -> None:
    schema.upgrade(pg_schema_engine, schema="migrations_test")
    assert tables_in(pg_schema_engine, "migrations_test") == WAREHOUSE_TABLES | {"alembic_version"}
    assert schema_diff(pg_schema_engine) == []


def test_downgrade_base_on_postgresql_leaves_no_table(pg_schema_engine: sa.Engine) -> None:
    schema.upgrade(pg_schema_engine, schema="migrations_test")
    schema.downgrade(pg_schema_engine, schema="migrations_test")
    assert tables_in(pg_schema_engine, "migrations_test") <= {"alembic_version"}
    assert schema.current_revision(pg_schema_engine, "migrations_test") is None


def test_identity_fills_songplay_id_on_postgresql(pg_schema_engine: sa.Engine) -> None:
    schema.upgrade(pg_schema_engine, schema="migrations_test")
    with pg_schema_engine.begin() as conn:
        conn.execute(
            sa.insert(models.songplays),
            [{"start_time": "2018-11-01", "user_id": 1, "session_id": s} for s in (1, 2)],
        )
        ids = conn.execute(sa.select(models.songplays.c.songplay_id)).scalars().all()
    assert len(set(ids)) == 2


def test_upgrade_and_downgrade_on_a_duckdb_file(duckdb_url: sa.URL) -> None:
    engine = engine_for_url(duckdb_url)
    schema.upgrade(engine)
    assert tables_in(engine) == WAREHOUSE_TABLES | {"alembic_version"}
    assert schema.current_revision(engine) == schema.head_revision()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(models.songplays),
            [{"start_time": "2018-11-01", "user_id": 1, "session_id": s} for s in (1, 2)],
        )
        ids = conn.execute(sa.select(models.songplays.c.songplay_id)).scalars().all()
    assert len(set(ids)) == 2
    schema.downgrade(engine)
    assert tables_in(engine) <= {"alembic_version"}
    with engine.connect() as conn:
        sequences = conn.exec_driver_sql("SELECT sequence_name FROM duckdb_sequences()").all()
    assert sequences == []
    engine.dispose()


def test_duckdb_columns_match_the_models_after_upgrade(duckdb_url: sa.URL) -> None:
    # duckdb-engine's reflection cannot run Alembic's comparison (STACK.md), so
    # compare column names and nullability through DuckDB's own catalog.
    engine = engine_for_url(duckdb_url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
        ).all()
    engine.dispose()
    found = {(t, c, n == "YES") for t, c, n in rows if t in WAREHOUSE_TABLES}
    expected = {
        (t.name, c.name, bool(c.nullable))
        for t in models.metadata.tables.values()
        for c in t.columns
    }
    assert found == expected


def run_alembic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )


def test_alembic_command_line_reads_sparkify_settings(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    up = run_alembic("upgrade", "head", env={"SPARKIFY_DATABASE_URL": url})
    assert up.returncode == 0, up.stderr
    engine = engine_for_url(url)
    assert tables_in(engine) == WAREHOUSE_TABLES | {"alembic_version"}
    engine.dispose()  # DuckDB allows one writing process per file
    down = run_alembic("downgrade", "base", env={"SPARKIFY_DATABASE_URL": url})
    assert down.returncode == 0, down.stderr


def test_offline_redshift_sql_is_valid_redshift_without_returning() -> None:
    result = run_alembic(
        "upgrade",
        "head",
        "--sql",
        env={"SPARKIFY_DATABASE_URL": "redshift+redshift_connector://user:pw@example:5439/dev"},
    )
    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert "RETURNING" not in sql.upper()
    assert "IDENTITY(0,1)" in sql
    assert "DISTSTYLE ALL" in sql and "DISTKEY (song_id)" in sql and "SORTKEY (start_time)" in sql
    code = "\n".join(ln for ln in sql.splitlines() if not ln.strip().startswith("--"))
    statements = [s.strip() for s in code.split(";") if s.strip()]
    # Every statement (BEGIN, the tables, alembic_version, its INSERT, COMMIT) parses.
    for statement in statements:
        assert_redshift_parses(statement)
    assert sum("CREATE TABLE" in s for s in statements) == len(WAREHOUSE_TABLES) + 1


def duckdb_constraints(engine: sa.Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, constraint_type FROM duckdb_constraints() "
            "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        ).all()
    return {(table, kind) for table, kind in rows}


def test_on_duckdb_the_fact_sized_tables_carry_no_art_backed_keys(duckdb_url: sa.URL) -> None:
    """0003: songplays and time lose their in-memory ART keys on DuckDB, keeping rows and ids."""
    engine = engine_for_url(duckdb_url)
    schema.upgrade(engine, "0002")
    play = {"start_time": dt.datetime(2018, 11, 1), "user_id": 1, "session_id": 1}
    with engine.begin() as conn:
        conn.execute(sa.insert(models.songplays), [play, {**play, "session_id": 2}])
        conn.execute(
            sa.insert(models.time),
            {"start_time": dt.datetime(2018, 11, 1), "hour": 0, "day": 1, "week": 44,
             "month": 11, "year": 2018, "weekday": 4},
        )  # fmt: skip
    keyed = duckdb_constraints(engine)
    assert {("songplays", "PRIMARY KEY"), ("songplays", "UNIQUE"), ("time", "PRIMARY KEY")} <= keyed

    schema.upgrade(engine)
    keys = duckdb_constraints(engine)
    assert not {table for table, _ in keys} & {"songplays", "time"}
    assert {("users", "PRIMARY KEY"), ("songs", "PRIMARY KEY"), ("artists", "PRIMARY KEY")} <= keys
    with engine.begin() as conn:
        conn.execute(sa.insert(models.songplays), {**play, "session_id": 3})
        rows = conn.execute(
            sa.select(models.songplays.c.songplay_id, models.songplays.c.session_id).order_by(
                models.songplays.c.session_id
            )
        ).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(models.time)).scalar() == 1
    assert [session for _, session in rows] == [1, 2, 3]
    assert len({songplay_id for songplay_id, _ in rows}) == 3  # the sequence carried on

    schema.downgrade(engine, "0002")
    assert duckdb_constraints(engine) == keyed
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(models.songplays)).scalar() == 3
    engine.dispose()


def test_postgresql_keeps_every_key(pg_schema_engine: sa.Engine) -> None:
    schema.upgrade(pg_schema_engine, schema="migrations_test")
    inspector = sa.inspect(pg_schema_engine)
    assert inspector.get_pk_constraint("songplays", schema="migrations_test")[
        "constrained_columns"
    ] == ["songplay_id"]
    assert inspector.get_pk_constraint("time", schema="migrations_test")["constrained_columns"] == [
        "start_time"
    ]
    assert inspector.get_unique_constraints("songplays", schema="migrations_test")
