"""The plumbing of every AWS call: the clients, the one error boundary, polling, policies."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sparkify.errors import AwsError, InfraTimeoutError
from sparkify.infra.progress import Reporter, Waiting

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_redshift import RedshiftClient

_SECRET_MASK = "***"


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the operations use (``serverless`` only with ``--serverless``).

    ``s3`` (optional) is used by ``up`` to find the manifest bucket's region.
    """

    iam: IAMClient
    redshift: RedshiftClient
    ec2: EC2Client
    serverless: Any = field(repr=False)
    s3: Any = field(default=None, repr=False)

    @classmethod
    def from_session(cls, session: boto3.Session) -> AwsClients:
        """Clients for the session's region and credentials (no network call)."""
        return cls(
            iam=session.client("iam"),
            redshift=session.client("redshift"),
            ec2=session.client("ec2"),
            serverless=session.client("redshift-serverless"),
            s3=session.client("s3"),
        )


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _SECRET_MASK)
    return text


def code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def aws(action: str, *secrets: str | None) -> Iterator[None]:
    """The one boundary where botocore errors become :class:`AwsError` (secrets masked)."""
    try:
        yield
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        raise AwsError(action, code(exc), _scrub(message, secrets)) from exc
    except BotoCoreError as exc:
        raise AwsError(action, type(exc).__name__, _scrub(str(exc), secrets)) from exc


def poll(
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


def policy_document(raw: Any) -> dict[str, Any]:
    """A policy document as a dict (IAM may return it URL-encoded)."""
    if isinstance(raw, str):
        raw = json.loads(urllib.parse.unquote(raw))
    return dict(raw) if isinstance(raw, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def policy_resources(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Every ``Resource`` of a policy document's statements, in order.

    A listing limited by an ``s3:prefix`` condition shows it:
    ``arn:aws:s3:::bucket (prefix sparkify/manifests/*)``.
    """
    shown = []
    for statement in _as_list(document.get("Statement")):
        condition = statement.get("Condition") or {}
        prefixes = [
            str(p)
            for values in condition.values()
            if isinstance(values, Mapping)
            for p in _as_list(values.get("s3:prefix"))
        ]
        limit = f" (prefix {', '.join(prefixes)})" if prefixes else ""
        shown += [f"{resource}{limit}" for resource in _as_list(statement.get("Resource"))]
    return tuple(shown)


def trusted_services(document: Mapping[str, Any]) -> set[str]:
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


def normalized(
    document: Mapping[str, Any],
) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    """A policy's statements in a comparable form (Sids and order aside, conditions kept)."""
    return sorted(
        (
            str(st.get("Effect")),
            tuple(sorted(map(str, _as_list(st.get("Action"))))),
            tuple(sorted(map(str, _as_list(st.get("Resource"))))),
            json.dumps(st.get("Condition") or {}, sort_keys=True),
        )
        for st in _as_list(document.get("Statement"))
    )
