"""How a statement reaches the database: as it is, or as the text Redshift gets.

PostgreSQL and DuckDB take SQLAlchemy statements with bind parameters. Redshift
gets every statement as text with its values inlined, sent with no parameters:
redshift-connector sends bind parameters to the server as ``$1``..., which
Redshift refuses in several places (COPY: sqlalchemy-redshift issue 240;
sub-queries: issue 265; redshift-connector issues 24, 188, 194, 214). One
function, :func:`redshift_text`, makes that text; the golden files in
``tests/golden/`` hold its output, and the Redshift model tests send the same
text to PostgreSQL.

Two details of the text:

* Redshift reads a backslash in a string literal as an escape character: its
  QUOTE_LITERAL "Appropriately doubles any embedded single quotation marks and
  backslashes" (https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html),
  and its UNLOAD examples escape quotes as ``\\'``
  (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html). sqlalchemy-redshift
  renders literals as for ``standard_conforming_strings = on`` (backslashes kept
  single), so our compile dialect doubles them. PostgreSQL reads the same text the
  same way with ``standard_conforming_strings = off``, which the model sets.
* The compile dialect uses the ``named`` paramstyle: under redshift-connector's
  ``format`` style SQLAlchemy doubles every ``%`` of a literal (``'50%%'``), which
  the driver undoes only when it is given parameters. Sent with none, the text
  reaches the server exactly as compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy_redshift.dialect import RedshiftDialect_redshift_connector

#: Runs one statement on a connection: :func:`execute` or :func:`execute_redshift`.
Execute = Callable[[sa.Connection, Executable], sa.CursorResult[Any]]

#: The execution options of a statement sent as text: no parameters (the text goes to
#: the driver untouched) and the row count kept for INSERT ... SELECT.
TEXT_OPTIONS = {"no_parameters": True, "preserve_rowcount": True}


_Compiler: Any = RedshiftDialect_redshift_connector.statement_compiler


class _RedshiftTextCompiler(_Compiler):  # type: ignore[misc]
    """Redshift SQL for text sent with no parameters: ``%`` stays single.

    sqlalchemy-redshift's redshift-connector compiler writes ``%%`` in text()
    and for the modulo operator whatever the paramstyle (for the driver to undo).
    """

    def post_process_text(self, text: str) -> str:
        return text

    def visit_mod_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return f"{self.process(binary.left, **kw)} % {self.process(binary.right, **kw)}"


class RedshiftTextDialect(RedshiftDialect_redshift_connector):  # type: ignore[misc]
    """The Redshift dialect that :func:`redshift_text` compiles with."""

    statement_compiler = _RedshiftTextCompiler


def _redshift_dialect() -> RedshiftTextDialect:
    dialect = RedshiftTextDialect(paramstyle="named")
    dialect._backslash_escapes = True  # see the module docstring
    return dialect


REDSHIFT = _redshift_dialect()


def redshift_text(statement: ClauseElement) -> str:
    """The statement as Redshift gets it: Redshift SQL with every value inlined."""
    return str(statement.compile(dialect=REDSHIFT, compile_kwargs={"literal_binds": True}))


def execute(conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
    """Run a statement as it is (PostgreSQL, DuckDB), keeping INSERT ... SELECT row counts."""
    return conn.execute(statement, execution_options={"preserve_rowcount": True})


def execute_redshift(conn: sa.Connection, statement: Executable) -> sa.CursorResult[Any]:
    """Send a statement as :func:`redshift_text` makes it, with no bind parameters."""
    assert isinstance(statement, ClauseElement)
    return send_text(conn, redshift_text(statement))


def send_text(conn: sa.Connection, text: str) -> sa.CursorResult[Any]:
    """Send SQL text exactly as it is, with no parameters."""
    return conn.exec_driver_sql(text, execution_options=TEXT_OPTIONS)


def executor_for(conn: sa.Connection) -> Execute:
    """How statements reach the database of ``conn``."""
    return execute_redshift if conn.dialect.name == "redshift" else execute
