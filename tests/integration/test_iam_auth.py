"""``[CLUSTER] AUTH = iam``: temporary Redshift credentials for each new connection.

The provisioned path runs against moto's Redshift API (GetClusterCredentials).
moto 5.2.5 has no Redshift Serverless, so the Serverless path talks to a small
stand-in of GetCredentials over real HTTP: botocore checks the request against
the real service model, the answer is what the stand-in was written to say.

No test reaches a database: a ``do_connect`` listener registered after
sparkify's records the connect parameters and stops there. That a real
Redshift accepts the credentials cannot be tested here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa

from sparkify.config import Settings, load_settings
from sparkify.db import create_engine
from sparkify.errors import ConfigError, DatabaseError
from tests.aws_json_api import json_api

pytestmark = pytest.mark.integration

REGION = "us-west-2"
ACCOUNT = "123456789012"


class Stop(Exception):
    """Raised by the recording listener instead of connecting."""


def connect_parameters(engine: sa.Engine) -> dict[str, Any]:
    """The parameters the engine would hand to redshift_connector.connect (no connection)."""
    seen: dict[str, Any] = {}

    @sa.event.listens_for(engine, "do_connect")
    def record(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise Stop

    with pytest.raises(Stop):
        engine.connect()
    sa.event.remove(engine, "do_connect", record)
    return seen


def write_cfg(tmp_path: Path, **cluster: str) -> Path:
    lines = "\n".join(f"{key}={value}" for key, value in cluster.items())
    path = tmp_path / "dwh.cfg"
    path.write_text(f"[CLUSTER]\n{lines}\n\n[AWS]\nREGION={REGION}\n")
    return path


@pytest.fixture
def cluster(aws_env: str) -> str:
    """A provisioned cluster on moto (available at once)."""
    name = f"sparkify-iam-{uuid.uuid4().hex[:8]}"
    boto3.client("redshift", region_name=REGION).create_cluster(
        ClusterIdentifier=name,
        NodeType="ra3.large",
        ClusterType="single-node",
        DBName="dev",
        MasterUsername="awsuser",
        MasterUserPassword="Sparkify1Secret",
    )
    return name


def iam_settings(tmp_path: Path, cluster: str, **extra: str) -> Settings:
    cfg = write_cfg(
        tmp_path,
        HOST="127.0.0.1",
        DB_PORT="5439",
        DB_NAME="dev",
        DB_USER="awsuser",
        AUTH="iam",
        SERVERLESS="false",
        CLUSTER_IDENTIFIER=cluster,
        **extra,
    )
    return load_settings(config_file=cfg, environ={})


def test_a_cluster_connection_logs_in_with_the_user_and_password_get_cluster_credentials_returns(
    tmp_path: Path, cluster: str
) -> None:
    settings = iam_settings(tmp_path, cluster)
    engine = create_engine(settings)

    first = connect_parameters(engine)
    second = connect_parameters(engine)

    # moto answers like AWS: "IAM:" + DbUser when AutoCreate is false, a random password.
    assert first["user"] == second["user"] == "IAM:awsuser"
    assert len(first["password"]) == 32
    assert second["password"] != first["password"]  # fresh for each new connection
    assert (first["host"], first["port"], first["database"]) == ("127.0.0.1", 5439, "dev")
    for text in (repr(settings), str(settings), str(engine.url), repr(engine)):
        assert first["password"] not in text
    assert settings.database_url.password is None


def test_no_password_is_needed_in_dwh_cfg_or_the_environment(tmp_path: Path, cluster: str) -> None:
    settings = iam_settings(tmp_path, cluster)

    assert "DB_PASSWORD" not in settings.config_file.read_text()  # type: ignore[union-attr]
    assert settings.iam_auth is not None
    assert (settings.iam_auth.serverless, settings.iam_auth.name) == (False, cluster)
    assert connect_parameters(create_engine(settings))["password"]


def test_a_password_in_the_file_is_not_used_with_iam_auth(tmp_path: Path, cluster: str) -> None:
    settings = iam_settings(tmp_path, cluster, DB_PASSWORD="Not-this-one-1")

    parameters = connect_parameters(create_engine(settings))

    assert parameters["password"] != "Not-this-one-1"
    assert "Not-this-one-1" not in repr(settings)


def test_an_unknown_cluster_is_a_one_line_error_naming_the_setting(
    tmp_path: Path, aws_env: str
) -> None:
    engine = create_engine(iam_settings(tmp_path, "no-such-cluster"))

    with pytest.raises(ConfigError) as caught:
        engine.connect()

    message = str(caught.value)
    assert "\n" not in message
    assert "no Redshift cluster 'no-such-cluster' in us-west-2" in message
    assert "CLUSTER_IDENTIFIER" in message


def test_no_aws_credentials_is_a_one_line_error_saying_what_to_set(
    tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    engine = create_engine(iam_settings(tmp_path, cluster))

    with pytest.raises(ConfigError) as caught:
        engine.connect()

    assert "AUTH = iam needs AWS credentials and none were found" in str(caught.value)
    assert "\n" not in str(caught.value)


# --------------------------------------------------------------------------- Serverless


class FakeGetCredentials:
    """redshift-serverless GetCredentials: known workgroups answer, ``denied`` is refused."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.issued = 0

    def handle(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append((operation, body))
        name = body.get("workgroupName")
        if name == "denied":
            return 400, {"__type": "AccessDeniedException", "message": "not authorized"}
        if name != "sparkify-wg":
            return 400, {"__type": "ResourceNotFoundException", "message": f"{name} not found"}
        self.issued += 1
        return 200, {
            "dbUser": "IAMR:sparkify-loader",
            "dbPassword": f"temporary-{self.issued}",
            "expiration": 1_900_000_000,
        }


@pytest.fixture
def fake_serverless(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGetCredentials]:
    fake = FakeGetCredentials()

    with json_api(fake.handle) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS", url)
        yield fake


def serverless_settings(workgroup: str = "sparkify-wg") -> Settings:
    host = f"{workgroup}.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com"
    return load_settings(
        environ={
            "SPARKIFY_DATABASE_URL": f"redshift+redshift_connector://{host}:5439/dev",
            "SPARKIFY_DB_AUTH": "iam",
        }
    )


def test_a_serverless_connection_asks_get_credentials_for_the_workgroup_of_its_host(
    fake_serverless: FakeGetCredentials,
) -> None:
    settings = serverless_settings()
    engine = create_engine(settings)

    first = connect_parameters(engine)
    second = connect_parameters(engine)

    assert settings.iam_auth is not None and settings.iam_auth.serverless
    assert (
        fake_serverless.requests
        == [
            (
                "GetCredentials",
                {"workgroupName": "sparkify-wg", "dbName": "dev", "durationSeconds": 900},
            )
        ]
        * 2
    )
    assert (first["user"], first["password"]) == ("IAMR:sparkify-loader", "temporary-1")
    assert second["password"] == "temporary-2"
    assert "temporary-" not in repr(settings) + str(engine.url)


def test_a_refused_or_unknown_workgroup_is_a_one_line_error_naming_what_to_fix(
    fake_serverless: FakeGetCredentials,
) -> None:
    with pytest.raises(DatabaseError) as refused:
        create_engine(serverless_settings("denied")).connect()
    with pytest.raises(ConfigError) as unknown:
        create_engine(serverless_settings("elsewhere")).connect()

    assert str(refused.value) == (
        "getting temporary credentials for Redshift Serverless workgroup denied failed: "
        "AWS refused (AccessDeniedException): your IAM identity needs "
        "redshift-serverless:GetCredentials on workgroup denied"
    )
    assert "no Redshift Serverless workgroup 'elsewhere' in us-west-2" in str(unknown.value)
    assert "WORKGROUP" in str(unknown.value)


def test_the_cli_reports_an_iam_failure_on_one_line_and_infra_still_reads_the_file(
    tmp_path: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from sparkify import infra
    from sparkify.cli import main

    monkeypatch.delenv("SPARKIFY_DB_PASSWORD", raising=False)
    monkeypatch.delenv("SPARKIFY_DATABASE_URL", raising=False)
    cfg = write_cfg(
        tmp_path,
        HOST="gone.abc123.us-west-2.redshift.amazonaws.com",
        DB_NAME="dev",
        DB_USER="awsuser",
        AUTH="iam",
    )

    result = CliRunner().invoke(main, ["create-tables", "--config", str(cfg)])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: configuration error (section [CLUSTER], key ")
    assert "no Redshift cluster 'gone' in us-west-2" in result.stderr
    assert result.stderr.count("\n") == 1
    assert infra.read_settings(cfg).region == REGION
