"""The star schema from staging: one Core statement builder per table and step.

Every statement merges staging into the star tables, so one code path serves a
full load (star tables emptied first) and incremental loads (staging holds only
new objects). The merges are commutative: loading batches in any order, or a
batch twice, gives the same tables as one full load (contract rule 8).

The rules of ../shared/CONTRACT.md live here, one function each:

==========  =====================================================================
rule 1      :func:`sparkify.sql.start_time` — epoch ms to a UTC timestamp,
            milliseconds kept (used by :func:`songplays_insert`, :func:`time_insert`)
rule 2      :func:`plays` / :func:`staged_plays` / :func:`songplays_insert` —
            NextSong events of known users, one per (user_id, session_id, start_time)
rule 3      :func:`best_song_matches` / :func:`songplays_rematch` — exact title,
            artist name and duration; the smallest song_id wins
rule 4      :func:`users_update` / :func:`users_insert` — attributes of the latest
            event by ts, whatever order the files arrive in
rule 5      :func:`songs_insert` — year 0 stored as NULL
rule 6      :func:`artists_update` / :func:`artists_insert` — empty location is
            NULL; non-empty values are never replaced by empty ones
rule 7      :func:`time_insert` — hour, day, ISO week, month, year, weekday (DOW)
==========  =====================================================================

Where records disagree, the choice is deterministic and order-free:

* artists: name and location are the greatest non-empty value seen (binary
  order); coordinates are the greatest (latitude, longitude) pair, NULLs lowest.
* users: the latest event by ts wins; among events with the same ts, the
  greatest (level, first_name, last_name, gender).
* songs and songplays: the first row inserted for a key stays; within one
  batch the smallest (title, artist_id, ...) / itemInSession is taken.

The SQL constructs these builders use live in :mod:`sparkify.sql`: the
``@compiles`` rules for per-backend SQL (the epoch conversion, binary text
order, timestamp fields), the NULLs-lowest comparisons and
:func:`~sparkify.sql.first_per_key`; every statement is otherwise the same on
Redshift, PostgreSQL and DuckDB. How a step is split into parts (DuckDB only)
lives in :mod:`sparkify.parts`; :attr:`Step.shares` says which share a
builder takes. :data:`STEPS` lists the steps in the order a load runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from sparkify.models import (
    artists,
    songplays,
    songs,
    staging_events,
    staging_songs,
    time,
    users,
)
from sparkify.parts import Part, TsRange, within
from sparkify.sql import (
    ascending,
    binary,
    date_field,
    descending,
    first_per_key,
    greater,
    start_time,
    start_time_column,
    start_time_of,
    tuple_greater,
)

NEXT_SONG = "NextSong"


def plays() -> list[ColumnElement[bool]]:
    """Rule 2's events: NextSong pages of logged-in users.

    Also the rows :func:`sparkify.parts.ts_bounds` cuts into ranges of ts.
    """
    e = staging_events.c
    return [e.page == NEXT_SONG, e.user_id.is_not(None)]


# -- songs (rule 5) ---------------------------------------------------------------------


def staged_songs() -> sa.Subquery:
    """One staged record per song_id (the smallest by title, artist, year, duration)."""
    s = staging_songs.c
    return first_per_key(
        sa.select(s.song_id, s.title, s.artist_id, s.artist_name, s.year, s.duration).where(
            s.song_id.is_not(None)
        ),
        key=s.song_id,
        order_by=[
            ascending(s.title, True),
            ascending(s.artist_id, True),
            ascending(s.artist_name, True),
            ascending(s.year),
            ascending(s.duration),
        ],
        names=("ranked_songs", "staged_songs"),
        keep_rn=True,
    )


def songs_insert() -> sa.Insert:
    """Rule 5: insert the staged songs not yet in ``songs``; year 0 becomes NULL."""
    new = staged_songs()
    select = sa.select(
        new.c.song_id,
        new.c.title,
        new.c.artist_id,
        sa.func.nullif(new.c.year, 0),
        new.c.duration,
        new.c.artist_name,
    ).where(~sa.exists().where(songs.c.song_id == new.c.song_id))
    return sa.insert(songs).from_select(
        ["song_id", "title", "artist_id", "year", "duration", "artist_name"], select
    )


# -- artists (rule 6) -------------------------------------------------------------------


def staged_artists() -> sa.Subquery:
    """One row per staged artist_id: greatest non-empty name and location, greatest coordinates."""
    s = staging_songs.c
    name = sa.func.nullif(s.artist_name, "")
    location = sa.func.nullif(s.artist_location, "")
    return first_per_key(
        sa.select(
            s.artist_id,
            sa.func.max(binary(name)).over(partition_by=s.artist_id).label("name"),
            sa.func.max(binary(location)).over(partition_by=s.artist_id).label("location"),
            s.artist_latitude.label("latitude"),
            s.artist_longitude.label("longitude"),
        ).where(s.artist_id.is_not(None)),
        key=s.artist_id,
        order_by=[descending(s.artist_latitude), descending(s.artist_longitude)],
        names=("ranked_artists", "staged_artists"),
    )


def artists_update() -> sa.Update:
    """Rule 6 for known artists: keep non-empty values; take greater ones deterministically."""
    new, a = staged_artists(), artists.c
    coords_greater = tuple_greater(
        [
            (new.c.latitude, a.latitude, False),
            (new.c.longitude, a.longitude, False),
        ]
    )
    changed = sa.or_(
        greater(new.c.name, a.name, True),
        greater(new.c.location, a.location, True),
        coords_greater,
    )
    return (
        sa.update(artists)
        .values(
            name=sa.case((greater(new.c.name, a.name, True), new.c.name), else_=a.name),
            location=sa.case(
                (greater(new.c.location, a.location, True), new.c.location), else_=a.location
            ),
            latitude=sa.case((coords_greater, new.c.latitude), else_=a.latitude),
            longitude=sa.case((coords_greater, new.c.longitude), else_=a.longitude),
        )
        .where(a.artist_id == new.c.artist_id, changed)
    )


def artists_insert() -> sa.Insert:
    """Rule 6 for new artists: one row per artist_id, empty location as NULL."""
    new = staged_artists()
    select = sa.select(new).where(~sa.exists().where(artists.c.artist_id == new.c.artist_id))
    return sa.insert(artists).from_select(
        ["artist_id", "name", "location", "latitude", "longitude"], select
    )


# -- users (rule 4) ---------------------------------------------------------------------


def staged_users(part: Part | None = None) -> sa.Subquery:
    """Each staged user's latest event by ts (ties: greatest level, names, gender).

    The latest ts per user comes from a GROUP BY (a hash aggregate of a few
    thousand users); only the events at that ts are ranked. Ranking every event
    of a user by ts would sort the whole batch (4.3 s of a 5M-event load on
    PostgreSQL, spilled to disk) to keep one row per user.
    """
    e = staging_events.c
    latest = within(
        sa.select(e.user_id, sa.func.max(e.ts).label("ts"))
        .where(e.user_id.is_not(None))
        .group_by(e.user_id),
        e.user_id,
        part,
    ).subquery("latest_events")
    return first_per_key(
        sa.select(e.user_id, e.first_name, e.last_name, e.gender, e.level, e.ts).join(
            latest, sa.and_(e.user_id == latest.c.user_id, e.ts == latest.c.ts)
        ),
        key=e.user_id,
        order_by=[
            descending(e.level, True),
            descending(e.first_name, True),
            descending(e.last_name, True),
            descending(e.gender, True),
        ],
        names=("ranked_users", "staged_users"),
    )


def users_update(part: Part | None = None) -> sa.Update:
    """Rule 4 for known users: take a staged event's attributes only if it is later."""
    new, u = staged_users(part), users.c
    later = tuple_greater(
        [
            (new.c.ts, u.last_event_ts, False),
            (new.c.level, u.level, True),
            (new.c.first_name, u.first_name, True),
            (new.c.last_name, u.last_name, True),
            (new.c.gender, u.gender, True),
        ]
    )
    return (
        sa.update(users)
        .values(
            first_name=new.c.first_name,
            last_name=new.c.last_name,
            gender=new.c.gender,
            level=new.c.level,
            last_event_ts=new.c.ts,
        )
        .where(u.user_id == new.c.user_id, later)
    )


def users_insert(part: Part | None = None) -> sa.Insert:
    """Rule 4 for new users: one row per user_id from the latest staged event."""
    new = staged_users(part)
    select = sa.select(
        new.c.user_id, new.c.first_name, new.c.last_name, new.c.gender, new.c.level, new.c.ts
    ).where(~sa.exists().where(users.c.user_id == new.c.user_id))
    return sa.insert(users).from_select(
        ["user_id", "first_name", "last_name", "gender", "level", "last_event_ts"], select
    )


# -- songplays (rules 2 and 3) ----------------------------------------------------------


def best_song_matches() -> sa.Subquery:
    """Rule 3: for each (title, artist_name, duration), the song with the smallest song_id."""
    s = songs.c
    return first_per_key(
        sa.select(s.title, s.artist_name, s.duration, s.song_id, s.artist_id),
        key=[s.title, s.artist_name, s.duration],
        order_by=ascending(s.song_id, True),
        names=("ranked_matches", "song_matches"),
    )


def staged_plays(part: TsRange | None = None) -> sa.Subquery:
    """Rule 2: NextSong events of logged-in users, one per (user_id, session_id, ts)."""
    e = staging_events.c
    events = sa.select(
        e.user_id,
        e.session_id,
        e.ts,
        e.level,
        e.location,
        e.user_agent,
        e.song,
        e.artist,
        e.length,
        start_time_column(e.ts).label("start_time"),
    ).where(*plays())
    return first_per_key(
        within(events, e.ts, part),
        # ts first: where staging is in ts order (log files are, a day a
        # file) and indexed on ts (PostgreSQL, Stager.prepare_transforms), the
        # partition sort is incremental: tiny groups of equal ts instead
        # of the whole batch spilled to disk (5M events: 4 s less).
        key=[e.ts, e.user_id, e.session_id],
        order_by=[ascending(e.item_in_session), ascending(e.level, True), ascending(e.song, True)],
        names=("ranked_plays", "staged_plays"),
        keep_rn=True,
    )


def songplays_insert(part: TsRange | None = None) -> sa.Insert:
    """Rules 2 and 3: insert new songplays, matched to the catalogue (songs already merged)."""
    play, match = staged_plays(part), best_song_matches()
    started = start_time_of(play.c.start_time, play.c.ts)
    sp = songplays.c
    select = (
        sa.select(
            started,
            play.c.user_id,
            play.c.level,
            match.c.song_id,
            match.c.artist_id,
            play.c.session_id,
            play.c.location,
            play.c.user_agent,
            play.c.song,
            play.c.artist,
            play.c.length,
        )
        .select_from(
            play.outerjoin(
                match,
                sa.and_(
                    match.c.title == play.c.song,
                    match.c.artist_name == play.c.artist,
                    match.c.duration == play.c.length,
                ),
            )
        )
        .where(
            ~sa.exists().where(
                sp.user_id == play.c.user_id,
                sp.session_id == play.c.session_id,
                sp.start_time == started,
                *(part.start_times(sp.start_time) if part else ()),
            )
        )
    )
    return sa.insert(songplays).from_select(
        [
            "start_time",
            "user_id",
            "level",
            "song_id",
            "artist_id",
            "session_id",
            "location",
            "user_agent",
            "song_title",
            "artist_name",
            "song_length",
        ],
        select,
    )


def songplays_rematch() -> sa.Update:
    """Rule 3 when songs arrive after their plays: re-match plays of newly staged songs.

    A play stored with no match, or with a larger song_id than a song staged
    now, takes the best match. Plays whose songs were not staged are untouched.
    It runs after the songs merge and before this run's plays are inserted.
    """
    match, sp, s = best_song_matches(), songplays.c, staging_songs.c
    return (
        sa.update(songplays)
        .values(song_id=match.c.song_id, artist_id=match.c.artist_id)
        .where(
            sp.song_title == match.c.title,
            sp.artist_name == match.c.artist_name,
            sp.song_length == match.c.duration,
            sa.or_(
                sp.song_id.is_(None),
                sp.song_id != match.c.song_id,
                sp.artist_id.is_(None),
                sp.artist_id != match.c.artist_id,
            ),
            sa.exists().where(
                s.title == match.c.title,
                s.artist_name == match.c.artist_name,
                s.duration == match.c.duration,
            ),
        )
    )


# -- time (rule 7) ----------------------------------------------------------------------


def time_insert(part: TsRange | None = None) -> sa.Insert:
    """Rule 7: one row per new songplay start_time, its parts in UTC."""
    e = staging_events.c
    starts = within(
        sa.select(start_time(e.ts).label("start_time")).where(*plays()).distinct(),
        e.ts,
        part,
    ).subquery("new_times")
    t = starts.c.start_time

    def field_of(field: str, name: str) -> ColumnElement[Any]:
        return sa.cast(date_field(field, t), sa.SmallInteger).label(name)

    select = sa.select(
        t,
        field_of("hour", "hour"),
        field_of("day", "day"),
        field_of("week", "week"),
        field_of("month", "month"),
        field_of("year", "year"),
        field_of("dow", "weekday"),
    ).where(
        ~sa.exists().where(
            time.c.start_time == t,
            *(part.start_times(time.c.start_time) if part else ()),
        )
    )
    # In key order: PostgreSQL's primary-key index takes sorted inserts at its
    # right edge (1.1 s instead of 1.7 s for 850k rows).
    select = select.order_by(t)
    return sa.insert(time).from_select(
        ["start_time", "hour", "day", "week", "month", "year", "weekday"], select
    )


class Step(NamedTuple):
    """One merge step of a load."""

    name: str
    table: sa.Table
    build: Callable[..., sa.Insert | sa.Update]
    #: how ``build`` takes a share of the staged events: a :class:`Part` of the
    #: users (``"user_id"``), a :class:`TsRange` (``"ts"``), or not at all
    shares: Literal["user_id", "ts"] | None = None
    #: whether a load that builds the star from empty (a full load, or the first load
    #: of an empty warehouse) runs it; every step runs in any other load
    in_full_load: bool = True


#: The merge steps of a load, in the order they must run. Songs come first, so
#: the re-match and the songplays insert both see the whole catalogue. The
#: re-match runs before the insert: it is only for plays stored by earlier
#: runs (this run's plays are matched as they are inserted), so it never scans
#: them. A load from empty skips it, and the updates, which change rows stored
#: by earlier runs: the star was just emptied, or never filled.
STEPS: tuple[Step, ...] = (
    Step("songs", songs, songs_insert),
    Step("artists (update)", artists, artists_update, in_full_load=False),
    Step("artists", artists, artists_insert),
    Step("users (update)", users, users_update, shares="user_id", in_full_load=False),
    Step("users", users, users_insert, shares="user_id"),
    Step("songplays (re-match)", songplays, songplays_rematch, in_full_load=False),
    Step("songplays", songplays, songplays_insert, shares="ts"),
    Step("time", time, time_insert, shares="ts"),
)
