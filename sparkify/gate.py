"""The quality gate of a load: the checks every run must pass before it commits.

``sparkify etl`` runs them in the load's transaction, after the merges and
before the ledger write and COMMIT (:func:`sparkify.load.run`). The first check
that fails raises :class:`~sparkify.errors.QualityGateError`, naming the check,
its table and some offending keys, and the whole run rolls back.

The checks are those of ``sparkify check`` (:mod:`sparkify.quality`, same names)
that hold after *every* correct run, incremental ones included, where staging
holds only that run's objects:

* ``unique.<table>.<key>``: every key of the star, on the whole table, so that a
  warehouse that already holds a duplicate (say a ``time`` row inserted by hand)
  takes no further load. A key the database keeps unique itself, with a unique
  index (every key on PostgreSQL, the dimensions' on DuckDB), is proven by the
  index: no query. Redshift keeps none: "Uniqueness, primary key, and foreign
  key constraints are informational only; they are not enforced by Amazon
  Redshift" (https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html),
  so there, as for DuckDB's fact tables (migration 0003), each key is a query
  (:class:`sparkify.quality.duplicated`). One exception: without its index,
  songplays' (user_id, session_id, start_time) is checked for the keys of the
  run's staged plays after an incremental run (:func:`unique_checks` says why).
* ``complete.songplays.staging_events``: every staged NextSong event of a known
  user has its songplay. Staging holds this run's objects: scoped by nature.
* ``references.songplays.<column>.<dimension>``: the songplays this run wrote
  point to rows of the dimensions. Those are the songplays of its staged events
  (inserted now, or by an earlier run of the same events) and, when the run
  re-matched earlier plays to songs it staged, those whose song it staged.
  Songplays the run did not touch are ``sparkify check``'s business.

Left out: ``not_null.*``, since every key column is NOT NULL and the three
databases enforce it ("Amazon Redshift does enforce NOT NULL column
constraints", same page); ``not_empty.*``, since a correct run may leave a star
table empty (a first load of song files alone has no songplays, users or time).

The completeness and reference checks share one statement per scope, which
finds whether anything fails; only then does each check's own query look for
the offending keys. Every statement goes through the backend's executor, so
Redshift gets it as literal-bound text (``tests/golden/gate_*.sql``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from sparkify import quality
from sparkify.errors import QualityGateError, translated
from sparkify.execute import Execute
from sparkify.models import metadata, songplays, staging_events, staging_songs
from sparkify.sql import start_time
from sparkify.transform import plays

if TYPE_CHECKING:
    from sparkify.staging.base import Stager

#: How many offending keys an error shows.
SAMPLE = 5

#: A unique index the database keeps: its table and its columns.
UniqueIndex = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate.

    Attributes:
        name: the check's name, as :func:`sparkify.quality.checks` names it.
        table: the table that breaks it when it fails.
        key: the columns of the offending keys.
        offending: the offending keys, in order, ``SAMPLE + 1`` at most (none: it passes).
    """

    name: str
    table: str
    key: tuple[str, ...]
    offending: sa.Select[Any] | quality.duplicated


@dataclass(frozen=True)
class Probe:
    """Checks and the statement that tells whether any of them fails.

    Attributes:
        checks: the checks, in the order they are reported.
        query: one row, one count: of the rows breaking any of them (``None``: each
            check's own query asks). A count, not ``LIMIT 1``: the rows are all read
            when nothing fails, and PostgreSQL plans a ``LIMIT 1`` for the first row
            (nested loops of index lookups: 0.3 s instead of 0.2 s for a day's plays).
        by_index: the database keeps the checks' key unique: nothing to ask.
    """

    checks: tuple[GateCheck, ...]
    query: sa.Select[Any] | None = None
    by_index: bool = False


def audit(conn: sa.Connection, backend: Stager, *, from_empty: bool, rematched: bool) -> list[str]:
    """Run the gate on the load's connection, inside its transaction.

    Args:
        conn: the load's connection, its merges done.
        backend: the load's stager (its executor, the unique indexes it keeps).
        from_empty: the star was empty before the run: every row in it is the run's.
        rematched: whether the run re-matched earlier songplays to songs it staged.

    Returns:
        The names of the checks, all passed.

    Raises:
        QualityGateError: a check failed (the caller rolls back).
        DatabaseError: the database refused a statement.
    """
    with backend.auditing(conn, from_empty=from_empty):
        with translated("the quality gate"):
            indexes = backend.unique_indexes(conn)
        gate = probes(indexes, from_empty=from_empty, rematched=rematched)
        return run_gate(conn, backend.execute, gate)


def run_gate(conn: sa.Connection, run: Execute, gate: Sequence[Probe]) -> list[str]:
    """Run the gate's probes in order; raise for the first failing check.

    Returns:
        The names of the checks passed: every check of ``gate``.

    Raises:
        QualityGateError: a check failed.
        DatabaseError: the database refused a statement.
    """
    passed: list[str] = []
    for probe in gate:
        if not probe.by_index and _may_fail(conn, run, probe):
            for check in probe.checks:
                _raise_if_failing(conn, run, check)
        passed.extend(check.name for check in probe.checks)
    return list(dict.fromkeys(passed))


def _may_fail(conn: sa.Connection, run: Execute, probe: Probe) -> bool:
    """Whether a check of ``probe`` may fail: its query found a row, or it has none."""
    if probe.query is None:
        return True
    with translated("the quality gate"):
        return bool(run(conn, probe.query).scalar_one())


def _raise_if_failing(conn: sa.Connection, run: Execute, check: GateCheck) -> None:
    with translated(f"quality gate check {check.name}"):
        rows = run(conn, check.offending).all()
    if rows:
        sample = [tuple(row) for row in rows[:SAMPLE]]
        raise QualityGateError(check.name, check.table, check.key, sample, more=len(rows) > SAMPLE)


def probes(
    indexes: Collection[UniqueIndex], *, from_empty: bool = False, rematched: bool = False
) -> list[Probe]:
    """The gate's probes, in the order they run: keys first, then the run's songplays.

    The keys come first: the joins of the others assume unique dimension keys.

    Args:
        indexes: the unique indexes the database keeps (their keys need no query).
        from_empty: the star was empty before the run: every row in it is the run's.
        rematched: whether the run re-matched earlier songplays to songs it staged.
    """
    found = [
        Probe((check,), by_index=held_by_index(check, indexes))
        for check in unique_checks(from_empty=from_empty)
    ]
    references = reference_checks(rematched)
    found.append(Probe((completeness_check(), *references), played_probe()))
    if rematched:
        found.append(Probe(tuple(references), rematched_probe()))
    return found


def names() -> list[str]:
    """The names of the gate's checks, in order (whatever the indexes prove)."""
    checks = [*unique_checks(), completeness_check(), *reference_checks(rematched=False)]
    return [check.name for check in checks]


def held_by_index(check: GateCheck, indexes: Collection[UniqueIndex]) -> bool:
    """Whether a unique index keeps the check's key unique (one on some of its columns does)."""
    return any(
        table == check.table and set(columns) <= set(check.key) for table, columns in indexes
    )


# -- keys -----------------------------------------------------------------------------


def unique_checks(*, from_empty: bool = True) -> list[GateCheck]:
    """``unique.<table>.<key>`` for every key of the star: its duplicated values.

    On the whole table, but for songplays' (user_id, session_id, start_time)
    after a run that did not start from empty: there, the keys of the run's staged
    plays (where an index keeps it, PostgreSQL, the whole table is proven anyway).
    Without an index, that key's whole-table check aggregates the whole fact table
    on every load: on DuckDB (migration 0003) 65-70 ms of a 1.0 s day's load at
    1M events, against 20 ms for time.start_time or songplay_id (a sort of values
    nearly in order) and 6 ms for the run's keys; on Redshift a redistribution of
    the fact table (DISTKEY song_id). A duplicate of a key no run writes again is
    then ``sparkify check``'s to find.
    """
    found = [
        GateCheck(
            name=_unique_name(name, key),
            table=name,
            key=key,
            offending=quality.duplicated(metadata.tables[name], key, SAMPLE + 1),
        )
        for name, key in quality.UNIQUE_KEYS
    ]
    if not from_empty:
        found = [played_key_check() if c.name == PLAY_KEY else c for c in found]
    return found


def _unique_name(table: str, key: tuple[str, ...]) -> str:
    return f"unique.{table}.{'.'.join(key)}"


#: The check of songplays' key (contract rule 2), scoped to the run's plays after an
#: incremental run (:func:`played_key_check`).
PLAY_KEY = _unique_name("songplays", ("user_id", "session_id", "start_time"))


def played_key_check() -> GateCheck:
    """``unique.songplays.user_id.session_id.start_time`` for the keys of the staged plays."""
    e, sp = staging_events.c, songplays.c
    staged = sa.select(e.user_id, e.session_id, e.ts).where(*plays()).distinct().subquery("staged")
    key = [sp.user_id, sp.session_id, sp.start_time]
    on = sa.and_(
        sp.user_id == staged.c.user_id,
        sp.session_id == staged.c.session_id,
        sp.start_time == start_time(staged.c.ts),
    )
    duplicated = (
        sa.select(*key)
        .select_from(staged.join(songplays, on))
        .group_by(*key)
        .having(sa.func.count() > 1)
        .order_by(*key)
        .limit(SAMPLE + 1)
    )
    return GateCheck(PLAY_KEY, "songplays", tuple(c.name for c in key), duplicated)


# -- the run's songplays --------------------------------------------------------------


def completeness_check() -> GateCheck:
    """``complete.songplays.staging_events``: the staged events with no songplay."""
    unloaded = quality.unloaded_plays().subquery("unloaded")
    key = ("user_id", "session_id", "ts")
    columns = [unloaded.c[name] for name in key]
    return GateCheck(
        name="complete.songplays.staging_events",
        table="songplays",
        key=key,
        offending=sa.select(*columns).order_by(*columns).limit(SAMPLE + 1),
    )


def reference_checks(rematched: bool) -> list[GateCheck]:
    """``references.songplays.<column>.<dimension>``: the run's songplays' missing references."""
    scopes: list[tuple[FromClause, list[ColumnElement[bool]]]] = [
        (_played_songplays(outer=False), plays())
    ]
    if rematched:
        scopes.append((_rematched_songplays(), []))
    found = []
    for column, dimension in quality.REFERENCES:
        value, dim = songplays.c[column], metadata.tables[dimension]
        missing = [
            sa.select(value)
            .select_from(scope.outerjoin(dim, dim.c[column] == value))
            .where(*where, value.is_not(None), dim.c[column].is_(None))
            for scope, where in scopes
        ]
        dangling = (sa.union(*missing) if len(missing) > 1 else missing[0].distinct()).subquery(
            "dangling"
        )
        found.append(
            GateCheck(
                name=f"references.songplays.{column}.{dimension}",
                table="songplays",
                key=(column,),
                offending=sa.select(dangling.c[column])
                .order_by(dangling.c[column])
                .limit(SAMPLE + 1),
            )
        )
    return found


def played_probe() -> sa.Select[Any]:
    """Count the staged plays with no songplay, or whose songplay has a missing reference."""
    scope, missing = _with_dimensions(_played_songplays(outer=True))
    unloaded = songplays.c.user_id.is_(None)  # NOT NULL in songplays: no songplay joined
    return sa.select(sa.func.count()).select_from(scope).where(*plays(), sa.or_(unloaded, *missing))


def rematched_probe() -> sa.Select[Any]:
    """Count the songplays of staged songs that have a missing reference."""
    scope, missing = _with_dimensions(_rematched_songplays())
    return sa.select(sa.func.count()).select_from(scope).where(sa.or_(*missing))


def _played_songplays(*, outer: bool) -> FromClause:
    """Each staged event joined to its songplay, by contract rule 2's key."""
    e, sp = staging_events.c, songplays.c
    on = sa.and_(
        sp.user_id == e.user_id,
        sp.session_id == e.session_id,
        sp.start_time == start_time(e.ts),
    )
    return staging_events.join(songplays, on, isouter=outer)


def _rematched_songplays() -> FromClause:
    """The songplays of a staged song (title, artist name, duration): what the re-match sees."""
    s, sp = staging_songs.c, songplays.c
    staged = sa.select(s.title, s.artist_name, s.duration).distinct().subquery("staged_songs")
    on = sa.and_(
        sp.song_title == staged.c.title,
        sp.artist_name == staged.c.artist_name,
        sp.song_length == staged.c.duration,
    )
    return staged.join(songplays, on)


def _with_dimensions(scope: FromClause) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """``scope`` LEFT JOIN each dimension a songplay references, and one test per reference.

    Outer joins, not NOT EXISTS: PostgreSQL plans NOT EXISTS under an OR as a
    lookup per row, where joins are hashed once.
    """
    missing = []
    for column, dimension in quality.REFERENCES:
        value, dim = songplays.c[column], metadata.tables[dimension]
        scope = scope.outerjoin(dim, dim.c[column] == value)
        missing.append(sa.and_(value.is_not(None), dim.c[column].is_(None)))
    return scope, missing
