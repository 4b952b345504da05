"""Staging: load source objects into ``staging_events`` and ``staging_songs``.

One module per backend, the same interface (:class:`Stager`):

* :mod:`sparkify.staging.redshift` — ``COPY ... FORMAT JSON`` from S3;
* :mod:`sparkify.staging.postgres` — COPY's semantics emulated in Python
  (:mod:`sparkify.staging.records`, :mod:`sparkify.staging.rows`), rows streamed
  with ``COPY FROM STDIN``;
* :mod:`sparkify.staging.duckdb` — the log files read by DuckDB itself, COPY's
  rules in SQL (:mod:`sparkify.staging.native`, :mod:`sparkify.staging.native_screen`,
  :mod:`sparkify.staging.duckdb_events`);
  the song files, and any log file the native path declines, by the same
  emulation, rows bulk-inserted.

Only these modules know which database they talk to.
"""

from __future__ import annotations

from sparkify.staging.base import (
    ErrorBudget,
    LockingStager,
    Progress,
    Stager,
    StageResult,
)


def stager_for(backend: str) -> Stager:
    """The stager of a backend family (``redshift``, ``postgresql``, ``duckdb``)."""
    if backend == "redshift":
        from sparkify.staging.redshift import RedshiftStager

        return RedshiftStager()
    if backend == "postgresql":
        from sparkify.staging.postgres import PostgresStager

        return PostgresStager()
    if backend == "duckdb":
        from sparkify.staging.duckdb import DuckDBStager

        return DuckDBStager()
    raise ValueError(f"no stager for {backend!r}")


__all__ = [
    "ErrorBudget",
    "LockingStager",
    "Progress",
    "StageResult",
    "Stager",
    "stager_for",
]
