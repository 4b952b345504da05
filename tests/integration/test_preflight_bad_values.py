"""`sparkify s3 check` on the bad values of issue 13: JSON nested deeper than the
loaders take, and JSONPaths files that Redshift takes but that cannot map the log
keys. Each is a failed check with a one-line reason, never a traceback, and the
JSONPaths rule is the loaders' own (one parser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkify.cli import main
from sparkify.preflight import EVENT_KEYS, check_sources
from tests.integration.test_preflight import (
    event,
    failed,
    good_files,
    settings_for,
    song,
    write_files,
)

pytestmark = pytest.mark.integration

SONG_SAMPLE = "song_data/A/A/A/TRAAA01.json"
LOG_SAMPLE = "log_data/2018/11/2018-11-01-events.json"


@pytest.fixture
def local(tmp_path: Path) -> Path:
    write_files(tmp_path, good_files())
    return tmp_path


def deep(record: dict[str, object], depth: int, indent: int | None = None) -> str:
    """``record`` with a key no loader reads holding arrays ``depth`` deep."""
    text = json.dumps({**record, "deep": "X"}, indent=indent)
    return text.replace('"X"', "[" * depth + "]" * depth)


def s3_check(root: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        [
            "s3",
            "check",
            "--song-data",
            str(root / "song_data"),
            "--log-data",
            str(root / "log_data"),
            "--log-jsonpath",
            str(root / "log_json_path.json"),
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("depth", [1100, 100_000])
@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "pretty"])
def test_a_song_sample_nested_too_deeply_is_reported_not_a_crash(
    local: Path, depth: int, indent: int | None
) -> None:
    (local / SONG_SAMPLE).write_text(deep(song("SO1"), depth, indent))
    problems = failed(check_sources(settings_for(str(local))))
    assert list(problems) == ["song_data sample"]
    assert problems["song_data sample"].startswith(f"{local / SONG_SAMPLE}: the record at line ")
    assert problems["song_data sample"].endswith(": JSON nested too deeply")
    code, out, err = s3_check(local)
    assert code == 1 and "JSON nested too deeply" in out and "Traceback" not in out + err


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_a_log_sample_nested_too_deeply_is_reported_not_a_crash(local: Path, depth: int) -> None:
    (local / LOG_SAMPLE).write_text(deep(event(), depth) + "\n" + json.dumps(event()))
    problems = failed(check_sources(settings_for(str(local))))
    assert problems == {
        "log_data sample": f"{local / LOG_SAMPLE}: the first line is JSON nested too deeply"
    }
    code, out, err = s3_check(local)
    assert code == 1 and "Traceback" not in out + err


def test_samples_as_deep_as_the_loaders_take_pass(local: Path) -> None:
    # 1,024 levels in all, orjson's limit: the record object and 1,023 arrays.
    (local / SONG_SAMPLE).write_text(deep(song("SO1"), 1023))
    (local / LOG_SAMPLE).write_text(deep(event(), 1023))
    report = check_sources(settings_for(str(local)))
    assert report.ok, str(report)


def test_a_jsonpaths_file_nested_too_deeply_is_reported(local: Path) -> None:
    (local / "log_json_path.json").write_text(
        '{"jsonpaths": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    problems = failed(check_sources(settings_for(str(local))))
    assert problems == {
        "log_jsonpath": f"{local}/log_json_path.json: not valid JSON (nested too deeply)"
    }


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("$.*", "path 18: '$.*' holds a wildcard"),
        ("$['userId']['x']", "path 18 is \"$['userId']['x']\", but column user_id takes the key"),
        ("$.nosuchkey", "path 18 is '$.nosuchkey', but column user_id takes the key 'userId'"),
        ("$['userId'][0]", "path 18 is \"$['userId'][0]\", but column user_id takes the key"),
    ],
)
def test_s3_check_refuses_jsonpaths_the_loaders_refuse(local: Path, path: str, says: str) -> None:
    paths = [f"$['{key}']" for key in EVENT_KEYS[:-1]] + [path]
    (local / "log_json_path.json").write_text(json.dumps({"jsonpaths": paths}))
    problems = failed(check_sources(settings_for(str(local))))
    assert list(problems) == ["log_jsonpath"]
    assert says in problems["log_jsonpath"]
    code, out, _ = s3_check(local)
    assert code == 1 and "log_jsonpath" in out
