"""The constants the native staging's SQL shares with the Python path."""

from __future__ import annotations

import pytest

from sparkify.staging import native

pytestmark = pytest.mark.unit


def test_the_whitespace_sql_strips_is_what_python_strips() -> None:
    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == native.PY_WHITESPACE
