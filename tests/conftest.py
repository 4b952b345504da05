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


#: Where boto3's credential chain looks, besides the shared files and instance metadata.
AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


@pytest.fixture
def no_aws_credentials(aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """moto's server as S3, with nothing boto3's credential chain could find.

    The credential variables are unset, the shared credentials and config files
    are empty ones, and instance metadata is off (no 1 s timeout waiting for it).
    """
    for name in AWS_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    assert boto3.Session().get_credentials() is None, "credentials still found"
    return aws_env


def _bucket_of_sources(tmp_path: Path, *, public: bool) -> str:
    """A new bucket holding the contract fixture under ``udacity/``; public or not."""
    import json

    import boto3

    from tests import contract_fixtures as fx

    name = f"sparkify-{'public' if public else 'private'}-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", region_name="us-west-2")
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    root = tmp_path / name
    fx.write_sources(root)
    fx.upload_tree(root, name, "udacity/")
    if public:
        # What a bucket of public data says: anyone may list it and read its objects.
        statements = [
            {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
            for action, resource in (
                ("s3:GetObject", f"arn:aws:s3:::{name}/*"),
                ("s3:ListBucket", f"arn:aws:s3:::{name}"),
            )
        ]
        policy = {"Version": "2012-10-17", "Statement": statements}
        client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    return name


@pytest.fixture
def public_bucket(aws_env: str, tmp_path: Path) -> str:
    """A bucket whose policy lets anyone (Principal "*") list it and get its objects.

    It holds the contract fixture's sources under ``udacity/`` (``song_data/``,
    ``log_data/``, ``log_json_path.json``).
    """
    return _bucket_of_sources(tmp_path, public=True)


@pytest.fixture
def private_bucket(aws_env: str, tmp_path: Path) -> str:
    """The same sources in a bucket with no policy: its objects are not public."""
    return _bucket_of_sources(tmp_path, public=False)
