"""Public data without an AWS account: ``etl`` and ``s3 check`` on moto's S3 server.

The public bucket's policy lets anyone list it and get its objects; the private
one has no policy, so moto refuses an unsigned GET of its objects but serves
any signed one (it checks no signature): reading the private bucket tells
whether the requests were signed. See tests/integration/test_unsigned_reads.py
for what moto models, and the README for what it does not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify import load
from tests import contract_fixtures as fx
from tests.warehouse import Snapshot, make_engine, schema_name, settings_for, star_snapshot

pytestmark = pytest.mark.e2e

NOTICE = "no AWS credentials found: reading s3://{bucket} unsigned (anonymously)"
REFUSED = (
    "error: s3://{bucket}/udacity/log_json_path.json: access denied to an anonymous "
    "(unsigned) request: bucket '{bucket}' does not allow public s3:GetObject; to read it, "
    "configure AWS credentials"
)


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(
    request: pytest.FixtureRequest, pg_url: sa.URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[sa.Engine]:
    """An empty warehouse at the head revision; the working folder holds no dwh.cfg.

    The engine keeps no connection open between uses: the commands run in
    processes of their own, and a DuckDB file takes one process at a time.
    """
    monkeypatch.chdir(tmp_path)
    engine = make_engine(request.param, pg_url, tmp_path, build=True)
    engine.dispose()
    yield engine
    engine.dispose()


def snapshot(engine: sa.Engine, *, staging: bool = True) -> Snapshot:
    """Every row of the warehouse, its connections closed afterwards."""
    try:
        return star_snapshot(engine, staging=staging)
    finally:
        engine.dispose()


def database_flags(engine: sa.Engine) -> list[str]:
    flags = ["--database-url", engine.url.render_as_string(hide_password=False)]
    schema = schema_name(engine)
    return [*flags, "--schema", schema] if schema else flags


def s3_sources(bucket: str) -> list[str]:
    base = f"s3://{bucket}/udacity"
    return [
        "--song-data",
        f"{base}/song_data",
        "--log-data",
        f"{base}/log_data",
        "--log-jsonpath",
        f"{base}/log_json_path.json",
    ]


def invoke(*args: str, env: dict[str, str] | None = None) -> Run:
    """Run ``sparkify ARGS`` in a process of its own, in this process's environment."""
    # Wide enough that no table cell wraps (rich reads COLUMNS when not on a terminal).
    environment = {**os.environ, "COLUMNS": "1000", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "sparkify.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Run:
    """A finished command: its exit code and outputs."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def etl(engine: sa.Engine, bucket: str, *more: str, env: dict[str, str] | None = None) -> Run:
    return invoke(
        "etl", *database_flags(engine), *s3_sources(bucket), "--no-progress", *more, env=env
    )


def one_line(text: str) -> str:
    """stderr with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


def local_load(engine: sa.Engine, tmp_path: Path) -> None:
    """Load the contract fixture from a local folder (no S3, no credentials needed)."""
    load.run(engine, settings_for(engine, fx.write_sources(tmp_path / "local")))
    engine.dispose()


# -- etl --------------------------------------------------------------------------------


def test_etl_loads_a_public_bucket_without_credentials_saying_so_once(
    warehouse: sa.Engine,
    public_bucket: str,
    no_aws_credentials: str,
    pg_url: sa.URL,
    tmp_path: Path,
) -> None:
    result = etl(warehouse, public_bucket)
    assert result.exit_code == 0, result.output
    assert one_line(result.stderr).count("no AWS credentials found") == 1
    assert NOTICE.format(bucket=public_bucket) in one_line(result.stderr)
    # The same rows as the same files loaded from a local folder.
    backend = warehouse.url.get_backend_name()
    (tmp_path / "reference").mkdir()
    reference = make_engine(backend, pg_url, tmp_path / "reference", build=True)
    local_load(reference, tmp_path)
    assert snapshot(warehouse, staging=False) == snapshot(reference, staging=False)
    assert snapshot(warehouse, staging=False)["songplays"]
    reference.dispose()


def test_etl_from_a_bucket_refusing_anonymous_reads_fails_in_one_line_and_changes_nothing(
    warehouse: sa.Engine, private_bucket: str, no_aws_credentials: str, tmp_path: Path
) -> None:
    local_load(warehouse, tmp_path)
    before = snapshot(warehouse)
    result = etl(warehouse, private_bucket, "--full-refresh")
    assert result.exit_code == 1, result.output
    stderr = one_line(result.stderr)
    assert REFUSED.format(bucket=private_bucket) in stderr
    assert "Traceback" not in result.output and stderr.count("error:") == 1
    assert snapshot(warehouse) == before


@pytest.mark.parametrize("how", ["flag", "environment", "dwh.cfg"])
def test_no_sign_request_reads_unsigned_though_credentials_are_found(
    warehouse: sa.Engine, private_bucket: str, aws_env: str, tmp_path: Path, how: str
) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text("[S3]\nNO_SIGN_REQUEST = true\n" if how == "dwh.cfg" else "")
    forced = {
        "flag": (["--no-sign-request"], None),
        "environment": ([], {"SPARKIFY_S3_NO_SIGN_REQUEST": "1"}),
        "dwh.cfg": ([], None),
    }
    more, env = forced[how]
    # Unsigned, moto refuses the private bucket's objects: nothing loaded, nothing said
    # about credentials (they were found; the user asked for unsigned requests).
    refused = etl(warehouse, private_bucket, "--config", str(config), *more, env=env)
    assert refused.exit_code == 1, refused.output
    assert REFUSED.format(bucket=private_bucket) in one_line(refused.stderr)
    assert "no AWS credentials found" not in refused.output
    assert not any(snapshot(warehouse).values())
    # Signed (the setting off), the same command loads.
    config.write_text("")
    loaded = etl(warehouse, private_bucket, "--config", str(config))
    assert loaded.exit_code == 0, loaded.output
    assert snapshot(warehouse, staging=False)["songplays"]


def test_no_sign_request_loads_a_public_bucket_with_credentials_found_and_says_nothing(
    warehouse: sa.Engine, public_bucket: str, aws_env: str
) -> None:
    result = etl(warehouse, public_bucket, "--no-sign-request")
    assert result.exit_code == 0, result.output
    assert "no AWS credentials found" not in result.output
    assert snapshot(warehouse, staging=False)["songplays"]


# -- s3 check ---------------------------------------------------------------------------


def test_s3_check_passes_on_a_public_bucket_without_credentials_saying_so_once(
    public_bucket: str, no_aws_credentials: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("s3", "check", *s3_sources(public_bucket))
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.stdout
    assert one_line(result.stderr).count("no AWS credentials found") == 1
    assert NOTICE.format(bucket=public_bucket) in one_line(result.stderr)


def test_s3_check_fails_on_a_bucket_refusing_anonymous_reads_saying_why(
    private_bucket: str, no_aws_credentials: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("s3", "check", *s3_sources(private_bucket))
    assert result.exit_code == 1
    table = one_line(result.stdout)
    # Listing passes (moto lets anyone list); every object read is refused.
    assert table.count("FAIL") == 3
    assert table.count("access denied to an anonymous (unsigned) request") == 3


def test_s3_check_with_no_sign_request_reads_unsigned_though_credentials_are_found(
    private_bucket: str, aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("s3", "check", *s3_sources(private_bucket)).exit_code == 0
    result = invoke("s3", "check", *s3_sources(private_bucket), "--no-sign-request")
    assert result.exit_code == 1
    assert "access denied to an anonymous (unsigned) request" in one_line(result.stdout)
    assert "no AWS credentials found" not in result.output
