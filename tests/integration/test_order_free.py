"""Contract rule 8, proven by example search: any batches, any order, some twice.

Hypothesis draws a small catalogue and event log with the conflicts that make
order matter if a merge is wrong (artists whose song records disagree on
location and coordinates, users whose level changes, duplicate lines across
files, songs arriving before or after their plays), splits the files into
batches, loads the batches incrementally in a random order — some of them
re-delivered and loaded again — and compares the star tables with one full
load of everything (songplay_id aside). Every load passes the quality gate
(sparkify.gate), and passes it whole after each step: every key checked by a
query, not by its index.

The invariants the sources keep (as the real ones do): a song_id names one song
record, and an event key (userId, sessionId, ts) names one event.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkify import gate, load
from sparkify.execute import execute
from tests import contract_fixtures as fx
from tests.warehouse import empty_all, make_engine, settings_for, star_snapshot

pytestmark = pytest.mark.integration

TITLES = ["One", "Two", "Three"]
ARTISTS = [("AR1", "Alpha"), ("AR2", "Beta"), ("AR3", "Alpha")]  # two ids, one name
LOCATIONS = ["", "Austin", "Berlin", "Zürich"]
COORDS = [(None, None), (1.5, 2.5), (1.5, 3.0), (-4.0, 0.0)]
DURATIONS = [100.0, 200.5]


@st.composite
def songs(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(
        st.lists(st.sampled_from([f"SO{n}" for n in range(6)]), min_size=1, max_size=6, unique=True)
    )
    records = []
    for song_id in ids:
        artist_id, name = draw(st.sampled_from(ARTISTS))
        lat, lon = draw(st.sampled_from(COORDS))
        records.append(
            fx.song(
                song_id,
                draw(st.sampled_from(TITLES)),
                artist_id,
                name,
                draw(st.sampled_from(DURATIONS)),
                year=draw(st.sampled_from([0, 1999])),
                location=draw(st.sampled_from(LOCATIONS)),
                lat=lat,
                lon=lon,
            )
        )
    return records


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(["1", "2", "3", ""]), st.integers(1, 2), st.integers(0, 5)),
            min_size=1,
            max_size=12,
            unique=True,
        )
    )
    records = []
    for user, session, minute in keys:
        page = draw(st.sampled_from(["NextSong", "NextSong", "Home"]))
        title = draw(st.sampled_from(TITLES)) if page == "NextSong" else None
        artist = draw(st.sampled_from(["Alpha", "Beta"])) if page == "NextSong" else None
        length = draw(st.sampled_from(DURATIONS)) if page == "NextSong" else None
        records.append(
            fx.event(
                1541105830796 + minute * 60_000,
                user,
                page=page,
                session=session,
                item=minute,
                first=draw(st.sampled_from(["Ann", "Bo"])),
                level=draw(st.sampled_from(["free", "paid"])),
                song_title=title,
                artist=artist,
                length=length,
            )
        )
    return records


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    song_records, event_records = draw(songs()), draw(events())
    # Files: each song record in one of 3 song files, each event in one of 3 log
    # files, and some records written into a second file too (duplicates).
    files: dict[str, list[dict[str, Any]]] = {}
    for kind, records, count in (("song", song_records, 3), ("log", event_records, 3)):
        for record in records:
            for index in draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=2)):
                files.setdefault(f"{kind}{index}", []).append(record)
    names = sorted(files)
    batch_of = {name: draw(st.integers(0, 2)) for name in names}
    order = draw(st.permutations(sorted(set(batch_of.values()))))
    again = draw(st.sets(st.sampled_from(order)))
    return {"files": files, "batch_of": batch_of, "order": order, "again": again}


def write(root: Path, name: str, records: list[dict[str, Any]]) -> None:
    if name.startswith("song"):
        path = root / "song_data" / "A" / f"{name}.json"
    else:
        path = root / "log_data" / "2018" / "11" / f"{name}-events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records))


def redeliver(root: Path, name: str) -> None:
    for path in root.rglob(f"{name}*.json"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def layout(root: Path) -> dict[str, Path]:
    (root / "song_data").mkdir(parents=True, exist_ok=True)
    (root / "log_data").mkdir(parents=True, exist_ok=True)
    (root / "log_json_path.json").write_text(json.dumps(fx.JSONPATHS))
    return {
        "song_data": root / "song_data",
        "log_data": root / "log_data",
        "log_jsonpath": root / "log_json_path.json",
    }


def passes_every_check(engine: sa.Engine, report: load.LoadReport) -> None:
    """The run passed its quality gate, and passes it whole: every key by a query
    (none proven by an index) on the whole table, and every songplay of a staged
    song in scope."""
    assert report.audited == gate.names()
    with engine.connect() as conn:
        for from_empty in (True, False):
            everything = gate.probes((), from_empty=from_empty, rematched=True)
            gate.run_gate(conn, execute, everything)


@pytest.fixture(scope="module", params=["postgresql", "duckdb"])
def warehouses(
    request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path_factory: pytest.TempPathFactory
) -> tuple[sa.Engine, sa.Engine]:
    tmp = tmp_path_factory.mktemp(request.param)
    return (
        make_engine(request.param, pg_url, tmp, build=True),
        make_engine(request.param, pg_url, tmp, build=True),
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_batches_in_any_order_some_twice_equal_one_full_load(
    warehouses: tuple[sa.Engine, sa.Engine], data: dict[str, Any]
) -> None:
    batched, whole = warehouses
    empty_all(batched)
    empty_all(whole)
    with tempfile.TemporaryDirectory() as tmp:
        everything = layout(Path(tmp) / "all")
        for name, records in data["files"].items():
            write(Path(tmp) / "all", name, records)
        if not list(everything["song_data"].rglob("*.json")):
            (everything["song_data"] / "empty.json").write_text("")
        passes_every_check(whole, load.run(whole, settings_for(whole, everything), mode="full"))
        expected = star_snapshot(whole, staging=False)

        live_root = Path(tmp) / "live"
        live = layout(live_root)
        (live["song_data"] / "empty.json").write_text("")  # no prefix is ever empty
        (live["log_data"] / "empty.json").write_text("")
        settings_ = settings_for(batched, live)
        for batch in data["order"]:
            for name, records in data["files"].items():
                if data["batch_of"][name] == batch:
                    write(live_root, name, records)
            passes_every_check(batched, load.run(batched, settings_))
            if batch in data["again"]:
                for name in data["files"]:
                    if data["batch_of"][name] == batch:
                        redeliver(live_root, name)
                passes_every_check(batched, load.run(batched, settings_))
        assert star_snapshot(batched, staging=False) == expected
    shutil.rmtree(Path(tmp), ignore_errors=True)
