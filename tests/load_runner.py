"""A load in a process of its own, for crash and concurrency tests.

    python -m tests.load_runner URL SONGS LOGS JSONPATH [--schema S]
        [--kill-at STEP] [--pause-at STEP --ready FILE --release FILE] [--no-wait]

``--kill-at`` sends SIGKILL to this very process when the load reaches STEP
(``staging``: after the first staged object; a transform step name; ``commit``:
just before COMMIT), so the load dies as abruptly as a crash. ``--pause-at``
stops at STEP while holding the load lock, writes READY and waits for RELEASE.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sparkify import load
from sparkify.config import load_settings
from sparkify.db import engine_for_url
from sparkify.errors import SparkifyError


class Trap:
    """A Progress that kills or pauses the process at a named point."""

    def __init__(
        self, kill_at: str | None, pause_at: str | None, ready: str | None, release: str | None
    ) -> None:
        self.kill_at, self.pause_at = kill_at, pause_at
        self.ready, self.release = ready, release

    def _reached(self, point: str) -> None:
        if point == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if point == self.pause_at and self.ready and self.release:
            Path(self.ready).write_text("holding the load lock")
            deadline = time.monotonic() + 60
            while not Path(self.release).exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def begin_table(self, table: str, objects: int, size: int) -> None:
        self._reached(f"begin {table}")

    def advance(self, objects: int, size: int) -> None:
        self._reached("staging")

    def begin_step(self, name: str) -> None:
        self._reached(name)

    def notice(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def wait_until_paused(proc: subprocess.Popen[str], ready: Path, timeout: float = 60) -> None:
    """Wait for a ``--pause-at`` load to write READY; fail if it dies or never gets there."""
    deadline = time.monotonic() + timeout
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the load never reached its pause"
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("url", "songs", "logs", "jsonpath"):
        parser.add_argument(name)
    parser.add_argument("--schema")
    parser.add_argument("--mode", default="incremental")
    parser.add_argument("--kill-at")
    parser.add_argument("--pause-at")
    parser.add_argument("--ready")
    parser.add_argument("--release")
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args()
    settings = load_settings(
        environ={},
        database_url=args.url,
        song_data=args.songs,
        log_data=args.logs,
        log_jsonpath=args.jsonpath,
        schema=args.schema,
    )
    engine = engine_for_url(args.url, schema=args.schema)
    try:
        report = load.run(
            engine,
            settings,
            mode=args.mode,
            wait=not args.no_wait,
            lock_timeout=60,
            progress=Trap(args.kill_at, args.pause_at, args.ready, args.release),
        )
    except SparkifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"loaded {sum(report.objects.values())} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
