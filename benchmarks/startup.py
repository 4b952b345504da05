"""The CLI's start-up: the installed ``sparkify`` console script, timed from outside.

Issue 15 asks for ``sparkify --version`` and ``sparkify --help`` within 0.3 s,
"measured on the installed console script with bytecode compiled". The script
is the one next to this interpreter (``.venv/bin/sparkify`` under ``uv run``);
each argument list first runs once untimed, which compiles (and caches) the
bytecode of every module it imports, then ``repeat`` times, each a new process
timed from start to exit, as a user's shell would see it.
"""

from __future__ import annotations

import subprocess
import sys
import time as clock
from collections.abc import Sequence
from pathlib import Path

#: The argument lists timed.
STARTUP_ARGS = ("--version", "--help")


def console_script() -> Path | None:
    """The ``sparkify`` console script installed beside this interpreter, if any."""
    script = Path(sys.executable).parent / "sparkify"
    return script if script.is_file() else None


def time_startup(
    script: Path, cwd: Path, repeat: int, args_lists: Sequence[str] = STARTUP_ARGS
) -> dict[str, list[float]]:
    """Wall seconds of ``repeat`` starts of ``script ARGS`` per argument list, after a warm-up.

    Raises:
        RuntimeError: a start exited non-zero (its stderr's last line is the message).
    """
    timings: dict[str, list[float]] = {}
    for args in args_lists:
        argv = [str(script), *args.split()]
        _start(argv, cwd)  # untimed: writes the bytecode caches the timed runs read
        seconds = []
        for _ in range(repeat):
            started = clock.perf_counter()
            _start(argv, cwd)
            seconds.append(clock.perf_counter() - started)
        timings[args] = seconds
    return timings


def _start(argv: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {last}")
