"""Pieces every benchmark shares: the registry entry, the run context, throwaway databases and the CLI."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENGINES = ("sqlite", "postgresql")


@dataclass
class Section:
    """What a benchmark reports: a Markdown body for BENCHMARKS.md (below its `## title`)."""

    title: str
    body: str


@dataclass
class Context:
    args: argparse.Namespace
    command: str
    databases: tuple[str, ...]
    pg_admin_url: str
    data_dir: Path = DATA_DIR


@dataclass
class Benchmark:
    name: str
    title: str
    run: Callable[[Context], Section]
    description: str = ""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass
class Measured:
    """One timed process: wall seconds, its exit code, its peak RSS and what it wrote on stderr."""

    seconds: float
    returncode: int
    max_rss_mib: float
    stderr: str
    extra: dict[str, float] = field(default_factory=dict)


def assortment_command() -> str:
    found = shutil.which("assortment", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit(f"the assortment command is not installed next to {sys.executable}")
    return found


def run_assortment(database_url: str, *args: str | Path, check: bool = True) -> Measured:
    """Run `assortment ARGS` on a database; time it and take its peak RSS (from wait4)."""
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": database_url}
    with tempfile.TemporaryFile(mode="w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen([assortment_command(), *map(str, args)], env=env, stderr=err, stdout=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    # ru_maxrss is in KiB on Linux
    measured = Measured(seconds, process.returncode, usage.ru_maxrss / 1024, stderr)
    if check and measured.returncode != 0:
        raise SystemExit(f"assortment {' '.join(map(str, args))} failed ({measured.returncode}):\n{stderr}")
    return measured


@contextmanager
def fresh_database(kind: str, pg_admin_url: str, *, sqlite_file: Path | None = None) -> Iterator[str]:
    """A new, migrated, empty database of this kind; removed afterwards. Yields its URL.

    SQLite: a file in a temporary directory, or `sqlite_file` (replaced if it exists) when given.
    """
    if kind == "sqlite" and sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        _remove_sqlite(sqlite_file)
        try:
            url = f"sqlite:///{sqlite_file}"
            run_assortment(url, "db", "upgrade")
            yield url
        finally:
            _remove_sqlite(sqlite_file)
        return
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="assortment-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            run_assortment(url, "db", "upgrade")
            yield url
        return
    if kind != "postgresql":
        raise SystemExit(f"unknown database {kind!r}: choose from {', '.join(ENGINES)}")
    name = f"assortment_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
            run_assortment(url, "db", "upgrade")
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def create_key(database_url: str, name: str = "bench") -> tuple[str, str]:
    """`assortment keys create --name NAME --json` (a key of the default store): (client_id, secret)."""
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": database_url}
    done = subprocess.run(
        [assortment_command(), "keys", "create", "--name", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"assortment keys create failed ({done.returncode}):\n{done.stderr}")
    key = json.loads(done.stdout.strip().splitlines()[-1])
    return str(key["client_id"]), str(key["client_secret"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(database_url: str, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real `assortment serve` process on loopback (with `env` added to its environment); yields its base
    URL, stops it afterwards."""
    env = {**os.environ, **(env or {}), "ASSORTMENT_DATABASE_URL": database_url}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [
                assortment_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"assortment serve exited ({process.returncode}):\n{log.read()[-4000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"assortment serve did not answer on {url} within 30 s")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def scalar(database_url: str, sql: str) -> object:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def server_version(kind: str, database_url: str) -> str:
    if kind == "sqlite":
        return f"SQLite {scalar(database_url, 'select sqlite_version()')}"
    version = str(scalar(database_url, "show server_version")).split()[0]
    return f"PostgreSQL {version}"


def machine() -> dict[str, str]:
    """nproc, memory, CPU, OS and Python of this machine."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    memory = "unknown"
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(cpus),
        "memory": memory,
        "cpu": cpu,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
