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
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import BinaryIO

import orjson

from sparkify.errors import SparkifyError
from sparkify.models import EVENT_KEYS

DAY_MS = 86_400_000
PROGRESS_EVERY = 10_000
#: Share of NextSong plays naming a song that is not in the catalogue.
P_UNKNOWN = 0.12
#: Song popularity: weight of the song of rank r (from 0) is 1 / (r + ZIPF_Q) ** ZIPF_S.
ZIPF_S = 0.8
ZIPF_Q = 3.0


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


# --------------------------------------------------------------------------- vocabulary

_ADJECTIVES = (
    "Blue", "Broken", "Electric", "Golden", "Silent", "Wild", "Lonely", "Crazy", "Sweet",
    "Dark", "Bright", "Burning", "Cold", "Velvet", "Midnight", "Lost", "Hollow", "Neon",
    "Endless", "Secret", "Little", "Big", "Holy", "Stone", "Paper", "Silver", "Red", "Black",
    "Wicked", "Gentle", "Restless", "Faded", "Hungry", "Lucky", "Sleepy", "Savage", "Tender",
    "Frozen", "Rusty", "Crystal", "Distant", "Pale", "Heavy", "Sacred", "Strange", "Hidden",
    "Magic", "Brave", "Quiet", "Modern", "Ancient", "Liquid", "Rainy", "Sunny", "Urban",
)  # fmt: skip
_NOUNS = (
    "Heart", "River", "Fire", "Dream", "Night", "Road", "Rain", "Love", "Sky", "Ocean",
    "Train", "Angel", "Ghost", "Highway", "Moon", "Star", "City", "Garden", "Mirror",
    "Shadow", "Thunder", "Window", "Summer", "Winter", "Morning", "Sunset", "Diamond",
    "Memory", "Machine", "Mountain", "Desert", "Island", "Kingdom", "Radio", "Engine",
    "Forest", "Harbor", "Letter", "Lullaby", "Melody", "Rhythm", "Echo", "Horizon", "Candle",
    "Anthem", "Ballad", "Circus", "Planet", "Signal", "Tiger", "Falcon", "Raven", "Sparrow",
    "Cowboy", "Daughter", "Stranger", "Soldier", "Prophet", "Sailor", "Doctor",
)  # fmt: skip
_VERBS = (
    "Dance", "Run", "Fall", "Fly", "Walk", "Dream", "Drive", "Shine", "Burn", "Cry", "Sing",
    "Wait", "Hold On", "Break", "Hide", "Rise", "Stay", "Leave", "Believe", "Remember",
)  # fmt: skip
_PREPOSITIONS = ("Through", "Into", "Across", "Under", "Over", "Beyond", "Along", "Without")
_SUFFIXES = (
    " (Live)", " (LP Version)", " (Album Version)", " (Remix)", " (Instrumental)",
    " (Radio Edit)", " (Acoustic)", " (Remastered)", " (Demo)", " (Extended Mix)",
)  # fmt: skip
#: Titles that exercise quoting and UTF-8.
_SPECIAL_TITLES = (
    'The "Real" Thing', "Say \"Hello\" To Me", "Café Del Mar", "Déjà Vu", "Über Alles",
    "Niño Bonito", "Señorita", "Smörgåsbord", "Rock 'n' Roll Ain't Noise Pollution",
    "Mañana", "Ça Plane Pour Moi", "Jardin d'Hiver", "Hallelujah, Brother", "Ain't Misbehavin",
    "You Know I'm No Good", "Sylvia's Mother", "L'Été Indien", "Dónde Estás", "Für Elise",
    "Naïve Melody", "São Paulo Nights", "Crème Brûlée",
)  # fmt: skip
#: Artist names that exercise quoting and UTF-8 (each used at most once).
_SPECIAL_ARTISTS = (
    "Sigur Rós", "Björk", "Mötley Crüe", "Beyoncé", "Zoë Keating", "Ólafur Arnalds",
    "Café Tacvba", "Maná", "Héroes del Silencio", "Måneskin", "Motörhead", "Blue Öyster Cult",
    "Jóhann Jóhannsson", "Françoise Hardy", "Guns N' Roses", "Sinéad O'Connor", "Des'ree",
    "Hüsker Dü", "Édith Piaf", "Mägo de Oz", "Amadou & Mariam", "Los Fabulosos Cadillacs",
    "Dexys Midnight Runners", "Plácido Domingo", "Mø", "Röyksopp", "Emilíana Torrini",
)  # fmt: skip
_FIRST_F = (
    "Kaylee", "Lily", "Chloe", "Jacqueline", "Tegan", "Ava", "Avery", "Aleena", "Layla",
    "Rylan", "Kate", "Anabelle", "Cecilia", "Andrea", "Ann", "Adelyn", "Sara", "Mia",
)  # fmt: skip
_FIRST_M = (
    "Walter", "Jacob", "Harper", "Aiden", "Austin", "Braden", "Brantley", "Bronson", "Carlos",
    "Jayden", "Kevin", "Matthew", "Ryan", "Samuel", "Tucker", "Wyatt", "Sean", "Liam",
)  # fmt: skip
#: Rarer names that exercise UTF-8 and quoting.
_FIRST_F_SPECIAL = ("Zoë", "Renée", "Chloé", "Inés", "Mónica", "Jolène", "Maëlle", "Amélie")
_FIRST_M_SPECIAL = ("José", "André", "Björn", "Søren", "Ümit", "François", "Joaquín")
_LAST_SPECIAL = (
    "O'Brien", "D'Angelo", "Núñez", "Müller", "Peña", "Sørensen", "Dubois-Léger", "O'Neill",
)  # fmt: skip
_LAST = (
    "Frye", "Summers", "Lynch", "Levine", "Klein", "Barrett", "Arellano", "Ayala", "Banks",
    "Barrera", "Bell", "Benson", "Brock", "Burke", "Butler", "Calhoun", "Carter", "Chavez",
    "Clark", "Cook", "Cooper", "Cruz", "Davis", "Duffy", "Finley", "Fox", "Freeman", "Garrison",
    "George", "Gilmore", "Gonzalez", "Graves", "Griffin", "Harris", "Hayes", "Hicks", "Hunt",
    "Johnson", "Jones", "Jordan", "Kirby", "Koch", "Larson", "Lee", "Martin", "Moreno",
    "Owens", "Parker", "McAllister", "Norris", "Miles", "Hess",
)  # fmt: skip
_USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA", "Phoenix-Mesa-Scottsdale, AZ",
    "Washington-Arlington-Alexandria, DC-VA-MD-WV", "San Jose-Sunnyvale-Santa Clara, CA",
    "New Orleans-Metairie, LA", "Lubbock, TX", "Harrisburg-Carlisle, PA", "Salinas, CA",
    "La Crosse-Onalaska, WI-MN", "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA", "Augusta-Richmond County, GA-SC",
    "Birmingham-Hoover, AL", "Dallas-Fort Worth-Arlington, TX", "Detroit-Warren-Dearborn, MI",
    "Houston-The Woodlands-Sugar Land, TX", "Los Angeles-Long Beach-Anaheim, CA",
    "Miami-Fort Lauderdale-West Palm Beach, FL", "Minneapolis-St. Paul-Bloomington, MN-WI",
    "Nashville-Davidson--Murfreesboro--Franklin, TN", "New York-Newark-Jersey City, NY-NJ-PA",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD", "Portland-Vancouver-Hillsboro, OR-WA",
    "Sacramento--Roseville--Arden-Arcade, CA", "Seattle-Tacoma-Bellevue, WA",
    "St. Louis, MO-IL", "Tampa-St. Petersburg-Clearwater, FL", "Winston-Salem, NC",
    "Yuba City, CA", "Mayagüez, PR", "Coeur d'Alene, ID", "Cañon City, CO",
)  # fmt: skip
_USER_AGENTS = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/35.0.1916.153 Safari/537.36"',
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) '
    'Version/7.0.5 Safari/537.77.4"',
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 '
    '(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"',
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
)
#: Artist home towns: (location, latitude, longitude).
_CITIES: tuple[tuple[str, float, float], ...] = (
    ("Toronto, Ontario, Canada", 43.64856, -79.38533),
    ("Fort Worth, TX", 32.74863, -97.32925),
    ("New York, NY", 40.71455, -74.00712),
    ("Los Angeles, CA", 34.05349, -118.24532),
    ("Chicago, IL", 41.88415, -87.63241),
    ("Nashville, TN", 36.16778, -86.77836),
    ("Detroit, MI", 42.33168, -83.04792),
    ("Seattle, WA", 47.60356, -122.32944),
    ("Atlanta, GA", 33.74831, -84.39111),
    ("London, England", 51.50632, -0.12714),
    ("Manchester, England", 53.47960, -2.24881),
    ("Dublin, Ireland", 53.34376, -6.24953),
    ("Paris, France", 48.85692, 2.34121),
    ("Berlin, Germany", 52.51607, 13.37698),
    ("Köln, Germany", 50.94165, 6.95505),
    ("Stockholm, Sweden", 59.33217, 18.06243),
    ("Malmö, Sweden", 55.60587, 13.00073),
    ("Reykjavík, Iceland", 64.13586, -21.89541),
    ("Montréal, Québec, Canada", 45.51228, -73.55439),
    ("São Paulo, Brazil", -23.56288, -46.65423),
    ("México, D.F.", 19.43194, -99.13307),
    ("Kingston, Jamaica", 18.01605, -76.79698),
    ("Sydney, Australia", -33.86963, 151.20695),
    ("Tokyo, Japan", 35.68501, 139.75140),
    ("Zürich, Switzerland", 47.37688, 8.53977),
    ("Bogotá, Colombia", 4.59805, -74.07603),
    ("Memphis, TN", 35.14968, -90.04892),
    ("Austin, TX", 30.26759, -97.74299),
    ("Wisner, LA", 31.99413, -91.65512),
    ("Beverly Hills, CA", 34.07312, -118.39916),
)  # fmt: skip

# --------------------------------------------------------------------------- pages

# (page, method, status) by code.
_PAGES: tuple[tuple[str, str, int], ...] = (
    ("NextSong", "PUT", 200),  # 0
    ("Home", "GET", 200),  # 1
    ("Login", "PUT", 307),  # 2
    ("Logout", "PUT", 307),  # 3
    ("Settings", "GET", 200),  # 4
    ("Save Settings", "PUT", 307),  # 5
    ("Help", "GET", 200),  # 6
    ("About", "GET", 200),  # 7
    ("Upgrade", "GET", 200),  # 8
    ("Submit Upgrade", "PUT", 307),  # 9
    ("Downgrade", "GET", 200),  # 10
    ("Submit Downgrade", "PUT", 307),  # 11
    ("Error", "GET", 404),  # 12
)
_NEXT, _HOME, _LOGIN, _LOGOUT, _SETTINGS, _SAVE, _HELP, _ABOUT = range(8)
_UPGRADE, _SUBMIT_UP, _DOWNGRADE, _SUBMIT_DOWN, _ERROR = range(8, 13)

# Cumulative thresholds for a page in the middle of a logged-in session (anything
# above the last threshold is NextSong).
_MID_FREE = tuple(
    accumulate((0.045, 0.012, 0.007, 0.006, 0.004, 0.008, 0.0015))
)  # Home Logout Settings Help About Upgrade Error
_MID_FREE_PAGES = (_HOME, _LOGOUT, _SETTINGS, _HELP, _ABOUT, _UPGRADE, _ERROR)
_MID_PAID = tuple(accumulate((0.045, 0.012, 0.007, 0.006, 0.004, 0.009, 0.0015)))
_MID_PAID_PAGES = (_HOME, _LOGOUT, _SETTINGS, _HELP, _ABOUT, _DOWNGRADE, _ERROR)

# Event flags.
_F_START = 1  # first event of a session
_F_OUT = 2  # logged out
_F_PAID = 4  # level paid


# --------------------------------------------------------------------------- helpers

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX = "0123456789ABCDEF"
_ALNUM = _UPPER + "0123456789"


class _Ids:
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


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (exact sum, deterministic)."""
    wsum = math.fsum(weights)
    if total <= 0 or wsum <= 0:
        return [0] * len(weights)
    exact = [total * w / wsum for w in weights]
    counts = [int(x) for x in exact]
    short = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:short]:
        counts[i] += 1
    return counts


def _zipf_cumulative(n: int) -> list[float]:
    return list(accumulate(1.0 / (rank + ZIPF_Q) ** ZIPF_S for rank in range(n)))


class _Names:
    """Artist names and song titles."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        specials = list(_SPECIAL_ARTISTS)
        rng.shuffle(specials)
        self._special_artists = specials

    def person(self) -> str:
        rng = self._rng
        return f"{_first_name(rng, rng.random() < 0.5)} {_last_name(rng)}"

    def artist(self) -> str:
        rng = self._rng
        r = rng.random()
        if r < 0.02 and self._special_artists:
            return self._special_artists.pop()
        if r < 0.025:
            return ";".join(self.person() for _ in range(rng.randint(3, 6)))
        if r < 0.35:
            return self.person()
        if r < 0.55:
            return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
        if r < 0.70:
            return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if r < 0.80:
            return f"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}"
        if r < 0.86:
            return f"{self.person()} & The {rng.choice(_NOUNS)}s"
        if r < 0.92:
            return f"{rng.choice(('DJ', 'MC', 'Lil'))} {rng.choice(_NOUNS)}"
        return f"{rng.choice(_LAST)} feat. {self.person()}"

    def title(self) -> str:
        rng = self._rng
        r = rng.random()
        if r < 0.025:
            return rng.choice(_SPECIAL_TITLES)
        if r < 0.25:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        elif r < 0.40:
            base = f"{rng.choice(_VERBS)} {rng.choice(_PREPOSITIONS)} The {rng.choice(_NOUNS)}"
        elif r < 0.50:
            base = f"{rng.choice(_NOUNS)} Of {rng.choice(_NOUNS)}"
        elif r < 0.58:
            base = f"Don't {rng.choice(_VERBS)}"
        elif r < 0.64:
            base = f"I Can't {rng.choice(_VERBS)} Without You"
        elif r < 0.72:
            name = rng.choice(_FIRST_F + _FIRST_M)
            base = f"{name}'s {rng.choice(_NOUNS)}"
        elif r < 0.80:
            base = rng.choice(_NOUNS)
        elif r < 0.88:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
        else:
            base = f"Ain't No {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if rng.random() < 0.15:
            base += rng.choice(_SUFFIXES)
        return base


def _first_name(rng: Random, female: bool) -> str:
    if rng.random() < 0.06:
        return rng.choice(_FIRST_F_SPECIAL if female else _FIRST_M_SPECIAL)
    return rng.choice(_FIRST_F if female else _FIRST_M)


def _last_name(rng: Random) -> str:
    return rng.choice(_LAST_SPECIAL if rng.random() < 0.08 else _LAST)


def _duration(rng: Random) -> float:
    seconds = rng.lognormvariate(math.log(235.0), 0.38)
    return round(min(1800.0, max(15.0, seconds)), 5)


# --------------------------------------------------------------------------- catalogue


@dataclass
class _Catalogue:
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
        self.artist_json = [_json(a) for a in self.artists]
        self.title_json = [_json(t) for t in self.titles]
        self.duration_json = [_json(d) for d in self.durations]
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


class _SongFiles:
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


def _write_songs(
    song_data: Path,
    n_songs: int,
    rng: Random,
    submit: Callable[[list[tuple[str, bytes]]], object],
) -> tuple[_Catalogue, int]:
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
    ids = _Ids(rng)
    names = _Names(rng)
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
            city, lat, lon = rng.choice(_CITIES)
            location = city
            coords: tuple[float | None, float | None] = (lat, lon)
        elif r < 0.80:
            location, coords = rng.choice(_CITIES)[0], (None, None)
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
                duration = _duration(rng)
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
                title, name, duration = names.title(), names.artist(), _duration(rng)
            if (title, name, duration) not in triples:
                break
        triples.add((title, name, duration))
        titles.append(title)
        artists.append(name)
        durations.append(duration)
    ranks_known = list(range(known))
    rng.shuffle(ranks_known)
    cum_known = _zipf_cumulative(known)
    cum_unknown = _zipf_cumulative(len(titles) - known)
    # Apply the popularity permutation by reordering the catalogue's lists.
    order = ranks_known + list(range(known, len(titles)))
    catalogue = _Catalogue(
        titles=[titles[i] for i in order],
        artists=[artists[i] for i in order],
        durations=[durations[i] for i in order],
        known=known,
        cum_known=cum_known,
        cum_unknown=cum_unknown,
    )
    return catalogue, nbytes


# --------------------------------------------------------------------------- users and events


@dataclass
class _User:
    user_id: str
    first: str
    last: str
    gender: str
    location: str
    agent: str
    registration: float
    weight: float
    paid: bool
    seen: bool = False
    pieces: _UserPieces = field(init=False)

    def __post_init__(self) -> None:
        self.pieces = _UserPieces.of(self)


@dataclass
class _Plan:
    """One user's events of one day, in compact form (gaps already fit the day)."""

    user: _User
    offset: int
    pages: bytearray
    flags: bytearray
    songs: array[int]
    gaps: array[int]
    sessions: list[int]


def _make_users(n_users: int, start_ms: int, rng: Random) -> list[_User]:
    ids = sorted(rng.sample(range(1, n_users + n_users // 10 + 2), n_users))
    users = []
    for uid in ids:
        female = rng.random() < 0.6
        users.append(
            _User(
                user_id=str(uid),
                first=_first_name(rng, female),
                last=_last_name(rng),
                gender="F" if female else "M",
                location=rng.choice(_USER_LOCATIONS),
                agent=rng.choice(_USER_AGENTS),
                registration=float(start_ms - rng.randrange(3_600_000, 120 * DAY_MS)),
                weight=min(6.0, rng.lognormvariate(0.0, 1.0)),
                paid=rng.random() < 0.22,
            )
        )
    return users


class _Sessions:
    """Plans a user's day: sessions, pages, songs, levels and time gaps."""

    def __init__(self, rng: Random, catalogue: _Catalogue) -> None:
        self._rng = rng
        self._cat = catalogue
        self.next_id = 1

    def plan(self, user: _User, k: int) -> _Plan:
        """Plan ``k`` events of ``user`` on one day (the user's level changes as it goes).

        Args:
            user: the listener; its ``paid`` and ``seen`` flags are updated.
            k: number of events, at least 1.

        Returns:
            The day's events in compact form, timed to fit inside the day.
        """
        rng = self._rng
        random = rng.random
        expovariate = rng.expovariate
        cat = self._cat
        known, cum_known, cum_unknown = cat.known, cat.cum_known, cat.cum_unknown
        n_unknown = len(cum_unknown)
        top_known = cum_known[-1] if known else 0.0
        top_unknown = cum_unknown[-1] if n_unknown else 0.0
        p_unknown = P_UNKNOWN if known else 1.0
        song_ms = cat.duration_ms
        pages = bytearray()
        flags = bytearray()
        songs: array[int] = array("i")
        gaps: array[int] = array("q")
        add_page, add_flag, add_song, add_gap = (
            pages.append,
            flags.append,
            songs.append,
            gaps.append,
        )
        sessions: list[int] = []
        remaining = k
        paid = user.paid
        seen = False
        prev_song_ms = -1  # length of the previous event's song, -1 if it was no NextSong
        while remaining > 0:
            length = min(remaining, 1 + min(250, int(expovariate(1 / 18))))
            sessions.append(self.next_id)
            self.next_id += 1 + (random() < 0.05)
            logged_in = True
            follow = -1  # forced next page
            if length >= 3 and random() < 0.04:
                logged_in = False
                follow = _HOME
            emitted = 0
            while emitted < length:
                first = emitted == 0
                if first:
                    gap = 0 if not pages else 600_000 + int(expovariate(1 / 5_400_000))
                elif prev_song_ms >= 0:
                    gap = prev_song_ms if random() < 0.85 else rng.randint(5000, prev_song_ms)
                else:
                    gap = 1000 + int(expovariate(1 / 20_000))
                if follow >= 0:
                    page, follow = follow, -1
                    if first and not logged_in:
                        follow = _LOGIN  # a session that starts logged out: Home, Login
                elif not logged_in:
                    r = random()
                    if r < 0.25:
                        break  # left while logged out: the session ends
                    page = _LOGIN if r < 0.80 else (_ABOUT if r < 0.90 else _HELP)
                elif first:
                    r = random()
                    page = _NEXT if r < 0.55 else (_HOME if r < 0.99 else _HELP)
                else:
                    r = random()
                    mid = _MID_PAID if paid else _MID_FREE
                    if r >= mid[-1]:
                        page = _NEXT
                    else:
                        page = (_MID_PAID_PAGES if paid else _MID_FREE_PAGES)[bisect_right(mid, r)]
                add_page(page)
                add_flag(
                    (_F_START if first else 0)
                    | (0 if logged_in else _F_OUT)
                    | (_F_PAID if paid else 0)
                )
                add_gap(gap)
                emitted += 1
                if page == _NEXT:
                    if n_unknown and random() < p_unknown:
                        song = known + bisect_right(
                            cum_unknown, random() * top_unknown, 0, n_unknown - 1
                        )
                    else:
                        song = bisect_right(cum_known, random() * top_known, 0, known - 1)
                    add_song(song)
                    prev_song_ms = song_ms[song]
                    seen = True
                    continue
                add_song(-1)
                prev_song_ms = -1
                if logged_in:
                    seen = True
                # What this page leads to.
                if page == _LOGIN:
                    logged_in = True
                    follow = _HOME if random() < 0.8 else -1
                elif page == _LOGOUT:
                    logged_in = False
                    follow = _HOME
                elif page == _SETTINGS and random() < 0.2:
                    follow = _SAVE
                elif page == _UPGRADE and random() < 0.3:
                    follow = _SUBMIT_UP
                elif page == _DOWNGRADE and random() < 0.1:
                    follow = _SUBMIT_DOWN
                elif page == _SUBMIT_UP:
                    paid = True
                    follow = _HOME if random() < 0.8 else -1
                elif page == _SUBMIT_DOWN:
                    paid = False
                    follow = _HOME if random() < 0.8 else -1
                elif page == _SAVE:
                    follow = _HOME if random() < 0.5 else -1
            remaining -= emitted
        user.paid = paid
        user.seen = user.seen or seen
        # Fit the day: strictly increasing ts, all inside [0, DAY_MS).
        total = sum(gaps)
        cap = DAY_MS - 1 - len(gaps)
        if total > cap:
            factor = cap / total
            for i in range(1, len(gaps)):
                gaps[i] = int(gaps[i] * factor) + 1
            total = sum(gaps)
        offset = rng.randrange(DAY_MS - total)
        return _Plan(user, offset, pages, flags, songs, gaps, sessions)


def _json(value: object) -> bytes:
    """``value`` as compact JSON, in a bytes object of its own size.

    ``orjson.dumps`` returns a bytes object with some kilobytes of spare capacity;
    thousands of them kept around would waste hundreds of megabytes.
    """
    return bytes(memoryview(orjson.dumps(value)))


# Pieces of a log line that do not depend on the user. A line is assembled from
# pieces exactly as ``orjson.dumps`` would write the event dict (compact, keys in
# EVENT_KEYS order), which is several times faster than building dicts.
_LEVELS = (b'"free"', b'"paid"')
_STATUS_TS = [b',"status":' + _json(status) + b',"ts":' for _, _, status in _PAGES]
_NULL_SONG_STATUS_TS = [b',"song":null' + piece for piece in _STATUS_TS]
_OUT_HEAD = b'{"artist":null,"auth":"Logged Out","firstName":null,"gender":null,"itemInSession":'
_OUT_MID = [
    b',"lastName":null,"length":null,"level":' + _LEVELS[paid] + b',"location":null,"method":'
    + _json(method) + b',"page":' + _json(page) + b',"registration":null,"sessionId":'
    for page, method, _ in _PAGES
    for paid in (0, 1)
]  # fmt: skip
_OUT_TAIL = b',"userAgent":null,"userId":""}'


@dataclass(frozen=True)
class _UserPieces:
    """The pieces of a logged-in user's log lines that depend on the user."""

    head: bytes  # after the artist, up to itemInSession's value
    mid: bytes  # after itemInSession, up to length's value
    tail: bytes  # after ts
    location: bytes
    registration: bytes
    #: After length, up to sessionId's value; by page code * 2 + paid (made on first use).
    levels: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, user: _User) -> _UserPieces:
        head = (
            b',"auth":"Logged In","firstName":' + _json(user.first) + b',"gender":'
            + _json(user.gender) + b',"itemInSession":'
        )  # fmt: skip
        mid = b',"lastName":' + _json(user.last) + b',"length":'
        tail = b',"userAgent":' + _json(user.agent) + b',"userId":' + _json(user.user_id) + b"}"
        return cls(head, mid, tail, _json(user.location), _json(user.registration))

    def level(self, code: int) -> bytes:
        """The piece from level to sessionId for page ``code >> 1``, paid if ``code & 1``."""
        piece = self.levels.get(code)
        if piece is None:
            page, method, _ = _PAGES[code >> 1]
            piece = (
                b',"level":' + _LEVELS[code & 1] + b',"location":' + self.location
                + b',"method":' + _json(method) + b',"page":' + _json(page)
                + b',"registration":' + self.registration + b',"sessionId":'
            )  # fmt: skip
            self.levels[code] = piece
        return piece


def _emit(plan: _Plan, day_ms: int, cat: _Catalogue) -> Iterator[tuple[int, bytes]]:
    """Yield (ts, NDJSON line) for one planned user-day, in ts order."""
    pieces = plan.user.pieces
    head, mid, tail = pieces.head, pieces.mid, pieces.tail
    known_levels, make_level = pieces.levels, pieces.level
    mid_null = mid + b"null"
    artists, titles, durations = cat.artist_json, cat.title_json, cat.duration_json
    status_ts, null_song_status_ts = _STATUS_TS, _NULL_SONG_STATUS_TS
    out_mid = _OUT_MID
    join = b"".join
    ts = day_ms + plan.offset
    session_ids = iter(plan.sessions)
    session = 0
    item = 0
    for page, flag, song, gap in zip(plan.pages, plan.flags, plan.songs, plan.gaps, strict=True):
        ts += gap
        if flag & _F_START:
            session = next(session_ids)
            item = 0
        level = page * 2 + (1 if flag & _F_PAID else 0)
        if flag & _F_OUT:
            line = join((
                _OUT_HEAD, b"%d" % item, out_mid[level], b"%d" % session,
                null_song_status_ts[page], b"%d" % ts, _OUT_TAIL,
            ))  # fmt: skip
        elif song >= 0:
            line = join((
                b'{"artist":', artists[song], head, b"%d" % item, mid, durations[song],
                known_levels.get(level) or make_level(level), b"%d" % session, b',"song":',
                titles[song], status_ts[page], b"%d" % ts, tail,
            ))  # fmt: skip
        else:
            line = join((
                b'{"artist":null', head, b"%d" % item, mid_null,
                known_levels.get(level) or make_level(level), b"%d" % session,
                null_song_status_ts[page], b"%d" % ts, tail,
            ))  # fmt: skip
        item += 1
        yield ts, line


# --------------------------------------------------------------------------- entry point


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
            raise SparkifyError(
                f"{folder} is not empty; generate into an empty folder (or pass overwrite=True "
                "to replace it), so that old files do not mix with the new ones"
            )
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

    song_files = _SongFiles(songs)
    try:
        catalogue, song_bytes = _write_songs(song_data, songs, rng, song_files.submit)
        nbytes += song_bytes
        people = _make_users(users, start_ms, rng)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkify-logs") as pool:
            # Big writes release the GIL: another thread writes while this one makes events.
            writer = _Writer(pool)
            try:
                written, log_bytes = _write_logs(
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


def _write_logs(
    log_data: Path,
    catalogue: _Catalogue,
    people: list[_User],
    rng: Random,
    writer: _Writer,
    *,
    events: int,
    days: int,
    start: dt.date,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Write one NDJSON file per day; return the events and bytes written."""
    users = len(people)
    start_ms = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    start_ms *= 1000
    day_counts = _largest_remainder(
        events,
        [
            rng.uniform(0.75, 1.25) * (0.85 if (start + dt.timedelta(d)).weekday() >= 5 else 1.0)
            for d in range(days)
        ],
    )
    # Each user gets a day on which it surely plays (no more such users than events that day).
    order = list(range(users))
    rng.shuffle(order)
    debut_counts = _largest_remainder(min(users, events), [float(c) for c in day_counts])
    debuts: list[list[int]] = []
    pos = carry = 0
    for count, n_day in zip(debut_counts, day_counts, strict=True):
        # Never more sure players than the day's events: a surplus moves on a day.
        take = min(n_day, count + carry)
        carry = count + carry - take
        debuts.append(sorted(order[pos : pos + take]))
        pos += take

    planner = _Sessions(rng, catalogue)
    written = nbytes = 0
    for d in range(days):
        day = start + dt.timedelta(days=d)
        path = log_data / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        n_day = day_counts[d]
        per_user = [0] * users
        if n_day:
            for u in debuts[d]:
                per_user[u] = 1
            # A user plays on about a third of the days (heavy users more often).
            shares = [
                p.weight * rng.expovariate(1.0)
                if rng.random() * (p.weight + 2.0) < p.weight
                else 0.0
                for p in people
            ]
            if not any(shares):
                shares[rng.randrange(users)] = 1.0
            for u, extra in enumerate(_largest_remainder(n_day - len(debuts[d]), shares)):
                per_user[u] += extra
        day_ms = start_ms + d * DAY_MS
        streams = [
            _emit(planner.plan(people[u], k), day_ms, catalogue)
            for u, k in enumerate(per_user)
            if k
        ]
        fh = path.open("wb")
        try:
            buf: list[bytes] = []
            first_chunk = True
            for _ts, line in heapq.merge(*streams):
                buf.append(line)
                if len(buf) >= PROGRESS_EVERY:
                    nbytes += writer.write(fh, buf, first_chunk)
                    first_chunk = False
                    written += len(buf)
                    buf = []
                    if progress is not None:
                        progress(written)
            if buf:
                nbytes += writer.write(fh, buf, first_chunk)
                written += len(buf)
        finally:
            writer.close(fh)
        if progress is not None:
            progress(written)
    return written, nbytes


class _Writer:
    """Writes log chunks in another thread, in order, with a few chunks in flight."""

    def __init__(self, pool: ThreadPoolExecutor, in_flight: int = 4) -> None:
        self._pool = pool
        self._in_flight = in_flight
        self._pending: deque[Future[None]] = deque()

    def _submit(self, task: Callable[[], None]) -> None:
        self._pending.append(self._pool.submit(task))
        while len(self._pending) > self._in_flight:
            self._pending.popleft().result()

    def write(self, fh: BinaryIO, lines: list[bytes], first: bool) -> int:
        """Queue ``lines`` joined by newlines (a newline before them unless ``first``).

        Returns:
            The number of bytes queued.
        """
        data = b"\n".join(lines)

        def task() -> None:
            if not first:
                fh.write(b"\n")
            fh.write(data)

        self._submit(task)
        return len(data) + (0 if first else 1)

    def close(self, fh: BinaryIO) -> None:
        """Queue closing ``fh`` after its writes."""
        self._submit(fh.close)

    def drain(self) -> None:
        """Wait for every queued task; raise the first failure."""
        while self._pending:
            self._pending.popleft().result()
