"""What every sparkify command shares: the consoles, one-line errors, notices and tables."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sparkify.errors import LoadInterrupted, SparkifyError

if TYPE_CHECKING:
    from sparkify.load import LoadReport

#: Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
INTERRUPTED = 130

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class SparkifyGroup(click.Group):
    """A click group: a SparkifyError is one line and exit 1; Ctrl-C one line and exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SparkifyError as exc:
            _error_line(str(exc))
            sys.exit(1)
        except KeyboardInterrupt as exc:
            # A load says whether it committed (LoadInterrupted); anything else
            # only reads, or has not begun to write.
            _error_line(str(exc) if isinstance(exc, LoadInterrupted) else "interrupted")
            sys.exit(INTERRUPTED)


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
    if "audit" in report.seconds:
        console.print(
            f"Quality gate: {len(report.audited)} checks passed in {report.seconds['audit']:.2f}s."
        )
    else:
        console.print("Quality gate: skipped (--no-audit).")
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
