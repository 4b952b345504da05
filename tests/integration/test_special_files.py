"""Only regular files are sources: a FIFO or a device named ``*.json`` is left out.

Reading a FIFO blocks until something writes to it, and a device such as
``/dev/zero`` never ends: either would hang a load or eat its memory. The
processes below run with a time limit and a cap on their address space, so the
old behaviour fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from sparkify.sources import list_sources, read_one
from tests import contract_fixtures as fx

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: Address space a child process may take (DuckDB and Python need far less).
MEMORY_CAP = 3 << 30


def plant_special_files(folder: Path) -> None:
    """A FIFO and a link to /dev/zero, named as sources and sorted before the real ones."""
    os.mkfifo(folder / "0-fifo.json")
    (folder / "0-zero.json").symlink_to("/dev/zero")


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=capped,  # the child only caps its own address space
    )


def test_a_fifo_or_a_device_named_json_is_not_a_source_but_a_link_to_a_file_is(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "log_data"
    folder.mkdir()
    (folder / "day.json").write_text("{}\n")
    (tmp_path / "elsewhere.json").write_text("{}\n")
    (folder / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    plant_special_files(folder)

    found = [Path(obj.uri).name for obj in list_sources(str(folder))]

    assert found == ["day.json", "linked.json"]


def test_a_load_beside_a_fifo_and_a_device_finishes_and_loads_the_real_files(
    tmp_path: Path,
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    plant_special_files(sources["log_data"])
    plant_special_files(sources["song_data"])
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    built = run_capped("-m", "sparkify.cli", "create-tables", "--database-url", url)
    assert built.returncode == 0, built.stderr

    loaded = run_capped(
        "-m",
        "tests.load_runner",
        url,
        str(sources["song_data"]),
        str(sources["log_data"]),
        str(sources["log_jsonpath"]),
    )

    assert loaded.returncode == 0, loaded.stderr
    assert "loaded 8 objects" in loaded.stdout


def test_s3_check_neither_hangs_on_a_fifo_among_the_sources_nor_reads_one_as_jsonpaths(
    tmp_path: Path,
) -> None:
    sources = fx.write_sources(tmp_path / "sources")
    plant_special_files(sources["log_data"])
    plant_special_files(sources["song_data"])
    options = ["--song-data", str(sources["song_data"]), "--log-data", str(sources["log_data"])]

    jsonpaths = ["--log-jsonpath", str(sources["log_jsonpath"])]
    fine = run_capped("-m", "sparkify.cli", "s3", "check", *options, *jsonpaths)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "0-fifo.json" not in fine.stdout and "0-zero.json" not in fine.stdout

    os.mkfifo(tmp_path / "paths.json")
    (tmp_path / "zero-paths.json").symlink_to("/dev/zero")
    for special in ("paths.json", "zero-paths.json"):
        refused = run_capped(
            "-m", "sparkify.cli", "s3", "check", *options, "--log-jsonpath", str(tmp_path / special)
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "not a regular file" in refused.stdout, refused.stdout
        assert "Traceback" not in refused.stderr


def test_a_jsonpaths_file_that_is_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text(json.dumps(fx.JSONPATHS))
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")

    assert json.loads(read_one(str(tmp_path / "link.json"))) == fx.JSONPATHS
