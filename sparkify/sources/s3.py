"""S3 access for the sources: the client, ``s3://`` URIs, bucket regions, and
one-line reasons for S3's errors that never carry a credential.

boto3 reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_S3``) by itself, which
is how the tests point it at moto's server.

Public data needs no AWS account: :func:`sources_client` reads the sources
unsigned (anonymously, as ``aws s3 --no-sign-request`` does) when no credentials
are found, or always with ``[S3] NO_SIGN_REQUEST``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from sparkify.errors import SourceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify.config import Settings

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_POOL_SIZE",
    "MAX_ATTEMPTS",
    "bucket_region",
    "error_code",
    "is_s3",
    "is_unsigned",
    "pool_size",
    "s3_client",
    "s3_reason",
    "sources_client",
    "split_s3_uri",
]

#: GETs kept in flight by :func:`~sparkify.sources.reading.read_sources` unless told otherwise.
DEFAULT_MAX_IN_FLIGHT = 32
#: HTTP connections a client made by :func:`s3_client` keeps: room for the
#: default window with some to spare for a second reader.
DEFAULT_POOL_SIZE = 2 * DEFAULT_MAX_IN_FLIGHT
#: Attempts per request (standard retry mode: throttling, 5xx, connection errors).
MAX_ATTEMPTS = 5

_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidSecurity",
    }
)
_REGION_CODES = frozenset(
    {
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "IllegalLocationConstraintException",
        "301",
    }
)
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "403"})

# Each client gets a session of its own (sessions are not thread-safe and cache
# credentials), but they share one loader of the static service models, which
# makes a client 5-8 times faster to build (~10 ms instead of ~60-80 ms).
_session_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def is_s3(uri: str) -> bool:
    """Whether ``uri`` is an ``s3://`` URI (anything else is a local path)."""
    return uri.startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    Raises:
        SourceError: when ``uri`` is not an ``s3://`` URI or names no bucket.
    """
    if not is_s3(uri):
        raise SourceError(uri, "not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise SourceError(uri, "names no bucket")
    return bucket, key


def s3_client(
    region: str | None = None,
    *,
    max_pool_connections: int = DEFAULT_POOL_SIZE,
    unsigned: bool | None = False,
) -> S3Client:
    """A boto3 S3 client for reading sources.

    The endpoint comes from boto3's own resolution, so ``AWS_ENDPOINT_URL`` /
    ``AWS_ENDPOINT_URL_S3`` (e.g. moto's server) are honoured.

    Args:
        region: the sources' region; ``None`` lets boto3 decide
            (``AWS_DEFAULT_REGION``, the profile...).
        max_pool_connections: HTTP connections kept; at least the largest
            ``max_in_flight`` the client will serve.
        unsigned: ``False`` signs every request with boto3's credential chain
            (none found: each request fails with "no AWS credentials found");
            ``True`` signs none (anonymous requests, botocore's ``UNSIGNED``:
            the credential chain is not even consulted); ``None`` signs when the
            chain finds credentials and sends unsigned requests when it finds
            none (see :func:`is_unsigned`).

    Returns:
        A thread-safe client with standard retries (``MAX_ATTEMPTS`` attempts).

    Raises:
        BotoCoreError: with ``unsigned=None``, credentials that are configured
            but unusable (e.g. an access key id without its secret).
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        max_pool_connections=max_pool_connections,
        connect_timeout=10,
        read_timeout=60,
    )
    global _loader
    with _session_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        core = botocore.session.Session()
        core.register_component("data_loader", _loader)
    # The session keeps the credentials it finds, so the client below does not
    # look them up again; finding none is botocore's own answer (None).
    if unsigned or (unsigned is None and core.get_credentials() is None):
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session(botocore_session=core).client(
        "s3", region_name=region, config=config
    )


def is_unsigned(client: S3Client | None) -> bool:
    """Whether ``client`` sends its requests unsigned (anonymously)."""
    config = None if client is None else client.meta.config
    return getattr(config, "signature_version", None) is UNSIGNED


def _source_buckets(settings: Settings) -> list[str]:
    """The buckets of the ``s3://`` sources (song_data, log_data, log_jsonpath), in order."""
    buckets: list[str] = []
    for uri in (settings.song_data, settings.log_data, settings.log_jsonpath):
        if is_s3(uri) and (bucket := split_s3_uri(uri)[0]) not in buckets:
            buckets.append(bucket)
    return buckets


def sources_client(
    settings: Settings,
    *,
    notify: Callable[[str], None] | None = None,
    max_pool_connections: int = DEFAULT_POOL_SIZE,
) -> S3Client | None:
    """The client that reads the settings' ``s3://`` sources; ``None`` when none is on S3.

    Requests are signed with boto3's credential chain. With
    ``settings.no_sign_request`` they never are; without it, when the chain
    finds no credentials, they are sent unsigned, as anonymous requests, which
    a bucket that allows public reads answers (``aws s3 --no-sign-request``).
    ``notify`` is then told so, once for this client.

    Raises:
        SourceError: naming the first ``s3://`` source, when credentials are
            configured but unusable.
    """
    uris = (settings.song_data, settings.log_data, settings.log_jsonpath, settings.manifest_prefix)
    first = next((uri for uri in uris if uri and is_s3(uri)), None)
    if first is None:
        return None
    try:
        client = s3_client(
            settings.region,
            max_pool_connections=max_pool_connections,
            unsigned=True if settings.no_sign_request else None,
        )
    except BotoCoreError as exc:
        raise SourceError(first, s3_reason(exc, split_s3_uri(first)[0], "read")) from None
    if notify is not None and is_unsigned(client) and not settings.no_sign_request:
        where = ", ".join(f"s3://{bucket}" for bucket in _source_buckets(settings))
        notify(f"no AWS credentials found: reading {where or first} unsigned (anonymously)")
    return client


def pool_size(client: S3Client) -> int:
    """The HTTP connections ``client`` keeps (botocore's default, 10, when unknown)."""
    size = getattr(client.meta.config, "max_pool_connections", None)
    return size if isinstance(size, int) and size > 0 else 10


# --------------------------------------------------------------------------- regions


def bucket_region(bucket: str, *, client: S3Client | None = None) -> str:
    """The region a bucket lives in (from ``HeadBucket``'s ``x-amz-bucket-region``).

    Real S3 sends the header also with a redirect or an access-denied answer,
    so this works on public buckets and with a client in the wrong region.

    Raises:
        SourceError: naming ``s3://bucket``: no such bucket, or no region in the answer.
    """
    client = client or s3_client()
    uri = f"s3://{bucket}"
    try:
        response = client.head_bucket(Bucket=bucket)
        region = response.get("BucketRegion") or _headers(response).get("x-amz-bucket-region")
    except ClientError as exc:
        region = _headers(exc.response).get("x-amz-bucket-region")
        if not region:
            raise SourceError(uri, s3_reason(exc, bucket, "list", client=client)) from None
    except BotoCoreError as exc:
        raise SourceError(uri, s3_reason(exc, bucket, "list", client=client)) from None
    if not region:
        raise SourceError(uri, "S3 did not say which region the bucket is in")
    return str(region)


# --------------------------------------------------------------------------- errors


def _headers(response: Any) -> dict[str, str]:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers if isinstance(headers, dict) else {}


def error_code(exc: ClientError) -> str:
    """S3's error code in ``exc`` (e.g. ``NoSuchKey``, or an HTTP status as text)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def s3_reason(
    exc: ClientError | BotoCoreError,
    bucket: str,
    action: str,
    *,
    client: S3Client | None = None,
) -> str:
    """A one-line reason for an S3 failure, free of credentials.

    Only the error code, S3's message and a few named fields are used: error
    bodies may echo the access key id or the string to sign. When ``client``
    (the one that failed) sends unsigned requests, a refusal says how to sign.
    """
    if isinstance(exc, PartialCredentialsError):
        # "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY": names, no values.
        return f"incomplete AWS credentials ({exc})"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach S3 ({exc})"
    if isinstance(exc, BotoCoreError):
        return f"S3 request failed ({type(exc).__name__}: {exc})"

    error = exc.response.get("Error", {})
    code = error_code(exc)
    message = str(error.get("Message", "")).strip()
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    permission = "s3:ListBucket" if action == "list" else "s3:GetObject"
    if code in ("NoSuchBucket",) or (code == "404" and action == "list"):
        return f"no such bucket {bucket!r}"
    if code in ("NoSuchKey", "404", "NotFound"):
        return "no such object"
    if code in _DENIED_CODES and is_unsigned(client):
        return (
            f"access denied to an anonymous (unsigned) request: bucket {bucket!r} does not "
            f"allow public {permission}; to read it, configure AWS credentials (AWS_PROFILE, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and leave --no-sign-request "
            "([S3] NO_SIGN_REQUEST, SPARKIFY_S3_NO_SIGN_REQUEST) unset"
        )
    if code in _DENIED_CODES:
        return f"access denied: the credentials lack {permission} on bucket {bucket!r}"
    if code in _CREDENTIAL_CODES:
        return f"S3 refused the AWS credentials ({code})"
    if code in _REGION_CODES or status == 301:
        region = (
            error.get("Region")
            or _headers(exc.response).get("x-amz-bucket-region")
            or _region_from_message(message)
        )
        where = f"region {region}" if region else "another region"
        return (
            f"bucket {bucket!r} is in {where}, not the one the client used; set the "
            "sources' region ([AWS] REGION in dwh.cfg or SPARKIFY_REGION)"
        )
    if code == "PreconditionFailed":
        return "the object changed since it was listed (its ETag differs)"
    if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"):
        return f"S3 kept failing after {MAX_ATTEMPTS} attempts ({code}: {message})"
    text = f"{code}: {message}" if message else code or f"HTTP {status}"
    return f"S3 refused to {action} ({text})"


def _region_from_message(message: str) -> str | None:
    # "The authorization header is malformed; the region 'us-east-1' is wrong;
    # expecting 'us-west-2'"
    marker = "expecting '"
    start = message.find(marker)
    if start < 0:
        return None
    end = message.find("'", start + len(marker))
    return message[start + len(marker) : end] if end > 0 else None
