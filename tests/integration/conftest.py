"""Backend fixtures shared by the integration tests that insert known rows directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sparkify import schema
from sparkify.db import engine_for_url
from tests.warehouse import empty_all


@pytest.fixture(scope="module")
def pg_warehouse(pg_engine: sa.Engine) -> sa.Engine:
    """The session's PostgreSQL database at the head revision (built once per module)."""
    schema.upgrade(pg_engine)
    return pg_engine


@pytest.fixture
def duckdb_warehouse(duckdb_url: sa.URL) -> Iterator[sa.Engine]:
    """A fresh DuckDB file at the head revision."""
    engine = engine_for_url(duckdb_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["pg", "duckdb"], ids=["postgresql", "duckdb"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Each backend in turn, its tables emptied."""
    engine: sa.Engine = request.getfixturevalue(f"{request.param}_warehouse")
    empty_all(engine)
    return engine
