"""Shared fixtures: a PostgreSQL database of the tests' own, DuckDB files, moto's S3 server.

The PostgreSQL stand-in is found at ``SPARKIFY_TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test session creates
a fresh database next to it (``sparkify_test_<random>``) and drops it at the end,
so the tests never touch data they did not make. When the server cannot be
reached, PostgreSQL tests fail (never skip) with a message saying how to start it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify.db import engine_for_url

DEFAULT_TEST_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START_HINT = (
    "PostgreSQL is not reachable at {url}. Start the local server with\n"
    "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    "or point SPARKIFY_TEST_DATABASE_URL at one (any database the user may CREATE DATABASE from)."
)


def _admin_url() -> sa.URL:
    return sa.make_url(os.environ.get("SPARKIFY_TEST_DATABASE_URL", DEFAULT_TEST_URL))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[sa.URL]:
    """URL of a PostgreSQL database created for this test session (dropped afterwards)."""
    admin_url = _admin_url()
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"sparkify_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(
            START_HINT.format(url=admin_url.render_as_string(hide_password=True))
            + f"\n({exc.orig})",
            pytrace=False,
        )
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: sa.URL) -> Iterator[sa.Engine]:
    """One engine on the session's PostgreSQL database."""
    engine = engine_for_url(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def duckdb_url(tmp_path: Path) -> sa.URL:
    """URL of a fresh embedded DuckDB file for one test."""
    return sa.make_url(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server (S3, IAM, EC2, Redshift) over real HTTP on loopback."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (through the standard variables) at the moto server; fake credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@pytest.fixture
def s3_bucket(aws_env: str) -> str:
    """A fresh, empty bucket on the moto server; returns its name."""
    import boto3

    name = f"sparkify-test-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return name
