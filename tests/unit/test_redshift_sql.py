"""The Redshift SQL of a load, compiled with no connection: COPY and the star transforms.

Redshift cannot run here, so each statement is checked three ways: golden text
(``tests/golden/copy_*.sql``, ``tests/golden/transform_*.sql``; rewrite with
``SPARKIFY_UPDATE_GOLDEN=1`` and review the diff), sqlglot's Redshift parser
(no ``exp.Command`` fallback), and explicit assertions on the parts that matter.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlglot import exp

from sparkify import gate, transform
from sparkify.errors import ConfigError
from sparkify.models import staging_events, staging_songs
from sparkify.sources import SourceObject, TableSources
from sparkify.sql import date_field
from sparkify.staging.redshift_copy import copy_statement, folder, manifest_document
from tests.redshift_sql import assert_golden, assert_redshift_parses, compile_redshift

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/dwhRole"
REGION = "us-west-2"
JSONPATHS = "s3://udacity-dend/log_json_path.json"
LOG_FOLDER = "s3://udacity-dend/log_data/"
SONG_FOLDER = "s3://udacity-dend/song_data/"
MANIFESTS = "s3://sparkify-manifests/runs/run-1"

EVENTS = TableSources(
    staging_events,
    "s3://udacity-dend/log_data",
    (
        SourceObject("s3://udacity-dend/log_data/2018/11/2018-11-01-events.json", 7151, "e1"),
        SourceObject("s3://udacity-dend/log_data/2018/11/2018-11-02-events.json", 9002, "e2"),
    ),
)
SONGS = TableSources(
    staging_songs,
    "s3://udacity-dend/song_data",
    (SourceObject("s3://udacity-dend/song_data/A/A/A/TRAAAAK128F9318786.json", 245, "s1"),),
)


def copy_sql(
    sources: TableSources,
    *,
    location: str | None = None,
    json_option: str | None = None,
    manifest: bool = False,
    max_errors: int = 0,
    iam_role_arn: str = ROLE,
) -> str:
    """The COPY of one staging table as the stager builds it (events: JSONPaths; songs: auto)."""
    events = sources.table is staging_events
    if location is None:
        if manifest:
            location = f"{MANIFESTS}/{sources.table.name}.manifest"
        else:
            location = LOG_FOLDER if events else SONG_FOLDER
    if json_option is None:
        json_option = JSONPATHS if events else "auto"
    return copy_statement(
        sources,
        location,
        iam_role_arn=iam_role_arn,
        region=REGION,
        json_option=json_option,
        manifest=manifest,
        max_errors=max_errors,
    )


def the_copy(sql: str) -> exp.Copy:
    (tree,) = assert_redshift_parses(sql)
    assert isinstance(tree, exp.Copy)
    return tree


def literal_values(tree: exp.Expression) -> list[Any]:
    return [node.this for node in tree.find_all(exp.Literal) if node.is_string]


# -- COPY: golden text and parse ------------------------------------------------------

COPY_CASES = {
    "copy_staging_events": (EVENTS, {}),
    "copy_staging_events_maxerror": (EVENTS, {"max_errors": 10}),
    "copy_staging_events_manifest": (EVENTS, {"manifest": True}),
    "copy_staging_events_manifest_maxerror": (EVENTS, {"manifest": True, "max_errors": 10}),
    "copy_staging_songs": (SONGS, {}),
    "copy_staging_songs_maxerror": (SONGS, {"max_errors": 3}),
    "copy_staging_songs_manifest": (SONGS, {"manifest": True}),
}


@pytest.mark.parametrize("name", sorted(COPY_CASES))
def test_copy_statement_matches_golden_text(name: str) -> None:
    sources, options = COPY_CASES[name]
    assert_golden(name, copy_sql(sources, **options))


@pytest.mark.parametrize("name", sorted(COPY_CASES))
def test_copy_statement_parses_as_a_redshift_copy(name: str) -> None:
    sources, options = COPY_CASES[name]
    tree = the_copy(copy_sql(sources, **options))
    assert tree.this.this.name == sources.table.name


@pytest.mark.parametrize("sources", [EVENTS, SONGS], ids=["events", "songs"])
def test_copy_lists_the_staging_columns_in_table_order(sources: TableSources) -> None:
    tree = the_copy(copy_sql(sources))
    listed = [column.name for column in tree.this.expressions]
    assert listed == [column.name for column in sources.table.columns]
    header = copy_sql(sources).splitlines()[0]
    assert f"COPY {sources.table.name} ({', '.join(listed)}) FROM " in header


def test_events_copy_reads_the_folder_with_the_jsonpaths_file() -> None:
    sql = copy_sql(EVENTS)
    tree = the_copy(sql)
    assert [file.this for file in tree.args["files"]] == [LOG_FOLDER]
    assert f"FORMAT AS JSON AS '{JSONPATHS}'" in sql
    assert "MANIFEST" not in sql
    assert "MAXERROR" not in sql
    assert "TIMEFORMAT" not in sql  # ts stays epoch ms, converted in SQL


def test_songs_copy_maps_keys_to_columns_automatically() -> None:
    sql = copy_sql(SONGS)
    tree = the_copy(sql)
    assert [file.this for file in tree.args["files"]] == [SONG_FOLDER]
    assert "FORMAT AS JSON AS 'auto'" in sql
    assert "auto" in literal_values(tree)


@pytest.mark.parametrize("sources", [EVENTS, SONGS], ids=["events", "songs"])
def test_copy_assumes_the_iam_role_in_the_bucket_region_without_compression_analysis(
    sources: TableSources,
) -> None:
    sql = copy_sql(sources)
    assert f"WITH CREDENTIALS AS 'aws_iam_role={ROLE}'" in sql
    assert f"REGION '{REGION}'" in sql
    assert re.search(r"\bCOMPUPDATE OFF\b", sql)
    assert re.search(r"\bSTATUPDATE OFF\b", sql)
    params = {p.this.name: p.expression for p in the_copy(sql).args["params"]}
    assert params["CREDENTIALS"].this == f"aws_iam_role={ROLE}"
    assert params["REGION"].this == REGION
    assert params["COMPUPDATE"].name == "OFF"
    assert params["STATUPDATE"].name == "OFF"


def test_copy_has_maxerror_only_when_errors_may_be_skipped() -> None:
    assert "MAXERROR" not in copy_sql(EVENTS, max_errors=0)


def test_skipping_n_bad_records_takes_maxerror_n_plus_one() -> None:
    # "If the load returns the error_count number of errors or greater, the load
    # fails" (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html):
    # with MAXERROR 10 the tenth bad record would fail the COPY.
    sql = copy_sql(EVENTS, max_errors=10)
    assert re.search(r"\bMAXERROR AS 11\b", sql)
    params = {p.this.name: p.expression for p in the_copy(sql).args["params"]}
    assert params["MAXERROR"].this == "11"


def test_skipping_up_to_99999_bad_records_takes_maxerror_100000_at_most() -> None:
    assert re.search(r"\bMAXERROR AS 100000\b", copy_sql(EVENTS, max_errors=99_999))


@pytest.mark.parametrize("max_errors", [100_000, 10**9])
def test_more_than_redshifts_maxerror_limit_is_refused_before_anything_is_sent(
    max_errors: int,
) -> None:
    # "The MAXERROR default value is 0 and the limit is 100000."
    with pytest.raises(ConfigError, match="skips at most 99,999 bad records"):
        copy_sql(EVENTS, max_errors=max_errors)


def test_copy_from_a_manifest_says_manifest_and_reads_its_uri() -> None:
    uri = f"{MANIFESTS}/staging_events.manifest"
    sql = copy_sql(EVENTS, manifest=True, max_errors=10)
    tree = the_copy(sql)
    assert [file.this for file in tree.args["files"]] == [uri]
    # sqlglot pairs the bare MANIFEST keyword with the next word as if it took a
    # value (MANIFEST=COMPUPDATE, OFF=MAXERROR...): its tree is not reliable past
    # MANIFEST, so the options are checked in the text.
    assert re.search(r"^\s*MANIFEST$", sql, re.MULTILINE)
    assert re.search(r"\bCOMPUPDATE OFF\b", sql)
    assert re.search(r"\bMAXERROR AS 11\b", sql)
    assert f"FORMAT AS JSON AS '{JSONPATHS}'" in sql


# -- COPY: escaping and the IAM role ----------------------------------------------------


def test_a_quote_in_the_data_location_is_doubled_and_parses_back_intact() -> None:
    location = "s3://bucket/o'brien's logs/"
    sql = copy_sql(EVENTS, location=location)
    assert "FROM 's3://bucket/o''brien''s logs/'" in sql
    tree = the_copy(sql)
    assert [file.this for file in tree.args["files"]] == [location]


def test_a_quote_in_the_jsonpaths_uri_is_doubled_and_parses_back_intact() -> None:
    jsonpaths = "s3://bucket/it's/log_json_path.json"
    sql = copy_sql(EVENTS, json_option=jsonpaths)
    assert "FORMAT AS JSON AS 's3://bucket/it''s/log_json_path.json'" in sql
    assert jsonpaths in literal_values(the_copy(sql))


def test_a_quote_in_a_manifest_uri_is_doubled_and_parses_back_intact() -> None:
    location = "s3://bucket/run's/staging_events.manifest"
    sql = copy_sql(EVENTS, location=location, manifest=True)
    assert [file.this for file in the_copy(sql).args["files"]] == [location]


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "dwhRole",
        "arn:aws:iam::12345:role/dwhRole",
        "arn:aws:iam::123456789012:user/dwhUser",
        "arn:aws:s3:::udacity-dend",
    ],
)
def test_a_malformed_iam_role_arn_is_a_config_error_naming_the_setting(arn: str) -> None:
    with pytest.raises(ConfigError) as caught:
        copy_sql(EVENTS, iam_role_arn=arn)
    assert (caught.value.section, caught.value.key) == ("IAM_ROLE", "ARN")
    assert "[IAM_ROLE]" in str(caught.value)
    assert "ARN" in str(caught.value)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/dwh'Role",
        "arn:aws:iam::123456789012:role/dwhRole' --",
        "arn:aws:iam::123456789012:role/dwhRole extra",
        "arn:aws:iam::123456789012:role/dwhRole,arn:aws:iam::210987654321:role/other",
    ],
)
def test_an_iam_role_arn_with_trailing_junk_or_a_quote_is_a_config_error(arn: str) -> None:
    with pytest.raises(ConfigError) as caught:
        copy_sql(EVENTS, iam_role_arn=arn)
    assert (caught.value.section, caught.value.key) == ("IAM_ROLE", "ARN")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/dwhRole",
        "arn:aws:iam::123456789012:role/service-role/dwh.Role_1",
        "arn:aws-cn:iam::123456789012:role/dwhRole",
        "arn:aws-us-gov:iam::123456789012:role/dwhRole",
    ],
)
def test_valid_iam_role_arns_are_accepted_including_role_paths(arn: str) -> None:
    assert f"'aws_iam_role={arn}'" in copy_sql(EVENTS, iam_role_arn=arn)


# -- manifests and folders ----------------------------------------------------------------


def test_manifest_document_lists_every_planned_object_as_mandatory_with_its_size() -> None:
    assert manifest_document(EVENTS) == {
        "entries": [
            {
                "url": "s3://udacity-dend/log_data/2018/11/2018-11-01-events.json",
                "mandatory": True,
                "meta": {"content_length": 7151},
            },
            {
                "url": "s3://udacity-dend/log_data/2018/11/2018-11-02-events.json",
                "mandatory": True,
                "meta": {"content_length": 9002},
            },
        ]
    }


def test_manifest_document_of_no_objects_has_no_entries() -> None:
    assert manifest_document(TableSources(staging_songs, "s3://b/song_data", ())) == {"entries": []}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("s3://b/log_data", "s3://b/log_data/"),
        ("s3://b/log_data/", "s3://b/log_data/"),
        ("s3://b/a/b", "s3://b/a/b/"),
        ("s3://b/", "s3://b/"),
    ],
)
def test_folder_reads_a_prefix_as_a_folder(prefix: str, expected: str) -> None:
    assert folder(prefix) == expected


# -- the star transforms -------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


STEP_NAMES = [step.name for step in transform.STEPS]
BUILDERS = {step.name: step.build for step in transform.STEPS}


def redshift_sql(name: str) -> str:
    return compile_redshift(BUILDERS[name]())


def postgresql_sql(name: str) -> str:
    return str(
        BUILDERS[name]().compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )


def duckdb_sql(name: str) -> str:
    from duckdb_engine import Dialect

    return str(BUILDERS[name]().compile(dialect=Dialect(), compile_kwargs={"literal_binds": True}))


def test_every_step_has_a_distinct_golden_file_name() -> None:
    assert len({slug(name) for name in STEP_NAMES}) == len(STEP_NAMES)


@pytest.mark.parametrize("name", STEP_NAMES)
def test_transform_step_matches_golden_text(name: str) -> None:
    assert_golden(f"transform_{slug(name)}", redshift_sql(name))


@pytest.mark.parametrize("name", STEP_NAMES)
def test_transform_step_parses_as_redshift_without_fallback(name: str) -> None:
    (tree,) = assert_redshift_parses(redshift_sql(name))
    statement = BUILDERS[name]()
    expected = exp.Update if isinstance(statement, sa.Update) else exp.Insert
    assert isinstance(tree, expected)


@pytest.mark.parametrize("name", STEP_NAMES)
def test_transform_step_has_no_returning_on_any_backend(name: str) -> None:
    for sql in (redshift_sql(name), postgresql_sql(name), duckdb_sql(name)):
        assert "RETURNING" not in sql.upper()


@pytest.mark.parametrize("name", STEP_NAMES)
def test_transform_step_inlines_its_values_for_redshift(name: str) -> None:
    # redshift-connector would send bind parameters as $1; the text must need none.
    sql = redshift_sql(name)
    assert not re.search(r"%\(|\$\d|:\w+_\d", sql)


EPOCH_STEPS = ["songplays", "time"]
EPOCH_RE = re.compile(
    r"TIMESTAMP 'epoch' \+ (staged_plays|staging_events)\.ts / 1000\.0 \* INTERVAL '1 second'"
)


@pytest.mark.parametrize("name", EPOCH_STEPS)
def test_epoch_milliseconds_convert_with_a_decimal_divisor_on_redshift(name: str) -> None:
    sql = redshift_sql(name)
    assert EPOCH_RE.search(sql)
    # CAST(1000.0 AS NUMERIC) is NUMERIC(18,0) on Redshift: the milliseconds would be lost.
    assert "CAST(1000.0" not in sql
    assert "NUMERIC" not in sql
    assert "/ 1000 " not in sql  # integer division drops the milliseconds too
    assert "epoch_ms(" not in sql


def test_epoch_conversion_parses_as_timestamp_plus_interval() -> None:
    (tree,) = assert_redshift_parses(redshift_sql("time"))
    additions = [
        node
        for node in tree.find_all(exp.Add)
        if isinstance(node.this, exp.Cast) or "epoch" in node.this.sql()
    ]
    assert additions, "no TIMESTAMP 'epoch' + ... in the parsed statement"
    product = additions[0].expression
    assert isinstance(product, exp.Mul)
    assert isinstance(product.this, exp.Div)
    assert product.this.expression.this == "1000.0"
    assert isinstance(product.expression, exp.Interval)


@pytest.mark.parametrize("name", EPOCH_STEPS)
def test_postgresql_converts_epoch_milliseconds_without_numeric_arithmetic(name: str) -> None:
    sql = postgresql_sql(name)
    # Whole seconds plus the remaining milliseconds: exact up to year 9999 (a
    # single ts * INTERVAL '1 millisecond' goes through a double past 2255).
    assert re.search(
        r"TIMESTAMP 'epoch' \+ \((?P<ts>(staged_plays|staging_events)\.ts)\) / 1000 "
        r"\* INTERVAL '1 second' \+ mod\((?P=ts), 1000\) \* INTERVAL '1 millisecond'",
        sql,
    )
    assert "1000.0" not in sql


@pytest.mark.parametrize("name", EPOCH_STEPS)
def test_duckdb_uses_its_exact_epoch_ms(name: str) -> None:
    sql = duckdb_sql(name)
    assert "epoch_ms(" in sql
    assert "TIMESTAMP 'epoch'" not in sql


TEXT_ORDER_STEPS = [
    "songs",
    "artists (update)",
    "artists",
    "users (update)",
    "users",
    "songplays",
    "songplays (re-match)",
]


@pytest.mark.parametrize("name", TEXT_ORDER_STEPS)
def test_binary_text_order_is_collate_c_on_postgresql_only(name: str) -> None:
    assert 'COLLATE "C"' in postgresql_sql(name)
    assert "COLLATE" not in redshift_sql(name)
    assert "COLLATE" not in duckdb_sql(name)


def test_greatest_artist_name_compares_bytes_on_postgresql() -> None:
    sql = postgresql_sql("artists")
    assert "max((nullif(staging_songs.artist_name, '') COLLATE \"C\"))" in sql
    assert "max(nullif(staging_songs.artist_name, ''))" in redshift_sql("artists")


def test_time_parts_extract_iso_week_and_day_of_week() -> None:
    sql = redshift_sql("time")
    for field in ("hour", "day", "week", "month", "year", "dow"):
        assert f"CAST(EXTRACT({field} FROM new_times.start_time) AS SMALLINT)" in sql


def test_time_parts_are_date_part_on_postgresql() -> None:
    # date_part returns a double; EXTRACT a NUMERIC since PostgreSQL 14 (slower).
    sql = postgresql_sql("time")
    for field in ("hour", "day", "week", "month", "year", "dow"):
        assert f"CAST(date_part('{field}', new_times.start_time) AS SMALLINT)" in sql
    assert "EXTRACT" not in sql


def test_each_time_field_is_part_of_the_cache_key() -> None:
    column = sa.column("t", sa.DateTime)
    fields = ("hour", "day", "week", "month", "year", "dow")
    keys = [date_field(f, column)._generate_cache_key() for f in fields]
    assert keys[0] == date_field("hour", column)._generate_cache_key()
    assert all(a != b for i, a in enumerate(keys) for b in keys[i + 1 :])


# -- the quality gate -------------------------------------------------------------------


def gate_statements() -> dict[str, Any]:
    """Every statement the gate may send, by golden file name (``gate_*.sql``)."""
    found: dict[str, Any] = {
        f"gate_{slug(check.name)}": check.offending for check in gate.unique_checks()
    }
    found[f"gate_{slug(gate.PLAY_KEY)}_run"] = gate.played_key_check().offending
    found["gate_probe_played"] = gate.played_probe()
    found["gate_probe_rematched"] = gate.rematched_probe()
    complete = gate.completeness_check()
    found[f"gate_{slug(complete.name)}"] = complete.offending
    for rematched in (False, True):
        for check in gate.reference_checks(rematched):
            suffix = "_rematched" if rematched else ""
            found[f"gate_{slug(check.name)}{suffix}"] = check.offending
    return found


GATE = gate_statements()


def test_the_gate_has_eighteen_distinct_statements() -> None:
    assert len(GATE) == 6 + 1 + 2 + 1 + 4 * 2


@pytest.mark.parametrize("name", sorted(GATE))
def test_gate_statement_matches_golden_text(name: str) -> None:
    assert_golden(name, compile_redshift(GATE[name]))


@pytest.mark.parametrize("name", sorted(GATE))
def test_gate_statement_parses_as_one_redshift_select_with_its_values_inlined(name: str) -> None:
    sql = compile_redshift(GATE[name])
    (tree,) = assert_redshift_parses(sql)
    assert isinstance(tree, exp.Select | exp.Union)
    assert not re.search(r"%\(|\$\d|:\w+_\d", sql)


@pytest.mark.parametrize("name", sorted(GATE))
def test_gate_statement_returns_a_count_or_a_bounded_sample(name: str) -> None:
    sql = compile_redshift(GATE[name])
    if name.startswith("gate_probe_"):
        assert sql.startswith("SELECT count(*) AS count_1") and "LIMIT" not in sql
    else:
        assert sql.rstrip().endswith(f"LIMIT {gate.SAMPLE + 1}")


def test_gate_converts_ts_as_the_loader_does() -> None:
    epoch = compile_redshift(transform.start_time(staging_events.c.ts))
    assert epoch in compile_redshift(gate.played_probe())
    assert epoch in compile_redshift(gate.completeness_check().offending)


def test_songplays_carries_start_time_below_the_window_on_postgresql_only() -> None:
    # PostgreSQL merges the NOT EXISTS along songplays' key index when it compares a
    # plain column (the exact epoch form's operators, costed per comparison, tip it
    # to hashing all of songplays); the others compute the form where it is used.
    pg = postgresql_sql("songplays")
    assert "songplays.start_time = staged_plays.start_time" in pg
    assert "mod(staging_events.ts, 1000) * INTERVAL '1 millisecond' AS start_time" in pg
    for sql, epoch in ((redshift_sql("songplays"), "TIMESTAMP 'epoch' + staged_plays.ts"),
                       (duckdb_sql("songplays"), "epoch_ms(staged_plays.ts)")):  # fmt: skip
        assert "CAST(NULL AS TIMESTAMP" in sql and "staged_plays.start_time" not in sql
        assert f"songplays.start_time = {epoch}" in sql
