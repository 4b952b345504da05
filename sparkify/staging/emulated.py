"""COPY's emulation, shared by the PostgreSQL and DuckDB stagers.

The objects are parsed in Python with COPY's semantics (:mod:`sparkify.staging.records`,
:mod:`sparkify.staging.rows`) and the rows handed to a backend sink (binary COPY FROM
STDIN, DuckDB's reader).
Redshift runs the real COPY and borrows nothing from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sparkify.config import Settings
from sparkify.errors import BadRecordError
from sparkify.models import staging_events
from sparkify.sources import Plan, SourceObject, TableSources, stream_sources
from sparkify.staging.base import ErrorBudget, LockingStager, Progress, StageResult
from sparkify.staging.rows import RowBuilder, event_builder, song_builder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RowSink = Callable[[tuple[Any, ...]], None]


class EmulatedStager(LockingStager):
    """Parses the objects in Python (COPY's semantics) and hands rows to a backend sink.

    Subclasses provide :meth:`clear` and :meth:`sink`.
    """

    def clear(self, conn: sa.Connection, table: sa.Table) -> None:
        """Remove every row of a staging table, inside the transaction."""
        conn.execute(sa.delete(table))

    def sink(self, conn: sa.Connection, table: sa.Table) -> AbstractContextManager[RowSink]:
        """A context whose value takes rows of ``table`` in column order."""
        raise NotImplementedError

    def insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]
    ) -> None:
        """Insert many rows through the staging bulk path (COPY, read_json)."""
        names = [column.name for column in table.columns]
        with self.sink(conn, table) as write:
            for row in rows:
                write(tuple(row[name] for name in names))

    def stage(
        self,
        conn: sa.Connection,
        plan: Plan,
        settings: Settings,
        *,
        budget: ErrorBudget,
        run_id: str,
        progress: Progress,
        client: S3Client | None = None,
    ) -> list[StageResult]:
        """Empty both staging tables and stream every planned object into them."""
        results = []
        for sources in plan.tables:
            table = sources.table
            self.clear(conn, table)
            progress.begin_table(table.name, len(sources.objects), sources.size)
            rows = self.stage_table(
                conn, sources, plan, settings, budget=budget, progress=progress, client=client
            )
            results.append(StageResult(table.name, len(sources.objects), sources.size, rows))
        budget.record(conn, run_id)
        return results

    def stage_table(
        self,
        conn: sa.Connection,
        sources: TableSources,
        plan: Plan,
        settings: Settings,
        *,
        budget: ErrorBudget,
        progress: Progress,
        client: S3Client | None,
    ) -> int:
        """Stage the objects of one table (the Python path); return how many rows."""
        return self.stage_python(
            conn,
            sources.table,
            builder_for(sources.table, plan),
            sources.objects,
            budget=budget,
            progress=progress,
            client=client,
        )

    def stage_python(
        self,
        conn: sa.Connection,
        table: sa.Table,
        builder: RowBuilder,
        objects: Iterable[SourceObject],
        *,
        budget: ErrorBudget,
        progress: Progress,
        client: S3Client | None,
        names: Mapping[str, str] | None = None,
    ) -> int:
        """Parse ``objects`` in Python (COPY's semantics) and write their rows to the sink.

        Bad records go to ``budget`` in the objects' order. ``names``: the name
        an error gives an object read from a local copy (its ``s3://`` URI).
        """
        rows = 0
        with self.sink(conn, table) as write:
            for obj, blocks in stream_sources(objects, client=client):
                name = names.get(obj.uri, obj.uri) if names else obj.uri
                for row in builder.rows(blocks, name):
                    if isinstance(row, BadRecordError):
                        budget.add(table.name, row)
                    else:
                        write(row)
                        rows += 1
                progress.advance(1, obj.size)
        return rows


def builder_for(table: sa.Table, plan: Plan) -> RowBuilder:
    """The row builder of a staging table (events through the plan's JSONPaths)."""
    return event_builder(plan.jsonpaths) if table is staging_events else song_builder()
