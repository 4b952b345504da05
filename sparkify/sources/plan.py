"""The load plan: what a load considers loading, decided before anything is staged.

:func:`plan_sources` lists every source of both staging tables (kept packed, see
:class:`~sparkify.sources.listing.Listing`) and reads and checks the JSONPaths
file; the ledger then narrows the plan to what is new, and staging loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from sparkify.config import Settings
from sparkify.models import EVENT_KEYS, staging_events, staging_songs
from sparkify.sources.jsonpaths import JsonPath, parse_jsonpaths
from sparkify.sources.listing import Listing, SourceObject, iter_sources
from sparkify.sources.reading import read_one
from sparkify.sources.s3 import sources_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Plan", "TableSources", "chunks", "plan_sources"]

T = TypeVar("T")


@dataclass(frozen=True)
class TableSources:
    """The objects to stage into one staging table.

    ``objects`` may be given as any iterable; it is kept as a compact
    :class:`~sparkify.sources.listing.Listing`.
    """

    table: sa.Table
    prefix: str
    objects: Listing

    def __post_init__(self) -> None:
        if not isinstance(self.objects, Listing):
            object.__setattr__(self, "objects", Listing(self.objects))

    @property
    def size(self) -> int:
        """Total bytes."""
        return self.objects.size


@dataclass(frozen=True)
class Plan:
    """What a load stages: the objects of each staging table and the JSONPaths file."""

    events: TableSources
    songs: TableSources
    jsonpath_uri: str
    jsonpaths: tuple[JsonPath, ...]

    @property
    def tables(self) -> tuple[TableSources, TableSources]:
        """Songs first (small), then events."""
        return (self.songs, self.events)


def plan_sources(settings: Settings, client: S3Client | None = None) -> Plan:
    """List every source object and read the JSONPaths file.

    Without a ``client``, one is made by :func:`~sparkify.sources.s3.sources_client`
    (unsigned with ``settings.no_sign_request`` or when no AWS credentials are found).

    Raises:
        SourceError: a prefix is missing or empty, or the JSONPaths file is unusable:
            it must map the contract's log keys to the staging_events columns in
            order (:func:`~sparkify.sources.jsonpaths.parse_jsonpaths`), before
            anything is staged.
    """
    client = client or sources_client(settings)
    raw = read_one(settings.log_jsonpath, client=client)
    paths = parse_jsonpaths(raw, settings.log_jsonpath, table=staging_events, keys=EVENT_KEYS)
    return Plan(
        events=TableSources(
            staging_events,
            settings.log_data,
            Listing.by_uri(iter_sources(settings.log_data, client=client)),
        ),
        songs=TableSources(
            staging_songs,
            settings.song_data,
            Listing.by_uri(iter_sources(settings.song_data, client=client)),
        ),
        jsonpath_uri=settings.log_jsonpath,
        jsonpaths=tuple(paths),
    )


def chunks(items: Iterable[T], size: int) -> Iterator[Sequence[T]]:
    """Split ``items`` into lists of at most ``size``."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def runs(objects: Iterable[SourceObject], size: int) -> Iterator[list[SourceObject]]:
    """Split ``objects`` into runs, in order: each ends at the object that brings it to
    ``size`` bytes or more (the last may hold fewer)."""
    run: list[SourceObject] = []
    total = 0
    for obj in objects:
        run.append(obj)
        total += obj.size
        if total >= size:
            yield run
            run, total = [], 0
    if run:
        yield run
