"""What a load does to PostgreSQL's schema while it runs, and that none of it stays.

A full load builds the keys of songplays and time after their rows (dropped and
created again in the load's transaction); every load indexes staging_events on
ts for the transforms and drops the index before it commits. Whatever happens,
a committed or rolled-back warehouse has exactly the migrations' schema.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from sparkify import load
from sparkify.models import songplays, staging_events, time
from sparkify.staging import postgres
from sparkify.staging.base import StepCounts
from sparkify.staging.postgres import TS_INDEX, PostgresStager
from sparkify.transform import Step
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, schema_diff, schema_name, settings_for, star_snapshot

pytestmark = pytest.mark.integration

FACT_KEYS = {
    ("songplays", "pk_songplays", "p", ("songplay_id",)),
    ("songplays", "uq_songplays_user_id_session_id_start_time", "u",
     ("user_id", "session_id", "start_time")),
    ("time", "pk_time", "p", ("start_time",)),
}  # fmt: skip


def fact_keys(engine: sa.Engine) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """The primary and unique keys of songplays and time, from PostgreSQL's catalog."""
    query = sa.text(
        """
        SELECT t.relname, c.conname, c.contype,
               array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
                     ORDER BY k.pos)
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = :schema AND t.relname IN ('songplays', 'time')
          AND c.contype IN ('p', 'u')
        """
    )
    with engine.connect() as conn:
        found = conn.execute(query, {"schema": schema_name(engine)}).all()
    return {(table, name, kind, tuple(columns)) for table, name, kind, columns in found}


def staging_indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = :schema "
                "AND tablename = 'staging_events'"
            ),
            {"schema": schema_name(engine)},
        )
        return set(found.scalars())


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return fx.write_sources(tmp_path / "sources")


@pytest.fixture
def warehouse(pg_url: sa.URL, tmp_path: Path) -> sa.Engine:
    return make_engine("postgresql", pg_url, tmp_path, build=True)


def test_a_full_load_builds_the_fact_keys_again_and_times_it(
    warehouse: sa.Engine, sources: dict[str, Path]
) -> None:
    assert fact_keys(warehouse) == FACT_KEYS  # as the migrations made them
    load.run(warehouse, settings_for(warehouse, sources))
    before = star_snapshot(warehouse)
    report = load.run(warehouse, settings_for(warehouse, sources), mode="full")
    assert "keys" in report.seconds
    assert fact_keys(warehouse) == FACT_KEYS
    assert star_snapshot(warehouse) == before


def test_the_models_still_create_their_keys_after_a_full_load(
    warehouse: sa.Engine, sources: dict[str, Path]
) -> None:
    # SQLAlchemy's Add/DropConstraint would, by default, take a constraint out of
    # its table's CREATE TABLE for the rest of the process.
    def ddl() -> list[str]:
        return [
            str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in (songplays, time)
        ]

    before = ddl()
    assert "UNIQUE (user_id, session_id, start_time)" in before[0]
    load.run(warehouse, settings_for(warehouse, sources), mode="full")
    assert ddl() == before


def test_an_incremental_load_keeps_the_keys_in_place(
    warehouse: sa.Engine, sources: dict[str, Path]
) -> None:
    first = load.run(warehouse, settings_for(warehouse, sources))
    assert first.from_empty and "keys" in first.seconds  # a first load builds them after
    day = sources["log_data"] / "2018" / "11" / "2018-11-02-events.json"
    day.write_text(day.read_text() + "\n")  # re-delivered: loaded again, merged
    report = load.run(warehouse, settings_for(warehouse, sources))
    assert report.objects["staging_events"] == 1
    assert "keys" not in report.seconds
    assert fact_keys(warehouse) == FACT_KEYS


def test_a_full_load_failing_after_the_keys_were_dropped_leaves_them_and_the_rows(
    warehouse: sa.Engine, sources: dict[str, Path]
) -> None:
    load.run(warehouse, settings_for(warehouse, sources))
    before = star_snapshot(warehouse)

    class FailingStager(PostgresStager):
        def run_step(self, conn: sa.Connection, step: Step) -> StepCounts:
            if step.name == "time":  # the keys are dropped, songplays inserted
                raise RuntimeError("the server went away")
            return super().run_step(conn, step)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(load, "stager_for", lambda backend: FailingStager())
        with pytest.raises(RuntimeError, match="went away"):
            load.run(warehouse, settings_for(warehouse, sources), mode="full")
    assert fact_keys(warehouse) == FACT_KEYS
    assert star_snapshot(warehouse) == before


def test_building_a_key_over_duplicate_rows_fails(warehouse: sa.Engine) -> None:
    stager = PostgresStager()
    play = {"start_time": dt.datetime(2018, 11, 1), "user_id": 1, "session_id": 2}
    with (
        warehouse.connect() as conn,
        conn.begin(),
        pytest.raises(sa.exc.IntegrityError, match="uq_songplays"),
        stager.keys_deferred(conn, (songplays, time), untimed, ignore),
    ):
        assert fact_keys_of(conn) == []
        conn.execute(sa.insert(songplays), [play, play])
    assert fact_keys(warehouse) == FACT_KEYS


def test_queries_on_the_fact_tables_wait_while_their_keys_are_deferred(
    warehouse: sa.Engine,
) -> None:
    with warehouse.connect() as loader, loader.begin(), ExitStack() as deferred:
        deferred.enter_context(
            PostgresStager().keys_deferred(loader, (songplays, time), untimed, ignore)
        )
        deferred.pop_all()  # the keys stay dropped: the transaction rolls back
        with warehouse.connect() as reader, reader.begin():
            reader.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                reader.execute(sa.select(sa.func.count()).select_from(songplays))
    with warehouse.connect() as reader:  # the load ended: the reader goes on
        assert reader.execute(sa.select(sa.func.count()).select_from(songplays)).scalar() == 0


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_after_a_load_the_schema_is_the_migrations_one(
    warehouse: sa.Engine, sources: dict[str, Path], mode: load.Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "TS_INDEX_MIN_ROWS", 1)  # the fixture is small: index it
    load.run(warehouse, settings_for(warehouse, sources), mode=mode)
    assert schema_diff(warehouse) == []
    assert TS_INDEX not in staging_indexes(warehouse)


def test_a_small_batch_gets_no_ts_index(warehouse: sa.Engine) -> None:
    with warehouse.connect() as conn, conn.begin():  # noqa: SIM117
        with PostgresStager().transforming(conn, postgres.TS_INDEX_MIN_ROWS - 1, untimed):
            indexes = conn.execute(
                sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = :name"),
                {"name": TS_INDEX},
            ).scalar()
    assert indexes == 0


def test_the_ts_index_lives_as_long_as_the_transforms(warehouse: sa.Engine) -> None:
    stager = PostgresStager()
    with warehouse.connect() as conn, conn.begin():
        with stager.transforming(conn, postgres.TS_INDEX_MIN_ROWS, untimed):
            indexes = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": TS_INDEX},
            ).scalars()
            assert [d.endswith("staging_events USING btree (ts)") for d in indexes] == [True]
        assert TS_INDEX not in {index.name for index in staging_events.indexes}
        left = conn.execute(
            sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = :name"), {"name": TS_INDEX}
        ).scalar()
        assert left == 0


def test_a_failed_load_leaves_no_ts_index(
    warehouse: sa.Engine, sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "TS_INDEX_MIN_ROWS", 1)

    class FailingStager(PostgresStager):
        def run_step(self, conn: sa.Connection, step: Step) -> StepCounts:
            raise RuntimeError("killed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(load, "stager_for", lambda backend: FailingStager())
        with pytest.raises(RuntimeError, match="killed"):
            load.run(warehouse, settings_for(warehouse, sources))
    assert TS_INDEX not in staging_indexes(warehouse)
    assert schema_diff(warehouse) == []


def untimed(step: str) -> AbstractContextManager[None]:
    """A ``timed`` that measures nothing."""
    return nullcontext()


def ignore(step: str) -> None:
    """A ``begin_step`` that shows nothing."""


def fact_keys_of(conn: sa.Connection) -> list[Any]:
    """The primary and unique keys of songplays and time, as this transaction sees them."""
    return list(
        conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid IN "
                "(CAST('songplays' AS regclass), CAST('time' AS regclass))"
            )
        ).scalars()
    )
