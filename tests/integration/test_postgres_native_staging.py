"""Events staged into PostgreSQL through DuckDB: the same rows as the Python path, and what
DuckDB cannot stage left to Python in the listing's order.

The binary COPY tuples DuckDB builds (:func:`~sparkify.staging.pg_native.tuple_expression`)
must load exactly what psycopg's ``write_row`` loads from the same values, at every
edge of every column type the staging tables use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from sparkify.config import load_settings
from sparkify.errors import BadRecordError
from sparkify.models import EVENT_KEYS, staging_events, staging_songs
from sparkify.sources import Plan, SourceObject, TableSources, list_sources, parse_path, runs
from sparkify.staging.base import ErrorBudget, NoProgress
from sparkify.staging.pg_copy import SIGNATURE, TRAILER, copy_in
from sparkify.staging.pg_native import (
    BATCH_ROWS,
    copy_events,
    natively_readable,
    write_tuples,
)
from sparkify.staging.postgres import (
    NATIVE_MAX_THREADS,
    NATIVE_MIN_BYTES,
    PostgresStager,
    native_bytes,
    native_threads,
)
from sparkify.staging.rows import event_builder
from tests import contract_fixtures as fx
from tests.integration.test_bad_input import ALL_KINDS, BadKind
from tests.warehouse import make_engine, rows

pytestmark = pytest.mark.integration

PATHS = [parse_path(f"$['{key}']") for key in EVENT_KEYS]

LONG = "é" * 512  # 1024 bytes: the longest a VARCHAR(1024) takes
EDGE_EVENTS: list[dict[str, Any]] = [
    {
        "artist": "Sigur Rós ☃ 𝄞 😀", "auth": "", "first_name": None, "gender": "F",
        "item_in_session": -(2**63), "last_name": "O'Brien \\ \"quoted\"\t\ttabs\nnew line",
        "length": -0.0, "level": "paid", "location": LONG, "method": "GET", "page": "NextSong",
        "registration": 1540991795796.0, "session_id": 2**63 - 1, "song": "",
        "status": -(2**31), "ts": 0, "user_agent": "x" * 1024, "user_id": 2**31 - 1,
    },
    {
        "artist": None, "auth": None, "first_name": None, "gender": None,
        "item_in_session": None, "last_name": None, "length": None, "level": None,
        "location": None, "method": None, "page": None, "registration": None,
        "session_id": -1, "song": None, "status": None, "ts": -62135596800000,
        "user_agent": None, "user_id": None,
    },
    {
        "artist": "a", "auth": "b", "first_name": "c", "gender": "d", "item_in_session": 0,
        "last_name": "e", "length": 5e-324, "level": "f", "location": "g", "method": "h",
        "page": "i", "registration": 1.7976931348623157e308, "session_id": 0, "song": "j",
        "status": 2**31 - 1, "ts": 253402300799999, "user_agent": "k", "user_id": -(2**31),
    },
]  # fmt: skip
EDGE_SONGS: list[dict[str, Any]] = [
    {
        "num_songs": 1, "artist_id": "AR1", "artist_latitude": -90.0,
        "artist_longitude": 0.1, "artist_location": "Malmö, Sweden", "artist_name": LONG,
        "song_id": "SO1", "title": "", "duration": 0.30000000000000004, "year": 0,
    },
    {
        "num_songs": None, "artist_id": "AR2", "artist_latitude": None,
        "artist_longitude": None, "artist_location": None, "artist_name": None,
        "song_id": "SO2", "title": None, "duration": None, "year": None,
    },
]  # fmt: skip


@pytest.fixture
def warehouse(pg_url: sa.URL, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    yield engine
    engine.dispose()


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


def relation_of(
    duck: duckdb.DuckDBPyConnection, table: sa.Table, values: Sequence[dict[str, Any]]
) -> duckdb.DuckDBPyRelation:
    """A DuckDB table shaped like ``table`` holding ``values``, as a relation."""
    dialect = postgresql.dialect(paramstyle="qmark")  # DuckDB takes PostgreSQL's DDL
    duck.execute(str(CreateTable(table).compile(dialect=dialect)))
    names = [column.name for column in table.columns]
    insert = sa.insert(table).compile(dialect=dialect, column_keys=names)
    duck.executemany(str(insert), [[row[name] for name in names] for row in values])
    return duck.table(table.name)


def same(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Row lists equal value for value, -0.0 told from 0.0 (a float's sign is data)."""
    return left == right and all(
        math.copysign(1, a) == math.copysign(1, b)
        for row_a, row_b in zip(left, right, strict=True)
        for a, b in zip(row_a, row_b, strict=True)
        if isinstance(a, float)
    )


@pytest.mark.parametrize(
    ("table", "values"),
    [(staging_events, EDGE_EVENTS), (staging_songs, EDGE_SONGS)],
    ids=["staging_events", "staging_songs"],
)
def test_tuples_built_by_duckdb_load_what_psycopg_write_row_loads(
    warehouse: sa.Engine,
    duck: duckdb.DuckDBPyConnection,
    table: sa.Table,
    values: list[dict[str, Any]],
) -> None:
    relation = relation_of(duck, table, values)
    stager = PostgresStager()
    with warehouse.connect() as conn, conn.begin():
        with copy_in(conn, table) as copy:
            copy.write(SIGNATURE)
            written = write_tuples(duck, relation, table, copy.write)
            copy.write(TRAILER)
        from_duckdb = rows(conn, table)
        conn.execute(sa.delete(table))
        stager.insert_rows(conn, table, values)
        from_python = rows(conn, table)
    assert written == len(values)
    assert same(from_duckdb, from_python)


def write_events(path: Path, count: int, last: bytes | None = None) -> Path:
    """``count`` events of the contract fixture's shape, one a line, then ``last`` if given."""
    lines = [
        json.dumps(fx.event(fx.RULE1 + n, str(n % 7 + 1), session=n // 50, item=n % 50)).encode()
        for n in range(count)
    ]
    path.write_bytes(b"\n".join([*lines, *([last] if last is not None else [])]) + b"\n")
    return path


def python_rows(paths: Sequence[Path]) -> list[tuple[Any, ...]]:
    """The rows the Python path stages from ``paths`` (the reference), sorted like ``rows``."""
    builder = event_builder(PATHS)
    found = [
        row
        for path in paths
        for row in builder.rows(path.read_bytes(), str(path))
        if not isinstance(row, BadRecordError)
    ]
    return sorted(found, key=lambda r: [(v is not None, v) for v in r])


def stage_natively(engine: sa.Engine, folder: Path) -> tuple[int, list[str], list[tuple[Any, ...]]]:
    """``copy_events`` over a folder's files: rows staged, files left, the table's rows."""
    objects = list(list_sources(str(folder)))
    with engine.connect() as conn, conn.begin() as transaction:
        staged, left = copy_events(conn, staging_events, objects, PATHS, NoProgress(), threads=1)
        found = rows(conn, staging_events)
        transaction.rollback()
    return staged, [Path(o.uri).name for o in left], found


@pytest.mark.parametrize(
    "last",
    [
        json.dumps({**fx.event(fx.RULE1, "1"), "ts": "soon"}).encode(),  # a rule: reason
        b'{"ts": 1, "sessionId": 1,',  # malformed: DuckDB fails while the rows stream
    ],
    ids=["a row with a reason", "JSON DuckDB cannot read"],
)
def test_a_bad_record_after_thousands_of_rows_sends_its_file_to_python_and_stages_none_of_it(
    warehouse: sa.Engine, tmp_path: Path, last: bytes
) -> None:
    """The rows of the bad file sent before its bad record (a batch or more) are rolled back."""
    clean = write_events(tmp_path / "2018-11-01-events.json", 3000)
    write_events(tmp_path / "2018-11-02-events.json", 3 * BATCH_ROWS, last)
    staged, left, found = stage_natively(warehouse, tmp_path)
    assert (staged, left) == (3000, ["2018-11-02-events.json"])
    assert found == python_rows([clean])


def test_clean_files_are_staged_by_duckdb_with_the_rows_the_python_path_makes(
    warehouse: sa.Engine, tmp_path: Path
) -> None:
    paths = [write_events(tmp_path / f"2018-11-0{day}-events.json", 500 * day) for day in (1, 2)]
    staged, left, found = stage_natively(warehouse, tmp_path)
    assert (staged, left) == (1500, [])
    assert found == python_rows(paths)


#: A stager that lets DuckDB stage any batch, with one thread.
ALWAYS_NATIVE = PostgresStager(native_min_bytes=0, native_min_threads=1)


def stage_events(
    engine: sa.Engine, folder: Path, staging: str, stager: PostgresStager = ALWAYS_NATIVE
) -> tuple[list[tuple[Any, ...]], list[tuple[str, int, str, str | None, str]]]:
    """``stager`` stages a folder's log files with ``SPARKIFY_DUCKDB_STAGING=staging``:
    the table's rows, and the bad records kept."""
    plan = Plan(
        events=TableSources(staging_events, str(folder), list_sources(str(folder))),
        songs=TableSources(staging_songs, str(folder), []),
        jsonpath_uri="",
        jsonpaths=tuple(PATHS),
    )
    budget = ErrorBudget(max_errors=100)
    environ = {"SPARKIFY_DUCKDB_STAGING": staging}
    settings = load_settings(environ=environ, database_url=engine.url)
    with engine.connect() as conn, conn.begin() as transaction:
        stager.stage_table(
            conn, plan.events, plan, settings, budget=budget, progress=NoProgress(), client=None
        )
        found = rows(conn, staging_events)
        transaction.rollback()
    errors = [(Path(e.source).name, e.line, e.reason, e.column, e.raw) for _, e in budget.errors]
    return found, errors


@pytest.mark.parametrize(
    "kind", [k for k in ALL_KINDS if k.table == "staging_events"], ids=lambda kind: kind.name
)
def test_with_a_bad_record_of_any_kind_duckdb_and_python_stage_the_same_rows_and_errors(
    warehouse: sa.Engine, tmp_path: Path, kind: BadKind
) -> None:
    """The file holding it goes to the Python path, whole: same rows, same errors."""
    write_events(tmp_path / "2018-11-01-events.json", 2 * BATCH_ROWS)
    write_events(tmp_path / "2018-11-02-events.json", 2 * BATCH_ROWS, kind.line)
    write_events(tmp_path / "2018-11-03-events.json", 10)
    natively = stage_events(warehouse, tmp_path, "native")
    in_python = stage_events(warehouse, tmp_path, "python")
    assert natively == in_python
    assert [error[:2] for error in natively[1]] == [("2018-11-02-events.json", 2 * BATCH_ROWS + 1)]


def test_duckdb_stages_only_batches_of_local_files_big_enough_with_threads_enough(
    warehouse: sa.Engine, tmp_path: Path
) -> None:
    day = write_events(tmp_path / "2018-11-01-events.json", 100)
    assert stage_events(warehouse, tmp_path, "native", PostgresStager())[0] == python_rows([day])
    local = [SourceObject(f"/logs/{day}.json", NATIVE_MIN_BYTES // 4, "") for day in range(4)]
    assert native_bytes(local) == NATIVE_MIN_BYTES
    assert native_bytes([*local, SourceObject("s3://logs/day.json", 100, "")]) == NATIVE_MIN_BYTES
    assert 1 <= native_threads() <= NATIVE_MAX_THREADS


def test_runs_keep_the_listing_order_and_group_files_up_to_the_size_given() -> None:
    objects = [SourceObject(f"/data/{n}.json", size, "") for n, size in enumerate([5, 5, 9, 1, 1])]
    assert [[o.uri[-6:] for o in run] for run in runs(objects, 10)] == [
        ["0.json", "1.json"], ["2.json", "3.json"], ["4.json"],
    ]  # fmt: skip


def test_duckdb_reads_only_local_files_as_listed_whose_path_is_no_glob_pattern(
    tmp_path: Path,
) -> None:
    plain, starred = tmp_path / "day.json", tmp_path / "day[1].json"
    for path in (plain, starred):
        path.write_text("{}\n")
    listed = {Path(o.uri).name: o for o in list_sources(str(tmp_path))}
    plain.write_text('{"changed": true}\n')
    assert not natively_readable(listed["day.json"])  # changed since it was listed
    assert not natively_readable(listed["day[1].json"])
    assert not natively_readable(SourceObject("s3://bucket/log_data/day.json", 3, "etag"))
    assert natively_readable(next(iter(list_sources(str(plain)))))
