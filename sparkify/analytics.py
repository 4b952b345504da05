"""The analytics team's standard questions, as Core queries over the star schema.

Each question is a function that builds a ``Select`` without a connection; the
same SQL runs on Redshift, PostgreSQL and DuckDB. Every ordering ends in a
tie-break on a key, so the rows come back in the same order on every backend;
text sorts byte by byte everywhere (``sql.binary``: Redshift and DuckDB
do so natively, PostgreSQL gets ``COLLATE "C"`` whatever its database's
collation).

:data:`QUESTIONS` names them; :func:`run` answers one, :func:`write_charts`
draws the answers and :func:`series` gives an answer's chart data in the shape
its question fits (every hour 0-23 in order, every weekday in order, rankings as
bars, free vs paid as a share); the CLI prints them as a table, JSON or CSV.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkify import charts
from sparkify.errors import OutputError, UnknownQuestionError, translated
from sparkify.execute import executor_for
from sparkify.models import artists, songplays, songs, time, users
from sparkify.sql import binary

#: Browser families by user-agent substrings (LIKE patterns), tried in this order:
#: Edge and Opera agents also name Chrome, and Chrome agents also name Safari.
USER_AGENT_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Edge", ("%Edge/%", "%Edg/%", "%EdgA/%", "%EdgiOS/%")),
    ("Opera", ("%OPR/%", "%Opera%")),
    ("Chrome", ("%Chrome/%", "%CriOS/%", "%Chromium/%")),
    ("Firefox", ("%Firefox/%", "%FxiOS/%")),
    ("Internet Explorer", ("%MSIE %", "%Trident/%")),
    ("Safari", ("%Safari/%",)),
)
OTHER_FAMILY = "Other"

WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _plays() -> sa.Label[int]:
    return sa.func.count().label("plays")


def most_played_songs(limit: int = 10) -> sa.Select[Any]:
    """Songs by plays: title, artist, plays. Plays with no matched song are left out."""
    plays = _plays()
    return (
        sa.select(songs.c.title, artists.c.name.label("artist"), plays)
        .select_from(
            songplays.join(songs, songplays.c.song_id == songs.c.song_id).outerjoin(
                artists, songs.c.artist_id == artists.c.artist_id
            )
        )
        .group_by(songs.c.song_id, songs.c.title, artists.c.name)
        .order_by(
            plays.desc(),
            sa.nulls_last(binary(songs.c.title)),
            sa.nulls_last(binary(artists.c.name)),
            binary(songs.c.song_id),
        )
        .limit(limit)
    )


def most_played_artists(limit: int = 10) -> sa.Select[Any]:
    """Artists by plays: artist, plays. Plays with no matched artist are left out."""
    plays = _plays()
    return (
        sa.select(artists.c.name.label("artist"), plays)
        .select_from(songplays.join(artists, songplays.c.artist_id == artists.c.artist_id))
        .group_by(artists.c.artist_id, artists.c.name)
        .order_by(plays.desc(), sa.nulls_last(binary(artists.c.name)), binary(artists.c.artist_id))
        .limit(limit)
    )


def _by_time_part(part: sa.ColumnElement[Any], *extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    plays = _plays()
    return (
        sa.select(part, *extra, plays)
        .select_from(songplays.join(time, songplays.c.start_time == time.c.start_time))
        .group_by(part)
        .order_by(part)
    )


def plays_by_hour() -> sa.Select[Any]:
    """Plays per hour of day (UTC, 0-23, from ``time``): hour, plays.

    Hours without plays are absent.
    """
    return _by_time_part(time.c.hour)


def plays_by_weekday() -> sa.Select[Any]:
    """Plays per weekday (0 = Sunday ... 6 = Saturday, UTC): weekday, day, plays."""
    day = sa.case(
        {number: name for number, name in enumerate(WEEKDAY_NAMES)}, value=time.c.weekday
    ).label("day")
    return _by_time_part(time.c.weekday, day)


def level_share() -> sa.Select[Any]:
    """Free vs paid plays: level, plays, share (a fraction of all plays, 0-1)."""
    plays = sa.func.count()
    share = sa.cast(plays, sa.Double).op("/")(sa.cast(sa.func.sum(plays).over(), sa.Double))
    return (
        sa.select(songplays.c.level, plays.label("plays"), share.label("share"))
        .group_by(songplays.c.level)
        .order_by(plays.desc(), sa.nulls_last(binary(songplays.c.level)))
    )


def most_active_users(limit: int = 10) -> sa.Select[Any]:
    """Users by plays: user_id, first_name, last_name, plays."""
    plays = _plays()
    return (
        sa.select(songplays.c.user_id, users.c.first_name, users.c.last_name, plays)
        .select_from(songplays.outerjoin(users, songplays.c.user_id == users.c.user_id))
        .group_by(songplays.c.user_id, users.c.first_name, users.c.last_name)
        .order_by(plays.desc(), songplays.c.user_id)
        .limit(limit)
    )


def top_locations(limit: int = 10) -> sa.Select[Any]:
    """Locations by plays: location, plays. Plays without a location are left out."""
    plays = _plays()
    return (
        sa.select(songplays.c.location, plays)
        .where(songplays.c.location.is_not(None))
        .group_by(songplays.c.location)
        .order_by(plays.desc(), binary(songplays.c.location))
        .limit(limit)
    )


def user_agent_family(user_agent: sa.ColumnElement[str | None]) -> sa.ColumnElement[str]:
    """A CASE that names the browser family of a user agent (see ``USER_AGENT_FAMILIES``)."""
    whens = [
        (sa.or_(*(user_agent.like(pattern) for pattern in patterns)), family)
        for family, patterns in USER_AGENT_FAMILIES
    ]
    return sa.case(*whens, else_=OTHER_FAMILY)


def plays_by_user_agent_family() -> sa.Select[Any]:
    """Plays per browser family: family, plays."""
    # Classify in a derived table and group by its column: grouping by the CASE
    # itself would repeat its bound patterns, which PostgreSQL cannot match.
    classified = sa.select(user_agent_family(songplays.c.user_agent).label("family")).subquery(
        "classified"
    )
    plays = _plays()
    return (
        sa.select(classified.c.family, plays)
        .group_by(classified.c.family)
        .order_by(plays.desc(), binary(classified.c.family))
    )


@dataclass(frozen=True)
class Question:
    """A named analytics question; calling it builds its query.

    Attributes:
        name: The name ``run`` and the CLI take.
        description: One line saying what it answers.
        build: The query builder.
        limited: Whether ``build`` takes the number of rows to return.
        chart: The kind of chart that fits its answer (see ``charts.Kind``).
    """

    name: str
    description: str
    build: Callable[..., sa.Select[Any]]
    limited: bool = True
    chart: charts.Kind = "bars"

    def __call__(self, limit: int = 10) -> sa.Select[Any]:
        """Build the question's query (``limit`` applies to top-N questions only)."""
        return self.build(limit) if self.limited else self.build()


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in (
        Question("songs", "Most played songs", most_played_songs),
        Question("artists", "Most played artists", most_played_artists),
        Question(
            "hours", "Plays by hour of day (UTC)", plays_by_hour, limited=False, chart="columns"
        ),
        Question(
            "weekdays",
            "Plays by weekday (0 = Sunday)",
            plays_by_weekday,
            limited=False,
            chart="columns",
        ),
        Question(
            "levels", "Free vs paid share of plays", level_share, limited=False, chart="share"
        ),
        Question("users", "Most active users", most_active_users),
        Question("locations", "Top locations by plays", top_locations),
        Question(
            "user_agents", "Plays by browser family", plays_by_user_agent_family, limited=False
        ),
    )
}


@dataclass(frozen=True)
class Answer:
    """The answer to one question: its rows, with column names.

    Attributes:
        name: The question's name.
        description: The question's description.
        columns: Column names, in order.
        rows: The result rows, as tuples of plain Python values.
    """

    name: str
    description: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run(conn: sa.Connection, name: str, limit: int = 10) -> Answer:
    """Answer the question called ``name``.

    Args:
        conn: A connection to the warehouse.
        name: A key of :data:`QUESTIONS`.
        limit: Rows to return for the top-N questions.

    Returns:
        The answer.

    Raises:
        UnknownQuestionError: No question is called ``name``.
        DatabaseError: The database refused the query (e.g. a table is missing).
    """
    question = QUESTIONS.get(name)
    if question is None:
        raise UnknownQuestionError(name, tuple(QUESTIONS))
    with translated(f"analytics question {name}"):
        result = executor_for(conn)(conn, question(limit))
        columns = list(result.keys())
        rows = [tuple(row) for row in result]
    return Answer(name, question.description, columns, rows)


def run_all(conn: sa.Connection, limit: int = 10) -> list[Answer]:
    """Answer every question of :data:`QUESTIONS`, in its order."""
    return [run(conn, name, limit) for name in QUESTIONS]


def _value_at(answer: Answer) -> int:
    """Where the charted value is: ``plays`` when there, else the last column."""
    return answer.columns.index("plays") if "plays" in answer.columns else len(answer.columns) - 1


def _every_key(answer: Answer, key: str, keys: Sequence[int]) -> list[float]:
    """The value for each of ``keys`` in order (0 where the answer has no row for it)."""
    at, value_at = answer.columns.index(key), _value_at(answer)
    found = {int(row[at]): float(row[value_at]) for row in answer.rows}
    return [found.get(k, 0.0) for k in keys]


def series(answer: Answer) -> charts.Series:
    """An answer's chart data, in the shape its question fits.

    ``hours``: all 24 hours, 0 to 23 in order, 0 where there were no plays;
    ``weekdays``: every day in :data:`WEEKDAY_NAMES`' order, 0 where none;
    ``levels``: the plays per level, as a share; the rest: a ranking, one bar per
    row, labelled with the row's other values (``title — artist``).
    """
    question = QUESTIONS.get(answer.name)
    kind: charts.Kind = question.chart if question is not None else "bars"
    value_at = _value_at(answer)
    value_name = answer.columns[value_at]
    if answer.name == "hours":
        hours = range(24)
        values = _every_key(answer, "hour", hours)
        return charts.Series(
            answer.name, answer.description, kind, [str(h) for h in hours], values, value_name
        )
    if answer.name == "weekdays":
        days = range(len(WEEKDAY_NAMES))
        values = _every_key(answer, "weekday", days)
        labels = [WEEKDAY_NAMES[d][:3] for d in days]
        return charts.Series(answer.name, answer.description, kind, labels, values, value_name)
    labels = [
        " — ".join(str(v) for v in row[:value_at] if v is not None) or "(none)"
        for row in answer.rows
    ]
    values = [float(row[value_at]) for row in answer.rows]
    return charts.Series(answer.name, answer.description, kind, labels, values, value_name)


def write_charts(answers: Sequence[Answer], out_dir: Path) -> list[Path]:
    """Write one chart per answer, ``<out_dir>/<name>.png``, of the kind :func:`series` gives.

    Needs matplotlib, the optional extra ``sparkify[charts]`` (see :mod:`sparkify.charts`).

    Args:
        answers: The answers to chart.
        out_dir: Folder for the PNG files (created if missing).

    Returns:
        The paths written, in the order of ``answers``.

    Raises:
        MissingExtraError: matplotlib is not installed.
        OutputError: the folder or a file in it cannot be written.
    """
    charts.require_matplotlib()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(str(out_dir), exc.strerror or type(exc).__name__) from None
    written: list[Path] = []
    for answer in answers:
        fig = charts.figure(series(answer))
        fig.suptitle(answer.description, color=charts.TEXT_COLOUR)
        path = out_dir / f"{answer.name}.png"
        charts.save_png(fig, path)
        written.append(path)
    return written


def check_chart_dir(out_dir: Path) -> None:
    """Fail early, creating nothing, when ``out_dir`` cannot become a folder of charts.

    Looks up to the nearest existing folder: a file on the way, or a folder
    this process may not write, is refused before the warehouse is queried.
    (Writing can still fail later, e.g. on a read-only file system, for root;
    :func:`write_charts` says so then.)

    Raises:
        OutputError: naming the folder and why.
    """
    for candidate in (out_dir, *out_dir.absolute().parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = "is" if candidate == out_dir else f"is inside {candidate}, which is"
                raise OutputError(str(out_dir), f"it {where} not a folder")
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise OutputError(str(out_dir), f"{candidate} is not writable")
            return
