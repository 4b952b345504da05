"""duckdb: songplays and time without ART-backed keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

On DuckDB a PRIMARY KEY or UNIQUE constraint is an ART index, and ART indexes
live in memory: over 5M events the keys of songplays and time took over a
gigabyte and slowed the load by a fifth (10 s of 55 s, most of it the commit).
The merges already keep these keys unique (every insert is ``WHERE NOT EXISTS``
on the key, and ``sparkify check`` verifies it), which is how Redshift, whose
keys are informational, relies on them anyway. So on DuckDB the two fact-sized
tables are rebuilt without them; their rows and the songplay_id sequence carry
over. PostgreSQL and Redshift are unchanged; the dimensions (thousands of rows)
keep their keys everywhere.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def songplays_columns() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "songplay_id",
            sa.BigInteger(),
            sa.Identity(always=False, start=0, increment=1, minvalue=0),
            nullable=False,
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
    ]


def time_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.SmallInteger(), nullable=False),
        sa.Column("week", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
    ]


def rebuild(name: str, columns: list[sa.Column[object]], *constraints: sa.Constraint) -> None:
    """Recreate a DuckDB table with ``columns`` and ``constraints``, keeping its rows.

    DuckDB cannot drop or add a constraint in place (ALTER TABLE ... DROP
    CONSTRAINT is not implemented), so: rename, create, copy, drop.
    """
    old = f"{name}_before_0003"
    op.rename_table(name, old)
    op.create_table(name, *columns, *constraints)
    names = [column.name for column in columns]
    source = sa.select(*(sa.column(n) for n in names)).select_from(sa.table(old))
    op.execute(sa.insert(sa.table(name, *(sa.column(n) for n in names))).from_select(names, source))
    op.drop_table(old)


def upgrade() -> None:
    if op.get_bind().dialect.name != "duckdb":
        return
    rebuild("songplays", songplays_columns())
    rebuild("time", time_columns())


def downgrade() -> None:
    if op.get_bind().dialect.name != "duckdb":
        return
    rebuild(
        "songplays",
        songplays_columns(),
        sa.PrimaryKeyConstraint("songplay_id", name=op.f("pk_songplays")),
        sa.UniqueConstraint(
            "user_id",
            "session_id",
            "start_time",
            name=op.f("uq_songplays_user_id_session_id_start_time"),
        ),
    )
    rebuild("time", time_columns(), sa.PrimaryKeyConstraint("start_time", name=op.f("pk_time")))
