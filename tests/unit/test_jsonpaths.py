"""Redshift JSONPaths: parsing paths and files, and applying paths to records."""

from __future__ import annotations

from typing import Any

import pytest

from sparkify.errors import SourceError
from sparkify.jsonpaths import getters, parse_jsonpaths, parse_path
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
