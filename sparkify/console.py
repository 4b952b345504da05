"""What every sparkify command shares: the consoles and one-line errors."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from sparkify.errors import LoadInterrupted, SparkifyError

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
