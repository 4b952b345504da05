"""Merges run in parts (DuckDB splits big batches so memory stays flat): the same
rows as one statement per step, on both backends, whatever the number of parts;
DuckDB's load-time memory cap is set for the load and given back after it, and
PostgreSQL's planner settings last as long as the load's transaction."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import load, transform
from sparkify.db import engine_for_url
from sparkify.models import staging_events
from sparkify.parts import Part, TsRange, split, ts_bounds, ts_ranges
from sparkify.staging import duckdb as duck
from sparkify.staging.base import LockingStager, StepCounts
from sparkify.staging.postgres import PostgresStager
from sparkify.transform import Step, songplays_insert, time_insert, users_update
from tests import contract_fixtures as fx
from tests.warehouse import make_engine, settings_for, star_snapshot

BACKENDS = ["postgresql", "duckdb"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The contract's sources plus a day of users with negative ids (shares by modulo)."""
    root = tmp_path_factory.mktemp("parts")
    paths = fx.write_sources(root)
    day = paths["log_data"] / "2018" / "11" / "2018-11-04-events.json"
    start = fx.ms(dt.datetime(2018, 11, 4, 10))
    events = [
        fx.event(start + 1000 * i, str(user), session=user * 7, item=i, level=level)
        for i, (user, level) in enumerate(
            [(-7, "free"), (-7, "paid"), (-2147483648, "free"), (-1, "paid"), (5, "free")]
        )
    ]
    day.write_text("\n".join(json.dumps(e) for e in events))
    return paths


def split_every_merge(patch: pytest.MonkeyPatch, parts: int) -> None:
    """Every backend's merges in ``parts`` parts, split where DuckDB splits them."""
    found: list[list[TsRange]] = []  # the load's ts ranges, cut once as DuckDB does

    def in_parts(self: LockingStager, conn: sa.Connection, step: Step) -> StepCounts:
        def ranges() -> list[TsRange]:
            if not found:
                bounds = ts_bounds(parts, transform.plays())
                found.append(ts_ranges(self.execute(conn, bounds).scalars().all()))
            return found[0]

        return self.run_statements(conn, split(step, parts, ranges))

    patch.setattr(LockingStager, "run_step", in_parts)
    patch.setattr(duck.DuckDBStager, "run_step", in_parts)


def whole_and_parted(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path], parts: int
) -> tuple[load.LoadReport, load.LoadReport, sa.Engine, sa.Engine]:
    whole = make_engine(backend, pg_url, tmp_path, build=True)
    parted = make_engine(backend, pg_url, tmp_path, build=True)
    one = load.run(whole, settings_for(whole, sources))
    with pytest.MonkeyPatch.context() as patch:
        split_every_merge(patch, parts)
        many = load.run(parted, settings_for(parted, sources))
    return one, many, whole, parted


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_merges_in_parts_give_the_rows_of_one_statement(
    backend: str, parts: int, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    one, many, whole, parted = whole_and_parted(backend, pg_url, tmp_path, sources, parts)
    assert star_snapshot(parted) == star_snapshot(whole)
    assert many.inserted == one.inserted
    assert many.updated == one.updated
    with parted.connect() as conn:
        users = {row.user_id for row in conn.execute(sa.text("SELECT user_id FROM users"))}
    assert {-7, -2147483648, -1, 5} <= users  # negative keys fall in a part too
    whole.dispose()
    parted.dispose()


def test_duckdb_splits_merges_and_staging_inserts_by_size(
    pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = make_engine("duckdb", pg_url, tmp_path, build=True)
    load.run(reference, settings_for(reference, sources))
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    monkeypatch.setattr(duck, "EVENTS_PER_PART", 4)
    monkeypatch.setattr(duck, "ROWS_PER_INSERT", 3)
    seen: list[int] = []
    real_split = duck.split

    def spy(step: Step, parts: int, ranges: Callable[[], list[TsRange]]) -> list[Any]:
        seen.append(parts)
        return real_split(step, parts, ranges)

    monkeypatch.setattr(duck, "split", spy)
    cut: list[list[TsRange]] = []
    real_ranges = duck.ts_ranges
    monkeypatch.setattr(
        duck, "ts_ranges", lambda lowest: cut.append(real_ranges(lowest)) or cut[-1]
    )
    released: list[int] = []
    real_release = duck.DuckDBStager.release_memory

    def release(self: duck.DuckDBStager, conn: sa.Connection) -> None:
        released.append(1)
        real_release(self, conn)

    monkeypatch.setattr(duck.DuckDBStager, "release_memory", release)
    report = load.run(engine, settings_for(engine, sources), audit=False)  # merges only
    staged = report.staged["staging_events"]
    assert set(seen) == {-(-staged // 4)} and seen[0] > 1
    assert len(cut) == 1 and len(cut[0]) > 1  # songplays and time ran in several ranges
    # The cache goes before every merge statement: 2 whole steps (songs, artists: a
    # first load has no re-match and no update), 1 in user shares, 2 in ts ranges.
    assert report.from_empty
    assert len(released) == 2 + seen[0] + 2 * len(cut[0])
    assert star_snapshot(engine) == star_snapshot(reference)  # staging tables included
    engine.dispose()
    reference.dispose()


def compiled(statement: sa.Insert | sa.Update) -> str:
    dialect = engine_for_url("duckdb:///:memory:").dialect
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def test_a_part_is_a_share_of_the_key_that_negative_keys_fall_in() -> None:
    assert "(staging_events.user_id % 3 + 3) % 3 = 1" in compiled(users_update(Part(1, 3)))
    assert "%" not in compiled(users_update(Part(0, 1)))  # one part: no condition
    assert "%" not in compiled(users_update())


def test_a_ts_range_bounds_the_plays_it_reads() -> None:
    sql = compiled(songplays_insert(TsRange(100, 200)))
    assert "staging_events.ts >= 100 AND staging_events.ts < 200" in sql
    # each part's NOT EXISTS reads only its own range of the star table
    assert "songplays.start_time >= epoch_ms(100) AND songplays.start_time < epoch_ms(200)" in sql
    assert "time.start_time >= epoch_ms(7)" in compiled(time_insert(TsRange(7, None)))
    assert "staging_events.ts >= 7" in compiled(time_insert(TsRange(7, None)))
    assert "staging_events.ts >=" not in compiled(time_insert(TsRange()))
    assert compiled(songplays_insert(TsRange())) == compiled(songplays_insert())


@pytest.mark.parametrize(
    ("lowest", "ranges"),
    [
        ([], [TsRange()]),
        ([5], [TsRange()]),
        ([1, 4, 9], [TsRange(None, 4), TsRange(4, 9), TsRange(9, None)]),
        # a run of equal ts across tiles: one range holds it whole
        ([1, 1, 2], [TsRange(None, 2), TsRange(2, None)]),
        ([9, 4, 4, 1], [TsRange(None, 4), TsRange(4, 9), TsRange(9, None)]),
    ],
)
def test_ts_ranges_cover_every_ts_once(lowest: list[int], ranges: list[TsRange]) -> None:
    assert ts_ranges(lowest) == ranges


@pytest.mark.parametrize("backend", BACKENDS)
def test_ts_bounds_cut_the_plays_into_tiles_of_equal_size(
    backend: str, pg_url: sa.URL, tmp_path: Path
) -> None:
    engine = make_engine(backend, pg_url, tmp_path, build=True)
    plays = [(t, "NextSong", 1) for t in (10, 10, 10, 10, 20, 30, 40, 50, 60)]
    others = [(1, "Home", 1), (2, "NextSong", None)]
    rows = [
        {"ts": ts, "page": page, "user_id": user, "session_id": 1}
        for ts, page, user in plays + others
    ]
    with engine.connect() as conn:
        conn.execute(sa.insert(staging_events), rows)
        lowest = conn.execute(ts_bounds(3, transform.plays())).scalars().all()
        assert lowest == [10, 10, 40]  # not plays: ts 1 (Home), 2 (no user)
        assert ts_ranges(lowest) == [TsRange(None, 40), TsRange(40, None)]
    engine.dispose()


def memory_limit(conn: sa.Connection) -> str:
    return str(conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar_one())


def test_duckdb_loads_under_a_memory_cap_and_give_it_back(tmp_path: Path) -> None:
    engine = engine_for_url(f"duckdb:///{tmp_path / 'cap.duckdb'}")
    with engine.connect() as conn:
        before = memory_limit(conn)
        with duck._memory_capped(conn):
            assert memory_limit(conn) == "244.1 MiB"  # 256MB as DuckDB shows it
        assert memory_limit(conn) == before
    engine.dispose()


def test_a_memory_limit_in_the_url_is_the_users_choice(tmp_path: Path) -> None:
    engine = engine_for_url(f"duckdb:///{tmp_path / 'cap.duckdb'}?memory_limit=1GB")
    with engine.connect() as conn, duck._memory_capped(conn):
        assert memory_limit(conn) == "953.6 MiB"
    engine.dispose()


def cached_mib(conn: sa.Connection) -> int:
    """What DuckDB's buffer manager holds, in MiB (every tag)."""
    query = "SELECT sum(memory_usage_bytes) // 1048576 FROM duckdb_memory()"
    return int(conn.exec_driver_sql(query).scalar_one())


def stage_a_little(conn: sa.Connection) -> None:
    """Uncommitted rows of the load, which must survive the release, and about 80 MB
    DuckDB holds in memory (a temporary table, kept in memory until it must spill)."""
    conn.exec_driver_sql(
        "INSERT INTO staging_events (ts, session_id) SELECT i, i FROM range(1000) t(i)"
    )
    conn.exec_driver_sql(
        "CREATE TEMP TABLE filler AS "
        "SELECT i, md5(CAST(i AS VARCHAR)) AS s FROM range(2000000) t(i)"
    )


def staged(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM staging_events").scalar_one())


def test_duckdb_releases_its_cache_before_a_merge_and_keeps_the_load(tmp_path: Path) -> None:
    engine = make_engine("duckdb", sa.make_url("duckdb://"), tmp_path, build=True)
    stager = duck.DuckDBStager()
    with stager.session(engine, wait=False, timeout=0, notify=print) as conn:
        stage_a_little(conn)
        assert cached_mib(conn) > 48
        stager.release_memory(conn)
        assert cached_mib(conn) <= 32  # RELEASE_MEMORY_TO
        assert memory_limit(conn) == "244.1 MiB"  # the load's cap is back
        # The load's transaction goes on, its rows intact, and commits.
        assert staged(conn) == 1000
        conn.commit()
    with engine.connect() as conn:
        assert staged(conn) == 1000
    engine.dispose()


def test_a_refused_release_leaves_the_cache_and_the_load_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duck, "RELEASE_MEMORY_TO", "no such size")
    engine = make_engine("duckdb", sa.make_url("duckdb://"), tmp_path, build=True)
    stager = duck.DuckDBStager()
    with stager.session(engine, wait=False, timeout=0, notify=print) as conn:
        stage_a_little(conn)
        before = cached_mib(conn)
        stager.release_memory(conn)
        assert cached_mib(conn) >= before - 8  # nothing evicted
        assert memory_limit(conn) == "244.1 MiB"
        assert staged(conn) == 1000
        conn.commit()
    engine.dispose()


@pytest.mark.parametrize("where", ["memory_limit in the URL", ":memory:"])
def test_duckdb_releases_nothing_it_does_not_own(where: str, tmp_path: Path) -> None:
    # The user's memory_limit stays as it is; an in-memory database's pool would
    # hand the load's own connection back, and ending its use would end the load.
    url = (
        f"duckdb:///{tmp_path / 'own.duckdb'}?memory_limit=1GB"
        if where == "memory_limit in the URL"
        else "duckdb:///:memory:"
    )
    engine = engine_for_url(url)
    with engine.connect() as conn, duck._memory_capped(conn):
        conn.exec_driver_sql("CREATE TABLE t AS SELECT 1 AS x")
        before = memory_limit(conn)
        duck.DuckDBStager().release_memory(conn)
        assert memory_limit(conn) == before
        assert conn.in_transaction()
        assert conn.exec_driver_sql("SELECT x FROM t").scalar_one() == 1
    engine.dispose()


def pg_settings(conn: sa.Connection) -> dict[str, str]:
    names = ("enable_nestloop", "work_mem", "jit", "default_statistics_target")
    return {name: str(conn.exec_driver_sql(f"SHOW {name}").scalar_one()) for name in names}


def test_postgresql_tunes_the_load_transaction_only(pg_engine: sa.Engine) -> None:
    with pg_engine.connect() as conn:
        before = pg_settings(conn)
    session = PostgresStager().session(pg_engine, wait=False, timeout=0, notify=print)
    with session as conn:
        assert pg_settings(conn) == {
            "enable_nestloop": "off",
            "work_mem": "64MB",
            "jit": "off",
            "default_statistics_target": "10",
        }
    with pg_engine.connect() as conn:
        assert pg_settings(conn) == before  # SET LOCAL: gone with the transaction
    assert before["jit"] == "on"  # the server's default, so the test shows a change


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_incremental_load_in_parts_finds_the_rows_already_stored(
    backend: str, pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path]
) -> None:
    """A later file replaying every earlier event: each range's NOT EXISTS must see them."""
    root = tmp_path / "sources"
    shutil.copytree(sources["log_data"].parent, root)
    paths = {
        key: root / path.relative_to(sources["log_data"].parent) for key, path in sources.items()
    }
    whole = make_engine(backend, pg_url, tmp_path, build=True)
    parted = make_engine(backend, pg_url, tmp_path, build=True)
    load.run(parted, settings_for(parted, paths))  # the month, in one part
    days = sorted(paths["log_data"].rglob("*.json"))
    replay = [line for day in days for line in day.read_text().splitlines() if line.strip()]
    late = fx.ms(dt.datetime(2018, 11, 5, 9))
    replay.append(json.dumps(fx.event(late, "91", session=4, item=0)))
    (days[-1].parent / "2018-11-05-events.json").write_text("\n".join(replay))
    load.run(whole, settings_for(whole, paths))
    with pytest.MonkeyPatch.context() as patch:
        split_every_merge(patch, 3)
        report = load.run(parted, settings_for(parted, paths))
    assert report.staged["staging_events"] == len(replay)
    assert report.inserted["songplays"] == 1  # only the new event's play
    assert star_snapshot(parted, staging=False) == star_snapshot(whole, staging=False)
    whole.dispose()
    parted.dispose()


def test_duckdb_evicts_its_cache_before_each_query_of_the_quality_gate(
    pg_url: sa.URL, tmp_path: Path, sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    told: list[str] = []
    real_release = duck.DuckDBStager.release_memory
    real_execute = duck.EmulatedStager.execute

    def release(self: duck.DuckDBStager, conn: sa.Connection) -> None:
        told.append("release")
        real_release(self, conn)

    def execute(self: duck.DuckDBStager, conn: sa.Connection, statement: Any) -> Any:
        told.append("gate query" if self._auditing else "query")
        return real_execute(self, conn, statement)

    monkeypatch.setattr(duck.DuckDBStager, "release_memory", release)
    monkeypatch.setattr(duck.EmulatedStager, "execute", execute)
    report = load.run(engine, settings_for(engine, sources))
    engine.dispose()
    assert report.audited
    gate = [n for n, what in enumerate(told) if what == "gate query"]
    assert gate and all(told[n - 1] == "release" for n in gate)
