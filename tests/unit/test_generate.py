"""The data generator: real layout, key order and types, exact counts, determinism."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import orjson
import pytest

import sparkify.generate.catalogue as gen_catalogue
from sparkify.errors import SparkifyError
from sparkify.generate import GenerateReport, generate, jsonpaths
from sparkify.models import EVENT_KEYS, SONG_KEYS

pytestmark = pytest.mark.unit

REAL_SONG_KEYS = [
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location",
    "artist_name", "song_id", "title", "duration", "year",
]  # fmt: skip
REAL_EVENT_KEYS = [
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
]  # fmt: skip


class Size(TypedDict):
    events: int
    songs: int
    users: int
    days: int


SIZE = Size(events=3000, songs=300, users=40, days=7)


@dataclass(frozen=True)
class Generated:
    root: Path
    report: GenerateReport
    songs: list[dict[str, Any]]
    song_paths: list[Path]
    log_paths: list[Path]
    events: list[dict[str, Any]]


def _read(root: Path, report: GenerateReport) -> Generated:
    song_paths = sorted(report.song_data.rglob("*.json"))
    log_paths = sorted(report.log_data.rglob("*.json"))
    songs = [json.loads(p.read_bytes()) for p in song_paths]
    events = [
        json.loads(line)
        for p in log_paths
        for line in p.read_text(encoding="utf-8").split("\n")
        if line
    ]
    return Generated(root, report, songs, song_paths, log_paths, events)


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("gen")
    report = generate(root, seed=1, start=dt.date(2018, 11, 28), **SIZE)
    return _read(root, report)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ------------------------------------------------------------------ layout


def test_the_three_sources_are_written_where_the_report_says(gen: Generated) -> None:
    assert gen.report.song_data == gen.root / "song_data"
    assert gen.report.log_data == gen.root / "log_data"
    assert gen.report.log_jsonpath == gen.root / "log_json_path.json"
    assert sorted(p.name for p in gen.root.iterdir()) == [
        "log_data", "log_json_path.json", "song_data",
    ]  # fmt: skip


def test_song_files_live_in_folders_named_by_the_3rd_to_5th_letters_of_the_track_id(
    gen: Generated,
) -> None:
    for path in gen.song_paths:
        assert re.fullmatch(r"TR[A-Z0-9]{16}\.json", path.name), path.name
        rel = path.relative_to(gen.report.song_data)
        assert rel.parts[:3] == (path.name[2], path.name[3], path.name[4])
        assert len(rel.parts) == 4


def test_each_day_gets_one_log_file_named_by_its_date_even_across_months(gen: Generated) -> None:
    rel = [str(p.relative_to(gen.report.log_data)) for p in gen.log_paths]
    assert rel == [
        "2018/11/2018-11-28-events.json",
        "2018/11/2018-11-29-events.json",
        "2018/11/2018-11-30-events.json",
        "2018/12/2018-12-01-events.json",
        "2018/12/2018-12-02-events.json",
        "2018/12/2018-12-03-events.json",
        "2018/12/2018-12-04-events.json",
    ]
    assert gen.report.log_files == 7


def test_the_jsonpaths_file_lists_the_18_event_keys_in_order(gen: Generated) -> None:
    expected = [f"$['{key}']" for key in REAL_EVENT_KEYS]
    assert jsonpaths() == expected
    assert json.loads(gen.report.log_jsonpath.read_text(encoding="utf-8")) == {
        "jsonpaths": expected
    }


# ------------------------------------------------------------------ song records


def test_song_records_have_the_real_keys_in_the_real_order(gen: Generated) -> None:
    assert list(SONG_KEYS) == REAL_SONG_KEYS
    for song in gen.songs:
        assert list(song) == REAL_SONG_KEYS


def test_song_files_hold_one_object_with_no_final_newline(gen: Generated) -> None:
    for path in gen.song_paths[:50]:
        data = path.read_bytes()
        assert not data.endswith(b"\n")
        assert data.startswith(b'{"num_songs": 1, "artist_id": ')


def test_song_ids_have_the_real_formats_and_are_unique(gen: Generated) -> None:
    ids = [s["song_id"] for s in gen.songs]
    assert len(set(ids)) == len(ids)
    for song in gen.songs:
        assert re.fullmatch(r"SO[A-Z0-9]{16}", song["song_id"])
        assert re.fullmatch(r"AR[A-Z0-9]{16}", song["artist_id"])


def test_song_values_have_the_real_types(gen: Generated) -> None:
    for song in gen.songs:
        assert song["num_songs"] == 1
        assert isinstance(song["duration"], float)
        assert round(song["duration"], 5) == song["duration"]
        assert isinstance(song["year"], int)
        assert isinstance(song["artist_location"], str)
        assert (song["artist_latitude"] is None) == (song["artist_longitude"] is None)
        assert song["artist_latitude"] is None or isinstance(song["artist_latitude"], float)


def test_the_catalogue_has_unknown_years_empty_locations_and_missing_coordinates(
    gen: Generated,
) -> None:
    assert any(s["year"] == 0 for s in gen.songs)
    assert any(s["year"] > 0 for s in gen.songs)
    assert any(s["artist_location"] == "" for s in gen.songs)
    assert any(s["artist_latitude"] is None for s in gen.songs)
    assert any(s["artist_latitude"] is not None for s in gen.songs)


def test_many_artists_have_several_songs(gen: Generated) -> None:
    per_artist = Counter(s["artist_id"] for s in gen.songs)
    assert sum(1 for n in per_artist.values() if n >= 2) >= len(per_artist) // 4


def test_text_exercises_utf8_and_quoting(gen: Generated) -> None:
    texts = [s["title"] for s in gen.songs] + [s["artist_name"] for s in gen.songs]
    texts += [e["firstName"] or "" for e in gen.events] + [e["lastName"] or "" for e in gen.events]
    assert any(not t.isascii() for t in texts)
    assert any("'" in t for t in texts)
    raw = b"".join(p.read_bytes() for p in gen.log_paths)
    assert re.search(rb"[\xc3-\xc5][\x80-\xbf]", raw), "logs carry raw UTF-8, as the real ones"


# ------------------------------------------------------------------ events


def test_every_log_line_parses_and_files_have_no_final_newline(gen: Generated) -> None:
    for path in gen.log_paths:
        data = path.read_bytes()
        assert not data.endswith(b"\n")
        for line in data.split(b"\n"):
            assert line, f"blank line in {path}"
            orjson.loads(line)


def test_log_lines_are_exactly_what_orjson_writes_for_the_event(gen: Generated) -> None:
    for path in gen.log_paths:
        for line in path.read_bytes().split(b"\n"):
            assert orjson.dumps(orjson.loads(line)) == line


def test_events_have_the_real_keys_in_the_real_order(gen: Generated) -> None:
    assert list(EVENT_KEYS) == REAL_EVENT_KEYS
    for event in gen.events:
        assert list(event) == REAL_EVENT_KEYS


def test_event_values_have_the_real_types(gen: Generated) -> None:
    for e in gen.events:
        assert isinstance(e["userId"], str)
        assert type(e["sessionId"]) is int
        assert type(e["itemInSession"]) is int
        assert type(e["ts"]) is int
        assert type(e["status"]) is int
        assert e["level"] in ("free", "paid")
        if e["userId"]:
            assert e["userId"].isdigit()
            assert type(e["registration"]) is float
            assert e["registration"].is_integer()
            assert e["auth"] == "Logged In"
        if e["page"] == "NextSong":
            assert type(e["length"]) is float
            assert isinstance(e["song"], str)
            assert isinstance(e["artist"], str)
            assert (e["method"], e["status"]) == ("PUT", 200)
        else:
            assert e["length"] is None
            assert e["song"] is None
            assert e["artist"] is None


def test_logged_out_events_have_an_empty_user_id_and_null_personal_fields(
    gen: Generated,
) -> None:
    logged_out = [e for e in gen.events if e["userId"] == ""]
    assert logged_out
    assert {e["page"] for e in logged_out} <= {"Home", "Login", "About", "Help"}
    assert any(e["page"] == "Login" for e in logged_out)
    for e in logged_out:
        assert e["auth"] == "Logged Out"
        for key in ("firstName", "gender", "lastName", "location", "registration", "userAgent"):
            assert e[key] is None
        assert e["level"] in ("free", "paid")


def test_the_event_count_is_exact(gen: Generated) -> None:
    assert len(gen.events) == SIZE["events"] == gen.report.events


def test_events_are_spread_over_all_days_and_sorted_by_ts_within_a_file(gen: Generated) -> None:
    for path in gen.log_paths:
        ts = [orjson.loads(line)["ts"] for line in path.read_bytes().split(b"\n")]
        assert len(ts) > SIZE["events"] // SIZE["days"] // 2
        assert ts == sorted(ts)


def test_ts_falls_within_the_utc_day_of_its_file(gen: Generated) -> None:
    for path in gen.log_paths:
        day = dt.date.fromisoformat(path.name[:10])
        lo = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000
        for line in path.read_bytes().split(b"\n"):
            assert lo <= orjson.loads(line)["ts"] < lo + 86_400_000


def test_the_song_and_user_counts_are_as_asked(gen: Generated) -> None:
    assert len(gen.song_paths) == len(gen.songs) == SIZE["songs"]
    assert gen.report.song_files == gen.report.songs == SIZE["songs"]
    user_ids = {e["userId"] for e in gen.events if e["userId"]}
    assert len(user_ids) == SIZE["users"] == gen.report.users


def test_the_report_counts_every_byte_written(gen: Generated) -> None:
    assert gen.report.bytes_written == sum(len(v) for v in _tree(gen.root).values())
    assert gen.report.seconds >= 0


def test_nextsong_dominates_and_the_other_real_pages_appear(gen: Generated) -> None:
    pages = Counter(e["page"] for e in gen.events)
    assert 0.75 < pages["NextSong"] / len(gen.events) < 0.92
    for page in ("Home", "Login", "Logout", "Settings", "Help", "About"):
        assert pages[page] > 0, page
    assert pages["Upgrade"] + pages["Downgrade"] > 0


def test_most_plays_match_a_catalogue_song_exactly_on_title_artist_and_duration(
    gen: Generated,
) -> None:
    catalogue = {(s["title"], s["artist_name"], s["duration"]) for s in gen.songs}
    plays = [(e["song"], e["artist"], e["length"]) for e in gen.events if e["page"] == "NextSong"]
    matched = sum(1 for play in plays if play in catalogue)
    assert 0.80 <= matched / len(plays) <= 0.95


def test_song_popularity_is_skewed(gen: Generated) -> None:
    plays = Counter(e["song"] for e in gen.events if e["page"] == "NextSong")
    counts = sorted(plays.values(), reverse=True)
    assert counts[0] >= 5 * counts[len(counts) // 2]


def test_item_in_session_and_ts_increase_within_a_session(gen: Generated) -> None:
    sessions: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in gen.events:
        sessions[e["sessionId"]].append(e)
    assert any(len(s) > 5 for s in sessions.values())
    for events in sessions.values():
        events.sort(key=lambda e: e["itemInSession"])
        assert [e["itemInSession"] for e in events] == list(range(len(events)))
        ts = [e["ts"] for e in events]
        assert all(a < b for a, b in itertools.pairwise(ts))
        assert len({e["userId"] for e in events if e["userId"]}) == 1


def test_nextsong_plays_are_unique_per_user_session_and_ts(gen: Generated) -> None:
    keys = [(e["userId"], e["sessionId"], e["ts"]) for e in gen.events if e["page"] == "NextSong"]
    assert len(keys) == len(set(keys))


def test_some_users_switch_between_free_and_paid(gen: Generated) -> None:
    levels: defaultdict[str, list[str]] = defaultdict(list)
    for e in sorted(gen.events, key=lambda e: e["ts"]):
        if e["userId"]:
            levels[e["userId"]].append(e["level"])
    changed = [u for u, seq in levels.items() if len(set(seq)) > 1]
    assert changed
    assert any(seq[0] == "free" for seq in levels.values())
    assert any(seq[0] == "paid" for seq in levels.values())


def test_a_user_never_has_two_events_with_the_same_ts(gen: Generated) -> None:
    keys = [(e["userId"], e["ts"]) for e in gen.events if e["userId"]]
    assert len(keys) == len(set(keys))


# ------------------------------------------------------------------ determinism and arguments


SMALL = Size(events=400, songs=60, users=12, days=3)


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=7, **SMALL)
    generate(tmp_path / "b", seed=7, **SMALL)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_another_seed_gives_different_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=7, **SMALL)
    generate(tmp_path / "b", seed=8, **SMALL)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a["log_json_path.json"] == b["log_json_path.json"]
    assert set(a) != set(b)
    assert (
        a["log_data/2018/11/2018-11-01-events.json"] != b["log_data/2018/11/2018-11-01-events.json"]
    )


def test_progress_reports_a_growing_count_that_ends_at_the_total(tmp_path: Path) -> None:
    seen: list[int] = []
    generate(tmp_path, events=25_000, songs=50, users=20, days=2, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 25_000
    assert len(seen) >= 3


def test_zero_events_still_writes_one_empty_file_per_day(tmp_path: Path) -> None:
    report = generate(tmp_path, events=0, songs=5, users=0, days=2)
    files = sorted(report.log_data.rglob("*.json"))
    assert [p.read_bytes() for p in files] == [b"", b""]
    assert (report.events, report.users, report.songs) == (0, 0, 5)


def test_with_fewer_events_than_users_each_event_is_another_user(tmp_path: Path) -> None:
    report = generate(tmp_path, events=5, songs=10, users=50, days=1)
    assert report.events == 5
    assert report.users == 5


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"events": -1}, "events"),
        ({"songs": -5}, "songs"),
        ({"users": -1}, "users"),
        ({"days": 0}, "days"),
        ({"events": 10, "users": 0}, "users"),
    ],
)
def test_nonsense_arguments_raise_a_sparkify_error_naming_the_argument(
    tmp_path: Path, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(SparkifyError, match=fragment):
        generate(tmp_path, **kwargs)
    assert not (tmp_path / "song_data").exists()


def test_a_non_empty_target_is_refused_unless_overwrite_is_asked(tmp_path: Path) -> None:
    generate(tmp_path, seed=1, **SMALL)
    with pytest.raises(SparkifyError, match="not empty"):
        generate(tmp_path, seed=2, **SMALL)
    generate(tmp_path, seed=2, overwrite=True, **SMALL)
    generate(tmp_path / "fresh", seed=2, **SMALL)
    assert _tree(tmp_path / "fresh") == {
        k: v for k, v in _tree(tmp_path).items() if not k.startswith("fresh/")
    }


def test_a_helper_process_writes_the_same_song_files_as_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "inline", seed=3, **SMALL)
    monkeypatch.setattr(gen_catalogue, "SONG_PROCESS_MIN", 1)
    generate(tmp_path / "helper", seed=3, **SMALL)
    assert _tree(tmp_path / "helper") == _tree(tmp_path / "inline")


def test_a_failing_helper_process_raises_a_sparkify_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gen_catalogue, "SONG_PROCESS_MIN", 1)
    monkeypatch.setattr(gen_catalogue, "_SONG_WRITER", "raise SystemExit('disk on fire')")
    with pytest.raises(SparkifyError, match="could not write the song files"):
        generate(tmp_path, seed=3, **SMALL)


def test_an_unwritable_target_raises_a_sparkify_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SparkifyError):
        generate(blocker / "out", **SMALL)
