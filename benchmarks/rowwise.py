"""The row-by-row baseline: Sparkify loaded the way hand-rolled ``etl.py`` scripts do it.

This is the classic Udacity "Data Modeling with Postgres" ``etl.py`` shape, written
against sparkify's own tables (built by its migrations) so that both loaders fill
the same schema:

* for each song file: ``json.load`` it, then one ``INSERT INTO songs`` and one
  ``INSERT INTO artists`` (``ON CONFLICT DO NOTHING``);
* for each log file, line by line (``json.loads``): for an event of a logged-in
  user, one ``INSERT INTO users ... ON CONFLICT DO UPDATE`` (the latest event's
  attributes win, ``last_event_ts`` is the event's ``ts``); for a ``NextSong``
  event, one ``INSERT INTO time``, one ``SELECT song_id, artist_id FROM songs JOIN
  artists ... WHERE title = %s AND name = %s AND duration = %s`` and one
  ``INSERT INTO songplays``;
* one statement per record through psycopg, one commit per file (as ``etl.py``
  does with ``conn.commit()`` after each file).

No staging tables, no set-based SQL: this is the baseline sparkify's bulk loader
is compared with, not a second implementation of the data contract.

Run it on its own against a database whose schema is built (``sparkify
create-tables`` with ``SPARKIFY_DATABASE_URL`` pointing at it)::

    uv run python -m benchmarks.rowwise postgresql://postgres@127.0.0.1:5432/db DATA_DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time as clock
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

SONG_INSERT = """
    INSERT INTO songs (song_id, title, artist_id, year, duration, artist_name)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (song_id) DO NOTHING
"""
ARTIST_INSERT = """
    INSERT INTO artists (artist_id, name, location, latitude, longitude)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (artist_id) DO NOTHING
"""
USER_UPSERT = """
    INSERT INTO users (user_id, first_name, last_name, gender, level, last_event_ts)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (user_id) DO UPDATE SET
        first_name = EXCLUDED.first_name,
        last_name = EXCLUDED.last_name,
        gender = EXCLUDED.gender,
        level = EXCLUDED.level,
        last_event_ts = EXCLUDED.last_event_ts
    WHERE users.last_event_ts <= EXCLUDED.last_event_ts
"""
TIME_INSERT = """
    INSERT INTO time (start_time, hour, day, week, month, year, weekday)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (start_time) DO NOTHING
"""
SONG_SELECT = """
    SELECT songs.song_id, songs.artist_id
    FROM songs JOIN artists ON songs.artist_id = artists.artist_id
    WHERE songs.title = %s AND artists.name = %s AND songs.duration = %s
"""
SONGPLAY_INSERT = """
    INSERT INTO songplays (start_time, user_id, level, song_id, artist_id, session_id,
                           location, user_agent, song_title, artist_name, song_length)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (user_id, session_id, start_time) DO NOTHING
"""

_EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class RowwiseReport:
    """What a row-by-row load did and how long it took.

    Attributes:
        song_files: song files loaded (all of them: the cap applies to events only).
        song_seconds: wall seconds of the song-file phase.
        events: log lines loaded (the first ``max_events`` when capped).
        events_total: log lines in all the log files.
        event_seconds: wall seconds of the log phase, for ``events`` lines.
        statements: SQL statements executed.
    """

    song_files: int
    song_seconds: float
    events: int
    events_total: int
    event_seconds: float
    statements: int

    @property
    def capped(self) -> bool:
        """Whether only the first events were loaded (the times are then extrapolated)."""
        return self.events < self.events_total

    @property
    def estimated_event_seconds(self) -> float:
        """Seconds the log phase would take for every event, extrapolated linearly."""
        if not self.capped or self.events == 0:
            return self.event_seconds
        return self.event_seconds * self.events_total / self.events

    @property
    def estimated_seconds(self) -> float:
        """Seconds the whole load would take: song files (measured) + log phase (estimated)."""
        return self.song_seconds + self.estimated_event_seconds

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data, the estimates included."""
        data = asdict(self)
        data["capped"] = self.capped
        data["estimated_event_seconds"] = self.estimated_event_seconds
        data["estimated_seconds"] = self.estimated_seconds
        return data


def json_files(folder: Path) -> list[Path]:
    """Every ``*.json`` file under ``folder``, in path order."""
    found = [
        Path(root) / name
        for root, _, names in os.walk(folder)
        for name in names
        if name.endswith(".json") and not name.startswith(".")
    ]
    return sorted(found)


def count_events(log_data: Path) -> int:
    """Non-empty lines in every log file under ``log_data``."""
    total = 0
    for path in json_files(log_data):
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def load(
    conninfo: str,
    song_data: Path,
    log_data: Path,
    *,
    max_events: int | None = None,
) -> RowwiseReport:
    """Load song files then log files into the star tables, one statement per record.

    Args:
        conninfo: a libpq connection string or ``postgresql://`` URL; the database's
            schema must be built (sparkify's migrations).
        song_data: folder of song files (one JSON object each).
        log_data: folder of NDJSON log files.
        max_events: stop after this many log lines (``None``: all of them).

    Returns:
        The counts and wall seconds of each phase.
    """
    statements = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        started = clock.perf_counter()
        song_files = 0
        for path in json_files(song_data):
            with path.open(encoding="utf-8") as handle:
                record = json.load(handle)
            cur.execute(SONG_INSERT, _song_row(record))
            cur.execute(ARTIST_INSERT, _artist_row(record))
            statements += 2
            conn.commit()
            song_files += 1
        song_seconds = clock.perf_counter() - started

        started = clock.perf_counter()
        events = 0
        limit = max_events if max_events is not None else -1
        for path in json_files(log_data):
            for record in _records(path):
                if events == limit:
                    break
                events += 1
                statements += _load_event(cur, record)
            conn.commit()
            if events == limit:
                break
        event_seconds = clock.perf_counter() - started
    return RowwiseReport(
        song_files=song_files,
        song_seconds=song_seconds,
        events=events,
        events_total=count_events(log_data),
        event_seconds=event_seconds,
        statements=statements,
    )


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record: dict[str, Any] = json.loads(line)
                yield record


def _song_row(record: dict[str, Any]) -> tuple[Any, ...]:
    year = record.get("year") or None  # year 0 means unknown
    return (
        record["song_id"],
        record.get("title"),
        record.get("artist_id"),
        year,
        record.get("duration"),
        record.get("artist_name"),
    )


def _artist_row(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record["artist_id"],
        record.get("artist_name"),
        record.get("artist_location") or None,
        record.get("artist_latitude"),
        record.get("artist_longitude"),
    )


def _load_event(cur: psycopg.Cursor[Any], record: dict[str, Any]) -> int:
    """Insert one event's rows; return the number of statements executed."""
    user = record.get("userId")
    if user in (None, ""):
        return 0
    user_id = int(user)
    ts = int(record["ts"])
    cur.execute(
        USER_UPSERT,
        (
            user_id,
            record.get("firstName"),
            record.get("lastName"),
            record.get("gender"),
            record.get("level"),
            ts,
        ),
    )
    if record.get("page") != "NextSong":
        return 1
    start = _EPOCH + dt.timedelta(milliseconds=ts)
    cur.execute(
        TIME_INSERT,
        (
            start,
            start.hour,
            start.day,
            start.isocalendar().week,
            start.month,
            start.year,
            start.isoweekday() % 7,  # day of week, Sunday = 0
        ),
    )
    cur.execute(SONG_SELECT, (record.get("song"), record.get("artist"), record.get("length")))
    match = cur.fetchone()
    song_id, artist_id = match if match else (None, None)
    cur.execute(
        SONGPLAY_INSERT,
        (
            start,
            user_id,
            record.get("level"),
            song_id,
            artist_id,
            int(record["sessionId"]),
            record.get("location"),
            record.get("userAgent"),
            record.get("song"),
            record.get("artist"),
            record.get("length"),
        ),
    )
    return 4


def main(argv: Sequence[str] | None = None) -> int:
    """Load a generated data folder row by row and print the report as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rowwise", description=__doc__)
    parser.add_argument("conninfo", help="postgresql://user@host:port/database (schema built)")
    parser.add_argument("data", type=Path, help="folder holding song_data/ and log_data/")
    parser.add_argument("--max-events", type=int, default=None, help="stop after N log lines")
    args = parser.parse_args(argv)
    report = load(
        args.conninfo, args.data / "song_data", args.data / "log_data", max_events=args.max_events
    )
    print(json.dumps(report.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
