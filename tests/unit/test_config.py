"""Settings: precedence, defaults, dwh.cfg format, errors that name their place, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sparkify.config import IamAuth, load_settings
from sparkify.errors import ConfigError

pytestmark = pytest.mark.unit

SEED_CFG = """\
# the seed's format, quotes and all
[CLUSTER]
HOST=sparkify.abc123.us-west-2.redshift.amazonaws.com
DB_NAME=dev
DB_USER=awsuser
DB_PASSWORD=Passw0rd-from-file
DB_PORT=5439

[IAM_ROLE]
ARN='arn:aws:iam::123456789012:role/dwhRole'

[S3]
LOG_DATA='s3://udacity-dend/log_data'
LOG_JSONPATH='s3://udacity-dend/log_json_path.json'
SONG_DATA='s3://udacity-dend/song_data'
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for var in (
        "SPARKIFY_CONFIG",
        "SPARKIFY_DATABASE_URL",
        "SPARKIFY_DB_PASSWORD",
        "SPARKIFY_SONG_DATA",
        "SPARKIFY_LOG_DATA",
        "SPARKIFY_LOG_JSONPATH",
        "SPARKIFY_SCHEMA",
        "SPARKIFY_REGION",
        "SPARKIFY_IAM_ROLE_ARN",
        "SPARKIFY_DB_AUTH",
        "SPARKIFY_REDSHIFT_SERVERLESS",
        "SPARKIFY_CLUSTER_IDENTIFIER",
        "SPARKIFY_WORKGROUP",
        "SPARKIFY_DUCKDB_STAGING",
    ):
        monkeypatch.delenv(var, raising=False)


def write_cfg(tmp_path: Path, text: str = SEED_CFG, name: str = "dwh.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_configuration_means_embedded_duckdb() -> None:
    settings = load_settings(environ={})
    assert str(settings.database_url) == "duckdb:///sparkify.duckdb"
    assert settings.backend == "duckdb"
    assert settings.region == "us-west-2"
    assert settings.song_data == "s3://udacity-dend/song_data"


def test_duckdb_stages_natively_unless_the_environment_asks_for_the_python_path() -> None:
    assert load_settings(environ={}).duckdb_staging == "native"
    python = {"SPARKIFY_DUCKDB_STAGING": " Python "}
    assert load_settings(environ=python).duckdb_staging == "python"
    with pytest.raises(ConfigError, match=r"SPARKIFY_DUCKDB_STAGING.*native or python, not 'rust'"):
        load_settings(environ={"SPARKIFY_DUCKDB_STAGING": "rust"})


def test_seed_dwh_cfg_in_the_working_directory_means_redshift(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    settings = load_settings(environ={})
    url = settings.database_url
    assert settings.backend == "redshift"
    assert url.drivername == "redshift+redshift_connector"
    assert (url.host, url.port, url.database, url.username) == (
        "sparkify.abc123.us-west-2.redshift.amazonaws.com",
        5439,
        "dev",
        "awsuser",
    )
    assert url.password == "Passw0rd-from-file"
    assert settings.iam_role_arn == "arn:aws:iam::123456789012:role/dwhRole"
    assert settings.log_data == "s3://udacity-dend/log_data"  # quotes stripped


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    cfg = write_cfg(
        tmp_path, SEED_CFG.replace("HOST=sparkify.abc123.us-west-2.redshift.amazonaws.com\n", "")
    )
    env = {
        "SPARKIFY_CONFIG": str(cfg),
        "SPARKIFY_SONG_DATA": "/env/songs",
        "SPARKIFY_LOG_DATA": "/env/logs",
    }
    settings = load_settings(environ=env, song_data="/flag/songs")
    assert settings.song_data == "/flag/songs"
    assert settings.log_data == "/env/logs"
    assert settings.log_jsonpath == "s3://udacity-dend/log_json_path.json"
    assert settings.config_file == cfg


def test_database_url_flag_beats_environment_and_cluster_section(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    env = {"SPARKIFY_DATABASE_URL": "postgresql+psycopg://u@h/envdb"}
    assert load_settings(environ=env).database_url.database == "envdb"
    flagged = load_settings(environ=env, database_url="duckdb:///x.duckdb")
    assert flagged.backend == "duckdb"


def test_password_from_environment_beats_the_file(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    settings = load_settings(environ={"SPARKIFY_DB_PASSWORD": "from-env"})
    assert settings.database_url.password == "from-env"


def test_password_never_appears_in_repr_or_str(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    settings = load_settings(environ={})
    assert "Passw0rd-from-file" not in repr(settings)
    assert "Passw0rd-from-file" not in str(settings)
    assert "Passw0rd-from-file" not in str(settings.database_url)


def test_missing_password_names_file_section_and_key(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, SEED_CFG.replace("DB_PASSWORD=Passw0rd-from-file\n", ""))
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    message = str(info.value)
    assert str(cfg.name) in message and "[CLUSTER]" in message and "DB_PASSWORD" in message


def test_malformed_port_names_its_key_and_hides_the_password(tmp_path: Path) -> None:
    write_cfg(tmp_path, SEED_CFG.replace("DB_PORT=5439", "DB_PORT=fifty"))
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert "DB_PORT" in str(info.value) and "[CLUSTER]" in str(info.value)
    assert "Passw0rd" not in str(info.value)


def test_missing_user_names_its_key(tmp_path: Path) -> None:
    write_cfg(tmp_path, SEED_CFG.replace("DB_USER=awsuser\n", ""))
    with pytest.raises(ConfigError, match=r"\[CLUSTER\].*DB_USER"):
        load_settings(environ={})


def test_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.cfg.*not found"):
        load_settings(config_file=tmp_path / "nope.cfg", environ={})


def test_unparseable_file_is_reported_without_its_content(tmp_path: Path) -> None:
    write_cfg(tmp_path, "DB_PASSWORD=Passw0rd-leak\n[CLUSTER]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert "dwh.cfg" in str(info.value)
    assert "Passw0rd-leak" not in str(info.value)


def test_source_that_is_not_s3_or_local_names_its_key(tmp_path: Path) -> None:
    write_cfg(tmp_path, SEED_CFG.replace("s3://udacity-dend/song_data", "https://x/song_data"))
    with pytest.raises(ConfigError, match=r"\[S3\].*SONG_DATA"):
        load_settings(environ={})


def test_s3_uri_without_bucket_is_rejected() -> None:
    with pytest.raises(ConfigError, match="SPARKIFY_LOG_DATA"):
        load_settings(environ={"SPARKIFY_LOG_DATA": "s3:///log_data"})


def test_unsupported_database_url_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        load_settings(environ={}, database_url="mysql://u:p@h/d")


def test_password_from_environment_fills_a_url_without_one() -> None:
    settings = load_settings(
        environ={"SPARKIFY_DB_PASSWORD": "s3cret"}, database_url="postgresql+psycopg://u@h/d"
    )
    assert settings.database_url.password == "s3cret"
    assert "s3cret" not in repr(settings)


def test_region_and_role_come_from_their_sections(tmp_path: Path) -> None:
    write_cfg(tmp_path, SEED_CFG + "\n[AWS]\nREGION=eu-west-1\n")
    settings = load_settings(environ={})
    assert settings.region == "eu-west-1"


def test_loading_settings_logs_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_cfg(tmp_path)
    with caplog.at_level(logging.DEBUG):
        settings = load_settings(environ={})
        logging.getLogger("test").info("settings: %r", settings)
    assert "Passw0rd-from-file" not in caplog.text


# --------------------------------------------------------------------------- AUTH = iam

IAM_CFG = SEED_CFG.replace("DB_PASSWORD=Passw0rd-from-file\n", "AUTH=iam\n")


def test_auth_iam_needs_no_password_and_reads_the_cluster_from_the_host(tmp_path: Path) -> None:
    write_cfg(tmp_path, IAM_CFG)

    settings = load_settings(environ={})

    assert settings.database_url.password is None
    assert settings.iam_auth == IamAuth(
        serverless=False, name="sparkify", db_name="dev", db_user="awsuser", region="us-west-2"
    )
    assert settings.iam_auth.duration_seconds == 900


def test_auth_iam_reads_a_serverless_workgroup_and_its_region_from_the_host() -> None:
    host = "wg1.123456789012.eu-central-1.redshift-serverless.amazonaws.com"
    settings = load_settings(
        environ={
            "SPARKIFY_DATABASE_URL": f"redshift+redshift_connector://{host}:5439/dev",
            "SPARKIFY_DB_AUTH": "IAM",
            "SPARKIFY_DB_PASSWORD": "not-used",
        }
    )

    assert settings.iam_auth == IamAuth(
        serverless=True, name="wg1", db_name="dev", db_user=None, region="eu-central-1"
    )
    assert settings.database_url.password is None


def test_serverless_and_the_cluster_or_workgroup_name_can_be_set(tmp_path: Path) -> None:
    write_cfg(
        tmp_path,
        IAM_CFG.replace(
            "HOST=sparkify.abc123.us-west-2.redshift.amazonaws.com",
            "HOST=warehouse.example.com\nCLUSTER_IDENTIFIER=dwh-cluster\nWORKGROUP=dwh-wg",
        ),
    )

    with pytest.raises(ConfigError, match="SERVERLESS"):
        load_settings(environ={})
    cluster = load_settings(environ={"SPARKIFY_REDSHIFT_SERVERLESS": "false"}).iam_auth
    workgroup = load_settings(environ={"SPARKIFY_REDSHIFT_SERVERLESS": "true"}).iam_auth
    renamed = load_settings(
        environ={"SPARKIFY_REDSHIFT_SERVERLESS": "no", "SPARKIFY_CLUSTER_IDENTIFIER": "other"}
    ).iam_auth

    assert cluster is not None and (cluster.serverless, cluster.name) == (False, "dwh-cluster")
    assert workgroup is not None and (workgroup.serverless, workgroup.name) == (True, "dwh-wg")
    assert renamed is not None and renamed.name == "other"
    assert cluster.region == "us-west-2"  # not in the host: [AWS] REGION


def test_password_auth_is_the_default_and_a_bad_auth_value_names_its_key(tmp_path: Path) -> None:
    write_cfg(tmp_path)
    assert load_settings(environ={}).iam_auth is None

    with pytest.raises(ConfigError, match=r"key SPARKIFY_DB_AUTH.*password or iam"):
        load_settings(environ={"SPARKIFY_DB_AUTH": "kerberos"})
    with pytest.raises(ConfigError, match="AUTH = iam needs a Redshift host"):
        load_settings(
            environ={"SPARKIFY_DB_AUTH": "iam", "SPARKIFY_DATABASE_URL": "duckdb:///x.duckdb"}
        )
    with pytest.raises(ConfigError, match="must be true or false"):
        write_cfg(tmp_path, IAM_CFG.replace("AUTH=iam\n", "AUTH=iam\nSERVERLESS=maybe\n"))
        load_settings(environ={})


def test_sources_are_signed_unless_no_sign_request_is_set_by_flag_environment_or_file(
    tmp_path: Path,
) -> None:
    write_cfg(tmp_path)
    assert load_settings(environ={}).no_sign_request is False
    write_cfg(tmp_path, SEED_CFG + "NO_SIGN_REQUEST = 'true'\n")
    assert load_settings(environ={}).no_sign_request is True
    # The environment wins over the file, and the flag over both.
    assert load_settings(environ={"SPARKIFY_S3_NO_SIGN_REQUEST": "no"}).no_sign_request is False
    write_cfg(tmp_path, SEED_CFG + "NO_SIGN_REQUEST = false\n")
    assert load_settings(environ={"SPARKIFY_S3_NO_SIGN_REQUEST": "1"}).no_sign_request is True
    assert load_settings(environ={}, no_sign_request=True).no_sign_request is True
    write_cfg(tmp_path, SEED_CFG + "NO_SIGN_REQUEST =\n")  # empty: the default
    assert load_settings(environ={}).no_sign_request is False


def test_a_no_sign_request_that_is_not_true_or_false_names_its_place(tmp_path: Path) -> None:
    write_cfg(tmp_path, SEED_CFG + "NO_SIGN_REQUEST = sometimes\n")
    with pytest.raises(
        ConfigError, match=r"file dwh.cfg, section \[S3\], key NO_SIGN_REQUEST\): must be true or"
    ):
        load_settings(environ={})
    with pytest.raises(ConfigError, match=r"key SPARKIFY_S3_NO_SIGN_REQUEST\): must be true or"):
        load_settings(environ={"SPARKIFY_S3_NO_SIGN_REQUEST": "anonymous"})
