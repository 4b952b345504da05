"""The warehouse's AWS side as code: IAM role, Redshift cluster (or Serverless), ingress rule.

This replaces the seed's "launch a Redshift cluster and create an IAM role"
notebook. Three operations, each idempotent:

* :func:`up` creates what is missing and reuses what exists: an IAM role that
  Redshift can assume, with an inline policy that reads only the source
  bucket(s) (``s3:ListBucket`` on ``arn:aws:s3:::BUCKET``, ``s3:GetObject`` on
  ``arn:aws:s3:::BUCKET/*``) and the COPY manifests under ``[S3] MANIFEST_PREFIX``
  (``s3:GetObject`` on ``BUCKET/PREFIX/*``, ``s3:ListBucket`` limited to that
  prefix), warning when the manifest bucket is in another region; a provisioned
  cluster, or a Serverless namespace and workgroup of the same name; an inbound
  TCP rule on the warehouse's VPC security group for one CIDR. It waits until
  the warehouse is available.
* :func:`status` reports what exists.
* :func:`down` revokes the rules sparkify added, deletes the warehouse (with an
  optional final snapshot) and the role.

:func:`up`, :func:`status` and :func:`down` take boto3 clients
(:class:`AwsClients`) and never build them, so tests point them at moto. Every
botocore failure becomes an :class:`AwsError` in :func:`aws`, the one
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

Its errors (:class:`AwsError`, :class:`InfraStateError`,
:class:`InfraTimeoutError`) live in :mod:`sparkify.errors` with the rest of the
tree. The package, in the order its modules import one another:
:mod:`.progress` (:class:`Reporter`, :class:`LogReporter`, :class:`Waiting`),
:mod:`.spec` (:class:`InfraSpec`, its validation, :func:`source_buckets`),
:mod:`.plumbing` (:class:`AwsClients`, :func:`aws`, polling, policy documents),
:mod:`.state` (:func:`status`), :mod:`.provision` (:func:`up`), :mod:`.teardown`
(:func:`down`), and :mod:`.config_file` (``dwh.cfg``:
:func:`read_settings`, :func:`spec_from_config`, credentials and
:func:`session_for`, :func:`update_config_file`, :func:`config_after_up` and
:func:`config_after_down`). Here they are re-exported: ``infra.X`` is the API.
"""

from __future__ import annotations

from sparkify.errors import AwsError, InfraStateError, InfraTimeoutError
from sparkify.infra.config_file import (
    FileCredentials,
    config_after_down,
    config_after_up,
    edit_config_text,
    file_credentials,
    read_settings,
    session_for,
    spec_from_config,
    update_config_file,
)
from sparkify.infra.plumbing import AwsClients, aws, policy_resources
from sparkify.infra.progress import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    LogReporter,
    Reporter,
    Waiting,
)
from sparkify.infra.provision import TAG_KEY, TAG_VALUE, up
from sparkify.infra.spec import (
    DEFAULT_BASE_CAPACITY,
    DEFAULT_CLUSTER_IDENTIFIER,
    DEFAULT_DB_NAME,
    DEFAULT_DB_USER,
    DEFAULT_NODE_TYPE,
    DEFAULT_NUMBER_OF_NODES,
    DEFAULT_PORT,
    DEFAULT_ROLE_NAME,
    POLICY_NAME,
    InfraSpec,
    check_master_password,
    is_everyone,
    normalize_cidr,
    source_buckets,
)
from sparkify.infra.state import InfraStatus, IngressRule, RoleStatus, WarehouseStatus, status
from sparkify.infra.teardown import down

__all__ = [
    "DEFAULT_BASE_CAPACITY",
    "DEFAULT_CLUSTER_IDENTIFIER",
    "DEFAULT_DB_NAME",
    "DEFAULT_DB_USER",
    "DEFAULT_NODE_TYPE",
    "DEFAULT_NUMBER_OF_NODES",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PORT",
    "DEFAULT_ROLE_NAME",
    "DEFAULT_TIMEOUT",
    "POLICY_NAME",
    "TAG_KEY",
    "TAG_VALUE",
    "AwsClients",
    "AwsError",
    "FileCredentials",
    "InfraSpec",
    "InfraStateError",
    "InfraStatus",
    "InfraTimeoutError",
    "IngressRule",
    "LogReporter",
    "Reporter",
    "RoleStatus",
    "Waiting",
    "WarehouseStatus",
    "aws",
    "check_master_password",
    "config_after_down",
    "config_after_up",
    "down",
    "edit_config_text",
    "file_credentials",
    "is_everyone",
    "normalize_cidr",
    "policy_resources",
    "read_settings",
    "session_for",
    "source_buckets",
    "spec_from_config",
    "status",
    "up",
    "update_config_file",
]
