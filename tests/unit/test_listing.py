"""The plan's compact listing (:class:`sparkify.sources.Listing`) and the ordered walk
of a local folder that feeds it without holding the whole listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparkify.models import staging_songs
from sparkify.sources import (
    LISTING_CHUNK,
    Listing,
    SourceObject,
    TableSources,
    iter_sources,
    list_sources,
)

pytestmark = pytest.mark.unit


def objects(count: int, prefix: str = "s3://bucket/song_data/A/B/C/TR") -> list[SourceObject]:
    return [SourceObject(f"{prefix}{i:08d}.json", 100 + i, f"etag-{i}") for i in range(count)]


def test_a_listing_gives_back_every_object_in_order_across_chunks() -> None:
    given = objects(2 * LISTING_CHUNK + 7)
    listing = Listing(given)

    assert list(listing) == given
    assert list(listing) == given  # iterable again, from the start
    assert len(listing) == len(given)
    assert listing.size == sum(obj.size for obj in given)
    assert listing[0] == given[0]
    assert listing[-1] == given[-1]
    assert list(listing[1:3]) == given[1:3]
    assert isinstance(listing[1:3], Listing)


def test_an_empty_listing() -> None:
    listing = Listing()
    assert len(listing) == 0
    assert not listing
    assert listing.size == 0
    assert list(listing) == []


def test_listings_compare_by_content() -> None:
    assert Listing(objects(3)) == Listing(objects(3))
    assert Listing(objects(3)) != Listing(objects(4))
    assert Listing(objects(3)) != Listing(objects(3)[::-1])


def test_a_listing_is_compact() -> None:
    """A few bytes per object instead of a Python object each: flat memory for big catalogues."""
    listing = Listing(objects(10 * LISTING_CHUNK))
    packed = sum(len(chunk) for chunk in listing._chunks)
    assert packed / len(listing) < 40


def test_the_repr_is_a_summary_not_every_uri() -> None:
    assert repr(Listing(objects(3))) == "Listing(3 objects, 303 bytes)"


def test_by_uri_keeps_sorted_input_and_sorts_the_rest() -> None:
    given = objects(LISTING_CHUNK + 3)
    assert list(Listing.by_uri(iter(given))) == given
    assert list(Listing.by_uri(reversed(given))) == given


def test_any_text_a_path_can_hold_survives_packing() -> None:
    odd = [SourceObject("/data/\udcff-not-utf8.json", 1, "1-2"), SourceObject("/d/é\n.json", 2, "")]
    assert list(Listing(odd)) == odd


def test_table_sources_keep_any_iterable_as_a_listing() -> None:
    sources = TableSources(staging_songs, "s3://bucket/song_data", tuple(objects(3)))
    assert isinstance(sources.objects, Listing)
    assert sources.size == 303


def test_a_local_folder_is_walked_in_the_order_of_its_full_paths(tmp_path: Path) -> None:
    """Names that sort differently as folder entries than as full paths ('-' and '.'
    sort before '/', '0' after it) still come in the order of a sort of the paths."""
    names = [
        "b0.json", "b/x.json", "b-c.json", "b.json", "b/a/z.json", "a.json", "B.json",
        "é.json", "e/f/g/h.json", "e.json", "ba/1.json",
    ]  # fmt: skip
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    expected = sorted(str(tmp_path / name) for name in names)

    assert [obj.uri for obj in iter_sources(str(tmp_path))] == expected
    assert [obj.uri for obj in list_sources(str(tmp_path))] == expected


def test_links_to_folders_are_not_followed_as_before(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.json").write_text("{}")
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "b.json").write_text("{}")
    os.symlink(tmp_path / "real", tmp_path / "top" / "link")

    assert [obj.uri for obj in iter_sources(str(tmp_path / "top"))] == [
        str(tmp_path / "top" / "b.json")
    ]
