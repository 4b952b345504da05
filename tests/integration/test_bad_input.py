"""Bad input (CONTRACT.md, "Bad input") on the PostgreSQL stand-in and embedded DuckDB.

A record that cannot be loaded stops the load with an error naming the source,
the line and the reason, and nothing of that run is committed. With
``max_errors`` N, up to N bad records are skipped and recorded in
``load_errors``; one more fails the run and nothing is committed.

Each test loads a small good dataset first and snapshots every table, then adds
a file holding a bad record between two good ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from sparkify import load, models, schema
from sparkify.cli import main
from sparkify.config import Settings, load_settings
from sparkify.db import engine_for_url
from sparkify.errors import BadRecordError, SourceError, TooManyBadRecordsError
from sparkify.staging.records import raw_text
from tests.sourcedata import (
    event,
    event_line,
    song,
    song_text,
    write_jsonpaths,
    write_log_file,
    write_song_files,
)
from tests.warehouse import LOAD_BACKENDS, staging_env

pytestmark = pytest.mark.integration

BACKENDS = LOAD_BACKENDS
#: Every table but load_errors (checked on its own) and load_runs (a failed run's
#: one row, tests/integration/test_history.py): staging, star, and any other
#: bookkeeping table a run writes in its transaction.
SNAPSHOT_TABLES = [
    t for t in models.metadata.sorted_tables if t.name not in ("load_errors", "load_runs")
]

# 2018-11-01 20:57:10.796 UTC and later, as in the real logs.
T1 = 1541105830796
DAY = 86_400_000

SONGS = [
    song("SOZCTXZ12AB0182364", "Setanta matins", "AR5KOSW1187FB35FF4", "Elena", 269.58322),
    song(
        "SOMZWCG12A8C13C480",
        "I Didn't Mean To",
        "ARD7TVE1187B99BFB1",
        "Casual",
        218.93179,
        location="California - LA",
    ),
    song(
        "SOUPIRU12A6D4FA1E1",
        "Der Kleine Dompfaff",
        "ARJIE2Y1187B994AB7",
        "Line Renaud",
        152.92036,
        year=1992,
        latitude=48.85717,
        longitude=2.34145,
        location="Paris",
    ),
]

DAY1 = [
    event(
        T1,
        "15",
        139,
        song="Setanta matins",
        artist="Elena",
        length=269.58322,
        first_name="Lily",
        last_name="Koch",
        gender="F",
        level="paid",
    ),
    event(T1 + 1000, "", 140, page="Home"),
    event(T1 + 2000, "8", 141, song="Unknown", artist="Nobody", length=100.0, first_name="Kaylee"),
]
DAY2 = [
    event(T1 + DAY, "15", 142, song="I Didn't Mean To", artist="Casual", length=218.93179),
    event(T1 + DAY + 5, "10", 143, page="Home", first_name="Sylvie", last_name="Cruz"),
]


def day3_event(user_id: str, offset: int, **extra: Any) -> dict[str, Any]:
    """A good NextSong event of 2018-11-03 (the day of the files holding bad records)."""
    return event(
        T1 + 2 * DAY + offset,
        user_id,
        200 + offset,
        song="Der Kleine Dompfaff",
        artist="Line Renaud",
        length=152.92036,
        first_name=f"User{user_id}",
        **extra,
    )


def with_ts_removed(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "ts"}


@dataclass(frozen=True)
class BadKind:
    """One kind of bad record, written between two good records of a new file."""

    name: str
    table: str
    line: bytes
    reason: str  # the exact reason, or its start when it ends with "..."
    column: str | None

    @property
    def raw(self) -> str:
        """The raw_line recorded: the line's text, cut to Redshift's 1024 bytes, NUL as U+FFFD."""
        return raw_text(self.line.decode("utf-8", "replace")).replace("\x00", "\ufffd")

    def matches(self, reason: str) -> bool:
        if self.reason.endswith("..."):
            return reason.startswith(self.reason[:-3])
        return reason == self.reason


BAD_EVENT = day3_event("54", 1)
KINDS = [
    BadKind(
        "malformed JSON",
        "staging_events",
        (event_line(BAD_EVENT)[:-1] + ",}").encode(),
        "malformed JSON: ...",
        None,
    ),
    BadKind(
        "non-numeric userId",
        "staging_events",
        event_line(day3_event("abc", 1)).encode(),
        "userId: 'abc' is not an integer",
        "user_id",
    ),
    BadKind(
        "missing ts",
        "staging_events",
        event_line(with_ts_removed(BAD_EVENT)).encode(),
        "ts is missing",
        "ts",
    ),
    BadKind(
        "value too long for its column",
        "staging_events",
        event_line({**BAD_EVENT, "firstName": "\u00e9" * 300}).encode(),
        "firstName: value is 600 bytes, longer than the column's 512",
        "first_name",
    ),
    BadKind(
        "sessionId an object",
        "staging_events",
        event_line({**BAD_EVENT, "sessionId": {"id": 201}}).encode(),
        "sessionId: a JSON object where an integer was expected",
        "session_id",
    ),
    BadKind(
        "invalid UTF-8",
        "staging_events",
        event_line({**BAD_EVENT, "firstName": "caf?"}).encode().replace(b"caf?", b"caf\xe9"),
        "invalid UTF-8 ...",
        None,
    ),
    BadKind(
        "song year not a number",
        "staging_songs",
        song_text(song("SOBAD", "Bad year", "ARBAD", "Bad", 1.0, year="unknown")).encode(),
        "year: 'unknown' is not an integer",
        "year",
    ),
]

TS_OUTSIDE = "is outside the range of epoch milliseconds the warehouse holds (years 1-9999)"


def nested_too_deeply(record: dict[str, Any], depth: int) -> bytes:
    """``record`` as one line, with a key no JSONPath reads holding arrays ``depth`` deep."""
    line = json.dumps({**record, "deep": "X"}, separators=(",", ":")).encode()
    return line.replace(b'"X"', b"[" * depth + b"]" * depth)


# The bad values of issue 13: each used to pass staging and fail the whole load
# later (ts), crash it (deep JSON: RecursionError), fail the load_errors insert
# on PostgreSQL (NUL), or be staged and dropped without a word (song ids).
ISSUE13_KINDS = [
    BadKind(
        "ts in microseconds",
        "staging_events",
        event_line({**BAD_EVENT, "ts": 1541120959664000}).encode(),
        f"ts: 1541120959664000 {TS_OUTSIDE}",
        "ts",
    ),
    BadKind(
        "ts one past the last millisecond of 9999",
        "staging_events",
        event_line({**BAD_EVENT, "ts": models.TS_MAX_MS + 1}).encode(),
        f"ts: {models.TS_MAX_MS + 1} {TS_OUTSIDE}",
        "ts",
    ),
    BadKind(
        "ts one before the first millisecond of year 1",
        "staging_events",
        event_line({**BAD_EVENT, "ts": models.TS_MIN_MS - 1}).encode(),
        f"ts: {models.TS_MIN_MS - 1} {TS_OUTSIDE}",
        "ts",
    ),
    BadKind(
        "ts as the float -1e16",
        "staging_events",
        event_line({**BAD_EVENT, "ts": -1e16}).encode(),
        f"ts: {-(10**16)} {TS_OUTSIDE}",
        "ts",
    ),
    BadKind(
        "event nested 1,100 levels deep",
        "staging_events",
        nested_too_deeply(BAD_EVENT, 1100),
        "JSON nested too deeply",
        None,
    ),
    BadKind(
        "event nested 100,000 levels deep",
        "staging_events",
        nested_too_deeply(BAD_EVENT, 100_000),
        "JSON nested too deeply",
        None,
    ),
    BadKind(
        "song nested 1,100 levels deep",
        "staging_songs",
        nested_too_deeply(song("SODEEP", "Deep", "ARDEEP", "Deep", 1.0), 1100),
        "JSON nested too deeply",
        None,
    ),
    BadKind(
        "song nested 100,000 levels deep",
        "staging_songs",
        nested_too_deeply(song("SODEEP", "Deep", "ARDEEP", "Deep", 1.0), 100_000),
        "JSON nested too deeply",
        None,
    ),
    BadKind(
        "NUL byte in a malformed line",
        "staging_events",
        event_line({**BAD_EVENT, "firstName": "NUL"}).replace("NUL", "a\x00b").encode(),
        "malformed JSON: Invalid control character at...",
        None,
    ),
    BadKind(
        "song without song_id",
        "staging_songs",
        song_text(
            {k: v for k, v in song("SOX", "No id", "ARX", "X", 1.0).items() if k != "song_id"}
        ).encode(),
        "song_id is missing",
        "song_id",
    ),
    BadKind(
        "song with an empty song_id",
        "staging_songs",
        song_text(song("", "Empty id", "ARX", "X", 1.0)).encode(),
        "song_id is empty",
        "song_id",
    ),
    BadKind(
        "song with a null artist_id",
        "staging_songs",
        song_text({**song("SOX", "No artist", "ARX", "X", 1.0), "artist_id": None}).encode(),
        "artist_id is missing",
        "artist_id",
    ),
]
ALL_KINDS = KINDS + ISSUE13_KINDS

NEW_SONGS = [
    song("SONEW1", "New One", "ARNEW1", "New Artist", 100.5, year=2020),
    song("SONEW2", "New Two", "ARNEW1", "New Artist", 200.25),
]


# -- fixtures ---------------------------------------------------------------------------


@dataclass
class Warehouse:
    """A migrated warehouse on one backend, in a schema of its own on PostgreSQL."""

    backend: str
    engine: sa.Engine
    url: str
    schema: str | None

    def settings(self, data: Dataset, **sources: str) -> Settings:
        return load_settings(
            environ=staging_env(self.backend),
            database_url=self.url,
            schema=self.schema,
            song_data=sources.get("song_data", str(data.song_data)),
            log_data=sources.get("log_data", str(data.log_data)),
            log_jsonpath=sources.get("log_jsonpath", str(data.jsonpath)),
        )

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every staging and star table's rows (songplay_id aside), sorted."""
        found = {}
        with self.engine.connect() as conn:
            for table in SNAPSHOT_TABLES:
                columns = [c for c in table.columns if c.name != "songplay_id"]
                rows = conn.execute(sa.select(*columns)).all()
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return found

    def load_errors(self) -> list[dict[str, Any]]:
        table = models.load_errors
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.source, table.c.line)).all()
        return [dict(row._mapping) for row in rows]

    def invoke(self, args: list[str]) -> Result:
        """The CLI run with ``args``, staging as this warehouse's backend does."""
        return CliRunner(env=staging_env(self.backend)).invoke(main, args)

    def cli_args(self, data: Dataset) -> list[str]:
        args = [
            "etl",
            "--database-url",
            self.url,
            "--song-data",
            str(data.song_data),
            "--log-data",
            str(data.log_data),
            "--log-jsonpath",
            str(data.jsonpath),
            "--no-progress",
        ]
        return [*args, "--schema", self.schema] if self.schema else args


@dataclass
class Dataset:
    """Source folders in tmp_path, holding the good dataset until bad files are added."""

    song_data: Path
    log_data: Path
    jsonpath: Path

    def add_bad(self, kind: BadKind, name: str = "bad") -> Path:
        """A new file of ``kind``'s source: good record, the bad one (line 2), good record."""
        if kind.table == "staging_songs":
            path = self.song_data / "Z" / f"{name}.json"
            lines = [song_text(NEW_SONGS[0]).encode(), kind.line, song_text(NEW_SONGS[1]).encode()]
        else:
            path = self.log_data / "2018" / "11" / f"2018-11-03-{name}-events.json"
            lines = [
                event_line(day3_event("52", 0)).encode(),
                kind.line,
                event_line(day3_event("53", 2)).encode(),
            ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(lines))
        return path


@pytest.fixture(scope="module")
def duckdb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file migrated to head once; each test copies it (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    engine = engine_for_url(f"duckdb:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "postgresql":
        pg_engine: sa.Engine = request.getfixturevalue("pg_engine")
        name = f"bad_input_{uuid.uuid4().hex[:10]}"
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        engine = engine_for_url(pg_engine.url, schema=name)
        schema.upgrade(engine, schema=name)
        try:
            yield Warehouse(
                "postgresql", engine, pg_engine.url.render_as_string(hide_password=False), name
            )
        finally:
            engine.dispose()
            with pg_engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
    else:
        url: sa.URL = request.getfixturevalue("duckdb_url")
        template: Path = request.getfixturevalue("duckdb_template")
        shutil.copyfile(template, str(url.database))
        engine = engine_for_url(url)
        try:
            yield Warehouse(request.param, engine, url.render_as_string(hide_password=False), None)
        finally:
            engine.dispose()


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    root = tmp_path / "sources"
    data = Dataset(root / "song_data", root / "log_data", root / "log_json_path.json")
    write_song_files(data.song_data, SONGS)
    write_log_file(data.log_data, "2018-11-01", DAY1)
    write_log_file(data.log_data, "2018-11-02", DAY2)
    write_jsonpaths(data.jsonpath)
    return data


@pytest.fixture
def loaded(warehouse: Warehouse, dataset: Dataset) -> dict[str, list[tuple[Any, ...]]]:
    """Load the good dataset; return the snapshot of every table after it."""
    report = load.run(warehouse.engine, warehouse.settings(dataset))
    assert report.skipped == 0
    assert report.totals["songplays"] == 3 and report.totals["songs"] == 3
    assert warehouse.load_errors() == []
    return warehouse.snapshot()


def user_ids(warehouse: Warehouse) -> set[int]:
    with warehouse.engine.connect() as conn:
        return set(conn.execute(sa.select(models.users.c.user_id)).scalars())


def song_ids(warehouse: Warehouse) -> set[str]:
    with warehouse.engine.connect() as conn:
        return set(conn.execute(sa.select(models.songs.c.song_id)).scalars())


# -- default mode: stop at the first bad record ---------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.name for k in ALL_KINDS])
def test_a_bad_record_stops_the_load_naming_source_line_and_reason_and_commits_nothing(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any], kind: BadKind
) -> None:
    path = dataset.add_bad(kind)
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset))
    error = caught.value
    assert (error.source, error.line, error.column) == (str(path), 2, kind.column)
    assert kind.matches(error.reason), error.reason
    message = str(error)
    assert message.startswith(f"bad record in {path}, line 2")
    assert error.reason in message
    assert warehouse.snapshot() == loaded
    assert warehouse.load_errors() == []


def test_the_first_bad_record_of_the_run_is_the_one_reported(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    path = write_log_file(
        dataset.log_data,
        "2018-11-03",
        [
            day3_event("52", 0),
            day3_event("52", 1),
            day3_event("abc", 2),
            with_ts_removed(BAD_EVENT),
        ],
    )
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset))
    assert (caught.value.source, caught.value.line) == (str(path), 3)
    assert warehouse.snapshot() == loaded


# -- --max-errors: skip, record, commit -------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.name for k in ALL_KINDS])
def test_with_max_errors_a_bad_record_is_skipped_and_recorded_and_the_rest_commits(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any], kind: BadKind
) -> None:
    path = dataset.add_bad(kind)
    report = load.run(warehouse.engine, warehouse.settings(dataset), max_errors=3)
    assert report.skipped == 1
    [row] = warehouse.load_errors()
    assert row["run_id"] == report.run_id
    assert row["table_name"] == kind.table
    assert (row["source"], row["line"], row["column_name"]) == (str(path), 2, kind.column)
    assert kind.matches(row["reason"]), row["reason"]
    assert row["raw_line"] == kind.raw
    assert row["recorded_at"] is not None
    # The good records of the same file are loaded.
    if kind.table == "staging_songs":
        assert song_ids(warehouse) == {s["song_id"] for s in SONGS + NEW_SONGS}
    else:
        assert user_ids(warehouse) == {8, 10, 15, 52, 53}
        assert report.totals["songplays"] == 5
    # The star rows of the earlier load are all still there (users aside: their
    # attributes follow each user's latest event).
    after = warehouse.snapshot()
    for table in ("songplays", "songs", "artists", "time"):
        assert set(loaded[table]) <= set(after[table]), table


def test_several_bad_records_within_max_errors_each_get_a_row(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    bad_log = dataset.add_bad(KINDS[1])
    lines = [kind.line for kind in KINDS[:5]]
    many = dataset.log_data / "many.json"
    many.write_bytes(b"\n".join(lines))
    bad_song = dataset.add_bad(KINDS[-1])
    report = load.run(warehouse.engine, warehouse.settings(dataset), max_errors=7)
    assert report.skipped == 7
    found = [
        (r["source"], r["line"], r["table_name"], r["raw_line"]) for r in warehouse.load_errors()
    ]
    expected = [
        (str(bad_log), 2, "staging_events", KINDS[1].raw),
        (str(bad_song), 2, "staging_songs", KINDS[-1].raw),
        *((str(many), n, "staging_events", KINDS[n - 1].raw) for n in range(1, 6)),
    ]
    assert sorted(found) == sorted(expected)
    assert {r["run_id"] for r in warehouse.load_errors()} == {report.run_id}


def test_load_errors_keep_the_rows_of_earlier_runs(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    first_file = dataset.add_bad(KINDS[1], "first")
    first = load.run(warehouse.engine, warehouse.settings(dataset), max_errors=1)
    second_file = dataset.add_bad(KINDS[2], "second")
    second = load.run(warehouse.engine, warehouse.settings(dataset), max_errors=1)
    assert first.run_id != second.run_id
    rows = {(r["run_id"], r["source"]) for r in warehouse.load_errors()}
    assert (first.run_id, str(first_file)) in rows
    assert (second.run_id, str(second_file)) in rows


# -- more bad records than --max-errors ------------------------------------------------------


def test_more_bad_records_than_max_errors_fails_and_commits_nothing(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    many = dataset.log_data / "many.json"
    many.write_bytes(b"\n".join(kind.line for kind in KINDS[:3]))

    with pytest.raises(TooManyBadRecordsError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset), max_errors=2)
    assert caught.value.max_errors == 2
    assert (caught.value.last.source, caught.value.last.line) == (str(many), 3)
    assert "more than 2 bad record(s)" in str(caught.value)
    assert f"{many}, line 3" in str(caught.value)
    assert warehouse.snapshot() == loaded
    assert warehouse.load_errors() == []

    # Exactly as many as allowed: the run commits and records them.
    report = load.run(warehouse.engine, warehouse.settings(dataset), max_errors=3)
    assert report.skipped == 3
    committed, recorded = warehouse.snapshot(), warehouse.load_errors()
    assert len(recorded) == 3

    # Four more bad records in another file: over the budget again, nothing changes.
    (dataset.log_data / "more.json").write_bytes(b"\n".join(kind.line for kind in KINDS[1:5]))
    with pytest.raises(TooManyBadRecordsError):
        load.run(warehouse.engine, warehouse.settings(dataset), max_errors=3)
    assert warehouse.snapshot() == committed
    assert warehouse.load_errors() == recorded


# -- bad input that must not crash the load -------------------------------------------------


CRASHERS = {
    "lone surrogate escape": event_line({**BAD_EVENT, "firstName": "XX"}).replace(
        '"XX"', '"\\ud800"'
    ),
    "number beyond double range": event_line({**BAD_EVENT, "length": 0.5}).replace(
        '"length":0.5', '"length":' + "9" * 400
    ),
}


@pytest.mark.parametrize("line", list(CRASHERS.values()), ids=list(CRASHERS))
def test_an_unloadable_value_is_a_bad_record_not_a_crash(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any], line: str
) -> None:
    kind = BadKind("crasher", "staging_events", line.encode(), "...", None)
    path = dataset.add_bad(kind)
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset))
    assert (caught.value.source, caught.value.line) == (str(path), 2)
    assert warehouse.snapshot() == loaded


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No dwh.cfg and no SPARKIFY_* variables: only the flags count."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SPARKIFY_"):
            monkeypatch.delenv(name)


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.usefixtures("cli_env")
def test_the_cli_reports_a_bad_record_on_one_line_and_exits_1(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    path = dataset.add_bad(KINDS[1])
    warehouse.engine.dispose()
    result = warehouse.invoke(warehouse.cli_args(dataset))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert error_lines(result.stderr) == [
        f"error: bad record in {path}, line 2, column user_id: userId: 'abc' is not an integer"
    ]
    assert warehouse.snapshot() == loaded


@pytest.mark.usefixtures("cli_env")
def test_the_cli_with_max_errors_skips_bad_records_and_says_how_many(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    dataset.add_bad(KINDS[0], "one")
    dataset.add_bad(KINDS[2], "two")
    warehouse.engine.dispose()
    result = warehouse.invoke([*warehouse.cli_args(dataset), "--max-errors", "5"])
    assert result.exit_code == 0, result.output
    rows = warehouse.load_errors()
    assert len(rows) == 2
    assert "2 bad record(s) skipped" in result.output
    assert "load_errors" in result.output and rows[0]["run_id"] in result.output


@pytest.mark.usefixtures("cli_env")
def test_the_cli_over_max_errors_exits_1_on_one_line(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    dataset.add_bad(KINDS[0], "one")
    dataset.add_bad(KINDS[2], "two")
    warehouse.engine.dispose()
    result = warehouse.invoke([*warehouse.cli_args(dataset), "--max-errors", "1"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = error_lines(result.stderr)
    assert line.startswith("error: more than 1 bad record(s)") and "nothing was committed" in line
    assert warehouse.snapshot() == loaded and warehouse.load_errors() == []


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("value", ["[admin]", "[/]"])
def test_the_cli_prints_a_bad_value_in_square_brackets_verbatim(
    warehouse: Warehouse, dataset: Dataset, value: str
) -> None:
    # The message is user data: it must not be read as rich console markup.
    line = event_line(day3_event(value, 1)).encode()
    path = dataset.add_bad(BadKind("markup", "staging_events", line, "...", "user_id"))
    result = warehouse.invoke(warehouse.cli_args(dataset))
    assert result.exit_code == 1
    assert error_lines(result.stderr) == [
        f"error: bad record in {path}, line 2, column user_id: userId: '{value}' is not an integer"
    ]


# -- an S3 source -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["duckdb", "duckdb-python"])
def test_a_bad_record_in_an_s3_object_names_its_s3_uri_and_commits_nothing(
    s3_bucket: str, duckdb_url: sa.URL, dataset: Dataset, tmp_path: Path, backend: str
) -> None:
    import boto3

    client = boto3.client("s3", region_name="us-west-2")
    root = dataset.song_data.parent
    for path in sorted(root.rglob("*.json")):
        client.upload_file(str(path), s3_bucket, path.relative_to(root).as_posix())
    engine = engine_for_url(duckdb_url)
    schema.upgrade(engine)
    house = Warehouse(backend, engine, str(duckdb_url), None)
    s3_sources = {
        "song_data": f"s3://{s3_bucket}/song_data",
        "log_data": f"s3://{s3_bucket}/log_data",
        "log_jsonpath": f"s3://{s3_bucket}/log_json_path.json",
    }
    try:
        load.run(engine, house.settings(dataset, **s3_sources))
        before = house.snapshot()
        key = "log_data/2018/11/2018-11-03-events.json"
        lines = [event_line(day3_event("52", 0)), event_line(with_ts_removed(BAD_EVENT))]
        client.put_object(Bucket=s3_bucket, Key=key, Body="\n".join(lines).encode())
        with pytest.raises(BadRecordError) as caught:
            load.run(engine, house.settings(dataset, **s3_sources))
        assert (caught.value.source, caught.value.line) == (f"s3://{s3_bucket}/{key}", 2)
        assert str(caught.value) == (
            f"bad record in s3://{s3_bucket}/{key}, line 2, column ts: ts is missing"
        )
        assert house.snapshot() == before
        assert house.load_errors() == []
    finally:
        engine.dispose()


# -- the range of ts the warehouse holds (issue 13) ---------------------------------------------


def expected_time_row(moment: dt.datetime) -> tuple[Any, ...]:
    """The contract's time row (rule 7) of ``moment``, by Python's proleptic calendar."""
    return (
        moment,
        moment.hour,
        moment.day,
        moment.isocalendar().week,
        moment.month,
        moment.year,
        moment.isoweekday() % 7,  # 0 = Sunday, as EXTRACT(DOW)
    )


def test_events_at_the_bounds_of_the_ts_range_load_through_the_transforms(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    first = dt.datetime(1, 1, 1)
    last = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000)
    write_log_file(
        dataset.log_data,
        "2018-11-03",
        [
            event(models.TS_MIN_MS, "60", 600, song="Early", artist="Nobody", length=1.0),
            event(models.TS_MAX_MS, "61", 601, song="Late", artist="Nobody", length=1.0),
        ],
    )
    report = load.run(warehouse.engine, warehouse.settings(dataset))
    assert report.skipped == 0
    songplays, time = models.songplays.c, models.time.c
    with warehouse.engine.connect() as conn:
        plays = conn.execute(
            sa.select(songplays.user_id, songplays.start_time)
            .where(songplays.user_id.in_([60, 61]))
            .order_by(songplays.user_id)
        ).all()
        times = conn.execute(
            sa.select(time.start_time, time.hour, time.day, time.week, time.month)
            .add_columns(time.year, time.weekday)
            .where(time.start_time.in_([first, last]))
            .order_by(time.start_time)
        ).all()
    assert [tuple(row) for row in plays] == [(60, first), (61, last)]
    assert [tuple(row) for row in times] == [expected_time_row(first), expected_time_row(last)]


# -- JSONPaths that cannot map the log keys are refused before anything is staged -----------


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("$.*", "path 18: '$.*' holds a wildcard"),
        ("$['userId']['x']", "path 18 is \"$['userId']['x']\", but column user_id takes the key"),
        ("$['user_id']", "path 18 is \"$['user_id']\", but column user_id takes the key 'userId'"),
        ("$.userid", "path 18 is '$.userid', but column user_id takes the key 'userId'"),
    ],
)
def test_a_jsonpaths_file_that_does_not_map_the_log_keys_is_refused_naming_the_path(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any], path: str, says: str
) -> None:
    document = json.loads(dataset.jsonpath.read_text())
    document["jsonpaths"][-1] = path
    dataset.jsonpath.write_text(json.dumps(document))
    write_log_file(dataset.log_data, "2018-11-03", [day3_event("52", 0)])
    with pytest.raises(SourceError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset))
    assert caught.value.source == str(dataset.jsonpath)
    assert says in caught.value.reason
    assert warehouse.snapshot() == loaded


def test_jsonpaths_in_another_order_than_the_columns_are_refused(
    warehouse: Warehouse, dataset: Dataset, loaded: dict[str, Any]
) -> None:
    keys = list(models.EVENT_KEYS)
    keys[-1], keys[-3] = keys[-3], keys[-1]  # userId and ts swapped
    write_jsonpaths(dataset.jsonpath, keys)
    with pytest.raises(SourceError) as caught:
        load.run(warehouse.engine, warehouse.settings(dataset))
    assert caught.value.reason == (
        "path 16 is \"$['userId']\", but column ts takes the key 'ts'; "
        "path 18 is \"$['ts']\", but column user_id takes the key 'userId'"
    )
    assert warehouse.snapshot() == loaded
