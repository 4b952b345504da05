"""``sparkify infra up | status | down``: thin click commands over :mod:`sparkify.infra`.

Registered by ``sparkify.cli`` (``main.add_command(infra)``). Progress and
warnings go to stderr, the resulting state to stdout. A ``SparkifyError``
becomes one ``error:`` line on stderr and exit code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.status import Status
from rich.text import Text

from sparkify import infra as lib
from sparkify.cli.console import SparkifyGroup

F = TypeVar("F", bound=Callable[..., Any])


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class _RichReporter:
    """Steps as lines, waits on a spinner (as lines when stderr is not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.spinner: Status | None = None

    def step(self, message: str) -> None:
        self.console.print(Text.assemble(("- ", "green"), message))

    def waiting(self, message: str) -> None:
        if self.spinner is not None and self.console.is_terminal:
            self.spinner.update(Text(message))  # never read as markup
        else:
            self.console.print(Text.assemble(("… ", "cyan"), message))

    def warn(self, message: str) -> None:
        self.console.print(Text.assemble(("warning:", "bold yellow"), f" {message}"))


def _identity_options(func: F) -> F:
    """Options every infra command shares: where the config is and what to look for."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=Path("dwh.cfg"),
            show_default=True,
            envvar="SPARKIFY_CONFIG",
            help="dwh.cfg to read; up writes HOST and the role ARN back into it.",
        ),
        click.option(
            "--region",
            metavar="REGION",
            help="AWS region (default: SPARKIFY_REGION, dwh.cfg [AWS] REGION, else us-west-2).",
        ),
        click.option(
            "--cluster-identifier",
            metavar="NAME",
            help="Cluster, or Serverless namespace and workgroup, name (default: "
            f"[DWH] DWH_CLUSTER_IDENTIFIER, else {lib.DEFAULT_CLUSTER_IDENTIFIER}).",
        ),
        click.option(
            "--role-name",
            metavar="NAME",
            help="IAM role Redshift assumes to read S3 (default: [DWH] "
            f"DWH_IAM_ROLE_NAME, else {lib.DEFAULT_ROLE_NAME}).",
        ),
        click.option(
            "--serverless/--provisioned",
            default=None,
            help="Redshift Serverless namespace and workgroup, or a provisioned "
            "cluster (default: Serverless when [CLUSTER] HOST is a Serverless "
            "endpoint, else provisioned).",
        ),
        click.option(
            "--security-group-id",
            metavar="SG_ID",
            help="VPC security group for a new warehouse and its inbound rule "
            "(default: the default VPC's 'default' group).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _prepare(
    config_file: Path, region: str | None, reporter: _RichReporter, **spec_args: Any
) -> tuple[lib.InfraSpec, lib.AwsClients]:
    settings = lib.read_settings(config_file, region=region)
    spec = lib.spec_from_config(settings, **spec_args)
    session, warnings = lib.session_for(spec.region, config_file)
    for warning in warnings:
        reporter.warn(warning)
    return spec, lib.AwsClients.from_session(session)


@click.group("infra", cls=SparkifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def infra() -> None:
    """Create, inspect and delete the warehouse's AWS side: IAM role, Redshift, inbound rule.

    Credentials come from boto3's usual chain (environment, profile, SSO...).
    """


@infra.command("up")
@_identity_options
@click.option(
    "--node-type",
    metavar="TYPE",
    help=f"Node type (default: [DWH] DWH_NODE_TYPE, else {lib.DEFAULT_NODE_TYPE}).",
)
@click.option(
    "--nodes",
    "number_of_nodes",
    type=click.IntRange(1, 128),
    help="Number of nodes; 1 makes a single-node cluster (default: [DWH] "
    f"DWH_NUM_NODES, else {lib.DEFAULT_NUMBER_OF_NODES}).",
)
@click.option(
    "--db-name",
    metavar="NAME",
    help=f"Database to create (default: [DWH] DWH_DB, [CLUSTER] DB_NAME, else "
    f"{lib.DEFAULT_DB_NAME}).",
)
@click.option(
    "--db-user",
    metavar="USER",
    help=f"Master user (default: [DWH] DWH_DB_USER, [CLUSTER] DB_USER, else "
    f"{lib.DEFAULT_DB_USER}). The password comes from SPARKIFY_DB_PASSWORD, "
    "[CLUSTER] DB_PASSWORD or a prompt.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Database port (default: [DWH] DWH_PORT, [CLUSTER] DB_PORT, else {lib.DEFAULT_PORT}).",
)
@click.option(
    "--cidr",
    metavar="CIDR",
    help="Open the port to this CIDR only, e.g. your address 203.0.113.7/32 "
    "(without it no inbound rule is added; 0.0.0.0/0 is accepted with a "
    "warning).",
)
@click.option(
    "--base-capacity",
    type=int,
    metavar="RPU",
    help=f"Serverless base capacity in RPUs, a multiple of 8 (default: "
    f"{lib.DEFAULT_BASE_CAPACITY}).",
)
@click.option(
    "--public/--private",
    "publicly_accessible",
    default=True,
    show_default=True,
    help="Give a new warehouse a public endpoint (needed to connect from --cidr).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=lib.DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the warehouse to become available.",
)
def up_command(config_file: Path, region: str | None, timeout: float, **spec_args: Any) -> None:
    """Create the IAM role, the warehouse and the inbound rule; reuse what exists.

    Waits until the warehouse is available, then writes [CLUSTER] HOST (and
    DB_NAME, DB_USER, DB_PORT) and [IAM_ROLE] ARN into dwh.cfg, keeping the rest
    of the file. Running it again changes nothing.
    """
    err = _stderr()
    reporter = _RichReporter(err)
    spec, clients = _prepare(config_file, region, reporter, **spec_args)
    if spec.master_password is None and sys.stdin.isatty():
        current = lib.status(spec, clients)
        if current.warehouse is None:
            password = click.prompt(
                "Master password for the new warehouse",
                hide_input=True,
                confirmation_prompt=True,
                err=True,
            )
            spec = replace(spec, master_password=password)
            reporter.warn(
                "the password is not written to dwh.cfg: export "
                "SPARKIFY_DB_PASSWORD for the other sparkify commands"
            )
    with err.status("Working...") as spinner:
        reporter.spinner = spinner
        result = lib.up(spec, clients, reporter=reporter, waiting=lib.Waiting(timeout=timeout))
        reporter.spinner = None
    changed = lib.update_config_file(config_file, lib.config_after_up(result))
    if changed:
        reporter.step(f"wrote {', '.join(changed)} into {config_file}")
    else:
        reporter.step(f"{config_file} already up to date")
    _print_status(_stdout(), spec, result)


@infra.command("status")
@_identity_options
def status_command(config_file: Path, region: str | None, **spec_args: Any) -> None:
    """Show the IAM role, the warehouse's status and endpoint, and the inbound rules."""
    reporter = _RichReporter(_stderr())
    spec, clients = _prepare(config_file, region, reporter, **spec_args)
    _print_status(_stdout(), spec, lib.status(spec, clients))


@infra.command("down")
@_identity_options
@click.option(
    "--final-snapshot",
    metavar="NAME",
    help="Keep a final snapshot with this name (default: none is kept).",
)
@click.option(
    "--cidr",
    metavar="CIDR",
    help="Also revoke the rule for exactly this CIDR (rules sparkify added are always revoked).",
)
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the warehouse is gone."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=lib.DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the deletion.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def down_command(
    config_file: Path,
    region: str | None,
    final_snapshot: str | None,
    wait: bool,
    timeout: float,
    yes: bool,
    **spec_args: Any,
) -> None:
    """Delete the warehouse, the IAM role and sparkify's inbound rules; harmless when gone.

    Empties [CLUSTER] HOST and [IAM_ROLE] ARN in dwh.cfg when they name what was deleted.
    """
    err = _stderr()
    reporter = _RichReporter(err)
    spec, clients = _prepare(config_file, region, reporter, **spec_args)
    current = lib.status(spec, clients)
    if current.exists and not yes:
        what = ", ".join(
            part
            for part in (
                current.warehouse and f"{_kind(spec)} {spec.cluster_identifier}",
                current.role and f"IAM role {spec.role_name}",
                any(rule.managed for rule in current.ingress) and "sparkify's inbound rules",
            )
            if part
        )
        click.confirm(f"Delete {what} in {spec.region}?", abort=True, err=True)
    with err.status("Working...") as spinner:
        reporter.spinner = spinner
        lib.down(
            spec,
            clients,
            final_snapshot=final_snapshot,
            wait=wait,
            reporter=reporter,
            waiting=lib.Waiting(timeout=timeout),
            current=current,
        )
        reporter.spinner = None
    changed = lib.update_config_file(config_file, lib.config_after_down(config_file, spec))
    if changed:
        reporter.step(f"emptied {', '.join(changed)} in {config_file}")


def _kind(spec: lib.InfraSpec) -> str:
    return "Redshift Serverless workgroup" if spec.serverless else "Redshift cluster"


def _print_status(console: Console, spec: lib.InfraSpec, current: lib.InfraStatus) -> None:
    def line(label: str, value: str) -> None:
        console.print(f"{label:<12}{value}", markup=False)

    line("Region:", current.region)
    role = current.role
    if role is None:
        line("IAM role:", f"{spec.role_name}: absent")
    else:
        line("IAM role:", role.arn)
        line("  Trusts:", ", ".join(role.trusted_services) or "nobody")
        line("  S3 read:", ", ".join(role.policy_resources) or f"no {lib.POLICY_NAME} policy")
        if role.managed_policies:
            line("  Also:", ", ".join(role.managed_policies))
    warehouse = current.warehouse
    if warehouse is None:
        line(
            f"{'Workgroup' if spec.serverless else 'Cluster'}:",
            f"{spec.cluster_identifier}: absent",
        )
    else:
        label = "Workgroup:" if warehouse.kind == "serverless" else "Cluster:"
        line(label, f"{warehouse.identifier}: {warehouse.status}")
        if warehouse.namespace_status is not None:
            line("  Namespace:", warehouse.namespace_status)
        endpoint = f"{warehouse.host}:{warehouse.port}" if warehouse.host else "not yet"
        line("  Endpoint:", endpoint)
        line("  Database:", f"{warehouse.db_name or '?'} (user {warehouse.db_user or '?'})")
    if not current.ingress:
        groups = ", ".join(current.security_group_ids) or "no security group"
        line("Ingress:", f"no rule opens port {spec.port} ({groups})")
    for rule in current.ingress:
        ports = (
            str(rule.from_port)
            if rule.from_port == rule.to_port
            else ("all ports" if rule.protocol == "-1" else f"{rule.from_port}-{rule.to_port}")
        )
        owner = "sparkify" if rule.managed else "not sparkify's"
        line("Ingress:", f"{rule.cidr} -> {ports} on {rule.group_id} ({owner})")
