"""Progress bars for long loads (rich), implementing :class:`sparkify.staging.Progress`."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class RichProgress:
    """One bar per staging table (objects and bytes), then a line for the transform step."""

    def __init__(self, console: Console | None = None, *, enabled: bool = True) -> None:
        self._bars = Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[objects]} objects"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
        )
        self._console = console or Console(stderr=True)
        self._task: TaskID | None = None
        self._done = 0
        self._step: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()

    def begin_table(self, table: str, objects: int, size: int) -> None:
        """Start a bar for ``table``: ``objects`` objects of ``size`` bytes in all."""
        self._done = 0
        self._task = self._bars.add_task(f"staging {table}", total=size, objects=objects, done=0)

    def advance(self, objects: int, size: int) -> None:
        """Move the current table's bar."""
        if self._task is not None:
            self._done += objects
            self._bars.update(self._task, advance=size, done=self._done)

    def notice(self, message: str) -> None:
        """Print a message above the bars (shown even when the bars are off)."""
        # The message may name a path or quote a driver: never read it as markup.
        self._console.print(Text(message, style="yellow"))

    def begin_step(self, name: str) -> None:
        """Show the transform step that runs now."""
        if self._task is not None:  # staging is over: show it complete
            task = self._bars.tasks[self._task]
            self._bars.update(self._task, completed=task.total)
            self._task = None
        if self._step is None:
            self._step = self._bars.add_task("transform", total=None, objects="-", done="-")
        self._bars.update(self._step, description=f"transform: {name}")
