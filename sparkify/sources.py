"""List and read the source objects under an ``s3://`` prefix or a local folder.

A source is every object under the configured prefix, *taken as a folder*, whose
name ends in ``.json``; a file or folder whose name starts with ``.`` (e.g.
``.ipynb_checkpoints/``) is not a source (CONTRACT.md, "Sources"). The same rules
apply to S3 prefixes and local folders, so every backend loads the same set:

* ``s3://bucket/log_data`` and ``s3://bucket/log_data/`` both list the keys
  ``log_data/...``, never ``log_data_old/...``;
* a local folder is walked recursively; a local path naming a single file is
  that file alone, and so is an ``s3://`` URI naming exactly one object when
  nothing lies under it taken as a folder;
* locally, only regular files are objects (a link to one is followed): a FIFO,
  a device or a socket named ``*.json`` is not a source, as reading one would
  block or never end.

Listings are sorted by URI. Every failure (no such bucket or folder, nothing to
load, access denied, wrong region, unreadable object) raises
:class:`~sparkify.errors.SourceError` naming the prefix or object and the reason,
never a credential.

boto3 reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_S3``) by itself, which
is how the tests point it at moto's server.
"""

from __future__ import annotations

import os
import pickle
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, Any, BinaryIO, overload

import boto3
import botocore.loaders
import botocore.session
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

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "Listing",
    "SourceObject",
    "bucket_region",
    "is_s3",
    "iter_sources",
    "list_sources",
    "read_one",
    "read_sources",
    "s3_client",
    "split_s3_uri",
]

#: GETs kept in flight by :func:`read_sources` unless told otherwise.
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


@dataclass(frozen=True, slots=True)
class SourceObject:
    """One source object, as listed.

    Attributes:
        uri: ``s3://bucket/key`` or the absolute local path; used in messages.
        size: its size in bytes at listing time.
        etag: the S3 ETag without quotes; for a local file ``f"{size}-{mtime_ns}"``.
            When not empty, reading checks the object still has it.
    """

    uri: str
    size: int
    etag: str


class Listing(Sequence[SourceObject]):
    """A listing kept compact: the objects in order, packed in compressed chunks.

    A plan holds every object it will load (100,000 song files at the
    benchmark's largest size). As :class:`SourceObject` instances that is about
    0.3 KB each; here it is a few bytes each (pickled, zlib-compressed chunks of
    :data:`LISTING_CHUNK` objects), so memory stays flat as the catalogue grows.
    Iterating unpacks one chunk at a time. The listing is immutable; indexing
    and slicing work but walk the chunks (meant for small lists and tests).
    """

    __slots__ = ("_chunks", "_count", "_size")

    def __init__(self, objects: Iterable[SourceObject] = ()) -> None:
        chunks: list[bytes] = []
        batch: list[tuple[str, int, str]] = []
        count = size = 0
        for obj in objects:
            batch.append((obj.uri, obj.size, obj.etag))
            count += 1
            size += obj.size
            if len(batch) == LISTING_CHUNK:
                chunks.append(_pack(batch))
                batch = []
        if batch:
            chunks.append(_pack(batch))
        self._chunks = tuple(chunks)
        self._count = count
        self._size = size

    @classmethod
    def by_uri(cls, objects: Iterable[SourceObject]) -> Listing:
        """A listing sorted by URI; ``objects`` usually come sorted (checked, else sorted)."""
        disordered = False

        def checked() -> Iterator[SourceObject]:
            nonlocal disordered
            last = ""
            for obj in objects:
                disordered = disordered or obj.uri < last
                last = obj.uri
                yield obj

        listing = cls(checked())
        if disordered:  # e.g. an S3 directory bucket, which lists keys in no order
            listing = cls(sorted(listing, key=lambda obj: obj.uri))
        return listing

    @property
    def size(self) -> int:
        """Total bytes of the objects, as listed."""
        return self._size

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[SourceObject]:
        for chunk in self._chunks:
            for uri, size, etag in _unpack(chunk):
                yield SourceObject(uri, size, etag)

    @overload
    def __getitem__(self, index: int) -> SourceObject: ...

    @overload
    def __getitem__(self, index: slice) -> Listing: ...

    def __getitem__(self, index: int | slice) -> SourceObject | Listing:
        objects = list(self)
        if isinstance(index, slice):
            return Listing(objects[index])
        return objects[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Listing):
            return NotImplemented
        return self._count == other._count and self._chunks == other._chunks

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Listing({self._count} objects, {self._size} bytes)"


#: Objects per compressed chunk of a :class:`Listing`.
LISTING_CHUNK = 2048


def _pack(batch: list[tuple[str, int, str]]) -> bytes:
    return zlib.compress(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(chunk: bytes) -> list[tuple[str, int, str]]:
    batch: list[tuple[str, int, str]] = pickle.loads(zlib.decompress(chunk))
    return batch


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
) -> S3Client:
    """A boto3 S3 client for reading sources.

    The endpoint comes from boto3's own resolution, so ``AWS_ENDPOINT_URL`` /
    ``AWS_ENDPOINT_URL_S3`` (e.g. moto's server) are honoured.

    Args:
        region: the sources' region; ``None`` lets boto3 decide
            (``AWS_DEFAULT_REGION``, the profile...).
        max_pool_connections: HTTP connections kept; at least the largest
            ``max_in_flight`` the client will serve.

    Returns:
        A thread-safe client with standard retries (``MAX_ATTEMPTS`` attempts).
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
        return boto3.session.Session(botocore_session=core).client(
            "s3", region_name=region, config=config
        )


# --------------------------------------------------------------------------- listing


def list_sources(
    prefix: str, *, client: S3Client | None = None, suffix: str = ".json", page_size: int = 1000
) -> list[SourceObject]:
    """Every source under ``prefix``, sorted by URI.

    Args:
        prefix: ``s3://bucket/folder`` (with or without a final ``/``), a local
            folder, or a local file (that file alone).
        client: the S3 client to use; one is made by :func:`s3_client` when needed.
        suffix: what a source's name ends with.
        page_size: keys per S3 listing request (S3's maximum is 1000).

    Returns:
        The sources, never empty.

    Raises:
        SourceError: naming ``prefix``: no such bucket/folder, nothing under it,
            nothing that is a source, or S3 refused the listing (and why).
    """
    found = iter_sources(prefix, client=client, suffix=suffix, page_size=page_size)
    return sorted(found, key=lambda obj: obj.uri)


def iter_sources(
    prefix: str, *, client: S3Client | None = None, suffix: str = ".json", page_size: int = 1000
) -> Iterator[SourceObject]:
    """Every source under ``prefix``, one at a time, as :func:`list_sources` finds them.

    A local folder is walked in URI order; S3 lists keys in URI order (general
    purpose buckets). Nothing but the current S3 page or folder is held, so a
    :class:`Listing` built from it stays small however many objects there are.
    The errors of :func:`list_sources` are raised when iteration reaches them
    (an empty prefix at the end).
    """
    if is_s3(prefix):
        return _iter_s3(prefix, client or s3_client(), suffix, page_size)
    return _iter_local(prefix, suffix)


def _is_source(relative: str, suffix: str) -> bool:
    """Whether a key/path relative to the listed folder names a source."""
    parts = relative.split("/")
    return parts[-1].endswith(suffix) and not any(part.startswith(".") for part in parts)


def _not_sources_reason(count: int, suffix: str, example: str) -> str:
    return (
        f"no {suffix} objects under it ({count} object(s), none a source: a source is a "
        f"regular file whose name ends in {suffix} and no file or folder name in its path "
        "starts with '.'; "
        f"e.g. {example})"
    )


def _iter_s3(prefix: str, client: S3Client, suffix: str, page_size: int) -> Iterator[SourceObject]:
    bucket, key = split_s3_uri(prefix)
    folder = key.rstrip("/") + "/" if key.strip("/") else ""
    found = 0
    others = 0
    other_example = ""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=folder, PaginationConfig={"PageSize": page_size}
    )
    try:
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"]
                if _is_source(name[len(folder) :], suffix):
                    found += 1
                    yield SourceObject(
                        uri=f"s3://{bucket}/{name}",
                        size=item["Size"],
                        etag=item.get("ETag", "").strip('"'),
                    )
                elif not name.endswith("/"):  # "folder/" markers are not objects to report
                    others += 1
                    other_example = other_example or f"s3://{bucket}/{name}"
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(prefix, _s3_reason(exc, bucket, "list")) from None
    if found:
        return
    if others:
        raise SourceError(prefix, _not_sources_reason(others, suffix, other_example))
    if folder and not key.endswith("/"):
        single = _head(client, bucket, key)
        if single is not None:
            yield single
            return
    where = f"s3://{bucket}/{folder}"
    raise SourceError(prefix, f"nothing under {where} (no such folder in bucket {bucket!r})")


def _head(client: S3Client, bucket: str, key: str) -> SourceObject | None:
    """The object at exactly ``key``, or ``None`` when there is none."""
    uri = f"s3://{bucket}/{key}"
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise SourceError(uri, _s3_reason(exc, bucket, "read")) from None
    except BotoCoreError as exc:
        raise SourceError(uri, _s3_reason(exc, bucket, "read")) from None
    return SourceObject(uri=uri, size=head["ContentLength"], etag=head["ETag"].strip('"'))


def _local_object(path: str) -> SourceObject | None:
    """The regular file at ``path`` (a link followed), or ``None`` for anything else.

    A FIFO, a device or a socket is no object: reading a FIFO waits for a
    writer, and a device such as ``/dev/zero`` never ends.
    """
    stat = os.stat(path)
    if not S_ISREG(stat.st_mode):
        return None
    return SourceObject(uri=path, size=stat.st_size, etag=f"{stat.st_size}-{stat.st_mtime_ns}")


def _iter_local(prefix: str, suffix: str) -> Iterator[SourceObject]:
    root = os.path.abspath(prefix)
    single = _local_object(root) if os.path.isfile(root) else None
    if single is not None:
        yield single
        return
    if not os.path.exists(root):
        raise SourceError(prefix, f"no such folder ({root})")
    if not os.path.isdir(root):
        raise SourceError(prefix, "neither a folder nor a regular file")
    found, others, other_example = 0, 0, ""
    for path, name in _walk_sorted(prefix, root):
        if name.endswith(suffix) and not name.startswith("."):
            try:
                obj = _local_object(path)
            except OSError as exc:
                raise _cannot_list(prefix, exc) from None
            if obj is not None:
                found += 1
                yield obj
                continue
        others += 1
        other_example = other_example or path
    if found:
        return
    if others:
        raise SourceError(prefix, _not_sources_reason(others, suffix, other_example))
    raise SourceError(prefix, f"the folder {root} holds no files")


def _cannot_list(prefix: str, exc: OSError) -> SourceError:
    return SourceError(prefix, f"cannot list {exc.filename}: {exc.strerror or exc}")


def _walk_sorted(prefix: str, folder: str) -> Iterator[tuple[str, str]]:
    """The files under ``folder`` in the order of their full paths, depth first.

    Entries of a folder are sorted with a ``/`` after each subfolder's name, so a
    subfolder's files come exactly where a sort of the full paths puts them.
    Folders whose name starts with ``.`` are skipped; like ``os.walk``, links to
    folders are not followed. Yields each file's path and name.
    """
    try:
        with os.scandir(folder) as scan:
            entries = sorted(
                (entry.name + "/" if entry.is_dir() else entry.name, entry) for entry in scan
            )
    except OSError as exc:
        raise _cannot_list(prefix, exc) from None
    for key, entry in entries:
        if key.endswith("/"):
            if not entry.name.startswith(".") and not entry.is_symlink():
                yield from _walk_sorted(prefix, entry.path)
            continue
        yield entry.path, entry.name


# --------------------------------------------------------------------------- reading


def read_one(uri: str, *, client: S3Client | None = None) -> bytes:
    """The whole content of one object or file (e.g. the JSONPaths file).

    Raises:
        SourceError: naming ``uri``: no such bucket/object/file, access denied...
    """
    if is_s3(uri):
        return _get(client or s3_client(), SourceObject(uri=uri, size=-1, etag=""))
    return _read_local(SourceObject(uri=uri, size=-1, etag=""))


def read_sources(
    objects: Iterable[SourceObject],
    *,
    client: S3Client | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> Iterator[tuple[SourceObject, bytes]]:
    """Read objects, yielding ``(object, content)`` in the order given.

    Up to ``max_in_flight`` S3 GETs run at once in a thread pool; the window
    slides as the caller consumes, so at most ``max_in_flight`` contents are
    held, whatever the input's length (``objects`` may be a lazy iterable).
    Local files are read in the caller's thread when their turn comes. Closing
    the generator early cancels what has not started.

    Args:
        objects: what to read, e.g. from :func:`list_sources`.
        client: S3 client; made by :func:`s3_client` at the first S3 object when
            ``None``. Its connection pool caps the window (more threads than
            connections would only open and drop connections).
        max_in_flight: the window size, at least 1.

    Returns:
        An iterator of each object with its bytes, in input order.

    Raises:
        SourceError: naming the object's URI when its read fails (in turn: the
            objects before it are yielded first). With a non-empty ``etag``, an
            object that changed since it was listed is such a failure.
        ValueError: when ``max_in_flight`` is less than 1.
    """
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    return _read_window(objects, client, max_in_flight)


def _read_window(
    objects: Iterable[SourceObject], client: S3Client | None, max_in_flight: int
) -> Iterator[tuple[SourceObject, bytes]]:
    window: deque[tuple[SourceObject, Callable[[], bytes]]] = deque()
    executor: ThreadPoolExecutor | None = None
    s3 = client
    width = max_in_flight
    try:
        for obj in objects:
            if is_s3(obj.uri):
                if s3 is None:
                    s3 = s3_client(max_pool_connections=max(DEFAULT_POOL_SIZE, max_in_flight))
                if executor is None:
                    width = min(max_in_flight, _pool_size(s3))
                    executor = ThreadPoolExecutor(
                        max_workers=width, thread_name_prefix="sparkify-get"
                    )
                future: Future[bytes] = executor.submit(_get, s3, obj)
                window.append((obj, future.result))
            else:
                window.append((obj, _reader(obj)))
            while len(window) >= width:
                head, result = window.popleft()
                yield head, result()
        while window:
            head, result = window.popleft()
            yield head, result()
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _reader(obj: SourceObject) -> Callable[[], bytes]:
    return lambda: _read_local(obj)


def _pool_size(client: S3Client) -> int:
    size = getattr(client.meta.config, "max_pool_connections", None)
    return size if isinstance(size, int) and size > 0 else 10


def _get(client: S3Client, obj: SourceObject) -> bytes:
    bucket, key = split_s3_uri(obj.uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if obj.etag:
        kwargs["IfMatch"] = f'"{obj.etag}"'
    try:
        response = client.get_object(**kwargs)
        return response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(obj.uri, _s3_reason(exc, bucket, "read")) from None


def _open_regular(path: str) -> BinaryIO:
    """Open a regular file for reading; anything else raises :class:`SourceError`.

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting for a
    writer (it changes nothing for a regular file); the file's type is then
    read from the open descriptor, so nothing can swap it in between.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if S_ISDIR(mode):
            raise SourceError(path, "is a folder, not a file")
        if not S_ISREG(mode):
            raise SourceError(path, "not a regular file (a FIFO, a device or a socket)")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _read_local(obj: SourceObject) -> bytes:
    try:
        with _open_regular(obj.uri) as file:
            stat = os.fstat(file.fileno())
            data = file.read()
    except FileNotFoundError:
        raise SourceError(obj.uri, "no such file") from None
    except IsADirectoryError:
        raise SourceError(obj.uri, "is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(obj.uri, f"cannot read it: {exc.strerror or exc}") from None
    if obj.etag and obj.etag != f"{stat.st_size}-{stat.st_mtime_ns}":
        raise SourceError(obj.uri, "the file changed since it was listed")
    return data


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
            raise SourceError(uri, _s3_reason(exc, bucket, "list")) from None
    except BotoCoreError as exc:
        raise SourceError(uri, _s3_reason(exc, bucket, "list")) from None
    if not region:
        raise SourceError(uri, "S3 did not say which region the bucket is in")
    return str(region)


# --------------------------------------------------------------------------- errors


def _headers(response: Any) -> dict[str, str]:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers if isinstance(headers, dict) else {}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _s3_reason(exc: ClientError | BotoCoreError, bucket: str, action: str) -> str:
    """A one-line reason for an S3 failure, free of credentials.

    Only the error code, S3's message and a few named fields are used: error
    bodies may echo the access key id or the string to sign.
    """
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach S3 ({exc})"
    if isinstance(exc, BotoCoreError):
        return f"S3 request failed ({type(exc).__name__}: {exc})"

    error = exc.response.get("Error", {})
    code = _code(exc)
    message = str(error.get("Message", "")).strip()
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    permission = "s3:ListBucket" if action == "list" else "s3:GetObject"
    if code in ("NoSuchBucket",) or (code == "404" and action == "list"):
        return f"no such bucket {bucket!r}"
    if code in ("NoSuchKey", "404", "NotFound"):
        return "no such object"
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


# --------------------------------------------------------------------------- streaming

#: Objects larger than this are streamed in blocks of this size, never held whole,
#: so memory stays flat however big a day's log file grows.
STREAM_BLOCK = 1024 * 1024


def stream_sources(
    objects: Iterable[SourceObject],
    *,
    client: S3Client | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    block_size: int = STREAM_BLOCK,
) -> Iterator[tuple[SourceObject, Iterator[bytes]]]:
    """Read objects in order, each as an iterator of byte blocks.

    Runs of small objects (song files) go through :func:`read_sources`, with
    many GETs in flight; an object larger than ``block_size`` (a day of logs) is
    read block by block when its turn comes. Consume each object's blocks
    before asking for the next object.

    Raises:
        SourceError: naming the object whose read fails.
    """
    for big, run in groupby(objects, key=lambda obj: obj.size > block_size):
        if not big:  # a run of small objects, read lazily through the window
            for done, data in read_sources(run, client=client, max_in_flight=max_in_flight):
                yield done, iter((data,))
            continue
        for obj in run:
            if is_s3(obj.uri) and client is None:
                client = s3_client()
            yield obj, _blocks(obj, client, block_size)


def _blocks(obj: SourceObject, client: S3Client | None, block_size: int) -> Iterator[bytes]:
    if not is_s3(obj.uri):
        yield from _local_blocks(obj, block_size)
        return
    assert client is not None
    bucket, key = split_s3_uri(obj.uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if obj.etag:
        kwargs["IfMatch"] = f'"{obj.etag}"'
    try:
        body = client.get_object(**kwargs)["Body"]
        yield from body.iter_chunks(block_size)
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(obj.uri, _s3_reason(exc, bucket, "read")) from None


def _local_blocks(obj: SourceObject, block_size: int) -> Iterator[bytes]:
    try:
        with _open_regular(obj.uri) as file:
            stat = os.fstat(file.fileno())
            if obj.etag and obj.etag != f"{stat.st_size}-{stat.st_mtime_ns}":
                raise SourceError(obj.uri, "the file changed since it was listed")
            while block := file.read(block_size):
                yield block
    except FileNotFoundError:
        raise SourceError(obj.uri, "no such file") from None
    except IsADirectoryError:
        raise SourceError(obj.uri, "is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(obj.uri, f"cannot read it: {exc.strerror or exc}") from None
