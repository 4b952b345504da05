"""Settings from flags, the environment and ``dwh.cfg``, read once into frozen objects.

Precedence, highest first: CLI flags > environment (``SPARKIFY_*``) > ``dwh.cfg`` >
defaults. ``dwh.cfg`` keeps the sections users already have::

    [CLUSTER]   HOST, DB_NAME, DB_USER, DB_PASSWORD, DB_PORT,
                AUTH (password | iam), SERVERLESS, CLUSTER_IDENTIFIER, WORKGROUP
    [IAM_ROLE]  ARN
    [S3]        LOG_DATA, LOG_JSONPATH, SONG_DATA, MANIFEST_PREFIX (optional),
                NO_SIGN_REQUEST (optional, true or false)
    [AWS]       REGION (optional, default us-west-2)

With a ``HOST`` the warehouse is Redshift; with no database configured at all it
is the embedded DuckDB file ``sparkify.duckdb``. The password may come from
``SPARKIFY_DB_PASSWORD`` instead of the file, and never appears in a repr, a log
line or an error. With ``AUTH = iam`` (or ``SPARKIFY_DB_AUTH=iam``) Redshift needs
no password at all: :mod:`sparkify.db` fetches temporary credentials from AWS for
each connection (see :class:`IamAuth`).

``SPARKIFY_DUCKDB_STAGING`` (environment only: ``native``, the default, or
``python``) chooses how DuckDB stages the log files (``Settings.duckdb_staging``),
and whether PostgreSQL may use DuckDB to parse them.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from sparkify.errors import ConfigError

DEFAULT_CONFIG_FILE = "dwh.cfg"
DEFAULT_DATABASE_URL = "duckdb:///sparkify.duckdb"
DEFAULT_REGION = "us-west-2"
DEFAULT_SOURCES = {
    "song_data": "s3://udacity-dend/song_data",
    "log_data": "s3://udacity-dend/log_data",
    "log_jsonpath": "s3://udacity-dend/log_json_path.json",
}
REDSHIFT_DRIVER = "redshift+redshift_connector"
#: How sparkify logs in to Redshift: the configured password, or IAM temporary credentials.
AUTH_METHODS = ("password", "iam")
#: Seconds the temporary password lives; 900 is GetClusterCredentials' and
#: GetCredentials' minimum and default ("By default, the temporary credentials expire
#: in 900 seconds", https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html).
#: It only has to outlive the login: a new connection fetches new credentials.
IAM_CREDENTIALS_SECONDS = 900

#: ``name.abc123.region.redshift.amazonaws.com`` (provisioned) and
#: ``workgroup.account.region.redshift-serverless.amazonaws.com`` (Serverless).
_REDSHIFT_HOST_RE = re.compile(
    r"(?P<name>[^.]+)\.[^.]+\.(?P<region>[a-z0-9-]+)\."
    r"(?P<kind>redshift|redshift-serverless)\.amazonaws\.com(?:\.cn)?\.?",
    re.IGNORECASE,
)

#: Each overridable setting: (environment variable, dwh.cfg section, dwh.cfg key).
_SOURCES = {
    "song_data": ("SPARKIFY_SONG_DATA", "S3", "SONG_DATA"),
    "log_data": ("SPARKIFY_LOG_DATA", "S3", "LOG_DATA"),
    "log_jsonpath": ("SPARKIFY_LOG_JSONPATH", "S3", "LOG_JSONPATH"),
}


@dataclass(frozen=True)
class IamAuth:
    """Where to ask AWS for temporary Redshift credentials (``[CLUSTER] AUTH = iam``).

    Holds no secret: the credentials are fetched for each new connection and never
    stored here.

    Attributes:
        serverless: a Serverless workgroup (``redshift-serverless`` GetCredentials)
            rather than a provisioned cluster (``redshift`` GetClusterCredentials).
        name: the cluster identifier, or the Serverless workgroup name.
        db_name: the database to log in to.
        db_user: the database user (provisioned only; Serverless maps the caller's
            IAM identity to its own user).
        region: where the cluster or workgroup is (from its host name, else REGION).
        duration_seconds: how long the temporary password lives (900 to 3600).
    """

    serverless: bool
    name: str
    db_name: str
    db_user: str | None
    region: str
    duration_seconds: int = IAM_CREDENTIALS_SECONDS


#: How DuckDB stages the log files (``Settings.duckdb_staging``).
DuckDBStaging = Literal["native", "python"]


@dataclass(frozen=True)
class Settings:
    """Everything a sparkify command needs, resolved and validated.

    Attributes:
        database_url: where the warehouse lives; its password is masked in repr/str.
        song_data: ``s3://bucket/prefix`` or a local folder of song JSON files.
        log_data: ``s3://bucket/prefix`` or a local folder of NDJSON event logs.
        log_jsonpath: ``s3://`` URI or local path of the Redshift JSONPaths file.
        region: the AWS region of the source bucket (used by COPY and boto3).
        iam_role_arn: the role Redshift assumes to read the sources (Redshift only).
        schema: schema holding the tables; ``None`` means the database's default.
        manifest_prefix: ``s3://`` prefix where Redshift COPY manifests are written
            (needed when a source prefix holds objects that are not sources).
        iam_auth: with ``AUTH = iam``, where temporary credentials come from
            (``database_url`` then holds no password); ``None``: the URL's password.
        no_sign_request: read the ``s3://`` sources with unsigned (anonymous)
            requests even when AWS credentials are found, as ``aws s3
            --no-sign-request`` does; without it they are unsigned only when no
            credentials are found. Redshift's COPY always uses ``iam_role_arn``.
        config_file: the ``dwh.cfg`` that was read, if any.
        duckdb_staging: how DuckDB stages the log files: ``native`` (DuckDB's own
            JSON reader, COPY's rules in SQL; a file it cannot stage exactly is
            read by the Python path) or ``python`` (every file by the Python
            path, the reference). ``SPARKIFY_DUCKDB_STAGING``. PostgreSQL parses the log
            files with DuckDB only under ``native``, where it pays
            (:meth:`~sparkify.staging.postgres.PostgresStager.stage_table`); Redshift
            ignores it.
    """

    database_url: sa.URL
    song_data: str = DEFAULT_SOURCES["song_data"]
    log_data: str = DEFAULT_SOURCES["log_data"]
    log_jsonpath: str = DEFAULT_SOURCES["log_jsonpath"]
    region: str = DEFAULT_REGION
    iam_role_arn: str | None = None
    schema: str | None = None
    manifest_prefix: str | None = None
    iam_auth: IamAuth | None = None
    no_sign_request: bool = False
    config_file: Path | None = field(default=None, compare=False)
    duckdb_staging: DuckDBStaging = "native"

    @property
    def backend(self) -> str:
        """``redshift``, ``postgresql`` or ``duckdb``."""
        return backend_name(self.database_url)

    def with_sources(
        self,
        *,
        song_data: str | None = None,
        log_data: str | None = None,
        log_jsonpath: str | None = None,
    ) -> Settings:
        """A copy with some sources replaced (validated like the originals)."""
        return replace(
            self,
            song_data=validate_source(song_data, "song_data") if song_data else self.song_data,
            log_data=validate_source(log_data, "log_data") if log_data else self.log_data,
            log_jsonpath=(
                validate_source(log_jsonpath, "log_jsonpath") if log_jsonpath else self.log_jsonpath
            ),
        )


def backend_name(url: sa.URL) -> str:
    """Name the backend family of a database URL."""
    name = url.get_backend_name()
    if name not in ("redshift", "postgresql", "duckdb"):
        raise ConfigError(
            f"unsupported database {name!r}: use redshift+redshift_connector://, "
            "postgresql+psycopg:// or duckdb:///",
            key="SPARKIFY_DATABASE_URL",
        )
    return name


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    song_data: str | None = None,
    log_data: str | None = None,
    log_jsonpath: str | None = None,
    schema: str | None = None,
    no_sign_request: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings from flags (the arguments), the environment and ``dwh.cfg``.

    Args:
        config_file: ``--config``; falls back to ``SPARKIFY_CONFIG``, then to
            ``./dwh.cfg`` when that file exists.
        database_url: ``--database-url``; falls back to ``SPARKIFY_DATABASE_URL``,
            then to ``[CLUSTER]`` in the file, then to embedded DuckDB.
        song_data, log_data, log_jsonpath: source flags (see ``_SOURCES``).
        schema: ``--schema``; falls back to ``SPARKIFY_SCHEMA``.
        no_sign_request: ``--no-sign-request``; falls back to
            ``SPARKIFY_S3_NO_SIGN_REQUEST``, then to ``[S3] NO_SIGN_REQUEST``
            (true or false, yes or no, 1 or 0), else false.
        environ: the environment (``os.environ`` when ``None``); tests pass their own.

    Raises:
        ConfigError: naming the file, section and key of a missing or malformed value.
    """
    env = os.environ if environ is None else environ
    path = _config_path(config_file, env)
    parser = read_config_file(path) if path else None
    cfg = _Cfg(parser, str(path) if path else None)

    flags = {"song_data": song_data, "log_data": log_data, "log_jsonpath": log_jsonpath}
    sources = {}
    for name, (var, section, key) in _SOURCES.items():
        value = flags[name] or env.get(var) or cfg.get(section, key) or DEFAULT_SOURCES[name]
        where = var if (flags[name] or env.get(var)) else f"{section}.{key}"
        sources[name] = validate_source(value, where, file=cfg.file if "." in where else None)

    region = env.get("SPARKIFY_REGION") or cfg.get("AWS", "REGION") or DEFAULT_REGION
    iam = _auth_method(env, cfg) == "iam"
    url = _database_url(database_url, env, cfg, iam=iam)
    return Settings(
        database_url=url,
        region=region,
        iam_auth=_iam_auth(url, region, env, cfg) if iam else None,
        iam_role_arn=env.get("SPARKIFY_IAM_ROLE_ARN") or cfg.get("IAM_ROLE", "ARN") or None,
        schema=schema or env.get("SPARKIFY_SCHEMA") or None,
        manifest_prefix=_manifest_prefix(env, cfg),
        no_sign_request=(
            no_sign_request if no_sign_request is not None else _no_sign_request(env, cfg)
        ),
        config_file=path,
        duckdb_staging=_duckdb_staging(env),
        **sources,
    )


def _duckdb_staging(env: Mapping[str, str]) -> DuckDBStaging:
    value = (env.get("SPARKIFY_DUCKDB_STAGING") or "native").strip().lower()
    if value == "native":
        return "native"
    if value == "python":
        return "python"
    raise ConfigError(f"must be native or python, not {value!r}", key="SPARKIFY_DUCKDB_STAGING")


def validate_source(value: str, where: str, *, file: str | None = None) -> str:
    """Check that a source is an ``s3://bucket/...`` URI or a local path."""
    section, _, key = where.rpartition(".")
    if "://" in value and not value.startswith("s3://"):
        raise ConfigError(
            f"{value!r} is neither an s3:// URI nor a local path",
            file=file,
            section=section or None,
            key=key,
        )
    if value.startswith("s3://") and not value[5:].split("/", 1)[0]:
        raise ConfigError(f"{value!r} names no bucket", file=file, section=section or None, key=key)
    return value


def _manifest_prefix(env: Mapping[str, str], cfg: _Cfg) -> str | None:
    value = env.get("SPARKIFY_MANIFEST_PREFIX")
    where = ("SPARKIFY_MANIFEST_PREFIX", None) if value else ("MANIFEST_PREFIX", cfg.file)
    value = value or cfg.get("S3", "MANIFEST_PREFIX")
    if value is None:
        return None
    if not value.startswith("s3://"):
        raise ConfigError(
            f"{value!r} is not an s3:// prefix",
            file=where[1],
            section="S3" if where[1] else None,
            key=where[0],
        )
    return validate_source(value, where[0], file=where[1])


def _no_sign_request(env: Mapping[str, str], cfg: _Cfg) -> bool:
    value = env.get("SPARKIFY_S3_NO_SIGN_REQUEST", "").strip()
    if value:
        return _boolean(value, key="SPARKIFY_S3_NO_SIGN_REQUEST")
    value = cfg.get("S3", "NO_SIGN_REQUEST") or ""
    return bool(value) and _boolean(value, file=cfg.file, section="S3", key="NO_SIGN_REQUEST")


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def _boolean(value: str, *, key: str, file: str | None = None, section: str | None = None) -> bool:
    """A setting that is true or false (``true``/``yes``/``1``, ``false``/``no``/``0``).

    Raises:
        ConfigError: naming the file, section and key (or the variable) of any other value.
    """
    flag = value.strip().lower()
    if flag not in _TRUE + _FALSE:
        raise ConfigError(
            f"must be true or false, not {value!r}",
            file=file,
            section=section if file else None,
            key=key,
        )
    return flag in _TRUE


class _Cfg:
    """Typed access to an optional ``dwh.cfg``, with quotes stripped."""

    def __init__(self, parser: configparser.ConfigParser | None, file: str | None) -> None:
        self.parser = parser
        self.file = file

    def get(self, section: str, key: str) -> str | None:
        if self.parser is None or not self.parser.has_option(section, key):
            return None
        return config_value(self.parser.get(section, key, raw=True))

    def require(self, section: str, key: str, why: str) -> str:
        value = self.get(section, key)
        if value is None:
            raise ConfigError(f"missing value ({why})", file=self.file, section=section, key=key)
        return value


def _config_path(flag: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    named = flag or env.get("SPARKIFY_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError("file not found", file=str(path))
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def config_value(raw: str) -> str | None:
    """A ``dwh.cfg`` value as meant: blanks and one pair of quotes stripped, ``None`` if empty."""
    value = raw.strip()
    # The seed's dwh.cfg quotes its S3 values: LOG_DATA='s3://udacity-dend/log_data'.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value or None


def read_config_file(path: Path) -> configparser.ConfigParser:
    """Parse ``dwh.cfg`` (keys upper-cased, no interpolation); errors never quote its lines."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        # configparser's messages quote the offending line, which may hold a secret.
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise ConfigError(
            f"cannot parse the file{where} ({type(exc).__name__})", file=str(path)
        ) from None
    return parser


def _setting(
    env: Mapping[str, str], cfg: _Cfg, var: str, key: str
) -> tuple[str | None, str, str | None]:
    """A ``[CLUSTER]`` setting: (value, where it came from, file) — environment first."""
    if env.get(var):
        return env[var].strip(), var, None
    return cfg.get("CLUSTER", key), key, cfg.file


def _auth_method(env: Mapping[str, str], cfg: _Cfg) -> str:
    value, where, file = _setting(env, cfg, "SPARKIFY_DB_AUTH", "AUTH")
    method = (value or "password").lower()
    if method not in AUTH_METHODS:
        raise ConfigError(
            f"must be password or iam, not {value!r}",
            file=file,
            section="CLUSTER" if file else None,
            key=where,
        )
    return method


def _iam_auth(url: sa.URL, region: str, env: Mapping[str, str], cfg: _Cfg) -> IamAuth:
    """Where temporary credentials come from, with defaults read off the host name.

    The cluster identifier (or workgroup name) defaults to the host's first label,
    and the kind to the host's domain: ``*.redshift-serverless.amazonaws.com`` is
    Serverless, ``*.redshift.amazonaws.com`` a provisioned cluster.
    """
    if url.get_backend_name() != "redshift" or not url.host:
        raise ConfigError(
            "AUTH = iam needs a Redshift host ([CLUSTER] HOST or a redshift+"
            "redshift_connector:// SPARKIFY_DATABASE_URL)",
            file=cfg.file,
            section="CLUSTER",
            key="AUTH",
        )
    host = _REDSHIFT_HOST_RE.fullmatch(url.host)
    value, where, file = _setting(env, cfg, "SPARKIFY_REDSHIFT_SERVERLESS", "SERVERLESS")
    if value is not None:
        serverless = _boolean(value, key=where, file=file, section="CLUSTER")
    elif host is not None:
        serverless = host["kind"].lower() == "redshift-serverless"
    else:
        raise ConfigError(
            f"cannot tell from the host {url.host!r} whether it is a provisioned cluster "
            "or Serverless: set SERVERLESS = true or false (or SPARKIFY_REDSHIFT_SERVERLESS)",
            file=cfg.file,
            section="CLUSTER",
            key="SERVERLESS",
        )
    var, key = (
        ("SPARKIFY_WORKGROUP", "WORKGROUP")
        if serverless
        else ("SPARKIFY_CLUSTER_IDENTIFIER", "CLUSTER_IDENTIFIER")
    )
    name = _setting(env, cfg, var, key)[0] or url.host.split(".", 1)[0]
    if not url.database or (not serverless and not url.username):
        raise ConfigError(
            "AUTH = iam needs the database name" + ("" if serverless else " and the database user"),
            file=cfg.file,
            section="CLUSTER",
            key="DB_NAME" if not url.database else "DB_USER",
        )
    return IamAuth(
        serverless=serverless,
        name=name,
        db_name=url.database,
        db_user=None if serverless else url.username,
        region=host["region"].lower() if host is not None else region,
    )


def _database_url(
    flag: str | None, env: Mapping[str, str], cfg: _Cfg, *, iam: bool = False
) -> sa.URL:
    raw = flag or env.get("SPARKIFY_DATABASE_URL")
    if raw:
        try:
            url = sa.make_url(raw)
        except (sa.exc.ArgumentError, ValueError):
            # ValueError: a port that is not a number (make_url's int()); the
            # message would quote the URL, password and all.
            raise ConfigError("not a database URL", key="SPARKIFY_DATABASE_URL") from None
        password = env.get("SPARKIFY_DB_PASSWORD")
        if iam:
            # Temporary credentials replace any password: none is kept.
            url = url.set(password=None)
        elif password and url.password is None and url.get_backend_name() != "duckdb":
            url = url.set(password=password)
        backend_name(url)
        return url
    host = cfg.get("CLUSTER", "HOST")
    if host is None:
        return sa.make_url(DEFAULT_DATABASE_URL)
    port_text = cfg.get("CLUSTER", "DB_PORT") or "5439"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"DB_PORT must be a number, not {port_text!r}",
            file=cfg.file,
            section="CLUSTER",
            key="DB_PORT",
        ) from None
    password = None if iam else env.get("SPARKIFY_DB_PASSWORD") or cfg.get("CLUSTER", "DB_PASSWORD")
    if password is None and not iam:
        raise ConfigError(
            "missing value (set it there or in SPARKIFY_DB_PASSWORD, or connect with AUTH = iam)",
            file=cfg.file,
            section="CLUSTER",
            key="DB_PASSWORD",
        )
    return sa.URL.create(
        REDSHIFT_DRIVER,
        username=cfg.get("CLUSTER", "DB_USER")
        if iam
        else cfg.require("CLUSTER", "DB_USER", "the Redshift user"),
        password=password,
        host=host,
        port=port,
        database=cfg.require("CLUSTER", "DB_NAME", "the Redshift database"),
    )
