"""Real server processes for tests that need several of them on one database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def assortment_executable() -> str:
    candidate = Path(sys.executable).with_name("assortment")
    found = str(candidate) if candidate.exists() else shutil.which("assortment")
    if not found:
        raise RuntimeError("the assortment console script is not installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path  # the server's stderr (and stdout): a file, as a pipe nobody reads would fill and stall it

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_servers(database_url: str, count: int = 2, workers: int = 1) -> Iterator[list[str]]:
    """Start `count` independent `assortment serve` processes on one database; yield their base URLs."""
    with running_server_processes(database_url, count, workers) as servers:
        yield [server.url for server in servers]


@contextmanager
def running_server_processes(database_url: str, count: int = 1, workers: int = 1) -> Iterator[list[ServerProcess]]:
    """As `running_servers`, yielding the processes too (for tests that kill one). Processes that already
    exited when the block ends are left as they are."""
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": database_url}
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    logs: list[Path] = []
    folder = Path(tempfile.mkdtemp(prefix="assortment-servers-"))
    try:
        for index in range(count):
            port = free_port()
            log = folder / f"server-{index}.log"
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [assortment_executable(), "serve", "--port", str(port), "--workers", str(workers)],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
            logs.append(log)
        for url, process, log in zip(urls, processes, logs, strict=True):
            _wait_ready(url, process, log)
        yield [ServerProcess(url, process, log) for url, process, log in zip(urls, processes, logs, strict=True)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"server at {url} exited: {output[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become ready")
