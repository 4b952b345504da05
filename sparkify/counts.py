"""Row counts of the staging and star tables, in one statement.

One ``SELECT`` of scalar subqueries, one per table, so the counts come from the
same snapshot and the same SQL runs on Redshift, PostgreSQL and DuckDB.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sparkify.errors import translated
from sparkify.execute import Execute, executor_for
from sparkify.models import metadata

__all__ = ["COUNTED_TABLES", "table_counts", "table_counts_query"]

#: The counted tables, in the order ``table_counts`` reports them: staging first,
#: then the fact, then the dimensions.
COUNTED_TABLES: tuple[sa.Table, ...] = tuple(
    metadata.tables[name]
    for name in (
        "staging_events",
        "staging_songs",
        "songplays",
        "users",
        "songs",
        "artists",
        "time",
    )
)


def table_counts_query(tables: tuple[sa.Table, ...] = COUNTED_TABLES) -> sa.Select[Any]:
    """One row with one column per table (named after it): the table's row count.

    Args:
        tables: The tables to count, in column order.

    Returns:
        ``SELECT (SELECT COUNT(*) FROM t1) AS t1, (SELECT COUNT(*) FROM t2) AS t2, ...``
    """
    return sa.select(
        *(
            sa.select(sa.func.count()).select_from(table).scalar_subquery().label(table.name)
            for table in tables
        )
    )


def table_counts(conn: sa.Connection, run: Execute | None = None) -> dict[str, int]:
    """Count the rows of every staging and star table.

    Args:
        conn: A connection to the warehouse.
        run: How to run the statement (default: as the connection's database takes it).

    Returns:
        Table name to row count, ordered staging_events, staging_songs, songplays,
        users, songs, artists, time.

    Raises:
        DatabaseError: The database refused the query (e.g. a table is missing).
    """
    with translated("counting table rows"):
        row = (run or executor_for(conn))(conn, table_counts_query()).one()
    return {table.name: int(count) for table, count in zip(COUNTED_TABLES, row, strict=True)}
