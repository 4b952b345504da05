"""DuckDB's native staging of the log files equals the Python path's, proven by example search.

Hypothesis writes log files of records drawn from every edge case of the contract
and of the Python path (sparkify/staging/records.py, rows.py): numbers given as
text (padded, signed, zero-led, in other scripts, empty), floats into integer
columns, booleans, nulls, nested values, huge integers, texts around the byte
limits in 1- to 4-byte characters, NUL characters, missing, extra and duplicated
keys, ts at and past its bounds, and lines that are not records (malformed JSON,
NaN, trailing commas, a byte order mark, pretty-printed objects, invalid UTF-8,
deep nesting, blank lines). Each set of files is staged twice into DuckDB, natively
and by the Python path: the staged rows, the bad records (file, line, column,
reason, raw text, in order) and the error a run stops with must be the same.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkify import load, schema
from sparkify.config import load_settings
from sparkify.db import engine_for_url
from sparkify.errors import BadRecordError, SourceError, TooManyBadRecordsError
from sparkify.models import EVENT_KEYS, TS_MAX_MS, TS_MIN_MS, staging_events, staging_songs
from sparkify.sources import Listing, Plan, TableSources, list_sources, parse_jsonpaths
from sparkify.staging import ErrorBudget, native, stager_for
from sparkify.staging.base import NoProgress
from tests import contract_fixtures as fx
from tests.contract_fixtures import JSONPATHS
from tests.sourcedata import event, event_line
from tests.warehouse import settings_for, staged_by

pytestmark = pytest.mark.integration

TEXT_KEYS = [
    k
    for k, c in zip(EVENT_KEYS, staging_events.columns, strict=True)
    if isinstance(c.type, sa.String)
]
INT_KEYS = ["itemInSession", "sessionId", "status", "ts", "userId"]
FLOAT_KEYS = ["length", "registration"]
T1 = 1541105830796


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path = tmp_path_factory.mktemp("native") / "warehouse.duckdb"
    engine = engine_for_url(f"duckdb:///{path}")
    schema.upgrade(engine)
    yield engine
    engine.dispose()


# -- values and records --------------------------------------------------------------------

#: Characters of 1, 2, 3 and 4 bytes in UTF-8, to put a text at, under and over a limit.
WIDE = ["a", "é", "€", "😀"]


@st.composite
def sized_texts(draw: st.DrawFn) -> str:
    """Text whose UTF-8 size is at, just under or just over 512 or 1024 bytes."""
    limit = draw(st.sampled_from([512, 1024]))
    target = limit + draw(st.sampled_from([-1, 0, 1, 3]))
    char = draw(st.sampled_from(WIDE))
    width = len(char.encode())
    return char * (target // width) + "a" * (target % width)


#: Text without NUL (an escaped NUL sends the whole file to the Python path: it has its
#: own cases) and without lone surrogates (no JSON encoder writes them).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(-1e300, 1e300),
    TEXT,
)
NESTED = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)
NUMBER_TEXTS = st.sampled_from(
    ["12", " 12 ", "+7", "-0", "007", "", "  ", "\u00a012", "\u300012\u2003", "1e3", "12.0",
     "1.5", " 2.5 ", ".5", "5.", "1_000", "١٢", "nan", "inf", "1e400", "-9223372036854775808",
     "9223372036854775808", "2147483648", "0x10", "12abc", "true"]
)  # fmt: skip
BIG_INTS = st.sampled_from(
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, TS_MIN_MS - 1, TS_MIN_MS,
     TS_MAX_MS, TS_MAX_MS + 1, 2**31 - 1, 2**31, -(2**31) - 1]
)  # fmt: skip
FLOATS = st.floats(-1e15, 1e15) | st.sampled_from(
    [0.0, -0.0, 12.0, 12.5, 1e16, 1e22, 1541105830796.0, 5e-324, 1.7976931348623157e308, 1e-7]
)


def weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """A value from one of ``choices``, picked in proportion to its weight."""
    pick = draw(st.integers(0, sum(w for w, _ in choices) - 1))
    for weight, strategy in choices:
        if pick < weight:
            return draw(strategy)
        pick -= weight
    raise AssertionError


@st.composite
def value_for(draw: st.DrawFn, key: str) -> Any:
    """The values a key may hold: mostly its own type, sometimes anything."""
    own: st.SearchStrategy[Any]
    if key in TEXT_KEYS:
        own = st.one_of(TEXT, sized_texts(), st.sampled_from(["", "[x]", "{x"]))
    elif key == "ts":
        own = st.integers(T1 - 10**6, T1 + 10**6)
    elif key in INT_KEYS:
        own = st.integers(-5, 5) | st.integers(0, 2**40) | st.integers(0, 10_000).map(str)
    else:
        own = st.one_of(FLOATS, st.integers(-(10**6), 10**6))
    return weighted(
        draw,
        (12, own),
        (2, NUMBER_TEXTS),
        (2, FLOATS),
        (1, BIG_INTS),
        (2, st.none()),
        (1, SCALARS),
        (1, NESTED),
    )


def clean_value(key: str) -> st.SearchStrategy[Any]:
    """A value the native path stages itself (what real log files hold)."""
    if key in TEXT_KEYS:
        return st.one_of(st.none(), TEXT, st.sampled_from(["NextSong", "Logged In", "Zürich 😀"]))
    if key == "ts":
        return st.integers(T1 - 10**6, T1 + 10**6)
    if key == "userId":
        return st.one_of(st.just(""), st.integers(1, 10_000).map(str))
    if key in INT_KEYS:
        return st.one_of(st.none(), st.integers(0, 2**40))
    return st.one_of(st.none(), st.floats(-1e15, 1e15))


@st.composite
def record_pairs(draw: st.DrawFn, clean: bool) -> list[tuple[str, Any]]:
    """A record as (key, value) pairs: keys missing, extra or duplicated, in any order."""
    pairs = [(k, draw(clean_value(k) if clean else value_for(k))) for k in EVENT_KEYS]
    if not clean:
        pairs = [p for p in pairs if p[0] in ("ts", "sessionId") or draw(st.integers(0, 9)) > 0]
        for _ in range(draw(st.integers(0, 2))):
            pairs.append(
                (draw(st.sampled_from(["extra", "TS", "userid", "ts ", "é"])), draw(NESTED))
            )
        if draw(st.integers(0, 5)) == 0:
            key = draw(st.sampled_from(EVENT_KEYS))
            pairs.append((key, draw(value_for(key))))
    return draw(st.permutations(pairs))


def render(pairs: list[tuple[str, Any]], ascii_only: bool, spaced: bool) -> str:
    """JSON text of the pairs (duplicates kept), compact or with spaces."""

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=ascii_only, allow_nan=False)

    sep, colon = (", ", ": ") if spaced else (",", ":")
    return "{" + sep.join(dumps(k) + colon + dumps(v) for k, v in pairs) + "}"


#: Lines that are not records the native path can read exactly.
ODD_LINES = [
    b"", b"   ", b"\t\r", b"\x0b", b"null", b"[1, 2]", b'"text"', b"12",
    b'{"ts": 1541105830796,}', b'{"ts": 1541105830796, "x": [1,]}', b'{"ts": NaN}',
    b'{"ts": 1541105830796, "x": -Infinity}', b'{"ts": 1541105830796, "x": 1e400}',
    b'{"ts": 1541105830796, "x": 123456789012345678901234567890}',
    b'{"ts": 1541105830796} {"ts": 1541105830797}', b'{"ts": 1541105830796', b"\xef\xbb\xbf{}",
    b'{"ts": "\xff"}', b'{"ts": 1541105830796, "x": "\\ud800"}', b'{"ts": 1541105830796}\x0c',
    b'{"ts": 1541105830796, "x": ' + b"[" * 1030 + b"]" * 1030 + b"}",
    b'{"ts": 1541105830796, "x": ' + b"[" * 130 + b"]" * 130 + b"}",
    b'{"ts": 1541105830796, "artist": "a\\u0000b"}', b'{"ts": 1541105830796, "x": "a\\u0000"}',
    b'{"ts":1541105830796,"ts":1}',
    b'{"\\u0074s": 1541105830796, "sessionId": 1}', b'{"ts": 1541105830796, "userId": "12"}\r',
]  # fmt: skip


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        pairs = draw(record_pairs(clean=kind <= 3))
        text = render(pairs, draw(st.booleans()), draw(st.booleans()))
        return text.encode("utf-8", "surrogatepass")
    if kind <= 7:
        pairs = draw(record_pairs(clean=False))
        if kind == 7:  # pretty-printed over several lines: the Python path's stream mode
            return json.dumps(dict(pairs), indent=2).encode("utf-8", "surrogatepass")
        text = render(pairs, True, False)
        cut = draw(st.integers(0, len(text)))
        return (text[:cut] + draw(st.sampled_from(["", "}", ",", "x", "]"])) + text[cut:]).encode()
    return draw(st.sampled_from(ODD_LINES))


@st.composite
def log_files(draw: st.DrawFn) -> list[bytes]:
    """1 to 3 log files; mostly clean, so that the native path stages some of them."""
    files = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 2)) == 0:
            body = [
                render(draw(record_pairs(clean=True)), False, False).encode()
                for _ in range(draw(st.integers(1, 5)))
            ]
        else:
            body = draw(st.lists(lines(), max_size=6))
        newline = draw(st.sampled_from([b"\n", b"\r\n"]))
        data = newline.join(body) + draw(st.sampled_from([b"", newline]))
        files.append(data)
    return files


# -- staging both ways -----------------------------------------------------------------------


def stage(
    engine: sa.Engine,
    root: Path,
    mode: str,
    max_errors: int,
    logs: Listing | None = None,
    *,
    songs: bool = False,
    after_listing: Callable[[], None] = lambda: None,
) -> tuple[Any, ...]:
    """Stage ``root/log_data`` (or ``logs``) into DuckDB, rolled back; what it staged, or
    how it stopped. With ``songs``, ``root/song_data`` too, and the rows of both tables.
    ``after_listing`` runs between the listing and the staging."""
    jsonpath = root / "log_json_path.json"
    paths = parse_jsonpaths(
        jsonpath.read_bytes(), str(jsonpath), table=staging_events, keys=EVENT_KEYS
    )
    logs = logs if logs is not None else Listing(list_sources(str(root / "log_data")))
    song_files = Listing(list_sources(str(root / "song_data"))) if songs else Listing([])
    plan = Plan(
        events=TableSources(staging_events, str(root / "log_data"), logs),
        songs=TableSources(staging_songs, str(root / "song_data"), song_files),
        jsonpath_uri=str(jsonpath),
        jsonpaths=tuple(paths),
    )
    after_listing()
    config = load_settings(environ={"SPARKIFY_DUCKDB_STAGING": mode}, database_url=str(engine.url))
    budget = ErrorBudget(max_errors)
    tables = (staging_songs, staging_events) if songs else (staging_events,)
    with engine.connect() as conn:
        conn.begin()
        try:
            stager_for("duckdb").stage(
                conn, plan, config, budget=budget, run_id="r", progress=NoProgress()
            )
        except (BadRecordError, TooManyBadRecordsError, SourceError) as exc:
            return ("stopped", type(exc).__name__, str(exc))
        finally:
            staged = [
                [tuple(r) for r in sorted(conn.execute(sa.select(table)).all(), key=repr)]
                for table in tables
            ]
            conn.rollback()
    errors = [(t, e.source, e.line, e.column, e.reason, e.raw) for t, e in budget.errors]
    return ("staged", staged if songs else staged[0], errors)


def write(root: Path, files: list[bytes]) -> None:
    (root / "log_data").mkdir(parents=True)
    for n, data in enumerate(files):
        (root / "log_data" / f"2018-11-{n + 1:02d}-events.json").write_bytes(data)
    (root / "log_json_path.json").write_text(json.dumps(JSONPATHS))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(files=log_files(), max_errors=st.sampled_from([0, 1, 3, 1000]))
def test_native_staging_gives_the_python_paths_rows_and_errors(
    engine: sa.Engine, files: list[bytes], max_errors: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root, files)
        native_outcome = stage(engine, root, "native", max_errors)
        python_outcome = stage(engine, root, "python", max_errors)
    assert native_outcome == python_outcome


# -- which files the native path stages --------------------------------------------------------

RULES = native.event_rules(
    parse_jsonpaths(json.dumps(JSONPATHS), "jsonpaths", table=staging_events, keys=EVENT_KEYS)
)


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_clean_log_files_are_staged_by_duckdbs_own_reader(
    engine: sa.Engine, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sources = fx.write_sources(tmp_path)
    files = [obj.uri for obj in list_sources(str(sources["log_data"]))]
    triage = native.triage_files(duck, files, RULES)
    assert (triage.native, triage.python, triage.rows) == (files, {}, 11)
    assert stage(engine, tmp_path, "native", 0) == stage(engine, tmp_path, "python", 0)


GOOD = event_line(event(T1, "15", 139, page="Home")).encode()
#: A line of each kind that sends its file to the Python path, and the reason why.
DECLINED = [
    (b'{"ts": 1541105830796, "sessionId": 1, "x": NaN}', "NaN, Infinity"),
    (b'{"ts": 1541105830796, "sessionId": 1, "x": [-inf]}', "NaN, Infinity"),
    (b'{"ts": 1541105830796, "sessionId": 1,}', "a trailing comma"),
    (b'{"ts": 1541105830796, "sessionId": 1, "x": 1e400}', "a number beyond a double"),
    (b'{"ts": 1541105830796, "sessionId": 1, "x": 18446744073709551616}', "beyond a double"),
    (b'{"ts": 1541105830796, "sessionId": 1}\x0b', "a vertical tab"),
    (b'\x0c{"ts": 1541105830796, "sessionId": 1}', "a form feed"),
    (b'{"ts": 1541105830796, "sessionId": 1, "x": "\\u0000"}', "an escaped NUL"),
    (b'{"ts": 1541105830796, "sessionId": 1, "ts": 1}', "DuckDB cannot read it"),
    (b'{"ts": 1541105830796, "sessionId": 1', "DuckDB cannot read it"),
    (b'{"ts": "\xff", "sessionId": 1}', "DuckDB cannot read it"),
    (b"[1, 2]", "DuckDB cannot read it"),
    (b"null", "sessionId is missing"),
    (b'{"ts": 1541105830796, "sessionId": "1.5"}', "sessionId: a float"),
    (b'{"ts": 1541105830796.0, "sessionId": 1}', "ts: a float"),
    (b'{"ts": 1541105830796, "sessionId": "x1"}', "sessionId: not an integer"),
    (b'{"ts": 1541105830796, "sessionId": 1, "userId": " 7a"}', "userId: not an integer"),
    (b'{"ts": 1541105830796, "sessionId": 1, "status": 2147483648}', "status: 2147483648 is out"),
    (b'{"ts": 253402300800000, "sessionId": 1}', "ts: 253402300800000 is outside"),
    (b'{"ts": 1541105830796, "sessionId": 1, "length": "abc"}', "length: not a number"),
    (b'{"ts": 1541105830796, "sessionId": 1, "song": {"a": 1}}', "song: a JSON object"),
    (b'{"ts": 1541105830796, "sessionId": 1, "auth": "' + b"x" * 513 + b'"}', "auth: value is 513"),
    (b'{"ts": 1541105830796, "sessionId": 1, "x": ' + b"[" * 1100 + b"]" * 1100 + b"}", "deeper"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "why"), DECLINED, ids=[why for _, why in DECLINED])
def test_a_file_the_native_path_cannot_stage_exactly_goes_to_the_python_path(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path, line: bytes, why: str
) -> None:
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_bytes(b"\n".join([GOOD, line, GOOD]))
    good.write_bytes(GOOD + b"\n" + GOOD)
    triage = native.triage_files(duck, [str(bad), str(good)], RULES)
    assert triage.native == [str(good)]
    assert why in triage.python[str(bad)]
    assert triage.rows == 2


def test_a_path_duckdb_would_read_as_a_glob_pattern_goes_to_the_python_path(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    odd = tmp_path / "log[1].json"
    odd.write_bytes(GOOD)
    (tmp_path / "log1.json").write_bytes(GOOD)
    triage = native.triage_files(duck, [str(odd)], RULES)
    assert triage.native == [] and "glob" in triage.python[str(odd)]


def test_numbers_given_as_text_are_staged_natively_as_the_python_path_stages_them(
    engine: sa.Engine, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        event(T1, " 7 ", 139, page="Home"),
        {**event(T1 + 1, "+8", 140, page="Home"), "length": "2.5"},
        event(T1 + 2, "\u00a0009", 141, page="Home", status=" 200"),
        {**event(T1 + 3, "", 142, page="Home"), "ts": str(T1 + 3), "registration": "1e3"},
        {**event(T1 + 4, "10", 143, page="Home"), "sessionId": "144", "itemInSession": "-0"},
        {**event(T1 + 5, "10", 145, page="Home"), "artist": 1.5, "song": 10**17, "level": True},
    ]
    write(tmp_path, [b"\n".join(event_line(r).encode() for r in records)])
    files = [obj.uri for obj in list_sources(str(tmp_path / "log_data"))]
    assert native.triage_files(duck, files, RULES).native == files
    staged = stage(engine, tmp_path, "native", 0)
    assert staged == stage(engine, tmp_path, "python", 0)
    by_ts = {row[15]: row for row in staged[1]}
    assert [by_ts[T1 + n][17] for n in range(6)] == [7, 8, 9, None, 10, 10]
    assert (by_ts[T1 + 5][0], by_ts[T1 + 5][13], by_ts[T1 + 5][7]) == ("1.5", str(10**17), "true")


def test_a_whole_float_into_an_integer_column_is_staged_by_the_python_path(
    engine: sa.Engine, duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # DuckDB's reader gives the float 1541105830796.0 and the text "1541105830796.0"
    # alike; Python takes the first and refuses the second.
    record = {**event(T1, "7", 139, page="Home"), "ts": float(T1), "itemInSession": 2.0}
    write(tmp_path, [event_line(record).encode()])
    files = [obj.uri for obj in list_sources(str(tmp_path / "log_data"))]
    assert "a float" in native.triage_files(duck, files, RULES).python[files[0]]
    staged = stage(engine, tmp_path, "native", 0)
    assert staged == stage(engine, tmp_path, "python", 0)
    assert [(row[4], row[15]) for row in staged[1]] == [(2, T1)]


def test_s3_log_objects_are_copied_beside_the_database_staged_natively_and_removed(
    s3_bucket: str, engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import boto3

    bad = event_line(event(T1 + 9, "x1", 150, page="Home")).encode()
    write(tmp_path, [GOOD + b"\n" + GOOD, GOOD + b"\n" + bad])
    client = boto3.client("s3", region_name="us-west-2")
    for path in sorted((tmp_path / "log_data").iterdir()):
        client.upload_file(str(path), s3_bucket, f"log_data/{path.name}")
    listing = Listing(list_sources(f"s3://{s3_bucket}/log_data"))
    outcomes = []
    for mode in ("native", "python"):
        with caplog.at_level("DEBUG", logger="sparkify.staging.duckdb_events"):
            outcomes.append(stage(engine, tmp_path, mode, 5, listing))
    assert outcomes[0] == outcomes[1]
    (_, rows, errors) = outcomes[0]
    assert len(rows) == 3
    assert [(e[1], e[2], e[3]) for e in errors] == [(listing[1].uri, 2, "user_id")]
    assert "1 of 2 log files staged natively" in caplog.text
    scratch = Path(str(engine.url.database) + ".sparkify-tmp")
    assert not scratch.exists() or not any(scratch.iterdir())


def test_a_path_with_quotes_spaces_and_accents_is_read_natively(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    odd = tmp_path / "l'été 2018" / "day 'one'.json"
    odd.parent.mkdir()
    odd.write_bytes(GOOD + b"\n" + GOOD)
    triage = native.triage_files(duck, [str(odd)], RULES)
    assert (triage.native, triage.rows) == ([str(odd)], 2)


def test_a_database_in_memory_stages_natively_too(tmp_path: Path) -> None:
    sources = fx.write_sources(tmp_path)
    engine = engine_for_url("duckdb:///:memory:")
    schema.upgrade(engine)
    try:
        report = load.run(engine, settings_for(engine, sources))
        python = load.run(
            engine, staged_by(settings_for(engine, sources), "duckdb-python"), mode="full"
        )
    finally:
        engine.dispose()
    assert report.staged == python.staged == {"staging_songs": 7, "staging_events": 11}


# -- the optimistic insert, and the careful staging after it declines -------------------------


def test_clean_log_files_are_read_once_by_the_insert_that_checks_them(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, [GOOD + b"\n" + GOOD, GOOD])

    def no_triage(*args: Any) -> native.Triage:
        raise AssertionError("clean files went through the triage")

    with monkeypatch.context() as patched:
        patched.setattr(native, "triage_files", no_triage)
        optimistic = stage(engine, tmp_path, "native", 0)
    assert optimistic == stage(engine, tmp_path, "python", 0)
    assert len(optimistic[1]) == 3


@pytest.mark.parametrize("max_errors", [0, 5])
@pytest.mark.parametrize(("line", "why"), DECLINED, ids=[why for _, why in DECLINED])
def test_a_file_the_optimistic_insert_declines_is_staged_again_carefully(
    engine: sa.Engine,
    duck: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    line: bytes,
    why: str,
    max_errors: int,
) -> None:
    write(tmp_path, [GOOD + b"\n" + GOOD, b"\n".join([GOOD, line, GOOD]), GOOD])
    triaged: list[list[str]] = []
    triage_files = native.triage_files

    def spy(duck: duckdb.DuckDBPyConnection, paths: list[str], rules: Any) -> native.Triage:
        triaged.append(paths)
        return triage_files(duck, paths, rules)

    with monkeypatch.context() as patched:
        patched.setattr(native, "triage_files", spy)
        outcome = stage(engine, tmp_path, "native", max_errors)
    assert outcome == stage(engine, tmp_path, "python", max_errors)
    # What the screen finds goes to the Python path at once; the rest fails the
    # optimistic insert, and the whole staging runs again through the triage.
    bad = str(tmp_path / "log_data" / "2018-11-02-events.json")
    assert bool(triaged) is not bool(native.screened(duck, [bad]))


def test_a_load_whose_optimistic_insert_declines_keeps_nothing_of_its_first_try(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    bad_song = sources["song_data"] / "A" / "B" / "C" / "TRBAD.json"
    bad_song.write_text(json.dumps({"song_id": "", "artist_id": "AR1", "title": "No id"}))
    day = sources["log_data"] / "2018" / "11" / "2018-11-02-events.json"
    day.write_bytes(day.read_bytes() + b"\n" + event_line(event(T1, "x7", 139)).encode())
    outcomes = []
    for backend in ("duckdb", "duckdb-python"):
        engine = engine_for_url(f"duckdb:///{tmp_path / backend}.duckdb")
        schema.upgrade(engine)
        try:
            settings = staged_by(settings_for(engine, sources), backend)
            with caplog.at_level("INFO", logger="sparkify.staging.duckdb"):
                report = load.run(engine, settings, max_errors=5)
            with engine.connect() as conn:
                tables = {
                    table.name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr)
                    for table in (staging_songs, staging_events)
                }
                errors = conn.execute(
                    sa.text(
                        "SELECT table_name, source, line, column_name, reason, raw_line "
                        "FROM load_errors ORDER BY table_name, source, line"
                    )
                ).all()
        finally:
            engine.dispose()
        outcomes.append((report.staged, report.skipped, tables, errors))
    assert outcomes[0] == outcomes[1]
    staged, skipped, _, errors = outcomes[0]
    assert staged == {"staging_songs": 7, "staging_events": 11} and skipped == 2
    assert [(e[0], e[1]) for e in errors] == [
        ("staging_events", str(day)),
        ("staging_songs", str(bad_song)),
    ]
    assert caplog.text.count("staging again, each log file checked first") == 1


def test_a_database_in_memory_stages_again_carefully_too(tmp_path: Path) -> None:
    sources = fx.write_sources(tmp_path)
    day = sources["log_data"] / "2018" / "11" / "2018-11-03-events.json"
    day.write_bytes(day.read_bytes() + b"\n" + event_line(event(T1, "x7", 139)).encode())
    engine = engine_for_url("duckdb:///:memory:")
    schema.upgrade(engine)
    try:
        report = load.run(engine, settings_for(engine, sources), max_errors=1)
        with engine.connect() as conn:
            logged = conn.execute(sa.text("SELECT source, line FROM load_errors")).all()
    finally:
        engine.dispose()
    assert report.staged == {"staging_songs": 7, "staging_events": 11}
    assert logged == [(str(day), day.read_bytes().count(b"\n") + 1)]


# -- the song files parsed in a thread while DuckDB inserts the log files ----------------------


def write_songs(root: Path, records: list[bytes]) -> list[Path]:
    paths = []
    for n, data in enumerate(records):
        path = root / "song_data" / "A" / "B" / f"TR{n:04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def song_json(n: int, **extra: Any) -> bytes:
    record = {"song_id": f"SO{n}", "artist_id": f"AR{n}", "title": f"Song {n}", "duration": 1.5}
    return json.dumps({**record, **extra}).encode()


NAN_LINE = b'{"ts": 1541105830796, "sessionId": 1, "userId": "x2", "x": NaN}'


@pytest.mark.parametrize("max_errors", [0, 1, 2, 3, 10])
def test_songs_parsed_beside_the_log_files_count_their_bad_records_first(
    engine: sa.Engine, tmp_path: Path, max_errors: int
) -> None:
    # Clean log files (DuckDB inserts them) and one the screen leaves to the Python
    # path with a bad record; song files with two bad records among good ones.
    write(tmp_path, [GOOD + b"\n" + GOOD, b"\n".join([GOOD, NAN_LINE]), GOOD])
    write_songs(
        tmp_path,
        [song_json(1), song_json(2, song_id=""), song_json(3), b"{not json", song_json(5)],
    )
    outcome = stage(engine, tmp_path, "native", max_errors, songs=True)
    assert outcome == stage(engine, tmp_path, "python", max_errors, songs=True)
    if max_errors == 0:
        assert outcome[:2] == ("stopped", "BadRecordError") and "TR0001.json" in outcome[2]
    elif max_errors < 3:
        assert outcome[:2] == ("stopped", "TooManyBadRecordsError")
    else:
        (_, (songs, events), errors) = outcome
        assert (len(songs), len(events)) == (3, 4)
        assert [(e[0], Path(e[1]).name, e[2]) for e in errors] == [
            ("staging_songs", "TR0001.json", 1),
            ("staging_songs", "TR0003.json", 1),
            ("staging_events", "2018-11-02-events.json", 2),
        ]


def test_a_song_file_gone_since_the_listing_stops_the_load_as_it_would_alone(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write(tmp_path, [GOOD + b"\n" + GOOD])
    songs = write_songs(tmp_path, [song_json(n) for n in range(4)])
    outcomes = []
    for mode in ("native", "python"):
        songs[2].write_bytes(song_json(2))
        outcomes.append(stage(engine, tmp_path, mode, 5, songs=True, after_listing=songs[2].unlink))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == ("stopped", "SourceError")
    assert f"{songs[2]}: no such file" in outcomes[0][2]


def test_the_song_files_progress_shows_first_then_the_log_files(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write(tmp_path, [GOOD + b"\n" + GOOD, b"\n".join([GOOD, NAN_LINE]), GOOD])
    write_songs(tmp_path, [song_json(n) for n in range(3)])
    told: list[tuple[str, ...]] = []

    class Recorder(NoProgress):
        def begin_table(self, table: str, objects: int, size: int) -> None:
            told.append(("begin", table, str(objects)))

        def advance(self, objects: int, size: int) -> None:
            told.append(("advance", str(objects)))

    jsonpath = tmp_path / "log_json_path.json"
    plan = Plan(
        events=TableSources(staging_events, "", Listing(list_sources(str(tmp_path / "log_data")))),
        songs=TableSources(staging_songs, "", Listing(list_sources(str(tmp_path / "song_data")))),
        jsonpath_uri=str(jsonpath),
        jsonpaths=tuple(
            parse_jsonpaths(jsonpath.read_bytes(), "j", table=staging_events, keys=EVENT_KEYS)
        ),
    )
    config = load_settings(environ={}, database_url=str(engine.url))
    with engine.connect() as conn:
        conn.begin()
        results = stager_for("duckdb").stage(
            conn, plan, config, budget=ErrorBudget(5), run_id="r", progress=Recorder()
        )
        conn.rollback()
    assert told == [
        ("begin", "staging_songs", "3"),
        ("advance", "1"),
        ("advance", "1"),
        ("advance", "1"),
        ("begin", "staging_events", "3"),
        ("advance", "2"),  # the two files DuckDB inserted
        ("advance", "1"),  # the one the Python path staged
    ]
    assert [(r.table, r.objects, r.rows) for r in results] == [
        ("staging_songs", 3, 3),
        ("staging_events", 3, 4),
    ]
