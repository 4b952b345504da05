"""What every sparkify command shares: the consoles, one-line errors, notices and tables."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sparkify.errors import LoadInterrupted, SparkifyError

if TYPE_CHECKING:
    from sparkify.load import LoadReport

#: Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
INTERRUPTED = 130

#: How wide stdout is when it is not a terminal: wider than any line sparkify prints,
#: so that a table piped or redirected keeps its full width (lines end where they end).
PIPED_WIDTH = 1_000_000


class StdoutConsole(Console):
    """The console of stdout: in a terminal as wide as it, elsewhere never cutting a table.

    rich sizes its output to the terminal, or to 80 columns when there is none,
    and cuts what does not fit (``staging_so…``, ``93,630,2…``): that is for
    eyes. Piped or redirected, the output is for programs and files: every
    table and line gets the width it needs.
    """

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; when stdout is not one, :data:`PIPED_WIDTH` columns."""
        found = super().size
        if self.is_terminal:
            return found
        return ConsoleDimensions(PIPED_WIDTH, found.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def print(self, *objects: Any, **options: Any) -> None:
        """Print as rich does; not in a terminal, a table is as wide as its title too.

        rich wraps a title to its table's width (``Row counts on postg`` /
        ``res@...``): piped, the table widens to hold it on one line.
        """
        if not self.is_terminal:
            for table in objects:
                if isinstance(table, Table) and table.title is not None:
                    title = table.title
                    text = Text.from_markup(title) if isinstance(title, str) else title
                    table.min_width = max(table.min_width or 0, cell_len(text.plain))
        super().print(*objects, **options)


console = StdoutConsole(highlight=False)
err_console = Console(stderr=True, highlight=False)


class SparkifyGroup(click.Group):
    """A click group: a SparkifyError is one line and exit 1; Ctrl-C one line and exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SparkifyError as exc:
            _error_line(error_message(exc))
            sys.exit(1)
        except KeyboardInterrupt as exc:
            _error_line(error_message(exc))
            sys.exit(INTERRUPTED)


def error_message(exc: SparkifyError | KeyboardInterrupt) -> str:
    """The one-line message of a failure, as the ``error:`` line gives it."""
    if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, LoadInterrupted):
        # A load says whether it committed (LoadInterrupted); anything else
        # only reads, or has not begun to write.
        return "interrupted"
    return str(exc)


def _error_line(message: str) -> None:
    """One ``error:`` line on stderr; the message may hold source text, never read as markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def notice(message: str) -> None:
    """Tell the user, on stderr, why a command waits (the message is ours: no markup)."""
    err_console.print(escape(message), style="yellow", soft_wrap=True)


def print_report(report: LoadReport) -> None:
    """Print a load report as tables."""
    staged = Table(
        "staging table",
        "objects staged",
        "new",
        "changed",
        "already loaded",
        "bytes",
        "rows",
        title=f"Staged ({report.mode} load)",
    )
    for name, rows in report.staged.items():
        staged.add_row(
            name,
            f"{report.objects.get(name, 0):,}",
            f"{report.new_objects.get(name, 0):,}",
            f"{report.changed_objects.get(name, 0):,}",
            f"{report.skipped_objects.get(name, 0):,}",
            f"{report.bytes.get(name, 0):,}",
            f"{rows:,}",
        )
    console.print(staged)
    star = Table("star table", "inserted", "updated", "rows now", title="Star schema")
    for name in ("songplays", "users", "songs", "artists", "time"):
        star.add_row(
            name,
            f"{report.inserted.get(name, 0):,}",
            f"{report.updated.get(name, 0):,}",
            f"{report.totals.get(name, 0):,}",
        )
    console.print(star)
    steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in report.seconds.items())
    console.print(f"Run {report.run_id} on {report.backend}: {report.total_seconds:.2f}s ({steps})")
    if report.skipped:
        console.print(
            f"[yellow]{report.skipped} bad record(s) skipped; see the load_errors "
            f"table (run_id = '{report.run_id}').[/]"
        )


def cell(value: Any) -> str:
    """A table cell for a value from the warehouse (its text is never read as markup)."""
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else escape(str(value))
