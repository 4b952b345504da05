"""The ``sparkify`` command: thin commands over the library, the one wing that prints.

Each command parses its options, calls the library and prints. A
``SparkifyError`` becomes a one-line message on stderr and exit code 1 (see
:class:`~sparkify.cli.console.SparkifyGroup`). Nothing outside this package
imports it; its modules, by theme:

- ``loading``: ``create-tables`` and ``etl`` (the commands that write);
- ``reading``: ``counts``, ``check``, ``analyze``, ``s3 check``;
- ``report``: ``report``, the HTML page;
- ``history``: ``runs`` and ``runs show`` (the load history);
- ``demo``: ``generate`` and ``demo``;
- ``infra``: ``infra up | status | down``;
- ``options``, ``console``, ``progress``: shared flags, consoles and errors, bars.

Start-up is kept short (issue 15: ``sparkify --help`` and ``--version`` in well
under 0.3 s). The group knows its commands from :data:`COMMANDS`, a name, where
the command lives and its one-line help, and imports a command's module only
when that command runs or shows its own help. The command modules import
click, rich and the other modules of this package at their top; the library
(SQLAlchemy, boto3, Alembic, the drivers) is imported inside the command
functions, so ``sparkify COMMAND --help`` stays light too (``infra``'s help
reads the library's defaults: it imports :mod:`sparkify.infra`).

To add a command, write it (a ``click.Command`` or group) in the module of its
theme, importing the library inside its function, and add one entry to
:data:`COMMANDS`: ``"name": ("sparkify.cli.module:attribute", "Its one-line
help.")``. The help is the first sentence of the command's docstring; a test
(``tests/unit/test_cli_package.py``) checks that every entry names a command
whose own short help it is, and that ``--help`` imports none of the library.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from sparkify.cli.console import SparkifyGroup

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "main"]


class LazyCommand(NamedTuple):
    """Where a command lives (``"module:attribute"``) and its one-line help."""

    target: str
    short_help: str


#: Every ``sparkify`` command: its name, where it lives and its one-line help. One entry each.
COMMANDS: dict[str, LazyCommand] = {
    "create-tables": LazyCommand(
        "sparkify.cli.loading:create_tables",
        "Drop and recreate every warehouse table through the migrations.",
    ),
    "etl": LazyCommand(
        "sparkify.cli.loading:etl",
        "Load the sources into staging and merge them into the star schema, in one transaction.",
    ),
    "counts": LazyCommand(
        "sparkify.cli.reading:counts", "Print the row count of every staging and star table."
    ),
    "check": LazyCommand(
        "sparkify.cli.reading:check", "Run the data-quality checks; exit 1 when any fails."
    ),
    "analyze": LazyCommand(
        "sparkify.cli.reading:analyze",
        "Answer the analytics team's standard questions (all, or those named).",
    ),
    "s3": LazyCommand("sparkify.cli.reading:s3", "Inspect the S3 (or local) sources."),
    "report": LazyCommand(
        "sparkify.cli.report:report",
        "Write one self-contained HTML report: charts, data quality, counts, load runs.",
    ),
    "runs": LazyCommand(
        "sparkify.cli.history:runs",
        "List the load runs (sparkify etl), newest first; `runs show RUN_ID` shows one.",
    ),
    "generate": LazyCommand(
        "sparkify.cli.demo:generate_command",
        "Write eventsim-like sources (song_data/, log_data/, log_json_path.json) into OUT_DIR.",
    ),
    "demo": LazyCommand(
        "sparkify.cli.demo:demo_command",
        "Generate data, build an embedded DuckDB warehouse, load it, and show what it holds.",
    ),
    "infra": LazyCommand(
        "sparkify.cli.infra:infra",
        "Create, inspect and delete the warehouse's AWS side: IAM role, Redshift, inbound rule.",
    ),
}


class LazyGroup(SparkifyGroup):
    """A :class:`SparkifyGroup` whose commands are imported when used, not to list them.

    The pattern of click's documentation ("Lazily Loading Subcommands"), plus
    the command list of ``--help`` written from the registry's one-line help
    instead of from the imported commands.
    """

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, sorted (added ones and the registry's)."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported now; ``None`` when there is none."""
        if cmd_name not in self.lazy or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = self.lazy[cmd_name].target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name].target} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section of ``--help``, from the registry: nothing is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy and name not in self.commands:
                # A stand-in holding the help: click shortens it as it would the command's.
                command: click.Command | None = click.Command(name, help=self.lazy[name].short_help)
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# The version is read from the installed package's metadata only when --version is given.
@click.version_option(None, "--version", package_name="sparkify", prog_name="sparkify")
def main() -> None:
    """Build and keep the Sparkify song-play warehouse (Redshift, PostgreSQL or DuckDB)."""
