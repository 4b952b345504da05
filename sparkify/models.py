"""The warehouse tables: staging (source records as they are) and the star schema.

Redshift's physical design sits beside the columns it concerns, as
sqlalchemy-redshift dialect options; PostgreSQL and DuckDB ignore them. See
https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html

Text columns are VARCHAR(n) where n counts *bytes* on Redshift: every text column
holds at least 512 bytes of UTF-8 (the longest real value is under 200
characters). The loader checks byte length on every backend, so a value that
Redshift's COPY would reject is rejected everywhere, never silently truncated.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sparkify import dialects as _dialects  # noqa: F401  (compile rules for IDENTITY etc.)

#: Byte lengths of text columns. Ids and codes are short in practice, names, titles,
#: locations and user agents are the long ones; both leave several times the
#: longest real value.
TEXT = 512
LONG_TEXT = 1024
#: Redshift's longest VARCHAR: "65535 bytes (64K -1)"
#: (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html). The
#: JSON text columns of ``load_runs`` use it, so the three backends hold the same text.
MAX_TEXT = 65535

#: The keys of a song record (contract, "Sources"); staging_songs has one column each.
SONG_KEYS: tuple[str, ...] = (
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location",
    "artist_name", "song_id", "title", "duration", "year",
)  # fmt: skip
#: The keys of an app event, in the JSONPaths file's order: staging_events' columns.
EVENT_KEYS: tuple[str, ...] = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
)  # fmt: skip

#: The range of ``ts`` (epoch milliseconds, UTC) the star schema holds, the same on
#: every backend: 0001-01-01 00:00:00.000 through 9999-12-31 23:59:59.999, the
#: four-digit years every backend's TIMESTAMP and ``time.year`` hold. An event whose
#: ts lies outside is a bad record at staging (it would fail the transforms).
TS_MIN_MS = -62_135_596_800_000
TS_MAX_MS = 253_402_300_799_999

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the one MetaData of the warehouse.

    The schema is not fixed here: ``sparkify.db`` maps ``None`` to the configured
    schema with SQLAlchemy's ``schema_translate_map``.
    """

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def text(length: int = TEXT) -> sa.String:
    """A VARCHAR of ``length`` bytes (Redshift) / characters (elsewhere; checked as bytes)."""
    return sa.String(length)


class StagingEvent(Base):
    """One app event, one column per log key in the JSONPaths file's order.

    Distributed on ``song`` like ``staging_songs`` on ``title``: the song match of
    the songplays transform joins on title, so it runs without redistribution.
    """

    __tablename__ = "staging_events"
    __table_args__ = {"redshift_diststyle": "KEY", "redshift_distkey": "song"}

    artist: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    auth: Mapped[str | None] = mapped_column(text())
    first_name: Mapped[str | None] = mapped_column(text())
    gender: Mapped[str | None] = mapped_column(text())
    item_in_session: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_name: Mapped[str | None] = mapped_column(text())
    length: Mapped[float | None] = mapped_column(sa.Double)
    level: Mapped[str | None] = mapped_column(text())
    location: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    method: Mapped[str | None] = mapped_column(text())
    page: Mapped[str | None] = mapped_column(text())
    # Epoch milliseconds, written by the source as floats (1540991795796.0): kept as
    # the source has them, in a type COPY loads a decimal point into (exact up to 2^53).
    registration: Mapped[float | None] = mapped_column(sa.Double)
    # NOT NULL: a songplay is identified by (user, session, start_time).
    session_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    song: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    status: Mapped[int | None] = mapped_column(sa.Integer)
    # NOT NULL so that Redshift's COPY rejects an event without ts, as the
    # emulations do (contract, "Bad input").
    ts: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    user_agent: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    # "" (logged out) loads as NULL; Redshift loads empty fields of non-text
    # columns as NULL and rejects non-numeric text.
    user_id: Mapped[int | None] = mapped_column(sa.Integer)

    # Staging tables have no key; the ORM mapper needs one, the database never sees it.
    __mapper_args__ = {"primary_key": [session_id, item_in_session, ts]}


class StagingSong(Base):
    """One song record, one column per song key (COPY ... JSON 'auto' maps by name)."""

    __tablename__ = "staging_songs"
    __table_args__ = {"redshift_diststyle": "KEY", "redshift_distkey": "title"}

    num_songs: Mapped[int | None] = mapped_column(sa.Integer)
    artist_id: Mapped[str | None] = mapped_column(text())
    artist_latitude: Mapped[float | None] = mapped_column(sa.Double)
    artist_longitude: Mapped[float | None] = mapped_column(sa.Double)
    artist_location: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    artist_name: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    song_id: Mapped[str | None] = mapped_column(text())
    title: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    duration: Mapped[float | None] = mapped_column(sa.Double)
    year: Mapped[int | None] = mapped_column(sa.Integer)

    __mapper_args__ = {"primary_key": [song_id]}


class Songplay(Base):
    """Fact: one row per NextSong event of a logged-in user.

    DISTKEY song_id co-locates the fact with ``songs``, the largest dimension
    (tens of thousands of rows and more), so play-by-song joins stay on-slice;
    the other dimensions are small and DISTSTYLE ALL. Caveat: unmatched plays
    (NULL song_id) all hash to one slice; on data that rarely matches the
    catalogue (the Udacity sample matches 1 play in 6,820) DISTSTYLE EVEN would
    spread better. SORTKEY start_time: analytics filter and group by time.
    """

    __tablename__ = "songplays"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "session_id", "start_time"),
        {
            "redshift_diststyle": "KEY",
            "redshift_distkey": "song_id",
            "redshift_sortkey": "start_time",
        },
    )

    # Identity renders on PostgreSQL (GENERATED BY DEFAULT AS IDENTITY), Redshift
    # (IDENTITY(0,1), from redshift_identity; the dialect drops sa.Identity) and
    # DuckDB (a sequence default, see sparkify.dialects).
    songplay_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.Identity(start=0, increment=1, minvalue=0),
        primary_key=True,
        redshift_identity=(0, 1),
    )
    start_time: Mapped[dt.datetime] = mapped_column(sa.DateTime, nullable=False)
    user_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    level: Mapped[str | None] = mapped_column(text())
    song_id: Mapped[str | None] = mapped_column(text())
    artist_id: Mapped[str | None] = mapped_column(text())
    session_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    location: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    user_agent: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    # The event's own song, artist and length: the song match is redone from
    # them when a matching song arrives in a later load (contract rule 8).
    song_title: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    artist_name: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    song_length: Mapped[float | None] = mapped_column(sa.Double)


class User(Base):
    """Dimension: one row per user, attributes from the user's latest event.

    DISTSTYLE ALL: a few thousand rows at most, copied to every node so joins
    from the fact never move data.
    """

    __tablename__ = "users"
    __table_args__ = {"redshift_diststyle": "ALL", "redshift_sortkey": "user_id"}

    user_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    first_name: Mapped[str | None] = mapped_column(text())
    last_name: Mapped[str | None] = mapped_column(text())
    gender: Mapped[str | None] = mapped_column(text())
    level: Mapped[str | None] = mapped_column(text())
    # ts of the event the attributes come from: a later load replaces them only
    # with a later event's, so backfilled days never overwrite newer ones.
    last_event_ts: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class Song(Base):
    """Dimension: one row per song. Year 0 (unknown) is stored as NULL.

    DISTKEY song_id: the largest dimension, co-located with ``songplays``.
    """

    __tablename__ = "songs"
    __table_args__ = {
        "redshift_diststyle": "KEY",
        "redshift_distkey": "song_id",
        "redshift_sortkey": "song_id",
    }

    song_id: Mapped[str] = mapped_column(text(), primary_key=True)
    title: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    artist_id: Mapped[str | None] = mapped_column(text())
    year: Mapped[int | None] = mapped_column(sa.Integer)
    duration: Mapped[float | None] = mapped_column(sa.Double)
    # The song record's artist_name: the song match (rule 3) compares it, and
    # artists.name may hold another spelling of the same artist_id.
    artist_name: Mapped[str | None] = mapped_column(text(LONG_TEXT))


class Artist(Base):
    """Dimension: one row per artist. DISTSTYLE ALL: small, joined from songs and plays."""

    __tablename__ = "artists"
    __table_args__ = {"redshift_diststyle": "ALL", "redshift_sortkey": "artist_id"}

    artist_id: Mapped[str] = mapped_column(text(), primary_key=True)
    name: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    location: Mapped[str | None] = mapped_column(text(LONG_TEXT))
    latitude: Mapped[float | None] = mapped_column(sa.Double)
    longitude: Mapped[float | None] = mapped_column(sa.Double)


class Time(Base):
    """Dimension: one row per distinct songplay start_time, parts in UTC.

    DISTKEY and SORTKEY start_time: as large as the fact, so not ALL; keyed and
    sorted like the fact's sort key for merge joins on time.
    """

    __tablename__ = "time"
    __table_args__ = {
        "redshift_diststyle": "KEY",
        "redshift_distkey": "start_time",
        "redshift_sortkey": "start_time",
    }

    start_time: Mapped[dt.datetime] = mapped_column(sa.DateTime, primary_key=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    day: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    week: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    month: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    year: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)


class LoadError(Base):
    """A bad source record skipped under ``--max-errors``, kept for inspection.

    The stand-ins' counterpart of Redshift's ``sys_load_error_detail``. Texts are
    stored alike on every backend (``sparkify.staging.records.storable_text``): a NUL
    character as U+FFFD, since PostgreSQL's text cannot hold NUL, and cut to
    1024 bytes of UTF-8.
    """

    __tablename__ = "load_errors"
    __table_args__ = {"redshift_diststyle": "EVEN"}

    error_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.Identity(start=0, increment=1, minvalue=0),
        primary_key=True,
        redshift_identity=(0, 1),
    )
    run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, nullable=False)
    table_name: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    source: Mapped[str] = mapped_column(text(LONG_TEXT), nullable=False)
    line: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    column_name: Mapped[str | None] = mapped_column(sa.String(128))
    reason: Mapped[str] = mapped_column(text(LONG_TEXT), nullable=False)
    # Redshift's raw_line is 1024 bytes; the emulations keep the same cut.
    raw_line: Mapped[str | None] = mapped_column(text(LONG_TEXT))


class LedgerEntry(Base):
    """One source object loaded: what it was when loaded, and by which run.

    ``sparkify etl --incremental`` stages only objects whose (size, etag) differ
    from their entry here, and writes the entries in the load's own transaction.
    """

    __tablename__ = "load_ledger"
    __table_args__ = {"redshift_diststyle": "EVEN", "redshift_sortkey": "source"}

    source: Mapped[str] = mapped_column(text(LONG_TEXT), primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    etag: Mapped[str] = mapped_column(sa.String(256), nullable=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, nullable=False)
    run_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)


class LoadRun(Base):
    """One run of the loader (``sparkify etl``, ``load.run``), succeeded or failed.

    A succeeded run writes its row in the load's own transaction, before COMMIT;
    a failed one after its rollback, in a transaction of its own (see
    :mod:`sparkify.history`). Per-table figures are JSON text (``{"songplays": 6}``),
    plain VARCHAR so that every backend holds the same; times are UTC.
    DISTSTYLE EVEN like the other bookkeeping tables; SORTKEY started_at: the
    runs are read newest first.
    """

    __tablename__ = "load_runs"
    __table_args__ = {"redshift_diststyle": "EVEN", "redshift_sortkey": "started_at"}

    run_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, nullable=False)
    finished_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, nullable=False)
    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    backend: Mapped[str | None] = mapped_column(sa.String(16))
    objects: Mapped[str | None] = mapped_column(text(MAX_TEXT))
    staged: Mapped[str | None] = mapped_column(text(MAX_TEXT))
    inserted: Mapped[str | None] = mapped_column(text(MAX_TEXT))
    updated: Mapped[str | None] = mapped_column(text(MAX_TEXT))
    skipped: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    seconds: Mapped[str | None] = mapped_column(text(MAX_TEXT))
    error: Mapped[str | None] = mapped_column(text(LONG_TEXT))


metadata = Base.metadata


def _table(model: type[Base]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


staging_events = _table(StagingEvent)
staging_songs = _table(StagingSong)
songplays = _table(Songplay)
users = _table(User)
songs = _table(Song)
artists = _table(Artist)
time = _table(Time)
load_errors = _table(LoadError)
load_ledger = _table(LedgerEntry)
load_runs = _table(LoadRun)

STAGING_TABLES = (staging_events, staging_songs)
STAR_TABLES = (songplays, users, songs, artists, time)
