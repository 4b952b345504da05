"""Engines for the three backends, built on demand (never at import).

With ``[CLUSTER] AUTH = iam`` the Redshift engine logs in with temporary
credentials that boto3 fetches for each new DBAPI connection (a ``do_connect``
listener): GetClusterCredentials for a provisioned cluster, GetCredentials for a
Serverless workgroup. boto3 finds the caller's AWS credentials as usual
(environment, profile, SSO, instance role) and honours ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from sparkify import dialects as _dialects  # noqa: F401  (registers compile rules)
from sparkify.config import IamAuth, Settings, backend_name
from sparkify.ddl import set_search_path
from sparkify.errors import (
    ConfigError,
    DatabaseError,
    NoWarehouseError,
    OutdatedWarehouseError,
    translated,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def create_engine(settings: Settings, **kwargs: Any) -> sa.Engine:
    """Build the engine for ``settings.database_url``, mapped onto its schema.

    Tables are defined without a schema; ``schema_translate_map`` puts them in
    ``settings.schema`` when one is configured. With ``settings.iam_auth`` each
    new connection logs in with fresh temporary credentials.
    """
    return engine_for_url(
        settings.database_url, schema=settings.schema, iam_auth=settings.iam_auth, **kwargs
    )


def engine_for_url(
    url: sa.URL | str,
    *,
    schema: str | None = None,
    iam_auth: IamAuth | None = None,
    **kwargs: Any,
) -> sa.Engine:
    """Build an engine for a URL (see :func:`create_engine`)."""
    url = sa.make_url(url)
    backend_name(url)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise DatabaseError("creating the database engine", type(exc).__name__) from None
    if iam_auth is not None:
        _log_in_with_iam(engine, iam_auth)
    if schema:
        _search_schema_first(engine, schema)
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def _search_schema_first(engine: sa.Engine, schema: str) -> None:
    """Put ``schema`` first on each connection's search path, for SQL written as text."""
    backend = engine.url.get_backend_name()
    statement = str(set_search_path(schema).compile(dialect=engine.dialect))

    @sa.event.listens_for(engine, "connect")
    def _set_search_path(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        if backend in ("postgresql", "redshift"):
            # Committed, so that a load's rollback cannot undo it (a SET inside a
            # transaction that rolls back is undone) for the pool's next user.
            dbapi_connection.commit()


def _log_in_with_iam(engine: sa.Engine, auth: IamAuth) -> None:
    """Give every new DBAPI connection fresh temporary credentials (never stored)."""
    fetch = credentials_fetcher(auth)

    @sa.event.listens_for(engine, "do_connect")
    def _temporary_credentials(
        dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]
    ) -> None:
        # Returning None lets SQLAlchemy connect with the cparams changed here.
        cparams["user"], cparams["password"] = fetch()


def credentials_fetcher(auth: IamAuth) -> Callable[[], tuple[str, str]]:
    """A function returning new ``(database user, temporary password)`` on each call.

    The boto3 client is made on the first call and reused (clients are
    thread-safe). The password exists only in the returned tuple: it is never
    logged, kept or put in an error.

    Raises (from the function):
        ConfigError: no AWS credentials, or no such cluster or workgroup.
        DatabaseError: AWS refused (e.g. access denied), naming the permission needed.
    """
    lock = threading.Lock()
    clients: list[Any] = []

    def client() -> Any:
        with lock:
            if not clients:
                session = boto3.Session(region_name=auth.region)
                clients.append(
                    session.client("redshift-serverless")
                    if auth.serverless
                    else session.client("redshift")
                )
            return clients[0]

    def fetch() -> tuple[str, str]:
        try:
            if auth.serverless:
                # GetCredentials: the database user is derived from the caller's IAM
                # identity; the response's dbUser is that name, to be used as is
                # ("A database user name that is authorized to log on to the
                # database DbName using the password DbPassword",
                # https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html).
                answer = client().get_credentials(
                    workgroupName=auth.name,
                    dbName=auth.db_name,
                    durationSeconds=auth.duration_seconds,
                )
                return str(answer["dbUser"]), str(answer["dbPassword"])
            # GetClusterCredentials "returns the database user name prefixed with
            # IAM: if AutoCreate is False" and the password expires after
            # DurationSeconds (900 to 3600); DbUser must be an existing user, as
            # the master user sparkify infra up creates is (AutoCreate stays off:
            # it would need redshift:CreateClusterUser too).
            # https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html
            answer = client().get_cluster_credentials(
                DbUser=str(auth.db_user),
                DbName=auth.db_name,
                ClusterIdentifier=auth.name,
                DurationSeconds=auth.duration_seconds,
                AutoCreate=False,
            )
            return str(answer["DbUser"]), str(answer["DbPassword"])
        except NoCredentialsError:
            raise ConfigError(
                "AUTH = iam needs AWS credentials and none were found: set AWS_PROFILE "
                "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run aws configure), or "
                "use AUTH = password",
                section="CLUSTER",
                key="AUTH",
            ) from None
        except ClientError as exc:
            raise _credentials_error(auth, exc) from None
        except BotoCoreError as exc:
            raise DatabaseError(_fetching(auth), f"{type(exc).__name__}: {exc}") from None

    return fetch


def _fetching(auth: IamAuth) -> str:
    what = "Serverless workgroup" if auth.serverless else "cluster"
    return f"getting temporary credentials for Redshift {what} {auth.name}"


def _credentials_error(auth: IamAuth, exc: ClientError) -> ConfigError | DatabaseError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")).splitlines()[0] if error.get("Message") else ""
    if code in ("ClusterNotFound", "ClusterNotFoundFault", "ResourceNotFoundException"):
        key = "WORKGROUP" if auth.serverless else "CLUSTER_IDENTIFIER"
        return ConfigError(
            f"no Redshift {'Serverless workgroup' if auth.serverless else 'cluster'} "
            f"{auth.name!r} in {auth.region} (AWS said {code}): set [CLUSTER] {key}, "
            "or check HOST and the region",
            section="CLUSTER",
            key=key,
        )
    if "AccessDenied" in code or code in ("UnauthorizedOperation", "NotAuthorized"):
        needed = (
            f"redshift-serverless:GetCredentials on workgroup {auth.name}"
            if auth.serverless
            else f"redshift:GetClusterCredentials on dbuser:{auth.name}/{auth.db_user} "
            f"and dbname:{auth.name}/{auth.db_name}"
        )
        return DatabaseError(
            _fetching(auth), f"AWS refused ({code}): your IAM identity needs {needed}"
        )
    return DatabaseError(_fetching(auth), f"AWS said {code}: {message}")


def describe(engine: sa.Engine) -> str:
    """A one-line, password-free description of where an engine points."""
    return engine.url.render_as_string(hide_password=True)


def duckdb_file(engine: sa.Engine) -> Path | None:
    """The file of a DuckDB engine; ``None`` for other backends and in-memory databases."""
    database = engine.url.database
    if engine.url.get_backend_name() != "duckdb" or not database or database == ":memory:":
        return None
    return Path(database)


def require_duckdb_file(engine: sa.Engine) -> None:
    """Raise :class:`NoWarehouseError` when a DuckDB engine's file does not exist.

    Opening a missing file would create an empty database: a command that needs
    a built warehouse checks first, so it creates nothing.
    """
    path = duckdb_file(engine)
    if path is not None and not path.exists():
        raise NoWarehouseError(str(path))


def reader_engine(settings: Settings) -> sa.Engine:
    """An engine for commands that only read: DuckDB files open read-only.

    Read-only, DuckDB neither creates the file nor takes its write lock (a
    read-only open still waits for no one but fails while a load writes it).

    Raises:
        NoWarehouseError: the DuckDB file does not exist (nothing is created).
    """
    if settings.backend != "duckdb":
        return create_engine(settings)
    engine = create_engine(settings, connect_args={"read_only": True})
    require_duckdb_file(engine)
    return engine


@contextmanager
def reading(
    engine: sa.Engine, schema: str | None, tables: tuple[sa.Table, ...], action: str
) -> Iterator[sa.Connection]:
    """A connection to a built warehouse, driver errors translated (see ``errors.translated``).

    Raises:
        NoWarehouseError: every one of ``tables`` is missing from ``schema`` (or the
            schema itself is).
        OutdatedWarehouseError: some of them are (a warehouse made before the
            migration that adds them).
        DatabaseError: the database cannot be reached or refused a statement.
    """
    with translated(action, engine), engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names(schema=schema))
        missing = tuple(t.name for t in tables if t.name not in present)
        if missing:
            where = str(duckdb_file(engine) or describe(engine))
            if schema:
                where = f"{where} (schema {schema})"
            if len(missing) == len(tables):
                raise NoWarehouseError(where)
            raise OutdatedWarehouseError(where, missing)
        yield conn
