"""``dwh.cfg``: settings and spec from it, AWS credentials, and editing it in place."""

from __future__ import annotations

import configparser
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import botocore.loaders
import botocore.session

from sparkify.config import Settings, config_value, load_settings, read_config_file
from sparkify.errors import ConfigError
from sparkify.infra.spec import (
    DEFAULT_BASE_CAPACITY,
    DEFAULT_CLUSTER_IDENTIFIER,
    DEFAULT_DB_NAME,
    DEFAULT_DB_USER,
    DEFAULT_NODE_TYPE,
    DEFAULT_NUMBER_OF_NODES,
    DEFAULT_PORT,
    DEFAULT_ROLE_NAME,
    InfraSpec,
    normalize_cidr,
    source_buckets,
)

if TYPE_CHECKING:
    from sparkify.infra.state import InfraStatus

#: Placeholder database URL: infra commands read sources and region, never the database.
_NO_DATABASE = "duckdb:///:memory:"


def read_settings(
    config_file: str | os.PathLike[str],
    *,
    region: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings for the infra commands: sources and region; the database is not needed.

    ``[CLUSTER]`` is not required to be complete (``down`` must work when it is not).
    """
    env = dict(os.environ if environ is None else environ)
    # The database is not read here, so neither is how to log in to it: AUTH = iam
    # would otherwise be refused for the placeholder URL.
    env["SPARKIFY_DB_AUTH"] = "password"
    settings = load_settings(config_file=config_file, database_url=_NO_DATABASE, environ=env)
    return replace(settings, region=region) if region else settings


def _cfg_values(path: Path | None) -> dict[str, dict[str, str]]:
    """Non-empty values of ``dwh.cfg`` by section and upper-case key, quotes stripped."""
    if path is None:
        return {}
    parser = read_config_file(path)
    values: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        for key, raw in parser.items(section, raw=True):
            value = config_value(raw)
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
        manifest_prefix=settings.manifest_prefix,
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
