"""``sparkify generate``: its messages speak in the command's own flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkify.cli import main

pytestmark = pytest.mark.e2e

SMALL = ["--events", "20", "--songs", "5", "--users", "3", "--days", "1"]


def test_generate_into_a_non_empty_folder_names_the_force_flag(tmp_path: Path) -> None:
    first = CliRunner().invoke(main, ["generate", str(tmp_path), *SMALL])
    assert first.exit_code == 0, first.output

    again = CliRunner().invoke(main, ["generate", str(tmp_path), *SMALL])

    assert again.exit_code == 1
    lines = [line for line in again.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), again.output
    assert "--force" in lines[0]
    assert "overwrite=True" not in lines[0]
    assert CliRunner().invoke(main, ["generate", str(tmp_path), *SMALL, "--force"]).exit_code == 0
