"""How a merge is split into parts, each one statement over a share of the staged events.

Only DuckDB splits (its stager says into how many parts, by batch size, and
runs each step through :func:`split`, the one place a merge is split),
so each statement's working memory stays the same however big the batch;
PostgreSQL and Redshift run every merge whole. A merge step says which share
it takes (:attr:`sparkify.transform.Step.shares`):

* users, by ``user_id``: a :class:`Part` is ``user_id mod count = index``, and
  every user's events lie in one part;
* songplays and time, by ``ts``: a :class:`TsRange` is ``lower <= ts < upper``,
  cut by :func:`ts_bounds` (tiles of equal numbers of plays) and
  :func:`ts_ranges`, so every (user_id, session_id, ts) lies in one range.

Every other merge runs whole. Run part by part, a step gives the same rows as
in one statement.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from sparkify.models import staging_events
from sparkify.sql import start_time

if TYPE_CHECKING:
    from sparkify.transform import Step


@dataclass(frozen=True)
class Part:
    """One of ``count`` disjoint shares of the staged events by a key: ``key mod count = index``.

    A statement that groups events by a key can run once per share of that key
    and give the same rows as one run over all of them, provided every group
    lies in one share: users group by user_id. DuckDB runs its big merges in
    parts so each statement's working memory stays the same whatever the batch
    size (see :meth:`sparkify.staging.duckdb.DuckDBStager.run_step`).
    """

    index: int
    count: int

    def condition(self, key: ColumnElement[int]) -> list[ColumnElement[bool]]:
        """The condition that ``key`` falls in this share (none for a single part)."""
        if self.count == 1:
            return []
        share = ((key % self.count) + self.count) % self.count  # in [0, count), negatives too
        return [share == self.index]


@dataclass(frozen=True)
class TsRange:
    """A share of the staged events by ts: ``lower <= ts < upper`` (``None``: unbounded).

    songplays group by (user_id, session_id, ts) and time by ts, so a range of
    ts holds whole groups. Log files arrive a day at a time, so a range is also
    a contiguous stretch of ``staging_events``: DuckDB skips the row groups
    outside it and works on full vectors, where a modulo share keeps one row in
    ``count`` of every vector (at 5M events that cost 80 MB more per part, and
    every part read the whole table). :func:`ts_bounds` picks ranges of equal
    numbers of plays.
    """

    lower: int | None = None
    upper: int | None = None

    def condition(self, key: ColumnElement[int]) -> list[ColumnElement[bool]]:
        """The condition that ``key`` falls in this range (none when unbounded)."""
        return self._bounds(key, lambda ts: ts)

    def start_times(self, column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        """The condition that a star table's ``start_time`` lies in this range.

        :func:`start_time` is strictly increasing (exact milliseconds), so a
        play of this range can only meet stored rows of this range: stating it
        keeps each part's NOT EXISTS to its own share of songplays and time
        instead of the whole, growing table.
        """
        return self._bounds(column, lambda ts: start_time(sa.literal(ts, sa.BigInteger)))

    def _bounds(
        self, column: ColumnElement[Any], at: Callable[[int], Any]
    ) -> list[ColumnElement[bool]]:
        """``at(lower) <= column < at(upper)``, leaving out the unbounded sides."""
        bounds: list[ColumnElement[bool]] = []
        if self.lower is not None:
            bounds.append(column >= at(self.lower))
        if self.upper is not None:
            bounds.append(column < at(self.upper))
        return bounds


def within(
    select: sa.Select[Any], key: ColumnElement[int], share: Part | TsRange | None
) -> sa.Select[Any]:
    """``select`` limited to ``share`` of its rows by ``key`` (all of them for ``None``)."""
    return select if share is None else select.where(*share.condition(key))


def ts_bounds(count: int, plays: Sequence[ColumnElement[bool]]) -> sa.Select[Any]:
    """The smallest ts of each of ``count`` tiles of the staged plays, in order (NTILE).

    Tiles hold equal numbers of plays; their smallest ts values, deduplicated,
    cut the plays into the ranges of :func:`ts_ranges`. ``plays`` is the
    condition on ``staging_events`` that selects them
    (:func:`sparkify.transform.plays`, rule 2).
    """
    e = staging_events.c
    tiles = (
        sa.select(e.ts, sa.func.ntile(count).over(order_by=e.ts).label("tile"))
        .where(*plays)
        .subquery("tiles")
    )
    lowest = sa.func.min(tiles.c.ts)
    return sa.select(lowest).group_by(tiles.c.tile).order_by(lowest)


def ts_ranges(lowest: Sequence[int]) -> list[TsRange]:
    """Disjoint ranges covering every ts, cut at the tiles' smallest values but the first.

    Equal values fall in one range, so a tile boundary inside a run of equal ts
    makes a smaller range, never a split group.
    """
    cuts = sorted(set(lowest))[1:]
    edges: list[int | None] = [None, *cuts, None]
    return [TsRange(lower, upper) for lower, upper in itertools.pairwise(edges)]


def split(
    step: Step, parts: int, ranges: Callable[[], list[TsRange]]
) -> list[sa.Insert | sa.Update]:
    """A merge step as the statements of its parts: the one place a merge is split.

    One part, or a step that cannot be split: the whole statement. Users by
    shares of user_id (they group by it); songplays and time by ranges of ts
    (contiguous row groups), found once per load by ``ranges``.
    """
    if parts <= 1 or step.shares is None:
        return [step.build()]
    if step.shares == "user_id":
        return [step.build(Part(i, parts)) for i in range(parts)]
    return [step.build(share) for share in ranges()]
