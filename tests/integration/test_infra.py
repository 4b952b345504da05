"""``sparkify infra up | status | down`` against moto's server over real HTTP.

moto serves IAM, EC2 and Redshift. It has no Redshift Serverless, so the
Serverless tests talk to ``FakeServerless`` below: a small hand-written stand-in
of that JSON API, also over real HTTP. botocore checks every request against the
real service model, so parameter names and types are verified; the responses
are only what the fake was written to say.

The moto server lives for the whole session, so every test uses its own names,
buckets, CIDRs and, mostly, its own security group.
"""

from __future__ import annotations

import configparser
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from sparkify import infra
from sparkify.cli.infra import infra as infra_group
from sparkify.errors import ConfigError
from tests.aws_json_api import json_api

pytestmark = pytest.mark.integration

REGION = "us-west-2"
PASSWORD = "Sparkify1Secret"
AWS_SECRET = "wJalrXUtnFEMIsecretFROMdwhCFG"
ACCOUNT = "123456789012"

CFG = """\
# Sparkify settings used by the infra tests.
# Comments like these must survive sparkify infra up.

[CLUSTER]
# Redshift endpoint (sparkify infra up writes it)
HOST=
DB_NAME=dev
DB_USER=awsuser
; kept here for the test only
DB_PASSWORD={password}
DB_PORT=5439

[IAM_ROLE]
# Role Redshift assumes to read the sources.
ARN=

[S3]
LOG_DATA='s3://{bucket}/log_data'
LOG_JSONPATH='s3://{jsonpath_bucket}/log_json_path.json'
SONG_DATA='s3://{bucket}/song_data'

[DWH]
DWH_CLUSTER_TYPE=multi-node
DWH_NUM_NODES=3
DWH_NODE_TYPE=ra3.large
DWH_CLUSTER_IDENTIFIER={cluster}
DWH_IAM_ROLE_NAME={role}

[AWS]
REGION=us-west-2
{aws_keys}"""


@dataclass
class Names:
    """One test's own resource names."""

    cluster: str
    role: str
    bucket: str
    jsonpath_bucket: str
    cidr: str


@pytest.fixture
def names() -> Names:
    tag = uuid.uuid4().hex[:8]
    octet = int(tag[:2], 16)
    return Names(
        cluster=f"sparkify-t-{tag}",
        role=f"sparkify-t-role-{tag}",
        bucket=f"songs-{tag}",
        jsonpath_bucket=f"paths-{tag}",
        cidr=f"203.0.{octet}.{int(tag[2:4], 16)}/32",
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "SPARKIFY_CONFIG",
        "SPARKIFY_DB_PASSWORD",
        "SPARKIFY_REGION",
        "SPARKIFY_SONG_DATA",
        "SPARKIFY_LOG_DATA",
        "SPARKIFY_LOG_JSONPATH",
        "SPARKIFY_DATABASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)


def write_cfg(path: Path, names: Names, *, password: str = PASSWORD, aws_keys: str = "") -> Path:
    path.write_text(
        CFG.format(
            password=password,
            bucket=names.bucket,
            cluster=names.cluster,
            jsonpath_bucket=names.jsonpath_bucket,
            role=names.role,
            aws_keys=aws_keys,
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cfg(tmp_path: Path, names: Names, clean_env: None) -> Path:
    return write_cfg(tmp_path / "dwh.cfg", names)


@pytest.fixture(scope="module")
def moto_clients(moto_endpoint: str) -> dict[str, Any]:
    """Clients on the moto server for the tests' own checks (built once: they are slow to make)."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return {
        name: session.client(name, endpoint_url=moto_endpoint)
        for name in ("iam", "ec2", "redshift")
    }


@pytest.fixture
def aws(aws_env: str, moto_clients: dict[str, Any]) -> dict[str, Any]:
    return moto_clients


@pytest.fixture(scope="module")
def default_vpc(moto_clients: dict[str, Any]) -> str:
    vpcs = moto_clients["ec2"].describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    return str(vpcs["Vpcs"][0]["VpcId"])


@pytest.fixture
def security_group(aws: dict[str, Any], default_vpc: str) -> str:
    """A fresh security group in the default VPC, so tests do not see each other's rules."""
    group = aws["ec2"].create_security_group(
        GroupName=f"sparkify-t-{uuid.uuid4().hex[:8]}",
        Description="sparkify test",
        VpcId=default_vpc,
    )
    return str(group["GroupId"])


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(infra_group, list(args), env=env, input=stdin, catch_exceptions=False)


def up(cfg: Path, *extra: str) -> Result:
    return run("up", "--config", str(cfg), *extra)


def ingress(ec2: Any, group: str) -> list[dict[str, Any]]:
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
        "SecurityGroupRules"
    ]
    return [rule for rule in rules if not rule["IsEgress"]]


def cluster_or_none(redshift: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return dict(redshift.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ClusterNotFound"
        return None


def role_or_none(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(iam.get_role(RoleName=name)["Role"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return None


# --------------------------------------------------------------------------- up


def test_up_creates_a_role_redshift_assumes_that_reads_only_the_source_buckets(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--cidr", names.cidr, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    role = aws["iam"].get_role(RoleName=names.role)["Role"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "redshift.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert aws["iam"].list_role_policies(RoleName=names.role)["PolicyNames"] == [infra.POLICY_NAME]
    assert aws["iam"].list_attached_role_policies(RoleName=names.role)["AttachedPolicies"] == []
    policy = aws["iam"].get_role_policy(RoleName=names.role, PolicyName=infra.POLICY_NAME)[
        "PolicyDocument"
    ]
    grants = {(st["Action"], resource) for st in policy["Statement"] for resource in st["Resource"]}
    assert grants == {
        ("s3:ListBucket", f"arn:aws:s3:::{names.bucket}"),
        ("s3:ListBucket", f"arn:aws:s3:::{names.jsonpath_bucket}"),
        ("s3:GetObject", f"arn:aws:s3:::{names.bucket}/*"),
        ("s3:GetObject", f"arn:aws:s3:::{names.jsonpath_bucket}/*"),
    }
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])


def test_up_launches_an_available_cluster_of_the_seed_shape_with_the_role_attached(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--cidr", names.cidr, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    cluster = cluster_or_none(aws["redshift"], names.cluster)
    assert cluster is not None
    assert cluster["ClusterStatus"] == "available"
    assert (cluster["NodeType"], cluster["NumberOfNodes"]) == ("ra3.large", 3)  # from [DWH]
    assert (cluster["DBName"], cluster["MasterUsername"]) == ("dev", "awsuser")
    assert cluster["Endpoint"]["Port"] == 5439
    role_arn = aws["iam"].get_role(RoleName=names.role)["Role"]["Arn"]
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role_arn]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [security_group]
    assert f"Redshift cluster {names.cluster} is available" in result.stderr


def test_up_opens_the_port_to_the_given_cidr_only(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--cidr", names.cidr, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    rules = ingress(aws["ec2"], security_group)
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIpv4"]) for r in rules] == [
        ("tcp", 5439, 5439, names.cidr)
    ]
    assert rules[0]["Description"] == f"sparkify infra: {names.cluster}"
    assert "warning" not in result.output


def test_up_writes_host_and_role_arn_into_dwh_cfg_keeping_comments_and_other_keys(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    before = cfg.read_text()

    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    host = aws["redshift"].describe_clusters(ClusterIdentifier=names.cluster)["Clusters"][0][
        "Endpoint"
    ]["Address"]
    arn = aws["iam"].get_role(RoleName=names.role)["Role"]["Arn"]
    after = cfg.read_text()
    assert after == before.replace("HOST=\n", f"HOST={host}\n").replace("ARN=\n", f"ARN={arn}\n")
    assert f"wrote [CLUSTER] HOST, [IAM_ROLE] ARN into {cfg}" in result.stderr


def test_up_run_twice_reuses_everything_and_duplicates_nothing(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    first = up(cfg, "--cidr", names.cidr, "--security-group-id", security_group)
    cfg_after_first = cfg.read_text()

    second = up(cfg, "--cidr", names.cidr, "--security-group-id", security_group)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "created" not in second.stderr
    for reused in (
        f"IAM role {names.role} exists: reused",
        f"policy {infra.POLICY_NAME} already reads",
        f"Redshift cluster {names.cluster} exists (available): reused",
        f"TCP 5439 from {names.cidr} on {security_group} exists: reused",
    ):
        assert reused in second.stderr
    assert cfg.read_text() == cfg_after_first
    assert len(ingress(aws["ec2"], security_group)) == 1
    assert [c["ClusterIdentifier"] for c in aws["redshift"].describe_clusters()["Clusters"]].count(
        names.cluster
    ) == 1
    assert aws["iam"].list_role_policies(RoleName=names.role)["PolicyNames"] == [infra.POLICY_NAME]


def test_up_without_a_security_group_uses_the_default_vpc_default_group(
    cfg: Path, names: Names, aws: dict[str, Any], default_vpc: str
) -> None:
    ec2 = aws["ec2"]
    default = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [default_vpc]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]

    result = up(cfg, "--cidr", names.cidr)

    assert result.exit_code == 0, result.output
    cluster = cluster_or_none(aws["redshift"], names.cluster)
    assert cluster is not None
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [default]
    assert [r["CidrIpv4"] for r in ingress(ec2, default) if r.get("CidrIpv4") == names.cidr] == [
        names.cidr
    ]

    gone = run("down", "--config", str(cfg), "--yes")

    assert gone.exit_code == 0, gone.output
    assert [r for r in ingress(ec2, default) if r.get("CidrIpv4") == names.cidr] == []


def test_up_without_cidr_opens_nothing_and_never_falls_back_to_everyone(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    assert ingress(aws["ec2"], security_group) == []
    assert "no --cidr given: no inbound rule added" in result.stderr


def test_cidr_everyone_is_opened_only_when_given_explicitly_and_with_a_warning(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--cidr", "0.0.0.0/0", "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    assert (
        "warning: --cidr 0.0.0.0/0 opens port 5439 of the warehouse to the whole internet"
        in result.stderr
    )
    assert [r["CidrIpv4"] for r in ingress(aws["ec2"], security_group)] == ["0.0.0.0/0"]


def test_up_takes_a_bare_address_as_one_host_and_ipv6_and_rejects_host_bits(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    bad = up(cfg, "--cidr", "203.0.113.7/24", "--security-group-id", security_group)
    assert bad.exit_code == 1
    assert "is not a CIDR block" in bad.stderr
    assert role_or_none(aws["iam"], names.role) is None

    address = names.cidr.removesuffix("/32")
    good = up(cfg, "--cidr", address, "--security-group-id", security_group)
    assert good.exit_code == 0, good.output
    assert [r["CidrIpv4"] for r in ingress(aws["ec2"], security_group)] == [names.cidr]

    v6 = up(cfg, "--cidr", "2001:db8::/64", "--security-group-id", security_group)
    assert v6.exit_code == 0, v6.output
    assert sorted(
        r.get("CidrIpv4") or r["CidrIpv6"] for r in ingress(aws["ec2"], security_group)
    ) == sorted([names.cidr, "2001:db8::/64"])


def test_up_reuses_a_seed_role_and_warns_about_its_broad_managed_policy(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    iam = aws["iam"]
    iam.create_role(
        RoleName=names.role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "redshift.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.attach_role_policy(
        RoleName=names.role, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )

    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    assert "warning: IAM role" in result.stderr
    assert "AmazonS3ReadOnlyAccess" in result.stderr
    assert iam.list_role_policies(RoleName=names.role)["PolicyNames"] == [infra.POLICY_NAME]

    gone = run("down", "--config", str(cfg), "--yes")

    assert gone.exit_code == 0, gone.output
    assert role_or_none(iam, names.role) is None


def test_up_fails_before_creating_anything_without_a_master_password(
    tmp_path: Path, names: Names, clean_env: None, security_group: str, aws: dict[str, Any]
) -> None:
    cfg = write_cfg(tmp_path / "dwh.cfg", names, password="")

    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "SPARKIFY_DB_PASSWORD" in result.stderr
    assert "Traceback" not in result.output
    assert role_or_none(aws["iam"], names.role) is None
    assert cluster_or_none(aws["redshift"], names.cluster) is None


def test_aws_errors_become_one_error_line_and_nothing_is_created(
    cfg: Path, names: Names, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--security-group-id", "sg-0123456789abcdef0")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: could not find security group "
        "sg-0123456789abcdef0 (AWS said InvalidGroup.NotFound): "
    )
    assert result.stderr.count("\n") == 1
    assert role_or_none(aws["iam"], names.role) is None


# --------------------------------------------------------------------------- status


def test_status_reports_nothing_before_up(cfg: Path, names: Names, aws_env: str) -> None:
    result = run("status", "--config", str(cfg))

    assert result.exit_code == 0, result.output
    assert f"IAM role:   {names.role}: absent" in result.stdout
    assert f"Cluster:    {names.cluster}: absent" in result.stdout


def test_status_reports_the_role_the_cluster_endpoint_and_the_ingress_rule(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--cidr", names.cidr, "--security-group-id", security_group).exit_code == 0
    arn = aws["iam"].get_role(RoleName=names.role)["Role"]["Arn"]
    host = aws["redshift"].describe_clusters(ClusterIdentifier=names.cluster)["Clusters"][0][
        "Endpoint"
    ]["Address"]

    result = run("status", "--config", str(cfg))

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"IAM role:   {arn}" in out
    assert "Trusts:   redshift.amazonaws.com" in out
    assert f"arn:aws:s3:::{names.bucket}/*" in out
    assert f"Cluster:    {names.cluster}: available" in out
    assert f"Endpoint: {host}:5439" in out
    assert f"Ingress:    {names.cidr} -> 5439 on {security_group} (sparkify)" in out


def test_status_through_the_library_returns_typed_facts(
    cfg: Path, names: Names, security_group: str, aws_env: str
) -> None:
    spec = infra.spec_from_config(
        infra.read_settings(cfg), cidr=names.cidr, security_group_id=security_group
    )
    clients = infra.AwsClients.from_session(infra.session_for(REGION, None)[0])
    created = infra.up(spec, clients)

    current = infra.status(spec, clients)

    assert current == created
    assert current.exists
    assert current.role is not None and current.role.arn.endswith(f":role/{names.role}")
    assert current.warehouse is not None and current.warehouse.available
    assert current.warehouse.kind == "cluster"
    assert [(r.cidr, r.from_port, r.managed) for r in current.ingress] == [(names.cidr, 5439, True)]
    assert infra.down(spec, clients, reporter=infra.LogReporter())
    assert not infra.status(spec, clients).exists


# --------------------------------------------------------------------------- down


def test_down_removes_cluster_role_and_rule_and_a_second_down_is_harmless(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--cidr", names.cidr, "--security-group-id", security_group).exit_code == 0
    after_up = cfg.read_text()

    first = run("down", "--config", str(cfg), "--yes")

    assert first.exit_code == 0, first.output
    assert cluster_or_none(aws["redshift"], names.cluster) is None
    assert role_or_none(aws["iam"], names.role) is None
    assert ingress(aws["ec2"], security_group) == []
    snapshots = aws["redshift"].describe_cluster_snapshots()["Snapshots"]
    assert [s for s in snapshots if s["ClusterIdentifier"] == names.cluster] == []
    restored = cfg.read_text()
    assert "HOST=\n" in restored and "ARN=\n" in restored
    assert [line for line in restored.splitlines() if not line.startswith(("HOST=", "ARN="))] == [
        line for line in after_up.splitlines() if not line.startswith(("HOST=", "ARN="))
    ]

    second = run("down", "--config", str(cfg), "--yes")

    assert second.exit_code == 0, second.output
    assert "nothing to delete" in second.stderr
    assert cfg.read_text() == restored


def test_down_keeps_a_final_snapshot_when_asked(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--security-group-id", security_group).exit_code == 0

    result = run("down", "--config", str(cfg), "--yes", "--final-snapshot", f"{names.cluster}-last")

    assert result.exit_code == 0, result.output
    snapshots = aws["redshift"].describe_cluster_snapshots(
        SnapshotIdentifier=f"{names.cluster}-last"
    )["Snapshots"]
    assert [s["ClusterIdentifier"] for s in snapshots] == [names.cluster]


def test_down_asks_before_deleting_and_stops_on_no(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--security-group-id", security_group).exit_code == 0

    result = run("down", "--config", str(cfg), stdin="n\n")

    assert result.exit_code == 1
    assert f"Delete Redshift cluster {names.cluster}, IAM role {names.role}" in result.output
    assert cluster_or_none(aws["redshift"], names.cluster) is not None
    assert run("down", "--config", str(cfg), "--yes").exit_code == 0


def test_down_leaves_rules_sparkify_did_not_add(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--cidr", names.cidr, "--security-group-id", security_group).exit_code == 0
    aws["ec2"].authorize_security_group_ingress(
        GroupId=security_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5439,
                "ToPort": 5439,
                "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "the office"}],
            }
        ],
    )

    result = run("down", "--config", str(cfg), "--yes")

    assert result.exit_code == 0, result.output
    assert [r["CidrIpv4"] for r in ingress(aws["ec2"], security_group)] == ["198.51.100.0/24"]


# --------------------------------------------------------------------------- credentials, secrets


def test_aws_keys_in_dwh_cfg_are_read_but_draw_a_warning(
    tmp_path: Path,
    names: Names,
    clean_env: None,
    security_group: str,
    monkeypatch: pytest.MonkeyPatch,
    aws_env: str,
) -> None:
    cfg = write_cfg(
        tmp_path / "dwh.cfg", names, aws_keys=f"KEY=AKIAFROMDWHCFG\nSECRET={AWS_SECRET}\n"
    )

    with_env = run("status", "--config", str(cfg))

    assert with_env.exit_code == 0, with_env.output
    assert "warning: dwh.cfg [AWS] holds KEY and SECRET" in with_env.stderr
    assert "environment variable or a profile (aws configure) is safer" in with_env.stderr
    assert "ignored here: the environment's credentials win" in with_env.stderr

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    session, warnings = infra.session_for(REGION, cfg)
    credentials = session.get_credentials()
    assert credentials is not None and credentials.access_key == "AKIAFROMDWHCFG"
    assert warnings and "they are used" in warnings[0]

    without_env = up(cfg, "--security-group-id", security_group)

    assert without_env.exit_code == 0, without_env.output
    assert "warning: dwh.cfg [AWS] holds KEY and SECRET" in without_env.stderr
    assert AWS_SECRET not in without_env.output
    assert run("down", "--config", str(cfg), "--yes").exit_code == 0


def test_secrets_never_appear_in_output_reprs_or_errors(
    tmp_path: Path, names: Names, clean_env: None, security_group: str, aws_env: str
) -> None:
    cfg = write_cfg(
        tmp_path / "dwh.cfg", names, aws_keys=f"KEY=AKIAFROMDWHCFG\nSECRET={AWS_SECRET}\n"
    )
    outputs = [
        up(cfg, "--cidr", names.cidr, "--security-group-id", security_group).output,
        run("status", "--config", str(cfg)).output,
        run("down", "--config", str(cfg), "--yes").output,
    ]
    spec = infra.spec_from_config(infra.read_settings(cfg))
    assert spec.master_password == PASSWORD
    outputs += [repr(spec), str(spec), repr(infra.file_credentials(cfg))]

    weak = write_cfg(tmp_path / "weak.cfg", names, password="weakpass!")
    rejected = up(weak, "--security-group-id", security_group)
    assert rejected.exit_code == 1
    assert "does not meet Redshift's rules" in rejected.stderr
    outputs.append(rejected.output)

    refusal = ClientError(
        {"Error": {"Code": "InvalidParameterValue", "Message": f"bad password {PASSWORD}"}},
        "CreateCluster",
    )
    with pytest.raises(infra.AwsError) as caught, infra.aws("create the cluster", PASSWORD):
        raise refusal
    outputs.append(str(caught.value))

    for text in outputs:
        assert PASSWORD not in text
        assert AWS_SECRET not in text
        assert "weakpass!" not in text
    assert "bad password ***" in str(caught.value)


# --------------------------------------------------------------------------- dwh.cfg editing


def test_dwh_cfg_edit_replaces_keys_in_place_adds_missing_ones_and_keeps_everything_else() -> None:
    text = """\
# top comment
[CLUSTER]
; the endpoint
host = old.example.com
    continued-old-value
DB_NAME=dev

# introduces IAM_ROLE
[IAM_ROLE]
# nothing here yet

# introduces S3
[S3]
SONG_DATA='s3://b/song_data'"""

    edited = infra.edit_config_text(
        text,
        {
            "CLUSTER": {"HOST": "new.example.com", "DB_PORT": "5439"},
            "IAM_ROLE": {"ARN": "arn:aws:iam::1:role/r"},
            "S3": {"SONG_DATA": "'s3://b/song_data'"},
            "NEW": {"KEY": "value"},
        },
    )

    assert (
        edited
        == """\
# top comment
[CLUSTER]
; the endpoint
host = new.example.com
DB_NAME=dev
DB_PORT=5439

# introduces IAM_ROLE
[IAM_ROLE]
# nothing here yet
ARN=arn:aws:iam::1:role/r

# introduces S3
[S3]
SONG_DATA='s3://b/song_data'

[NEW]
KEY=value
"""
    )
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(edited)
    assert parser.get("CLUSTER", "host") == "new.example.com"
    assert infra.edit_config_text(edited, {"CLUSTER": {"HOST": "new.example.com"}}) == edited


def test_dwh_cfg_edit_keeps_windows_line_endings_and_refuses_multiline_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dwh.cfg"
    path.write_bytes(b"# c\r\n[CLUSTER]\r\nHOST=\r\nDB_NAME=dev\r\n")

    assert infra.update_config_file(path, {"CLUSTER": {"HOST": "h"}, "IAM_ROLE": {"ARN": "a"}}) == (
        "[CLUSTER] HOST",
        "[IAM_ROLE] ARN",
    )

    assert path.read_bytes() == (
        b"# c\r\n[CLUSTER]\r\nHOST=h\r\nDB_NAME=dev\r\n\r\n[IAM_ROLE]\r\nARN=a\r\n"
    )
    assert infra.update_config_file(path, {"CLUSTER": {"HOST": "h"}}) == ()
    with pytest.raises(ConfigError):
        infra.update_config_file(path, {"CLUSTER": {"HOST": "h\n[EVIL]"}})


# --------------------------------------------------------------------------- the spec


def test_the_seed_dwh_section_shapes_the_cluster_and_flags_win(
    tmp_path: Path, names: Names, clean_env: None
) -> None:
    cfg = write_cfg(tmp_path / "dwh.cfg", names)
    text = cfg.read_text().replace(
        f"DWH_CLUSTER_IDENTIFIER={names.cluster}", "DWH_CLUSTER_IDENTIFIER=dwhCluster"
    )
    cfg.write_text(text)
    settings = infra.read_settings(cfg)

    seed = infra.spec_from_config(settings)
    flagged = infra.spec_from_config(
        settings,
        number_of_nodes=1,
        node_type="dc2.large",
        cluster_identifier="other",
        db_name="warehouse",
    )

    assert (seed.cluster_identifier, seed.number_of_nodes, seed.cluster_type) == (
        "dwhcluster",
        3,
        "multi-node",
    )
    assert seed.buckets == tuple(sorted((names.bucket, names.jsonpath_bucket)))
    assert (seed.node_type, seed.db_name, seed.db_user, seed.port) == (
        "ra3.large",
        "dev",
        "awsuser",
        5439,
    )
    assert (
        flagged.cluster_identifier,
        flagged.number_of_nodes,
        flagged.cluster_type,
        flagged.node_type,
        flagged.db_name,
    ) == ("other", 1, "single-node", "dc2.large", "warehouse")
    single = cfg.read_text().replace("DWH_CLUSTER_TYPE=multi-node", "DWH_CLUSTER_TYPE=single-node")
    cfg.write_text(single)
    assert infra.spec_from_config(infra.read_settings(cfg)).number_of_nodes == 1
    cfg.write_text(
        single.replace("DWH_CLUSTER_TYPE=single-node", "DWH_CLUSTER_TYPE=multi-node").replace(
            "DWH_NUM_NODES=3", "DWH_NUM_NODES=1"
        )
    )
    with pytest.raises(ConfigError, match="DWH_NUM_NODES"):
        infra.spec_from_config(infra.read_settings(cfg))


# --------------------------------------------------------------------------- Serverless (fake)


class FakeServerless:
    """An in-memory stand-in for the Redshift Serverless JSON API, over real HTTP.

    A resource being created or deleted stays in CREATING/DELETING for
    ``pending`` reads before it becomes AVAILABLE or disappears.
    """

    def __init__(self, pending: int = 0) -> None:
        self.pending = pending
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.workgroups: dict[str, dict[str, Any]] = {}
        self.countdown: dict[tuple[str, str], int] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def handle(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append((operation, body))
        kind = "namespace" if "Namespace" in operation else "workgroup"
        store = self.namespaces if kind == "namespace" else self.workgroups
        name = body.get(f"{kind}Name", "")
        if operation.startswith("Create"):
            if name in store:
                return 400, {"__type": "ConflictException", "message": f"{name} exists"}
            item = self._new(kind, body)
            store[name] = item
            self.countdown[kind, name] = self.pending
            return 200, {kind: item}
        if name not in store:
            return 400, {"__type": "ResourceNotFoundException", "message": f"{name} not found"}
        item = store[name]
        if operation.startswith("Delete"):
            item["status"] = "DELETING"
            self.countdown[kind, name] = self.pending
            return 200, {kind: item}
        if operation.startswith("Update"):
            item["iamRoles"] = [self._role(arn) for arn in body.get("iamRoles", [])]
            return 200, {kind: item}
        if self.countdown.get((kind, name), 0) > 0:
            self.countdown[kind, name] -= 1
        elif item["status"] == "DELETING":
            del store[name]
            return 400, {"__type": "ResourceNotFoundException", "message": f"{name} not found"}
        else:
            item["status"] = "AVAILABLE"
            if kind == "workgroup":
                item["endpoint"] = {
                    "address": f"{name}.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com",
                    "port": item["port"],
                }
        return 200, {kind: item}

    @staticmethod
    def _role(arn: str) -> str:
        return f"IamRole(applyStatus=in-sync, iamRoleArn={arn})"

    def _new(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        if kind == "namespace":
            return {
                "namespaceName": body["namespaceName"],
                "dbName": body.get("dbName", "dev"),
                "adminUsername": body.get("adminUsername", "admin"),
                "iamRoles": [self._role(arn) for arn in body.get("iamRoles", [])],
                "status": "MODIFYING" if self.pending else "AVAILABLE",
            }
        return {
            "workgroupName": body["workgroupName"],
            "namespaceName": body["namespaceName"],
            "baseCapacity": body.get("baseCapacity", 128),
            "port": body.get("port", 5439),
            "securityGroupIds": body.get("securityGroupIds", []),
            "publiclyAccessible": body.get("publiclyAccessible", False),
            "status": "CREATING",
        }


@pytest.fixture
def fake_serverless(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeServerless, str]]:
    fake = FakeServerless()

    with json_api(fake.handle) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS", url)
        yield fake, url


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.waits: list[str] = []
        self.warnings: list[str] = []

    def step(self, message: str) -> None:
        self.steps.append(message)

    def waiting(self, message: str) -> None:
        self.waits.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def test_serverless_up_waits_for_namespace_and_workgroup_and_down_removes_both(
    cfg: Path,
    names: Names,
    security_group: str,
    aws_env: str,
    fake_serverless: tuple[FakeServerless, str],
) -> None:
    fake, _ = fake_serverless
    fake.pending = 2
    spec = infra.spec_from_config(
        infra.read_settings(cfg), serverless=True, cidr=names.cidr, security_group_id=security_group
    )
    clients = infra.AwsClients.from_session(infra.session_for(REGION, None)[0])
    reporter = Recorder()
    waiting = infra.Waiting(poll_interval=0)

    result = infra.up(spec, clients, reporter=reporter, waiting=waiting)

    assert result.warehouse is not None and result.warehouse.available
    assert result.warehouse.kind == "serverless"
    assert result.warehouse.host == (
        f"{names.cluster}.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com"
    )
    assert result.warehouse.security_group_ids == (security_group,)
    assert result.role is not None
    assert result.warehouse.iam_role_arns == (result.role.arn,)
    assert set(result.role.trusted_services) == {
        "redshift.amazonaws.com",
        "redshift-serverless.amazonaws.com",
    }
    assert [(r.cidr, r.managed) for r in result.ingress] == [(names.cidr, True)]
    assert any("workgroup" in wait and "creating" in wait for wait in reporter.waits)
    created = dict(fake.requests)
    assert created["CreateNamespace"]["adminUserPassword"] == PASSWORD
    assert created["CreateWorkgroup"]["baseCapacity"] == 8
    assert created["CreateWorkgroup"]["publiclyAccessible"] is True

    again = infra.up(spec, clients, reporter=Recorder(), waiting=waiting)
    assert again == result
    assert [op for op, _ in fake.requests].count("CreateWorkgroup") == 1

    deleted = infra.down(spec, clients, final_snapshot="last", reporter=reporter, waiting=waiting)

    assert any("workgroup" in line for line in deleted)
    assert any("namespace" in line and "final snapshot last" in line for line in deleted)
    assert fake.namespaces == {} and fake.workgroups == {}
    assert dict(fake.requests)["DeleteNamespace"]["finalSnapshotName"] == "last"
    assert not infra.status(spec, clients).exists
    assert infra.down(spec, clients, reporter=Recorder(), waiting=waiting) == ()


def test_serverless_through_the_cli_is_detected_from_host_for_status_and_down(
    cfg: Path,
    names: Names,
    security_group: str,
    aws: dict[str, Any],
    fake_serverless: tuple[FakeServerless, str],
) -> None:
    fake, _ = fake_serverless

    created = up(cfg, "--serverless", "--cidr", names.cidr, "--security-group-id", security_group)

    assert created.exit_code == 0, created.output
    host = f"{names.cluster}.{ACCOUNT}.{REGION}.redshift-serverless.amazonaws.com"
    assert f"HOST={host}\n" in cfg.read_text()
    shown = run("status", "--config", str(cfg))
    assert f"Workgroup:  {names.cluster}: available" in shown.stdout
    assert f"Endpoint: {host}:5439" in shown.stdout

    gone = run("down", "--config", str(cfg), "--yes")

    assert gone.exit_code == 0, gone.output
    assert fake.workgroups == {} and fake.namespaces == {}
    assert role_or_none(aws["iam"], names.role) is None
    assert ingress(aws["ec2"], security_group) == []
    assert "HOST=\n" in cfg.read_text()
    for text in (created.output, shown.output, gone.output):
        assert PASSWORD not in text


def test_waiting_gives_up_after_the_timeout_with_the_last_state(
    cfg: Path,
    names: Names,
    security_group: str,
    aws_env: str,
    fake_serverless: tuple[FakeServerless, str],
) -> None:
    fake, _ = fake_serverless
    fake.pending = 10**6
    spec = infra.spec_from_config(
        infra.read_settings(cfg), serverless=True, security_group_id=security_group
    )
    clients = infra.AwsClients.from_session(infra.session_for(REGION, None)[0])
    ticks = iter(range(0, 10**6, 10))
    waiting = infra.Waiting(
        poll_interval=10, timeout=25, sleep=lambda _: None, clock=lambda: float(next(ticks))
    )

    with pytest.raises(infra.InfraTimeoutError) as caught:
        infra.up(spec, clients, reporter=Recorder(), waiting=waiting)

    assert caught.value.last_state == "modifying"
    assert "run the command again to keep waiting" in str(caught.value)
    fake.pending = 0
    infra.down(spec, clients, reporter=Recorder(), waiting=infra.Waiting(poll_interval=0))


# --------------------------------------------------------------------------- manifests


def with_manifest_prefix(cfg: Path, names: Names, prefix: str) -> Path:
    text = cfg.read_text().replace(
        f"SONG_DATA='s3://{names.bucket}/song_data'\n",
        f"SONG_DATA='s3://{names.bucket}/song_data'\nMANIFEST_PREFIX={prefix}\n",
    )
    cfg.write_text(text)
    return cfg


def make_bucket(name: str, region: str = REGION) -> str:
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
    )
    return name


def role_grants(iam: Any, role: str) -> set[tuple[str, str, str]]:
    policy = iam.get_role_policy(RoleName=role, PolicyName=infra.POLICY_NAME)["PolicyDocument"]
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])
    return {
        (st["Action"], resource, json.dumps(st.get("Condition", {}), sort_keys=True))
        for st in policy["Statement"]
        for resource in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    }


def test_the_role_reads_the_sources_and_the_manifest_prefix_and_nothing_more(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    manifests = make_bucket(f"manifests-{names.bucket}")
    with_manifest_prefix(cfg, names, f"s3://{manifests}/sparkify/manifests")

    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    no_condition = "{}"
    assert role_grants(aws["iam"], names.role) == {
        ("s3:ListBucket", f"arn:aws:s3:::{names.bucket}", no_condition),
        ("s3:ListBucket", f"arn:aws:s3:::{names.jsonpath_bucket}", no_condition),
        ("s3:GetObject", f"arn:aws:s3:::{names.bucket}/*", no_condition),
        ("s3:GetObject", f"arn:aws:s3:::{names.jsonpath_bucket}/*", no_condition),
        (
            "s3:ListBucket",
            f"arn:aws:s3:::{manifests}",
            json.dumps({"StringLike": {"s3:prefix": ["sparkify/manifests/*"]}}),
        ),
        ("s3:GetObject", f"arn:aws:s3:::{manifests}/sparkify/manifests/*", no_condition),
    }
    assert f"and manifests under s3://{manifests}/sparkify/manifests" in result.stderr
    assert "warning" not in result.stderr
    shown = run("status", "--config", str(cfg))
    assert f"arn:aws:s3:::{manifests} (prefix sparkify/manifests/*)" in shown.stdout
    assert f"arn:aws:s3:::{manifests}/sparkify/manifests/*" in shown.stdout


def test_a_second_up_after_manifest_prefix_was_added_grants_it_to_the_existing_role(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    assert up(cfg, "--security-group-id", security_group).exit_code == 0
    manifests = make_bucket(f"manifests-{names.bucket}")
    with_manifest_prefix(cfg, names, f"s3://{manifests}/m/")

    second = up(cfg, "--security-group-id", security_group)
    third = up(cfg, "--security-group-id", security_group)

    assert second.exit_code == 0, second.output
    assert f"updated policy {infra.POLICY_NAME}" in second.stderr
    grants = role_grants(aws["iam"], names.role)
    assert ("s3:GetObject", f"arn:aws:s3:::{manifests}/m/*", "{}") in grants
    assert len(grants) == 6
    assert f"policy {infra.POLICY_NAME} already reads" in third.stderr
    assert "updated policy" not in third.stderr


def test_up_says_when_the_manifest_bucket_is_in_another_region(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    manifests = make_bucket(f"manifests-{names.bucket}", region="eu-west-1")
    with_manifest_prefix(cfg, names, f"s3://{manifests}/sparkify")

    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    assert (
        f"warning: [S3] MANIFEST_PREFIX s3://{manifests}/sparkify is in eu-west-1, but the "
        "configured region is us-west-2" in result.stderr
    )
    assert "the manifest included, must be in that region" in result.stderr


def test_up_says_what_your_identity_needs_to_connect_with_iam_auth(
    cfg: Path, names: Names, security_group: str, aws: dict[str, Any]
) -> None:
    result = up(cfg, "--security-group-id", security_group)

    assert result.exit_code == 0, result.output
    base = f"arn:aws:redshift:{REGION}:{ACCOUNT}"
    assert (
        f"your IAM identity needs redshift:GetClusterCredentials on "
        f"{base}:dbuser:{names.cluster}/awsuser, {base}:dbname:{names.cluster}/dev"
    ) in " ".join(result.stderr.split())


def test_a_manifest_prefix_that_is_not_on_s3_is_refused_before_anything_is_created(
    tmp_path: Path, names: Names, clean_env: None
) -> None:
    settings = infra.read_settings(write_cfg(tmp_path / "dwh.cfg", names))

    with pytest.raises(ConfigError, match=r"MANIFEST_PREFIX.*not an s3:// prefix"):
        infra.InfraSpec(region=REGION, buckets=("b",), manifest_prefix="/tmp/manifests")
    spec = infra.spec_from_config(settings)
    assert spec.manifest_prefix is None
    assert [st["Sid"] for st in spec.read_policy()["Statement"]] == [
        "ListSourceBuckets",
        "ReadSourceObjects",
    ]
