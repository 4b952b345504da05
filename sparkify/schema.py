"""Build, upgrade and drop the warehouse schema through the Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sparkify.models import metadata

_ROOT = Path(__file__).resolve().parent


def migrations_dir() -> Path:
    """Where the migration scripts are: the repository's ``migrations/`` or the wheel's copy."""
    for candidate in (_ROOT.parent / "migrations", _ROOT / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("sparkify's migrations folder is missing from this install")


def alembic_config(connection: sa.Connection | None = None, schema: str | None = None) -> Config:
    """An Alembic config for sparkify's migrations, optionally bound to ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    cfg.attributes["skip_logging"] = True
    return cfg


def head_revision() -> str | None:
    """The newest revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine, schema: str | None = None) -> str | None:
    """The revision the database is at (``None`` when it has no schema yet)."""
    with engine.connect() as conn:
        opts = {"version_table_schema": schema} if schema else {}
        return MigrationContext.configure(conn, opts=opts).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head", schema: str | None = None) -> None:
    """Apply migrations up to ``revision`` in one transaction."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn, schema), revision)


def downgrade(engine: sa.Engine, revision: str = "base", schema: str | None = None) -> None:
    """Revert migrations down to ``revision`` in one transaction."""
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn, schema), revision)


def recreate(engine: sa.Engine, schema: str | None = None) -> list[str]:
    """Drop every warehouse table and build them again at the head revision.

    Goes through the migrations (``downgrade base`` then ``upgrade head``) so the
    recorded schema version stays right; tables left by an older, unversioned
    install are dropped too. Returns the names of the tables created.
    """
    with engine.begin() as conn:
        cfg = alembic_config(conn, schema)
        command.downgrade(cfg, "base")
        metadata.drop_all(conn, checkfirst=True)
        command.upgrade(cfg, "head")
    return [table.name for table in metadata.sorted_tables]
