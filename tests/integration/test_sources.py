"""Listing and reading sources on moto's S3 server and in local folders."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from sparkify.errors import SourceError
from sparkify.sources import (
    SourceObject,
    bucket_region,
    list_sources,
    read_one,
    read_sources,
    s3_client,
    stream_sources,
)
from sparkify.sources.reading import STREAM_BLOCK

pytestmark = pytest.mark.integration

#: A tree mixing sources and non-sources; the value says whether "log_data" lists it.
TREE = {
    "log_data/2018/11/2018-11-02-events.json": True,
    "log_data/2018/11/2018-11-01-events.json": True,
    "log_data/a.json": True,
    "log_data/b-c/d.json": True,
    "log_data/notes.txt": False,
    "log_data/events.json.gz": False,
    "log_data/.hidden.json": False,
    "log_data/.ipynb_checkpoints/2018-11-01-events-checkpoint.json": False,
    "log_data/2018/.cache/x.json": False,
    "log_data_old/2018-11-01-events.json": False,
    "log_data.json": False,
    "other/log_data/x.json": False,
}


def put_objects(bucket: str, objects: dict[str, bytes]) -> None:
    """Upload objects in parallel (moto takes a few ms per PUT)."""
    client = s3_client("us-west-2")
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda item: client.put_object(Bucket=bucket, Key=item[0], Body=item[1]),
                objects.items(),
            )
        )


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def expected_names(prefix: str = "log_data") -> list[str]:
    return sorted(name for name, listed in TREE.items() if listed and name.startswith(prefix))


class _Raw:
    """The body of a canned HTTP response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def answer_with(
    client: Any, operation: str, status: int, body: str, headers: dict[str, str] | None = None
) -> None:
    """Make ``client`` receive a canned S3 answer for ``operation`` (as real S3 would send)."""

    def handler(request: Any, **_: Any) -> AWSResponse:
        all_headers = {"content-type": "application/xml", **(headers or {})}
        return AWSResponse(request.url, status, all_headers, _Raw(body.encode()))

    client.meta.events.register(f"before-send.s3.{operation}", handler)


def error_xml(code: str, message: str, **fields: str) -> str:
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message>{extra}<RequestId>R</RequestId>"
        "<HostId>H</HostId></Error>"
    )


# --------------------------------------------------------------------------- listing


def test_the_client_follows_aws_endpoint_url(aws_env: str) -> None:
    assert s3_client().meta.endpoint_url == aws_env
    assert s3_client("us-west-2").meta.config.max_pool_connections >= 32


def test_an_s3_prefix_is_a_folder_of_json_objects_without_dot_names(s3_bucket: str) -> None:
    put_objects(s3_bucket, {name: name.encode() for name in TREE} | {"log_data/": b""})

    for prefix in (f"s3://{s3_bucket}/log_data", f"s3://{s3_bucket}/log_data/"):
        objects = list_sources(prefix)
        assert [obj.uri for obj in objects] == [
            f"s3://{s3_bucket}/{name}" for name in expected_names()
        ]
    first = objects[0]
    head = s3_client().head_object(Bucket=s3_bucket, Key=expected_names()[0])
    assert first.size == len(expected_names()[0])
    assert first.etag == head["ETag"].strip('"')


def test_a_bucket_root_lists_every_visible_json_object(s3_bucket: str) -> None:
    put_objects(s3_bucket, {"a.json": b"{}", "x/b.json": b"{}", ".c.json": b"{}", "d.txt": b""})

    for prefix in (f"s3://{s3_bucket}", f"s3://{s3_bucket}/"):
        assert [obj.uri for obj in list_sources(prefix)] == [
            f"s3://{s3_bucket}/a.json",
            f"s3://{s3_bucket}/x/b.json",
        ]


def test_a_local_folder_follows_the_same_rules_recursively(tmp_path: Path) -> None:
    write_tree(tmp_path, {name: name.encode() for name in TREE})

    for prefix in (tmp_path / "log_data", f"{tmp_path}/log_data/"):
        objects = list_sources(str(prefix))
        assert [obj.uri for obj in objects] == [str(tmp_path / name) for name in expected_names()]
    stat = (tmp_path / expected_names()[0]).stat()
    assert objects[0].size == stat.st_size
    assert objects[0].etag == f"{stat.st_size}-{stat.st_mtime_ns}"


def test_a_relative_local_folder_is_listed_with_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {"data/a.json": b"{}"})
    monkeypatch.chdir(tmp_path)

    assert [obj.uri for obj in list_sources("data")] == [str(tmp_path / "data" / "a.json")]


def test_a_single_local_file_or_s3_object_is_that_source_alone(
    tmp_path: Path, s3_bucket: str
) -> None:
    write_tree(tmp_path, {"one.json": b"{}", "one.json.d/x.json": b"{}"})
    put_objects(s3_bucket, {"dir/one.json": b"{}", "dir/one.json_old": b"{}"})

    assert [obj.uri for obj in list_sources(str(tmp_path / "one.json"))] == [
        str(tmp_path / "one.json")
    ]
    objects = list_sources(f"s3://{s3_bucket}/dir/one.json")
    assert [(obj.uri, obj.size) for obj in objects] == [(f"s3://{s3_bucket}/dir/one.json", 2)]


def test_s3_listings_are_paginated(s3_bucket: str) -> None:
    put_objects(s3_bucket, {f"p/{index:02}.json": b"{}" for index in range(7)} | {"p/x.txt": b""})
    client = s3_client()
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: calls.append(params)
    )

    objects = list_sources(f"s3://{s3_bucket}/p", client=client, page_size=3)

    assert [obj.uri.rsplit("/", 1)[1] for obj in objects] == [f"{i:02}.json" for i in range(7)]
    assert len(calls) == 3  # 8 keys, 3 per page
    assert all(call["query_string"]["max-keys"] == 3 for call in calls)


def test_more_than_a_thousand_keys_are_all_listed(s3_bucket: str) -> None:
    put_objects(s3_bucket, {f"many/{index:04}.json": b"" for index in range(1010)})

    objects = list_sources(f"s3://{s3_bucket}/many")

    assert len(objects) == 1010
    assert objects[-1].uri == f"s3://{s3_bucket}/many/1009.json"


# --------------------------------------------------------------------------- listing errors


def test_a_missing_bucket_is_named(aws_env: str) -> None:
    with pytest.raises(SourceError, match="no such bucket 'sparkify-absent'") as caught:
        list_sources("s3://sparkify-absent/song_data")
    assert caught.value.source == "s3://sparkify-absent/song_data"


def test_an_empty_s3_prefix_is_reported_as_no_such_folder(s3_bucket: str) -> None:
    put_objects(s3_bucket, {"song_data_old/a.json": b"{}"})

    with pytest.raises(
        SourceError, match=r"nothing under .*/song_data/ \(no such folder"
    ) as caught:
        list_sources(f"s3://{s3_bucket}/song_data")
    assert caught.value.source == f"s3://{s3_bucket}/song_data"


def test_a_prefix_holding_no_sources_says_what_it_holds(s3_bucket: str, tmp_path: Path) -> None:
    files = {"d/.ipynb_checkpoints/a.json": b"{}", "d/readme.txt": b""}
    put_objects(s3_bucket, files)
    write_tree(tmp_path, files)

    for prefix in (f"s3://{s3_bucket}/d", str(tmp_path / "d")):
        with pytest.raises(SourceError, match=r"no \.json objects under it \(") as caught:
            list_sources(prefix)
        assert str(caught.value).startswith(f"{prefix}: ")


def test_missing_and_empty_local_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder") as caught:
        list_sources(str(tmp_path / "absent"))
    assert caught.value.source == str(tmp_path / "absent")

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(SourceError, match="holds no files"):
        list_sources(str(tmp_path / "empty"))


def test_access_denied_is_explained(s3_bucket: str) -> None:
    client = s3_client()
    answer_with(client, "ListObjectsV2", 403, error_xml("AccessDenied", "Access Denied"))

    with pytest.raises(SourceError, match="access denied: the credentials lack s3:ListBucket"):
        list_sources(f"s3://{s3_bucket}/log_data", client=client)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (
            301,
            error_xml(
                "PermanentRedirect",
                "The bucket you are attempting to access must be "
                "addressed using the specified endpoint.",
                Endpoint="b.s3.eu-west-1.amazonaws.com",
                Bucket="b",
            ),
            {"x-amz-bucket-region": "eu-west-1"},
        ),
        (
            400,
            error_xml(
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; "
                "the region 'us-west-2' is wrong; expecting 'eu-west-1'",
                Region="eu-west-1",
            ),
            {},
        ),
    ],
    ids=["PermanentRedirect", "AuthorizationHeaderMalformed"],
)
def test_a_bucket_in_another_region_is_explained(
    s3_bucket: str, status: int, body: str, headers: dict[str, str]
) -> None:
    client = s3_client("us-west-2")
    answer_with(client, "ListObjectsV2", status, body, headers)

    with pytest.raises(SourceError, match="is in region eu-west-1, not the one the client used"):
        list_sources(f"s3://{s3_bucket}/log_data", client=client)


def test_refused_credentials_are_reported_without_secrets(s3_bucket: str) -> None:
    client = s3_client()
    answer_with(
        client,
        "ListObjectsV2",
        403,
        error_xml(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
            AWSAccessKeyId="AKIASECRETKEYID",
            StringToSign="AWS4-HMAC-SHA256 secret-to-sign",
        ),
    )

    with pytest.raises(SourceError, match="refused the AWS credentials") as caught:
        list_sources(f"s3://{s3_bucket}/log_data", client=client)
    assert "AKIASECRETKEYID" not in str(caught.value)
    assert "secret-to-sign" not in str(caught.value)


def test_missing_credentials_are_reported_by_a_client_that_signs(
    s3_bucket: str, no_aws_credentials: str
) -> None:
    # s3_client() signs by default; sources_client() reads unsigned instead
    # (tests/integration/test_unsigned_reads.py).
    with pytest.raises(SourceError, match="no AWS credentials found"):
        list_sources(f"s3://{s3_bucket}/log_data")


def test_the_bucket_region_comes_from_s3(s3_bucket: str) -> None:
    assert bucket_region(s3_bucket) == "us-west-2"
    with pytest.raises(SourceError, match="no such bucket 'sparkify-absent'"):
        bucket_region("sparkify-absent")


# --------------------------------------------------------------------------- reading


def _slow_gets(client: Any, delay: Callable[[str], float]) -> dict[str, int]:
    """Delay each GET by ``delay(url)`` and track how many run at once."""
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    def before(request: Any, **_: Any) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(delay(request.url))

    def after(**_: Any) -> None:
        with lock:
            state["now"] -= 1

    client.meta.events.register("before-send.s3.GetObject", before)
    client.meta.events.register("after-call.s3.GetObject", after)
    return state


def test_read_sources_yields_in_the_given_order_with_a_bounded_window(s3_bucket: str) -> None:
    count = 40
    put_objects(s3_bucket, {f"r/{index:03}.json": b"%d" % index for index in range(count)})
    client = s3_client()
    objects = list_sources(f"s3://{s3_bucket}/r", client=client)[::-1]  # not listing order
    # Earlier objects answer more slowly, so they complete out of order.
    state = _slow_gets(client, lambda url: 0.002 * (int(url[-8:-5]) % 8))
    pulled: list[int] = []

    def lazily() -> Iterator[SourceObject]:
        for index, obj in enumerate(objects):
            pulled.append(index)
            yield obj

    reader = read_sources(lazily(), client=client, max_in_flight=8)
    first, body = next(reader)
    assert (first, body) == (objects[0], b"%d" % (count - 1))
    assert len(pulled) <= 8  # the input is not drained ahead of the window
    rest = list(reader)

    assert [obj for obj, _ in rest] == objects[1:]
    assert [body for _, body in rest] == [b"%d" % index for index in range(count - 2, -1, -1)]
    assert 1 < state["max"] <= 8


def test_a_window_of_one_reads_one_object_at_a_time(s3_bucket: str) -> None:
    put_objects(s3_bucket, {f"w/{index}.json": b"x" for index in range(5)})
    client = s3_client()
    state = _slow_gets(client, lambda url: 0.001)

    assert (
        len(
            list(
                read_sources(
                    list_sources(f"s3://{s3_bucket}/w", client=client),
                    client=client,
                    max_in_flight=1,
                )
            )
        )
        == 5
    )
    assert state["max"] == 1


def test_local_and_s3_objects_are_read_in_the_given_order(s3_bucket: str, tmp_path: Path) -> None:
    put_objects(s3_bucket, {"m/a.json": b"s3-a", "m/b.json": b"s3-b"})
    write_tree(tmp_path, {"m/a.json": b"local-a", "m/b.json": b"local-b"})
    s3_objects = list_sources(f"s3://{s3_bucket}/m")
    local_objects = list_sources(str(tmp_path / "m"))
    mixed = [local_objects[1], s3_objects[0], local_objects[0], s3_objects[1]]

    assert [body for _, body in read_sources(mixed, max_in_flight=2)] == [
        b"local-b",
        b"s3-a",
        b"local-a",
        b"s3-b",
    ]


def test_a_failed_get_names_the_object_after_the_earlier_ones_are_yielded(
    s3_bucket: str,
) -> None:
    put_objects(s3_bucket, {f"f/{index}.json": b"x" for index in range(4)})
    client = s3_client()
    objects = list_sources(f"s3://{s3_bucket}/f", client=client)
    client.delete_object(Bucket=s3_bucket, Key="f/2.json")

    seen = []
    with pytest.raises(SourceError, match="no such object") as caught:
        for obj, _ in read_sources(objects, client=client):
            seen.append(obj)
    assert seen == objects[:2]
    assert caught.value.source == f"s3://{s3_bucket}/f/2.json"


def test_an_object_changed_since_listing_is_not_read(s3_bucket: str, tmp_path: Path) -> None:
    put_objects(s3_bucket, {"c/a.json": b"old"})
    write_tree(tmp_path, {"c/a.json": b"old"})
    s3_objects = list_sources(f"s3://{s3_bucket}/c")
    local_objects = list_sources(str(tmp_path / "c"))
    put_objects(s3_bucket, {"c/a.json": b"newer"})
    (tmp_path / "c" / "a.json").write_bytes(b"newer")

    with pytest.raises(SourceError, match="changed since it was listed"):
        list(read_sources(s3_objects))
    with pytest.raises(SourceError, match="changed since it was listed"):
        list(read_sources(local_objects))


def test_a_missing_local_file_is_named(tmp_path: Path) -> None:
    gone = SourceObject(uri=str(tmp_path / "gone.json"), size=2, etag="")

    with pytest.raises(SourceError, match="no such file") as caught:
        list(read_sources([gone]))
    assert caught.value.source == gone.uri


def test_read_one_reads_a_whole_object_or_file_and_names_what_is_missing(
    s3_bucket: str, tmp_path: Path
) -> None:
    put_objects(s3_bucket, {"log_json_path.json": b'{"jsonpaths": []}'})
    write_tree(tmp_path, {"log_json_path.json": b"local"})

    assert read_one(f"s3://{s3_bucket}/log_json_path.json") == b'{"jsonpaths": []}'
    assert read_one(str(tmp_path / "log_json_path.json")) == b"local"
    with pytest.raises(SourceError, match=f"s3://{s3_bucket}/absent.json: no such object"):
        read_one(f"s3://{s3_bucket}/absent.json")
    with pytest.raises(SourceError, match="no such bucket 'sparkify-absent'"):
        read_one("s3://sparkify-absent/log_json_path.json")
    with pytest.raises(SourceError, match="is a folder, not a file"):
        read_one(str(tmp_path))
    with pytest.raises(SourceError, match="no such file"):
        read_one(os.path.join(tmp_path, "absent.json"))


def test_a_window_below_one_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        read_sources([], max_in_flight=0)


@pytest.mark.parametrize("size", [0, 1, 4095, STREAM_BLOCK, STREAM_BLOCK + 3, 3 * STREAM_BLOCK])
def test_a_local_file_is_read_whole_whole_or_in_blocks_whatever_its_size(
    tmp_path: Path, size: int
) -> None:
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "a.json"
    path.write_bytes(content)
    (listed,) = list_sources(str(path))

    assert read_one(str(path)) == content
    assert [data for _, data in read_sources([listed])] == [content]
    ((_, blocks),) = stream_sources([listed], block_size=STREAM_BLOCK)
    assert b"".join(blocks) == content


def test_a_local_file_that_cannot_be_opened_is_named_with_the_os_reason(tmp_path: Path) -> None:
    too_long = str(tmp_path / ("a" * 300 + ".json"))  # over NAME_MAX (255 bytes)

    with pytest.raises(SourceError, match="cannot read it: File name too long") as caught:
        read_one(too_long)
    assert caught.value.source == too_long
    with pytest.raises(SourceError, match="cannot read it: File name too long"):
        list(read_sources([SourceObject(uri=too_long, size=2, etag="")]))
