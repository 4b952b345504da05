"""Helpers for checking Redshift SQL that cannot run here: golden text and a parser.

``assert_redshift_parses`` parses with sqlglot's Redshift dialect and fails on a
parse error *or* on a fallback to ``exp.Command`` (sqlglot's "I did not
understand this, keeping it as text"), which only logs a warning.

Golden files live in ``tests/golden/``; set ``SPARKIFY_UPDATE_GOLDEN=1`` to
rewrite them after a deliberate change, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlglot
from sqlalchemy.sql import ClauseElement
from sqlglot import exp

from sparkify.execute import REDSHIFT, redshift_text

GOLDEN = Path(__file__).parent / "golden"
__all__ = ["REDSHIFT", "assert_golden", "assert_redshift_parses", "compile_redshift"]


def compile_redshift(statement: ClauseElement) -> str:
    """The statement as sparkify sends it to Redshift (values inlined, no parameters)."""
    return redshift_text(statement)


def assert_redshift_parses(sql: str) -> list[exp.Expression]:
    """Parse ``sql`` as Redshift; fail on errors and on ``exp.Command`` fallbacks."""
    trees = [
        tree
        for tree in sqlglot.parse(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
        if tree
    ]
    assert trees, f"nothing parsed from:\n{sql}"
    for tree in trees:
        commands = [node for node in tree.walk() if isinstance(node, exp.Command)]
        assert not commands, f"sqlglot fell back to Command (unparsed SQL):\n{sql}"
    return trees


def assert_golden(name: str, sql: str) -> None:
    """Compare ``sql`` with ``tests/golden/<name>.sql`` (rewrite it when updating)."""
    path = GOLDEN / f"{name}.sql"
    text = "\n".join(line.rstrip() for line in sql.strip().splitlines()) + "\n"
    if os.environ.get("SPARKIFY_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        if os.environ.get("SPARKIFY_UPDATE_GOLDEN") != "1":
            raise AssertionError(f"golden file {path} was missing; written, review and commit it")
    assert text == path.read_text(), f"Redshift SQL differs from {path} (see the diff above)"
