"""``up``: create what is missing (role, warehouse, ingress rule) and wait until available."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sparkify.errors import ConfigError, InfraStateError, SourceError
from sparkify.infra.plumbing import (
    AwsClients,
    aws,
    code,
    normalized,
    policy_document,
    poll,
    trusted_services,
)
from sparkify.infra.progress import LogReporter, Reporter, Waiting
from sparkify.infra.spec import POLICY_NAME, InfraSpec, is_everyone, manifest_location
from sparkify.infra.state import (
    ARN_RE,
    InfraStatus,
    WarehouseStatus,
    attached_policies,
    cluster_status,
    default_security_group,
    get_inline_policy,
    get_role,
    get_serverless,
    ingress_rules,
    serverless_status,
    status,
)
from sparkify.sources import bucket_region

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import IpPermissionTypeDef
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_redshift import RedshiftClient

#: Tag put on everything ``up`` creates.
TAG_KEY, TAG_VALUE = "project", "sparkify"

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
    if spec.manifest_prefix and clients.s3 is not None:
        _check_manifest_region(spec, clients.s3, reporter)
    if spec.security_group_id:
        with aws(f"find security group {spec.security_group_id}"):
            clients.ec2.describe_security_groups(GroupIds=[spec.security_group_id])
    existing = (
        serverless_status(spec, clients.serverless)
        if spec.serverless
        else cluster_status(spec, clients.redshift)
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
    current = status(spec, clients)
    _report_connect_permission(spec, current, reporter)
    return current


def _check_manifest_region(spec: InfraSpec, s3: Any, reporter: Reporter) -> None:
    """Warn when COPY could not read the manifests: bucket elsewhere, or not there.

    "If the REGION parameter is specified, all resources, including a manifest
    file or multiple Amazon S3 buckets, must be located in the specified Region"
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html#copy-region).
    """
    assert spec.manifest_prefix is not None
    bucket, _ = manifest_location(spec.manifest_prefix)
    try:
        region = bucket_region(bucket, client=s3)
    except SourceError as exc:
        reporter.warn(
            f"[S3] MANIFEST_PREFIX {spec.manifest_prefix}: {exc.reason}; loads that "
            "need a manifest will fail until the bucket exists and can be written"
        )
        return
    if region != spec.region:
        reporter.warn(
            f"[S3] MANIFEST_PREFIX {spec.manifest_prefix} is in {region}, but the "
            f"configured region is {spec.region}: with REGION set, every object COPY "
            "reads, the manifest included, must be in that region; put MANIFEST_PREFIX "
            f"in a bucket in {spec.region}"
        )


def _report_connect_permission(spec: InfraSpec, current: InfraStatus, reporter: Reporter) -> None:
    """Say what the caller needs for ``[CLUSTER] AUTH = iam``: never granted to them here."""
    if current.role is None or current.warehouse is None:
        return
    account = current.role.arn.split(":")[4]
    policy = spec.connect_policy(account, current.warehouse.arn)
    statement = policy["Statement"][0]
    reporter.step(
        f"to connect without a password ([CLUSTER] AUTH = iam), your IAM identity "
        f"needs {statement['Action']} on {', '.join(statement['Resource'])} "
        "(sparkify does not change your own permissions)"
    )


def _ensure_role(spec: InfraSpec, iam: IAMClient, reporter: Reporter) -> str:
    role = get_role(iam, spec.role_name)
    trust = json.dumps(spec.trust_policy())
    if role is None:
        with aws(f"create IAM role {spec.role_name}"):
            role = iam.create_role(
                RoleName=spec.role_name,
                AssumeRolePolicyDocument=trust,
                Description="Lets Redshift read the Sparkify source bucket(s) (sparkify infra)",
                Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
            )["Role"]
        reporter.step(f"created IAM role {spec.role_name}")
    else:
        reporter.step(f"IAM role {spec.role_name} exists: reused")
        trusted = trusted_services(policy_document(role.get("AssumeRolePolicyDocument")))
        if not set(spec.trusted_services) <= trusted:
            with aws(f"update the trust policy of IAM role {spec.role_name}"):
                iam.update_assume_role_policy(RoleName=spec.role_name, PolicyDocument=trust)
            reporter.step(f"let {', '.join(spec.trusted_services)} assume {spec.role_name}")

    wanted = spec.read_policy()
    existing = get_inline_policy(iam, spec.role_name, POLICY_NAME)
    manifests = f" and manifests under {spec.manifest_prefix}" if spec.manifest_prefix else ""
    if existing is not None and normalized(existing) == normalized(wanted):
        reporter.step(
            f"policy {POLICY_NAME} already reads {', '.join(spec.buckets)}{manifests}: reused"
        )
    else:
        # An existing role gets the wanted document whole (put_role_policy replaces
        # it), so a second ``up`` after MANIFEST_PREFIX was added fixes the grant.
        with aws(f"put policy {POLICY_NAME} on IAM role {spec.role_name}"):
            iam.put_role_policy(
                RoleName=spec.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
            )
        verb = "created" if existing is None else "updated"
        reporter.step(
            f"{verb} policy {POLICY_NAME}: read-only on s3://"
            + ", s3://".join(spec.buckets)
            + manifests
        )
    attached = attached_policies(iam, spec.role_name)
    if attached:
        reporter.warn(
            f"IAM role {spec.role_name} also has managed policies attached "
            f"({', '.join(name for name, _ in attached)}); they may grant more than "
            f"the bucket-scoped {POLICY_NAME}: detach them if they are not needed"
        )
    return str(role["Arn"])


def _target_security_group(spec: InfraSpec, ec2: EC2Client) -> str:
    group = spec.security_group_id or default_security_group(ec2)
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
        with aws(f"create {name}", password):
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
        with aws(f"attach IAM role {spec.role_name} to {name}"):
            clients.redshift.modify_cluster_iam_roles(
                ClusterIdentifier=spec.cluster_identifier, AddIamRoles=[role_arn]
            )
        reporter.step(f"attached IAM role {spec.role_name} to {name}")


def _wait_cluster(
    spec: InfraSpec, redshift: RedshiftClient, reporter: Reporter, waiting: Waiting
) -> None:
    name = f"Redshift cluster {spec.cluster_identifier}"

    def check() -> tuple[bool, str]:
        current = cluster_status(spec, redshift)
        if current is None:
            raise InfraStateError(name, "gone", "it was deleted while waiting; run up again")
        if current.status not in _CLUSTER_TRANSITIONAL | {"available"}:
            raise InfraStateError(name, current.status, "it will not become available")
        return current.available, current.status

    poll(name, "available", check, reporter, waiting)
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
    namespace = get_serverless(serverless, "namespace", name)
    ns_name = f"Redshift Serverless namespace {name}"
    if namespace is None:
        password = _need_password(spec)
        with aws(f"create {ns_name}", password):
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
            arn for entry in namespace.get("iamRoles", []) for arn in ARN_RE.findall(str(entry))
        ]
        if role_arn not in roles:
            with aws(f"attach IAM role {spec.role_name} to {ns_name}"):
                serverless.update_namespace(
                    namespaceName=name, iamRoles=[*roles, role_arn], defaultIamRoleArn=role_arn
                )
            reporter.step(f"attached IAM role {spec.role_name} to {ns_name}")

    def namespace_ready() -> tuple[bool, str]:
        current = get_serverless(serverless, "namespace", name)
        state = str((current or {}).get("status", "gone")).lower()
        if state in ("deleting", "gone"):
            raise InfraStateError(ns_name, state, "run up again once it is gone")
        return state == "available", state

    poll(ns_name, "available", namespace_ready, reporter, waiting)

    workgroup = get_serverless(serverless, "workgroup", name)
    wg_name = f"Redshift Serverless workgroup {name}"
    if workgroup is None:
        with aws(f"create {wg_name}"):
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
        current = get_serverless(serverless, "workgroup", name)
        state = str((current or {}).get("status", "gone")).lower()
        if state in ("deleting", "gone"):
            raise InfraStateError(wg_name, state, "run up again once it is gone")
        address = ((current or {}).get("endpoint") or {}).get("address")
        return state == "available" and bool(address), state

    poll(wg_name, "available", workgroup_ready, reporter, waiting)
    reporter.step(f"{wg_name} is available")


def _ensure_ingress(
    spec: InfraSpec, ec2: EC2Client, groups: tuple[str, ...], port: int, reporter: Reporter
) -> None:
    assert spec.cidr is not None
    group = groups[0]
    for rule in ingress_rules(spec, ec2, groups, port):
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
    with aws(f"open TCP {port} to {spec.cidr} on security group {group}"):
        try:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
        except ClientError as exc:
            if code(exc) != "InvalidPermission.Duplicate":
                raise
            reporter.step(f"inbound rule TCP {port} from {spec.cidr} on {group} exists: reused")
            return
    reporter.step(f"opened TCP {port} to {spec.cidr} on security group {group}")
