"""load ledger: the source objects each run loaded

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Incremental loads stage only objects that are new or changed since their entry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "load_ledger",
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("table_name", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=256), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_load_ledger")),
        redshift_diststyle="EVEN",
        redshift_sortkey="source",
    )


def downgrade() -> None:
    op.drop_table("load_ledger")
