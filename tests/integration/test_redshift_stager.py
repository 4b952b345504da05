"""The Redshift stager against what can run here: moto's S3 and PostgreSQL.

* ``location``: COPY reads the folder itself when it holds only sources, and a
  manifest (written to moto's S3, read back here) when it holds anything else.
* The COPY error path: Redshift's load-error views are plain tables here, in a
  PostgreSQL schema of the test's own that comes first in ``search_path``,
  holding rows shaped as Redshift writes them (CHAR columns blank-padded).
* ``stage`` end to end: PostgreSQL rejects Redshift's COPY syntax, which
  exercises the real failure path with nothing mocked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import models
from sparkify.config import Settings, load_settings
from sparkify.db import engine_for_url
from sparkify.errors import (
    BadRecordError,
    ConfigError,
    DatabaseError,
    SourceError,
    TooManyBadRecordsError,
)
from sparkify.execute import execute_redshift
from sparkify.models import EVENT_KEYS
from sparkify.sources import TableSources, list_sources, plan_sources, s3_client
from sparkify.staging.base import ErrorBudget, NoProgress
from sparkify.staging.redshift import RedshiftStager
from sparkify.staging.redshift_copy import copy_statement
from sparkify.staging.redshift_errors import (
    COPY_ERRORS,
    ERRORS_BEFORE,
    TABLE_ID,
    copy_failure,
    record_skipped,
)

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/dwhRole"
RUN_ID = "run-0001"
EVENT_LINE = (
    b'{"artist":null,"auth":"Logged In","firstName":"Ana","gender":"F","itemInSession":0,'
    b'"lastName":"Lee","length":null,"level":"free","location":"Somewhere","method":"GET",'
    b'"page":"Home","registration":1540991795796.0,"sessionId":1,"song":null,"status":200,'
    b'"ts":1541105830796,"userAgent":"Mozilla","userId":"10"}'
)
SONG = (
    b'{"num_songs": 1, "artist_id": "AR1", "artist_latitude": null, "artist_longitude": null, '
    b'"artist_location": "", "artist_name": "Band", "song_id": "SO1", "title": "Tune", '
    b'"duration": 200.5, "year": 0}'
)
JSONPATHS = json.dumps({"jsonpaths": [f"$['{key}']" for key in EVENT_KEYS]}).encode()


def put(bucket: str, objects: dict[str, bytes]) -> None:
    client = s3_client("us-west-2")
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def redshift_settings(tmp_path: Path, bucket: str, **extra: str) -> Settings:
    """Settings for a Redshift warehouse reading from ``bucket`` (no dwh.cfg is read)."""
    config = tmp_path / "empty.cfg"
    config.write_text("")
    environ = {
        "SPARKIFY_DATABASE_URL": "redshift+redshift_connector://awsuser@example.invalid:5439/dev",
        "SPARKIFY_IAM_ROLE_ARN": ROLE,
        "SPARKIFY_REGION": "us-west-2",
        "SPARKIFY_LOG_DATA": f"s3://{bucket}/log_data",
        "SPARKIFY_SONG_DATA": f"s3://{bucket}/song_data",
        "SPARKIFY_LOG_JSONPATH": f"s3://{bucket}/log_json_path.json",
        **extra,
    }
    return load_settings(config_file=config, environ=environ)


# -- where COPY reads -------------------------------------------------------------------


def events_under(bucket: str, prefix: str = "log_data") -> TableSources:
    client = s3_client("us-west-2")
    uri = f"s3://{bucket}/{prefix}"
    return TableSources(models.staging_events, uri, tuple(list_sources(uri, client=client)))


def test_a_prefix_holding_only_sources_is_copied_as_a_folder_without_manifest(
    s3_bucket: str, tmp_path: Path
) -> None:
    put(
        s3_bucket,
        {
            "log_data/2018/11/a.json": EVENT_LINE,
            "log_data/2018/11/b.json": EVENT_LINE,
            # A sibling sharing the name is not under the folder.
            "log_data_old/c.json": EVENT_LINE,
            "manifests/keep.txt": b"",
        },
    )
    settings = redshift_settings(
        tmp_path, s3_bucket, SPARKIFY_MANIFEST_PREFIX=f"s3://{s3_bucket}/manifests"
    )
    client = s3_client("us-west-2")
    location, manifest = RedshiftStager().location(
        events_under(s3_bucket), settings, RUN_ID, client
    )
    assert (location, manifest) == (f"s3://{s3_bucket}/log_data/", False)
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="manifests/")
    assert [item["Key"] for item in listed["Contents"]] == ["manifests/keep.txt"]


@pytest.mark.parametrize(
    "other", ["log_data/.ipynb_checkpoints/x.json", "log_data/notes.txt"], ids=["hidden", "txt"]
)
def test_a_prefix_holding_non_sources_is_copied_through_a_manifest_of_exactly_the_sources(
    s3_bucket: str, tmp_path: Path, other: str
) -> None:
    put(
        s3_bucket,
        {
            "log_data/2018/11/a.json": EVENT_LINE,
            "log_data/2018/11/b.json": EVENT_LINE + b"\n" + EVENT_LINE,
            other: b"{}",
        },
    )
    settings = redshift_settings(
        tmp_path, s3_bucket, SPARKIFY_MANIFEST_PREFIX=f"s3://{s3_bucket}/manifests"
    )
    client = s3_client("us-west-2")
    sources = events_under(s3_bucket)
    location, manifest = RedshiftStager().location(sources, settings, RUN_ID, client)

    key = f"manifests/{RUN_ID}/staging_events.manifest"
    assert (location, manifest) == (f"s3://{s3_bucket}/{key}", True)
    written = client.get_object(Bucket=s3_bucket, Key=key)
    assert json.loads(written["Body"].read()) == {
        "entries": [
            {
                "url": f"s3://{s3_bucket}/log_data/2018/11/a.json",
                "mandatory": True,
                "meta": {"content_length": len(EVENT_LINE)},
            },
            {
                "url": f"s3://{s3_bucket}/log_data/2018/11/b.json",
                "mandatory": True,
                "meta": {"content_length": 2 * len(EVENT_LINE) + 1},
            },
        ]
    }


def test_a_plan_of_only_some_sources_is_copied_through_a_manifest(
    s3_bucket: str, tmp_path: Path
) -> None:
    put(s3_bucket, {"log_data/a.json": EVENT_LINE, "log_data/b.json": EVENT_LINE})
    settings = redshift_settings(
        tmp_path, s3_bucket, SPARKIFY_MANIFEST_PREFIX=f"s3://{s3_bucket}/manifests/"
    )
    client = s3_client("us-west-2")
    every = events_under(s3_bucket)
    some = dataclasses.replace(every, objects=every.objects[1:])
    location, manifest = RedshiftStager().location(some, settings, RUN_ID, client)
    assert manifest
    assert location == f"s3://{s3_bucket}/manifests/{RUN_ID}/staging_events.manifest"
    body = client.get_object(Bucket=s3_bucket, Key=location.split("/", 3)[3])["Body"].read()
    assert [entry["url"] for entry in json.loads(body)["entries"]] == [
        f"s3://{s3_bucket}/log_data/b.json"
    ]


def test_a_manifest_needed_with_no_manifest_prefix_is_a_config_error(
    s3_bucket: str, tmp_path: Path
) -> None:
    put(s3_bucket, {"log_data/a.json": EVENT_LINE, "log_data/notes.txt": b"notes"})
    settings = redshift_settings(tmp_path, s3_bucket)
    assert settings.manifest_prefix is None
    with pytest.raises(ConfigError) as caught:
        RedshiftStager().location(events_under(s3_bucket), settings, RUN_ID, s3_client("us-west-2"))
    assert (caught.value.section, caught.value.key) == ("S3", "MANIFEST_PREFIX")
    assert "[S3]" in str(caught.value)
    assert "MANIFEST_PREFIX" in str(caught.value)


def test_a_local_folder_cannot_be_copied_by_redshift(tmp_path: Path, aws_env: str) -> None:
    (tmp_path / "a.json").write_bytes(EVENT_LINE)
    sources = TableSources(models.staging_events, str(tmp_path), tuple(list_sources(str(tmp_path))))
    settings = dataclasses.replace(redshift_settings(tmp_path, "unused"), log_data=str(tmp_path))
    with pytest.raises(SourceError):
        RedshiftStager().location(sources, settings, RUN_ID, s3_client("us-west-2"))


# -- Redshift's load-error views, played by PostgreSQL tables ---------------------------

SYS_LOAD_ERROR_DETAIL = """
CREATE TABLE sys_load_error_detail (
    user_id int, query_id bigint, transaction_id bigint, session_id int,
    database_name char(64), table_id int, start_time timestamp, file_name char(256),
    line_number bigint, column_name char(127), column_type char(10), column_length char(10),
    position int, error_code int, error_message char(512)
)"""
DRIVER_MESSAGE = (
    "Load into table 'staging_events' failed. "
    "Check 'sys_load_error_detail' system table for details."
)
T0 = dt.datetime(2026, 11, 24, 12, 0, 0)


def copy_error(message: str = DRIVER_MESSAGE) -> sa.exc.DBAPIError:
    """The error the driver raises for a failed COPY (built, not caught from Redshift)."""
    return sa.exc.DBAPIError("COPY staging_events ...", None, Exception(message))


@pytest.fixture
def redshift_schema(pg_url: sa.URL) -> Iterator[sa.Engine]:
    """An engine whose connections see a fresh schema of their own first in search_path."""
    name = f"redshift_errors_test_{uuid.uuid4().hex[:8]}"
    admin = engine_for_url(pg_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    engine = engine_for_url(
        pg_url.update_query_dict({"options": f"-csearch_path={name}"}),
        poolclass=sa.pool.NullPool,
    )
    # The failed COPY's table: load errors are looked up by its table id.
    with engine.begin() as conn:
        models.staging_events.create(conn)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()


#: The staging_events table id, as Redshift's load-error views carry it.
EVENTS_OID = "CAST(CAST('staging_events'::regclass AS oid) AS int)"


def backend_pid(engine: sa.Engine) -> int:
    """A session id as the stager reads it before its COPY."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def sys_row(
    session: int,
    start: dt.datetime,
    file_name: str,
    line: int,
    column: str,
    message: str,
    *,
    query_id: int = 1001,
    table_id: int | None = None,
) -> dict[str, Any]:
    return {
        "user_id": 100,
        "query_id": query_id,
        "transaction_id": 5000 + query_id,
        "session_id": session,
        "database_name": "dev",
        "table_id": table_id,
        "start_time": start,
        "file_name": file_name,
        "line_number": line,
        "column_name": column,
        "column_type": "int4",
        "column_length": "",
        "position": 0,
        "error_code": 1207,
        "error_message": message,
    }


def insert_sys_rows(engine: sa.Engine, rows: list[dict[str, Any]], *, create: bool = True) -> None:
    with engine.begin() as conn:
        if create:
            conn.exec_driver_sql(SYS_LOAD_ERROR_DETAIL)
        if not rows:
            return
        conn.execute(
            sa.text(
                "INSERT INTO sys_load_error_detail VALUES (:user_id, :query_id, "
                ":transaction_id, :session_id, :database_name, "
                f"COALESCE(CAST(:table_id AS int), {EVENTS_OID}), :start_time, "
                ":file_name, :line_number, :column_name, :column_type, :column_length, "
                ":position, :error_code, :error_message)"
            ),
            rows,
        )


def test_the_stand_in_views_return_blank_padded_text_like_redshift(
    redshift_schema: sa.Engine,
) -> None:
    # The point of the CHAR columns: what copy_failure reads comes padded, as on
    # Redshift, so its TRIMs are exercised.
    insert_sys_rows(redshift_schema, [sys_row(1, T0, "s3://b/k.json", 1, "ts", "x")])
    with redshift_schema.connect() as conn:
        file_name, column = conn.exec_driver_sql(
            "SELECT file_name, column_name FROM sys_load_error_detail"
        ).one()
    assert (len(file_name), len(column)) == (256, 127)
    assert file_name.rstrip() == "s3://b/k.json"


def events_id(engine: sa.Engine) -> int:
    """staging_events' id, as the stager looks it up (catalog tables only)."""
    with engine.connect() as conn:
        return int(execute_redshift(conn, TABLE_ID.bindparams(table="staging_events")).scalar_one())


def copy_errors(engine: sa.Engine, session: int, since: dt.datetime | str | None) -> sa.TextClause:
    """The lookup of one COPY's load errors: its session, its table, newer than ``since``."""
    text = since.isoformat(sep=" ") if isinstance(since, dt.datetime) else since
    return COPY_ERRORS.bindparams(session=session, table_id=events_id(engine), since=text)


def errors_before(engine: sa.Engine, session: int) -> str | None:
    """What the stager reads before a COPY: the newest error of the session and table."""
    lookup = ERRORS_BEFORE.bindparams(session=session, table_id=events_id(engine))
    with engine.connect() as conn:
        since: str | None = execute_redshift(conn, lookup).scalar()
    return since


def test_failed_copy_is_explained_by_its_own_load_error_not_an_earlier_copys(
    redshift_schema: sa.Engine,
) -> None:
    session = backend_pid(redshift_schema)
    other = session + 1
    key = "s3://udacity-dend/log_data/2018/11/2018-11-02-events.json"
    # An earlier COPY of this session and table (a run before, in the same session).
    insert_sys_rows(
        redshift_schema,
        [
            sys_row(
                session,
                T0,
                "s3://udacity-dend/log_data/2018/11/2018-11-01-events.json",
                3,
                "ts",
                "Missing data for not-null field",
                query_id=1001,
            )
        ],
    )
    since = errors_before(redshift_schema, session)
    assert since is not None
    insert_sys_rows(
        redshift_schema,
        [
            sys_row(
                session,
                T0 + dt.timedelta(seconds=30),
                key,
                17,
                "user_id",
                "Invalid digit, Value 'x', Pos 0, Type: Integer",
                query_id=1002,
            ),
            # Another session's error, newer than all of ours: never ours.
            sys_row(
                other,
                T0 + dt.timedelta(minutes=5),
                "s3://other/x.json",
                99,
                "song",
                "String length exceeds DDL length",
                query_id=1003,
            ),
        ],
        create=False,
    )
    lookup = copy_errors(redshift_schema, session, since)
    error = copy_failure(redshift_schema, lookup, "staging_events", copy_error())
    assert isinstance(error, BadRecordError)
    assert error.source == key
    assert error.line == 17
    assert error.column == "user_id"
    assert error.reason == "Invalid digit, Value 'x', Pos 0, Type: Integer"
    assert error.raw == ""  # sys_load_error_detail has no raw line
    assert str(error) == (
        f"bad record in {key}, line 17, column user_id: "
        "Invalid digit, Value 'x', Pos 0, Type: Integer"
    )


def test_the_errors_before_a_copy_keep_their_microseconds(redshift_schema: sa.Engine) -> None:
    session = backend_pid(redshift_schema)
    start = T0 + dt.timedelta(microseconds=123456)
    insert_sys_rows(redshift_schema, [sys_row(session, start, "s3://b/a.json", 1, "ts", "x")])
    assert errors_before(redshift_schema, session) == "2026-11-24 12:00:00.123456"
    with redshift_schema.connect() as conn:
        found = execute_redshift(conn, copy_errors(redshift_schema, session, start)).all()
    assert found == []


def test_a_load_error_with_no_column_names_none(redshift_schema: sa.Engine) -> None:
    session = backend_pid(redshift_schema)
    insert_sys_rows(
        redshift_schema,
        [sys_row(session, T0, "s3://b/log_data/a.json", 2, "", "Invalid JSONPath format")],
    )
    error = copy_failure(
        redshift_schema, copy_errors(redshift_schema, session, None), "staging_events", copy_error()
    )
    assert isinstance(error, BadRecordError)
    assert error.column is None
    assert str(error) == "bad record in s3://b/log_data/a.json, line 2: Invalid JSONPath format"


def test_failed_copy_with_no_load_error_view_is_a_database_error_with_the_driver_message(
    redshift_schema: sa.Engine,
) -> None:
    session = backend_pid(redshift_schema)
    error = copy_failure(
        redshift_schema, copy_errors(redshift_schema, session, None), "staging_events", copy_error()
    )
    assert isinstance(error, DatabaseError)
    assert error.action == "COPY into staging_events"
    assert error.reason == DRIVER_MESSAGE


def test_failed_copy_with_no_load_error_of_its_session_is_a_database_error(
    redshift_schema: sa.Engine,
) -> None:
    session = backend_pid(redshift_schema)
    insert_sys_rows(redshift_schema, [sys_row(session + 1, T0, "s3://b/x.json", 1, "ts", "no")])
    message = "S3ServiceException:Access Denied,Status 403"
    error = copy_failure(
        redshift_schema,
        copy_errors(redshift_schema, session, None),
        "staging_events",
        copy_error(message),
    )
    assert isinstance(error, DatabaseError)
    assert error.reason == message


def test_a_failed_copy_is_not_explained_by_another_tables_copy_of_the_session(
    redshift_schema: sa.Engine,
) -> None:
    with redshift_schema.begin() as conn:
        models.staging_songs.create(conn)
        models.staging_events.create(conn, checkfirst=True)
        songs_oid = conn.exec_driver_sql("SELECT 'staging_songs'::regclass::oid").scalar_one()
    session = backend_pid(redshift_schema)
    # Under --max-errors, the songs COPY skipped a bad record; then the events COPY
    # failed for a reason that is no bad record at all.
    insert_sys_rows(
        redshift_schema,
        [
            sys_row(
                session,
                T0,
                "s3://b/song_data/A/x.json",
                1,
                "year",
                "Invalid digit, Value 'x', Pos 0, Type: Integer",
                table_id=int(songs_oid),
            )
        ],
    )
    message = "S3ServiceException:Access Denied,Status 403"
    error = copy_failure(
        redshift_schema,
        copy_errors(redshift_schema, session, None),
        "staging_events",
        copy_error(message),
    )
    assert isinstance(error, DatabaseError)
    assert error.reason == message


# -- records skipped under MAXERROR -----------------------------------------------------


def last_copy_id(engine: sa.Engine, query_id: int) -> None:
    """Redshift's pg_last_copy_id(), in the test schema (found through search_path)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION pg_last_copy_id() RETURNS bigint LANGUAGE sql "
            f"AS 'SELECT {query_id}::bigint'"
        )


SKIPPED = [
    ("s3://b/log_data/b.json", 2, "user_id", "Invalid digit, Value 'x', Pos 0, Type: Integer"),
    ("s3://b/log_data/a.json", 9, "ts", "Missing data for not-null field"),
    ("s3://b/log_data/a.json", 4, "", "Invalid JSON"),
]


@pytest.fixture
def skipped_rows(redshift_schema: sa.Engine) -> tuple[sa.Engine, sa.TextClause]:
    """The SYS rows of a COPY that skipped 3 records, after an earlier COPY's error.

    The SYS view's ``query_id`` is not STL's: ``pg_last_copy_id()`` answers another
    number (as on Redshift), so a lookup by it finds nothing.
    """
    session = backend_pid(redshift_schema)
    # An earlier COPY's error in the same session and table: not this COPY's.
    insert_sys_rows(redshift_schema, [sys_row(session, T0, "s3://b/old.json", 1, "ts", "old")])
    since = errors_before(redshift_schema, session)
    rows = [
        sys_row(session, T0 + dt.timedelta(seconds=5), file, line, column, reason, query_id=4242)
        for file, line, column, reason in SKIPPED
    ]
    insert_sys_rows(redshift_schema, rows, create=False)
    last_copy_id(redshift_schema, 987654)
    lookup = copy_errors(redshift_schema, session, since)
    return redshift_schema, lookup


def test_records_skipped_by_the_copy_go_to_the_error_budget(
    skipped_rows: tuple[sa.Engine, sa.TextClause],
) -> None:
    engine, lookup = skipped_rows
    budget = ErrorBudget(max_errors=5)
    with engine.connect() as conn:
        record_skipped(conn, lookup, "staging_events", budget)
    assert budget.skipped == 3
    assert [(table, e.source, e.line, e.column, e.reason) for table, e in budget.errors] == [
        ("staging_events", "s3://b/log_data/a.json", 4, None, "Invalid JSON"),
        ("staging_events", "s3://b/log_data/a.json", 9, "ts", "Missing data for not-null field"),
        (
            "staging_events",
            "s3://b/log_data/b.json",
            2,
            "user_id",
            "Invalid digit, Value 'x', Pos 0, Type: Integer",
        ),
    ]


def test_records_skipped_beyond_the_budget_raise_too_many_bad_records(
    skipped_rows: tuple[sa.Engine, sa.TextClause],
) -> None:
    engine, lookup = skipped_rows
    budget = ErrorBudget(max_errors=2)
    with engine.connect() as conn, pytest.raises(TooManyBadRecordsError) as caught:
        record_skipped(conn, lookup, "staging_events", budget)
    assert caught.value.max_errors == 2
    assert caught.value.last.source == "s3://b/log_data/b.json"
    assert budget.skipped == 2


def test_the_budget_is_shared_by_both_copies_of_a_run(
    skipped_rows: tuple[sa.Engine, sa.TextClause],
) -> None:
    engine, lookup = skipped_rows
    budget = ErrorBudget(max_errors=5)
    with engine.connect() as conn:
        record_skipped(conn, lookup, "staging_songs", budget)
        assert budget.remaining == 2
        with pytest.raises(TooManyBadRecordsError):
            record_skipped(conn, lookup, "staging_events", budget)
    assert budget.skipped == 5


def test_a_copy_that_skipped_nothing_adds_nothing(redshift_schema: sa.Engine) -> None:
    session = backend_pid(redshift_schema)
    insert_sys_rows(redshift_schema, [sys_row(session, T0, "s3://b/a.json", 1, "ts", "x")])
    since = errors_before(redshift_schema, session)
    budget = ErrorBudget(max_errors=1)
    lookup = copy_errors(redshift_schema, session, since)
    with redshift_schema.connect() as conn:
        record_skipped(conn, lookup, "staging_events", budget)
    assert budget.skipped == 0


# -- stage() end to end: PostgreSQL refuses Redshift's COPY ---------------------------


def test_stage_sends_the_redshift_copy_and_reports_its_refusal_as_a_database_error(
    s3_bucket: str, tmp_path: Path, redshift_schema: sa.Engine
) -> None:
    # PostgreSQL cannot run Redshift's COPY (WITH CREDENTIALS ...): its refusal takes
    # the real failure path (copy_failure on a fresh connection, no load-error views
    # in this schema). Statements are only observed, none is altered or skipped.
    put(
        s3_bucket,
        {
            "log_data/a.json": EVENT_LINE,
            "song_data/A/s.json": SONG,
            "song_data/.ipynb_checkpoints/s-checkpoint.json": SONG,
            "log_json_path.json": JSONPATHS,
        },
    )
    settings = redshift_settings(
        tmp_path, s3_bucket, SPARKIFY_MANIFEST_PREFIX=f"s3://{s3_bucket}/manifests"
    )
    client = s3_client("us-west-2")
    plan = plan_sources(settings, client)
    with redshift_schema.begin() as conn:
        models.staging_songs.create(conn)
        models.staging_events.create(conn, checkfirst=True)
        conn.execute(sa.insert(models.staging_songs).values(song_id="left from a run before"))
    insert_sys_rows(redshift_schema, [])

    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa.event.listen(redshift_schema, "before_cursor_execute", capture)
    try:
        with redshift_schema.connect() as conn, pytest.raises(DatabaseError) as caught:
            RedshiftStager().stage(
                conn,
                plan,
                settings,
                budget=ErrorBudget(),
                run_id=RUN_ID,
                progress=NoProgress(),
                client=client,
            )
    finally:
        sa.event.remove(redshift_schema, "before_cursor_execute", capture)

    assert caught.value.action == "COPY into staging_songs"
    assert "syntax error" in caught.value.reason
    assert isinstance(caught.value.__cause__, sa.exc.DBAPIError)

    manifest = f"s3://{s3_bucket}/manifests/{RUN_ID}/staging_songs.manifest"
    expected_copy = copy_statement(
        plan.songs,
        manifest,
        iam_role_arn=ROLE,
        region="us-west-2",
        json_option="auto",
        manifest=True,
        max_errors=0,
    )
    assert sent[0] == "SELECT pg_backend_pid()"
    assert sent[1].startswith("DELETE FROM staging_songs")
    assert sent[2].startswith("SELECT c.oid FROM pg_class")
    assert sent[3].startswith(
        "SELECT CAST(MAX(start_time) AS VARCHAR(32)) FROM sys_load_error_detail"
    )
    assert sent[4] == expected_copy
    body = client.get_object(Bucket=s3_bucket, Key=f"manifests/{RUN_ID}/staging_songs.manifest")
    assert [entry["url"] for entry in json.loads(body["Body"].read())["entries"]] == [
        f"s3://{s3_bucket}/song_data/A/s.json"
    ]
    # The failed COPY's transaction was never committed: the old staging row remains.
    with redshift_schema.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(models.staging_songs)).scalar()


def test_stage_without_an_iam_role_is_a_config_error(
    s3_bucket: str, tmp_path: Path, redshift_schema: sa.Engine
) -> None:
    put(
        s3_bucket,
        {
            "log_data/a.json": EVENT_LINE,
            "song_data/s.json": SONG,
            "log_json_path.json": JSONPATHS,
        },
    )
    settings = dataclasses.replace(redshift_settings(tmp_path, s3_bucket), iam_role_arn=None)
    client = s3_client("us-west-2")
    plan = plan_sources(settings, client)
    with redshift_schema.connect() as conn, pytest.raises(ConfigError) as caught:
        RedshiftStager().stage(
            conn,
            plan,
            settings,
            budget=ErrorBudget(),
            run_id=RUN_ID,
            progress=NoProgress(),
            client=client,
        )
    assert (caught.value.section, caught.value.key) == ("IAM_ROLE", "ARN")
