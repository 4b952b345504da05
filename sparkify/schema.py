"""Build, upgrade and drop the warehouse schema through the Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sparkify.config import backend_name
from sparkify.load import DEFAULT_LOCK_TIMEOUT
from sparkify.models import load_ledger, metadata
from sparkify.staging import stager_for

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


def recreate(
    engine: sa.Engine,
    schema: str | None = None,
    *,
    wait: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    notify: Callable[[str], None] | None = None,
) -> list[str]:
    """Drop every warehouse table and build them again at the head revision.

    Goes through the migrations (``downgrade base`` then ``upgrade head``) so the
    recorded schema version stays right; tables left by an older, unversioned
    install are dropped too. The warehouse's load lock is taken first, as a load
    takes it (:func:`load_lock`): a load in progress finishes (or is waited for
    up to ``lock_timeout`` seconds, ``notify`` told once) before its tables go.

    Returns:
        The names of the tables created.

    Raises:
        LoadInProgressError: a load holds the warehouse and ``wait`` is off, or
            it still does after ``lock_timeout`` seconds.
    """
    with load_lock(engine, schema, wait=wait, timeout=lock_timeout, notify=notify) as conn:
        cfg = alembic_config(conn, schema)
        command.downgrade(cfg, "base")
        metadata.drop_all(conn, checkfirst=True)
        command.upgrade(cfg, "head")
        conn.commit()
    return [table.name for table in metadata.sorted_tables]


@contextmanager
def load_lock(
    engine: sa.Engine,
    schema: str | None = None,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    notify: Callable[[str], None] | None = None,
) -> Iterator[sa.Connection]:
    """A connection in a transaction holding the load lock :func:`sparkify.load.run` takes.

    The lock is the stager's own (:meth:`~sparkify.staging.base.LockingStager.session`):
    PostgreSQL's advisory lock, DuckDB's file lock, Redshift's ``LOCK load_ledger``.
    The caller commits; anything raised rolls back, and the lock goes with the
    transaction.
    """
    backend = backend_name(engine.url)
    tell = notify or (lambda message: None)
    if backend == "redshift" and not _has_ledger(engine, schema):
        # Redshift has no advisory lock: its load lock is LOCK load_ledger, which
        # cannot be taken before the table exists. No load can be in progress
        # then (a load's first statement is that LOCK, which fails on a missing
        # table), so the tables are built without it. A load that starts while
        # they are being built does not see the uncommitted load_ledger and
        # fails at its LOCK, loading nothing. Two create-tables racing on a
        # schema without the tables are kept apart only by the locks their DDL
        # takes ("Some DDL operations, such as DROP TABLE and TRUNCATE, create
        # exclusive locks", https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
        with engine.connect() as conn:
            conn.begin()
            yield conn
        return
    stager = stager_for(backend)
    with stager.session(engine, wait=wait, timeout=timeout, notify=tell) as conn:
        yield conn


def _has_ledger(engine: sa.Engine, schema: str | None) -> bool:
    with engine.connect() as conn:
        return sa.inspect(conn).has_table(load_ledger.name, schema=schema)
