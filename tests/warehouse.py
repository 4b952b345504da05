"""Test helpers: a fresh warehouse per backend, table snapshots, settings for local sources."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sparkify import schema
from sparkify.config import Settings, load_settings
from sparkify.db import engine_for_url
from sparkify.models import STAGING_TABLES, STAR_TABLES, metadata

Snapshot = dict[str, list[tuple[Any, ...]]]


def rows(
    conn: sa.Connection, table: sa.Table, *, skip: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """Every row of a table, without the skipped columns, sorted (NULLs first)."""
    columns = [c for c in table.columns if c.name not in skip]
    found = conn.execute(sa.select(*columns)).all()
    return sorted((tuple(r) for r in found), key=lambda r: [(v is not None, v) for v in r])


def star_snapshot(engine: sa.Engine, *, staging: bool = True) -> Snapshot:
    """Every staging and star table's rows (songplay_id aside: a surrogate key)."""
    tables = (*STAGING_TABLES, *STAR_TABLES) if staging else STAR_TABLES
    with engine.connect() as conn:
        return {t.name: rows(conn, t, skip=("songplay_id",)) for t in tables}


def schema_name(engine: sa.Engine) -> str | None:
    """The schema an engine maps its tables to (``None``: the default one)."""
    translate = engine.get_execution_options().get("schema_translate_map") or {}
    name: str | None = translate.get(None)
    return name


#: The backends a load test runs on: DuckDB twice, staging its log files natively
#: (DuckDB's own JSON reader, the default) and through the Python path (the reference).
LOAD_BACKENDS = ["postgresql", "duckdb", "duckdb-python"]


def staged_by(settings: Settings, backend: str) -> Settings:
    """``settings`` for one of :data:`LOAD_BACKENDS` (``duckdb-python``: the Python path)."""
    return replace(settings, duckdb_staging="python") if backend == "duckdb-python" else settings


def staging_env(backend: str) -> dict[str, str]:
    """The environment that makes the CLI stage as ``backend`` of :data:`LOAD_BACKENDS` does."""
    return {"SPARKIFY_DUCKDB_STAGING": "python" if backend == "duckdb-python" else "native"}


def make_engine(backend: str, pg_url: sa.URL, tmp: Path, *, build: bool = False) -> sa.Engine:
    """A new, empty warehouse: a DuckDB file in ``tmp`` or a PostgreSQL schema of its own.

    ``backend`` is ``postgresql`` or ``duckdb`` (or ``duckdb-python``: the same file).
    """
    if backend.startswith("duckdb"):
        engine = engine_for_url(f"duckdb:///{tmp / f'{uuid.uuid4().hex}.duckdb'}")
    else:
        name = f"wh_{uuid.uuid4().hex[:10]}"
        admin = engine_for_url(pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        admin.dispose()
        engine = engine_for_url(pg_url, schema=name)
    if build:
        schema.upgrade(engine, schema=schema_name(engine))
    return engine


def empty_all(engine: sa.Engine) -> None:
    """Delete every row of every warehouse table."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sa.delete(table))


def settings_for(engine: sa.Engine, paths: dict[str, Any]) -> Settings:
    """Settings for ``engine`` with the given song_data / log_data / log_jsonpath."""
    return load_settings(
        environ={},
        database_url=engine.url.render_as_string(hide_password=False),
        schema=schema_name(engine),
        **{k: str(v) for k, v in paths.items()},
    )


def time_row(start: dt.datetime) -> dict[str, Any]:
    """The time dimension's row for a start_time, as contract rule 7 defines it."""
    return {
        "start_time": start,
        "hour": start.hour,
        "day": start.day,
        "week": start.isocalendar().week,
        "month": start.month,
        "year": start.year,
        "weekday": start.isoweekday() % 7,
    }


def schema_diff(engine: sa.Engine) -> list[Any]:
    """Alembic's comparison of a PostgreSQL warehouse with the models (empty: the same)."""
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET search_path TO {schema_name(engine)}")
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                # Alembic's own table, seen through search_path, is not a model.
                "include_name": lambda name, kind, parent: name != "alembic_version",
            },
        )
        diff: list[Any] = compare_metadata(ctx, metadata)
    return diff
