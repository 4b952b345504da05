"""COPY's semantics in Python: splitting source objects into records, and turning
records into staging rows or bad-record errors, as Redshift's COPY ... FORMAT JSON would."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkify.errors import BadRecordError
from sparkify.models import EVENT_KEYS as _EVENT_KEYS
from sparkify.models import LONG_TEXT, TEXT, TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import parse_jsonpaths, parse_path
from sparkify.staging.records import (
    RAW_LINE_BYTES,
    Record,
    raw_text,
    split_records,
    storable_text,
)
from sparkify.staging.rows import BadValue, RowBuilder, event_builder, song_builder
from tests.sourcedata import event, event_line, jsonpaths_text, song, song_text

pytestmark = pytest.mark.unit

SOURCE = "s3://bucket/log_data/2018/11/2018-11-01-events.json"
EVENT_COLUMNS = [column.name for column in staging_events.columns]
SONG_COLUMNS = [column.name for column in staging_songs.columns]


@pytest.fixture(scope="module")
def events() -> RowBuilder:
    """The staging_events row builder, through a JSONPaths file in the real format."""
    paths = parse_jsonpaths(jsonpaths_text(), "log_json_path.json", expected=len(EVENT_COLUMNS))
    return event_builder(paths)


@pytest.fixture(scope="module")
def songs() -> RowBuilder:
    """The staging_songs row builder (JSON 'auto': keys mapped by column name)."""
    return song_builder()


def good_event(**overrides: Any) -> dict[str, Any]:
    """A logged-in NextSong event; ``overrides`` are source keys (``userId``, ``ts``...)."""
    return {**event(1541105830796, "39", 38), **overrides}


def build_event(builder: RowBuilder, record: dict[str, Any]) -> dict[str, Any]:
    return dict(zip(EVENT_COLUMNS, builder.build(record), strict=True))


def bad_value(builder: RowBuilder, record: dict[str, Any]) -> BadValue:
    with pytest.raises(BadValue) as caught:
        builder.build(record)
    return caught.value


def summary(data: bytes) -> list[tuple[int, Any, str | None]]:
    return [(r.line, r.value, r.error) for r in split_records(data)]


# -- split_records --------------------------------------------------------------------------


def test_ndjson_yields_one_record_per_line_with_its_line_number() -> None:
    data = b'{"a": 1}\n{"a": 2}\n{"a": 3}\n'
    assert summary(data) == [(1, {"a": 1}, None), (2, {"a": 2}, None), (3, {"a": 3}, None)]


def test_one_object_per_file_without_final_newline_is_one_record_on_line_one() -> None:
    data = song_text(song("SO1", "Title", "AR1", "Artist", 200.5)).encode()
    assert not data.endswith(b"\n")
    [record] = split_records(data)
    assert record.line == 1 and record.error is None
    assert record.value["song_id"] == "SO1"


def test_an_empty_or_blank_object_holds_no_records() -> None:
    assert list(split_records(b"")) == []
    assert list(split_records(b"\n \n\t\r\n")) == []


def test_several_objects_concatenated_on_one_line_all_load_with_that_line() -> None:
    data = b'{"a": 1}{"a": 2} {"a": 3}\n{"a": 4}'
    assert summary(data) == [
        (1, {"a": 1}, None),
        (1, {"a": 2}, None),
        (1, {"a": 3}, None),
        (2, {"a": 4}, None),
    ]


def test_pretty_printed_objects_are_reported_at_their_last_line() -> None:
    data = b'{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n{\n  "a": 3\n}\n'
    assert summary(data) == [(6, {"a": 1, "b": [2]}, None), (9, {"a": 3}, None)]


def test_pretty_printed_and_single_line_objects_mix() -> None:
    data = b'{"a": 1}\n{\n  "a": 2\n}{"a": 3}\n\n{"a": 4}'
    assert summary(data) == [
        (1, {"a": 1}, None),
        (4, {"a": 2}, None),
        (4, {"a": 3}, None),
        (6, {"a": 4}, None),
    ]


def test_blank_lines_are_skipped_but_still_counted() -> None:
    data = b'\n{"a": 1}\n\n   \n{"a": 2}\n\n'
    assert summary(data) == [(2, {"a": 1}, None), (5, {"a": 2}, None)]


def test_crlf_line_endings_load_like_lf() -> None:
    data = b'{"a": 1}\r\n{"a": "x"}\r\n\r\n{"a": 3}'
    assert summary(data) == [(1, {"a": 1}, None), (2, {"a": "x"}, None), (4, {"a": 3}, None)]


def test_crlf_line_endings_in_a_pretty_printed_object() -> None:
    assert summary(b'{\r\n  "a": 1\r\n}\r\n') == [(3, {"a": 1}, None)]


def test_a_malformed_line_in_the_middle_is_reported_at_its_line_and_the_rest_still_loads() -> None:
    data = b'{"a": 1}\n{"a": 2,}\n{"a": 3}\n{"a": 4}'
    records = list(split_records(data))
    assert [(r.line, r.value) for r in records if r.error is None] == [
        (1, {"a": 1}),
        (3, {"a": 3}),
        (4, {"a": 4}),
    ]
    [bad] = [r for r in records if r.error is not None]
    assert bad.line == 2
    assert bad.error is not None and bad.error.startswith("malformed JSON")
    assert bad.raw == '{"a": 2,}'


def test_a_line_that_is_not_json_at_all_is_malformed() -> None:
    data = b'{"a": 1}\nthis is not json\n{"a": 3}'
    assert [(r.line, r.error is None) for r in split_records(data)] == [
        (1, True),
        (2, False),
        (3, True),
    ]


def test_a_malformed_last_line_is_reported_at_that_line() -> None:
    data = b'{"a": 1}\n{"a": 2}\n{"a": '
    records = list(split_records(data))
    assert [r.line for r in records] == [1, 2, 3]
    assert records[2].error is not None and "malformed JSON" in records[2].error


@pytest.mark.parametrize(
    ("line", "raw"),
    [(b"[1, 2]", "[1, 2]"), (b"42", "42"), (b'"text"', '"text"'), (b"null", "null")],
)
def test_a_top_level_value_that_is_not_an_object_is_rejected(line: bytes, raw: str) -> None:
    records = list(split_records(b'{"a": 1}\n' + line + b'\n{"a": 3}'))
    assert [(r.line, r.error) for r in records] == [
        (1, None),
        (2, "not a JSON object"),
        (3, None),
    ]
    assert records[1].raw == raw


def test_a_non_object_among_concatenated_objects_is_rejected() -> None:
    records = list(split_records(b'{"a": 1} [2] {"a": 3}'))
    assert [(r.line, r.error) for r in records] == [
        (1, None),
        (1, "not a JSON object"),
        (1, None),
    ]
    assert records[1].raw == "[2]"


def test_invalid_utf8_is_reported_at_its_line() -> None:
    data = b'{"a": 1}\n{"a": "caf\xe9"}\n{"a": 3}'
    bad = [r for r in split_records(data) if r.error is not None]
    assert [(r.line, r.error is not None and "invalid UTF-8" in r.error) for r in bad] == [
        (2, True)
    ]
    assert "caf" in bad[0].raw


def test_invalid_utf8_on_one_line_does_not_lose_the_other_records_of_the_object() -> None:
    # COPY rejects the bad record, not the whole object: with --max-errors the
    # good lines before and after it must still load.
    data = b'{"a": 1}\n{"a": "caf\xe9"}\n{"a": 3}\n{"a": 4}'
    records = list(split_records(data))
    assert [(r.line, r.value) for r in records if r.error is None] == [
        (1, {"a": 1}),
        (3, {"a": 3}),
        (4, {"a": 4}),
    ]
    assert [r.line for r in records if r.error is not None] == [2]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_malformed_json(literal: bytes) -> None:
    # Not JSON (RFC 8259); orjson rejects them, the fallback parser must too.
    data = b'{"a": 1}\n{"length": ' + literal + b'}\n{"a": 3}'
    records = list(split_records(data))
    assert [(r.line, r.error is not None) for r in records] == [(1, False), (2, True), (3, False)]


def test_good_records_keep_their_line_undecoded_until_needed() -> None:
    [record] = split_records(b'{"a": 1}')
    assert record == Record(1, {"a": 1}, b'{"a": 1}')
    assert record.text == '{"a": 1}'


def test_an_object_streamed_in_blocks_splits_as_the_whole_object_does() -> None:
    data = b'{"a": 1}\n{"b": "\xc3\xa9"}\n\n{"c": 3}'
    whole = [(r.line, r.value) for r in split_records(data)]
    for size in (1, 2, 3, 7, 50):
        blocks = [data[i : i + size] for i in range(0, len(data), size)]
        assert [(r.line, r.value) for r in split_records(blocks)] == whole
    pretty = b'{"a": 1}\n{\n  "b": 2\n}\n{"c": 3}'
    blocks = [pretty[i : i + 4] for i in range(0, len(pretty), 4)]
    assert [(r.line, r.value) for r in split_records(blocks)] == [
        (1, {"a": 1}),
        (4, {"b": 2}),
        (5, {"c": 3}),
    ]


# -- RowBuilder: conversions ------------------------------------------------------------------


def test_a_real_event_loads_every_column_in_jsonpaths_order(events: RowBuilder) -> None:
    row = events.build(good_event(song="Setanta matins", artist="Elena", length=269.58322))
    assert row == (
        "Elena",
        "Logged In",
        "Walter",
        "M",
        0,
        "Frye",
        269.58322,
        "free",
        "San Francisco-Oakland-Hayward, CA",
        "PUT",
        "NextSong",
        1540919166796,
        38,
        "Setanta matins",
        200,
        1541105830796,
        good_event()["userAgent"],
        39,
    )


def test_an_empty_user_id_loads_as_null(events: RowBuilder) -> None:
    assert build_event(events, event(1541105830796, "", 38, page="Home"))["user_id"] is None


def test_a_numeric_user_id_string_loads_as_an_integer(events: RowBuilder) -> None:
    value = build_event(events, good_event(userId="12"))["user_id"]
    assert value == 12 and type(value) is int


def test_a_non_numeric_user_id_is_bad_and_names_the_column(events: RowBuilder) -> None:
    bad = bad_value(events, good_event(userId="abc"))
    assert bad.column == "user_id"
    assert bad.reason == "userId: 'abc' is not an integer"


@pytest.mark.parametrize("text", ["1_000", "\uff11\uff12", "\u0661\u0662", "0x1A", "12.0", "1e3"])
def test_text_that_is_not_plain_ascii_digits_is_not_an_integer(
    events: RowBuilder, text: str
) -> None:
    # Redshift: "Invalid digit". Python's int() also takes underscores and
    # non-ASCII digits (full-width, Arabic-Indic), which COPY rejects.
    bad = bad_value(events, good_event(userId=text))
    assert bad.column == "user_id" and "is not an integer" in bad.reason


@pytest.mark.parametrize("text", ["1_0.5", "\uff11.5"])
def test_text_that_is_not_a_plain_number_is_not_a_double(events: RowBuilder, text: str) -> None:
    bad = bad_value(events, good_event(length=text))
    assert bad.column == "length" and "is not a number" in bad.reason


def test_an_integral_float_in_an_integer_column_loads_as_an_integer(events: RowBuilder) -> None:
    # Epoch milliseconds written as floats, like the logs' registration (1540991795796.0).
    value = build_event(events, good_event(ts=1540991795796.0))["ts"]
    assert value == 1540991795796 and type(value) is int


def test_an_integral_float_registration_loads_exactly(events: RowBuilder) -> None:
    value = build_event(events, good_event(registration=1540991795796.0))["registration"]
    assert value == 1540991795796


def test_a_fractional_number_in_an_integer_column_is_bad(events: RowBuilder) -> None:
    bad = bad_value(events, good_event(itemInSession=1.5))
    assert bad.column == "item_in_session"
    assert "1.5" in bad.reason and "integer" in bad.reason


@pytest.mark.parametrize(
    ("key", "column"),
    [("sessionId", "session_id"), ("itemInSession", "item_in_session"), ("length", "length")],
)
def test_a_boolean_in_a_number_column_is_bad(events: RowBuilder, key: str, column: str) -> None:
    bad = bad_value(events, good_event(**{key: True}))
    assert bad.column == column
    assert "the boolean true" in bad.reason


@pytest.mark.parametrize(
    ("key", "column", "value", "described"),
    [
        ("sessionId", "session_id", {"id": 38}, "a JSON object"),
        ("sessionId", "session_id", [38], "a JSON array"),
        ("length", "length", {"seconds": 1.0}, "a JSON object"),
        ("firstName", "first_name", {"first": "Walter"}, "a JSON object"),
        ("song", "song", ["a", "b"], "a JSON array"),
    ],
)
def test_an_object_or_array_value_is_bad(
    events: RowBuilder, key: str, column: str, value: Any, described: str
) -> None:
    bad = bad_value(events, good_event(**{key: value}))
    assert bad.column == column
    assert bad.reason.startswith(f"{key}: {described} where")


def test_integers_load_into_double_columns_as_floats(events: RowBuilder) -> None:
    value = build_event(events, good_event(length=269))["length"]
    assert value == 269.0 and type(value) is float


def test_numeric_strings_load_into_double_columns(events: RowBuilder) -> None:
    assert build_event(events, good_event(length="218.93179"))["length"] == 218.93179
    assert build_event(events, good_event(length=""))["length"] is None


def test_doubles_keep_every_digit(events: RowBuilder) -> None:
    assert build_event(events, good_event(length=269.58322))["length"] == 269.58322


def test_non_numeric_text_in_a_double_column_is_bad(events: RowBuilder) -> None:
    bad = bad_value(events, good_event(length="long"))
    assert bad.column == "length" and bad.reason == "length: 'long' is not a number"


@pytest.mark.parametrize(
    "number",
    [b"1" * 400, b"1e999", b"-1e999"],
    ids=["400-digit integer", "1e999", "-1e999"],
)
def test_a_number_beyond_double_range_is_a_bad_record_not_a_crash(
    events: RowBuilder, number: bytes
) -> None:
    line = event_line(good_event(length=0.5)).replace('"length":0.5', '"length":' + number.decode())
    [result] = list(events.rows(line.encode(), SOURCE))
    assert isinstance(result, BadRecordError)
    assert result.line == 1


@pytest.mark.parametrize(
    ("chars", "good"),
    [
        ("a" * TEXT, True),
        ("a" * (TEXT + 1), False),
        ("\u00e9" * (TEXT // 2), True),
        ("\u00e9" * 300, False),
        ("\u20ac" * (TEXT // 3), True),
        ("\u20ac" * (TEXT // 3 + 1), False),
        ("\U0001f600" * (TEXT // 4), True),
        ("\U0001f600" * (TEXT // 4 + 1), False),
    ],
    ids=[
        "512 ascii",
        "513 ascii",
        "256 two-byte",
        "300 two-byte",
        "170 three-byte",
        "171 three-byte",
        "128 four-byte",
        "129 four-byte",
    ],
)
def test_text_length_is_measured_in_utf8_bytes(events: RowBuilder, chars: str, good: bool) -> None:
    record = good_event(firstName=chars)
    if good:
        assert build_event(events, record)["first_name"] == chars
    else:
        bad = bad_value(events, record)
        size = len(chars.encode("utf-8"))
        assert bad.column == "first_name"
        assert bad.reason == f"firstName: value is {size} bytes, longer than the column's {TEXT}"


def test_long_text_columns_hold_1024_bytes(events: RowBuilder) -> None:
    assert build_event(events, good_event(artist="\u00e9" * 512))["artist"] == "\u00e9" * 512
    bad = bad_value(events, good_event(artist="\u00e9" * 512 + "x"))
    assert bad.column == "artist" and f"{LONG_TEXT + 1} bytes" in bad.reason


def test_a_nul_character_in_text_is_bad(events: RowBuilder) -> None:
    bad = bad_value(events, good_event(lastName="Fr\x00ye"))
    assert bad.column == "last_name" and "NUL" in bad.reason


def test_a_lone_surrogate_in_text_is_a_bad_record(events: RowBuilder) -> None:
    # "\ud800" escapes no UTF-8 character: no database can store it, so COPY's
    # emulation must reject the record instead of handing the text to the driver.
    line = event_line(good_event(firstName="XX")).replace('"XX"', '"\\ud800"')
    [result] = list(events.rows(line.encode(), SOURCE))
    assert isinstance(result, BadRecordError)
    assert result.line == 1


@pytest.mark.parametrize(
    ("key", "column", "value"),
    [
        ("userId", "user_id", "2147483648"),
        ("userId", "user_id", -(2**31) - 1),
        ("status", "status", 2**31),
        ("sessionId", "session_id", 2**63),
    ],
)
def test_an_integer_out_of_its_column_range_is_bad(
    events: RowBuilder, key: str, column: str, value: Any
) -> None:
    bad = bad_value(events, good_event(**{key: value}))
    assert bad.column == column and "out of range" in bad.reason


@pytest.mark.parametrize(
    ("key", "column", "value"),
    [
        ("userId", "user_id", "2147483647"),
        ("userId", "user_id", -(2**31)),
        ("sessionId", "session_id", 2**63 - 1),
    ],
)
def test_an_integer_at_its_column_range_limit_loads(
    events: RowBuilder, key: str, column: str, value: Any
) -> None:
    assert build_event(events, good_event(**{key: value}))[column] == int(value)


@pytest.mark.parametrize("ts", ["absent", None, ""])
def test_an_event_without_ts_is_bad(events: RowBuilder, ts: Any) -> None:
    record = good_event()
    if ts == "absent":
        del record["ts"]
    else:
        record["ts"] = ts
    bad = bad_value(events, record)
    assert bad.column == "ts" and bad.reason == "ts is missing"


def test_an_event_without_session_id_is_bad(events: RowBuilder) -> None:
    record = good_event()
    del record["sessionId"]
    bad = bad_value(events, record)
    assert bad.column == "session_id" and bad.reason == "sessionId is missing"


def test_absent_keys_load_as_null(events: RowBuilder) -> None:
    row = build_event(events, {"ts": 1541105830796, "sessionId": 38})
    assert row["ts"] == 1541105830796 and row["session_id"] == 38
    assert all(value is None for name, value in row.items() if name not in ("ts", "session_id"))


def test_keys_the_table_lacks_are_ignored(events: RowBuilder) -> None:
    plain = events.build(good_event())
    assert events.build(good_event(extra="x", nested={"a": 1}, session_id=99)) == plain


def test_unicode_and_quotes_are_kept_intact(events: RowBuilder) -> None:
    text = 'Beyonc\u00e9 "Sasha" O\'Neil \\ Caf\u00c3\u0083\u00c2\u00a9 \U0001f3b5 \u65e5\u672c'
    data = event_line(good_event(artist=text, song=text)).encode("utf-8")
    [row] = list(events.rows(data, SOURCE))
    assert isinstance(row, tuple)
    record = dict(zip(EVENT_COLUMNS, row, strict=True))
    assert record["artist"] == text and record["song"] == text


def test_numbers_and_booleans_in_a_text_column_load_as_their_json_text(
    events: RowBuilder,
) -> None:
    assert build_event(events, good_event(gender=1984))["gender"] == "1984"
    assert build_event(events, good_event(gender=True))["gender"] == "true"


def test_songs_map_keys_by_column_name(songs: RowBuilder) -> None:
    record = song("SO1", "Title", "AR1", "Artist", 218.93179, year=2001, location="LA", extra=1)
    row = dict(zip(SONG_COLUMNS, songs.build(record), strict=True))
    assert row == {
        "num_songs": 1,
        "artist_id": "AR1",
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "LA",
        "artist_name": "Artist",
        "song_id": "SO1",
        "title": "Title",
        "duration": 218.93179,
        "year": 2001,
    }


def test_a_song_with_a_non_numeric_year_is_bad(songs: RowBuilder) -> None:
    bad = bad_value(songs, song("SO1", "T", "AR1", "A", 1.0, year="unknown"))
    assert bad.column == "year" and bad.reason == "year: 'unknown' is not an integer"


def test_a_builder_needs_one_path_per_column() -> None:
    paths = parse_jsonpaths(jsonpaths_text(), "log_json_path.json")
    with pytest.raises(ValueError, match="17 paths for 18 columns"):
        RowBuilder(staging_events, paths[:17])


# -- RowBuilder.rows: bad records in place of rows -----------------------------------------


def test_rows_yields_good_rows_and_bad_record_errors_in_file_order(events: RowBuilder) -> None:
    lines = [
        event_line(good_event(itemInSession=0)),
        event_line(good_event(itemInSession=1, userId="abc")),
        "{not json",
        event_line(good_event(itemInSession=3)),
    ]
    results = list(events.rows("\n".join(lines).encode(), SOURCE))
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["tuple", "BadRecordError", "BadRecordError", "tuple"]
    value_error, json_error = results[1], results[2]
    assert isinstance(value_error, BadRecordError) and isinstance(json_error, BadRecordError)
    assert (value_error.source, value_error.line, value_error.column) == (SOURCE, 2, "user_id")
    assert value_error.reason == "userId: 'abc' is not an integer"
    assert value_error.raw == lines[1]
    assert str(value_error) == (
        f"bad record in {SOURCE}, line 2, column user_id: userId: 'abc' is not an integer"
    )
    assert (json_error.line, json_error.column, json_error.raw) == (3, None, "{not json")
    assert json_error.reason.startswith("malformed JSON")
    assert str(json_error).startswith(f"bad record in {SOURCE}, line 3: malformed JSON")


def test_a_bad_value_in_a_pretty_printed_record_is_reported_at_its_last_line(
    songs: RowBuilder,
) -> None:
    data = b'{\n  "song_id": "SO1",\n  "year": "unknown"\n}'
    [result] = list(songs.rows(data, "song.json"))
    assert isinstance(result, BadRecordError)
    assert (result.line, result.column) == (4, "year")


def test_a_long_bad_line_is_kept_cut_to_1024_bytes(events: RowBuilder) -> None:
    line = event_line(good_event(firstName="\u00e9" * 700))
    [result] = list(events.rows(line.encode(), SOURCE))
    assert isinstance(result, BadRecordError)
    assert len(result.raw.encode("utf-8")) <= RAW_LINE_BYTES
    assert line.startswith(result.raw) and len(result.raw.encode("utf-8")) >= RAW_LINE_BYTES - 1


# -- raw_text -----------------------------------------------------------------------------


def test_raw_text_keeps_short_text_as_it_is() -> None:
    assert raw_text('{"a": "\u00e9"}') == '{"a": "\u00e9"}'
    assert raw_text("a" * RAW_LINE_BYTES) == "a" * RAW_LINE_BYTES


def test_raw_text_cuts_long_text_at_1024_bytes() -> None:
    assert raw_text("a" * (RAW_LINE_BYTES + 500)) == "a" * RAW_LINE_BYTES


def test_raw_text_cuts_on_a_character_boundary() -> None:
    assert raw_text("\u00e9" * 600) == "\u00e9" * 512
    assert raw_text("a" + "\u00e9" * 600) == "a" + "\u00e9" * 511
    assert raw_text("ab" + "\U0001f600" * 300) == "ab" + "\U0001f600" * 255
    for text in ("a" + "\u00e9" * 600, "ab" + "\u20ac" * 400, "abc" + "\U0001f600" * 300):
        cut = raw_text(text)
        assert text.startswith(cut)
        assert RAW_LINE_BYTES - 3 <= len(cut.encode("utf-8")) <= RAW_LINE_BYTES


# -- the generated row function agrees with the general converters -------------------------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([TS_MIN_MS - 1, TS_MIN_MS, TS_MAX_MS, TS_MAX_MS + 1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.text(alphabet="0123456789 -+._\u0661", max_size=6),
    # digits as text and whole floats, at the edges of the fast path (18-19 digits)
    # and of the columns' ranges
    st.text(alphabet="0123456789", min_size=17, max_size=21),
    st.sampled_from([2**15, 2**31, 2**63, TS_MIN_MS, TS_MAX_MS]).flatmap(
        lambda edge: st.sampled_from(
            [v for n in (edge - 1, edge, edge + 1, -edge - 1, -edge) for v in (str(n), float(n))]
        )
    ),
    st.text(min_size=500, max_size=600),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(st.sampled_from(_EVENT_KEYS), _VALUES))
def test_the_generated_row_function_accepts_and_rejects_as_the_general_converters(
    record: dict[str, object],
) -> None:
    builder = event_builder([parse_path(f"$['{k}']") for k in _EVENT_KEYS])
    try:
        expected: object = builder.build_slowly(record)
    except BadValue as exc:
        expected = ("bad", exc.column, exc.reason)
    try:
        found: object = builder.build(record)
    except BadValue as exc:
        found = ("bad", exc.column, exc.reason)
    if isinstance(expected, tuple) and expected[:1] == ("bad",):
        assert isinstance(found, tuple) and found[:2] == expected[:2]
    else:
        assert found == expected


# -- lines short enough that any text fits: only the value's type is checked ----------------


def _outcome(builder: RowBuilder, record: dict[str, object]) -> object:
    try:
        return builder.build_slowly(record)
    except BadValue as exc:
        return ("bad", exc.column, exc.reason)


def _loaded(builder: RowBuilder, line: bytes) -> object:
    [result] = list(builder.rows(line, SOURCE))
    if isinstance(result, BadRecordError):
        return ("bad", result.column, result.reason)
    return result


_SHORT_TEXT = st.one_of(
    st.text(max_size=40),  # any character but surrogates: escapes, NUL, emoji
    st.text(alphabet='\u00e9\u20ac\U0001f600\x00\\"', max_size=60),
)


@settings(max_examples=300, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(_EVENT_KEYS),
        st.one_of(_VALUES.filter(lambda v: v not in (math.inf, -math.inf)), _SHORT_TEXT),
    ),
    ascii_only=st.booleans(),
)
def test_a_line_loads_as_the_general_converters_load_its_record(
    record: dict[str, object], ascii_only: bool
) -> None:
    # Whatever path rows() takes for a line (short enough for every column or
    # not, written with escapes or raw UTF-8), the row or the rejection is the
    # general converters' one.
    builder = event_builder([parse_path(f"$['{k}']") for k in _EVENT_KEYS])
    line = json.dumps(record, ensure_ascii=ascii_only).encode()
    expected = _outcome(builder, orjson.loads(line))
    found = _loaded(builder, line)
    if isinstance(expected, tuple) and expected[:1] == ("bad",):
        assert isinstance(found, tuple) and found[:2] == expected[:2]
    else:
        assert found == expected


def test_the_short_line_path_applies_up_to_the_shortest_varchar(events: RowBuilder) -> None:
    assert events.shortest_text == TEXT
    base = event_line(good_event(firstName=""))
    pad = TEXT - len(base.encode())
    at_limit = base.replace('"firstName":""', '"firstName":"' + "x" * pad + '"')
    assert len(at_limit.encode()) == TEXT
    [row] = list(events.rows(at_limit.encode(), SOURCE))
    assert isinstance(row, tuple) and dict(zip(EVENT_COLUMNS, row, strict=True))["first_name"] == (
        "x" * pad
    )


@pytest.mark.parametrize(
    ("text", "good"),
    [
        ("\\u0000", False),  # NUL, escaped: the only way JSON holds one
        ("a\\u0000", False),
        ("\\\\u0000", True),  # a backslash, then "u0000": text, not NUL
    ],
)
def test_a_nul_escape_in_a_short_line_is_still_found(
    events: RowBuilder, text: str, good: bool
) -> None:
    line = event_line(good_event(lastName="XX")).replace('"XX"', f'"{text}"')
    assert len(line.encode()) <= events.shortest_text
    [result] = list(events.rows(line.encode(), SOURCE))
    if good:
        assert isinstance(result, tuple)
        assert dict(zip(EVENT_COLUMNS, result, strict=True))["last_name"] == "\\u0000"
    else:
        assert isinstance(result, BadRecordError)
        assert result.column == "last_name" and "NUL" in result.reason


def test_text_too_long_for_its_column_is_bad_in_a_line_longer_than_the_column(
    events: RowBuilder,
) -> None:
    # 260 two-byte characters: 520 bytes in a 512-byte column, in a line that
    # fits the 1024-byte columns but not the 512-byte ones (the full checks run).
    line = json.dumps(good_event(firstName="\u00e9" * 260), ensure_ascii=False).encode()
    assert TEXT < len(line) <= LONG_TEXT
    [result] = list(events.rows(line, SOURCE))
    assert isinstance(result, BadRecordError) and result.column == "first_name"
    assert "520 bytes" in result.reason


# -- ts within the range the warehouse holds (contract, "Types"; issue 13) ------------------

TS_OUTSIDE = "is outside the range of epoch milliseconds the warehouse holds (years 1-9999)"


def test_the_ts_bounds_are_the_first_and_last_millisecond_of_years_1_to_9999() -> None:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    first = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    last = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC)
    assert (first - epoch) // dt.timedelta(milliseconds=1) == TS_MIN_MS
    assert (last - epoch) // dt.timedelta(milliseconds=1) == TS_MAX_MS


@pytest.mark.parametrize(
    "ts", [TS_MIN_MS, TS_MAX_MS, float(TS_MIN_MS), float(TS_MAX_MS), -1, 0, str(TS_MAX_MS)]
)
def test_a_ts_within_the_warehouse_range_loads(events: RowBuilder, ts: Any) -> None:
    assert build_event(events, good_event(ts=ts))["ts"] == int(ts)


@pytest.mark.parametrize(
    "ts",
    [
        TS_MIN_MS - 1,
        TS_MAX_MS + 1,
        1541120959664000,  # microseconds, not milliseconds
        10**16,
        -(10**16),
        1e16,
        -1e16,
        "1541120959664000",
        2**63 - 1,
        -(2**63),
        2**63,
        1e19,
    ],
)
def test_a_ts_outside_the_warehouse_range_is_bad_naming_ts(events: RowBuilder, ts: Any) -> None:
    bad = bad_value(events, good_event(ts=ts))
    assert bad.column == "ts"
    assert bad.reason == f"ts: {int(ts)} {TS_OUTSIDE}"
    with pytest.raises(BadValue) as slowly:
        events.build_slowly(good_event(ts=ts))
    assert slowly.value.reason == bad.reason


@pytest.mark.parametrize("ts", [TS_MIN_MS - 1, TS_MAX_MS + 1, 1541120959664000])
def test_a_ts_outside_the_range_is_a_bad_record_at_its_line(events: RowBuilder, ts: int) -> None:
    lines = [event_line(good_event()), event_line(good_event(ts=ts)), event_line(good_event())]
    results = list(events.rows("\n".join(lines).encode(), SOURCE))
    assert [isinstance(r, tuple) for r in results] == [True, False, True]
    bad = results[1]
    assert isinstance(bad, BadRecordError)
    assert (bad.source, bad.line, bad.column) == (SOURCE, 2, "ts")
    assert bad.reason == f"ts: {ts} {TS_OUTSIDE}"
    assert bad.raw == lines[1]


def test_a_plain_row_builder_keeps_the_column_type_range() -> None:
    builder = RowBuilder(staging_events, [parse_path(f"$['{k}']") for k in _EVENT_KEYS])
    assert builder.build(good_event(ts=2**63 - 1))[EVENT_COLUMNS.index("ts")] == 2**63 - 1
    with pytest.raises(BadValue, match="out of range for its column"):
        builder.build(good_event(ts=2**63))


# -- a song record needs song_id and artist_id ------------------------------------------------


@pytest.mark.parametrize("key", ["song_id", "artist_id"])
@pytest.mark.parametrize(
    ("value", "says"), [("absent", "missing"), (None, "missing"), ("", "empty")]
)
def test_a_song_without_song_id_or_artist_id_is_bad(
    songs: RowBuilder, key: str, value: Any, says: str
) -> None:
    record = song("SO1", "Title", "AR1", "Artist", 218.93179)
    if value == "absent":
        del record[key]
    else:
        record[key] = value
    for build in (songs.build, songs.build_slowly):
        with pytest.raises(BadValue) as caught:
            build(record)
        assert (caught.value.column, caught.value.reason) == (key, f"{key} is {says}")
    [bad] = list(songs.rows(song_text(record).encode(), SOURCE))
    assert isinstance(bad, BadRecordError)
    assert (bad.line, bad.column, bad.reason) == (1, key, f"{key} is {says}")


def test_a_song_without_title_or_artist_name_still_loads(songs: RowBuilder) -> None:
    record = {**song("SO1", "", "AR1", "", 218.93179), "title": None}
    row = dict(zip(SONG_COLUMNS, songs.build(record), strict=True))
    assert (row["song_id"], row["artist_id"], row["title"], row["artist_name"]) == (
        "SO1",
        "AR1",
        None,
        "",
    )


# -- JSON nested deeper than the parser takes (issue 13) --------------------------------------


def nested_line(depth: int) -> bytes:
    """An object whose key ``x`` holds arrays nested so that the record is ``depth`` deep."""
    return b'{"x":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def nested_event(depth: int) -> bytes:
    """A good event with an extra key, never read, nested so that the record is ``depth`` deep."""
    line = event_line(good_event(deep="X")).encode()
    return line.replace(b'"X"', b"[" * (depth - 1) + b"]" * (depth - 1))


@pytest.mark.parametrize("depth", [1025, 1100, 100_000])
@pytest.mark.parametrize("after_malformed", [False, True])
def test_json_nested_too_deeply_is_a_bad_record_at_its_line_not_a_crash(
    depth: int, after_malformed: bool
) -> None:
    # After a malformed line the rest of the object is parsed by Python's
    # decoder (which recurses), before it by orjson: both give the same records.
    first = b"{oops" if after_malformed else b'{"a": 1}'
    data = b"\n".join([first, nested_line(depth), b'{"a": 3}', nested_event(depth), b'{"a": 5}'])
    found = summary(data)
    assert found[1:] == [
        (2, None, "JSON nested too deeply"),
        (3, {"a": 3}, None),
        (4, None, "JSON nested too deeply"),
        (5, {"a": 5}, None),
    ]


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_a_pretty_printed_song_nested_too_deeply_is_one_bad_record(depth: int) -> None:
    good = song_text(song("SO1", "Title", "AR1", "Artist", 1.0)).encode()
    deep = json.dumps({"extra": "X", "num_songs": 1}, indent=4).encode()
    deep = deep.replace(b'"X"', b"[\n" * (depth - 1) + b"]\n" * (depth - 1))
    data = good + b"\n" + deep + b"\n" + good
    records = list(split_records(data))
    assert [r.error for r in records] == [None, "JSON nested too deeply", None]
    assert records[1].line == 2 + deep.count(b"\n")  # the last line of the record
    assert records[2].line == records[1].line + 1
    assert len(records[1].text.encode()) <= RAW_LINE_BYTES


@pytest.mark.parametrize("after_malformed", [False, True])
def test_json_as_deep_as_the_parser_takes_loads_wherever_it_stands(after_malformed: bool) -> None:
    first = b"{oops" if after_malformed else b'{"a": 1}'
    [_, deepest] = list(split_records(first + b"\n" + nested_line(1024)))
    assert deepest.error is None and deepest.line == 2
    value, depth = deepest.value, 0
    while isinstance(value, dict | list):  # == would recurse, and fail, this deep
        value, depth = (
            (value["x"] if isinstance(value, dict) else value[0] if value else 0),
            depth + 1,
        )
    assert depth == 1024


def test_an_unclosed_deep_value_is_one_bad_line_and_the_next_lines_still_load() -> None:
    data = b'{"a": 1}\n{oops\n' + b"[" * 1100 + b'\n{"a": 4}\n' + b"[" * 5000 + b"\n" + b'{"a": 6}'
    assert summary(data) == [
        (1, {"a": 1}, None),
        (2, None, summary(b"{oops")[0][2]),
        (3, None, "JSON nested too deeply"),
        (4, {"a": 4}, None),
        (5, None, "JSON nested too deeply"),
        (6, {"a": 6}, None),
    ]


def test_a_deep_event_is_a_bad_record_of_rows_with_its_line(events: RowBuilder) -> None:
    data = b"\n".join([event_line(good_event()).encode(), nested_event(100_000)])
    [row, bad] = list(events.rows(data, SOURCE))
    assert isinstance(row, tuple)
    assert isinstance(bad, BadRecordError)
    assert (bad.line, bad.column, bad.reason) == (2, None, "JSON nested too deeply")


# -- text stored from a bad record ---------------------------------------------------------


def test_storable_text_writes_nul_as_the_replacement_character() -> None:
    assert storable_text('{"a": "x\x00y"}') == '{"a": "x\ufffdy"}'
    assert storable_text("plain") == "plain"


def test_storable_text_replaces_unpaired_surrogates() -> None:
    assert storable_text("a\ud800b") == "a?b"


def test_storable_text_fits_1024_bytes_after_the_replacement() -> None:
    text = "\x00" * 1024
    stored = storable_text(text)
    assert stored == "\ufffd" * (RAW_LINE_BYTES // 3)
    assert len(stored.encode()) <= RAW_LINE_BYTES


def test_many_deep_values_that_never_close_are_split_in_linear_time() -> None:
    # Each unclosed value used to be scanned to the end of the object: 1,000 such
    # lines took 94 s. They are one bad record each, and the good line after them loads.
    count = 2000
    data = b"{oops\n" + b"\n".join([b'{"x":' + b"[" * 1100] * count) + b'\n{"a": 1}'
    started = time.perf_counter()
    records = list(split_records(data))
    assert time.perf_counter() - started < 30
    assert [r.line for r in records] == list(range(1, count + 3))
    assert {r.error for r in records[1:-1]} == {"JSON nested too deeply"}
    assert (records[-1].value, records[-1].error) == ({"a": 1}, None)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='[]{}"\\\n a', max_size=60), data=st.data())
def test_the_end_of_a_deep_value_is_where_its_brackets_close(
    text: str, data: st.DataObject
) -> None:
    from sparkify.staging.records import _NESTING_TOKEN, _Nesting

    # A value starts at a bracket outside any string (where the splitter starts one).
    starts = [m.start() for m in _NESTING_TOKEN.finditer(text) if m.group() in ("[", "{")]
    if not starts:
        return
    start = data.draw(st.sampled_from(starts))
    # The reference: scan the tokens from start (strings skipped, as the index does).
    depth, expected = 0, None
    for match in _NESTING_TOKEN.finditer(text, start):
        token = match.group()
        depth += 1 if token in "[{" and len(token) == 1 else 0
        if token in ("]", "}"):
            depth -= 1
            if depth == 0:
                expected = match.end()
                break
    assert _Nesting(text).value_end(start) == expected


@pytest.mark.parametrize("digits", ["1" * 5000, "0" * 4999 + "7", "-" + "9" * 4301])
def test_an_integer_given_as_text_of_thousands_of_digits_is_a_bad_record(
    events: RowBuilder, digits: str
) -> None:
    line = event_line(good_event(userId=digits))
    [result] = list(events.rows(line.encode(), SOURCE))
    if digits.lstrip("-0") == "7":  # leading zeros: the number is 7
        assert isinstance(result, tuple) and result[EVENT_COLUMNS.index("user_id")] == 7
        return
    assert isinstance(result, BadRecordError)
    assert (result.column, result.reason) == (
        "user_id",
        f"userId: a number of {len(digits.lstrip('-'))} digits is out of range for its column",
    )
    with pytest.raises(BadValue) as slowly:
        events.build_slowly(good_event(userId=digits))
    assert slowly.value.reason == result.reason
