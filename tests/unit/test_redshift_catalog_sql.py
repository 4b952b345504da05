"""Redshift's catalog queries and the load lock: text Redshift gets as it is."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from sparkify.staging import redshift
from tests.redshift_sql import assert_redshift_parses

pytestmark = pytest.mark.unit

QUERIES = {
    "ledger lock holder": redshift.LEDGER_LOCK_HOLDER,
    "sys_load_error_detail": redshift.SYS_LOAD_ERROR,
    "stl_load_errors": redshift.STL_LOAD_ERROR,
    "last copy errors": redshift.LAST_COPY_ERRORS,
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_catalog_queries_parse_as_redshift(name: str) -> None:
    (tree,) = assert_redshift_parses(QUERIES[name].text)
    assert isinstance(tree, exp.Select)


def test_failed_copy_lookups_are_limited_to_the_session_and_the_table() -> None:
    for query in (redshift.SYS_LOAD_ERROR, redshift.STL_LOAD_ERROR):
        names = set(query.compile().params)
        assert names == {"session", "table"}


def test_the_load_lock_is_an_exclusive_lock_on_the_ledger() -> None:
    # sqlglot has no LOCK statement (it falls back to Command), so this one is
    # checked as exact text: https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
    assert redshift.LOCK_LEDGER.text == "LOCK load_ledger"
    assert isinstance(sqlglot.parse_one(redshift.LOCK_LEDGER.text, read="redshift"), exp.Command)


def test_the_lock_holder_query_ignores_this_session() -> None:
    assert "lock_owner_pid <> pg_backend_pid()" in redshift.LEDGER_LOCK_HOLDER.text
    assert isinstance(redshift.LEDGER_LOCK_HOLDER, sa.TextClause)
