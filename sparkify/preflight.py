"""Check that the song files, the event logs and the JSONPaths file are there and usable.

The seed's "check that log files and song data files are present", made
thorough: :func:`check_sources` lists each configured source, reads one sample
of each kind and the JSONPaths file, and compares them with what the loaders
expect. It never stops at the first problem: each one is its own failed
:class:`Check` with a message saying what to fix. It works on ``s3://`` and
local sources alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from sparkify.errors import SourceError
from sparkify.models import EVENT_KEYS, SONG_KEYS, staging_events
from sparkify.sources import (
    SourceObject,
    bucket_region,
    is_s3,
    list_sources,
    parse_jsonpaths,
    read_one,
    sources_client,
    split_s3_uri,
)
from sparkify.staging.records import NESTED_TOO_DEEPLY, NOT_AN_OBJECT, split_records

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify.config import Settings

__all__ = [
    "EVENT_KEYS",
    "SONG_KEYS",
    "Check",
    "PreflightReport",
    "check_sources",
]


@dataclass(frozen=True)
class Check:
    """One line of the report.

    Attributes:
        name: what was checked, e.g. ``song_data``, ``log_data sample``, ``log_jsonpath``.
        ok: whether it passed.
        detail: what was found, or what is wrong and where.
    """

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PreflightReport:
    """Every check made, in order; ``ok`` when all passed."""

    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Whether every check passed (an empty report does not pass)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def problems(self) -> tuple[Check, ...]:
        """The failed checks."""
        return tuple(check for check in self.checks if not check.ok)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def __str__(self) -> str:
        width = max((len(check.name) for check in self.checks), default=0)
        return "\n".join(
            f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.detail}"
            for check in self.checks
        )


def check_sources(
    settings: Settings,
    *,
    client: S3Client | None = None,
    notify: Callable[[str], None] | None = None,
) -> PreflightReport:
    """Check the configured sources: listings, samples, JSONPaths file, bucket regions.

    Args:
        settings: ``song_data``, ``log_data``, ``log_jsonpath``, ``region`` and
            ``no_sign_request`` are used.
        client: S3 client; made with :func:`~sparkify.sources.sources_client`
            for ``settings.region`` when a source is on S3 (unsigned with
            ``settings.no_sign_request`` or when no AWS credentials are found).
        notify: told once when the sources are read unsigned for want of credentials.

    Returns:
        The report; it never raises for a source problem.
    """
    checks: list[Check] = []
    if client is None:
        try:
            client = sources_client(settings, notify=notify)
        except SourceError as exc:
            return PreflightReport((Check("AWS credentials", False, str(exc)),))
    reached: set[str] = set()  # buckets that answered

    listings: dict[str, list[SourceObject]] = {}
    for name, prefix, check_sample in (
        ("song_data", settings.song_data, _check_song),
        ("log_data", settings.log_data, _check_event),
    ):
        try:
            objects = list_sources(prefix, client=client)
        except SourceError as exc:
            checks.append(Check(name, False, str(exc)))
            continue
        listings[name] = objects
        _note_bucket(prefix, reached)
        total = sum(obj.size for obj in objects)
        checks.append(Check(name, True, f"{prefix}: {_count(len(objects))}, {_size(total)}"))
        sample = objects[0]
        try:
            data = read_one(sample.uri, client=client)
        except SourceError as exc:
            checks.append(Check(f"{name} sample", False, str(exc)))
            continue
        problem, found = check_sample(data)
        checks.append(Check(f"{name} sample", problem is None, f"{sample.uri}: {problem or found}"))

    try:
        data = read_one(settings.log_jsonpath, client=client)
    except SourceError as exc:
        checks.append(Check("log_jsonpath", False, str(exc)))
    else:
        _note_bucket(settings.log_jsonpath, reached)
        problem, found = _check_jsonpaths(data)
        checks.append(
            Check("log_jsonpath", problem is None, f"{settings.log_jsonpath}: {problem or found}")
        )

    if listings:
        checks.append(_check_overlap(settings, listings))
    for bucket in sorted(reached):
        checks.append(_check_region(bucket, settings.region, client))
    checks += _check_manifest_prefix(settings, reached, client)
    return PreflightReport(tuple(checks))


# --------------------------------------------------------------------------- samples


def _check_song(data: bytes) -> tuple[str | None, str]:
    """Check a song file: one or more JSON objects (concatenated or one per line).

    The file is split into records as the loaders split it
    (:func:`~sparkify.staging.records.split_records`), so a record they would find
    malformed, or nested too deeply, is reported here too.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start})", ""
    records: list[Any] = []
    for record in split_records(data):
        if record.error is not None and record.error != NOT_AN_OBJECT:
            return f"the record at line {record.line}: {record.error}", ""
        records.append(record.value)
    if not records:
        return "the file is empty", ""
    for number, value in enumerate(records, start=1):
        problem = _keys_problem(value, SONG_KEYS, f"song record {number}")
        if problem:
            return problem, ""
    extra = _extra(records[0], SONG_KEYS)
    return None, (
        f"{_count(len(records), 'song record')} with the {len(SONG_KEYS)} song keys{extra}"
    )


def _check_event(data: bytes) -> tuple[str | None, str]:
    """Check a log file's first line: a JSON object with every event key.

    It is parsed as the loaders parse a line (orjson): JSON nested deeper than
    they take is reported, never a ``RecursionError``.
    """
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    if not first.strip():
        return "the first line is empty (a log file holds one JSON event per line)", ""
    try:
        first.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the first line is not UTF-8 (byte {exc.start})", ""
    try:
        record = orjson.loads(first)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            return f"the first line is {NESTED_TOO_DEEPLY}", ""
        return (
            f"the first line is not one JSON object (column {exc.colno}: {exc.msg}); "
            "a log file holds one JSON event per line"
        ), ""
    problem = _keys_problem(record, EVENT_KEYS, "the first line")
    if problem:
        return problem, ""
    return None, (
        f"the first line is an event with the {len(EVENT_KEYS)} event keys"
        f"{_extra(record, EVENT_KEYS)}"
    )


def _keys_problem(record: Any, keys: tuple[str, ...], what: str) -> str | None:
    if not isinstance(record, dict):
        return f"{what} is a JSON {type(record).__name__}, not an object"
    missing = [key for key in keys if key not in record]
    if missing:
        return f"{what} lacks key(s) {', '.join(missing)}"
    return None


def _extra(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    extra = sorted(set(record) - set(keys))
    return f" (and {', '.join(extra)}, not loaded)" if extra else ""


# --------------------------------------------------------------------------- JSONPaths


def _check_jsonpaths(data: bytes) -> tuple[str | None, str]:
    """The problem of a JSONPaths file as the loaders would refuse it (none: it maps
    the event keys to the staging_events columns in order)."""
    try:
        paths = parse_jsonpaths(data, "log_jsonpath", table=staging_events, keys=EVENT_KEYS)
    except SourceError as exc:
        return exc.reason, ""
    return None, f"{len(paths)} paths, matching the staging_events columns in order"


# --------------------------------------------------------------------------- the rest


def _check_overlap(settings: Settings, listings: dict[str, list[SourceObject]]) -> Check:
    """The song, log and JSONPaths sources must not share objects (as far as listed)."""
    uris = {name: {obj.uri for obj in objects} for name, objects in listings.items()}
    problems = []
    shared = sorted(uris.get("song_data", set()) & uris.get("log_data", set()))
    if shared:
        problems.append(f"{_count(len(shared))} are both song_data and log_data (e.g. {shared[0]})")
    jsonpath = _normal(settings.log_jsonpath)
    for name, listed in uris.items():
        if jsonpath in listed:
            problems.append(
                f"log_jsonpath {settings.log_jsonpath} is under {name}, so it "
                f"would be loaded as a {name.split('_')[0]} file"
            )
    if problems:
        return Check("separate sources", False, "; ".join(problems))
    return Check("separate sources", True, f"{', '.join(uris)} and log_jsonpath share no object")


def _check_region(bucket: str, region: str, client: S3Client | None) -> Check:
    name = f"region of s3://{bucket}"
    try:
        actual = bucket_region(bucket, client=client)
    except SourceError as exc:
        return Check(name, False, str(exc))
    if actual != region:
        return Check(
            name,
            False,
            (
                f"the bucket is in {actual}, but the configured region is {region}: set "
                f"[AWS] REGION in dwh.cfg or SPARKIFY_REGION to {actual} (Redshift's COPY "
                "needs the sources' region)"
            ),
        )
    return Check(name, True, f"{actual}, as configured")


def _check_manifest_prefix(
    settings: Settings, source_buckets: set[str], client: S3Client | None
) -> list[Check]:
    """MANIFEST_PREFIX must be an ``s3://`` prefix in the configured region.

    With REGION set, "all resources, including a manifest file or multiple
    Amazon S3 buckets, must be located in the specified Region"
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html#copy-region).
    A manifest bucket that is also a source bucket was checked above.
    """
    prefix = settings.manifest_prefix
    if prefix is None:
        return []
    name = "manifest_prefix"
    if not is_s3(prefix) or not prefix[5:].split("/", 1)[0]:
        return [
            Check(
                name,
                False,
                f"{prefix!r} is not an s3:// prefix: Redshift's COPY reads manifests from "
                "S3; set [S3] MANIFEST_PREFIX or SPARKIFY_MANIFEST_PREFIX to "
                "s3://a-bucket-you-can-write/some/prefix",
            )
        ]
    bucket = split_s3_uri(prefix)[0]
    if bucket in source_buckets:
        return [Check(name, True, f"{prefix}: in source bucket s3://{bucket}")]
    name = f"region of s3://{bucket} (manifests)"
    try:
        actual = bucket_region(bucket, client=client)
    except SourceError as exc:
        return [Check(name, False, f"MANIFEST_PREFIX {prefix}: {exc.reason}")]
    if actual != settings.region:
        return [
            Check(
                name,
                False,
                f"MANIFEST_PREFIX {prefix} is in {actual}, but the configured region is "
                f"{settings.region}: with REGION set, every object COPY reads, the manifest "
                f"included, must be in that region; put MANIFEST_PREFIX in a bucket in "
                f"{settings.region}",
            )
        ]
    return [Check(name, True, f"{actual}, as configured")]


def _note_bucket(uri: str, reached: set[str]) -> None:
    if is_s3(uri):
        reached.add(split_s3_uri(uri)[0])


def _normal(uri: str) -> str:
    return uri if is_s3(uri) else os.path.abspath(uri)


def _count(number: int, noun: str = "object") -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
