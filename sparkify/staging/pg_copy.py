"""PostgreSQL's ``COPY ... FROM STDIN (FORMAT BINARY)`` on a load's connection.

Rows from Python go through psycopg's ``write_row``; tuples already in the
binary format (built by DuckDB, :mod:`sparkify.staging.pg_native`) through
``Copy.write``, between :data:`SIGNATURE` and :data:`TRAILER`.

The format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
Format"): a signature, flags and a header extension; per tuple an int16 field
count, and per field an int32 byte length (-1 for NULL) and the value in its
type's binary form, in network byte order; a trailer of int16 -1.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from psycopg import sql

from sparkify.staging.sql_names import schema_of

if TYPE_CHECKING:
    from psycopg import Copy

_PG_TYPES = (
    (sa.SmallInteger, "int2"),
    (sa.BigInteger, "int8"),
    (sa.Integer, "int4"),
    (sa.Double, "float8"),
    (sa.Float, "float8"),
    (sa.String, "text"),
    (sa.DateTime, "timestamp"),
)

#: The header of a binary COPY stream: signature, flags (0), header extension length (0).
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
#: The end of a binary COPY stream: a field count of -1.
TRAILER = struct.pack("!h", -1)
#: A NULL field: a length of -1 and no bytes.
NULL_FIELD = struct.pack("!i", -1)


def pg_type(column: sa.Column[Any]) -> str:
    """The binary COPY type of a column (text serves VARCHAR: same wire format)."""
    for type_, name in _PG_TYPES:
        if isinstance(column.type, type_):
            return name
    raise TypeError(f"no COPY type for {column.name} ({column.type})")


@contextmanager
def copy_in(conn: sa.Connection, table: sa.Table) -> Iterator[Copy]:
    """A binary ``COPY table FROM STDIN`` on the connection's own DBAPI connection."""
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    schema = schema_of(conn, table)
    name = sql.Identifier(schema, table.name) if schema else sql.Identifier(table.name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        name, sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    )
    with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
        yield copy


def takes_utf8(conn: sa.Connection) -> bool:
    """Whether text reaches the server as UTF-8 (the client encoding of the connection)."""
    dbapi = conn.connection.driver_connection
    return dbapi is not None and dbapi.info.encoding == "utf-8"
