"""Sources: what a load considers loading, and reading it.

The bottom of the load's corridor: it imports only :mod:`sparkify.config`,
:mod:`sparkify.errors`, :mod:`sparkify.models` and third-party code, so the
ledger and staging stand on it (a unit test checks the direction).

* :mod:`~sparkify.sources.s3` — the S3 client (unsigned for public data when
  no credentials are found or ``NO_SIGN_REQUEST`` says so), ``s3://`` URIs,
  bucket regions, and S3's errors as one-line reasons free of credentials;
* :mod:`~sparkify.sources.listing` — what a source is, listing a prefix or
  folder, and the packed :class:`Listing`;
* :mod:`~sparkify.sources.reading` — reading objects whole, many GETs in
  flight, or streamed in blocks;
* :mod:`~sparkify.sources.jsonpaths` — Redshift JSONPaths files, parsed and
  checked as COPY takes them;
* :mod:`~sparkify.sources.plan` — the load plan (:func:`plan_sources`) and
  :func:`chunks` and :func:`runs`.

Callers outside the package import from here, not from the modules.
"""

from __future__ import annotations

from sparkify.sources.jsonpaths import JsonPath, getters, parse_jsonpaths, parse_path
from sparkify.sources.listing import (
    LISTING_CHUNK,
    Listing,
    SourceObject,
    iter_sources,
    list_sources,
    unchanged,
)
from sparkify.sources.plan import Plan, TableSources, chunks, plan_sources, runs
from sparkify.sources.reading import (
    STREAM_BLOCK,
    copy_to_file,
    read_one,
    read_sources,
    stream_sources,
)
from sparkify.sources.s3 import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POOL_SIZE,
    MAX_ATTEMPTS,
    bucket_region,
    is_s3,
    is_unsigned,
    s3_client,
    sources_client,
    split_s3_uri,
)

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_POOL_SIZE",
    "LISTING_CHUNK",
    "MAX_ATTEMPTS",
    "STREAM_BLOCK",
    "JsonPath",
    "Listing",
    "Plan",
    "SourceObject",
    "TableSources",
    "bucket_region",
    "chunks",
    "copy_to_file",
    "getters",
    "is_s3",
    "is_unsigned",
    "iter_sources",
    "list_sources",
    "parse_jsonpaths",
    "parse_path",
    "plan_sources",
    "read_one",
    "read_sources",
    "runs",
    "s3_client",
    "sources_client",
    "split_s3_uri",
    "stream_sources",
    "unchanged",
]
