"""``down``: revoke the rules sparkify added, delete the warehouse and the role."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from sparkify.infra.plumbing import AwsClients, aws, code, poll
from sparkify.infra.progress import LogReporter, Reporter, Waiting
from sparkify.infra.spec import InfraSpec
from sparkify.infra.state import (
    InfraStatus,
    WarehouseStatus,
    attached_policies,
    cluster_status,
    get_serverless,
    status,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_redshift import RedshiftClient


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
        with aws(f"revoke the rule from {rule.cidr} on security group {rule.group_id}"):
            try:
                clients.ec2.revoke_security_group_ingress(
                    GroupId=rule.group_id, SecurityGroupRuleIds=[rule.rule_id]
                )
            except ClientError as exc:
                if code(exc) not in (
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
        with aws(f"delete {name}"):
            try:
                redshift.delete_cluster(ClusterIdentifier=spec.cluster_identifier, **snapshot)
            except ClientError as exc:
                if code(exc) != "ClusterNotFound":
                    raise
        kept = f" (final snapshot {final_snapshot})" if final_snapshot else " (no final snapshot)"
        done.append(f"deleted {name}{kept}")
        reporter.step(done[-1])
    if wait:

        def gone() -> tuple[bool, str]:
            found = cluster_status(spec, redshift)
            return found is None, found.status if found else "gone"

        poll(name, "gone", gone, reporter, waiting)
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
        current = get_serverless(serverless, kind, name)
        if current is None:
            continue
        if str(current.get("status", "")).lower() == "deleting":
            reporter.step(f"{label} is already being deleted")
        else:
            with aws(f"delete {label}"):
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
                    if code(exc) != "ResourceNotFoundException":
                        raise
            kept = f" (final snapshot {final_snapshot})" if final_snapshot else ""
            done.append(f"deleted {label}{kept if kind == 'namespace' else ''}")
            reporter.step(done[-1])
        if wait or kind == "workgroup":
            poll(label, "gone", _serverless_gone(serverless, kind, name), reporter, waiting)
    return done


def _serverless_gone(
    serverless: Any, kind: Literal["workgroup", "namespace"], name: str
) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        found = get_serverless(serverless, kind, name)
        return found is None, str((found or {}).get("status", "gone")).lower()

    return check


def _delete_role(spec: InfraSpec, iam: IAMClient) -> None:
    name = spec.role_name
    with aws(f"delete IAM role {name}"):
        try:
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy in page.get("PolicyNames", []):
                    iam.delete_role_policy(RoleName=name, PolicyName=policy)
            for _, arn in attached_policies(iam, name):
                iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            profiles = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
            for profile in profiles:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=name
                )
            iam.delete_role(RoleName=name)
        except ClientError as exc:
            if code(exc) != "NoSuchEntity":
                raise
