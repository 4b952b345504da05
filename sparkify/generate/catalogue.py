"""The song catalogue: song records written one per file, and the songs plays draw from.

Big catalogues are written by a helper process (:class:`SongFiles`) while the
main one goes on to the events.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from random import Random

import orjson

from sparkify.errors import SparkifyError
from sparkify.generate.vocabulary import CITIES, Names, song_duration

#: Song popularity: weight of the song of rank r (from 0) is 1 / (r + ZIPF_Q) ** ZIPF_S.
ZIPF_S = 0.8
ZIPF_Q = 3.0

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX = "0123456789ABCDEF"
_ALNUM = _UPPER + "0123456789"


class Ids:
    """Unique ids in the real formats (AR + 16, SO + 16, TR + 16 uppercase alnum)."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value

    def artist(self) -> str:
        rng = self._rng
        return self._unique(lambda: "AR" + "".join(rng.choices(_ALNUM, k=16)))

    def song(self) -> str:
        rng = self._rng
        return self._unique(
            lambda: "SO" + "".join(rng.choices(_UPPER, k=5)) + "".join(rng.choices(_HEX, k=11))
        )

    def track(self) -> str:
        # "TRA" + 2 letters, like the S3 layout song_data/A/{A..Z}/{A..Z}/.
        rng = self._rng
        return self._unique(
            lambda: "TRA" + "".join(rng.choices(_UPPER, k=4)) + "".join(rng.choices(_HEX, k=11))
        )


def zipf_cumulative(n: int) -> list[float]:
    return list(accumulate(1.0 / (rank + ZIPF_Q) ** ZIPF_S for rank in range(n)))


def json_bytes(value: object) -> bytes:
    """``value`` as compact JSON, in a bytes object of its own size.

    ``orjson.dumps`` returns a bytes object with some kilobytes of spare capacity;
    thousands of them kept around would waste hundreds of megabytes.
    """
    return bytes(memoryview(orjson.dumps(value)))


@dataclass
class Catalogue:
    """Songs that plays can name: catalogue songs first, then unknown ones."""

    titles: list[str]
    artists: list[str]
    durations: list[float]
    known: int
    cum_known: list[float]
    cum_unknown: list[float]
    artist_json: list[bytes] = field(default_factory=list)
    title_json: list[bytes] = field(default_factory=list)
    duration_json: list[bytes] = field(default_factory=list)
    duration_ms: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.artist_json = [json_bytes(a) for a in self.artists]
        self.title_json = [json_bytes(t) for t in self.titles]
        self.duration_json = [json_bytes(d) for d in self.durations]
        self.duration_ms = [int(d * 1000) for d in self.durations]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_files(batch: list[tuple[str, bytes]]) -> None:
    """Create (or truncate) and write each file of ``batch``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    for path, data in batch:
        fd = os.open(path, flags, 0o644)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)


#: From this many songs on, a helper process creates the song files while this one
#: makes the events (creating many small files is mostly kernel time, and a thread
#: would wait for the GIL after every system call).
SONG_PROCESS_MIN = 5_000

#: The helper: reads (path length, data length, path, data) frames from stdin.
_SONG_WRITER = """
import os, struct, sys
read = sys.stdin.buffer.read
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
while True:
    head = read(8)
    if len(head) < 8:
        break
    n, m = struct.unpack("<II", head)
    path = read(n)
    view = memoryview(read(m))
    fd = os.open(path, flags, 0o644)
    try:
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
"""


class SongFiles:
    """Writes song files: through a helper process for big catalogues, else right away."""

    def __init__(self, n_songs: int) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[int]] = []
        if n_songs < SONG_PROCESS_MIN or not sys.executable:
            return
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SONG_WRITER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError:
            return  # no helper: write in this process
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkify-songs")

    def submit(self, batch: list[tuple[str, bytes]]) -> None:
        """Write (or queue) a batch of (path, bytes)."""
        if self._proc is None or self._pool is None:
            _write_files(batch)
            return
        frames = []
        for path, data in batch:
            name = os.fsencode(path)
            frames.append(struct.pack("<II", len(name), len(data)) + name + data)
        stdin = self._proc.stdin
        assert stdin is not None
        # A thread blocked in one big write() holds no GIL; the helper reads at its pace.
        self._pending.append(self._pool.submit(stdin.write, b"".join(frames)))

    def close(self) -> None:
        """Wait until every song file is written.

        Raises:
            SparkifyError: the helper process failed.
        """
        if self._proc is None or self._pool is None:
            return
        failure: BaseException | None = None
        for future in self._pending:
            try:
                future.result()
            except OSError as exc:  # BrokenPipeError: the helper died
                failure = failure or exc
        self._pool.shutdown()
        _, err = self._proc.communicate()
        if self._proc.returncode != 0 or failure is not None:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            reason = lines[-1] if lines else str(failure or f"exit {self._proc.returncode}")
            raise SparkifyError(f"could not write the song files: {reason}")

    def abort(self) -> None:
        """Stop the helper without waiting for its work."""
        if self._proc is None or self._pool is None:
            return
        self._proc.kill()
        self._pool.shutdown(cancel_futures=True)
        self._proc.communicate()


def write_songs(
    song_data: Path,
    n_songs: int,
    rng: Random,
    submit: Callable[[list[tuple[str, bytes]]], object],
) -> tuple[Catalogue, int]:
    """Make ``n_songs`` song records and hand their files to ``submit`` in batches.

    Args:
        song_data: the song folder (its subfolders are created here).
        n_songs: number of song records (one file each).
        rng: the generator's random source.
        submit: takes a batch of (path, bytes) to write (possibly in another thread).

    Returns:
        The catalogue plays draw from, and the bytes of the song files.
    """
    batch: list[tuple[str, bytes]] = []
    ids = Ids(rng)
    names = Names(rng)
    titles: list[str] = []
    artists: list[str] = []
    durations: list[float] = []
    triples: set[tuple[str, str, float]] = set()
    made_dirs: set[str] = set()
    nbytes = 0
    while len(titles) < n_songs:
        artist_id = ids.artist()
        name = names.artist()
        r = rng.random()
        if r < 0.55:
            city, lat, lon = rng.choice(CITIES)
            location = city
            coords: tuple[float | None, float | None] = (lat, lon)
        elif r < 0.80:
            location, coords = rng.choice(CITIES)[0], (None, None)
        else:
            location, coords = "", (None, None)
        career = rng.randint(1955, 2008)
        n = min(n_songs - len(titles), 1 + min(40, int(rng.expovariate(0.5))))
        own: list[tuple[str, float]] = []
        for _ in range(n):
            if own and rng.random() < 0.005:
                title, duration = rng.choice(own)  # a re-release under another song_id
            else:
                for _attempt in range(5):
                    title = names.title()
                    if all(title != t for t, _ in own):
                        break
                else:
                    title = f"{title} (Take {len(own) + 2})"
                duration = song_duration(rng)
                while (title, name, duration) in triples:
                    duration = round(duration + 0.00001, 5)
                own.append((title, duration))
            year = 0 if rng.random() < 0.4 else min(2010, career + rng.randint(0, 12))
            rec_location, (lat_, lon_) = location, coords
            if n > 1:
                r = rng.random()
                if r < 0.12:  # this record lacks what the artist's others have
                    rec_location, lat_, lon_ = "", None, None
                elif r < 0.13 and location:  # another spelling of the place
                    rec_location = location.split(",")[0]
            song_id = ids.song()
            track = ids.track()
            record = {
                "num_songs": 1,
                "artist_id": artist_id,
                "artist_latitude": lat_,
                "artist_longitude": lon_,
                "artist_location": rec_location,
                "artist_name": name,
                "song_id": song_id,
                "title": title,
                "duration": duration,
                "year": year,
            }
            folder = f"{track[2]}/{track[3]}/{track[4]}"
            if folder not in made_dirs:
                (song_data / folder).mkdir(parents=True, exist_ok=True)
                made_dirs.add(folder)
            data = json.dumps(record).encode("ascii")
            batch.append((os.path.join(song_data, folder, f"{track}.json"), data))
            if len(batch) >= 1000:
                submit(batch)
                batch = []
            nbytes += len(data)
            titles.append(title)
            artists.append(name)
            durations.append(duration)
            triples.add((title, name, duration))
    if batch:
        submit(batch)
    known = len(titles)
    # Plays of songs that are not in the catalogue; some are near misses.
    for _ in range(max(20, known // 6)):
        while True:
            if known and rng.random() < 0.3:
                i = rng.randrange(known)
                title, name, duration = titles[i], artists[i], durations[i]
                kind = rng.random()
                if kind < 0.4:
                    title = title.lower() if rng.random() < 0.5 else title.upper()
                elif kind < 0.8:
                    duration = round(duration + rng.choice((-0.00001, 0.00001)), 5)
                else:
                    duration = round(duration + rng.uniform(-3.0, 3.0), 5)
            else:
                title, name, duration = names.title(), names.artist(), song_duration(rng)
            if (title, name, duration) not in triples:
                break
        triples.add((title, name, duration))
        titles.append(title)
        artists.append(name)
        durations.append(duration)
    ranks_known = list(range(known))
    rng.shuffle(ranks_known)
    cum_known = zipf_cumulative(known)
    cum_unknown = zipf_cumulative(len(titles) - known)
    # Apply the popularity permutation by reordering the catalogue's lists.
    order = ranks_known + list(range(known, len(titles)))
    catalogue = Catalogue(
        titles=[titles[i] for i in order],
        artists=[artists[i] for i in order],
        durations=[durations[i] for i in order],
        known=known,
        cum_known=cum_known,
        cum_unknown=cum_unknown,
    )
    return catalogue, nbytes
