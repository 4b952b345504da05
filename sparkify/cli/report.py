"""``sparkify report OUT.html``: the warehouse as one self-contained HTML page.

Reads like ``counts``, ``check`` and ``analyze`` (a DuckDB file opens
read-only; a warehouse not built yet is "no warehouse"). The library is
imported inside the command, so that importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from sparkify.cli.console import console, notice
from sparkify.cli.options import settings_options

if TYPE_CHECKING:
    from sparkify.config import Settings


@click.command("report")
@settings_options
@click.argument("out", metavar="OUT.html", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows per ranking question (songs, artists, users, locations).",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many recent load runs to show.",
)
def report(settings: Settings, out: Path, limit: int, runs: int) -> None:
    """Write one self-contained HTML report: charts, data quality, counts, load runs."""
    from functools import partial

    from sparkify import charts
    from sparkify import report as library
    from sparkify.counts import COUNTED_TABLES
    from sparkify.db import reader_engine, reading
    from sparkify.staging import stager_for

    charts.require_matplotlib("the report's charts")
    library.check_output(out)
    engine = reader_engine(settings)
    try:
        with reading(engine, settings.schema, COUNTED_TABLES, "building the report"):
            collect = partial(library.collect, limit=limit, runs=runs)
            data = stager_for(settings.backend).read(engine, collect, notify=notice)
    finally:
        engine.dispose()
    library.write(out, library.render(data))
    size = out.stat().st_size
    console.print(f"Wrote {escape(str(out))} ({size / 1024:,.0f} KiB): open it in a browser")
