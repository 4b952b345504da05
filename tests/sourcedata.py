"""Write small Sparkify source files for tests, in the real files' format.

The formats follow the Udacity sample (see the project's data provenance notes):

* a song file holds one JSON object, keys in the order num_songs, artist_id,
  artist_latitude, artist_longitude, artist_location, artist_name, song_id,
  title, duration, year, written with ``", "`` / ``": "`` separators and no
  final newline;
* a log file is NDJSON, one compact event per line, keys in the order of
  :data:`EVENT_KEYS`, no final newline;
* the JSONPaths file lists 18 bracket paths, with a blank line before ``]``
  and no final newline.

Lines given as ``str`` are written as they are, so tests can put bad records
(malformed JSON, wrong types) between good ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sparkify.models import EVENT_KEYS

USER_AGENT = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 '
    '(KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"'
)

Record = Mapping[str, Any] | str


def song(
    song_id: str,
    title: str,
    artist_id: str,
    artist_name: str,
    duration: float,
    *,
    year: Any = 0,
    location: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A song record with the real key order (``extra`` overrides or adds keys)."""
    record: dict[str, Any] = {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_latitude": latitude,
        "artist_longitude": longitude,
        "artist_location": location,
        "artist_name": artist_name,
        "song_id": song_id,
        "title": title,
        "duration": duration,
        "year": year,
    }
    record.update(extra)
    return record


def event(
    ts: int,
    user_id: str,
    session_id: int,
    *,
    page: str = "NextSong",
    song: str | None = None,
    artist: str | None = None,
    length: float | None = None,
    first_name: str = "Walter",
    last_name: str = "Frye",
    gender: str = "M",
    level: str = "free",
    item_in_session: int = 0,
    registration: float | None = 1540919166796.0,
    **extra: Any,
) -> dict[str, Any]:
    """An app event with the real key order (``extra`` overrides or adds keys).

    A logged-out event has ``user_id`` ``""`` and no name, as in the real logs.
    """
    logged_in = user_id != ""
    record: dict[str, Any] = {
        "artist": artist,
        "auth": "Logged In" if logged_in else "Logged Out",
        "firstName": first_name if logged_in else None,
        "gender": gender if logged_in else None,
        "itemInSession": item_in_session,
        "lastName": last_name if logged_in else None,
        "length": length,
        "level": level,
        "location": "San Francisco-Oakland-Hayward, CA" if logged_in else None,
        "method": "PUT" if page == "NextSong" else "GET",
        "page": page,
        "registration": registration if logged_in else None,
        "sessionId": session_id,
        "song": song,
        "status": 200,
        "ts": ts,
        "userAgent": USER_AGENT if logged_in else None,
        "userId": user_id,
    }
    record.update(extra)
    return record


def song_text(record: Record) -> str:
    """A song record as the real song files write it."""
    return record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)


def event_line(record: Record) -> str:
    """An event as one compact NDJSON line (a ``str`` is kept as it is)."""
    if isinstance(record, str):
        return record
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_song_file(folder: Path, record: Record, name: str | None = None) -> Path:
    """Write one song file under ``folder/A/B/C/`` (named after its song_id by default)."""
    if name is None:
        assert not isinstance(record, str), "name a song file given as raw text"
        name = f"TR{record['song_id']}.json"
    path = folder / "A" / "B" / "C" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(song_text(record).encode("utf-8"))
    return path


def write_song_files(folder: Path, records: Iterable[Record]) -> list[Path]:
    """Write one song file per record; return their paths."""
    return [write_song_file(folder, record) for record in records]


def write_log_file(
    folder: Path, day: str, records: Iterable[Record], *, final_newline: bool = False
) -> Path:
    """Write ``folder/2018/11/<day>-events.json`` (``day`` like ``"2018-11-01"``) as NDJSON."""
    path = folder / day[:4] / day[5:7] / f"{day}-events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(event_line(record) for record in records)
    path.write_bytes((text + ("\n" if final_newline else "")).encode("utf-8"))
    return path


def jsonpaths_text(keys: Iterable[str] = EVENT_KEYS) -> str:
    """The JSONPaths file's text, laid out like the real one."""
    lines = ",\n".join(f"        \"$['{key}']\"" for key in keys)
    return '{\n    "jsonpaths": [\n' + lines + "\n\n    ]\n}"


def write_jsonpaths(path: Path, keys: Iterable[str] = EVENT_KEYS) -> Path:
    """Write the JSONPaths file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonpaths_text(keys).encode("utf-8"))
    return path
