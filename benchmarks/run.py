"""Benchmark sparkify's loads on DuckDB and PostgreSQL: ``uv run python -m benchmarks.run``.

It first times the installed ``sparkify`` console script's start-up
(:mod:`benchmarks.startup`). Then, for each size (generated data, cached in
``benchmarks/data/<size>-<seed>/``), backend and mode (``full``, ``first``,
``incremental``; on DuckDB also full loads at set thread counts) it runs
``--repeat`` measured loads, each in a fresh worker process
(:mod:`benchmarks.worker`) on a fresh warehouse, then prints the medians per
step, events per second and peak RSS next to the issues' targets
(:mod:`benchmarks.targets`), and writes ``benchmarks/results/<date>-<host>.md``
and ``.json`` (:mod:`benchmarks.results`). The row-by-row baseline
(:mod:`benchmarks.rowwise`) runs at the smallest size. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.measures import (
    MODES,
    SIZES,
    Run,
    Size,
    StartupRow,
    summarize_rowwise,
    summarize_startup,
    threads_mode,
)
from benchmarks.report import build_summary, console_report
from benchmarks.results import machine_facts, write_results
from benchmarks.startup import console_script, time_startup
from benchmarks.warehouses import BenchmarkError, Warehouse, Warehouses

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / "benchmarks" / "data"
DEFAULT_RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("duckdb", "postgresql")
#: The row-by-row baseline runs at the smallest selected size up to this many events.
ROWWISE_MAX_DEFAULT_EVENTS = SIZES["small"].events
MARKER = "generated.json"
#: DuckDB thread counts of the thread-scaling rows, by default.
DEFAULT_DUCKDB_THREADS = (1, 2)


def log(message: str) -> None:
    """Progress on stderr (stdout holds the tables)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def _names(value: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or value!r}; choose from {', '.join(allowed)}"
        )
    return list(dict.fromkeys(names))


def _thread_counts(value: str) -> list[int]:
    if value.strip().lower() == "none":
        return []
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts are numbers from 1, or none: {value!r}")
    return sorted(set(counts))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time sparkify's full and incremental loads on DuckDB and PostgreSQL.",
    )
    sizes = ", ".join(f"{s.name} ({s.label})" for s in SIZES.values())
    parser.add_argument(
        "--sizes",
        type=lambda v: _names(v, list(SIZES), "size"),
        default=["small", "medium", "large"],
        help=f"comma-separated sizes, from: {sizes} (default: small,medium,large)",
    )
    parser.add_argument(
        "--backends",
        type=lambda v: _names(v, BACKENDS, "backend"),
        default=list(BACKENDS),
        help="comma-separated backends (default: duckdb,postgresql)",
    )
    parser.add_argument(
        "--modes",
        type=lambda v: _names(v, MODES, "mode"),
        default=list(MODES),
        help="comma-separated load modes: full (--full-refresh), first (a plain etl on "
        "empty tables), incremental (a day on a loaded month) (default: all three)",
    )
    parser.add_argument(
        "--duckdb-threads",
        type=_thread_counts,
        default=list(DEFAULT_DUCKDB_THREADS),
        metavar="N,N|none",
        help="DuckDB thread counts of the thread-scaling rows: a DuckDB full load per "
        "count and size, with ?threads=N in the URL; a count equal to DuckDB's default "
        "is the full row itself (default: 1,2)",
    )
    parser.add_argument(
        "--startup-repeat",
        type=int,
        default=10,
        metavar="N",
        help="timed starts of the installed `sparkify --version` and `--help` (0: skip; "
        "default 10)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measured runs per row; medians shown (default 3)"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="admin URL: a database per run is created (and dropped) next to it "
        f"(default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="cache of generated data, <size>-<seed>/ per size (default benchmarks/data)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help="where <date>-<host>.md and .json go (default benchmarks/results)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the DuckDB warehouse files go (default: a temporary folder)",
    )
    parser.add_argument(
        "--rowwise-events",
        type=int,
        default=None,
        help="time the row-by-row loader on the first N events only and extrapolate "
        "its log phase linearly (default: all events)",
    )
    parser.add_argument(
        "--rowwise-size",
        choices=list(SIZES),
        default=None,
        help="size of the row-by-row baseline (default: small if selected, else the "
        "smallest selected size of at most 100k events)",
    )
    parser.add_argument(
        "--rowwise-repeat",
        type=int,
        default=3,
        help="row-by-row runs, taking turns with sparkify's PostgreSQL full loads of "
        "their size (default 3)",
    )
    parser.add_argument("--no-rowwise", action="store_true", help="skip the row-by-row baseline")
    args = parser.parse_args(argv)
    if args.startup_repeat < 0:
        parser.error("--startup-repeat must be at least 0")
    if args.repeat < 1 or args.rowwise_repeat < 1:
        parser.error("--repeat and --rowwise-repeat must be at least 1")
    if args.rowwise_events is not None and args.rowwise_events < 1:
        parser.error("--rowwise-events must be at least 1")
    args.sizes = sorted(args.sizes, key=lambda name: SIZES[name].events)
    return args


def rowwise_size(args: argparse.Namespace) -> str | None:
    """The size the row-by-row baseline runs at, or ``None`` when it does not run."""
    if args.no_rowwise or "postgresql" not in args.backends:
        return None
    if args.rowwise_size:
        return str(args.rowwise_size)
    if "small" in args.sizes:
        return "small"
    small_enough = [s for s in args.sizes if SIZES[s].events <= ROWWISE_MAX_DEFAULT_EVENTS]
    return small_enough[0] if small_enough else None


# --------------------------------------------------------------------------- data


def ensure_data(size: Size, seed: int, data_dir: Path) -> Path:
    """The generated data of a size, generated into ``data_dir/<size>-<seed>/`` if missing.

    A folder counts as generated when its ``generated.json`` marker (written
    last) names the same parameters; anything else there is replaced.
    """
    from sparkify.generate import generate

    folder = data_dir / f"{size.name}-{seed}"
    marker = folder / MARKER
    params = {
        "events": size.events,
        "songs": size.songs,
        "users": size.users,
        "days": size.days,
        "seed": seed,
    }
    if marker.is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")).get("params") == params:
                return folder
        except (ValueError, AttributeError):
            pass
        marker.unlink()
    log(f"generating {size.name} ({size.label}, {size.days} days) into {folder} ...")
    report = generate(
        folder,
        events=size.events,
        songs=size.songs,
        users=size.users,
        days=size.days,
        seed=seed,
        overwrite=True,
    )
    marker.write_text(
        json.dumps({"params": params, "bytes": report.bytes_written, "users": report.users}),
        encoding="utf-8",
    )
    log(f"  {report.bytes_written / 1e6:,.1f} MB in {report.seconds:.1f} s")
    return folder


# --------------------------------------------------------------------------- workers


def run_worker(job: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run one job in a fresh ``python -m benchmarks.worker`` process; return its JSON.

    The worker runs in ``cwd`` (so no ``./dwh.cfg`` is read) with this checkout
    first on ``PYTHONPATH``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BenchmarkError(f"the {job['kind']} worker failed (exit {proc.returncode}):\n{tail}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise BenchmarkError(f"the {job['kind']} worker printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _sources(folder: Path) -> dict[str, str]:
    return {
        "song_data": str(folder / "song_data"),
        "log_data": str(folder / "log_data"),
        "log_jsonpath": str(folder / "log_json_path.json"),
    }


def _load_job(
    warehouse: Warehouse,
    folder: Path,
    mode: str,
    *,
    exclude_last: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    url = warehouse.url
    if threads is not None:  # DuckDB's own setting, passed through the URL by duckdb_engine
        url = url.update_query_dict({"threads": str(threads)})
    return {
        "kind": "load",
        "url": url.render_as_string(hide_password=False),
        "mode": mode,
        "exclude_last_log": exclude_last,
        **_sources(folder),
    }


def _describe(result: dict[str, Any]) -> str:
    events = int(result["staged"].get("staging_events", 0))
    wall = float(result["wall"])
    rss = int(result["peak_rss_kb"]) * 1024 / 1e6
    return f"{wall:.2f} s, {events:,} events, {events / wall:,.0f} events/s, peak RSS {rss:.0f} MB"


@dataclass
class Bench:
    """One benchmark session: its arguments, warehouses and what was measured."""

    args: argparse.Namespace
    warehouses: Warehouses
    cwd: Path
    runs: list[Run]
    rowwise_results: list[dict[str, Any]]
    step: int = 0
    steps: int = 0

    def tick(self, what: str) -> str:
        """``[3/12] what`` for the progress lines."""
        self.step += 1
        return f"[{self.step}/{self.steps}] {what}"

    def measure_size(
        self, size: Size, folder: Path, thread_counts: Sequence[int], rowwise: bool
    ) -> None:
        """Every selected backend and mode at one size, the row-by-row runs if ``rowwise``."""
        for backend in self.args.backends:
            if "full" in self.args.modes:
                if rowwise and backend == "postgresql":
                    self.measure_full_and_rowwise(size, folder)
                else:
                    self.measure_full(size, backend, folder)
            if backend == "duckdb":
                for threads in thread_counts:
                    self.measure_threads(size, folder, threads)
            if "first" in self.args.modes:
                self.measure_first(size, backend, folder)
            if "incremental" in self.args.modes:
                self.measure_incremental(size, backend, folder)

    def measure_full(self, size: Size, backend: str, folder: Path) -> None:
        """``--repeat`` full loads, each on a fresh warehouse in a fresh process."""
        for repeat in range(1, self.args.repeat + 1):
            self.full_once(size, backend, folder, repeat)

    def measure_full_and_rowwise(self, size: Size, folder: Path) -> None:
        """PostgreSQL full loads and row-by-row loads of one size, taking turns.

        The ratio compares the two loaders' medians, so they are measured side by
        side: whatever else the machine is doing slows both alike, which it would
        not if one ran minutes (and several bigger loads) after the other.
        """
        for repeat in range(1, max(self.args.repeat, self.args.rowwise_repeat) + 1):
            if repeat <= self.args.repeat:
                self.full_once(size, "postgresql", folder, repeat)
            if repeat <= self.args.rowwise_repeat:
                self.rowwise_once(size, folder, repeat)

    def full_once(self, size: Size, backend: str, folder: Path, repeat: int) -> None:
        """One full load on a fresh warehouse in a fresh process."""
        label = self.tick(f"{size.name} {backend} full #{repeat}")
        with self.warehouses.fresh(backend) as warehouse:
            self.warehouses.checkpoint(warehouse)
            result = run_worker(_load_job(warehouse, folder, "full"), self.cwd)
        self.runs.append(Run(size.name, backend, "full", repeat, result))
        log(f"{label}: {_describe(result)}")

    def measure_threads(self, size: Size, folder: Path, threads: int) -> None:
        """``--repeat`` DuckDB full loads with ``threads`` threads (``?threads=N`` in the URL)."""
        mode = threads_mode(threads)
        for repeat in range(1, self.args.repeat + 1):
            label = self.tick(f"{size.name} duckdb {mode} #{repeat}")
            with self.warehouses.fresh("duckdb") as warehouse:
                job = _load_job(warehouse, folder, "full", threads=threads)
                result = run_worker(job, self.cwd)
            if result.get("duckdb_threads") != threads:
                raise BenchmarkError(
                    f"DuckDB ran with threads={result.get('duckdb_threads')}, "
                    f"not the {threads} the URL set"
                )
            self.runs.append(Run(size.name, "duckdb", mode, repeat, result))
            log(f"{label}: {_describe(result)}")

    def measure_first(self, size: Size, backend: str, folder: Path) -> None:
        """``--repeat`` first plain loads: ``sparkify etl`` (incremental) on empty tables.

        What a user runs first: ``sparkify create-tables`` (the migrations, here
        ``schema.upgrade``, not timed), then ``sparkify etl`` without
        ``--full-refresh``. Every source is new to the ledger, so it loads them all.
        """
        for repeat in range(1, self.args.repeat + 1):
            label = self.tick(f"{size.name} {backend} first #{repeat}")
            with self.warehouses.fresh(backend) as warehouse:
                self.warehouses.checkpoint(warehouse)
                result = run_worker(_load_job(warehouse, folder, "incremental"), self.cwd)
            if result["objects"].get("staging_events") != size.days:
                raise BenchmarkError(
                    f"the first load staged {result['objects']} objects, "
                    f"expected all {size.days} log files"
                )
            self.runs.append(Run(size.name, backend, "first", repeat, result))
            log(f"{label}: {_describe(result)}")

    def measure_incremental(self, size: Size, backend: str, folder: Path) -> None:
        """``--repeat`` incremental loads of the last day on top of the other days.

        The "month already loaded" warehouse is built once (a full load of every
        song file and all log files but the newest, in a worker of its own, not
        timed); each measured run gets a fresh copy of it (PostgreSQL: ``CREATE
        DATABASE ... TEMPLATE``; DuckDB: a file copy) and loads incrementally,
        which picks up only the newest log file.
        """
        with self.warehouses.fresh(backend) as base:
            started = clock.perf_counter()
            result = run_worker(_load_job(base, folder, "full", exclude_last=True), self.cwd)
            self.warehouses.settle(base)
            log(
                f"      {size.name} {backend}: loaded the first {size.days - 1} days as the "
                f"base of the incremental runs ({clock.perf_counter() - started:.1f} s, not timed)"
            )
            for repeat in range(1, self.args.repeat + 1):
                label = self.tick(f"{size.name} {backend} incremental #{repeat}")
                with self.warehouses.copy_of(base) as warehouse:
                    self.warehouses.checkpoint(warehouse)
                    result = run_worker(_load_job(warehouse, folder, "incremental"), self.cwd)
                if result["objects"].get("staging_events") != 1:
                    raise BenchmarkError(
                        f"the incremental load staged {result['objects']} objects, "
                        "expected the one newest log file"
                    )
                self.runs.append(Run(size.name, backend, "incremental", repeat, result))
                log(f"{label}: {_describe(result)}")

    def measure_rowwise(self, size: Size, folder: Path) -> None:
        """``--rowwise-repeat`` row-by-row loads into fresh PostgreSQL databases."""
        for repeat in range(1, self.args.rowwise_repeat + 1):
            self.rowwise_once(size, folder, repeat)

    def rowwise_once(self, size: Size, folder: Path, repeat: int) -> None:
        """One row-by-row load into a fresh PostgreSQL database, in a fresh process."""
        label = self.tick(f"{size.name} postgresql row-by-row #{repeat}")
        with self.warehouses.fresh("postgresql") as warehouse:
            self.warehouses.checkpoint(warehouse)
            job = {
                "kind": "rowwise",
                "conninfo": warehouse.conninfo,
                "max_events": self.args.rowwise_events,
                **_sources(folder),
            }
            result = run_worker(job, self.cwd)
        self.rowwise_results.append(result)
        seconds = float(result["estimated_seconds"])
        capped = " (estimated)" if result["capped"] else ""
        log(
            f"{label}: {seconds:.2f} s{capped}, {result['events']:,} of "
            f"{result['events_total']:,} events timed, "
            f"{result['events_total'] / seconds:,.0f} events/s"
        )


# --------------------------------------------------------------------------- threads, start-up


def duckdb_default_threads() -> int:
    """DuckDB's ``threads`` when nothing sets it (the cores it sees)."""
    import duckdb

    with duckdb.connect() as conn:
        row = conn.execute("SELECT current_setting('threads')").fetchone()
    return int(row[0]) if row else 1


def extra_thread_counts(args: argparse.Namespace) -> list[int]:
    """The ``--duckdb-threads`` counts that need runs of their own.

    A count equal to DuckDB's default is what the ``full`` rows run with: they
    stand for it in the thread-scaling table, unless full loads are not selected.
    """
    if "duckdb" not in args.backends or not args.duckdb_threads:
        return []
    default = duckdb_default_threads() if "full" in args.modes else None
    return [n for n in args.duckdb_threads if n != default]


def measure_startup(repeat: int, cwd: Path) -> list[StartupRow]:
    """Time the console script's ``--version`` and ``--help``; none when ``repeat`` is 0."""
    if repeat == 0:
        return []
    script = console_script()
    if script is None:
        log(f"no sparkify console script beside {sys.executable}: start-up not measured")
        return []
    try:
        timings = time_startup(script, cwd, repeat)
    except RuntimeError as exc:
        raise BenchmarkError(str(exc)) from None
    rows = summarize_startup(timings)
    for row in rows:
        log(
            f"start-up: {script} {row.args}: median {row.seconds.median:.3f} s "
            f"of {row.runs} (min {row.seconds.low:.3f}, max {row.seconds.high:.3f})"
        )
    return rows


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables; write the results files.

    Args:
        argv: the arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        0 when every load ran (whatever the targets say); 1 on an error, 130 when
        interrupted (the runs measured until then are still reported).
    """
    args = parse_args(argv)
    command = shlex.join(
        ["uv", "run", "python", "-m", "benchmarks.run", *(sys.argv[1:] if argv is None else argv)]
    )
    rw_size = rowwise_size(args)
    thread_counts = extra_thread_counts(args)
    per_size = (len(args.backends) * len(args.modes) + len(thread_counts)) * args.repeat
    status = 0
    facts: dict[str, str] = {}
    startup: list[StartupRow] = []
    with tempfile.TemporaryDirectory(prefix="sparkify-bench-", dir=args.work_dir) as tmp:
        warehouses = Warehouses(sa.make_url(args.postgres_url), Path(tmp))
        bench = Bench(args, warehouses, Path(tmp), runs=[], rowwise_results=[])
        bench.steps = per_size * len(args.sizes) + (args.rowwise_repeat if rw_size else 0)
        try:
            facts = machine_facts(warehouses if "postgresql" in args.backends else None)
            startup = measure_startup(args.startup_repeat, Path(tmp))
            folders = {}
            for name in dict.fromkeys([*args.sizes, *([rw_size] if rw_size else [])]):
                folders[name] = ensure_data(SIZES[name], args.seed, args.data_dir)
            # The row-by-row runs take turns with sparkify's PostgreSQL full loads
            # of their size when both are measured; otherwise they come last.
            side_by_side = rw_size in args.sizes and "full" in args.modes
            for name in args.sizes:
                rowwise_here = side_by_side and name == rw_size
                bench.measure_size(SIZES[name], folders[name], thread_counts, rowwise_here)
            if rw_size and not side_by_side:
                bench.measure_rowwise(SIZES[rw_size], folders[rw_size])
        except BenchmarkError as exc:
            log(f"error: {exc}")
            status = 1
        except sa.exc.DBAPIError as exc:
            log(f"error: {str(exc.orig).strip() or type(exc.orig).__name__}")
            status = 1
        except KeyboardInterrupt:
            log("interrupted")
            status = 130
        finally:
            warehouses.close()
    if not bench.runs and not bench.rowwise_results and not startup:
        return status or 1
    if status:
        log("reporting the runs measured so far")
    rowwise = summarize_rowwise(rw_size, bench.rowwise_results) if rw_size else None
    summary = build_summary(bench.runs, rowwise, startup)
    print(console_report(summary, repeat=args.repeat))
    md_path, json_path = write_results(
        args.results_dir, summary, facts, args, bench.runs, bench.rowwise_results, command
    )
    print(f"\nResults: {md_path}\n         {json_path}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
