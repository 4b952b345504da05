"""Redshift's system-view queries and the load lock, as the text sent (golden files)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from sparkify.staging import redshift, redshift_errors
from tests.redshift_sql import assert_golden, assert_redshift_parses, compile_redshift

pytestmark = pytest.mark.unit

LOOKUP = {"session": 1073815883, "table_id": 108863}
SENT = {
    "catalog_session_id": redshift_errors.SESSION_ID,
    "catalog_table_id": redshift_errors.TABLE_ID.bindparams(table="staging_events"),
    "catalog_errors_before": redshift_errors.ERRORS_BEFORE.bindparams(**LOOKUP),
    "catalog_copy_errors": redshift_errors.COPY_ERRORS.bindparams(
        **LOOKUP, since="2026-12-04 19:01:02.345678"
    ),
    "catalog_copy_errors_first": redshift_errors.COPY_ERRORS.bindparams(**LOOKUP, since=None),
}


@pytest.mark.parametrize("name", sorted(SENT))
def test_system_view_queries_are_sent_as_the_golden_text_and_parse(name: str) -> None:
    sql = compile_redshift(SENT[name])
    assert_golden(name, sql)
    (tree,) = assert_redshift_parses(sql)
    assert isinstance(tree, exp.Select)


@pytest.mark.parametrize("name", sorted(SENT))
def test_no_system_table_a_non_superuser_or_serverless_lacks_is_read(name: str) -> None:
    # STV_LOCKS is superuser-only; STL and STV tables exist on clusters only.
    sql = compile_redshift(SENT[name]).lower()
    assert "stv_" not in sql
    assert "stl_" not in sql
    assert "pg_last_copy_id" not in sql


def test_the_copy_errors_are_those_of_this_session_table_and_copy() -> None:
    sql = compile_redshift(SENT["catalog_copy_errors"])
    assert "session_id = 1073815883" in sql
    assert "table_id = 108863" in sql
    assert "start_time > COALESCE(CAST('2026-12-04 19:01:02.345678' AS TIMESTAMP)" in sql


@pytest.mark.parametrize("name", sorted(SENT))
def test_no_type_or_function_redshift_refuses_next_to_a_system_view(name: str) -> None:
    # REGCLASS is unsupported; current_schema() runs on the leader node only and
    # cannot share a statement with a system view.
    sql = compile_redshift(SENT[name])
    assert "REGCLASS" not in sql.upper()
    if "sys_" in sql:
        assert "current_schema" not in sql


def test_the_load_lock_is_an_exclusive_lock_on_the_ledger_bounded_by_a_statement_timeout() -> None:
    # sqlglot has no LOCK statement (it falls back to Command), so these are
    # checked as exact text: https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
    texts = [
        compile_redshift(redshift.SET_TIMEOUT.bindparams(ms=3_600_000)),
        compile_redshift(redshift.LOCK_LEDGER),
        compile_redshift(redshift.RESET_TIMEOUT),
    ]
    assert texts == [
        "SET LOCAL statement_timeout TO 3600000",
        "LOCK load_ledger",
        "RESET statement_timeout",
    ]
    assert isinstance(sqlglot.parse_one(texts[1], read="redshift"), exp.Command)
    assert isinstance(redshift.LOCK_LEDGER, sa.TextClause)
