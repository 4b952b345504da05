"""The first minute with sparkify: generate data, build DuckDB by the migrations, load, look."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sparkify import analytics, load, quality, schema
from sparkify.config import load_settings
from sparkify.db import engine_for_url
from sparkify.generate import GenerateReport, generate
from sparkify.progress import RichProgress

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
    console: Console,
) -> GenerateReport:
    """:func:`sparkify.generate.generate` with a progress bar of events written."""
    with Progress(
        TextColumn("generating events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
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
    console: Console | None = None,
) -> DemoResult:
    """Generate sources into ``folder``, load them into ``folder/sparkify.duckdb``, summarise.

    The folder's ``song_data/``, ``log_data/`` and DuckDB file are replaced.
    """
    console = console or Console(stderr=True)
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
        console=console,
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
        with RichProgress(console, enabled=console.is_terminal) as bars:
            report = load.run(engine, settings, mode="full", progress=bars)
        with engine.connect() as conn:
            checks = quality.run_checks(conn)
            answers = [analytics.run(conn, name, limit=5) for name in DEMO_QUESTIONS]
    finally:
        engine.dispose()
    return DemoResult(url, generated, report, checks, answers, time.perf_counter() - started)
