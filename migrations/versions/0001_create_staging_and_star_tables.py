"""create staging and star tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The Redshift physical design (DISTSTYLE/DISTKEY/SORTKEY, IDENTITY) is carried by
the redshift_* options; sparkify.dialects renders the identity columns on DuckDB.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artists",
        sa.Column("artist_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=True),
        sa.Column("location", sa.String(length=1024), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("artist_id", name=op.f("pk_artists")),
        redshift_diststyle="ALL",
        redshift_sortkey="artist_id",
    )
    op.create_table(
        "load_errors",
        sa.Column(
            "error_id",
            sa.BigInteger(),
            sa.Identity(always=False, start=0, increment=1, minvalue=0),
            nullable=False,
            redshift_identity=(0, 1),
        ),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("table_name", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("column_name", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("raw_line", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("error_id", name=op.f("pk_load_errors")),
        redshift_diststyle="EVEN",
    )
    op.create_table(
        "songplays",
        sa.Column(
            "songplay_id",
            sa.BigInteger(),
            sa.Identity(always=False, start=0, increment=1, minvalue=0),
            nullable=False,
            redshift_identity=(0, 1),
        ),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=512), nullable=True),
        sa.Column("song_id", sa.String(length=512), nullable=True),
        sa.Column("artist_id", sa.String(length=512), nullable=True),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.String(length=1024), nullable=True),
        sa.Column("user_agent", sa.String(length=1024), nullable=True),
        sa.Column("song_title", sa.String(length=1024), nullable=True),
        sa.Column("artist_name", sa.String(length=1024), nullable=True),
        sa.Column("song_length", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("songplay_id", name=op.f("pk_songplays")),
        sa.UniqueConstraint(
            "user_id",
            "session_id",
            "start_time",
            name=op.f("uq_songplays_user_id_session_id_start_time"),
        ),
        redshift_distkey="song_id",
        redshift_diststyle="KEY",
        redshift_sortkey="start_time",
    )
    op.create_table(
        "songs",
        sa.Column("song_id", sa.String(length=512), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("artist_id", sa.String(length=512), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Double(), nullable=True),
        sa.Column("artist_name", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("song_id", name=op.f("pk_songs")),
        redshift_distkey="song_id",
        redshift_diststyle="KEY",
        redshift_sortkey="song_id",
    )
    op.create_table(
        "staging_events",
        sa.Column("artist", sa.String(length=1024), nullable=True),
        sa.Column("auth", sa.String(length=512), nullable=True),
        sa.Column("first_name", sa.String(length=512), nullable=True),
        sa.Column("gender", sa.String(length=512), nullable=True),
        sa.Column("item_in_session", sa.BigInteger(), nullable=True),
        sa.Column("last_name", sa.String(length=512), nullable=True),
        sa.Column("length", sa.Double(), nullable=True),
        sa.Column("level", sa.String(length=512), nullable=True),
        sa.Column("location", sa.String(length=1024), nullable=True),
        sa.Column("method", sa.String(length=512), nullable=True),
        sa.Column("page", sa.String(length=512), nullable=True),
        sa.Column("registration", sa.Double(), nullable=True),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("song", sa.String(length=1024), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("user_agent", sa.String(length=1024), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        redshift_distkey="song",
        redshift_diststyle="KEY",
    )
    op.create_table(
        "staging_songs",
        sa.Column("num_songs", sa.Integer(), nullable=True),
        sa.Column("artist_id", sa.String(length=512), nullable=True),
        sa.Column("artist_latitude", sa.Double(), nullable=True),
        sa.Column("artist_longitude", sa.Double(), nullable=True),
        sa.Column("artist_location", sa.String(length=1024), nullable=True),
        sa.Column("artist_name", sa.String(length=1024), nullable=True),
        sa.Column("song_id", sa.String(length=512), nullable=True),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("duration", sa.Double(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        redshift_distkey="title",
        redshift_diststyle="KEY",
    )
    op.create_table(
        "time",
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.SmallInteger(), nullable=False),
        sa.Column("week", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("start_time", name=op.f("pk_time")),
        redshift_distkey="start_time",
        redshift_diststyle="KEY",
        redshift_sortkey="start_time",
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_name", sa.String(length=512), nullable=True),
        sa.Column("last_name", sa.String(length=512), nullable=True),
        sa.Column("gender", sa.String(length=512), nullable=True),
        sa.Column("level", sa.String(length=512), nullable=True),
        sa.Column("last_event_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        redshift_diststyle="ALL",
        redshift_sortkey="user_id",
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("time")
    op.drop_table("staging_songs")
    op.drop_table("staging_events")
    op.drop_table("songs")
    op.drop_table("songplays")
    op.drop_table("load_errors")
    op.drop_table("artists")
