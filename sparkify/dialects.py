"""Backend differences in DDL, kept in one place.

* Redshift: sqlalchemy-redshift claims RETURNING, which Redshift lacks, so
  Alembic's offline ``--sql`` would emit ``INSERT INTO alembic_version ...
  RETURNING`` (sqlalchemy-redshift issue 281); switch it off. Alembic's column
  type change has no Redshift compile rule; reuse PostgreSQL's.
* DuckDB: no IDENTITY and no SERIAL. An identity column renders as
  ``DEFAULT nextval('<table>_<column>_seq')`` and a listener on every ``Table``
  (Alembic's too) creates the sequence before the table and drops it after.
  Alembic needs an implementation registered for the ``duckdb`` dialect name.

Importing this module installs the rules; ``sparkify.models`` imports it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.ddl.base import ColumnType
from alembic.ddl.impl import DefaultImpl
from alembic.ddl.postgresql import PostgresqlColumnType, visit_column_type
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy_redshift.dialect import RedshiftDialectMixin

for _flag in (
    "insert_returning",
    "update_returning",
    "delete_returning",
    "update_returning_multifrom",
    "delete_returning_multifrom",
):
    setattr(RedshiftDialectMixin, _flag, False)

compiles(PostgresqlColumnType, "redshift")(visit_column_type)
compiles(ColumnType, "redshift")(visit_column_type)


class DuckDBImpl(DefaultImpl):
    """Alembic's implementation for DuckDB: plain ANSI DDL, transactional."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def sequence_name(table: sa.Table, column: sa.Column[Any]) -> str:
    """Name of the sequence that feeds an identity column on DuckDB."""
    return f"{table.name}_{column.name}_seq"


@compiles(CreateColumn, "duckdb")
def _duckdb_identity_column(element: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    column = element.element
    if column.identity is None:
        return compiler.visit_create_column(element, **kw)  # type: ignore[no-untyped-call,no-any-return]
    table = column.table
    type_ = compiler.type_compiler.process(column.type)
    name = compiler.preparer.format_column(column)
    return f"{name} {type_} DEFAULT nextval('{sequence_name(table, column)}') NOT NULL"


@sa.event.listens_for(sa.Table, "before_create")
def _duckdb_create_sequences(table: sa.Table, connection: sa.Connection, **kw: Any) -> None:
    if connection.dialect.name != "duckdb":
        return
    for column in table.columns:
        if column.identity is not None:
            start = 1 if column.identity.start is None else column.identity.start
            connection.execute(
                sa.schema.CreateSequence(
                    sa.Sequence(
                        sequence_name(table, column),
                        start=start,
                        minvalue=start,
                        schema=table.schema,
                    ),
                    if_not_exists=True,
                )
            )


@sa.event.listens_for(sa.Table, "after_drop")
def _duckdb_drop_sequences(table: sa.Table, connection: sa.Connection, **kw: Any) -> None:
    if connection.dialect.name != "duckdb":
        return
    # Alembic's op.drop_table passes a Table without columns: find the sequences
    # by the name this module gives them.
    names = connection.execute(
        sa.text(
            "SELECT sequence_name FROM duckdb_sequences() "
            "WHERE starts_with(sequence_name, :prefix) AND ends_with(sequence_name, '_seq')"
        ),
        {"prefix": f"{table.name}_"},
    ).scalars()
    for name in list(names):
        connection.execute(
            sa.schema.DropSequence(sa.Sequence(name, schema=table.schema), if_exists=True)
        )
