"""Listeners and their days: sessions, pages, levels, and the log files' NDJSON lines.

Events are planned per user and day in compact arrays (:class:`Sessions`) and
turned into lines from pre-encoded pieces (:func:`emit`); the day's files are
written in :mod:`sparkify.generate.logs`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from random import Random

from sparkify.generate.catalogue import Catalogue, json_bytes
from sparkify.generate.vocabulary import USER_AGENTS, USER_LOCATIONS, first_name, last_name

DAY_MS = 86_400_000
#: Share of NextSong plays naming a song that is not in the catalogue.
P_UNKNOWN = 0.12


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


@dataclass
class User:
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
    pieces: UserPieces = field(init=False)

    def __post_init__(self) -> None:
        self.pieces = UserPieces.of(self)


@dataclass
class Plan:
    """One user's events of one day, in compact form (gaps already fit the day)."""

    user: User
    offset: int
    pages: bytearray
    flags: bytearray
    songs: array[int]
    gaps: array[int]
    sessions: list[int]


def make_users(n_users: int, start_ms: int, rng: Random) -> list[User]:
    ids = sorted(rng.sample(range(1, n_users + n_users // 10 + 2), n_users))
    users = []
    for uid in ids:
        female = rng.random() < 0.6
        users.append(
            User(
                user_id=str(uid),
                first=first_name(rng, female),
                last=last_name(rng),
                gender="F" if female else "M",
                location=rng.choice(USER_LOCATIONS),
                agent=rng.choice(USER_AGENTS),
                registration=float(start_ms - rng.randrange(3_600_000, 120 * DAY_MS)),
                weight=min(6.0, rng.lognormvariate(0.0, 1.0)),
                paid=rng.random() < 0.22,
            )
        )
    return users


class Sessions:
    """Plans a user's day: sessions, pages, songs, levels and time gaps."""

    def __init__(self, rng: Random, catalogue: Catalogue) -> None:
        self._rng = rng
        self._cat = catalogue
        self.next_id = 1

    def plan(self, user: User, k: int) -> Plan:
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
        return Plan(user, offset, pages, flags, songs, gaps, sessions)


# Pieces of a log line that do not depend on the user. A line is assembled from
# pieces exactly as ``orjson.dumps`` would write the event dict (compact, keys in
# EVENT_KEYS order), which is several times faster than building dicts.
_LEVELS = (b'"free"', b'"paid"')
_STATUS_TS = [b',"status":' + json_bytes(status) + b',"ts":' for _, _, status in _PAGES]
_NULL_SONG_STATUS_TS = [b',"song":null' + piece for piece in _STATUS_TS]
_OUT_HEAD = b'{"artist":null,"auth":"Logged Out","firstName":null,"gender":null,"itemInSession":'
_OUT_MID = [
    b',"lastName":null,"length":null,"level":' + _LEVELS[paid] + b',"location":null,"method":'
    + json_bytes(method) + b',"page":' + json_bytes(page) + b',"registration":null,"sessionId":'
    for page, method, _ in _PAGES
    for paid in (0, 1)
]  # fmt: skip
_OUT_TAIL = b',"userAgent":null,"userId":""}'


@dataclass(frozen=True)
class UserPieces:
    """The pieces of a logged-in user's log lines that depend on the user."""

    head: bytes  # after the artist, up to itemInSession's value
    mid: bytes  # after itemInSession, up to length's value
    tail: bytes  # after ts
    location: bytes
    registration: bytes
    #: After length, up to sessionId's value; by page code * 2 + paid (made on first use).
    levels: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, user: User) -> UserPieces:
        head = (
            b',"auth":"Logged In","firstName":' + json_bytes(user.first) + b',"gender":'
            + json_bytes(user.gender) + b',"itemInSession":'
        )  # fmt: skip
        mid = b',"lastName":' + json_bytes(user.last) + b',"length":'
        tail = (
            b',"userAgent":'
            + json_bytes(user.agent)
            + b',"userId":'
            + json_bytes(user.user_id)
            + b"}"
        )
        return cls(head, mid, tail, json_bytes(user.location), json_bytes(user.registration))

    def level(self, code: int) -> bytes:
        """The piece from level to sessionId for page ``code >> 1``, paid if ``code & 1``."""
        piece = self.levels.get(code)
        if piece is None:
            page, method, _ = _PAGES[code >> 1]
            piece = (
                b',"level":' + _LEVELS[code & 1] + b',"location":' + self.location
                + b',"method":' + json_bytes(method) + b',"page":' + json_bytes(page)
                + b',"registration":' + self.registration + b',"sessionId":'
            )  # fmt: skip
            self.levels[code] = piece
        return piece


def emit(plan: Plan, day_ms: int, cat: Catalogue) -> Iterator[tuple[int, bytes]]:
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
