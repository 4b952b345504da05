"""The ``sparkify`` command: thin commands over the library.

Each command parses its options, calls the library and prints. A
``SparkifyError`` becomes a one-line message on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, TypeVar

import click
from rich.console import Console

from sparkify import schema
from sparkify.config import Settings, load_settings
from sparkify.db import create_engine, describe
from sparkify.errors import SparkifyError

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class SparkifyGroup(click.Group):
    """A click group that turns SparkifyError into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SparkifyError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
            sys.exit(1)


def settings_options(func: F) -> F:
    """Add the settings flags (--config, --database-url, sources, --schema) to a command.

    The command receives a resolved ``settings: Settings`` argument instead.
    """

    @click.option(
        "--config",
        "config_file",
        metavar="PATH",
        envvar="SPARKIFY_CONFIG",
        help="dwh.cfg to read (default: ./dwh.cfg when present).",
    )
    @click.option(
        "--database-url",
        metavar="URL",
        help="Warehouse database URL (default: SPARKIFY_DATABASE_URL, dwh.cfg "
        "[CLUSTER], else duckdb:///sparkify.duckdb).",
    )
    @click.option("--song-data", metavar="URI", help="s3:// prefix or folder of song files.")
    @click.option("--log-data", metavar="URI", help="s3:// prefix or folder of event logs.")
    @click.option("--log-jsonpath", metavar="URI", help="s3:// URI or path of the JSONPaths file.")
    @click.option(
        "--schema",
        "schema_name",
        metavar="NAME",
        help="Schema of the tables (default: SPARKIFY_SCHEMA, else the database's).",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_file: str | None,
        database_url: str | None,
        song_data: str | None,
        log_data: str | None,
        log_jsonpath: str | None,
        schema_name: str | None,
        **kwargs: Any,
    ) -> Any:
        settings = load_settings(
            config_file=config_file,
            database_url=database_url,
            song_data=song_data,
            log_data=log_data,
            log_jsonpath=log_jsonpath,
            schema=schema_name,
        )
        return func(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(cls=SparkifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("sparkify"), "--version", prog_name="sparkify")
def main() -> None:
    """Build and keep the Sparkify song-play warehouse (Redshift, PostgreSQL or DuckDB)."""


@main.command("create-tables")
@settings_options
def create_tables(settings: Settings) -> None:
    """Drop and recreate every warehouse table through the migrations."""
    engine = create_engine(settings)
    try:
        created = schema.recreate(engine, settings.schema)
        revision = schema.current_revision(engine, settings.schema)
    finally:
        engine.dispose()
    console.print(
        f"Recreated {len(created)} tables on {describe(engine)} "
        f"at schema revision {revision}: {', '.join(created)}"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
