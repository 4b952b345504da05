"""The ``sparkify`` command, stopping at a chosen point of a load until it is sent SIGINT.

    python -m tests.e2e.interrupt_runner POINT READY sparkify-arguments...

The real CLI runs in this process; when the load reaches POINT it writes the
file READY and sleeps, so the test can send SIGINT (Ctrl-C) from outside at a
known point. Points: ``staging`` (after the first staged object), a transform
step name (``songplays``), ``query`` (during a long query on the load's
connection, as the songplays step begins), ``commit`` (just before COMMIT), ``committed``
(just after COMMIT returned, inside the load) and ``report`` (after the load
returned, while its report prints).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkify import cli
from sparkify.cli import loading, progress


def main() -> None:
    point, ready, *args = sys.argv[1:]

    def reached(name: str) -> None:
        if name == point:
            Path(ready).write_text(name)
            # Ctrl-C arrives here. Short sleeps: the kernel may hand SIGINT to one of
            # DuckDB's threads, which does not wake a long sleep of the main thread;
            # Python raises KeyboardInterrupt at the main thread's next check.
            for _ in range(1200):
                time.sleep(0.05)

    armed = False
    long_query = False
    advance, begin_step, commit, execute = (
        progress.RichProgress.advance,
        progress.RichProgress.begin_step,
        sa.Connection.commit,
        sa.Connection.execute,
    )

    def trap_advance(self: progress.RichProgress, objects: int, size: int) -> None:
        advance(self, objects, size)
        reached("staging")

    def trap_step(self: progress.RichProgress, name: str) -> None:
        nonlocal armed, long_query
        begin_step(self, name)
        armed = name == "commit"
        long_query = point == "query" and name == "songplays"
        reached(name)

    def trap_execute(self: sa.Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal long_query
        if long_query:
            long_query = False
            # DuckDB (2.0.1) stops a query on SIGINT only when its main thread gets
            # the signal; otherwise the statement ends first and Python raises
            # KeyboardInterrupt right after: a few seconds of work, either way.
            slow = (
                "SELECT pg_sleep(60)"
                if self.engine.url.get_backend_name() == "postgresql"
                else "SELECT count(*) FROM range(30000000000)"
            )
            Path(ready).write_text("query")
            self.exec_driver_sql(slow)  # Ctrl-C arrives while the database works
        return execute(self, statement, *args, **kwargs)

    def trap_commit(self: sa.Connection) -> None:
        nonlocal armed
        commit(self)
        if armed:  # the load's COMMIT (and only it: cleanup commits come after)
            armed = False
            reached("committed")

    print_report = loading.print_report

    def trap_report(report: Any) -> None:
        reached("report")
        print_report(report)

    progress.RichProgress.advance = trap_advance  # type: ignore[method-assign]
    progress.RichProgress.begin_step = trap_step  # type: ignore[method-assign]
    sa.Connection.commit = trap_commit  # type: ignore[method-assign]
    sa.Connection.execute = trap_execute  # type: ignore[method-assign]
    loading.print_report = trap_report  # where etl looks it up
    cli.main(args, prog_name="sparkify")


if __name__ == "__main__":
    main()
