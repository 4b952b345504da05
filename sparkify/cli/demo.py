"""``sparkify generate`` and ``sparkify demo``: the first minute with sparkify.

``demo`` generates data, builds DuckDB by the migrations, loads and looks, with
the progress bars the other commands draw; ``generate`` only writes the data.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sparkify.cli.console import cell, console, err_console, print_report
from sparkify.cli.progress import RichProgress
from sparkify.errors import FolderNotEmptyError

if TYPE_CHECKING:
    from sparkify import analytics, load, quality
    from sparkify.generate import GenerateReport

# The library (SQLAlchemy, Alembic, DuckDB) is imported inside the functions:
# ``sparkify demo --help`` needs none of it (see the package's docstring).

DEFAULT_EVENTS = 200_000
DEFAULT_SONGS = 10_000
DEFAULT_USERS = 1_000
DEMO_QUESTIONS = ("songs", "weekdays", "levels")


@dataclass(frozen=True)
class DemoResult:
    """What the demo built and found."""

    database_url: str
    generated: GenerateReport
    report: load.LoadReport
    checks: list[quality.CheckResult]
    answers: list[analytics.Answer]
    seconds: float


def generate_with_progress(
    out_dir: Path,
    *,
    events: int,
    songs: int,
    users: int,
    days: int,
    seed: int,
    overwrite: bool,
    err: Console,
) -> GenerateReport:
    """:func:`sparkify.generate.generate` with a progress bar of events written."""
    from sparkify.generate import generate

    with Progress(
        TextColumn("generating events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as bars:
        task = bars.add_task("generate", total=events)
        return generate(
            out_dir,
            events=events,
            songs=songs,
            users=users,
            days=days,
            seed=seed,
            overwrite=overwrite,
            progress=lambda done: bars.update(task, completed=done),
        )


def run_demo(
    folder: Path,
    *,
    events: int = DEFAULT_EVENTS,
    songs: int = DEFAULT_SONGS,
    seed: int = 0,
    err: Console,
) -> DemoResult:
    """Generate sources into ``folder``, load them into ``folder/sparkify.duckdb``, summarise.

    The folder's ``song_data/``, ``log_data/`` and DuckDB file are replaced.
    """
    from sparkify import analytics, load, quality, schema
    from sparkify.config import load_settings
    from sparkify.db import engine_for_url

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("song_data", "log_data"):
        shutil.rmtree(folder / stale, ignore_errors=True)
    database = folder / "sparkify.duckdb"
    for path in (database, database.with_suffix(".duckdb.wal")):
        path.unlink(missing_ok=True)
    generated = generate_with_progress(
        folder,
        events=events,
        songs=songs,
        users=min(DEFAULT_USERS, max(1, events // 50)),
        days=30,
        seed=seed,
        overwrite=True,
        err=err,
    )
    url = f"duckdb:///{database}"
    settings = load_settings(
        environ={},
        database_url=url,
        song_data=str(generated.song_data),
        log_data=str(generated.log_data),
        log_jsonpath=str(generated.log_jsonpath),
    )
    engine = engine_for_url(url)
    try:
        schema.upgrade(engine)
        with RichProgress(err, enabled=err.is_terminal) as bars:
            report = load.run(engine, settings, mode="full", progress=bars)
        with engine.connect() as conn:
            checks = quality.run_checks(conn)
            answers = [analytics.run(conn, name, limit=5) for name in DEMO_QUESTIONS]
    finally:
        engine.dispose()
    return DemoResult(url, generated, report, checks, answers, time.perf_counter() - started)


@click.command("generate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--events",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Event lines in all.",
)
@click.option(
    "--songs",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Song files (one record each).",
)
@click.option(
    "--users",
    type=click.IntRange(min=0),
    default=1_000,
    show_default=True,
    help="Distinct listeners.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Daily log files, from 2018-11-01.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same arguments write the same bytes.",
)
@click.option("--force", is_flag=True, help="Replace song_data/ and log_data/ if OUT_DIR has them.")
def generate_command(
    out_dir: Path, events: int, songs: int, users: int, days: int, seed: int, force: bool
) -> None:
    """Write eventsim-like sources (song_data/, log_data/, log_json_path.json) into OUT_DIR."""
    try:
        report = generate_with_progress(
            out_dir,
            events=events,
            songs=songs,
            users=users,
            days=days,
            seed=seed,
            overwrite=force,
            err=err_console,
        )
    except FolderNotEmptyError as exc:
        # The library names its parameter; the command has a flag for it.
        raise FolderNotEmptyError(exc.folder, remedy="pass --force") from None
    console.print(
        f"Wrote {report.events:,} events of {report.users:,} users in "
        f"{report.log_files} log files and {report.song_files:,} song files "
        f"({report.bytes_written / 1e6:,.1f} MB) to {out_dir} in {report.seconds:.1f}s",
        markup=False,
    )
    console.print(
        f"Load them: sparkify etl --song-data {report.song_data} "
        f"--log-data {report.log_data} --log-jsonpath {report.log_jsonpath}",
        markup=False,
    )


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sparkify-demo"),
    show_default=True,
    help="Folder for the generated sources and the DuckDB file (replaced).",
)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=DEFAULT_EVENTS,
    show_default=True,
    help="Events to generate.",
)
@click.option(
    "--songs",
    type=click.IntRange(min=1),
    default=DEFAULT_SONGS,
    show_default=True,
    help="Songs to generate.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
def demo_command(folder: Path, events: int, songs: int, seed: int) -> None:
    """Generate data, build an embedded DuckDB warehouse, load it, and show what it holds."""
    result = run_demo(folder, events=events, songs=songs, seed=seed, err=err_console)
    print_report(result.report)
    table = Table("check", "result", title="Data quality")
    for check_result in result.checks:
        table.add_row(
            check_result.name, "[green]pass[/]" if check_result.passed else "[bold red]FAIL[/]"
        )
    failed = [c for c in result.checks if not c.passed]
    console.print(
        f"Data quality: {len(result.checks) - len(failed)} checks passed, {len(failed)} failed"
    )
    if failed:
        console.print(table)
    for answer in result.answers:
        answer_table = Table(*answer.columns, title=answer.description)
        for row in answer.rows:
            answer_table.add_row(*(cell(v) for v in row))
        console.print(answer_table)
    console.print(
        f"Done in {result.seconds:.1f}s. Explore it: sparkify analyze --database-url "
        f"{result.database_url}",
        markup=False,
    )
