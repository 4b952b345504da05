"""Redshift's load flow run on the PostgreSQL model (see tests/redshift_model.py).

Every statement goes to PostgreSQL as the Redshift text, COPY aside; the tests
run under SERIALIZABLE and REPEATABLE READ (nearest to Redshift's SNAPSHOT
isolation, the default of Serverless and of clusters created since May 2024). Run them alone with
``uv run pytest -m redshift_model``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import analytics, gate, history, load, quality, transform
from sparkify.config import Settings, load_settings
from sparkify.counts import table_counts_query
from sparkify.errors import (
    BadRecordError,
    DatabaseError,
    LoadInProgressError,
    QualityGateError,
    TooManyBadRecordsError,
)
from sparkify.execute import execute_redshift
from sparkify.models import load_errors, load_ledger, staging_events, staging_songs, users
from sparkify.models import time as time_table
from sparkify.sources import Plan, plan_sources, s3_client
from sparkify.staging.base import NoProgress
from sparkify.staging.redshift import NO_WAIT_SECONDS
from tests import contract_fixtures as fx
from tests.redshift_model import ISOLATION_LEVELS, ModelStager, model_engine
from tests.redshift_sql import GOLDEN
from tests.warehouse import (
    make_engine,
    schema_name,
    settings_for,
    star_snapshot,
    unenforce,
    warehouse_state,
)

pytestmark = [pytest.mark.integration, pytest.mark.redshift_model]

ROLE = "arn:aws:iam::123456789012:role/dwhRole"


@pytest.fixture(params=ISOLATION_LEVELS, ids=["serializable", "repeatable-read"])
def warehouse(request: pytest.FixtureRequest, pg_url: sa.URL) -> Iterator[sa.Engine]:
    engine = model_engine(pg_url, request.param)
    yield engine
    engine.dispose()


@pytest.fixture
def local_sources(tmp_path: Path) -> dict[str, Path]:
    return fx.write_sources(tmp_path / "sources")


@pytest.fixture
def bucket(s3_bucket: str, local_sources: dict[str, Path]) -> str:
    fx.upload_tree(local_sources["song_data"].parent, s3_bucket, "udacity/")
    return s3_bucket


def model_settings(engine: sa.Engine, bucket: str, tmp_path: Path) -> Settings:
    config = tmp_path / "empty.cfg"
    config.write_text("")
    return load_settings(
        config_file=config,
        environ={
            "SPARKIFY_IAM_ROLE_ARN": ROLE,
            "SPARKIFY_REGION": "us-west-2",
            "SPARKIFY_MANIFEST_PREFIX": f"s3://{bucket}/manifests",
        },
        database_url=engine.url.render_as_string(hide_password=False),
        schema=schema_name(engine),
        song_data=f"s3://{bucket}/udacity/song_data",
        log_data=f"s3://{bucket}/udacity/log_data",
        log_jsonpath=f"s3://{bucket}/udacity/log_json_path.json",
    )


def days(plan: Plan, *numbers: int) -> Plan:
    """The plan with only the log files of the given days of November 2018."""
    names = tuple(f"2018-11-0{day}-events.json" for day in numbers)
    events = [obj for obj in plan.events.objects if obj.uri.endswith(names)]
    return dataclasses.replace(plan, events=dataclasses.replace(plan.events, objects=events))


@pytest.fixture
def reference(pg_url: sa.URL, tmp_path: Path, local_sources: dict[str, Path]) -> dict[str, Any]:
    """The star tables of one load of every source on the PostgreSQL stand-in itself."""
    engine = make_engine("postgresql", pg_url, tmp_path, build=True)
    try:
        load.run(engine, settings_for(engine, local_sources), mode="full")
        return star_snapshot(engine, staging=False)
    finally:
        engine.dispose()


class Sent:
    """Every statement and its parameters, as the driver receives them."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []
        #: Whether each statement went to the driver with no parameters at all.
        self.bare: list[bool] = []

    def __enter__(self) -> Sent:
        sa.event.listen(self.engine, "before_cursor_execute", self._capture)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._capture)

    def _capture(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, *args: Any
    ) -> None:
        self.statements.append((statement, parameters))
        self.bare.append(bool(context.no_parameters))

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.statements]


class Events(Sent):
    """Every statement as the driver receives it, with each COMMIT and ROLLBACK in turn."""

    def __enter__(self) -> Events:
        super().__enter__()
        sa.event.listen(self.engine, "commit", self._commit)
        sa.event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "rollback", self._rollback)

    def _commit(self, conn: Any) -> None:
        self.statements.append(("COMMIT", None))
        self.bare.append(True)

    def _rollback(self, conn: Any) -> None:
        self.statements.append(("ROLLBACK", None))
        self.bare.append(True)

    def index(self, prefix: str) -> list[int]:
        """Where statements starting with ``prefix`` were sent."""
        return [i for i, text in enumerate(self.texts) if text.startswith(prefix)]


def recorded_runs(engine: sa.Engine) -> list[history.RunRecord]:
    """load_runs as `sparkify runs` reads it on Redshift (text, values inlined)."""
    with engine.connect() as conn:
        return history.recent(conn, 100, execute_redshift)


def ledger_sources(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(load_ledger.c.source)).scalars())


# -- one load -----------------------------------------------------------------------


def test_a_load_on_the_model_gives_the_stand_ins_star_tables(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    stager = ModelStager()
    report = load.run(warehouse, settings, stager=stager)
    assert star_snapshot(warehouse, staging=False) == reference
    events = len(fx.DAY1) + len(fx.DAY2) + len(fx.DAY3)
    assert report.staged == {"staging_songs": len(fx.SONGS), "staging_events": events}
    # The song folder holds a checkpoint and a README: COPY read a manifest.
    assert "MANIFEST" in stager.copies[0]
    assert len(ledger_sources(warehouse)) == 5 + 3


def test_a_run_on_the_model_writes_its_row_as_text_just_before_its_commit(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    with Events(warehouse) as sent:
        report = load.run(warehouse, settings, stager=ModelStager(), max_errors=3)
    (insert,) = sent.index("INSERT INTO load_runs")
    assert sent.bare[insert] and sent.statements[insert][1] in (None, {}, ())
    assert f"'{report.run_id}', 'succeeded'" in sent.texts[insert]
    # The last statement of the load's transaction: its COMMIT comes next.
    assert sent.texts[insert + 1] == "COMMIT"
    assert sent.index("COMMIT") == [insert + 1]
    (row,) = recorded_runs(warehouse)
    assert (row.run_id, row.status, row.backend) == (report.run_id, "succeeded", report.backend)
    assert (row.objects, row.staged, row.inserted, row.updated) == (
        report.objects, report.staged, report.inserted, report.updated,
    )  # fmt: skip
    assert row.seconds == {step: s for step, s in report.seconds.items() if step != "commit"}


def test_every_statement_goes_out_as_text_with_no_parameters(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    with Sent(warehouse) as sent:
        load.run(warehouse, settings, stager=ModelStager(), max_errors=3)
    assert sent.statements
    with_parameters = [(text, p) for text, p in sent.statements if p]
    assert with_parameters == []
    # Not even an empty set: redshift-connector would then rewrite the text.
    assert all(sent.bare)


def test_the_merges_sent_are_the_golden_files(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    load.run(warehouse, settings, stager=ModelStager(), plan=days(plan_of(settings), 1))
    with Sent(warehouse) as sent:
        load.run(warehouse, settings, stager=ModelStager())
    assert_sent_golden(
        sent,
        [
            "transform_"
            + step.name.replace(" (update)", "_update").replace(" (re-match)", "_re_match")
            for step in transform.STEPS
        ],
    )


def test_a_load_from_empty_sends_no_update_and_the_next_one_does(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    with Sent(warehouse) as first:
        report = load.run(
            warehouse, settings, stager=ModelStager(), plan=days(plan_of(settings), 1)
        )
    assert report.from_empty
    assert not [t for t in first.texts if t.lstrip().upper().startswith("UPDATE")]
    with Sent(warehouse) as second:
        load.run(warehouse, settings, stager=ModelStager())
    updated = {t.split()[1] for t in second.texts if t.lstrip().upper().startswith("UPDATE")}
    assert {"artists", "users", "songplays"} <= updated


def assert_sent_golden(sent: Sent, names: list[str]) -> None:
    """Each golden file ``tests/golden/<name>.sql`` is a statement the load sent."""
    normalised = {"\n".join(line.rstrip() for line in t.strip().splitlines()) for t in sent.texts}
    for name in names:
        golden = (GOLDEN / f"{name}.sql").read_text().strip()
        assert golden in normalised, f"{name}.sql is not what the load sent"


def test_the_lock_is_the_first_statement_that_could_start_a_snapshot(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    with Sent(warehouse) as sent:
        load.run(warehouse, settings, stager=ModelStager())
    texts = [t for t in sent.texts if not t.startswith("SET search_path")]
    assert texts[:3] == [
        f"SET LOCAL statement_timeout TO {int(load.DEFAULT_LOCK_TIMEOUT * 1000)}",
        "LOCK load_ledger",
        "RESET statement_timeout",
    ]
    assert all("stv_" not in t and "stl_" not in t for t in sent.texts)


def test_uris_with_quotes_percents_and_backslashes_reach_the_ledger_intact(
    warehouse: sa.Engine, s3_bucket: str, tmp_path: Path, local_sources: dict[str, Path]
) -> None:
    odd = "udacity/log_data/2018/11/o'brien 50% back\\slash.json"
    fx.upload_tree(local_sources["song_data"].parent, s3_bucket, "udacity/")
    s3_client("us-west-2").put_object(
        Bucket=s3_bucket,
        Key=odd,
        Body=(local_sources["log_data"] / "2018/11/2018-11-01-events.json").read_bytes(),
    )
    settings = model_settings(warehouse, s3_bucket, tmp_path)
    load.run(warehouse, settings, stager=ModelStager())
    assert f"s3://{s3_bucket}/{odd}" in ledger_sources(warehouse)
    again = load.run(warehouse, settings, stager=ModelStager())
    assert again.skipped_objects == {"staging_events": 4, "staging_songs": 5}
    assert sum(again.objects.values()) == 0


def plan_of(settings: Settings) -> Plan:
    return plan_sources(settings, s3_client("us-west-2"))


# -- two loads at once --------------------------------------------------------------


class Pause(NoProgress):
    """Holds a load at the start of one step until released."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.reached = threading.Event()
        self.release = threading.Event()

    def begin_step(self, name: str) -> None:
        if name == self.step:
            self.reached.set()
            assert self.release.wait(60), "never released"


def waiting_for_the_ledger(engine: sa.Engine) -> int:
    """How many sessions wait for a lock on this warehouse's load_ledger."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = CAST(:name AS regclass)"
                ),
                {"name": f"{schema_name(engine)}.load_ledger"},
            ).scalar_one()
        )


def run_concurrently(
    engine: sa.Engine, settings: Settings, first: ModelStager, second: ModelStager
) -> dict[str, Any]:
    """Load days 1-2 and, while it holds the lock, days 2-3; return what each ended with."""
    plan = plan_of(settings)
    outcome: dict[str, Any] = {}
    pause = Pause("songplays")

    def run(name: str, stager: ModelStager, plan: Plan, progress: Any) -> None:
        try:
            outcome[name] = load.run(engine, settings, stager=stager, plan=plan, progress=progress)
        except Exception as exc:  # reported to the test
            outcome[name] = exc

    a = threading.Thread(target=run, args=("first", first, days(plan, 1, 2), pause))
    a.start()
    assert pause.reached.wait(60)
    b = threading.Thread(target=run, args=("second", second, days(plan, 2, 3), NoProgress()))
    b.start()
    deadline = time.monotonic() + 30
    while waiting_for_the_ledger(engine) == 0 and b.is_alive():
        assert time.monotonic() < deadline, "the second load never waited"
        time.sleep(0.05)
    pause.release.set()
    a.join(60)
    b.join(60)
    return outcome


def test_two_overlapping_loads_at_once_end_as_one_load_of_everything(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    outcome = run_concurrently(warehouse, settings, ModelStager(), ModelStager())
    assert isinstance(outcome["first"], load.LoadReport), outcome["first"]
    assert isinstance(outcome["second"], load.LoadReport), outcome["second"]
    # The second saw the first's ledger: day 2 and the songs were not loaded again.
    assert outcome["second"].skipped_objects == {"staging_events": 1, "staging_songs": 5}
    assert outcome["second"].objects["staging_events"] == 1
    assert star_snapshot(warehouse, staging=False) == reference
    sources = ledger_sources(warehouse)
    assert len(sources) == len(set(sources)) == 8


class ReadsBeforeLocking(ModelStager):
    """Today's defect, kept as a control: a system-table SELECT before LOCK."""

    def lock(self, conn: sa.Connection, **kw: Any) -> None:
        self.execute(conn, sa.text("SELECT count(*) FROM sys_load_error_detail"))
        super().lock(conn, **kw)


def test_a_load_that_reads_before_its_lock_works_on_a_stale_snapshot(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    # The model catches the defect the lock order fixes: the waiting load's snapshot
    # predates the first load's commit, so it fails or loads day 2 again.
    settings = model_settings(warehouse, bucket, tmp_path)
    outcome = run_concurrently(warehouse, settings, ReadsBeforeLocking(), ReadsBeforeLocking())
    second = outcome["second"]
    stale = isinstance(second, Exception) or (
        second.objects.get("staging_events", 0) > 1
        or star_snapshot(warehouse, staging=False) != reference
    )
    assert stale


def hold_the_lock(engine: sa.Engine) -> sa.Connection:
    conn = engine.connect()
    conn.begin()
    conn.exec_driver_sql("LOCK load_ledger")
    return conn


def test_a_waiting_load_gives_up_after_its_timeout_saying_a_load_is_in_progress(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    before = star_snapshot(warehouse)
    notices: list[str] = []

    class Notices(NoProgress):
        def notice(self, message: str) -> None:
            notices.append(message)

    holder = hold_the_lock(warehouse)
    try:
        start = time.monotonic()
        with pytest.raises(LoadInProgressError) as caught:
            load.run(
                warehouse, settings, stager=ModelStager(), lock_timeout=2.5, progress=Notices()
            )
        waited = time.monotonic() - start
    finally:
        holder.close()
    assert "a load is in progress" in str(caught.value)
    assert 2.5 <= waited < 15
    assert len(notices) == 1
    assert notices[0].startswith("waiting up to")
    assert "for the load lock (another load is in progress)" in notices[0]
    assert star_snapshot(warehouse) == before


def test_no_wait_gives_up_at_once(warehouse: sa.Engine, bucket: str, tmp_path: Path) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    holder = hold_the_lock(warehouse)
    try:
        start = time.monotonic()
        with pytest.raises(LoadInProgressError) as caught:
            load.run(warehouse, settings, stager=ModelStager(), wait=False)
        waited = time.monotonic() - start
    finally:
        holder.close()
    assert "--no-wait" in str(caught.value)
    assert waited < NO_WAIT_SECONDS + 5


# -- failures -------------------------------------------------------------------------


class FailAt(NoProgress):
    def __init__(self, step: str) -> None:
        self.step = step

    def begin_step(self, name: str) -> None:
        if name == self.step:
            raise RuntimeError(f"failed at {name}")


@pytest.mark.parametrize(
    "step", [step.name for step in transform.STEPS] + ["audit", "commit"], ids=lambda s: s
)
def test_a_failure_at_any_step_leaves_the_warehouse_as_it_was(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, step: str
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    load.run(warehouse, settings, stager=ModelStager(), plan=days(plan_of(settings), 1))
    before = warehouse_state(warehouse)
    with pytest.raises(RuntimeError, match=re.escape(f"failed at {step}")):
        load.run(warehouse, settings, stager=ModelStager(), progress=FailAt(step))
    assert warehouse_state(warehouse) == before
    # The failed run's row is all it left.
    failed, first = recorded_runs(warehouse)
    assert (failed.status, failed.error) == ("failed", f"RuntimeError: failed at {step}")
    assert first.status == "succeeded"


# -- the quality gate -------------------------------------------------------------------


def only_song(plan: Plan, song_id: str) -> Plan:
    """The plan with one song file only (its plays' songs arrive later)."""
    kept = [obj for obj in plan.songs.objects if obj.uri.endswith(f"TR{song_id}.json")]
    return dataclasses.replace(plan, songs=dataclasses.replace(plan.songs, objects=kept))


def test_the_gate_sent_is_the_golden_files_every_key_by_a_query(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    load.run(
        warehouse,
        settings,
        stager=ModelStager(),
        plan=only_song(days(plan_of(settings), 1), "SOCAFE"),
    )
    with Sent(warehouse) as sent:
        # Days 2 and 3, and the songs of day 1's plays: the re-match updates them.
        report = load.run(warehouse, settings, stager=ModelStager())
    assert report.updated["songplays"] > 0
    assert report.audited == gate.names()
    # Redshift enforces no key: all six are queried, even where PostgreSQL has an
    # index; songplays' for the run's plays (the run is incremental).
    keys = [f"gate_{check.name.replace('.', '_')}" for check in gate.unique_checks()]
    keys = [f"{key}_run" if key.endswith("session_id_start_time") else key for key in keys]
    assert_sent_golden(sent, [*keys, "gate_probe_played", "gate_probe_rematched"])


def test_a_duplicate_start_time_on_the_model_stops_the_next_load_which_rolls_back(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    load.run(warehouse, settings, stager=ModelStager(), plan=days(plan_of(settings), 1))
    unenforce(warehouse, time_table)  # as on Redshift: the key is informational
    with warehouse.begin() as conn:
        conn.execute(
            sa.insert(time_table).from_select(
                [c.name for c in time_table.columns], sa.select(time_table)
            )
        )
    before = warehouse_state(warehouse)
    with pytest.raises(QualityGateError) as caught:
        load.run(warehouse, settings, stager=ModelStager())
    assert (caught.value.check, caught.value.table) == ("unique.time.start_time", "time")
    assert caught.value.sample == ((dt.datetime(2018, 11, 1, 20, 57, 10, 796000),),)
    assert warehouse_state(warehouse) == before


def test_a_re_matched_play_of_a_missing_user_on_the_model_stops_the_load(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    plan = only_song(days(plan_of(settings), 1), "SOCAFE")
    load.run(warehouse, settings, stager=ModelStager(), plan=plan)
    with warehouse.begin() as conn:
        conn.execute(sa.delete(users).where(users.c.user_id == 10))
    before = warehouse_state(warehouse)
    with pytest.raises(QualityGateError) as caught:
        load.run(warehouse, settings, stager=ModelStager(), plan=days(plan_of(settings), 1))
    assert (caught.value.check, caught.value.sample) == (
        "references.songplays.user_id.users",
        ((10,),),
    )
    assert warehouse_state(warehouse) == before


# -- bad records ----------------------------------------------------------------------


@pytest.fixture
def bad_bucket(bucket: str) -> str:
    """Two bad records in a fourth day's file (line 2 and line 4)."""
    good = fx.event(fx.ms(dt.datetime(2018, 11, 4, 10)), "7", session=40)
    lines = [
        json.dumps(good),
        '{"userId": "x", "ts": 1541290000000, "sessionId": 1, "page": "Home"}',
        json.dumps({**good, "ts": good["ts"] + 1}),
        "{not json",
    ]
    s3_client("us-west-2").put_object(
        Bucket=bucket,
        Key="udacity/log_data/2018/11/2018-11-04-events.json",
        Body="\n".join(lines).encode(),
    )
    return bucket


def test_max_errors_n_skips_n_records_found_in_the_system_view(
    warehouse: sa.Engine, bad_bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bad_bucket, tmp_path)
    stager = ModelStager()
    report = load.run(warehouse, settings, stager=stager, max_errors=2)
    assert "MAXERROR AS 3" in stager.copies[-1]
    assert report.skipped == 2
    with warehouse.connect() as conn:
        recorded = conn.execute(
            sa.select(load_errors.c.source, load_errors.c.line, load_errors.c.raw_line)
        ).all()
    key = f"s3://{bad_bucket}/udacity/log_data/2018/11/2018-11-04-events.json"
    assert sorted((source, line) for source, line, _ in recorded) == [(key, 2), (key, 4)]
    # SYS_LOAD_ERROR_DETAIL has no raw line.
    assert {raw for _, _, raw in recorded} == {""}


def test_one_bad_record_more_than_max_errors_fails_the_load_and_commits_nothing(
    warehouse: sa.Engine, bad_bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bad_bucket, tmp_path)
    before = warehouse_state(warehouse)
    with pytest.raises(TooManyBadRecordsError) as caught:
        load.run(warehouse, settings, stager=ModelStager(), max_errors=1)
    assert caught.value.last.line in (2, 4)
    assert warehouse_state(warehouse) == before


def test_a_failed_run_on_the_model_is_recorded_after_its_rollback_in_a_transaction_of_its_own(
    warehouse: sa.Engine, bad_bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bad_bucket, tmp_path)
    before = warehouse_state(warehouse)
    with Events(warehouse) as sent, pytest.raises(TooManyBadRecordsError) as caught:
        load.run(warehouse, settings, stager=ModelStager(), max_errors=1)
    assert warehouse_state(warehouse) == before
    (insert,) = sent.index("INSERT INTO load_runs")
    rollback = sent.index("ROLLBACK")[0]
    # The load's rollback, then the row and its own COMMIT (on a connection of its own).
    assert rollback < insert
    assert sent.texts[insert + 1] == "COMMIT"
    assert sent.bare[insert]  # text, values inlined
    (row,) = recorded_runs(warehouse)
    assert (row.status, row.error) == ("failed", str(caught.value))
    assert row.staged == {} and row.objects == {}


def test_a_bad_record_without_max_errors_names_its_file_and_line(
    warehouse: sa.Engine, bad_bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bad_bucket, tmp_path)
    before = warehouse_state(warehouse)
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse, settings, stager=ModelStager())
    assert caught.value.source.endswith("2018-11-04-events.json")
    assert caught.value.line in (2, 4)
    assert warehouse_state(warehouse) == before


class LoadsAnyBigint(ModelStager):
    """COPY loads any BIGINT into ts: a microseconds ts is staged as it is."""

    def copy(
        self, conn: sa.Connection, statement: str, sources: Any, plan: Any, client: Any
    ) -> None:
        super().copy(conn, statement, sources, plan, client)
        if sources.table is staging_events:
            event = fx.event(1541120959664000, "42", session=77)
            values = dict(
                zip((c.name for c in staging_events.columns), event.values(), strict=True)
            )
            values.update(user_id=42, registration=1540991795796)
            conn.execute(sa.insert(staging_events).values(values))


def test_a_staged_ts_outside_the_warehouses_range_stops_the_load(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    before = warehouse_state(warehouse)
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse, settings, stager=LoadsAnyBigint())
    message = str(caught.value)
    assert "ts 1541120959664000" in message
    assert "user_id 42" in message
    assert "session_id 77" in message
    assert "years 1-9999" in message
    assert caught.value.source == f"s3://{bucket}/udacity/log_data"
    assert warehouse_state(warehouse) == before


def test_a_staged_ts_outside_the_range_is_skipped_under_max_errors(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    report = load.run(warehouse, settings, stager=LoadsAnyBigint(), max_errors=1)
    assert report.skipped == 1
    assert star_snapshot(warehouse, staging=False) == reference
    with warehouse.connect() as conn:
        (recorded,) = conn.execute(sa.select(load_errors.c.column_name, load_errors.c.line)).all()
    assert tuple(recorded) == ("ts", 0)


def test_a_database_error_in_the_model_is_a_database_error(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sys_load_error_detail")
    with pytest.raises(DatabaseError):
        load.run(warehouse, settings, stager=ModelStager())


# -- read commands ----------------------------------------------------------------------


def test_counts_checks_and_questions_as_redshift_text_answer_as_the_stand_in(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    # `sparkify counts`, `check` and `analyze` send Redshift text too (executor_for):
    # on the model it gives what the same statements with parameters give.
    load.run(warehouse, model_settings(warehouse, bucket, tmp_path), stager=ModelStager())
    statements = [
        table_counts_query(),
        *(check.query for check in quality.checks()),
        *(question(10) for question in analytics.QUESTIONS.values()),
    ]
    with Sent(warehouse) as sent, warehouse.connect() as conn:
        as_text = [[tuple(row) for row in execute_redshift(conn, s)] for s in statements]
    with warehouse.connect() as conn:
        assert as_text == [[tuple(row) for row in conn.execute(s)] for s in statements]
    assert len(sent.bare) == len(statements)
    assert all(sent.bare)


class LoadsASongWithoutId(ModelStager):
    """COPY loads a song record without song_id (NULL) and one with an empty artist_id."""

    def copy(
        self, conn: sa.Connection, statement: str, sources: Any, plan: Any, client: Any
    ) -> None:
        super().copy(conn, statement, sources, plan, client)
        if sources.table is staging_songs:
            song = fx.song("", "Nameless", "", "Nobody", 10.0)
            conn.execute(sa.insert(staging_songs).values({**song, "song_id": None}))


def test_a_staged_song_without_an_id_stops_the_load(
    warehouse: sa.Engine, bucket: str, tmp_path: Path
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    before = warehouse_state(warehouse)
    with pytest.raises(BadRecordError) as caught:
        load.run(warehouse, settings, stager=LoadsASongWithoutId())
    assert "a song record needs a song_id and an artist_id" in str(caught.value)
    assert "title 'Nameless'" in str(caught.value)
    assert warehouse_state(warehouse) == before


def test_a_staged_song_without_an_id_is_skipped_under_max_errors(
    warehouse: sa.Engine, bucket: str, tmp_path: Path, reference: dict[str, Any]
) -> None:
    settings = model_settings(warehouse, bucket, tmp_path)
    report = load.run(warehouse, settings, stager=LoadsASongWithoutId(), max_errors=1)
    assert report.skipped == 1
    assert star_snapshot(warehouse, staging=False) == reference
