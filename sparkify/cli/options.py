"""The options several commands share: the settings flags and the load lock's."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: The longest --lock-timeout: a week (FloatRange refuses inf only below a bound).
LOCK_TIMEOUT_MAX = 7 * 24 * 3600.0

#: --lock-timeout's default: the library's ``sparkify.load.DEFAULT_LOCK_TIMEOUT``, written
#: here because importing sparkify.load (SQLAlchemy, boto3, the drivers) to show a
#: command's --help would cost a third of a second; a unit test keeps the two equal.
LOCK_TIMEOUT_DEFAULT = 3600.0


def _a_number(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Refuse nan, which FloatRange lets through (every comparison with nan is false)."""
    if math.isnan(value):
        raise click.BadParameter("nan is not a number of seconds.", ctx, param)
    return value


_LOCK_OPTIONS = (
    click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        envvar="SPARKIFY_WAIT",
        help="When another load is in progress, wait for it, or fail at once "
        "(on Redshift, --no-wait waits up to 1 s: LOCK has no NOWAIT).",
    ),
    click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0, max=LOCK_TIMEOUT_MAX),
        callback=_a_number,
        default=LOCK_TIMEOUT_DEFAULT,
        show_default=True,
        metavar="SECONDS",
        help="How long --wait waits (on Redshift, the statement_timeout of the LOCK on "
        "load_ledger).",
    ),
)


def lock_options(command: F) -> F:
    """``--wait/--no-wait`` and ``--lock-timeout``: the commands that take the load lock."""
    for option in reversed(_LOCK_OPTIONS):
        command = option(command)
    return command


def settings_options(func: F) -> F:
    """Add the settings flags (--config, --database-url, sources, --schema,
    --no-sign-request) to a command.

    The command receives a resolved ``settings: Settings`` argument instead.
    """

    @click.option(
        "--config",
        "config_file",
        metavar="PATH",
        envvar="SPARKIFY_CONFIG",
        help="dwh.cfg to read (default: ./dwh.cfg when present).",
    )
    @click.option(
        "--database-url",
        metavar="URL",
        help="Warehouse database URL (default: SPARKIFY_DATABASE_URL, dwh.cfg "
        "[CLUSTER], else duckdb:///sparkify.duckdb).",
    )
    @click.option("--song-data", metavar="URI", help="s3:// prefix or folder of song files.")
    @click.option("--log-data", metavar="URI", help="s3:// prefix or folder of event logs.")
    @click.option("--log-jsonpath", metavar="URI", help="s3:// URI or path of the JSONPaths file.")
    @click.option(
        "--schema",
        "schema_name",
        metavar="NAME",
        help="Schema of the tables (default: SPARKIFY_SCHEMA, else the database's).",
    )
    @click.option(
        "--no-sign-request",
        is_flag=True,
        default=None,
        help="Read s3:// sources anonymously (unsigned requests, as aws s3 --no-sign-request) "
        "even when AWS credentials are found (default: SPARKIFY_S3_NO_SIGN_REQUEST, dwh.cfg "
        "[S3] NO_SIGN_REQUEST; with no credentials found, reads are unsigned anyway). "
        "Redshift's COPY always uses the cluster's IAM role.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_file: str | None,
        database_url: str | None,
        song_data: str | None,
        log_data: str | None,
        log_jsonpath: str | None,
        schema_name: str | None,
        no_sign_request: bool | None,
        **kwargs: Any,
    ) -> Any:
        from sparkify.config import load_settings  # SQLAlchemy: not for --help

        settings = load_settings(
            config_file=config_file,
            database_url=database_url,
            song_data=song_data,
            log_data=log_data,
            log_jsonpath=log_jsonpath,
            schema=schema_name,
            no_sign_request=no_sign_request,
        )
        return func(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]
