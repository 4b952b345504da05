"""Every command against every kind of failure, through the real CLI in processes of its own.

The README promises that a failure the user can act on prints one line
starting with ``error:`` and exits 1 (130 after Ctrl-C): no traceback, no
password, no file created, no table changed (but for the one row a failed ``etl``
leaves in ``load_runs``, where it can write it). Each case below sets a failure up
(a closed port, a database or schema that does not exist, a DuckDB path in a
missing folder, a file that is read-only or not DuckDB, bad URL options, a
malformed port, a file locked by a running load, a warehouse not built, an
unwritable charts folder, source paths that look like rich markup, Ctrl-C at
points before and after COMMIT), runs the commands it concerns as
``python -m sparkify.cli`` (at once, each on its own copy of a DuckDB file
where they would meet), and checks every promise: the exit code, stderr, and a
snapshot of the case's folder and of the PostgreSQL database before and after.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkify import history, load
from sparkify.db import engine_for_url
from sparkify.models import load_ledger, songplays
from tests import contract_fixtures as fx
from tests.load_runner import wait_until_paused
from tests.warehouse import make_engine, schema_name, settings_for, star_snapshot

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: The password every PostgreSQL URL carries (the local server trusts loopback,
#: so it is never checked): it must never appear in any output.
SECRET = "pw-S3cret-7f3a"
COMMANDS = ("etl", "counts", "check", "analyze", "report", "create-tables")
READERS = ("counts", "check", "analyze", "report")


@dataclass
class Outcome:
    """What one command did."""

    args: list[str]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"sparkify {' '.join(self.args)}\nexit {self.code}\nstderr:\n{self.err}"


@dataclass
class World:
    """What every case needs: sources, built warehouses, the PostgreSQL server."""

    sources: dict[str, Path]
    loaded_duckdb: Path  # a DuckDB warehouse with the fixture loaded
    empty_duckdb: Path  # a DuckDB warehouse built, no rows
    expected: dict[str, list[tuple[Any, ...]]]  # the loaded warehouse's tables
    pg_url: sa.URL  # the session's database, with SECRET as password
    pg_schema: str  # a schema there with the fixture loaded
    reports: Path  # where `sparkify report` writes, outside every case's folder

    def source_args(self, **replace: str) -> list[str]:
        paths = {name: str(path) for name, path in self.sources.items()}
        paths.update(replace)
        return [
            "--song-data",
            paths["song_data"],
            "--log-data",
            paths["log_data"],
            "--log-jsonpath",
            paths["log_jsonpath"],
        ]

    def pg(self, **parts: Any) -> str:
        url = self.pg_url.set(**parts) if parts else self.pg_url
        return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_url: sa.URL) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    sources = fx.write_sources(root / "sources")
    empty = make_engine("duckdb", pg_url, root, build=True)
    empty.dispose()
    loaded = make_engine("duckdb", pg_url, root, build=True)
    load.run(loaded, settings_for(loaded, sources))
    expected = star_snapshot(loaded)
    loaded.dispose()
    pg = make_engine("postgresql", pg_url, root, build=True)
    load.run(pg, settings_for(pg, sources))
    pg.dispose()
    name = schema_name(pg)
    assert name is not None
    yield World(
        sources=sources,
        loaded_duckdb=Path(str(loaded.url.database)),
        empty_duckdb=Path(str(empty.url.database)),
        expected=expected,
        pg_url=pg_url.set(password=SECRET),
        pg_schema=name,
        reports=root / "reports",
    )


# --- running the CLI --------------------------------------------------------------------


def environment() -> dict[str, str]:
    """This environment without sparkify's settings; tests/ importable for the runners."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"  # rich wraps at the terminal width; one line stays one line
    return env


def run_at_once(commands: list[list[str]], cwd: Path) -> list[Outcome]:
    """Run ``python -m sparkify.cli ARGS`` for each command, all at once, in ``cwd``."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sparkify.cli", *args],
            cwd=cwd,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outcomes = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=180)
        outcomes.append(Outcome(args, proc.returncode, out, err))
    return outcomes


# --- what must not change ---------------------------------------------------------------


def files(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``: its contents' hash (folders: "dir")."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def pg_state(world: World) -> dict[str, Any]:
    """The tables of every schema of the test database, and the loaded warehouse's rows."""
    admin = engine_for_url(world.pg_url)
    with admin.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).all()
    admin.dispose()
    warehouse = engine_for_url(world.pg_url, schema=world.pg_schema)
    rows = star_snapshot(warehouse)
    warehouse.dispose()
    return {"tables": tables, "rows": rows}


# --- the cases --------------------------------------------------------------------------


@dataclass
class Scene:
    """One case set up: the commands to run, what to expect, what to watch."""

    commands: list[list[str]]
    expect_code: list[int] = field(default_factory=list)  # per command; default 1
    expect_text: str | None = None  # in the error line of every failing command
    watch_pg: bool = False
    after: Callable[[list[Outcome]], None] | None = None  # extra checks
    ignore: tuple[str, ...] = ()  # files a case may change (a running load's)
    #: Commands (by index) that report a failure as a table on stdout, not an error
    #: line: ``s3 check`` (its FAIL rows), exit 1 and nothing on stderr.
    reports: tuple[int, ...] = ()


def every(
    commands: tuple[str, ...], *args: str, world: World, etl: tuple[str, ...] = ()
) -> list[list[str]]:
    """Each command with ``args``; etl also gets the sources (and ``etl`` options).

    The commands that take the load lock (etl, create-tables) get ``--no-wait``:
    their waiting is tested in tests/integration/test_commands_during_a_load.py.
    ``report`` writes a file of its own in ``world.reports`` (which must not appear
    when it fails).
    """
    world.reports.mkdir(exist_ok=True)
    return [
        [
            c,
            *([str(world.reports / f"{uuid.uuid4().hex}.html")] if c == "report" else []),
            *args,
            *([*world.source_args(), "--no-wait", *etl] if c == "etl" else []),
            *(["--no-wait"] if c == "create-tables" else []),
        ]
        for c in commands
    ]


def duckdb_copies(
    world: World, folder: Path, commands: tuple[str, ...], template: Path | None = None
) -> dict[str, Path]:
    """A copy of the loaded DuckDB warehouse per command, so that they never meet."""
    copies = {}
    for command in commands:
        copies[command] = folder / f"{command}.duckdb"
        shutil.copyfile(template or world.loaded_duckdb, copies[command])
    return copies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_scene(world: World, kind: str, folder: Path) -> Scene:
    schema = ["--schema", world.pg_schema]
    if kind == "closed_port":
        return Scene(every(COMMANDS, "--database-url", world.pg(port=free_port()), world=world))
    if kind == "no_database":
        url = world.pg(database=f"no_such_db_{uuid.uuid4().hex[:6]}")
        return Scene(every(COMMANDS, "--database-url", url, *schema, world=world), watch_pg=True)
    if kind == "bad_url_options":
        url = world.pg_url.update_query_dict({"bogus_option": "1"}).render_as_string(False)
        return Scene(every(COMMANDS, "--database-url", url, *schema, world=world), watch_pg=True)
    if kind == "malformed_port":
        url = world.pg().replace(f":{world.pg_url.port}/", ":54x32/")
        assert ":54x32/" in url
        return Scene(every(COMMANDS, "--database-url", url, world=world), expect_text="URL")
    if kind == "missing_schema":
        args = ["--database-url", world.pg(), "--schema", f"no_such_{uuid.uuid4().hex[:6]}"]
        return Scene(every(COMMANDS, *args, world=world), watch_pg=True)
    if kind == "not_built":  # a schema without the warehouse's tables
        name = f"empty_{uuid.uuid4().hex[:6]}"
        admin = engine_for_url(world.pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        admin.dispose()
        args = ["--database-url", world.pg(), "--schema", name]
        return Scene(
            every(READERS, *args, world=world),
            expect_text="no warehouse at",
            watch_pg=True,
        )
    raise AssertionError(kind)


def duckdb_scene(world: World, kind: str, folder: Path) -> Scene:
    def url(path: Path | str) -> str:
        return f"duckdb:///{path}"

    if kind == "missing_folder":
        return Scene(
            every(COMMANDS, "--database-url", url(folder / "missing" / "w.duckdb"), world=world)
        )
    if kind == "not_built":  # no file at all: readers and etl must not create one
        return Scene(
            every((*READERS, "etl"), "--database-url", url(folder / "w.duckdb"), world=world),
            expect_text="no warehouse at",
        )
    if kind == "not_duckdb":
        (folder / "w.duckdb").write_text("not a database\n")
        return Scene(every(COMMANDS, "--database-url", url(folder / "w.duckdb"), world=world))
    if kind == "read_only":
        copies = duckdb_copies(world, folder, COMMANDS)
        for path in copies.values():
            make_read_only(path)
        return Scene(
            [every((c,), "--database-url", url(p), world=world)[0] for c, p in copies.items()],
            # Reading a read-only warehouse is no failure: the readers open it read-only.
            expect_code=[0 if c in READERS else 1 for c in copies],
        )
    if kind == "missing_schema":
        copies = duckdb_copies(world, folder, COMMANDS)
        return Scene(
            [
                every((c,), "--database-url", url(p), "--schema", "no_such", world=world)[0]
                for c, p in copies.items()
            ]
        )
    if kind == "bad_url_options":
        copies = duckdb_copies(world, folder, COMMANDS)
        return Scene(
            [
                every((c,), "--database-url", url(p) + "?bogus_option=1", world=world)[0]
                for c, p in copies.items()
            ]
        )
    if kind == "charts_unwritable":
        (folder / "a-file").write_text("")
        copies = duckdb_copies(world, folder, ("under-a-file", "in-proc"))
        return Scene(
            [
                [
                    "analyze",
                    "--database-url",
                    url(copies["under-a-file"]),
                    "--charts",
                    str(folder / "a-file" / "charts"),
                ],
                [
                    "analyze",
                    "--database-url",
                    url(copies["in-proc"]),
                    "--charts",
                    f"/proc/sparkify-charts-{uuid.uuid4().hex[:6]}",
                ],
            ],
            expect_text="cannot write",
        )
    if kind == "markup_in_paths":
        tricky = folder / "a[" / "x]" / "[bold]songs[/bold]"
        present = fx.write_sources(folder / "b[" / "x]" / "[bold]here")
        copy = duckdb_copies(world, folder, ("etl",))["etl"]

        def after(outcomes: list[Outcome]) -> None:
            markup_shown_as_text(outcomes, tricky, present)
            only_a_failed_run_recorded(world, copy, str(tricky))

        return Scene(
            [
                ["etl", "--database-url", url(copy), *world.source_args(song_data=str(tricky))],
                ["s3", "check", *world.source_args(song_data=str(tricky))],
                ["s3", "check", *world.source_args(**{k: str(v) for k, v in present.items()})],
            ],
            expect_code=[1, 1, 0],
            reports=(1,),
            after=after,
            ignore=("etl.duckdb",),  # its load_runs row: checked by only_a_failed_run_recorded
        )
    raise AssertionError(kind)


def markup_shown_as_text(outcomes: list[Outcome], tricky: Path, present: dict[str, Path]) -> None:
    etl, missing, ok = outcomes
    assert str(tricky) in etl.err, etl
    # s3 check reports in its table (stdout): the paths appear as they are.
    assert str(tricky) in missing.out.replace("\n", ""), missing.out
    assert "FAIL" in missing.out and not missing.err.strip(), missing
    assert "[bold]here" in ok.out, ok.out


def only_a_failed_run_recorded(world: World, database: Path, text: str) -> None:
    """The warehouse is as it was but for one more row in load_runs: a failed run's."""
    engine = engine_for_url(f"duckdb:///{database}")
    try:
        assert star_snapshot(engine) == world.expected
        with engine.connect() as conn:
            runs = history.recent(conn)
    finally:
        engine.dispose()
    newest, *older = runs
    assert newest.status == "failed" and text in str(newest.error), newest
    assert [run.status for run in older] == ["succeeded"]  # the world's own load


def make_read_only(path: Path) -> None:
    """A file this process cannot write, even as root (the immutable attribute)."""
    path.chmod(0o444)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    assert not os.access(path, os.W_OK) or os.geteuid() == 0


def writable_again(folder: Path) -> None:
    if os.geteuid() == 0:
        for path in folder.glob("*.duckdb"):
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


@dataclass
class PausedLoad:
    proc: subprocess.Popen[str]
    release: Path


def pause_a_load(world: World, database: Path, folder: Path) -> PausedLoad:
    """A load (tests/load_runner.py) holding the DuckDB file, stopped mid-transaction."""
    ready, release = folder / "ready", folder / "release"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.load_runner",
            f"duckdb:///{database}",
            *(str(world.sources[k]) for k in ("song_data", "log_data", "log_jsonpath")),
            "--pause-at",
            "songplays",
            "--ready",
            str(ready),
            "--release",
            str(release),
        ],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_paused(proc, ready)
    return PausedLoad(proc, release)


# --- the checks -------------------------------------------------------------------------

#: (backend, failure kind): PostgreSQL kinds, then DuckDB kinds.
PG_KINDS = (
    "closed_port",
    "no_database",
    "bad_url_options",
    "malformed_port",
    "missing_schema",
    "not_built",
)
DUCKDB_KINDS = (
    "missing_folder",
    "not_built",
    "not_duckdb",
    "read_only",
    "missing_schema",
    "bad_url_options",
    "locked_by_a_load",
    "charts_unwritable",
    "markup_in_paths",
)
INTERRUPT_POINTS = ("staging", "query", "commit", "committed", "report")
CASES = [
    *(("postgresql", kind) for kind in PG_KINDS),
    *(("duckdb", kind) for kind in DUCKDB_KINDS),
    *(("duckdb", f"ctrl_c_at_{point}") for point in INTERRUPT_POINTS),
    *(("postgresql", f"ctrl_c_at_{point}") for point in INTERRUPT_POINTS if point != "report"),
    ("any", "lock_timeout_not_a_number"),
    ("postgresql", "alembic_on_its_own"),
]


def assert_one_error_line(outcome: Outcome, expect_text: str | None) -> None:
    lines = [line for line in outcome.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome
    if expect_text:
        assert expect_text in lines[0], outcome


def assert_promises(
    outcome: Outcome, code: int, expect_text: str | None, *, report: bool = False
) -> None:
    assert outcome.code == code, outcome
    assert "Traceback" not in outcome.out + outcome.err, outcome
    assert SECRET not in outcome.out + outcome.err, outcome
    if code != 0 and not report:
        assert_one_error_line(outcome, expect_text)


@pytest.mark.parametrize(("backend", "kind"), CASES, ids=[f"{b}-{k}" for b, k in CASES])
def test_every_command_fails_in_one_error_line_and_changes_nothing(
    backend: str, kind: str, world: World, tmp_path: Path, pg_url: sa.URL
) -> None:
    if kind.startswith("ctrl_c_at_"):
        interrupted_load(world, backend, kind.removeprefix("ctrl_c_at_"), tmp_path, pg_url)
        return
    if kind == "lock_timeout_not_a_number":
        usage_errors(world, tmp_path)
        return
    if kind == "alembic_on_its_own":
        alembic_errors(world, tmp_path)
        return
    paused = None
    try:
        if kind == "locked_by_a_load":
            database = tmp_path / "w.duckdb"
            shutil.copyfile(world.empty_duckdb, database)
            paused = pause_a_load(world, database, tmp_path)
            scene = Scene(
                every(COMMANDS, "--database-url", f"duckdb:///{database}", world=world),
                expect_text="a load is in progress",
                ignore=("w.duckdb", "w.duckdb.wal", "w.duckdb.tmp", "ready"),
            )
        elif backend == "postgresql":
            scene = pg_scene(world, kind, tmp_path)
        else:
            scene = duckdb_scene(world, kind, tmp_path)
        files_before = files(tmp_path)
        pg_before = pg_state(world) if scene.watch_pg else None
        outcomes = run_at_once(scene.commands, tmp_path)
        codes = scene.expect_code or [1] * len(outcomes)
        for i, (outcome, code) in enumerate(zip(outcomes, codes, strict=True)):
            assert_promises(outcome, code, scene.expect_text, report=i in scene.reports)
            if outcome.args[0] == "report":
                assert Path(outcome.args[1]).exists() == (code == 0), outcome
        if scene.after:
            scene.after(outcomes)
        ignored = set(scene.ignore)
        assert {k: v for k, v in files(tmp_path).items() if k not in ignored} == {
            k: v for k, v in files_before.items() if k not in ignored
        }, "a command created or changed a file"
        if pg_before is not None:
            assert pg_state(world) == pg_before, "a command changed the PostgreSQL database"
        if paused is not None:
            # The running load was left alone: it goes on and commits what it loads.
            paused.release.write_text("go")
            _out, err = paused.proc.communicate(timeout=120)
            assert paused.proc.returncode == 0, err
            engine = engine_for_url(f"duckdb:///{tmp_path / 'w.duckdb'}")
            assert star_snapshot(engine) == world.expected
            engine.dispose()
    finally:
        if paused is not None and paused.proc.poll() is None:
            paused.proc.kill()
            paused.proc.wait()
        writable_again(tmp_path)


def usage_errors(world: World, folder: Path) -> None:
    """A timeout that is no number of seconds is refused as click refuses any bad value."""
    copy = duckdb_copies(world, folder, ("etl",))["etl"]
    before = files(folder)
    values = ("nan", "inf", "-1")
    outcomes = run_at_once(
        [
            [
                "etl",
                "--database-url",
                f"duckdb:///{copy}",
                "--lock-timeout",
                value,
                *world.source_args(),
            ]
            for value in values
        ],
        folder,
    )
    for value, outcome in zip(values, outcomes, strict=True):
        assert outcome.code == 2, outcome  # click's usage error, as for --max-errors -1
        assert "Traceback" not in outcome.err, outcome
        assert re.search(r"Invalid value for '--lock-timeout'", outcome.err), outcome
        assert value in outcome.err.lower(), outcome
    assert files(folder) == before


def interrupted_load(world: World, backend: str, point: str, folder: Path, pg_url: sa.URL) -> None:
    """Ctrl-C at ``point`` of a load: one line saying whether it committed, exit 130."""
    engine = make_engine(backend, pg_url, folder, build=True)
    engine.dispose()
    url = engine.url.set(password=SECRET) if backend == "postgresql" else engine.url
    schema = schema_name(engine)
    ready = folder / "ready"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.e2e.interrupt_runner",
            point,
            str(ready),
            "etl",
            "--database-url",
            url.render_as_string(hide_password=False),
            *(["--schema", schema] if schema else []),
            *world.source_args(),
        ],
        cwd=folder,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the load never reached {point}"
        time.sleep(0.02)
    time.sleep(0.2)  # the long query has begun (the "query" point)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    outcome = Outcome(["etl", f"(Ctrl-C at {point})"], proc.returncode, out, err)
    committed = point in ("committed", "report")
    assert_promises(
        outcome,
        130,
        "interrupted after the load committed (run_id"
        if committed
        else "interrupted: nothing was committed",
    )
    with engine.connect() as conn:
        run_ids = set(conn.execute(sa.select(load_ledger.c.run_id)).scalars())
        plays = conn.execute(sa.select(sa.func.count()).select_from(songplays)).scalar_one()
        (run,) = history.recent(conn)
    if committed:
        said = re.search(r"run_id (\w+)", err)
        assert said is not None and run_ids == {said.group(1)}, (run_ids, err)
        assert (run.run_id, run.status) == (said.group(1), "succeeded")
        # The same rows as an uninterrupted load (counted: the backends' types differ).
        counts = {name: len(rows) for name, rows in star_snapshot(engine).items()}
        assert counts == {name: len(rows) for name, rows in world.expected.items()}
    else:
        assert not run_ids and plays == 0
        assert all(not rows for rows in star_snapshot(engine).values())
        # Ctrl-C is recorded, after the rollback: the run's one row.
        assert (run.status, run.error) == ("failed", "interrupted: nothing was committed")
    engine.dispose()


def alembic_errors(world: World, folder: Path) -> None:
    """``alembic upgrade head`` (migrations/env.py reads sparkify's settings) fails in one line."""
    urls = {
        "closed port": world.pg(port=free_port()),
        "malformed port": world.pg().replace(f":{world.pg_url.port}/", ":54x32/"),
        "missing schema": world.pg(),
    }
    before = files(folder)
    procs = {}
    for name, url in urls.items():
        env = {**environment(), "SPARKIFY_DATABASE_URL": url}
        if name == "missing schema":
            env["SPARKIFY_SCHEMA"] = f"no_such_{uuid.uuid4().hex[:6]}"
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        # alembic logs its progress (INFO lines) on stderr: progress aside, one error line.
        err = "".join(line for line in err.splitlines(True) if not line.startswith("INFO  ["))
        outcome = Outcome(["(alembic upgrade head:", name, ")"], proc.returncode, out, err)
        assert_promises(outcome, 1, None)
    assert files(folder) == before
