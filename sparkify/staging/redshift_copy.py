"""Redshift's COPY statement and its manifest, as Redshift SQL text and JSON.

* events: ``FORMAT AS JSON AS '<JSONPaths file>'``; songs: ``FORMAT AS JSON AS 'auto'``
  (log keys are camelCase, song keys match the columns). ``ts`` stays epoch ms
  (converted in SQL), so no TIMEFORMAT. COMPUPDATE and STATUPDATE are off: column
  encodings stay as the tables have them (ENCODE AUTO), and the load runs ANALYZE
  itself on the columns the transforms use.
* A prefix is read as a folder (``prefix/``); a manifest lists exactly the planned
  objects when the folder holds more (the stager, :mod:`sparkify.staging.redshift`,
  decides which).

The COPY comes from sqlalchemy-redshift's ``CopyCommand``. See
https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html and docs/redshift.md.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy_redshift.commands import CopyCommand, Format

from sparkify.errors import ConfigError, SourceError
from sparkify.execute import redshift_text
from sparkify.sources import TableSources, split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: A COPY's MAXERROR cannot exceed this: "The maximum limit is 100,000"
#: (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html).
MAXERROR_LIMIT = 100_000

#: An IAM role ARN as Redshift takes it, whole (sqlalchemy-redshift only checks a prefix).
IAM_ROLE_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}"
)


def copy_statement(
    sources: TableSources,
    location: str,
    *,
    iam_role_arn: str,
    region: str,
    json_option: str,
    manifest: bool,
    max_errors: int,
) -> str:
    """The COPY statement for one staging table, as Redshift SQL text.

    Args:
        sources: the table and its objects.
        location: the folder prefix (``s3://bucket/prefix/``) or the manifest's URI.
        iam_role_arn: the role Redshift assumes to read S3.
        region: the bucket's region.
        json_option: ``'auto'`` or the JSONPaths file's URI.
        manifest: whether ``location`` is a manifest.
        max_errors: how many bad records the COPY may skip (0: the first fails it).
            Redshift fails a COPY that meets MAXERROR errors "or greater"
            (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html),
            so skipping N takes MAXERROR N+1 (at most :data:`MAXERROR_LIMIT`).
    """
    if max_errors >= MAXERROR_LIMIT:
        raise over_maxerror_limit(max_errors)
    if not IAM_ROLE_ARN.fullmatch(iam_role_arn):
        raise ConfigError(
            "not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
            section="IAM_ROLE",
            key="ARN",
        )
    try:
        command = CopyCommand(
            list(sources.table.columns),
            data_location=location,
            iam_role_arns=[iam_role_arn],
            format=Format.json,
            path_file=json_option,
            region=region,
            comp_update=False,
            stat_update=False,
            max_error=max_errors + 1 if max_errors > 0 else None,
            manifest=manifest,
        )
    except ValueError as exc:
        raise ConfigError(
            f"not an IAM role ARN Redshift accepts ({exc})", section="IAM_ROLE", key="ARN"
        ) from None
    return redshift_text(command)


def over_maxerror_limit(max_errors: int) -> ConfigError:
    return ConfigError(
        f"--max-errors {max_errors}: Redshift's COPY skips at most "
        f"{MAXERROR_LIMIT - 1:,} bad records (MAXERROR's limit is {MAXERROR_LIMIT:,})",
        key="--max-errors",
    )


def manifest_document(sources: TableSources) -> dict[str, Any]:
    """A COPY manifest naming exactly the planned objects (all mandatory)."""
    return {
        "entries": [
            {"url": obj.uri, "mandatory": True, "meta": {"content_length": obj.size}}
            for obj in sources.objects
        ]
    }


def folder(prefix: str) -> str:
    """A prefix read as a folder: ``s3://b/log_data`` → ``s3://b/log_data/``."""
    return prefix if prefix.endswith("/") else prefix + "/"


def write_manifest(uri: str, document: dict[str, Any], client: S3Client) -> None:
    """Put a manifest document at ``uri``."""
    bucket, key = split_s3_uri(uri)
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )
    except Exception as exc:  # botocore errors: one boundary, a clear message
        raise SourceError(uri, f"cannot write the COPY manifest ({type(exc).__name__})") from exc
