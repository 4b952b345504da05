"""Data-quality checks on the star schema: keys, references, completeness.

Every check is a Core query, built without a connection, that returns one row
with one integer: the number of rows breaking its rule (``failing_rows``). The
same SQL runs on Redshift, PostgreSQL and DuckDB.

Redshift does not enforce PRIMARY KEY or UNIQUE constraints (the planner trusts
them), so the key checks matter there; on PostgreSQL and DuckDB they pass by
construction. See
https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sparkify.errors import translated
from sparkify.execute import executor_for
from sparkify.models import metadata, songplays, staging_events
from sparkify.sql import start_time

#: The keys that must never be NULL, as (table, column).
NOT_NULL_KEYS: tuple[tuple[str, str], ...] = (
    ("songplays", "songplay_id"),
    ("songplays", "start_time"),
    ("songplays", "user_id"),
    ("users", "user_id"),
    ("songs", "song_id"),
    ("artists", "artist_id"),
    ("time", "start_time"),
)

#: The keys that must be unique, as (table, columns).
UNIQUE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("songplays", ("songplay_id",)),
    ("songplays", ("user_id", "session_id", "start_time")),
    ("users", ("user_id",)),
    ("songs", ("song_id",)),
    ("artists", ("artist_id",)),
    ("time", ("start_time",)),
)

#: The fact's references to the dimensions, as (column, dimension); the column
#: has the same name in both tables.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("user_id", "users"),
    ("start_time", "time"),
    ("song_id", "songs"),
    ("artist_id", "artists"),
)

#: The tables that must hold rows after a load.
NON_EMPTY_TABLES: tuple[str, ...] = ("songplays", "users", "songs", "artists", "time")


@dataclass(frozen=True)
class Check:
    """A data-quality rule and the query that counts the rows breaking it.

    Attributes:
        name: Stable, dotted identifier, e.g. ``unique.users.user_id``.
        query: One row, one integer column: the number of failing rows.
        success: What the detail says when nothing fails.
        failure: What it says otherwise; ``{n}`` is the number of failing rows.
    """

    name: str
    query: sa.Select[Any]
    success: str
    failure: str


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: The check's name.
        passed: Whether no row breaks the rule.
        detail: One line saying what was found.
        failing_rows: How many rows break it (1 for an empty table).
    """

    name: str
    passed: bool
    detail: str
    failing_rows: int

    @property
    def table(self) -> str:
        """The table the check is about: its name's second part (``unique.users.user_id``)."""
        return self.name.split(".")[1]


def null_keys(table: sa.Table, column: str) -> sa.Select[Any]:
    """Count the rows of ``table`` whose ``column`` is NULL."""
    return sa.select(sa.func.count()).select_from(table).where(table.c[column].is_(None))


def duplicate_keys(table: sa.Table, *columns: str) -> sa.Select[Any]:
    """Count the surplus rows of ``table`` on a key: rows beyond the first per key value.

    Keys with a NULL part are left to :func:`null_keys`.
    """
    key = [table.c[name] for name in columns]
    groups = (
        sa.select((sa.func.count() - 1).label("surplus"))
        .select_from(table)
        .where(*(part.is_not(None) for part in key))
        .group_by(*key)
        .having(sa.func.count() > 1)
        .subquery("duplicates")
    )
    return sa.select(sa.cast(sa.func.coalesce(sa.func.sum(groups.c.surplus), 0), sa.BigInteger))


def orphans(child: sa.Table, parent: sa.Table, column: str) -> sa.Select[Any]:
    """Count the rows of ``child`` whose non-NULL ``column`` value is missing from ``parent``."""
    key = child.c[column]
    missing = ~sa.exists().select_from(parent).where(parent.c[column] == key)
    return sa.select(sa.func.count()).select_from(child).where(key.is_not(None), missing)


def unloaded_events() -> sa.Select[Any]:
    """Count the NextSong events of a known user in staging that have no songplay.

    An event is identified like a songplay, by (user_id, session_id, ts), so the
    same line staged twice counts once. Staging may hold only the latest batch
    after an incremental load, so this asks "is every staged play loaded?", not
    "are the counts equal?".
    """
    events = (
        sa.select(staging_events.c.user_id, staging_events.c.session_id, staging_events.c.ts)
        .where(staging_events.c.page == "NextSong", staging_events.c.user_id.is_not(None))
        .distinct()
        .subquery("events")
    )
    loaded = sa.exists().where(
        songplays.c.user_id == events.c.user_id,
        songplays.c.session_id == events.c.session_id,
        # The loader's own conversion (rule 1), so both sides are the same instant.
        songplays.c.start_time == start_time(events.c.ts),
    )
    return sa.select(sa.func.count()).select_from(events).where(~loaded)


def empty(table: sa.Table) -> sa.Select[Any]:
    """1 when ``table`` has no row, else 0."""
    return sa.select(sa.case((sa.func.count() == 0, 1), else_=0)).select_from(table)


def checks() -> list[Check]:
    """Every data-quality check, in the order they run and report."""
    tables = metadata.tables
    found: list[Check] = []
    for table, column in NOT_NULL_KEYS:
        found.append(
            Check(
                name=f"not_null.{table}.{column}",
                query=null_keys(tables[table], column),
                success=f"no NULL {table}.{column}",
                failure=f"{{n}} {table} row(s) with NULL {column}",
            )
        )
    for table, key in UNIQUE_KEYS:
        found.append(
            Check(
                name=f"unique.{table}.{'.'.join(key)}",
                query=duplicate_keys(tables[table], *key),
                success=f"{table} ({', '.join(key)}) is unique",
                failure=f"{{n}} duplicate {table} row(s) on ({', '.join(key)})",
            )
        )
    for column, dimension in REFERENCES:
        found.append(
            Check(
                name=f"references.songplays.{column}.{dimension}",
                query=orphans(tables["songplays"], tables[dimension], column),
                success=f"every songplays.{column} is in {dimension}",
                failure=f"{{n}} songplays row(s) whose {column} is not in {dimension}",
            )
        )
    found.append(
        Check(
            name="complete.songplays.staging_events",
            query=unloaded_events(),
            success="every NextSong event of a known user in staging_events has a songplay",
            failure="{n} NextSong event(s) of a known user in staging_events have no songplay",
        )
    )
    for table in NON_EMPTY_TABLES:
        found.append(
            Check(
                name=f"not_empty.{table}",
                query=empty(tables[table]),
                success=f"{table} has rows",
                failure=f"{table} is empty",
            )
        )
    return found


def run_check(conn: sa.Connection, check: Check) -> CheckResult:
    """Run one check.

    Raises:
        DatabaseError: The database refused the query (e.g. a table is missing).
    """
    with translated(f"data-quality check {check.name}"):
        failing = int(executor_for(conn)(conn, check.query).scalar_one())
    detail = check.failure.format(n=failing) if failing else check.success
    return CheckResult(check.name, passed=failing == 0, detail=detail, failing_rows=failing)


def run_checks(conn: sa.Connection) -> list[CheckResult]:
    """Run every data-quality check on the warehouse behind ``conn``.

    Args:
        conn: A connection to the warehouse.

    Returns:
        One result per check, in the order of :func:`checks`.

    Raises:
        DatabaseError: The database refused a query (e.g. a table is missing).
    """
    return [run_check(conn, check) for check in checks()]
