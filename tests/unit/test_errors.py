"""One error tree, one boundary: every class under SparkifyError, driver errors translated once."""

from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa

from sparkify import errors
from sparkify.errors import DatabaseError, LoadInterrupted, SourceError, SparkifyError, translated

pytestmark = pytest.mark.unit


def _driver_error(message: str) -> sa.exc.DBAPIError:
    """What SQLAlchemy raises when the driver refuses a statement (the SQL and its values kept)."""
    return sa.exc.DBAPIError("SELECT secret_column FROM t", {"v": "a value"}, Exception(message))


def test_every_error_class_is_in_the_tree_with_a_one_line_docstring() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
        if value.__module__ == errors.__name__
    ]
    names = {cls.__name__ for cls in classes}
    assert {"AwsError", "InfraStateError", "InfraTimeoutError", "UnknownQuestionError"} <= names
    for cls in classes:
        # LoadInterrupted is Ctrl-C: a KeyboardInterrupt, so that it is never caught as an error.
        assert issubclass(cls, KeyboardInterrupt if cls is LoadInterrupted else SparkifyError)
        assert cls.__doc__ and cls.__doc__.strip().splitlines()[0].strip(), cls


def test_translated_turns_a_driver_error_into_its_first_line_raised_from_it() -> None:
    driver_error = _driver_error('relation "t" does not exist\nLINE 1: SELECT ...')

    with pytest.raises(DatabaseError) as caught, translated("counting table rows"):
        raise driver_error

    assert str(caught.value) == 'counting table rows failed: relation "t" does not exist'
    # Callers look through it (the PostgreSQL reader finds lock_timeout there).
    assert caught.value.__cause__ is driver_error


def test_translated_at_a_command_masks_the_password_and_keeps_no_driver_error() -> None:
    engine = sa.create_engine("postgresql+psycopg://me:s3cret-pw@db.invalid/dwh")

    with pytest.raises(DatabaseError) as caught, translated("the load", engine):
        raise _driver_error('password authentication failed for "me" with s3cret-pw')

    assert str(caught.value) == 'the load failed: password authentication failed for "me" with ***'
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_translated_lets_sparkify_errors_and_other_errors_through_unchanged() -> None:
    ours = SourceError("s3://bucket/log_data", "access denied")
    with pytest.raises(SourceError) as caught, translated("the load"):
        raise ours
    assert caught.value is ours

    with pytest.raises(ValueError, match="not a driver error"), translated("the load"):
        raise ValueError("not a driver error")


def test_translated_turns_duckdbs_interrupted_query_into_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt), translated("counting table rows"):
        raise RuntimeError("Query interrupted")
