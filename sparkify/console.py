"""What every sparkify command shares: the consoles and one-line errors."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from sparkify.errors import SparkifyError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class SparkifyGroup(click.Group):
    """A click group that turns SparkifyError into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SparkifyError as exc:
            # The message may hold source text: never read it as rich markup.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(1)
