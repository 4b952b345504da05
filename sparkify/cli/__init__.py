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
"""

from __future__ import annotations

from importlib.metadata import version

import click

from sparkify.cli import demo, history, infra, loading, reading, report
from sparkify.cli.console import SparkifyGroup

__all__ = ["main"]


@click.group(cls=SparkifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("sparkify"), "--version", prog_name="sparkify")
def main() -> None:
    """Build and keep the Sparkify song-play warehouse (Redshift, PostgreSQL or DuckDB)."""


for _command in (
    loading.create_tables,
    loading.etl,
    reading.counts,
    reading.check,
    reading.analyze,
    reading.s3,
    report.report,
    history.runs,
    demo.generate_command,
    demo.demo_command,
    infra.infra,
):
    main.add_command(_command)
