"""The real Udacity sample (../shared/data/udacity) loads with the known counts on both backends.

The project's own tests do not depend on it (tests/contract_fixtures.py and the
generator make their data); this one checks the real thing when it is present.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify import load, schema
from sparkify.config import load_settings
from tests.warehouse import make_engine, star_snapshot

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "udacity"
EXPECTED = {
    "staging_events": 8056,
    "staging_songs": 71,
    "songplays": 6820,
    "users": 97,
    "songs": 71,
    "artists": 69,
    "time": 6813,
}


@pytest.fixture(scope="module")
def snapshots(pg_url: sa.URL, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not (SAMPLE / "log_json_path.json").is_file():
        pytest.skip(f"the Udacity sample is not at {SAMPLE} (it lives in the workplace's shared/)")
    found: dict[str, object] = {}
    for backend in ("postgresql", "duckdb"):
        engine = make_engine(backend, pg_url, tmp_path_factory.mktemp(backend))
        schema.upgrade(
            engine, schema=engine.get_execution_options().get("schema_translate_map", {}).get(None)
        )
        settings = load_settings(
            environ={},
            database_url=engine.url.render_as_string(hide_password=False),
            song_data=str(SAMPLE / "song_data"),
            log_data=str(SAMPLE / "log_data"),
            log_jsonpath=str(SAMPLE / "log_json_path.json"),
        )
        report = load.run(engine, settings)
        found[backend] = (report, star_snapshot(engine))
        engine.dispose()
    return found


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_the_sample_loads_with_the_known_counts(snapshots: dict[str, object], backend: str) -> None:
    report, _ = snapshots[backend]  # type: ignore[misc]
    assert report.totals == EXPECTED


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_exactly_one_sample_songplay_matches_a_song(
    snapshots: dict[str, object], backend: str
) -> None:
    _, tables = snapshots[backend]  # type: ignore[misc]
    matched = [r for r in tables["songplays"] if r[3] is not None]
    assert [(r[1], r[3], r[4]) for r in matched] == [
        (15, "SOZCTXZ12AB0182364", "AR5KOSW1187FB35FF4")
    ]


def test_both_backends_build_identical_tables_from_the_sample(snapshots: dict[str, object]) -> None:
    (_, pg), (_, duck) = snapshots["postgresql"], snapshots["duckdb"]  # type: ignore[misc]
    assert pg == duck


def test_sample_users_carry_their_latest_level(snapshots: dict[str, object]) -> None:
    _, tables = snapshots["duckdb"]  # type: ignore[misc]
    levels = [r[4] for r in tables["users"]]
    assert (levels.count("free"), levels.count("paid")) == (75, 22)
