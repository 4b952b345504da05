"""Engines for the three backends, built on demand (never at import)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sparkify import dialects as _dialects  # noqa: F401  (registers compile rules)
from sparkify.config import Settings, backend_name
from sparkify.errors import DatabaseError


def create_engine(settings: Settings, **kwargs: Any) -> sa.Engine:
    """Build the engine for ``settings.database_url``, mapped onto its schema.

    Tables are defined without a schema; ``schema_translate_map`` puts them in
    ``settings.schema`` when one is configured.
    """
    return engine_for_url(settings.database_url, schema=settings.schema, **kwargs)


def engine_for_url(url: sa.URL | str, *, schema: str | None = None, **kwargs: Any) -> sa.Engine:
    """Build an engine for a URL (see :func:`create_engine`)."""
    url = sa.make_url(url)
    backend_name(url)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise DatabaseError("creating the database engine", type(exc).__name__) from None
    if schema:
        _search_schema_first(engine, schema)
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def _search_schema_first(engine: sa.Engine, schema: str) -> None:
    """Put ``schema`` first on each connection's search path, for SQL written as text."""
    quoted = engine.dialect.identifier_preparer.quote_schema(schema)
    backend = engine.url.get_backend_name()
    literal = schema.replace("'", "''")
    statement = (
        f"SET search_path = '{literal}'"
        if backend == "duckdb"
        else f"SET search_path TO {quoted}, public"
    )

    @sa.event.listens_for(engine, "connect")
    def _set_search_path(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        if backend in ("postgresql", "redshift"):
            # Committed, so that a load's rollback cannot undo it (a SET inside a
            # transaction that rolls back is undone) for the pool's next user.
            dbapi_connection.commit()


def describe(engine: sa.Engine) -> str:
    """A one-line, password-free description of where an engine points."""
    return engine.url.render_as_string(hide_password=True)
