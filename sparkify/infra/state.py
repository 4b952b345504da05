"""What exists: the role, the warehouse (cluster or Serverless) and the inbound rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from sparkify.infra.plumbing import (
    AwsClients,
    aws,
    code,
    policy_document,
    policy_resources,
    trusted_services,
)
from sparkify.infra.spec import POLICY_NAME, InfraSpec

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_redshift import RedshiftClient


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
    arn: str | None = None

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
        serverless_status(spec, clients.serverless)
        if spec.serverless
        else cluster_status(spec, clients.redshift)
    )
    groups = _rule_groups(spec, clients.ec2, warehouse)
    port = warehouse.port if warehouse and warehouse.port else spec.port
    return InfraStatus(
        region=spec.region,
        role=role,
        warehouse=warehouse,
        security_group_ids=groups,
        ingress=ingress_rules(spec, clients.ec2, groups, port),
    )


def get_role(iam: IAMClient, name: str) -> Any:
    with aws(f"read IAM role {name}"):
        try:
            return iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if code(exc) == "NoSuchEntity":
                return None
            raise


def get_inline_policy(iam: IAMClient, role: str, policy: str) -> dict[str, Any] | None:
    with aws(f"read policy {policy} of IAM role {role}"):
        try:
            raw = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        except ClientError as exc:
            if code(exc) == "NoSuchEntity":
                return None
            raise
    return policy_document(raw)


def attached_policies(iam: IAMClient, role: str) -> list[tuple[str, str]]:
    with aws(f"list the managed policies of IAM role {role}"):
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
        return [
            (p.get("PolicyName", ""), p.get("PolicyArn", ""))
            for page in pages
            for p in page.get("AttachedPolicies", [])
        ]


def _role_status(spec: InfraSpec, iam: IAMClient) -> RoleStatus | None:
    role = get_role(iam, spec.role_name)
    if role is None:
        return None
    document = get_inline_policy(iam, spec.role_name, POLICY_NAME)
    return RoleStatus(
        name=spec.role_name,
        arn=str(role["Arn"]),
        policy_resources=policy_resources(document) if document else (),
        managed_policies=tuple(name for name, _ in attached_policies(iam, spec.role_name)),
        trusted_services=tuple(
            sorted(trusted_services(policy_document(role.get("AssumeRolePolicyDocument"))))
        ),
    )


def _describe_cluster(spec: InfraSpec, redshift: RedshiftClient) -> Any:
    with aws(f"describe Redshift cluster {spec.cluster_identifier}"):
        try:
            clusters = redshift.describe_clusters(ClusterIdentifier=spec.cluster_identifier)[
                "Clusters"
            ]
        except ClientError as exc:
            if code(exc) == "ClusterNotFound":
                return None
            raise
    return clusters[0] if clusters else None


def cluster_status(spec: InfraSpec, redshift: RedshiftClient) -> WarehouseStatus | None:
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


def get_serverless(
    serverless: Any, kind: Literal["namespace", "workgroup"], name: str
) -> dict[str, Any] | None:
    with aws(f"read Redshift Serverless {kind} {name}"):
        try:
            if kind == "namespace":
                return dict(serverless.get_namespace(namespaceName=name)["namespace"])
            return dict(serverless.get_workgroup(workgroupName=name)["workgroup"])
        except ClientError as exc:
            if code(exc) == "ResourceNotFoundException":
                return None
            raise


ARN_RE = re.compile(r"arn:[\w-]+:iam::\d*:role/[\w+=,.@/-]+")


def serverless_status(spec: InfraSpec, serverless: Any) -> WarehouseStatus | None:
    name = spec.cluster_identifier
    namespace = get_serverless(serverless, "namespace", name)
    workgroup = get_serverless(serverless, "workgroup", name)
    if namespace is None and workgroup is None:
        return None
    endpoint = (workgroup or {}).get("endpoint") or {}
    roles = [
        arn for entry in (namespace or {}).get("iamRoles", []) for arn in ARN_RE.findall(str(entry))
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
        arn=(workgroup or {}).get("workgroupArn") or None,
    )


def default_security_group(ec2: EC2Client) -> str | None:
    with aws("find the default VPC's default security group"):
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
    group = spec.security_group_id or default_security_group(ec2)
    return (group,) if group else ()


def ingress_rules(
    spec: InfraSpec, ec2: EC2Client, groups: tuple[str, ...], port: int
) -> tuple[IngressRule, ...]:
    if not groups:
        return ()
    with aws(f"list the rules of security group(s) {', '.join(groups)}"):
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
