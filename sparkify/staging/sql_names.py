"""Table names as the connection sees them (honouring ``schema_translate_map``)."""

from __future__ import annotations

import sqlalchemy as sa


def schema_of(conn: sa.Connection, table: sa.Table) -> str | None:
    """The schema ``table`` lives in for this connection (``None``: the default one)."""
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(table.schema, table.schema)
    return schema


def qualified_name(conn: sa.Connection, table: sa.Table) -> str:
    """``"schema"."table"`` (or ``"table"``) quoted for this connection's dialect."""
    preparer = conn.dialect.identifier_preparer
    schema = schema_of(conn, table)
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name
