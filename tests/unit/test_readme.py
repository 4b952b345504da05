"""The README says what the code does: its commands exist, its first lines run the main job."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest

from sparkify.cli import main
from sparkify.config import _SOURCES

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_opens_with_the_demo_and_the_test_command() -> None:
    first_block = README.split("```")[1]
    assert "uv run sparkify demo" in first_block
    assert "\ntests/run " in first_block


def test_the_test_command_installs_chromium_and_the_extras_then_runs_pytest() -> None:
    script = ROOT / "tests" / "run"
    text = script.read_text()
    assert os.access(script, os.X_OK)
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert "apt-get install -y -qq --no-install-recommends chromium" in text
    assert "uv sync --locked --all-extras" in text
    assert text.rstrip().endswith('exec uv run pytest "$@"')
    assert "\ntests/run\n" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_shows_the_report_screenshot() -> None:
    assert "![The report of a demo warehouse](docs/report.png)" in README
    assert (ROOT / "docs" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_command_in_the_readme_table_exists_with_its_options() -> None:
    for command_text in re.findall(r"^\| `sparkify ([a-z][a-z0-9 -]*?)[ `]", README, re.MULTILINE):
        words = command_text.split()
        command: click.Command = main
        for word in words:
            if isinstance(command, click.Group):
                command = command.get_command(click.Context(command), word) or command
        assert command is not main, f"README names `sparkify {command_text}`, which does not exist"
    etl = main.get_command(click.Context(main), "etl")
    assert etl is not None
    flags = {opt for param in etl.params for opt in (*param.opts, *param.secondary_opts)}
    for flag in ("--full-refresh", "--max-errors", "--wait", "--no-wait", "--lock-timeout"):
        assert flag in flags and flag in README


def test_every_cli_command_is_in_the_readme() -> None:
    for name in main.list_commands(click.Context(main)):
        assert f"`sparkify {name}" in README, f"sparkify {name} is missing from the README"


def test_the_configuration_table_names_every_source_setting() -> None:
    for env, section, key in _SOURCES.values():
        assert f"`{env}`" in README and f"`[{section}]` {key}" in README
