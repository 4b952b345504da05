"""Session settings and maintenance statements as SQLAlchemy constructs.

``SET``, ``TRUNCATE`` and ``ANALYZE`` take no bind parameters on PostgreSQL or
Redshift, so their values are rendered as literals by the dialect (quotes
doubled) and their identifiers quoted by its preparer, never pasted into SQL
text. Each construct compiles per dialect here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

#: A setting's name: a plain lowercase identifier (they are ours, never the user's).
_SETTING = re.compile(r"[a-z_]+")


class set_setting(Executable, ClauseElement):
    """``SET [LOCAL] name = value``: a session setting, or one for the transaction."""

    inherit_cache = False

    def __init__(self, name: str, value: str | int, *, local: bool = False) -> None:
        if not _SETTING.fullmatch(name):
            raise ValueError(f"not a setting name: {name!r}")
        self.name = name
        self.value = value
        self.local = local


@compiles(set_setting)
def _set_setting(element: set_setting, compiler: SQLCompiler, **kw: Any) -> str:
    value = (
        str(int(element.value))
        if isinstance(element.value, int)
        else compiler.render_literal_value(element.value, sa.String())
    )
    local = "LOCAL " if element.local else ""
    return f"SET {local}{element.name} = {value}"


class set_search_path(Executable, ClauseElement):
    """Put a schema first on the search path (then ``public``, where the dialect has it)."""

    inherit_cache = False

    def __init__(self, schema: str) -> None:
        self.schema = schema


@compiles(set_search_path)
def _search_path(element: set_search_path, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SET search_path TO {compiler.preparer.quote_schema(element.schema)}, public"


@compiles(set_search_path, "duckdb")
def _search_path_duckdb(element: set_search_path, compiler: SQLCompiler, **kw: Any) -> str:
    # DuckDB takes the path as a string literal: schema names, comma-separated.
    return f"SET search_path = {compiler.render_literal_value(element.schema, sa.String())}"


class truncate(Executable, ClauseElement):
    """``TRUNCATE table`` (transactional on PostgreSQL; it commits on Redshift: not used there)."""

    inherit_cache = False

    def __init__(self, table: sa.Table) -> None:
        self.table = table


@compiles(truncate)
def _truncate(element: truncate, compiler: SQLCompiler, **kw: Any) -> str:
    return f"TRUNCATE {compiler.preparer.format_table(element.table)}"


class analyze(Executable, ClauseElement):
    """``ANALYZE table (column, ...)``: statistics of some columns of a table."""

    inherit_cache = False

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)


@compiles(analyze)
def _analyze(element: analyze, compiler: SQLCompiler, **kw: Any) -> str:
    preparer = compiler.preparer
    columns = ", ".join(preparer.quote(name) for name in element.columns)
    return f"ANALYZE {preparer.format_table(element.table)} ({columns})"
