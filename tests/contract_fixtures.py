"""Hand-written sources that exercise every rule of ../shared/CONTRACT.md.

Each record is here for a reason, named in its comment; the expected star rows
in tests/integration/test_contract.py follow from them by the rules alone.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sparkify.models import EVENT_KEYS, SONG_KEYS

EPOCH = dt.datetime(1970, 1, 1)

JSONPATHS = {"jsonpaths": [f"$['{key}']" for key in EVENT_KEYS]}

UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 "Chrome"'


def ms(when: dt.datetime) -> int:
    """Epoch milliseconds of a naive UTC datetime."""
    return (when - EPOCH) // dt.timedelta(milliseconds=1)


def song(
    song_id: str,
    title: str,
    artist_id: str,
    artist_name: str,
    duration: float,
    year: int = 2000,
    location: str = "",
    lat: float | None = None,
    lon: float | None = None,
) -> dict[str, Any]:
    values = (1, artist_id, lat, lon, location, artist_name, song_id, title, duration, year)
    return dict(zip(SONG_KEYS, values, strict=True))


def event(
    ts: int,
    user: str,
    *,
    page: str = "NextSong",
    session: int = 1,
    item: int = 0,
    first: str = "Ann",
    last: str = "Lee",
    gender: str = "F",
    level: str = "free",
    song_title: str | None = None,
    artist: str | None = None,
    length: float | None = None,
    location: str = "Austin, TX",
) -> dict[str, Any]:
    logged_in = user != ""
    values = (
        artist,
        "Logged In" if logged_in else "Logged Out",
        first if logged_in else None,
        gender if logged_in else None,
        item,
        last if logged_in else None,
        length,
        level,
        location if logged_in else None,
        "PUT" if page == "NextSong" else "GET",
        page,
        1540991795796.0 if logged_in else None,
        session,
        song_title,
        200,
        ts,
        UA if logged_in else None,
        user,
    )
    return dict(zip(EVENT_KEYS, values, strict=True))


# -- the songs ------------------------------------------------------------------------
TIED_A = song("SOTIEA", "Tied Song", "ARTIE1", "Tie Band", 200.5, year=1999)
TIED_B = song("SOTIEB", "Tied Song", "ARTIE2", "Tie Band", 200.5, year=0)  # rule 3 tie, rule 5
CAFE = song(
    "SOCAFE",
    "Café \"Quoted\" 'Song'",
    "ARUNI",
    "Ünïcode Ärtist",
    123.45678,
    year=2005,
    location="Zürich",
    lat=47.37,
    lon=8.54,
)
CAFE_2 = song("SOCAFF", "Second Song", "ARUNI", "Ünïcode Ärtist", 99.0, location="")  # rule 6
BERLIN = song(
    "SOBERL", "In Berlin", "ARTWO", "Two Cities", 180.0, location="Berlin", lat=52.52, lon=13.40
)
AMSTERDAM = song(
    "SOAMST",
    "In Amsterdam",
    "ARTWO",
    "Two Cities",
    181.0,
    location="Amsterdam",
    lat=52.37,
    lon=4.90,
)
CASE = song("SOCASE", "tied song", "ARCASE", "Tie Band", 200.5)  # case-sensitive match
SONGS = (TIED_A, TIED_B, CAFE, CAFE_2, BERLIN, AMSTERDAM, CASE)

# -- the events -----------------------------------------------------------------------
RULE1 = ms(dt.datetime(2018, 11, 1, 20, 57, 10, 796000))  # 1541105830796, the contract's example
WEEK53 = ms(dt.datetime(2021, 1, 3, 12, 0, 0, 123000))  # Sunday; ISO week 53 of year 2021
NEW_YEAR = ms(dt.datetime(2018, 12, 31, 23, 59, 59, 999000))  # Monday; ISO week 1
LATER = ms(dt.datetime(2018, 11, 2, 8, 0, 0, 1000))

PLAY_TIED = event(
    RULE1, "10", session=7, item=1, song_title="Tied Song", artist="Tie Band", length=200.5
)
PLAY_CAFE = event(
    LATER,
    "10",
    session=7,
    item=2,
    level="paid",
    song_title="Café \"Quoted\" 'Song'",
    artist="Ünïcode Ärtist",
    length=123.45678,
)
HOME_LATEST = event(
    LATER + 60_000, "10", page="Home", session=7, item=3, first="Annie", level="paid"
)  # rule 4: latest event by ts, whatever the page
PLAY_UNKNOWN = event(
    WEEK53,
    "20",
    session=9,
    first="Bob",
    last="Ray",
    gender="M",
    song_title="Nobody Knows",
    artist="Nobody",
    length=1.0,
)
PLAY_SAME_TS_OTHER_USER = event(
    WEEK53,
    "30",
    session=3,
    first="Cy",
    last="Doe",
    gender="M",
    level="paid",
    song_title="Tied Song",
    artist="Tie Band",
    length=200.5,
)
PLAY_SAME_USER_OTHER_SESSION = event(
    WEEK53,
    "20",
    session=10,
    first="Bob",
    last="Ray",
    gender="M",
    song_title="tied song",
    artist="Tie Band",
    length=200.5,
)
PLAY_NEW_YEAR = event(
    NEW_YEAR,
    "20",
    session=11,
    first="Bobby",
    last="Ray",
    gender="M",
    level="paid",
    song_title="Tied Song",
    artist="Tie Band",
    length=200.50001,
)  # duration differs: no match
OLDER_20 = event(
    RULE1 - 1, "20", page="Login", session=8, first="Old", last="Name", gender="M"
)  # older than the user's others: never wins
LOGGED_OUT_PLAY = event(
    RULE1 + 5, "", session=99, song_title="Tied Song", artist="Tie Band", length=200.5
)  # rule 2: no user, no songplay
LOGGED_OUT_HOME = event(RULE1 + 6, "", page="Home", session=99)

DAY1 = (PLAY_TIED, PLAY_TIED, LOGGED_OUT_PLAY, LOGGED_OUT_HOME, OLDER_20)  # a duplicate line
DAY2 = (HOME_LATEST, PLAY_CAFE)  # latest first in the file
DAY3 = (PLAY_UNKNOWN, PLAY_SAME_TS_OTHER_USER, PLAY_SAME_USER_OTHER_SESSION, PLAY_NEW_YEAR)


def write_sources(root: Path) -> dict[str, Path]:
    """Write the fixture in the real layout under ``root``; return the three source paths."""
    song_dir, log_dir = root / "song_data", root / "log_data"
    # one object per file, no final newline (like the real files)
    for record in (TIED_A, TIED_B, CAFE):
        path = song_dir / "A" / "B" / "C" / f"TR{record['song_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, ensure_ascii=False))
    # several concatenated objects in one file, and one per line with a final newline
    (song_dir / "A" / "B" / "D").mkdir(parents=True)
    (song_dir / "A" / "B" / "D" / "TRMANY.json").write_text(
        json.dumps(CAFE_2) + json.dumps(BERLIN, indent=2)
    )
    (song_dir / "A" / "B" / "D" / "TRLINES.json").write_text(
        json.dumps(AMSTERDAM) + "\n" + json.dumps(CASE) + "\n"
    )
    # not sources: a checkpoint folder and a non-JSON file
    (song_dir / ".ipynb_checkpoints").mkdir()
    (song_dir / ".ipynb_checkpoints" / "TRX-checkpoint.json").write_text(
        json.dumps(song("SOGHOST", "Ghost", "ARGHOST", "Ghost", 1.0))
    )
    (song_dir / "README.txt").write_text("not a source")
    for day, records in ((1, DAY1), (2, DAY2), (3, DAY3)):
        path = log_dir / "2018" / "11" / f"2018-11-0{day}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(json.dumps(r) for r in records))
    jsonpath = root / "log_json_path.json"
    jsonpath.write_text(json.dumps(JSONPATHS, indent=4))
    return {"song_data": song_dir, "log_data": log_dir, "log_jsonpath": jsonpath}


def upload_tree(root: Path, bucket: str, prefix: str = "") -> None:
    """Copy a local folder to ``s3://bucket/prefix...`` (keys keep their relative paths)."""
    import boto3

    client = boto3.client("s3", region_name="us-west-2")
    for path in sorted(root.rglob("*")):
        if path.is_file():
            key = f"{prefix}{path.relative_to(root).as_posix()}"
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
