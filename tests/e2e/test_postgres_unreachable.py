"""Without PostgreSQL, its tests fail with how to start it: they never pass by skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_postgresql_tests_fail_with_the_command_to_start_the_server(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_needs_postgres(pg_engine):\n    assert pg_engine is not None\n")
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(probe),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SPARKIFY_TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test",
        },
    )
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout and "skipped" not in result.stdout
    assert "PostgreSQL is not reachable" in result.stdout
    assert "pg_ctlcluster --skip-systemctl-redirect" in result.stdout
