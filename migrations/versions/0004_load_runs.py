"""load runs: one row per run of the loader, succeeded or failed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

``sparkify runs`` lists them. The per-table figures are JSON text in
VARCHAR(65535), Redshift's longest VARCHAR
(https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html), so all
three backends hold the same text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "load_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=True),
        sa.Column("objects", sa.String(length=65535), nullable=True),
        sa.Column("staged", sa.String(length=65535), nullable=True),
        sa.Column("inserted", sa.String(length=65535), nullable=True),
        sa.Column("updated", sa.String(length=65535), nullable=True),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.String(length=65535), nullable=True),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_load_runs")),
        redshift_diststyle="EVEN",
        redshift_sortkey="started_at",
    )


def downgrade() -> None:
    op.drop_table("load_runs")
