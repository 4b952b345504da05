"""Generate eventsim-like Sparkify source data: song files, daily event logs, JSONPaths.

The output has the layout, key order, types and quirks of the real Udacity sample
(``/work/shared/data/udacity``)::

    out_dir/song_data/A/B/C/TRABC....json        one JSON object per file, no final newline
    out_dir/log_data/YYYY/MM/YYYY-MM-DD-events.json   NDJSON, one file per day, no final newline
    out_dir/log_json_path.json                    the Redshift JSONPaths file (18 paths)

What it models:

* a catalogue of ``songs`` records by artists with one to many songs each; some
  years 0, some empty ``artist_location`` and null coordinates (an artist's other
  records may still carry them), rare re-releases (same title, artist and
  duration under another ``song_id``) and a little Unicode and quoting;
* ``users`` listeners with Zipf-like activity, sessions of mostly ``NextSong``
  events, the other pages in roughly the real proportions, logging out and in
  again inside a session (logged-out events have ``userId`` ``""`` and null
  personal fields, as in the real logs), and free/paid switches through
  ``Submit Upgrade`` / ``Submit Downgrade``;
* Zipf-like song popularity: about 88% of plays name a catalogue song exactly
  (title, artist name and duration), the rest name songs that are not in it,
  some of them near misses (another letter case, a duration off by 0.00001).

Everything comes from one ``random.Random(seed)``: the same arguments give
byte-identical files. Events are planned per user and day in compact arrays,
turned into lines and merged by ``ts`` while the day's file is written, so
memory stays small whatever ``events`` is (each file is sorted by ``ts``).

Speed: lines are assembled from pre-encoded pieces (byte-identical to what
``orjson.dumps`` writes for the event dict), a thread writes the log chunks, and
for big catalogues (``SONG_PROCESS_MIN``) a helper process creates the song
files while this one makes the events.

The package: :mod:`.vocabulary` (names, titles, places, devices),
:mod:`.catalogue` (song records and their files), :mod:`.events` (listeners,
sessions and log lines), and here the entry point, :func:`generate`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from random import Random

from sparkify.errors import FolderNotEmptyError, SparkifyError
from sparkify.generate.catalogue import SongFiles, write_songs
from sparkify.generate.events import make_users
from sparkify.generate.logs import Writer, write_logs
from sparkify.models import EVENT_KEYS

__all__ = ["GenerateReport", "generate", "jsonpaths"]


def jsonpaths() -> list[str]:
    """Return the 18 JSONPath expressions of ``log_json_path.json``, in column order.

    Returns:
        Strings like ``"$['artist']"``, one per event key, in the staging_events order.
    """
    return [f"$['{key}']" for key in EVENT_KEYS]


@dataclass(frozen=True)
class GenerateReport:
    """What :func:`generate` wrote.

    Attributes:
        song_files: number of song files written (one record each).
        log_files: number of daily log files written (one per day, possibly empty).
        events: number of event lines written across all log files.
        songs: number of song records (equals ``song_files``).
        users: number of distinct non-empty ``userId`` values in the logs.
        bytes_written: total size of all files written.
        seconds: wall-clock time taken.
        song_data: the song folder (``out_dir/song_data``).
        log_data: the log folder (``out_dir/log_data``).
        log_jsonpath: the JSONPaths file (``out_dir/log_json_path.json``).
    """

    song_files: int
    log_files: int
    events: int
    songs: int
    users: int
    bytes_written: int
    seconds: float
    song_data: Path
    log_data: Path
    log_jsonpath: Path


def _check(events: int, songs: int, users: int, days: int) -> None:
    for name, value in (("events", events), ("songs", songs), ("users", users)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SparkifyError(f"{name} must be a whole number >= 0, not {value!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise SparkifyError(f"days must be a whole number >= 1, not {days!r}")
    if events > 0 and users == 0:
        raise SparkifyError("users must be >= 1 when events > 0 (someone has to play the songs)")


def _prepare(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise SparkifyError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FolderNotEmptyError(str(folder))
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def generate(
    out_dir: Path,
    *,
    events: int = 10_000,
    songs: int = 1_000,
    users: int = 100,
    days: int = 30,
    seed: int = 0,
    start: dt.date = dt.date(2018, 11, 1),
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
) -> GenerateReport:
    """Write eventsim-like song files, daily event logs and the JSONPaths file.

    Args:
        out_dir: folder to write into (created if missing); gets ``song_data/``,
            ``log_data/`` and ``log_json_path.json``.
        events: total number of event lines, spread unevenly across the days.
        songs: number of song files (one record each).
        users: number of distinct listeners; each appears in the logs as long as
            ``events >= users`` (otherwise only ``events`` of them can).
        days: number of daily log files, from ``start`` on.
        seed: seed of the one ``random.Random`` everything is drawn from; the same
            arguments give byte-identical files.
        start: date of the first log file (timestamps are UTC).
        progress: called with the number of events written so far, every
            10,000 events and after each log file.
        overwrite: replace existing non-empty ``song_data/`` and ``log_data/``
            folders instead of refusing.

    Returns:
        A :class:`GenerateReport` with the counts, bytes and paths.

    Raises:
        SparkifyError: an argument is out of range (negative count, ``days < 1``,
            events without users), or a target folder is not empty.
    """
    started = time.perf_counter()
    _check(events, songs, users, days)
    out_dir = Path(out_dir)
    song_data = out_dir / "song_data"
    log_data = out_dir / "log_data"
    log_jsonpath = out_dir / "log_json_path.json"
    try:
        written, seen, nbytes = _generate_into(
            song_data, log_data, log_jsonpath, events=events, songs=songs, users=users,
            days=days, seed=seed, start=start, progress=progress, overwrite=overwrite,
        )  # fmt: skip
    except OSError as exc:
        raise SparkifyError(f"cannot write the generated data under {out_dir}: {exc}") from exc
    return GenerateReport(
        song_files=songs,
        log_files=days,
        events=written,
        songs=songs,
        users=seen,
        bytes_written=nbytes,
        seconds=time.perf_counter() - started,
        song_data=song_data,
        log_data=log_data,
        log_jsonpath=log_jsonpath,
    )


def _generate_into(
    song_data: Path,
    log_data: Path,
    log_jsonpath: Path,
    *,
    events: int,
    songs: int,
    users: int,
    days: int,
    seed: int,
    start: dt.date,
    progress: Callable[[int], None] | None,
    overwrite: bool,
) -> tuple[int, int, int]:
    """Do :func:`generate`'s work; return (events written, users seen, bytes written)."""
    _prepare(song_data, overwrite)
    _prepare(log_data, overwrite)
    rng = Random(seed)
    start_ms = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    start_ms *= 1000
    text = json.dumps({"jsonpaths": jsonpaths()}, indent=4) + "\n"
    log_jsonpath.write_text(text, encoding="utf-8")
    nbytes = len(text.encode("utf-8"))

    song_files = SongFiles(songs)
    try:
        catalogue, song_bytes = write_songs(song_data, songs, rng, song_files.submit)
        nbytes += song_bytes
        people = make_users(users, start_ms, rng)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkify-logs") as pool:
            # Big writes release the GIL: another thread writes while this one makes events.
            writer = Writer(pool)
            try:
                written, log_bytes = write_logs(
                    log_data, catalogue, people, rng, writer, events=events, days=days,
                    start=start, progress=progress,
                )  # fmt: skip
            finally:
                writer.drain()
            nbytes += log_bytes
    except BaseException:
        song_files.abort()
        raise
    song_files.close()
    return written, sum(1 for p in people if p.seen), nbytes
