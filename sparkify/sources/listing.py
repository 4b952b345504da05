"""What a source is, and listing the sources under an ``s3://`` prefix or a local folder.

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

Listings are sorted by URI and kept packed (:class:`Listing`). Every failure
(no such bucket or folder, nothing to load, access denied, wrong region) raises
:class:`~sparkify.errors.SourceError` naming the prefix or object and the reason,
never a credential.
"""

from __future__ import annotations

import os
import pickle
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from stat import S_ISREG
from typing import TYPE_CHECKING, overload

from botocore.exceptions import BotoCoreError, ClientError

from sparkify.errors import SourceError
from sparkify.sources.s3 import error_code, is_s3, s3_client, s3_reason, split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "LISTING_CHUNK", "Listing", "SourceObject", "iter_sources", "list_sources", "unchanged",
]  # fmt: skip


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
        raise SourceError(prefix, s3_reason(exc, bucket, "list", client=client)) from None
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
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise SourceError(uri, s3_reason(exc, bucket, "read", client=client)) from None
    except BotoCoreError as exc:
        raise SourceError(uri, s3_reason(exc, bucket, "read", client=client)) from None
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


def unchanged(obj: SourceObject) -> bool:
    """Whether a local object is still the regular file it was when listed (same etag).

    A reader that does not check the etag itself (DuckDB's) asks first; a
    ``False`` sends the object to a reader that says what changed.
    """
    try:
        now = _local_object(obj.uri)
    except OSError:
        return False
    return now is not None and (not obj.etag or now.etag == obj.etag)


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
