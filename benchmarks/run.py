"""Benchmark sparkify's loads on DuckDB and PostgreSQL: ``uv run python -m benchmarks.run``.

For each size (generated data, cached in ``benchmarks/data/<size>-<seed>/``),
backend and mode it runs ``--repeat`` measured loads, each in a fresh worker
process (:mod:`benchmarks.worker`) on a fresh warehouse, then prints the medians
per step, events per second and peak RSS next to the issue's targets, and writes
``benchmarks/results/<date>-<host>.md`` and ``.json``. The row-by-row baseline
(:mod:`benchmarks.rowwise`) runs at the smallest size. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time as clock
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.report import (
    OTHER_STEPS,
    SIZES,
    Row,
    RowwiseRow,
    Run,
    Size,
    Summary,
    build_summary,
    console_report,
    load_table,
    markdown_table,
    rowwise_section,
    spread_table,
    summarize_rowwise,
    targets_table,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / "benchmarks" / "data"
DEFAULT_RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("duckdb", "postgresql")
MODES = ("full", "incremental")
#: The row-by-row baseline runs at the smallest selected size up to this many events.
ROWWISE_MAX_DEFAULT_EVENTS = SIZES["small"].events
MARKER = "generated.json"


class BenchmarkError(Exception):
    """The benchmark cannot go on (a worker failed, PostgreSQL is unreachable...)."""


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
        help="comma-separated load modes (default: full,incremental)",
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


# --------------------------------------------------------------------------- warehouses


@dataclass(frozen=True)
class Warehouse:
    """A fresh warehouse: a DuckDB file or a PostgreSQL database of its own."""

    backend: str
    url: sa.URL
    name: str
    path: Path | None = None

    @property
    def url_text(self) -> str:
        """The URL with its password, for the worker (sent on stdin, never in argv)."""
        return self.url.render_as_string(hide_password=False)

    @property
    def conninfo(self) -> str:
        """A libpq URL (PostgreSQL only), for the row-by-row loader."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Warehouses:
    """Creates and drops warehouses: DuckDB files in ``work_dir``, PostgreSQL databases.

    PostgreSQL databases are named ``bench_<random>`` and created through the
    admin URL; every one this object creates is dropped when it closes.
    """

    def __init__(self, admin_url: sa.URL, work_dir: Path) -> None:
        """Remember where to create warehouses (nothing is connected yet)."""
        self.admin_url = admin_url
        self.work_dir = work_dir
        self._admin: sa.Engine | None = None
        self._databases: set[str] = set()

    def admin(self) -> sa.Engine:
        """An autocommit engine on the admin database."""
        if self._admin is None:
            self._admin = sa.create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
            )
            try:
                with self._admin.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            except sa.exc.OperationalError as exc:
                where = self.admin_url.render_as_string(hide_password=True)
                reason = (str(exc.orig).strip().splitlines() or ["no reason given"])[0]
                raise BenchmarkError(
                    f"PostgreSQL is not reachable at {where} ({reason}); "
                    "start it or pass --postgres-url (or --backends duckdb)"
                ) from None
        return self._admin

    def server_version(self) -> str:
        """PostgreSQL's ``server_version``."""
        with self.admin().connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())

    def create(self, backend: str, *, template: Warehouse | None = None) -> Warehouse:
        """A new warehouse, empty or a copy of ``template`` (schema not built)."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        if backend == "duckdb":
            path = self.work_dir / f"{name}.duckdb"
            if template is not None and template.path is not None:
                shutil.copyfile(template.path, path)
                wal = template.path.with_name(template.path.name + ".wal")
                if wal.exists():
                    shutil.copyfile(wal, path.with_name(path.name + ".wal"))
            return Warehouse(backend, sa.make_url(f"duckdb:///{path}"), name, path)
        quoted = f'"{name}"'
        statement = f"CREATE DATABASE {quoted}"
        if template is not None:
            statement += f' TEMPLATE "{template.name}"'
        self._create_database(statement)
        self._databases.add(name)
        return Warehouse(backend, self.admin_url.set(database=name), name)

    def _create_database(self, statement: str) -> None:
        # A template must have no other sessions: an autovacuum worker may still be
        # finishing there; PostgreSQL stops it, but give it a few tries.
        for attempt in range(5):
            try:
                with self.admin().connect() as conn:
                    conn.exec_driver_sql(statement)
                return
            except sa.exc.OperationalError as exc:
                if "being accessed by other users" not in str(exc) or attempt == 4:
                    raise
                clock.sleep(1.0)

    def build(self, warehouse: Warehouse) -> None:
        """Build the schema with sparkify's migrations (``schema.upgrade``)."""
        from sparkify import schema
        from sparkify.db import engine_for_url

        engine = engine_for_url(warehouse.url, poolclass=sa.pool.NullPool)
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()

    def settle(self, warehouse: Warehouse) -> None:
        """After a setup load: ``VACUUM ANALYZE`` (PostgreSQL), as autovacuum would have."""
        if warehouse.backend != "postgresql":
            return
        engine = sa.create_engine(
            warehouse.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        finally:
            engine.dispose()

    def checkpoint(self, warehouse: Warehouse) -> None:
        """Before a measured PostgreSQL run: ``CHECKPOINT``, best effort.

        Flushes what earlier runs and ``CREATE DATABASE`` left dirty, so that work
        does not land inside the next measurement (needs superuser or
        ``pg_checkpoint``; skipped without).
        """
        if warehouse.backend != "postgresql":
            return
        try:
            with self.admin().connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
        except sa.exc.DBAPIError:
            pass

    def drop(self, warehouse: Warehouse) -> None:
        """Delete a warehouse (file or database)."""
        if warehouse.path is not None:
            for path in (warehouse.path, warehouse.path.with_name(warehouse.path.name + ".wal")):
                path.unlink(missing_ok=True)
            return
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{warehouse.name}" WITH (FORCE)')
        self._databases.discard(warehouse.name)

    @contextmanager
    def fresh(self, backend: str) -> Iterator[Warehouse]:
        """A new warehouse with the schema built, dropped afterwards."""
        warehouse = self.create(backend)
        try:
            self.build(warehouse)
            yield warehouse
        finally:
            self.drop(warehouse)

    @contextmanager
    def copy_of(self, template: Warehouse) -> Iterator[Warehouse]:
        """A new warehouse holding what ``template`` holds, dropped afterwards."""
        warehouse = self.create(template.backend, template=template)
        try:
            yield warehouse
        finally:
            self.drop(warehouse)

    def close(self) -> None:
        """Drop any database still left and release the admin engine."""
        if self._admin is not None:
            for name in sorted(self._databases):
                with self._admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._databases.clear()
            self._admin.dispose()
            self._admin = None


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
    warehouse: Warehouse, folder: Path, mode: str, *, exclude_last: bool = False
) -> dict[str, Any]:
    return {
        "kind": "load",
        "url": warehouse.url_text,
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


# --------------------------------------------------------------------------- machine


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


# --------------------------------------------------------------------------- results


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
    """The results file: machine, sizes, medians, spreads, baseline, targets."""
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
            "peak (`VmHWM`, MB = 10^6 bytes). Incremental rows load the last day's "
            "file on top of the other days.",
            load_table(summary),
            "## Spread (min / median / max)",
            spread_table(summary),
            "## Row-by-row baseline",
            rowwise_section(summary),
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
        },
        "summary": [_row_json(row) for row in summary.rows],
        "rowwise": _rowwise_json(summary.rowwise),
        "ratio_vs_rowwise": summary.ratio,
        "targets": [asdict(t) for t in summary.targets],
        "runs": [asdict(run) for run in runs],
        "rowwise_runs": list(rowwise_results),
    }
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md_path, json_path


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
    per_size = len(args.backends) * len(args.modes) * args.repeat
    status = 0
    facts: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sparkify-bench-", dir=args.work_dir) as tmp:
        warehouses = Warehouses(sa.make_url(args.postgres_url), Path(tmp))
        bench = Bench(args, warehouses, Path(tmp), runs=[], rowwise_results=[])
        bench.steps = per_size * len(args.sizes) + (args.rowwise_repeat if rw_size else 0)
        try:
            facts = machine_facts(warehouses if "postgresql" in args.backends else None)
            folders = {}
            for name in dict.fromkeys([*args.sizes, *([rw_size] if rw_size else [])]):
                folders[name] = ensure_data(SIZES[name], args.seed, args.data_dir)
            # The row-by-row runs take turns with sparkify's PostgreSQL full loads
            # of their size when both are measured; otherwise they come last.
            side_by_side = rw_size in args.sizes and "full" in args.modes
            for name in args.sizes:
                for backend in args.backends:
                    if "full" in args.modes:
                        if side_by_side and name == rw_size and backend == "postgresql":
                            bench.measure_full_and_rowwise(SIZES[name], folders[name])
                        else:
                            bench.measure_full(SIZES[name], backend, folders[name])
                    if "incremental" in args.modes:
                        bench.measure_incremental(SIZES[name], backend, folders[name])
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
    if not bench.runs and not bench.rowwise_results:
        return status or 1
    if status:
        log("reporting the runs measured so far")
    rowwise = summarize_rowwise(rw_size, bench.rowwise_results) if rw_size else None
    summary = build_summary(bench.runs, rowwise)
    print(console_report(summary, repeat=args.repeat))
    md_path, json_path = write_results(
        args.results_dir, summary, facts, args, bench.runs, bench.rowwise_results, command
    )
    print(f"\nResults: {md_path}\n         {json_path}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
