"""The sources preflight on generated data, local and on moto's S3 server."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.awsrequest import AWSResponse

from sparkify.config import Settings
from sparkify.models import staging_events
from sparkify.preflight import EVENT_KEYS, SONG_KEYS, Check, PreflightReport, check_sources
from sparkify.sources import s3_client

pytestmark = pytest.mark.integration

SAMPLE = Path("/work/shared/data/udacity")


def song(song_id: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "num_songs": 1,
        "artist_id": "AR1",
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "",
        "artist_name": "Artist",
        "song_id": song_id,
        "title": "Title",
        "duration": 218.93179,
        "year": 0,
    }
    return record | changes


def event(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "artist": "Artist",
        "auth": "Logged In",
        "firstName": "Walter",
        "gender": "M",
        "itemInSession": 0,
        "lastName": "Frye",
        "length": 218.93179,
        "level": "free",
        "location": "San Francisco-Oakland-Hayward, CA",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1540919166796.0,
        "sessionId": 38,
        "song": "Title",
        "status": 200,
        "ts": 1541105830796,
        "userAgent": "Mozilla/5.0",
        "userId": "39",
    }
    return record | changes


def jsonpaths(keys: tuple[str, ...] | list[str] = EVENT_KEYS) -> bytes:
    return json.dumps({"jsonpaths": [f"$['{key}']" for key in keys]}, indent=4).encode()


def good_files() -> dict[str, bytes]:
    """A small, valid dataset laid out like the Udacity bucket (plus noise to ignore)."""
    return {
        "song_data/A/A/A/TRAAA01.json": json.dumps(song("SO1")).encode(),
        # Several objects concatenated, then one per line: both must load.
        "song_data/A/A/B/TRAAB01.json": (
            json.dumps(song("SO2")) + json.dumps(song("SO3"))
        ).encode(),
        "song_data/A/A/B/TRAAB02.json": "\n".join(
            json.dumps(song(f"SO{n}")) for n in (4, 5)
        ).encode(),
        "song_data/.ipynb_checkpoints/TRAAA01-checkpoint.json": b"not json",
        "log_data/2018/11/2018-11-01-events.json": "\n".join(
            json.dumps(event(ts=1541105830796 + n)) for n in range(3)
        ).encode(),
        "log_data/2018/11/2018-11-02-events.json": json.dumps(event()).encode(),
        "log_data/README.txt": b"not a source",
        "log_json_path.json": jsonpaths(),
    }


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def put_files(bucket: str, files: dict[str, bytes]) -> None:
    client = s3_client("us-west-2")
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda item: client.put_object(Bucket=bucket, Key=item[0], Body=item[1]),
                files.items(),
            )
        )


def settings_for(base: str, region: str = "us-west-2", **changes: str) -> Settings:
    sources = {
        "song_data": f"{base}/song_data",
        "log_data": f"{base}/log_data",
        "log_jsonpath": f"{base}/log_json_path.json",
    } | changes
    return Settings(database_url=sa.make_url("duckdb:///:memory:"), region=region, **sources)


def by_name(report: PreflightReport) -> dict[str, Check]:
    return {check.name: check for check in report.checks}


def failed(report: PreflightReport) -> dict[str, str]:
    return {check.name: check.detail for check in report.problems}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Path]:
    write_files(tmp_path, good_files())
    yield tmp_path


# --------------------------------------------------------------------------- passing


def test_the_event_keys_are_the_staging_events_columns_in_camel_case() -> None:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    assert tuple(camel(column.name) for column in staging_events.columns) == EVENT_KEYS
    assert len(SONG_KEYS) == 10


def test_good_local_sources_pass_every_check(local: Path) -> None:
    report = check_sources(settings_for(str(local)))

    assert report.ok, str(report)
    checks = by_name(report)
    assert list(checks) == [
        "song_data",
        "song_data sample",
        "log_data",
        "log_data sample",
        "log_jsonpath",
        "separate sources",
    ]
    size = sum(path.stat().st_size for path in (local / "song_data/A").rglob("*.json"))
    assert checks["song_data"].detail == f"{local}/song_data: 3 objects, {size / 1024:.1f} KiB"
    assert checks["song_data sample"].detail.endswith(
        "TRAAA01.json: 1 song record with the 10 song keys"
    )
    assert checks["log_data"].detail.startswith(f"{local}/log_data: 2 objects, ")
    assert "first line is an event with the 18 event keys" in checks["log_data sample"].detail
    assert "18 paths, matching the staging_events columns in order" in str(report)


def test_good_s3_sources_pass_every_check_including_the_bucket_region(s3_bucket: str) -> None:
    put_files(s3_bucket, good_files())

    report = check_sources(settings_for(f"s3://{s3_bucket}"))

    assert report.ok, str(report)
    assert by_name(report)[f"region of s3://{s3_bucket}"].detail == "us-west-2, as configured"
    assert by_name(report)["log_data"].detail.startswith(f"s3://{s3_bucket}/log_data: 2 objects")


def test_concatenated_and_line_delimited_song_files_pass(local: Path) -> None:
    report = check_sources(settings_for(str(local), song_data=str(local / "song_data/A/A/B")))

    assert report.ok, str(report)
    assert "TRAAB01.json: 2 song records" in by_name(report)["song_data sample"].detail


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="the Udacity sample is not on this machine")
def test_the_real_udacity_sample_passes(tmp_path: Path) -> None:
    for name in ("song_data", "log_data", "log_json_path.json"):
        source = SAMPLE / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)

    report = check_sources(settings_for(str(tmp_path)))

    assert report.ok, str(report)
    assert by_name(report)["song_data"].detail.startswith(f"{tmp_path}/song_data: 71 objects")
    assert by_name(report)["log_data"].detail.startswith(f"{tmp_path}/log_data: 30 objects")


# --------------------------------------------------------------------------- failing


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "song_data/a.json": json.dumps({"title": "only"}).encode(),
            "log_json_path.json": jsonpaths(EVENT_KEYS[:17]),
        },
    )

    report = check_sources(settings_for(str(tmp_path)))

    assert not report.ok
    problems = failed(report)
    assert set(problems) == {"song_data sample", "log_data", "log_jsonpath"}
    assert "song record 1 lacks key(s) num_songs, artist_id" in problems["song_data sample"]
    assert problems["log_data"] == f"{tmp_path}/log_data: no such folder ({tmp_path}/log_data)"
    assert "17 paths, but staging_events has 18 columns" in problems["log_jsonpath"]
    assert by_name(report)["song_data"].ok
    rendered = str(report).splitlines()
    assert [line.split()[0] for line in rendered] == ["ok", "FAIL", "FAIL", "FAIL", "ok"]


def test_missing_bucket_and_empty_prefix_are_reported_on_s3(s3_bucket: str) -> None:
    put_files(s3_bucket, good_files() | {"song_data_old/x.json": b"{}"})
    settings = settings_for(
        f"s3://{s3_bucket}",
        song_data=f"s3://{s3_bucket}/nothing_here",
        log_data="s3://sparkify-absent/log_data",
    )

    problems = failed(check_sources(settings))

    assert set(problems) == {"song_data", "log_data"}
    assert "nothing under" in problems["song_data"]
    assert "no such folder" in problems["song_data"]
    assert problems["log_data"] == "s3://sparkify-absent/log_data: no such bucket 'sparkify-absent'"


def test_a_prefix_with_no_json_objects_is_reported(local: Path) -> None:
    write_files(local, {"empty_logs/notes.txt": b"", "empty_logs/.x/a.json": b"{}"})

    problems = failed(check_sources(settings_for(str(local), log_data=str(local / "empty_logs"))))

    assert list(problems) == ["log_data"]
    assert "no .json objects under it" in problems["log_data"]


def test_a_bucket_in_another_region_than_configured_is_reported(s3_bucket: str) -> None:
    put_files(s3_bucket, good_files())

    problems = failed(check_sources(settings_for(f"s3://{s3_bucket}", region="eu-west-1")))

    assert list(problems) == [f"region of s3://{s3_bucket}"]
    assert problems[f"region of s3://{s3_bucket}"].startswith(
        "the bucket is in us-west-2, but the configured region is eu-west-1"
    )


def test_an_unreadable_sample_is_reported(s3_bucket: str) -> None:
    put_files(s3_bucket, good_files())
    client = s3_client("us-west-2")

    def deny_songs(request: Any, **_: Any) -> AWSResponse | None:
        if "/song_data/" not in request.url:
            return None
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        raw = type("Raw", (), {"stream": lambda self, **_: iter([body])})()
        return AWSResponse(request.url, 403, {"content-type": "application/xml"}, raw)

    client.meta.events.register("before-send.s3.GetObject", deny_songs)

    problems = failed(check_sources(settings_for(f"s3://{s3_bucket}"), client=client))

    assert list(problems) == ["song_data sample"]
    assert problems["song_data sample"] == (
        f"s3://{s3_bucket}/song_data/A/A/A/TRAAA01.json: access denied: the credentials lack "
        f"s3:GetObject on bucket '{s3_bucket}'"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"jsonpaths": [', "not valid JSON (line 1 column"),
        (b'["$.artist"]', 'not a JSONPaths file: expected {"jsonpaths": [...]}'),
        (b'{"paths": []}', 'not a JSONPaths file: expected {"jsonpaths": [...]}'),
        (jsonpaths((*EVENT_KEYS, "extra")), "19 paths, but staging_events has 18 columns"),
        (
            json.dumps({"jsonpaths": [f"$.{k}" for k in EVENT_KEYS[:-1]] + [18]}).encode(),
            "path 18 is not a string (18)",
        ),
        (
            json.dumps({"jsonpaths": [f"$.{k}" for k in EVENT_KEYS[:-1]] + ["userId"]}).encode(),
            "path 18: 'userId' does not start with $",
        ),
        (
            jsonpaths([*EVENT_KEYS[:2], "firstname", *EVENT_KEYS[3:]]),
            "path 3 is \"$['firstname']\", but column first_name takes the key 'firstName'",
        ),
        (
            jsonpaths([EVENT_KEYS[1], EVENT_KEYS[0], *EVENT_KEYS[2:]]),
            "path 1 is \"$['auth']\", but column artist takes the key 'artist'; path 2 is",
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-jsonpaths",
        "too-many",
        "not-a-string",
        "not-a-jsonpath",
        "wrong-key",
        "wrong-order",
    ],
)
def test_a_bad_jsonpaths_file_is_reported(local: Path, body: bytes, expected: str) -> None:
    (local / "log_json_path.json").write_bytes(body)

    problems = failed(check_sources(settings_for(str(local))))

    assert list(problems) == ["log_jsonpath"]
    assert expected in problems["log_jsonpath"]


def test_dot_bracket_and_double_quoted_jsonpaths_are_accepted(local: Path) -> None:
    paths = [
        f"$.{key}" if n % 3 == 0 else f"$['{key}']" if n % 3 == 1 else f'$["{key}"]'
        for n, key in enumerate(EVENT_KEYS)
    ]
    (local / "log_json_path.json").write_text(json.dumps({"jsonpaths": paths}))

    assert check_sources(settings_for(str(local))).ok


def test_a_missing_jsonpaths_file_is_reported(local: Path) -> None:
    (local / "log_json_path.json").unlink()

    problems = failed(check_sources(settings_for(str(local))))

    assert problems == {"log_jsonpath": f"{local}/log_json_path.json: no such file"}


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "song_data/A/A/A/TRAAA01.json",
            json.dumps({k: 1 for k in SONG_KEYS if k != "year"}),
            "song record 1 lacks key(s) year",
        ),
        (
            "song_data/A/A/A/TRAAA01.json",
            json.dumps(song("SO1")) + "{oops",
            "the record at line 1: malformed JSON: Expecting property name",
        ),
        ("song_data/A/A/A/TRAAA01.json", "[1, 2]", "song record 1 is a JSON list, not an object"),
        ("song_data/A/A/A/TRAAA01.json", "  \n", "the file is empty"),
        (
            "log_data/2018/11/2018-11-01-events.json",
            json.dumps({k: v for k, v in event().items() if k not in ("ts", "userId")}),
            "the first line lacks key(s) ts, userId",
        ),
        (
            "log_data/2018/11/2018-11-01-events.json",
            json.dumps([event()], indent=2),
            "the first line is not one JSON object",
        ),
        (
            "log_data/2018/11/2018-11-01-events.json",
            "\n" + json.dumps(event()),
            "the first line is empty",
        ),
    ],
    ids=[
        "song-missing-key",
        "song-not-json",
        "song-not-object",
        "song-empty",
        "event-missing-keys",
        "event-not-ndjson",
        "event-blank-first-line",
    ],
)
def test_a_sample_that_does_not_parse_or_lacks_keys_is_reported(
    local: Path, name: str, body: str, expected: str
) -> None:
    (local / name).write_text(body)

    problems = failed(check_sources(settings_for(str(local))))

    kind = name.split("/")[0]
    assert list(problems) == [f"{kind} sample"]
    assert problems[f"{kind} sample"].startswith(f"{local / name}: {expected}")


def test_extra_keys_are_mentioned_but_pass(local: Path) -> None:
    (local / "song_data/A/A/A/TRAAA01.json").write_text(json.dumps(song("SO1", genre="rock")))

    report = check_sources(settings_for(str(local)))

    assert report.ok
    assert "(and genre, not loaded)" in by_name(report)["song_data sample"].detail


def test_a_jsonpaths_file_inside_the_log_folder_is_reported(local: Path) -> None:
    shutil.copy(local / "log_json_path.json", local / "log_data" / "log_json_path.json")
    settings = settings_for(str(local), log_jsonpath=str(local / "log_data/log_json_path.json"))

    problems = failed(check_sources(settings))

    assert list(problems) == ["separate sources"]
    assert "is under log_data, so it would be loaded as a log file" in problems["separate sources"]


def test_song_and_log_folders_sharing_files_are_reported(local: Path) -> None:
    problems = failed(check_sources(settings_for(str(local), song_data=str(local))))

    assert "separate sources" in problems
    assert "2 objects are both song_data and log_data" in problems["separate sources"]


# --------------------------------------------------------------------------- manifests


def test_a_manifest_bucket_in_another_region_than_configured_is_reported(s3_bucket: str) -> None:
    import boto3

    put_files(s3_bucket, good_files())
    manifests = f"{s3_bucket}-manifests"
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=manifests, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    settings = replace(
        settings_for(f"s3://{s3_bucket}"), manifest_prefix=f"s3://{manifests}/sparkify"
    )

    problems = failed(check_sources(settings))

    name = f"region of s3://{manifests} (manifests)"
    assert list(problems) == [name]
    assert problems[name].startswith(
        f"MANIFEST_PREFIX s3://{manifests}/sparkify is in eu-west-1, but the configured "
        "region is us-west-2: with REGION set, every object COPY reads, the manifest "
        "included, must be in that region"
    )


def test_a_manifest_bucket_in_the_configured_region_or_a_source_bucket_passes(
    s3_bucket: str,
) -> None:
    import boto3

    put_files(s3_bucket, good_files())
    manifests = f"{s3_bucket}-manifests"
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket=manifests, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    base = settings_for(f"s3://{s3_bucket}")

    elsewhere = check_sources(replace(base, manifest_prefix=f"s3://{manifests}/m"))
    same = check_sources(replace(base, manifest_prefix=f"s3://{s3_bucket}/manifests"))

    assert elsewhere.ok, str(elsewhere)
    assert by_name(elsewhere)[f"region of s3://{manifests} (manifests)"].detail == (
        "us-west-2, as configured"
    )
    assert same.ok, str(same)
    assert by_name(same)["manifest_prefix"].detail == (
        f"s3://{s3_bucket}/manifests: in source bucket s3://{s3_bucket}"
    )


def test_a_manifest_prefix_that_is_missing_or_not_on_s3_is_reported(
    s3_bucket: str, local: Path
) -> None:
    put_files(s3_bucket, good_files())

    absent = failed(
        check_sources(
            replace(settings_for(f"s3://{s3_bucket}"), manifest_prefix="s3://sparkify-absent/m")
        )
    )
    not_s3 = failed(
        check_sources(replace(settings_for(str(local)), manifest_prefix=str(local / "manifests")))
    )

    assert absent == {
        "region of s3://sparkify-absent (manifests)": (
            "MANIFEST_PREFIX s3://sparkify-absent/m: no such bucket 'sparkify-absent'"
        )
    }
    assert list(not_s3) == ["manifest_prefix"]
    assert not_s3["manifest_prefix"].startswith(
        f"'{local}/manifests' is not an s3:// prefix: Redshift's COPY reads manifests from S3"
    )
