"""Public data without an AWS account: unsigned reads of the sources, on moto's S3 server.

What moto 5.2 models of anonymous access, and these tests rely on (the first
tests below check it): an unsigned GET of an object is answered when the
bucket's policy allows ``s3:GetObject`` (or the object's ACL is public-read)
and refused (403 AccessDenied) otherwise, while any signed request is answered
(moto checks no signature unless its IAM authentication is switched on, and
then it fails unsigned requests with a 500). What it does not model is in the
README ("Public data without an AWS account"): among others, listing a bucket
is never refused to an anonymous request.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from sparkify import models
from sparkify.config import Settings, load_settings
from sparkify.errors import SourceError
from sparkify.models import EVENT_KEYS
from sparkify.preflight import check_sources
from sparkify.sources import (
    TableSources,
    is_unsigned,
    list_sources,
    plan_sources,
    s3_client,
    sources_client,
)
from sparkify.sources.s3 import s3_reason
from sparkify.staging.redshift import RedshiftStager

pytestmark = pytest.mark.integration

JSONPATH_KEY = "udacity/log_json_path.json"


def settings_for(bucket: str, **changes: Any) -> Settings:
    """Settings reading the contract fixture from ``s3://bucket/udacity/``."""
    settings = Settings(
        database_url=sa.make_url("duckdb:///:memory:"),
        song_data=f"s3://{bucket}/udacity/song_data",
        log_data=f"s3://{bucket}/udacity/log_data",
        log_jsonpath=f"s3://{bucket}/{JSONPATH_KEY}",
        region="us-west-2",
    )
    return replace(settings, **changes)


def anonymous_client() -> Any:
    return s3_client("us-west-2", unsigned=True)


def record_requests(client: Any) -> list[dict[str, str]]:
    """The headers of every request ``client`` sends from now on (as sent, after signing)."""
    sent: list[dict[str, str]] = []
    client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(dict(request.headers))
    )
    return sent


# -- what the tests' S3 server models ---------------------------------------------------


def test_the_server_answers_an_anonymous_get_only_where_the_bucket_policy_allows_it(
    public_bucket: str, private_bucket: str
) -> None:
    anonymous = anonymous_client()
    assert anonymous.get_object(Bucket=public_bucket, Key=JSONPATH_KEY)["Body"].read()
    with pytest.raises(ClientError) as refused:
        anonymous.get_object(Bucket=private_bucket, Key=JSONPATH_KEY)
    assert refused.value.response["Error"]["Code"] == "403"


def test_the_server_answers_any_signed_get_and_lets_anyone_list_a_bucket(
    private_bucket: str,
) -> None:
    # The two things moto does not model, which the tests below take into account.
    signed = boto3.client(
        "s3", region_name="us-west-2", aws_access_key_id="AKIANOSUCHKEY0000000",
        aws_secret_access_key="wrong",
    )  # fmt: skip
    assert signed.get_object(Bucket=private_bucket, Key=JSONPATH_KEY)["Body"].read()
    listed = anonymous_client().list_objects_v2(Bucket=private_bucket, Prefix="udacity/")
    assert listed["KeyCount"] > 0


# -- the sources' client ----------------------------------------------------------------


def test_without_credentials_the_sources_are_read_unsigned_and_the_user_told_once(
    public_bucket: str, no_aws_credentials: str
) -> None:
    notices: list[str] = []
    client = sources_client(settings_for(public_bucket), notify=notices.append)
    assert is_unsigned(client)
    sent = record_requests(client)
    plan = plan_sources(settings_for(public_bucket), client)
    assert (len(plan.songs.objects), len(plan.events.objects)) == (5, 3)
    assert len(plan.jsonpaths) == len(EVENT_KEYS)
    assert sent and not any("Authorization" in headers for headers in sent)
    assert notices == [
        f"no AWS credentials found: reading s3://{public_bucket} unsigned (anonymously)"
    ]


def test_with_credentials_the_sources_are_read_signed_and_nothing_is_said(
    public_bucket: str,
) -> None:
    notices: list[str] = []
    client = sources_client(settings_for(public_bucket), notify=notices.append)
    assert not is_unsigned(client)
    sent = record_requests(client)
    plan_sources(settings_for(public_bucket), client)
    assert sent and all("Authorization" in headers for headers in sent)
    assert notices == []


def test_no_sign_request_sends_every_request_unsigned_though_credentials_are_there(
    public_bucket: str, aws_env: str
) -> None:
    assert boto3.Session().get_credentials() is not None
    notices: list[str] = []
    settings = settings_for(public_bucket, no_sign_request=True)
    client = sources_client(settings, notify=notices.append)
    assert is_unsigned(client)
    sent = record_requests(client)
    plan = plan_sources(settings, client)
    assert len(plan.songs.objects) == 5
    assert sent and not any("Authorization" in headers for headers in sent)
    assert notices == []  # asked for: nothing to tell


def test_a_plan_without_a_client_follows_no_sign_request(private_bucket: str, aws_env: str) -> None:
    # Signed, moto serves the private bucket; unsigned, it refuses: the plan
    # built its own client from the settings.
    assert len(plan_sources(settings_for(private_bucket)).events.objects) == 3
    with pytest.raises(SourceError, match="anonymous"):
        plan_sources(settings_for(private_bucket, no_sign_request=True))


def test_local_sources_need_no_client(tmp_path: Path) -> None:
    local = Settings(
        database_url=sa.make_url("duckdb:///:memory:"),
        song_data=str(tmp_path / "song_data"),
        log_data=str(tmp_path / "log_data"),
        log_jsonpath=str(tmp_path / "log_json_path.json"),
    )
    notices: list[str] = []
    assert sources_client(local, notify=notices.append) is None
    assert notices == []


# -- refusals ---------------------------------------------------------------------------


def test_a_bucket_that_refuses_anonymous_reads_says_how_to_read_it(
    private_bucket: str, no_aws_credentials: str
) -> None:
    settings = settings_for(private_bucket)
    with pytest.raises(SourceError) as refused:
        plan_sources(settings, sources_client(settings))
    message = str(refused.value)
    assert message.startswith(f"s3://{private_bucket}/{JSONPATH_KEY}: access denied to an ")
    assert "anonymous (unsigned) request" in message
    assert f"bucket {private_bucket!r} does not allow public s3:GetObject" in message
    assert "configure AWS credentials" in message and "--no-sign-request" in message


def test_an_anonymous_listing_refused_names_s3_list_bucket() -> None:
    # moto never refuses an anonymous listing (see above); real S3 does without
    # s3:ListBucket for everyone, with this error.
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
    )
    reason = s3_reason(denied, "bucket", "list", client=anonymous_client())
    assert "does not allow public s3:ListBucket" in reason
    signed = s3_reason(denied, "bucket", "list", client=s3_client("us-west-2"))
    assert signed == "access denied: the credentials lack s3:ListBucket on bucket 'bucket'"


def test_credentials_half_configured_are_an_error_not_an_anonymous_read(
    public_bucket: str, no_aws_credentials: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHALFCONFIGURED00")
    with pytest.raises(SourceError) as caught:
        sources_client(settings_for(public_bucket))
    assert str(caught.value).startswith(f"s3://{public_bucket}/udacity/song_data: ")
    assert "incomplete AWS credentials" in str(caught.value)
    assert "AWS_SECRET_ACCESS_KEY" in str(caught.value)


def test_s3_check_reports_half_configured_credentials_as_its_one_failed_check(
    public_bucket: str, no_aws_credentials: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHALFCONFIGURED00")
    report = check_sources(settings_for(public_bucket))
    assert not report.ok
    assert [(check.name, check.ok) for check in report.checks] == [("AWS credentials", False)]
    assert "incomplete AWS credentials" in report.checks[0].detail


def test_a_redshift_manifest_is_never_written_anonymously(
    public_bucket: str, no_aws_credentials: str, tmp_path: Path
) -> None:
    # The song folder holds a README and a checkpoint: COPY needs a manifest. The
    # reads were unsigned, but moto would take an anonymous PUT: the write must
    # be signed, and with no credentials it cannot be.
    config = tmp_path / "empty.cfg"
    config.write_text("")
    settings = load_settings(
        config_file=config,
        environ={
            "SPARKIFY_DATABASE_URL": "redshift+redshift_connector://awsuser@example.invalid/dev",
            "SPARKIFY_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/dwhRole",
            "SPARKIFY_MANIFEST_PREFIX": f"s3://{public_bucket}/manifests",
        },
    )
    client = anonymous_client()
    prefix = f"s3://{public_bucket}/udacity/song_data"
    songs = TableSources(models.staging_songs, prefix, list_sources(prefix, client=client))
    with pytest.raises(SourceError, match="cannot write the COPY manifest"):
        RedshiftStager().location(songs, settings, "run-1", client)
    assert "Contents" not in anonymous_client().list_objects_v2(
        Bucket=public_bucket, Prefix="manifests/"
    )
