"""Redshift JSONPaths: parsing paths and files, and applying paths to records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sparkify.errors import SourceError
from sparkify.models import staging_events
from sparkify.sources import getters, parse_jsonpaths, parse_path
from tests.sourcedata import EVENT_KEYS, jsonpaths_text

pytestmark = pytest.mark.unit

SOURCE = "s3://bucket/log_json_path.json"


# -- one path ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("$['artist']", ("artist",)),
        ('$["artist"]', ("artist",)),
        ("$.artist", ("artist",)),
        ("$[ 'artist' ]", ("artist",)),
        ("  $['artist']  ", ("artist",)),
        ("$['user']['name']", ("user", "name")),
        ("$.user.name", ("user", "name")),
        ("$['tags'][0]", ("tags", 0)),
        ("$.tags[12].label", ("tags", 12, "label")),
        ("$['first name']", ("first name",)),
        ("$['a.b']", ("a.b",)),
        ("$['a[0]']", ("a[0]",)),
    ],
)
def test_bracket_dot_and_index_steps_parse_into_names_and_indexes(
    text: str, steps: tuple[Any, ...]
) -> None:
    path = parse_path(text)
    assert path.steps == steps
    assert path.text == text


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (r"$['it\'s']", "it's"),
        (r'$["say \"hi\""]', 'say "hi"'),
        (r"$['back\\slash']", "back\\slash"),
        (r"""$["it's"]""", "it's"),
        (r"""$['say "hi"']""", 'say "hi"'),
    ],
)
def test_escaped_and_other_quotes_inside_a_bracketed_name_are_kept(text: str, name: str) -> None:
    assert parse_path(text).steps == (name,)


def test_the_name_of_a_path_is_its_last_key_for_error_messages() -> None:
    assert parse_path("$['userId']").name == "userId"
    assert parse_path("$.user['id'][0]").name == "id"
    assert parse_path("$[3]").name == "$[3]"


@pytest.mark.parametrize(
    "text",
    [
        "artist",
        "['artist']",
        "$",
        "  $  ",
        "$['artist'",
        "$['artist]",
        "$[artist]",
        "$..artist",
        "$.",
        "$[*]",
        "$[-1]",
        "$['a']x",
        "$['a'].",
        "",
    ],
)
def test_an_expression_redshift_would_reject_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_path(text)


# -- applying paths -----------------------------------------------------------------------


def test_a_single_key_path_reads_the_key_and_gives_none_when_absent_or_not_an_object() -> None:
    get = parse_path("$['userId']").getter()
    assert get({"userId": "7"}) == "7"
    assert get({"other": 1}) is None
    assert get([1, 2]) is None
    assert get("text") is None


def test_a_nested_path_walks_objects_and_arrays() -> None:
    record = {"user": {"names": ["Ada", "Lovelace"], "id": 7}}
    assert parse_path("$.user.id").getter()(record) == 7
    assert parse_path("$['user']['names'][1]").getter()(record) == "Lovelace"
    assert parse_path("$.user.names[0]").getter()(record) == "Ada"


@pytest.mark.parametrize(
    "text",
    [
        "$.user.missing",
        "$.missing.id",
        "$.user.names[5]",
        "$.user.id.deeper",
        "$.user[0]",
        "$.user.names.first",
    ],
)
def test_a_nested_path_that_does_not_lead_anywhere_gives_none(text: str) -> None:
    record = {"user": {"names": ["Ada"], "id": 7}}
    assert parse_path(text).getter()(record) is None


def test_a_nested_path_to_an_explicit_null_gives_none() -> None:
    assert parse_path("$.user.id").getter()({"user": {"id": None}}) is None


def test_getters_give_one_function_per_path_in_order() -> None:
    found = getters([parse_path("$.b"), parse_path("$.a")])
    assert [get({"a": 1, "b": 2}) for get in found] == [2, 1]


# -- the JSONPaths file -----------------------------------------------------------------


def test_a_file_in_the_real_format_parses_to_18_paths_in_column_order() -> None:
    data = jsonpaths_text().encode("utf-8")
    assert b"\n\n    ]" in data and not data.endswith(b"\n")  # the real file's layout
    paths = parse_jsonpaths(data, SOURCE, expected=18)
    assert len(paths) == 18
    assert [path.name for path in paths] == list(EVENT_KEYS)
    assert all(len(path.steps) == 1 for path in paths)


def test_a_file_given_as_text_parses_too() -> None:
    assert len(parse_jsonpaths(jsonpaths_text(), SOURCE)) == 18


def test_without_an_expected_count_any_number_of_paths_is_accepted() -> None:
    assert [p.name for p in parse_jsonpaths('{"jsonpaths": ["$.a"]}', SOURCE)] == ["a"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not valid JSON"),
        (b"jsonpaths: [$.a]", "not valid JSON"),
        (b'{"jsonpaths": ["$.a"]', "not valid JSON"),
        (b'{"jsonpaths": ["\xff"]}', "not valid JSON"),
        (b'["$.a"]', '"jsonpaths" list'),
        (b'{"paths": ["$.a"]}', '"jsonpaths" list'),
        (b'{"jsonpaths": "$.a"}', '"jsonpaths" list'),
        (b'{"jsonpaths": ["$.a", 3]}', "path 2 is not a string (3)"),
        (b'{"jsonpaths": null}', '"jsonpaths" list'),
        (b'{"jsonpaths": ["$.a", "artist"]}', "bad JSONPath"),
    ],
)
def test_an_unusable_file_raises_source_error_naming_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_jsonpaths(data, SOURCE)
    assert caught.value.source == SOURCE
    assert str(caught.value).startswith(f"{SOURCE}: ")
    assert reason in caught.value.reason


def test_a_bad_path_in_the_file_is_quoted_in_the_error() -> None:
    with pytest.raises(SourceError, match=r"'\$\.\.artist'"):
        parse_jsonpaths('{"jsonpaths": ["$..artist"]}', SOURCE)


@pytest.mark.parametrize("count", [17, 19])
def test_a_file_with_the_wrong_number_of_paths_raises_source_error(count: int) -> None:
    keys = [*EVENT_KEYS, "extra"][:count]
    with pytest.raises(SourceError) as caught:
        parse_jsonpaths(jsonpaths_text(keys), SOURCE, expected=18)
    assert caught.value.source == SOURCE
    assert f"{count} paths" in caught.value.reason
    assert "18 columns" in caught.value.reason


# -- the file must map the log keys to the columns, in order (issue 13) ----------------------


@pytest.mark.parametrize("text", ["$.*", "$.a.*", "$. * "])
def test_a_dot_wildcard_is_refused_as_redshift_refuses_it(text: str) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        parse_path(text)


def test_a_key_named_star_in_brackets_is_a_plain_key() -> None:
    assert parse_path("$['*']").steps == ("*",)


def mapped(paths: list[str]) -> list[str]:
    """Parse ``paths`` as the loaders do: they must map the log keys to staging_events."""
    found = parse_jsonpaths(
        json.dumps({"jsonpaths": paths}), SOURCE, table=staging_events, keys=EVENT_KEYS
    )
    return [path.name for path in found]


def test_the_real_file_maps_the_log_keys_in_every_notation() -> None:
    assert mapped([f"$['{k}']" for k in EVENT_KEYS]) == list(EVENT_KEYS)
    assert mapped([f"$.{k}" for k in EVENT_KEYS]) == list(EVENT_KEYS)
    assert mapped([f'$["{k}"]' for k in EVENT_KEYS]) == list(EVENT_KEYS)


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        ("$.*", "path 18: '$.*' holds a wildcard, and Redshift takes one explicit path"),
        (
            "$['userId']['x']",
            "path 18 is \"$['userId']['x']\", but column user_id takes the key 'userId'",
        ),
        (
            "$['userId'][0]",
            "path 18 is \"$['userId'][0]\", but column user_id takes the key 'userId'",
        ),
        ("$.userid", "path 18 is '$.userid', but column user_id takes the key 'userId'"),
        ("$['ts']", "path 18 is \"$['ts']\", but column user_id takes the key 'userId'"),
    ],
)
def test_a_path_that_is_not_its_columns_log_key_is_refused_naming_file_and_position(
    last: str, reason: str
) -> None:
    with pytest.raises(SourceError) as caught:
        mapped([f"$['{k}']" for k in EVENT_KEYS[:-1]] + [last])
    assert caught.value.source == SOURCE
    assert caught.value.reason.startswith(reason)


def test_every_problem_of_the_file_is_named_at_once() -> None:
    paths = [f"$['{k}']" for k in EVENT_KEYS]
    paths[0], paths[1], paths[5] = "$.*", "$['auth']['x']", 7  # type: ignore[call-overload]
    with pytest.raises(SourceError) as caught:
        mapped(paths)
    assert caught.value.reason.split("; ") == [
        "path 1: '$.*' holds a wildcard, and Redshift takes one explicit path "
        "(bad JSONPath: write $['name'] or $.name)",
        "path 2 is \"$['auth']['x']\", but column auth takes the key 'auth'",
        "path 6 is not a string (7)",
    ]


def test_a_file_with_a_missing_path_says_how_many_columns_the_table_has() -> None:
    with pytest.raises(SourceError) as caught:
        mapped([f"$['{k}']" for k in EVENT_KEYS[:-1]])
    assert caught.value.reason == "17 paths, but staging_events has 18 columns"


def test_a_file_nested_too_deeply_is_a_source_error_not_a_crash() -> None:
    data = '{"jsonpaths": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(SourceError) as caught:
        parse_jsonpaths(data, SOURCE)
    assert caught.value.reason == "not valid JSON (nested too deeply)"
