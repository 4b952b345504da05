"""The results files (``<date>-<host>.md`` and ``.json``) and the machine they describe."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.measures import OTHER_STEPS, SIZES, Row, RowwiseRow, Run
from benchmarks.report import (
    Summary,
    load_table,
    markdown_table,
    rowwise_section,
    scaling_section,
    spread_table,
    startup_section,
    targets_table,
)

if TYPE_CHECKING:
    from benchmarks.warehouses import Warehouses

ROOT = Path(__file__).resolve().parent.parent


def machine_facts(warehouses: Warehouses | None) -> dict[str, str]:
    """CPU, cores, RAM, OS and versions, for the results file."""
    facts = {
        "host": socket.gethostname(),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count() or "?"),
        "RAM": _ram(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "DuckDB": _version("duckdb"),
        "SQLAlchemy": _version("sqlalchemy"),
        "psycopg": _version("psycopg"),
        "PostgreSQL": "not used",
        "sparkify commit": _commit(),
        "load average at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }
    if warehouses is not None:
        facts["PostgreSQL"] = warehouses.server_version()
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return proc.stdout.strip() or "unknown"


def _row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    data["events_per_second"] = row.events_per_second
    return data


def _rowwise_json(row: RowwiseRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = asdict(row)
    data["capped"] = row.capped
    data["events_per_second"] = row.events_per_second
    return data


def results_markdown(
    summary: Summary, facts: dict[str, str], args: argparse.Namespace, command: str
) -> str:
    """The results file: machine, sizes, medians, spreads, threads, baseline, start-up, targets."""
    machine = markdown_table(("", ""), [[k, v] for k, v in facts.items()])
    sizes = markdown_table(
        ("size", "events", "songs", "users", "days"),
        [
            [s.name, f"{s.events:,}", f"{s.songs:,}", f"{s.users:,}", str(s.days)]
            for s in (SIZES[name] for name in args.sizes)
        ],
        right=(1, 2, 3, 4),
    )
    return "\n\n".join(
        [
            f"# sparkify load benchmark: {dt.date.today().isoformat()} on {facts['host']}",
            f"Command: `{command}`",
            "## Machine",
            machine,
            "## Data",
            sizes,
            f"## Loads (median of {args.repeat} run(s))",
            "Wall seconds per step from `LoadReport.seconds`; `other` is "
            f"{OTHER_STEPS}; `total` is the wall time of `sparkify.load.run`; events/s "
            "is events staged / median total; peak RSS is the worker process's own "
            "peak (`VmHWM`, MB = 10^6 bytes). `full` rows are `--full-refresh` loads "
            "on a fresh warehouse; `first` rows a plain `sparkify etl` (incremental) on "
            "freshly created, empty tables; `incremental` rows load the last day's "
            "file on top of the other days; `full threads=N` rows are DuckDB full "
            "loads with `?threads=N` in the URL.",
            load_table(summary),
            "## Spread (min / median / max)",
            spread_table(summary),
            "## DuckDB thread scaling",
            scaling_section(summary),
            "## Row-by-row baseline",
            rowwise_section(summary),
            "## CLI start-up",
            startup_section(summary),
            "## Targets",
            targets_table(summary),
        ]
    )


def write_results(
    results_dir: Path,
    summary: Summary,
    facts: dict[str, str],
    args: argparse.Namespace,
    runs: Sequence[Run],
    rowwise_results: Sequence[dict[str, Any]],
    command: str,
) -> tuple[Path, Path]:
    """Write ``<date>-<host>.md`` and ``.json`` into ``results_dir``; return their paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    host = "".join(c if c.isalnum() or c in "-_." else "_" for c in facts["host"])
    stem = results_dir / f"{dt.date.today().isoformat()}-{host}"
    md_path, json_path = stem.with_suffix(".md"), stem.with_suffix(".json")
    md_path.write_text(results_markdown(summary, facts, args, command) + "\n", encoding="utf-8")
    data = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": facts,
        "settings": {
            "sizes": {name: asdict(SIZES[name]) for name in args.sizes},
            "backends": args.backends,
            "modes": args.modes,
            "repeat": args.repeat,
            "seed": args.seed,
            "rowwise_events": args.rowwise_events,
            "rowwise_repeat": args.rowwise_repeat,
            "duckdb_threads": args.duckdb_threads,
            "startup_repeat": args.startup_repeat,
        },
        "summary": [_row_json(row) for row in summary.rows],
        "rowwise": _rowwise_json(summary.rowwise),
        "ratio_vs_rowwise": summary.ratio,
        "startup": [asdict(row) for row in summary.startup],
        "targets": [asdict(t) for t in summary.targets],
        "runs": [asdict(run) for run in runs],
        "rowwise_runs": list(rowwise_results),
    }
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md_path, json_path
