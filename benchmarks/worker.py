"""One measured load, in a process of its own: ``python -m benchmarks.worker < job.json``.

The parent (:mod:`benchmarks.run`) starts one worker per measured load, so the
peak RSS a worker reports (:func:`peak_rss_kb`) is that load's own: interpreter,
imports, engine and the load itself, nothing left over from an earlier run.
The job comes as JSON on stdin, the result goes as one JSON line on stdout.

Jobs:

* ``{"kind": "load", "url", "mode", "song_data", "log_data", "log_jsonpath",
  "exclude_last_log"}``: ``sparkify.load.run`` on the warehouse at ``url``. With
  ``exclude_last_log`` the plan leaves out the last (newest) log file, which
  builds the "month already loaded" warehouse of the incremental benchmark.
  The result names DuckDB's ``threads`` setting during the load
  (``duckdb_threads``, read from the engine after it; ``None`` on PostgreSQL):
  a ``?threads=N`` in a DuckDB URL sets it.
* ``{"kind": "rowwise", "conninfo", "song_data", "log_data", "max_events"}``:
  :func:`benchmarks.rowwise.load`.

Modules are imported inside the job functions, so a row-by-row worker never
loads sparkify, SQLAlchemy or DuckDB.
"""

from __future__ import annotations

import json
import resource
import sys
import time as clock
from pathlib import Path
from typing import Any


def run_load(job: dict[str, Any]) -> dict[str, Any]:
    """Run one ``sparkify.load.run`` and time it.

    Args:
        job: see the module docstring.

    Returns:
        The LoadReport's ``seconds``, ``staged``, ``inserted``, ``updated``,
        ``totals`` and the wall seconds of the ``run`` call (``wall``).
    """
    from dataclasses import replace

    from sparkify.config import load_settings
    from sparkify.db import engine_for_url
    from sparkify.load import run
    from sparkify.sources import Listing, plan_sources

    settings = load_settings(
        environ={},
        database_url=job["url"],
        song_data=job["song_data"],
        log_data=job["log_data"],
        log_jsonpath=job["log_jsonpath"],
    )
    engine = engine_for_url(settings.database_url)
    plan = None
    if job.get("exclude_last_log"):
        plan = plan_sources(settings)
        objects = sorted(plan.events.objects, key=lambda obj: obj.uri)
        plan = replace(plan, events=replace(plan.events, objects=Listing(objects[:-1])))
    try:
        started = clock.perf_counter()
        report = run(engine, settings, mode=job["mode"], plan=plan)
        wall = clock.perf_counter() - started
        threads = duckdb_threads(engine)
    finally:
        engine.dispose()
    return {
        "wall": wall,
        "seconds": report.seconds,
        "staged": report.staged,
        "inserted": report.inserted,
        "updated": report.updated,
        "totals": report.totals,
        "objects": report.objects,
        "duckdb_threads": threads,
    }


def duckdb_threads(engine: Any) -> int | None:
    """DuckDB's ``threads`` setting on the engine's connections (``None`` elsewhere)."""
    if engine.url.get_backend_name() != "duckdb":
        return None
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT current_setting('threads')").scalar_one())


def run_rowwise(job: dict[str, Any]) -> dict[str, Any]:
    """Run the row-by-row loader (:mod:`benchmarks.rowwise`).

    Args:
        job: see the module docstring.

    Returns:
        :meth:`benchmarks.rowwise.RowwiseReport.to_json`.
    """
    from benchmarks.rowwise import load

    report = load(
        job["conninfo"],
        Path(job["song_data"]),
        Path(job["log_data"]),
        max_events=job.get("max_events"),
    )
    return report.to_json()


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux keeps the larger of the
    process's and its parent's high-water mark across fork and ``execve``, so a
    worker started by a 150 MB parent reports at least 150 MB whatever it does
    (``RUSAGE_CHILDREN`` in the parent has the same flaw). ``VmHWM`` belongs to
    the address space ``execve`` created, so it is the worker's own peak. Falls
    back to ``ru_maxrss`` where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    """Read the job from stdin, run it, print the result (with ``peak_rss_kb``) as JSON."""
    job = json.loads(sys.stdin.read())
    if job["kind"] == "load":
        result = run_load(job)
    elif job["kind"] == "rowwise":
        result = run_rowwise(job)
    else:
        raise SystemExit(f"unknown job kind {job['kind']!r}")
    result["peak_rss_kb"] = peak_rss_kb()
    # For reference only: Linux carries ru_maxrss over from the parent through
    # fork/vfork and exec, so it is at least the parent's RSS (see peak_rss_kb).
    result["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
