"""Alembic environment: the models' metadata and sparkify's own settings.

The database comes, in order, from a connection handed in through
``config.attributes["connection"]`` (tests, ``sparkify create-tables``), the
``sqlalchemy.url`` option, then sparkify's settings (``SPARKIFY_DATABASE_URL``,
``dwh.cfg``, embedded DuckDB). ``SPARKIFY_SCHEMA`` (or
``config.attributes["schema"]``) puts the tables and alembic_version there.

Run by alembic's own command line, a failure the user can act on (bad
settings, a database that cannot be reached or refuses a migration) prints one
``error:`` line and exits 1, as sparkify's commands do; called from code, the
error propagates.
"""

from __future__ import annotations

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from sparkify.config import IamAuth, load_settings
from sparkify.db import engine_for_url
from sparkify.errors import SparkifyError, translated
from sparkify.models import metadata

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url_and_schema() -> tuple[sa.URL, str | None, IamAuth | None]:
    url = config.get_main_option("sqlalchemy.url")
    schema = config.attributes.get("schema")
    if url:
        return sa.make_url(url), schema, None
    settings = load_settings()
    # iam_auth: with [CLUSTER] AUTH = iam the engine logs in with temporary credentials.
    return settings.database_url, schema or settings.schema, settings.iam_auth


def _configure(**kwargs: object) -> None:
    schema = kwargs.pop("schema", None)
    context.configure(
        target_metadata=metadata,
        version_table_schema=schema,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    url, schema, _ = _url_and_schema()
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, schema=schema)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, schema=config.attributes.get("schema"))
        with context.begin_transaction():
            context.run_migrations()
        return
    url, schema, iam_auth = _url_and_schema()
    engine = engine_for_url(url, schema=schema, iam_auth=iam_auth, poolclass=sa.pool.NullPool)
    try:
        with translated("the migrations", engine), engine.connect() as conn:
            _configure(connection=conn, schema=schema)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def run_migrations() -> None:
    if context.is_offline_mode():
        run_migrations_offline()
    else:
        run_migrations_online()


if config.cmd_opts is None:  # called from code: sparkify create-tables, tests
    run_migrations()
else:
    try:
        run_migrations()
    except SparkifyError as exc:
        # alembic's command line shows a traceback for anything but its own
        # CommandError (then "FAILED: ..."); sparkify's promise is one line.
        raise SystemExit(f"error: {exc}") from None
