"""The benchmark's warehouses: a DuckDB file or a PostgreSQL database of its own per run."""

from __future__ import annotations

import shutil
import time as clock
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


class BenchmarkError(Exception):
    """The benchmark cannot go on (a worker failed, PostgreSQL is unreachable...)."""


@dataclass(frozen=True)
class Warehouse:
    """A fresh warehouse: a DuckDB file or a PostgreSQL database of its own."""

    backend: str
    url: sa.URL
    name: str
    path: Path | None = None

    @property
    def url_text(self) -> str:
        """The URL with its password, for the worker (sent on stdin, never in argv)."""
        return self.url.render_as_string(hide_password=False)

    @property
    def conninfo(self) -> str:
        """A libpq URL (PostgreSQL only), for the row-by-row loader."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Warehouses:
    """Creates and drops warehouses: DuckDB files in ``work_dir``, PostgreSQL databases.

    PostgreSQL databases are named ``bench_<random>`` and created through the
    admin URL; every one this object creates is dropped when it closes.
    """

    def __init__(self, admin_url: sa.URL, work_dir: Path) -> None:
        """Remember where to create warehouses (nothing is connected yet)."""
        self.admin_url = admin_url
        self.work_dir = work_dir
        self._admin: sa.Engine | None = None
        self._databases: set[str] = set()

    def admin(self) -> sa.Engine:
        """An autocommit engine on the admin database."""
        if self._admin is None:
            self._admin = sa.create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
            )
            try:
                with self._admin.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            except sa.exc.OperationalError as exc:
                where = self.admin_url.render_as_string(hide_password=True)
                reason = (str(exc.orig).strip().splitlines() or ["no reason given"])[0]
                raise BenchmarkError(
                    f"PostgreSQL is not reachable at {where} ({reason}); "
                    "start it or pass --postgres-url (or --backends duckdb)"
                ) from None
        return self._admin

    def server_version(self) -> str:
        """PostgreSQL's ``server_version``."""
        with self.admin().connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())

    def create(self, backend: str, *, template: Warehouse | None = None) -> Warehouse:
        """A new warehouse, empty or a copy of ``template`` (schema not built)."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        if backend == "duckdb":
            path = self.work_dir / f"{name}.duckdb"
            if template is not None and template.path is not None:
                shutil.copyfile(template.path, path)
                wal = template.path.with_name(template.path.name + ".wal")
                if wal.exists():
                    shutil.copyfile(wal, path.with_name(path.name + ".wal"))
            return Warehouse(backend, sa.make_url(f"duckdb:///{path}"), name, path)
        quoted = f'"{name}"'
        statement = f"CREATE DATABASE {quoted}"
        if template is not None:
            statement += f' TEMPLATE "{template.name}"'
        self._create_database(statement)
        self._databases.add(name)
        return Warehouse(backend, self.admin_url.set(database=name), name)

    def _create_database(self, statement: str) -> None:
        # A template must have no other sessions: an autovacuum worker may still be
        # finishing there; PostgreSQL stops it, but give it a few tries.
        for attempt in range(5):
            try:
                with self.admin().connect() as conn:
                    conn.exec_driver_sql(statement)
                return
            except sa.exc.OperationalError as exc:
                if "being accessed by other users" not in str(exc) or attempt == 4:
                    raise
                clock.sleep(1.0)

    def build(self, warehouse: Warehouse) -> None:
        """Build the schema with sparkify's migrations (``schema.upgrade``)."""
        from sparkify import schema
        from sparkify.db import engine_for_url

        engine = engine_for_url(warehouse.url, poolclass=sa.pool.NullPool)
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()

    def settle(self, warehouse: Warehouse) -> None:
        """After a setup load: ``VACUUM ANALYZE`` (PostgreSQL), as autovacuum would have."""
        if warehouse.backend != "postgresql":
            return
        engine = sa.create_engine(
            warehouse.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        finally:
            engine.dispose()

    def checkpoint(self, warehouse: Warehouse) -> None:
        """Before a measured PostgreSQL run: ``CHECKPOINT``, best effort.

        Flushes what earlier runs and ``CREATE DATABASE`` left dirty, so that work
        does not land inside the next measurement (needs superuser or
        ``pg_checkpoint``; skipped without).
        """
        if warehouse.backend != "postgresql":
            return
        try:
            with self.admin().connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
        except sa.exc.DBAPIError:
            pass

    def drop(self, warehouse: Warehouse) -> None:
        """Delete a warehouse (file or database)."""
        if warehouse.path is not None:
            for path in (warehouse.path, warehouse.path.with_name(warehouse.path.name + ".wal")):
                path.unlink(missing_ok=True)
            return
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{warehouse.name}" WITH (FORCE)')
        self._databases.discard(warehouse.name)

    @contextmanager
    def fresh(self, backend: str) -> Iterator[Warehouse]:
        """A new warehouse with the schema built, dropped afterwards."""
        warehouse = self.create(backend)
        try:
            self.build(warehouse)
            yield warehouse
        finally:
            self.drop(warehouse)

    @contextmanager
    def copy_of(self, template: Warehouse) -> Iterator[Warehouse]:
        """A new warehouse holding what ``template`` holds, dropped afterwards."""
        warehouse = self.create(template.backend, template=template)
        try:
            yield warehouse
        finally:
            self.drop(warehouse)

    def close(self) -> None:
        """Drop any database still left and release the admin engine."""
        if self._admin is not None:
            for name in sorted(self._databases):
                with self._admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._databases.clear()
            self._admin.dispose()
            self._admin = None
