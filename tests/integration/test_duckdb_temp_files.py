"""What a killed DuckDB load leaves on disk, the next load removes.

A DuckDB load writes its staging rows to files of its own and DuckDB spills to
``<database>.tmp`` beyond its memory limit. A SIGKILL leaves both behind; they
are kept beside the database file, where the next load, once it holds the
file's lock (so no other load can be running), finds and removes them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkify import schema
from sparkify.db import engine_for_url
from sparkify.models import staging_songs
from sparkify.staging.duckdb import DuckDBStager, remove_leftovers
from tests import contract_fixtures as fx
from tests.integration.test_crash_and_concurrency import ROOT, runner
from tests.warehouse import make_engine

pytestmark = pytest.mark.integration

#: A DuckDB process that spills to ``<database>.tmp``, then dies by SIGKILL.
SPILL_THEN_DIE = """
import os, signal, sys, duckdb
db = duckdb.connect(sys.argv[1])
db.execute("SET memory_limit = '64MB'")
db.execute("SET threads = 1")
db.execute("BEGIN")
db.execute("CREATE TEMP TABLE spilled AS SELECT range AS i, md5(range::VARCHAR) AS s "
           "FROM range(3000000)")
os.kill(os.getpid(), signal.SIGKILL)
"""


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def run(command: list[str], systemp: Path) -> subprocess.CompletedProcess[str]:
    """Run with the system temp folder at ``systemp``, so what lands there is ours to see."""
    environ = {**os.environ, "TMPDIR": str(systemp)}
    return subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_load_after_a_killed_one_removes_its_staging_files_and_duckdb_spill(
    pg_url: sa.URL, tmp_path: Path
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    engine.dispose()
    database = Path(engine.url.database or "")
    systemp = tmp_path / "systemp"
    systemp.mkdir()

    killed = run(runner(engine, sources, "--kill-at", "staging"), systemp)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    spilled = run([sys.executable, "-c", SPILL_THEN_DIE, str(database)], systemp)
    assert spilled.returncode == -signal.SIGKILL, spilled.stderr
    assert files_under(Path(f"{database}.tmp")), "the killed DuckDB process spilled nothing"
    assert files_under(systemp) == []  # the staging file is beside the database, not there
    assert files_under(Path(f"{database}.sparkify-tmp")), "the killed load left no staging file"

    rerun = run(runner(engine, sources), systemp)

    assert rerun.returncode == 0, rerun.stderr
    assert "loaded 8 objects" in rerun.stdout
    assert files_under(systemp) == []
    assert not Path(f"{database}.tmp").exists()
    assert not Path(f"{database}.sparkify-tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [database.name, "sources", "systemp"]
    )


def test_a_second_load_refused_by_the_file_lock_leaves_the_running_loads_files_alone(
    pg_url: sa.URL, tmp_path: Path
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    engine = make_engine("duckdb", pg_url, tmp_path, build=True)
    engine.dispose()
    scratch = Path(f"{engine.url.database}.sparkify-tmp")
    ready, release = tmp_path / "ready", tmp_path / "release"
    command = runner(engine, sources, "--pause-at", "staging")
    first = subprocess.Popen(
        [*command, "--ready", str(ready), "--release", str(release)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not ready.exists():
            assert first.poll() is None, first.communicate()
        staging_files = files_under(scratch)
        assert staging_files, "the paused load writes no staging file"
        second = run(runner(engine, sources, "--no-wait"), tmp_path)
        assert second.returncode == 1 and "a load is in progress" in second.stderr
        assert files_under(scratch) == staging_files
    finally:
        release.write_text("go")
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert not scratch.exists()


def test_the_cleanup_in_a_process_spares_the_staging_files_it_is_writing(
    tmp_path: Path,
) -> None:
    engine = engine_for_url(f"duckdb:///{tmp_path / 'w.duckdb'}")
    schema.upgrade(engine)
    stager = DuckDBStager()
    song = fx.song("SOX", "Title", "ARX", "Artist", 1.0)
    with engine.connect() as conn:
        with stager.sink(conn, staging_songs) as write:
            scratch = tmp_path / "w.duckdb.sparkify-tmp"
            (live,) = files_under(scratch)
            (scratch / "sparkify-staging_events-dead.ndjson").write_text("[]\n")
            with engine.connect() as other:
                remove_leftovers(other)
            assert files_under(scratch) == [live]
            write(tuple(song[column.name] for column in staging_songs.columns))
        rows = conn.execute(sa.select(sa.func.count()).select_from(staging_songs))
        assert rows.scalar_one() == 1
    assert not scratch.exists()
    engine.dispose()
