"""The warehouse's AWS side as code: IAM role, Redshift cluster (or Serverless), ingress rule.

This replaces the seed's "launch a Redshift cluster and create an IAM role"
notebook. Three operations, each idempotent:

* :func:`up` creates what is missing and reuses what exists: an IAM role that
  Redshift can assume, with an inline policy that reads only the source
  bucket(s) (``s3:ListBucket`` on ``arn:aws:s3:::BUCKET``, ``s3:GetObject`` on
  ``arn:aws:s3:::BUCKET/*``); a provisioned cluster, or a Serverless namespace
  and workgroup of the same name; an inbound TCP rule on the warehouse's VPC
  security group for one CIDR. It waits until the warehouse is available.
* :func:`status` reports what exists.
* :func:`down` revokes the rules sparkify added, deletes the warehouse (with an
  optional final snapshot) and the role.

:func:`up`, :func:`status` and :func:`down` take boto3 clients
(:class:`AwsClients`) and never build them, so tests point them at moto. Every
botocore failure becomes an :class:`AwsError` in :func:`_aws`, the one
translation boundary. Secrets (the master password, an AWS secret key) never
appear in a repr, a log line or an error.

Defaults, each overridden by the seed's ``dwh.cfg [DWH]`` keys, then by flags:

* cluster (or Serverless namespace and workgroup) name: DWH_CLUSTER_IDENTIFIER,
  default ``sparkify-dwh`` (lower-cased, as Redshift does);
* IAM role: DWH_IAM_ROLE_NAME, default ``sparkify-redshift-s3-read``;
* node type: DWH_NODE_TYPE, default ``ra3.large``; number of nodes: DWH_NUM_NODES,
  default 2; DWH_CLUSTER_TYPE ``single-node`` forces 1 node (else the type
  follows the number: 1 node is single-node). ``ra3.large`` x 2 is the smallest
  current multi-node shape; the seed's ``dc2.large`` x 4 is an older generation
  (set DWH_NODE_TYPE and DWH_NUM_NODES to keep it);
* database, master user, port: DWH_DB, DWH_DB_USER, DWH_PORT, else ``[CLUSTER]``
  DB_NAME, DB_USER, DB_PORT, else ``dev``, ``awsuser``, 5439;
* master password (only needed to create): ``SPARKIFY_DB_PASSWORD``, else
  DWH_DB_PASSWORD, else ``[CLUSTER]`` DB_PASSWORD;
* the warehouse gets a public endpoint and the default VPC's ``default`` security
  group unless told otherwise; no inbound rule is added without a CIDR.

Serverless workgroups get a base capacity of 8 RPUs, the minimum.
"""

from __future__ import annotations

import configparser
import functools
import ipaddress
import json
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from sparkify.config import Settings, load_settings
from sparkify.errors import ConfigError, SparkifyError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import IpPermissionTypeDef
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_redshift import RedshiftClient

log = logging.getLogger(__name__)

DEFAULT_CLUSTER_IDENTIFIER = "sparkify-dwh"
DEFAULT_ROLE_NAME = "sparkify-redshift-s3-read"
DEFAULT_NODE_TYPE = "ra3.large"
DEFAULT_NUMBER_OF_NODES = 2
DEFAULT_DB_NAME = "dev"
DEFAULT_DB_USER = "awsuser"
DEFAULT_PORT = 5439
DEFAULT_BASE_CAPACITY = 8
DEFAULT_POLL_INTERVAL = 15.0
DEFAULT_TIMEOUT = 30 * 60.0
#: Name of the inline policy that lets the role read the source bucket(s).
POLICY_NAME = "sparkify-s3-read"
#: Tag put on everything ``up`` creates.
TAG_KEY, TAG_VALUE = "project", "sparkify"
#: Placeholder database URL: infra commands read sources and region, never the database.
_NO_DATABASE = "duckdb:///:memory:"

#: Provisioned-cluster states worth waiting through; any other one is an error for ``up``.
_CLUSTER_TRANSITIONAL = {
    "creating",
    "modifying",
    "rebooting",
    "resizing",
    "renaming",
    "available, prep-for-resize",
    "available, resize-cleanup",
}
_SECRET_MASK = "***"


# --------------------------------------------------------------------------- errors


class AwsError(SparkifyError):
    """An AWS API call failed (the botocore error, translated, secrets removed)."""

    def __init__(self, action: str, code: str, reason: str) -> None:
        self.action = action
        self.code = code
        self.reason = reason
        super().__init__(f"could not {action} (AWS said {code}): {reason}")


class InfraStateError(SparkifyError):
    """A resource is in a state the command cannot work with."""

    def __init__(self, resource: str, state: str, hint: str) -> None:
        self.resource = resource
        self.state = state
        self.hint = hint
        super().__init__(f"{resource} is {state}: {hint}")


class InfraTimeoutError(SparkifyError):
    """A resource did not reach the wanted state before the timeout."""

    def __init__(self, resource: str, wanted: str, last_state: str, waited: float) -> None:
        self.resource = resource
        self.wanted = wanted
        self.last_state = last_state
        self.waited = waited
        super().__init__(
            f"{resource} still {last_state} after {waited:.0f} s "
            f"(waiting for {wanted}); run the command again to keep waiting"
        )


# --------------------------------------------------------------------------- progress


class Reporter(Protocol):
    """Receives what the operations do: steps done, waits in progress, warnings."""

    def step(self, message: str) -> None:
        """One thing was done or found (created, reused, deleted...)."""

    def waiting(self, message: str) -> None:
        """Still waiting for a resource; called once per poll."""

    def warn(self, message: str) -> None:
        """Something the user should know and probably fix."""


class LogReporter:
    """The default reporter: steps and waits at INFO, warnings at WARNING."""

    def step(self, message: str) -> None:
        log.info("%s", message)

    def waiting(self, message: str) -> None:
        log.info("%s", message)

    def warn(self, message: str) -> None:
        log.warning("%s", message)


@dataclass(frozen=True)
class Waiting:
    """How to wait for AWS: poll interval and timeout in seconds, and the clock to use."""

    poll_interval: float = DEFAULT_POLL_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


# --------------------------------------------------------------------------- spec


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
        """The inline policy: list the source bucket(s) and read their objects, nothing else."""
        arns = [f"arn:{self.partition}:s3:::{bucket}" for bucket in self.buckets]
        return {
            "Version": "2012-10-17",
            "Statement": [
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
            ],
        }


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


# --------------------------------------------------------------------------- dwh.cfg


def read_settings(
    config_file: str | os.PathLike[str],
    *,
    region: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings for the infra commands: sources and region; the database is not needed.

    ``[CLUSTER]`` is not required to be complete (``down`` must work when it is not).
    """
    settings = load_settings(config_file=config_file, database_url=_NO_DATABASE, environ=environ)
    return replace(settings, region=region) if region else settings


def _cfg_values(path: Path | None) -> dict[str, dict[str, str]]:
    """Non-empty values of ``dwh.cfg`` by section and upper-case key, quotes stripped."""
    if path is None:
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise ConfigError(
            f"cannot parse the file{where} ({type(exc).__name__})", file=str(path)
        ) from None
    values: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        for key, raw in parser.items(section, raw=True):
            value = raw.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if value:
                values.setdefault(section, {})[key] = value
    return values


def spec_from_config(
    settings: Settings,
    *,
    cluster_identifier: str | None = None,
    role_name: str | None = None,
    node_type: str | None = None,
    number_of_nodes: int | None = None,
    db_name: str | None = None,
    db_user: str | None = None,
    port: int | None = None,
    cidr: str | None = None,
    security_group_id: str | None = None,
    serverless: bool | None = None,
    base_capacity: int | None = None,
    publicly_accessible: bool = True,
    environ: Mapping[str, str] | None = None,
) -> InfraSpec:
    """Build the spec: arguments (flags) > ``[DWH]`` (the seed's keys) > ``[CLUSTER]`` > defaults.

    ``serverless=None`` means: Serverless when ``[CLUSTER] HOST`` is a Serverless
    endpoint (``*.redshift-serverless.amazonaws.com``), else a provisioned cluster.
    The master password comes from ``SPARKIFY_DB_PASSWORD``, then ``[DWH]
    DWH_DB_PASSWORD``, then ``[CLUSTER] DB_PASSWORD``.
    """
    env = os.environ if environ is None else environ
    cfg = _cfg_values(settings.config_file)
    dwh = cfg.get("DWH", {})
    cluster = cfg.get("CLUSTER", {})
    file = str(settings.config_file) if settings.config_file else None

    def number(value: str | None, section: str, key: str) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise ConfigError(
                f"must be a number, not {value!r}", file=file, section=section, key=key
            ) from None

    nodes = number_of_nodes
    if nodes is None:
        nodes = number(dwh.get("DWH_NUM_NODES"), "DWH", "DWH_NUM_NODES")
        cluster_type = dwh.get("DWH_CLUSTER_TYPE")
        if cluster_type == "single-node":
            nodes = 1
        elif cluster_type == "multi-node":
            nodes = DEFAULT_NUMBER_OF_NODES if nodes is None else nodes
            if nodes < 2:
                raise ConfigError(
                    "a multi-node cluster needs DWH_NUM_NODES of 2 or more",
                    file=file,
                    section="DWH",
                    key="DWH_NUM_NODES",
                )
        elif cluster_type is not None:
            raise ConfigError(
                f"must be single-node or multi-node, not {cluster_type!r}",
                file=file,
                section="DWH",
                key="DWH_CLUSTER_TYPE",
            )
    host = cluster.get("HOST", "")
    if serverless is None:
        serverless = ".redshift-serverless." in host
    return InfraSpec(
        region=settings.region,
        buckets=source_buckets(settings),
        cluster_identifier=(
            cluster_identifier or dwh.get("DWH_CLUSTER_IDENTIFIER") or DEFAULT_CLUSTER_IDENTIFIER
        ).lower(),
        role_name=role_name or dwh.get("DWH_IAM_ROLE_NAME") or DEFAULT_ROLE_NAME,
        node_type=node_type or dwh.get("DWH_NODE_TYPE") or DEFAULT_NODE_TYPE,
        number_of_nodes=DEFAULT_NUMBER_OF_NODES if nodes is None else nodes,
        db_name=db_name or dwh.get("DWH_DB") or cluster.get("DB_NAME") or DEFAULT_DB_NAME,
        db_user=db_user or dwh.get("DWH_DB_USER") or cluster.get("DB_USER") or DEFAULT_DB_USER,
        master_password=(
            env.get("SPARKIFY_DB_PASSWORD")
            or dwh.get("DWH_DB_PASSWORD")
            or cluster.get("DB_PASSWORD")
        ),
        port=port
        or number(dwh.get("DWH_PORT"), "DWH", "DWH_PORT")
        or number(cluster.get("DB_PORT"), "CLUSTER", "DB_PORT")
        or DEFAULT_PORT,
        cidr=normalize_cidr(cidr) if cidr is not None else None,
        security_group_id=security_group_id,
        serverless=serverless,
        base_capacity=base_capacity or DEFAULT_BASE_CAPACITY,
        publicly_accessible=publicly_accessible,
    )


@dataclass(frozen=True)
class FileCredentials:
    """AWS keys found in ``dwh.cfg [AWS]`` (the seed's KEY and SECRET); the secret is hidden."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def file_credentials(config_file: str | os.PathLike[str] | None) -> FileCredentials | None:
    """The ``[AWS] KEY`` and ``SECRET`` of ``dwh.cfg``, when both are set."""
    aws = _cfg_values(Path(config_file) if config_file else None).get("AWS", {})
    key, secret = aws.get("KEY"), aws.get("SECRET")
    if key and secret:
        return FileCredentials(key, secret)
    return None


def session_for(
    region: str,
    config_file: str | os.PathLike[str] | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[boto3.Session, tuple[str, ...]]:
    """A boto3 session for ``region`` and the warnings to show about credentials.

    Credentials come from boto3's usual chain (environment, profile, SSO, instance
    role...). Keys in ``dwh.cfg [AWS]`` are used only when the environment names
    neither keys nor a profile, and always draw a warning.
    """
    env = os.environ if environ is None else environ
    creds = file_credentials(config_file)
    if creds is None:
        return boto3.Session(botocore_session=_botocore_session(), region_name=region), ()
    advice = (
        "dwh.cfg [AWS] holds KEY and SECRET: keys in a project file leak easily; "
        "an environment variable or a profile (aws configure) is safer"
    )
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"):
        return boto3.Session(botocore_session=_botocore_session(), region_name=region), (
            advice + " (they are ignored here: the environment's credentials win)",
        )
    session = boto3.Session(
        botocore_session=_botocore_session(),
        region_name=region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
    )
    return session, (advice + " (they are used: the environment has no credentials)",)


@functools.cache
def _data_loader() -> botocore.loaders.Loader:
    """One botocore data loader per process, so service models are parsed once."""
    return botocore.loaders.create_loader()


def _botocore_session() -> botocore.session.Session:
    """A fresh botocore session (own credentials and config) sharing the parsed models."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _data_loader())
    return session


_SECTION_RE = re.compile(r"\s*\[(?P<name>.+)\]\s*")
_KEY_RE = re.compile(
    r"(?P<indent>[ \t]*)(?P<key>[^\s=:#;\[][^=:]*?)(?P<sep>[ \t]*[=:][ \t]*)"
    r"(?P<value>.*)"
)


def update_config_file(
    path: str | os.PathLike[str], updates: Mapping[str, Mapping[str, str]]
) -> tuple[str, ...]:
    """Set keys in an INI file by editing only their lines; comments and layout stay.

    ``configparser`` would drop every comment, so this edits text: a key present
    in its section keeps its spelling and separator and gets the new value (its
    continuation lines go); a missing key is added after the section's last
    line; a missing section is appended. Keys match case-insensitively, sections
    exactly (as ``configparser`` does). Line endings are kept; the file is
    replaced atomically (a missing file is created).

    Returns:
        The keys whose value changed, as ``"[SECTION] KEY"`` (empty: file untouched).
    """
    target = Path(path)
    original = target.read_bytes().decode("utf-8") if target.exists() else ""
    text = edit_config_text(original, updates)
    if text == original:
        return ()
    before, after = _raw_values(original), _raw_values(text)
    changed = tuple(
        f"[{section}] {key}"
        for section, pairs in updates.items()
        for key in pairs
        if before.get((section, key.upper())) != after.get((section, key.upper()))
    )
    real = target.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", dir=real.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if real.exists():
            shutil.copymode(real, tmp)
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return changed or tuple(
        f"[{section}] {key}" for section, pairs in updates.items() for key in pairs
    )


def _raw_values(text: str) -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    return {
        (section, key): value
        for section in parser.sections()
        for key, value in parser.items(section, raw=True)
    }


def edit_config_text(text: str, updates: Mapping[str, Mapping[str, str]]) -> str:
    """The text of :func:`update_config_file`, without touching the disk."""
    for section, keys in updates.items():
        for key, value in keys.items():
            if "\n" in value or "\r" in value or value != value.strip():
                raise ConfigError(
                    "a value cannot hold line breaks or surrounding spaces",
                    section=section,
                    key=key,
                )
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline

    # Sections as [name, header line, end line (exclusive)].
    bounds: list[tuple[str, int, int]] = []
    for index, line in enumerate(lines):
        match = _SECTION_RE.fullmatch(line.rstrip("\r\n"))
        if match and not line[:1].isspace():
            if bounds:
                bounds[-1] = (bounds[-1][0], bounds[-1][1], index)
            bounds.append((match["name"], index, len(lines)))

    wanted = {
        section: {key.upper(): (key, value) for key, value in keys.items()}
        for section, keys in updates.items()
    }
    # Edit bottom-up so that earlier line numbers stay valid. configparser refuses
    # duplicate sections, so each name occurs once.
    for name, start, end in reversed(bounds):
        if name in wanted:
            lines[start + 1 : end] = _edit_section(lines[start + 1 : end], wanted[name], newline)
    present = {name for name, _, _ in bounds}
    for section, pairs in wanted.items():
        if section in present:
            continue
        if lines and lines[-1].strip():
            lines.append(newline)
        lines.append(f"[{section}]{newline}")
        lines.extend(f"{key}={value}{newline}" for key, value in pairs.values())
    return "".join(lines)


def _edit_section(body: list[str], keys: Mapping[str, tuple[str, str]], newline: str) -> list[str]:
    """Replace the keys' lines in a section's body; add the missing keys at its end."""
    out: list[str] = []
    found: set[str] = set()
    value_indent: int | None = None  # indentation of the last key, while its value may continue
    dropping = False  # whether that key was replaced (its continuation lines go)
    for line in body:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" \t"))
        comment = stripped.startswith(("#", ";"))
        if not stripped or comment:
            out.append(line)
            continue
        if value_indent is not None and indent > value_indent:
            if not dropping:
                out.append(line)
            continue
        match = _KEY_RE.fullmatch(line.rstrip("\r\n"))
        upper = match["key"].strip().upper() if match else ""
        value_indent, dropping = (indent, upper in keys) if match else (None, False)
        if match is None or upper not in keys:
            out.append(line)
            continue
        sep = match["sep"]
        if sep[:1] in " \t" and sep[-1:] not in " \t":
            sep += " "
        eol = line[len(line.rstrip("\r\n")) :] or newline
        out.append(f"{match['indent']}{match['key']}{sep}{keys[upper][1]}{eol}")
        found.add(upper)
    missing = [pair for upper, pair in keys.items() if upper not in found]
    if missing:
        at = _insertion_point(out)
        out[at:at] = [f"{key}={value}{newline}" for key, value in missing]
    return out


def _insertion_point(body: list[str]) -> int:
    """After the section's last line, before trailing blanks and the next section's comments.

    A comment block set off by a blank line and touching the next header is that
    section's introduction, so new keys go above it.
    """
    end = len(body)
    while end and not body[end - 1].strip():
        end -= 1
    probe = end
    while probe and body[probe - 1].strip().startswith(("#", ";")):
        probe -= 1
    if probe < end == len(body) and probe and not body[probe - 1].strip():
        end = probe
        while end and not body[end - 1].strip():
            end -= 1
    return end


# --------------------------------------------------------------------------- AWS plumbing


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the operations use (``serverless`` only with ``--serverless``)."""

    iam: IAMClient
    redshift: RedshiftClient
    ec2: EC2Client
    serverless: Any = field(repr=False)

    @classmethod
    def from_session(cls, session: boto3.Session) -> AwsClients:
        """Clients for the session's region and credentials (no network call)."""
        return cls(
            iam=session.client("iam"),
            redshift=session.client("redshift"),
            ec2=session.client("ec2"),
            serverless=session.client("redshift-serverless"),
        )


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _SECRET_MASK)
    return text


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def _aws(action: str, *secrets: str | None) -> Iterator[None]:
    """The one boundary where botocore errors become :class:`AwsError` (secrets masked)."""
    try:
        yield
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        raise AwsError(action, _code(exc), _scrub(message, secrets)) from exc
    except BotoCoreError as exc:
        raise AwsError(action, type(exc).__name__, _scrub(str(exc), secrets)) from exc


def _poll(
    resource: str,
    wanted: str,
    check: Callable[[], tuple[bool, str]],
    reporter: Reporter,
    waiting: Waiting,
) -> None:
    """Call ``check`` until it says done, reporting each state; give up after the timeout."""
    started = waiting.clock()
    while True:
        done, state = check()
        if done:
            return
        elapsed = waiting.clock() - started
        if elapsed >= waiting.timeout:
            raise InfraTimeoutError(resource, wanted, state, elapsed)
        reporter.waiting(f"waiting for {resource} to be {wanted}: {state} ({elapsed:.0f} s)")
        waiting.sleep(waiting.poll_interval)


def _policy_document(raw: Any) -> dict[str, Any]:
    """A policy document as a dict (IAM may return it URL-encoded)."""
    if isinstance(raw, str):
        raw = json.loads(urllib.parse.unquote(raw))
    return dict(raw) if isinstance(raw, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def policy_resources(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Every ``Resource`` of a policy document's statements, in order."""
    return tuple(
        str(resource)
        for statement in _as_list(document.get("Statement"))
        for resource in _as_list(statement.get("Resource"))
    )


def _trusted_services(document: Mapping[str, Any]) -> set[str]:
    services: set[str] = set()
    for statement in _as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in _as_list(
            statement.get("Action")
        ):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            services.update(str(s) for s in _as_list(principal.get("Service")))
    return services


def _normalized(document: Mapping[str, Any]) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return sorted(
        (
            str(st.get("Effect")),
            tuple(sorted(map(str, _as_list(st.get("Action"))))),
            tuple(sorted(map(str, _as_list(st.get("Resource"))))),
        )
        for st in _as_list(document.get("Statement"))
    )


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class RoleStatus:
    """The IAM role: its ARN, the resources of its S3 read policy, other policies attached."""

    name: str
    arn: str
    policy_resources: tuple[str, ...]
    managed_policies: tuple[str, ...]
    trusted_services: tuple[str, ...]


@dataclass(frozen=True)
class WarehouseStatus:
    """The provisioned cluster or the Serverless workgroup (and its namespace)."""

    kind: Literal["cluster", "serverless"]
    identifier: str
    status: str
    host: str | None
    port: int | None
    db_name: str | None
    db_user: str | None
    security_group_ids: tuple[str, ...]
    iam_role_arns: tuple[str, ...]
    namespace_status: str | None = None

    @property
    def available(self) -> bool:
        """Whether the warehouse accepts connections (status available, endpoint known)."""
        return self.status == "available" and bool(self.host)


@dataclass(frozen=True)
class IngressRule:
    """An inbound rule that lets a CIDR reach the warehouse's port."""

    group_id: str
    cidr: str
    from_port: int
    to_port: int
    protocol: str
    rule_id: str
    description: str
    managed: bool


@dataclass(frozen=True)
class InfraStatus:
    """What exists: the role, the warehouse and the inbound rules on its port."""

    region: str
    role: RoleStatus | None
    warehouse: WarehouseStatus | None
    security_group_ids: tuple[str, ...]
    ingress: tuple[IngressRule, ...]

    @property
    def exists(self) -> bool:
        """Whether anything sparkify manages is there."""
        return bool(self.role or self.warehouse or any(r.managed for r in self.ingress))


def status(spec: InfraSpec, clients: AwsClients) -> InfraStatus:
    """Report the role, the warehouse (cluster or Serverless) and the inbound rules."""
    role = _role_status(spec, clients.iam)
    warehouse = (
        _serverless_status(spec, clients.serverless)
        if spec.serverless
        else _cluster_status(spec, clients.redshift)
    )
    groups = _rule_groups(spec, clients.ec2, warehouse)
    port = warehouse.port if warehouse and warehouse.port else spec.port
    return InfraStatus(
        region=spec.region,
        role=role,
        warehouse=warehouse,
        security_group_ids=groups,
        ingress=_ingress_rules(spec, clients.ec2, groups, port),
    )


def _get_role(iam: IAMClient, name: str) -> Any:
    with _aws(f"read IAM role {name}"):
        try:
            return iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return None
            raise


def _get_inline_policy(iam: IAMClient, role: str, policy: str) -> dict[str, Any] | None:
    with _aws(f"read policy {policy} of IAM role {role}"):
        try:
            raw = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return None
            raise
    return _policy_document(raw)


def _attached_policies(iam: IAMClient, role: str) -> list[tuple[str, str]]:
    with _aws(f"list the managed policies of IAM role {role}"):
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
        return [
            (p.get("PolicyName", ""), p.get("PolicyArn", ""))
            for page in pages
            for p in page.get("AttachedPolicies", [])
        ]


def _role_status(spec: InfraSpec, iam: IAMClient) -> RoleStatus | None:
    role = _get_role(iam, spec.role_name)
    if role is None:
        return None
    document = _get_inline_policy(iam, spec.role_name, POLICY_NAME)
    return RoleStatus(
        name=spec.role_name,
        arn=str(role["Arn"]),
        policy_resources=policy_resources(document) if document else (),
        managed_policies=tuple(name for name, _ in _attached_policies(iam, spec.role_name)),
        trusted_services=tuple(
            sorted(_trusted_services(_policy_document(role.get("AssumeRolePolicyDocument"))))
        ),
    )


def _describe_cluster(spec: InfraSpec, redshift: RedshiftClient) -> Any:
    with _aws(f"describe Redshift cluster {spec.cluster_identifier}"):
        try:
            clusters = redshift.describe_clusters(ClusterIdentifier=spec.cluster_identifier)[
                "Clusters"
            ]
        except ClientError as exc:
            if _code(exc) == "ClusterNotFound":
                return None
            raise
    return clusters[0] if clusters else None


def _cluster_status(spec: InfraSpec, redshift: RedshiftClient) -> WarehouseStatus | None:
    cluster = _describe_cluster(spec, redshift)
    if cluster is None:
        return None
    endpoint = cluster.get("Endpoint") or {}
    return WarehouseStatus(
        kind="cluster",
        identifier=str(cluster["ClusterIdentifier"]),
        status=str(cluster.get("ClusterStatus", "unknown")),
        host=endpoint.get("Address") or None,
        port=int(endpoint["Port"]) if endpoint.get("Port") else None,
        db_name=cluster.get("DBName"),
        db_user=cluster.get("MasterUsername"),
        security_group_ids=tuple(
            g["VpcSecurityGroupId"]
            for g in cluster.get("VpcSecurityGroups", [])
            if g.get("VpcSecurityGroupId")
        ),
        iam_role_arns=tuple(
            r["IamRoleArn"] for r in cluster.get("IamRoles", []) if r.get("IamRoleArn")
        ),
    )


def _get_serverless(
    serverless: Any, kind: Literal["namespace", "workgroup"], name: str
) -> dict[str, Any] | None:
    with _aws(f"read Redshift Serverless {kind} {name}"):
        try:
            if kind == "namespace":
                return dict(serverless.get_namespace(namespaceName=name)["namespace"])
            return dict(serverless.get_workgroup(workgroupName=name)["workgroup"])
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise


_ARN_RE = re.compile(r"arn:[\w-]+:iam::\d*:role/[\w+=,.@/-]+")


def _serverless_status(spec: InfraSpec, serverless: Any) -> WarehouseStatus | None:
    name = spec.cluster_identifier
    namespace = _get_serverless(serverless, "namespace", name)
    workgroup = _get_serverless(serverless, "workgroup", name)
    if namespace is None and workgroup is None:
        return None
    endpoint = (workgroup or {}).get("endpoint") or {}
    roles = [
        arn
        for entry in (namespace or {}).get("iamRoles", [])
        for arn in _ARN_RE.findall(str(entry))
    ]
    return WarehouseStatus(
        kind="serverless",
        identifier=name,
        status=str(workgroup.get("status", "unknown")).lower() if workgroup else "absent",
        host=endpoint.get("address") or None,
        port=int(endpoint["port"])
        if endpoint.get("port")
        else (int(workgroup["port"]) if workgroup and workgroup.get("port") else None),
        db_name=(namespace or {}).get("dbName"),
        db_user=(namespace or {}).get("adminUsername"),
        security_group_ids=tuple((workgroup or {}).get("securityGroupIds", [])),
        iam_role_arns=tuple(dict.fromkeys(roles)),
        namespace_status=str(namespace.get("status", "unknown")).lower() if namespace else None,
    )


def _default_security_group(ec2: EC2Client) -> str | None:
    with _aws("find the default VPC's default security group"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            return None
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None


def _rule_groups(
    spec: InfraSpec, ec2: EC2Client, warehouse: WarehouseStatus | None
) -> tuple[str, ...]:
    if warehouse and warehouse.security_group_ids:
        return warehouse.security_group_ids
    group = spec.security_group_id or _default_security_group(ec2)
    return (group,) if group else ()


def _ingress_rules(
    spec: InfraSpec, ec2: EC2Client, groups: tuple[str, ...], port: int
) -> tuple[IngressRule, ...]:
    if not groups:
        return ()
    with _aws(f"list the rules of security group(s) {', '.join(groups)}"):
        pages = ec2.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": list(groups)}]
        )
        raw = [rule for page in pages for rule in page.get("SecurityGroupRules", [])]
    rules = []
    for rule in raw:
        cidr = rule.get("CidrIpv4") or rule.get("CidrIpv6")
        protocol = str(rule.get("IpProtocol", ""))
        low, high = int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1))
        covers = protocol == "-1" or (protocol in ("tcp", "6") and low <= port <= high)
        if rule.get("IsEgress") or not cidr or not covers:
            continue
        description = str(rule.get("Description", ""))
        rules.append(
            IngressRule(
                group_id=str(rule.get("GroupId", "")),
                cidr=str(cidr),
                from_port=low,
                to_port=high,
                protocol=protocol,
                rule_id=str(rule.get("SecurityGroupRuleId", "")),
                description=description,
                managed=description == spec.rule_description,
            )
        )
    return tuple(rules)


# --------------------------------------------------------------------------- up


def up(
    spec: InfraSpec,
    clients: AwsClients,
    *,
    reporter: Reporter | None = None,
    waiting: Waiting | None = None,
) -> InfraStatus:
    """Create what is missing (role, warehouse, ingress rule), wait until available.

    Existing resources are found and reused, so running it again is harmless.

    Raises:
        ConfigError: the warehouse must be created but no master password is set.
        InfraStateError: the warehouse is paused, being deleted or broken.
        InfraTimeoutError: it did not become available within ``waiting.timeout``.
        AwsError: AWS refused a call.
    """
    reporter = reporter or LogReporter()
    waiting = waiting or Waiting()
    if spec.cidr and is_everyone(spec.cidr):
        reporter.warn(
            f"--cidr {spec.cidr} opens port {spec.port} of the warehouse to the whole "
            "internet; prefer your own address (e.g. 203.0.113.7/32)"
        )
    # Check what can fail before creating anything.
    if spec.security_group_id:
        with _aws(f"find security group {spec.security_group_id}"):
            clients.ec2.describe_security_groups(GroupIds=[spec.security_group_id])
    existing = (
        _serverless_status(spec, clients.serverless)
        if spec.serverless
        else _cluster_status(spec, clients.redshift)
    )
    if existing is None:
        _need_password(spec)
    groups = (
        existing.security_group_ids
        if existing is not None and existing.security_group_ids
        else (_target_security_group(spec, clients.ec2),)
    )

    role_arn = _ensure_role(spec, clients.iam, reporter)
    if spec.serverless:
        _ensure_serverless(spec, clients, role_arn, groups[0], reporter, waiting)
    else:
        _ensure_cluster(spec, clients, existing, role_arn, groups[0], reporter)

    port = existing.port if existing is not None and existing.port else spec.port
    if spec.cidr:
        _ensure_ingress(spec, clients.ec2, groups, port, reporter)
    else:
        reporter.step(
            "no --cidr given: no inbound rule added (the warehouse is reachable "
            "only from inside its VPC and from existing rules)"
        )

    if not spec.serverless:
        _wait_cluster(spec, clients.redshift, reporter, waiting)
    return status(spec, clients)


def _ensure_role(spec: InfraSpec, iam: IAMClient, reporter: Reporter) -> str:
    role = _get_role(iam, spec.role_name)
    trust = json.dumps(spec.trust_policy())
    if role is None:
        with _aws(f"create IAM role {spec.role_name}"):
            role = iam.create_role(
                RoleName=spec.role_name,
                AssumeRolePolicyDocument=trust,
                Description="Lets Redshift read the Sparkify source bucket(s) (sparkify infra)",
                Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
            )["Role"]
        reporter.step(f"created IAM role {spec.role_name}")
    else:
        reporter.step(f"IAM role {spec.role_name} exists: reused")
        trusted = _trusted_services(_policy_document(role.get("AssumeRolePolicyDocument")))
        if not set(spec.trusted_services) <= trusted:
            with _aws(f"update the trust policy of IAM role {spec.role_name}"):
                iam.update_assume_role_policy(RoleName=spec.role_name, PolicyDocument=trust)
            reporter.step(f"let {', '.join(spec.trusted_services)} assume {spec.role_name}")

    wanted = spec.read_policy()
    existing = _get_inline_policy(iam, spec.role_name, POLICY_NAME)
    if existing is not None and _normalized(existing) == _normalized(wanted):
        reporter.step(f"policy {POLICY_NAME} already reads {', '.join(spec.buckets)}: reused")
    else:
        with _aws(f"put policy {POLICY_NAME} on IAM role {spec.role_name}"):
            iam.put_role_policy(
                RoleName=spec.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
            )
        verb = "created" if existing is None else "updated"
        reporter.step(
            f"{verb} policy {POLICY_NAME}: read-only on s3://" + ", s3://".join(spec.buckets)
        )
    attached = _attached_policies(iam, spec.role_name)
    if attached:
        reporter.warn(
            f"IAM role {spec.role_name} also has managed policies attached "
            f"({', '.join(name for name, _ in attached)}); they may grant more than "
            f"the bucket-scoped {POLICY_NAME}: detach them if they are not needed"
        )
    return str(role["Arn"])


def _target_security_group(spec: InfraSpec, ec2: EC2Client) -> str:
    group = spec.security_group_id or _default_security_group(ec2)
    if group is None:
        raise InfraStateError(
            f"region {spec.region}",
            "without a default VPC",
            "pass --security-group-id (and create the warehouse's subnet group yourself)",
        )
    return group


def _need_password(spec: InfraSpec) -> str:
    if spec.master_password is None:
        raise ConfigError(
            "the warehouse does not exist yet and creating it needs a master "
            "password: set SPARKIFY_DB_PASSWORD or [CLUSTER] DB_PASSWORD",
            key="DB_PASSWORD",
        )
    return spec.master_password


def _ensure_cluster(
    spec: InfraSpec,
    clients: AwsClients,
    current: WarehouseStatus | None,
    role_arn: str,
    group: str,
    reporter: Reporter,
) -> None:
    name = f"Redshift cluster {spec.cluster_identifier}"
    if current is None:
        password = _need_password(spec)
        shape: dict[str, Any] = {"ClusterType": spec.cluster_type}
        if spec.cluster_type == "multi-node":
            shape["NumberOfNodes"] = spec.number_of_nodes
        with _aws(f"create {name}", password):
            clients.redshift.create_cluster(
                ClusterIdentifier=spec.cluster_identifier,
                NodeType=spec.node_type,
                DBName=spec.db_name,
                MasterUsername=spec.db_user,
                MasterUserPassword=password,
                Port=spec.port,
                IamRoles=[role_arn],
                VpcSecurityGroupIds=[group],
                PubliclyAccessible=spec.publicly_accessible,
                Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
                **shape,
            )
        reporter.step(
            f"created {name} ({spec.number_of_nodes} x {spec.node_type}, security group {group})"
        )
        return
    if current.status not in _CLUSTER_TRANSITIONAL | {"available"}:
        hint = (
            "resume it (aws redshift resume-cluster) and run up again"
            if current.status == "paused"
            else "wait until it is gone and run up again"
            if current.status == "deleting"
            else "fix it in the AWS console, or run down and up again"
        )
        raise InfraStateError(name, current.status, hint)
    reporter.step(f"{name} exists ({current.status}): reused")
    if role_arn not in current.iam_role_arns:
        with _aws(f"attach IAM role {spec.role_name} to {name}"):
            clients.redshift.modify_cluster_iam_roles(
                ClusterIdentifier=spec.cluster_identifier, AddIamRoles=[role_arn]
            )
        reporter.step(f"attached IAM role {spec.role_name} to {name}")


def _wait_cluster(
    spec: InfraSpec, redshift: RedshiftClient, reporter: Reporter, waiting: Waiting
) -> None:
    name = f"Redshift cluster {spec.cluster_identifier}"

    def check() -> tuple[bool, str]:
        current = _cluster_status(spec, redshift)
        if current is None:
            raise InfraStateError(name, "gone", "it was deleted while waiting; run up again")
        if current.status not in _CLUSTER_TRANSITIONAL | {"available"}:
            raise InfraStateError(name, current.status, "it will not become available")
        return current.available, current.status

    _poll(name, "available", check, reporter, waiting)
    reporter.step(f"{name} is available")


def _ensure_serverless(
    spec: InfraSpec,
    clients: AwsClients,
    role_arn: str,
    group: str,
    reporter: Reporter,
    waiting: Waiting,
) -> None:
    serverless = clients.serverless
    name = spec.cluster_identifier
    namespace = _get_serverless(serverless, "namespace", name)
    ns_name = f"Redshift Serverless namespace {name}"
    if namespace is None:
        password = _need_password(spec)
        with _aws(f"create {ns_name}", password):
            serverless.create_namespace(
                namespaceName=name,
                dbName=spec.db_name,
                adminUsername=spec.db_user,
                adminUserPassword=password,
                iamRoles=[role_arn],
                defaultIamRoleArn=role_arn,
                tags=[{"key": TAG_KEY, "value": TAG_VALUE}],
            )
        reporter.step(f"created {ns_name}")
    else:
        state = str(namespace.get("status", "")).lower()
        if state == "deleting":
            raise InfraStateError(ns_name, state, "wait until it is gone and run up again")
        reporter.step(f"{ns_name} exists ({state}): reused")
        roles = [
            arn for entry in namespace.get("iamRoles", []) for arn in _ARN_RE.findall(str(entry))
        ]
        if role_arn not in roles:
            with _aws(f"attach IAM role {spec.role_name} to {ns_name}"):
                serverless.update_namespace(
                    namespaceName=name, iamRoles=[*roles, role_arn], defaultIamRoleArn=role_arn
                )
            reporter.step(f"attached IAM role {spec.role_name} to {ns_name}")

    def namespace_ready() -> tuple[bool, str]:
        current = _get_serverless(serverless, "namespace", name)
        state = str((current or {}).get("status", "gone")).lower()
        if state in ("deleting", "gone"):
            raise InfraStateError(ns_name, state, "run up again once it is gone")
        return state == "available", state

    _poll(ns_name, "available", namespace_ready, reporter, waiting)

    workgroup = _get_serverless(serverless, "workgroup", name)
    wg_name = f"Redshift Serverless workgroup {name}"
    if workgroup is None:
        with _aws(f"create {wg_name}"):
            serverless.create_workgroup(
                workgroupName=name,
                namespaceName=name,
                baseCapacity=spec.base_capacity,
                port=spec.port,
                publiclyAccessible=spec.publicly_accessible,
                securityGroupIds=[group],
                tags=[{"key": TAG_KEY, "value": TAG_VALUE}],
            )
        reporter.step(f"created {wg_name} ({spec.base_capacity} RPUs, security group {group})")
    else:
        reporter.step(f"{wg_name} exists ({str(workgroup.get('status', '')).lower()}): reused")

    def workgroup_ready() -> tuple[bool, str]:
        current = _get_serverless(serverless, "workgroup", name)
        state = str((current or {}).get("status", "gone")).lower()
        if state in ("deleting", "gone"):
            raise InfraStateError(wg_name, state, "run up again once it is gone")
        address = ((current or {}).get("endpoint") or {}).get("address")
        return state == "available" and bool(address), state

    _poll(wg_name, "available", workgroup_ready, reporter, waiting)
    reporter.step(f"{wg_name} is available")


def _ensure_ingress(
    spec: InfraSpec, ec2: EC2Client, groups: tuple[str, ...], port: int, reporter: Reporter
) -> None:
    assert spec.cidr is not None
    group = groups[0]
    for rule in _ingress_rules(spec, ec2, groups, port):
        if (
            rule.cidr == spec.cidr
            and rule.protocol in ("tcp", "6")
            and rule.from_port == rule.to_port == port
        ):
            reporter.step(
                f"inbound rule TCP {port} from {spec.cidr} on {rule.group_id} exists: reused"
            )
            return
    permission: IpPermissionTypeDef = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if ipaddress.ip_network(spec.cidr).version == 6:
        permission["Ipv6Ranges"] = [{"CidrIpv6": spec.cidr, "Description": spec.rule_description}]
    else:
        permission["IpRanges"] = [{"CidrIp": spec.cidr, "Description": spec.rule_description}]
    with _aws(f"open TCP {port} to {spec.cidr} on security group {group}"):
        try:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
        except ClientError as exc:
            if _code(exc) != "InvalidPermission.Duplicate":
                raise
            reporter.step(f"inbound rule TCP {port} from {spec.cidr} on {group} exists: reused")
            return
    reporter.step(f"opened TCP {port} to {spec.cidr} on security group {group}")


# --------------------------------------------------------------------------- down


def down(
    spec: InfraSpec,
    clients: AwsClients,
    *,
    final_snapshot: str | None = None,
    wait: bool = True,
    reporter: Reporter | None = None,
    waiting: Waiting | None = None,
    current: InfraStatus | None = None,
) -> tuple[str, ...]:
    """Delete the ingress rules sparkify added, the warehouse and the role.

    Only rules carrying this warehouse's description are revoked, plus the exact
    ``spec.cidr`` rule when one is given. Without ``final_snapshot`` no final
    snapshot is kept. With ``wait`` it returns once the warehouse is gone
    (Serverless always waits for the workgroup: its namespace cannot go first).
    Running it again is harmless.

    ``current`` is a :func:`status` just read, to save reading it again.

    Returns:
        One line per thing deleted (empty when there was nothing to delete).
    """
    reporter = reporter or LogReporter()
    waiting = waiting or Waiting()
    current = current or status(spec, clients)
    done: list[str] = []
    port = current.warehouse.port if current.warehouse and current.warehouse.port else spec.port
    for rule in current.ingress:
        exact = (
            spec.cidr == rule.cidr
            and rule.protocol in ("tcp", "6")
            and rule.from_port == rule.to_port == port
        )
        if not (rule.managed or exact):
            continue
        with _aws(f"revoke the rule from {rule.cidr} on security group {rule.group_id}"):
            try:
                clients.ec2.revoke_security_group_ingress(
                    GroupId=rule.group_id, SecurityGroupRuleIds=[rule.rule_id]
                )
            except ClientError as exc:
                if _code(exc) not in (
                    "InvalidPermission.NotFound",
                    "InvalidSecurityGroupRuleId.NotFound",
                ):
                    raise
        done.append(
            f"revoked inbound rule TCP {rule.from_port} from {rule.cidr} on {rule.group_id}"
        )
        reporter.step(done[-1])

    if spec.serverless:
        done += _delete_serverless(
            spec, clients.serverless, final_snapshot, wait, reporter, waiting
        )
    elif current.warehouse is not None:
        done += _delete_cluster(
            spec, clients.redshift, current.warehouse, final_snapshot, wait, reporter, waiting
        )

    if current.role is not None:
        _delete_role(spec, clients.iam)
        done.append(f"deleted IAM role {spec.role_name}")
        reporter.step(done[-1])
    if not done:
        reporter.step("nothing to delete")
    return tuple(done)


def _delete_cluster(
    spec: InfraSpec,
    redshift: RedshiftClient,
    current: WarehouseStatus,
    final_snapshot: str | None,
    wait: bool,
    reporter: Reporter,
    waiting: Waiting,
) -> list[str]:
    name = f"Redshift cluster {spec.cluster_identifier}"
    done = []
    if current.status == "deleting":
        reporter.step(f"{name} is already being deleted")
    else:
        snapshot: dict[str, Any] = (
            {"SkipFinalClusterSnapshot": False, "FinalClusterSnapshotIdentifier": final_snapshot}
            if final_snapshot
            else {"SkipFinalClusterSnapshot": True}
        )
        with _aws(f"delete {name}"):
            try:
                redshift.delete_cluster(ClusterIdentifier=spec.cluster_identifier, **snapshot)
            except ClientError as exc:
                if _code(exc) != "ClusterNotFound":
                    raise
        kept = f" (final snapshot {final_snapshot})" if final_snapshot else " (no final snapshot)"
        done.append(f"deleted {name}{kept}")
        reporter.step(done[-1])
    if wait:

        def gone() -> tuple[bool, str]:
            found = _cluster_status(spec, redshift)
            return found is None, found.status if found else "gone"

        _poll(name, "gone", gone, reporter, waiting)
    return done


def _delete_serverless(
    spec: InfraSpec,
    serverless: Any,
    final_snapshot: str | None,
    wait: bool,
    reporter: Reporter,
    waiting: Waiting,
) -> list[str]:
    name = spec.cluster_identifier
    done = []
    kinds: tuple[Literal["workgroup", "namespace"], ...] = ("workgroup", "namespace")
    for kind in kinds:
        label = f"Redshift Serverless {kind} {name}"
        current = _get_serverless(serverless, kind, name)
        if current is None:
            continue
        if str(current.get("status", "")).lower() == "deleting":
            reporter.step(f"{label} is already being deleted")
        else:
            with _aws(f"delete {label}"):
                try:
                    if kind == "workgroup":
                        serverless.delete_workgroup(workgroupName=name)
                    elif final_snapshot:
                        serverless.delete_namespace(
                            namespaceName=name, finalSnapshotName=final_snapshot
                        )
                    else:
                        serverless.delete_namespace(namespaceName=name)
                except ClientError as exc:
                    if _code(exc) != "ResourceNotFoundException":
                        raise
            kept = f" (final snapshot {final_snapshot})" if final_snapshot else ""
            done.append(f"deleted {label}{kept if kind == 'namespace' else ''}")
            reporter.step(done[-1])
        if wait or kind == "workgroup":
            _poll(label, "gone", _serverless_gone(serverless, kind, name), reporter, waiting)
    return done


def _serverless_gone(
    serverless: Any, kind: Literal["workgroup", "namespace"], name: str
) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        found = _get_serverless(serverless, kind, name)
        return found is None, str((found or {}).get("status", "gone")).lower()

    return check


def _delete_role(spec: InfraSpec, iam: IAMClient) -> None:
    name = spec.role_name
    with _aws(f"delete IAM role {name}"):
        try:
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy in page.get("PolicyNames", []):
                    iam.delete_role_policy(RoleName=name, PolicyName=policy)
            for _, arn in _attached_policies(iam, name):
                iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            profiles = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
            for profile in profiles:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=name
                )
            iam.delete_role(RoleName=name)
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise


# --------------------------------------------------------------------------- dwh.cfg after up/down


def config_after_up(current: InfraStatus) -> dict[str, dict[str, str]]:
    """The ``dwh.cfg`` keys ``up`` records: HOST, DB_NAME, DB_USER, DB_PORT and the role ARN."""
    updates: dict[str, dict[str, str]] = {}
    warehouse = current.warehouse
    if warehouse is not None and warehouse.host:
        cluster = {"HOST": warehouse.host}
        if warehouse.db_name:
            cluster["DB_NAME"] = warehouse.db_name
        if warehouse.db_user:
            cluster["DB_USER"] = warehouse.db_user
        if warehouse.port:
            cluster["DB_PORT"] = str(warehouse.port)
        updates["CLUSTER"] = cluster
    if current.role is not None:
        updates["IAM_ROLE"] = {"ARN": current.role.arn}
    return updates


def config_after_down(
    config_file: str | os.PathLike[str], spec: InfraSpec
) -> dict[str, dict[str, str]]:
    """Empty HOST and ARN when they point at the warehouse and role ``down`` deleted."""
    cfg = _cfg_values(Path(config_file))
    updates: dict[str, dict[str, str]] = {}
    host = cfg.get("CLUSTER", {}).get("HOST", "")
    if host.split(".", 1)[0].lower() == spec.cluster_identifier and ".redshift" in host:
        updates["CLUSTER"] = {"HOST": ""}
    arn = cfg.get("IAM_ROLE", {}).get("ARN", "")
    if arn.startswith("arn:") and arn.endswith(f"/{spec.role_name}"):
        updates["IAM_ROLE"] = {"ARN": ""}
    return updates
