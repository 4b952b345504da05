"""What to build: :class:`InfraSpec`, its validation, and the source buckets."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sparkify.config import Settings
from sparkify.errors import ConfigError

DEFAULT_CLUSTER_IDENTIFIER = "sparkify-dwh"
DEFAULT_ROLE_NAME = "sparkify-redshift-s3-read"
DEFAULT_NODE_TYPE = "ra3.large"
DEFAULT_NUMBER_OF_NODES = 2
DEFAULT_DB_NAME = "dev"
DEFAULT_DB_USER = "awsuser"
DEFAULT_PORT = 5439
DEFAULT_BASE_CAPACITY = 8
#: Name of the inline policy that lets the role read the source bucket(s) and the manifests.
POLICY_NAME = "sparkify-s3-read"

_IDENTIFIER_RE = re.compile(r"[a-z](?:[a-z0-9]|-(?!-))*")
_ROLE_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}")
_DB_NAME_RE = re.compile(r"[a-z_][a-z0-9_$]{0,63}")
_DB_USER_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_$-]{0,127}")
_SG_RE = re.compile(r"sg-[0-9a-f]+")
_PASSWORD_FORBIDDEN = set("'\"\\/@ ")


@dataclass(frozen=True)
class InfraSpec:
    """What ``up`` should build and ``status``/``down`` look for. Validated on creation.

    Attributes:
        region: AWS region of everything (the source bucket's region).
        buckets: the source bucket names the role may read.
        cluster_identifier: the provisioned cluster, or the Serverless namespace and
            workgroup (both get this name).
        role_name: the IAM role Redshift assumes for COPY.
        node_type, number_of_nodes: the provisioned cluster's shape (1 node = single-node).
        db_name, db_user: the database and master user created with the warehouse.
        master_password: only needed to create the warehouse; never shown.
        port: the database port, opened to ``cidr`` by the ingress rule.
        cidr: who may connect (``None``: no rule is added); ``0.0.0.0/0`` warns.
        security_group_id: the VPC security group for a new warehouse (default: the
            default VPC's ``default`` group).
        serverless: a Serverless namespace and workgroup instead of a cluster.
        base_capacity: the workgroup's base RPUs (Serverless only).
        publicly_accessible: give the warehouse a public endpoint (needed to connect
            from outside the VPC, e.g. from ``cidr``).
        manifest_prefix: ``[S3] MANIFEST_PREFIX``, the ``s3://`` prefix COPY manifests
            are written under; the role may read it (and list it), nothing more.
    """

    region: str
    buckets: tuple[str, ...]
    cluster_identifier: str = DEFAULT_CLUSTER_IDENTIFIER
    role_name: str = DEFAULT_ROLE_NAME
    node_type: str = DEFAULT_NODE_TYPE
    number_of_nodes: int = DEFAULT_NUMBER_OF_NODES
    db_name: str = DEFAULT_DB_NAME
    db_user: str = DEFAULT_DB_USER
    master_password: str | None = field(default=None, repr=False, compare=False)
    port: int = DEFAULT_PORT
    cidr: str | None = None
    security_group_id: str | None = None
    serverless: bool = False
    base_capacity: int = DEFAULT_BASE_CAPACITY
    publicly_accessible: bool = True
    manifest_prefix: str | None = None

    def __post_init__(self) -> None:
        if not self.buckets:
            raise ConfigError(
                "no s3:// source is configured, so the role would read nothing", section="S3"
            )
        if (
            not _IDENTIFIER_RE.fullmatch(self.cluster_identifier)
            or len(self.cluster_identifier) > 63
            or self.cluster_identifier.endswith("-")
        ):
            raise ConfigError(
                f"{self.cluster_identifier!r} is not a valid cluster identifier (lowercase "
                "letters, digits and single hyphens, starting with a letter, at most 63)",
                section="DWH",
                key="DWH_CLUSTER_IDENTIFIER",
            )
        if not _ROLE_NAME_RE.fullmatch(self.role_name):
            raise ConfigError(
                f"{self.role_name!r} is not a valid IAM role name",
                section="DWH",
                key="DWH_IAM_ROLE_NAME",
            )
        if not 1 <= self.number_of_nodes <= 128:
            raise ConfigError(
                f"the number of nodes must be 1 to 128, not {self.number_of_nodes}",
                section="DWH",
                key="DWH_NUM_NODES",
            )
        if not _DB_NAME_RE.fullmatch(self.db_name):
            raise ConfigError(
                f"{self.db_name!r} is not a valid Redshift database name",
                section="DWH",
                key="DWH_DB",
            )
        if not _DB_USER_RE.fullmatch(self.db_user):
            raise ConfigError(
                f"{self.db_user!r} is not a valid Redshift user name",
                section="DWH",
                key="DWH_DB_USER",
            )
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"{self.port} is not a TCP port", section="DWH", key="DWH_PORT")
        if self.cidr is not None:
            object.__setattr__(self, "cidr", normalize_cidr(self.cidr))
        if self.serverless and len(self.cluster_identifier) < 3:
            raise ConfigError(
                "Serverless namespace and workgroup names need at least 3 characters",
                section="DWH",
                key="DWH_CLUSTER_IDENTIFIER",
            )
        if self.security_group_id is not None and not _SG_RE.fullmatch(self.security_group_id):
            raise ConfigError(
                f"{self.security_group_id!r} is not a security group id (sg-...)",
                key="--security-group-id",
            )
        if self.base_capacity < 8 or self.base_capacity % 8:
            raise ConfigError(
                f"the base capacity must be a multiple of 8 RPUs, at least 8, "
                f"not {self.base_capacity}",
                key="--base-capacity",
            )
        if self.master_password is not None:
            check_master_password(self.master_password)
        if self.manifest_prefix is not None:
            manifest_location(self.manifest_prefix)

    @property
    def cluster_type(self) -> Literal["single-node", "multi-node"]:
        """``single-node`` for one node, else ``multi-node``."""
        return "single-node" if self.number_of_nodes == 1 else "multi-node"

    @property
    def partition(self) -> str:
        """The ARN partition of the region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def rule_description(self) -> str:
        """The description that marks the ingress rules sparkify added for this warehouse."""
        return f"sparkify infra: {self.cluster_identifier}"

    @property
    def trusted_services(self) -> tuple[str, ...]:
        """The service principals the role's trust policy names."""
        if self.serverless:
            return ("redshift-serverless.amazonaws.com", "redshift.amazonaws.com")
        return ("redshift.amazonaws.com",)

    def trust_policy(self) -> dict[str, Any]:
        """The role's trust policy: the Redshift service(s) may assume it."""
        services = list(self.trusted_services)
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": services[0] if len(services) == 1 else services},
                    "Action": "sts:AssumeRole",
                }
            ],
        }

    def read_policy(self) -> dict[str, Any]:
        """The inline policy: read the sources and the manifests, nothing else.

        COPY's role needs "permission to LIST the Amazon S3 bucket and GET the
        Amazon S3 objects that are being loaded, and the manifest file, if one is
        used" (https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-access-permissions.html#copy-usage_notes-iam-permissions).
        The source buckets are read whole (a source is a prefix, and the JSONPaths
        file may sit anywhere in them); the manifest bucket only under
        MANIFEST_PREFIX: ``s3:GetObject`` on ``bucket/prefix/*`` and ``s3:ListBucket``
        on the bucket with an ``s3:prefix`` condition for that prefix.
        """
        arns = [f"arn:{self.partition}:s3:::{bucket}" for bucket in self.buckets]
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ListSourceBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": arns,
            },
            {
                "Sid": "ReadSourceObjects",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{arn}/*" for arn in arns],
            },
        ]
        if self.manifest_prefix is not None:
            bucket, key = manifest_location(self.manifest_prefix)
            listing: dict[str, Any] = {
                "Sid": "ListManifestPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:{self.partition}:s3:::{bucket}",
            }
            if key:
                listing["Condition"] = {"StringLike": {"s3:prefix": [f"{key}*"]}}
            statements += [
                listing,
                {
                    "Sid": "ReadManifests",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:{self.partition}:s3:::{bucket}/{key}*",
                },
            ]
        return {"Version": "2012-10-17", "Statement": statements}

    def connect_policy(self, account: str, workgroup_arn: str | None = None) -> dict[str, Any]:
        """What *your* IAM identity needs to connect with ``[CLUSTER] AUTH = iam``.

        sparkify never changes its caller's own permissions; ``up`` prints this.
        GetClusterCredentials needs ``redshift:GetClusterCredentials`` on the
        ``dbuser`` and ``dbname`` resources ("If the DbName parameter is specified,
        the IAM policy must allow access to the resource dbname for the specified
        database name",
        https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html);
        Serverless needs ``redshift-serverless:GetCredentials`` on the workgroup
        (https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html).
        """
        if self.serverless:
            resource = workgroup_arn or (
                f"arn:{self.partition}:redshift-serverless:{self.region}:{account}:workgroup/*"
            )
            action, resources = "redshift-serverless:GetCredentials", [resource]
        else:
            base = f"arn:{self.partition}:redshift:{self.region}:{account}"
            action = "redshift:GetClusterCredentials"
            resources = [
                f"{base}:dbuser:{self.cluster_identifier}/{self.db_user}",
                f"{base}:dbname:{self.cluster_identifier}/{self.db_name}",
            ]
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resources}],
        }


def manifest_location(prefix: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``, read as a folder.

    Raises:
        ConfigError: naming ``[S3] MANIFEST_PREFIX`` when it is not an ``s3://`` prefix.
    """
    bucket, _, key = prefix[5:].partition("/") if prefix.startswith("s3://") else ("", "", "")
    if not bucket:
        raise ConfigError(
            f"{prefix!r} is not an s3:// prefix (COPY reads manifests from S3)",
            section="S3",
            key="MANIFEST_PREFIX",
        )
    return bucket, key if not key or key.endswith("/") else key + "/"


def check_master_password(password: str) -> None:
    """Check Redshift's password rules locally; the error never contains the password."""
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not any(c.isupper() for c in password):
        problems.append("an uppercase letter")
    if not any(c.islower() for c in password):
        problems.append("a lowercase letter")
    if not any(c.isdigit() for c in password):
        problems.append("a digit")
    if any(c in _PASSWORD_FORBIDDEN or not (33 <= ord(c) <= 126) for c in password):
        problems.append("only printable ASCII without ' \" \\ / @ or space")
    if problems:
        raise ConfigError(
            "the master password does not meet Redshift's rules: it needs " + ", ".join(problems),
            key="DB_PASSWORD",
        )


def normalize_cidr(text: str) -> str:
    """``203.0.113.7`` -> ``203.0.113.7/32``; rejects host bits and non-networks."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise ConfigError(
            f"{text!r} is not a CIDR block such as 203.0.113.7/32 (no host bits after the prefix)",
            key="--cidr",
        ) from None
    return str(network)


def is_everyone(cidr: str) -> bool:
    """Whether a CIDR opens the port to the whole internet (``0.0.0.0/0``, ``::/0``)."""
    return ipaddress.ip_network(cidr).prefixlen == 0


def source_buckets(settings: Settings) -> tuple[str, ...]:
    """The distinct buckets of the ``s3://`` sources (SONG_DATA, LOG_DATA, LOG_JSONPATH)."""
    buckets = {
        source[5:].split("/", 1)[0]
        for source in (settings.song_data, settings.log_data, settings.log_jsonpath)
        if source.startswith("s3://")
    }
    return tuple(sorted(buckets))
