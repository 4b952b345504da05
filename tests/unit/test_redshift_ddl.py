"""The Redshift DDL, compiled with no connection: golden text, and Redshift's parser."""

from __future__ import annotations

import pytest
from sqlalchemy.schema import CreateTable
from sqlglot import exp

from sparkify import models
from tests.redshift_sql import REDSHIFT, assert_golden, assert_redshift_parses

pytestmark = pytest.mark.unit

TABLES = sorted(models.metadata.tables)


@pytest.mark.parametrize("name", TABLES)
def test_redshift_create_table_matches_golden_text(name: str) -> None:
    sql = str(CreateTable(models.metadata.tables[name]).compile(dialect=REDSHIFT))
    assert_golden(f"ddl_{name}", sql)


@pytest.mark.parametrize("name", TABLES)
def test_redshift_create_table_parses_as_redshift(name: str) -> None:
    sql = str(CreateTable(models.metadata.tables[name]).compile(dialect=REDSHIFT))
    (tree,) = assert_redshift_parses(sql)
    assert isinstance(tree, exp.Create)


def test_surrogate_keys_render_as_redshift_identity() -> None:
    sql = str(CreateTable(models.songplays).compile(dialect=REDSHIFT))
    assert "songplay_id BIGINT IDENTITY(0,1) NOT NULL" in sql
    assert "GENERATED" not in sql


def test_every_table_declares_its_distribution_style() -> None:
    for table in models.metadata.tables.values():
        sql = str(CreateTable(table).compile(dialect=REDSHIFT))
        assert "DISTSTYLE" in sql, table.name


def test_fact_is_distributed_with_its_largest_dimension_and_sorted_by_time() -> None:
    fact = str(CreateTable(models.songplays).compile(dialect=REDSHIFT))
    songs = str(CreateTable(models.songs).compile(dialect=REDSHIFT))
    assert "DISTKEY (song_id) SORTKEY (start_time)" in fact
    assert "DISTKEY (song_id)" in songs


def test_small_dimensions_are_copied_to_every_node() -> None:
    for table in (models.users, models.artists):
        assert "DISTSTYLE ALL" in str(CreateTable(table).compile(dialect=REDSHIFT))


def test_redshift_dialect_does_not_claim_returning_support() -> None:
    # Alembic and the ORM add RETURNING when the dialect claims it; Redshift has none.
    assert not REDSHIFT.insert_returning
    assert not REDSHIFT.update_returning
    assert not REDSHIFT.delete_returning
