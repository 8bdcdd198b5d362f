"""Every registered benchmark, run end to end at the smallest sizes its flags allow, so a broken bench script
fails `make test` rather than the next `make bench`.

Each runs as `python -m bench.run --no-write --only NAME …` with `--data-dir` in a temporary directory (so
it never touches the scratch files of a real benchmark running in the same checkout), and must exit 0 and
print its section with its table. Nothing is measured here and BENCHMARKS.md / BENCHMARKS-growth.png are
never written: the growth plot goes to a temporary directory.

Databases: SQLite; PostgreSQL too when ASSORTMENT_BENCH_SMOKE_DATABASES=sqlite,postgresql (it roughly
doubles the time of this file). The benchmarks that load with wrk need it installed, or root (they install
it with apt-get); without either they are skipped, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bench.run import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DATABASES = os.environ.get("ASSORTMENT_BENCH_SMOKE_DATABASES", "sqlite")
TIMEOUT_S = 600
SMALL_CATALOG = ["--catalog-products", "100", "--catalog-nodes", "2", "--catalog-links", "200"]
SMALL_CATALOG += ["--catalog-associations", "50"]
SHORT_READS = ["--read-seconds", "1", "--read-warmup", "1"]

# name → (the smallest flags, a line of the table header the section must print, whether it needs wrk)
CASES: dict[str, tuple[list[str], str, bool]] = {
    "import": (["--products", "100"], "| database | products | seconds (wall) | rows/s |", False),
    "hierarchies": (
        [
            *("--hierarchy-children", "10", "--hierarchy-subtree", "10"),
            *("--hierarchy-requests", "1", "--hierarchy-moves", "1", "--hierarchy-rounds", "1"),
            *("--hierarchy-attach", "10", "--hierarchy-other-products", "10"),
        ],
        "| operation | budget | SQLite | PostgreSQL | verdict |",
        False,
    ),
    "publish": (SMALL_CATALOG, "| database | publish | runs | wall s | CPU s | peak RSS MiB (max) |", False),
    "release-read": (
        [*SMALL_CATALOG, *SHORT_READS],
        "| database | assortment req/s | bare ASGI req/s | ratio |",
        True,
    ),
    "cold-reads": (
        [*SMALL_CATALOG, *SHORT_READS],
        "| read | budget | SQLite req/s | SQLite p50 / p99 ms |",
        True,
    ),
    # No size flags: 2,007 products and 2,000-product associations are fixed in bench/associations.py.
    "associations": ([], "| operation | budget | SQLite | PostgreSQL | verdict |", False),
    "workbench": (
        [
            *("--workbench-products", "50", "--workbench-nodes", "40", "--workbench-children", "10"),
            *("--workbench-links", "5", "--workbench-requests", "2"),
        ],
        "| page | budget | SQLite |",
        False,
    ),
    "webhooks": (
        [
            *("--webhooks-rounds", "1", "--webhooks-updates", "5", "--webhooks-publishes", "1"),
            *("--webhooks-catalog-products", "50", "--webhooks-latency-events", "5", "--webhooks-backlog", "20"),
        ],
        "| | budget | SQLite",
        False,
    ),
    "changes": (
        [*SMALL_CATALOG, "--changes-reads", "1"],
        "| database | changes (created / updated / deleted) | first request |",
        False,
    ),
    "workbench-releases": (
        [*SMALL_CATALOG, "--workbench-release-requests", "1"],
        "| page | budget | SQLite",
        False,
    ),
    "cursor": (
        [*SMALL_CATALOG, "--cursor-depth", "1", "--cursor-reads", "1"],
        "| database | list | first page, median / p95 ms | page 1 deep by cursor, median / p95 ms |",
        False,
    ),
    "growth": (
        ["--growth-sizes", "100", *SHORT_READS, "--growth-cold-seconds", "1", "--growth-cold-warmup", "0"],
        "| products | database | publish wall s | s per 1k products | CPU s | peak RSS MiB | read req/s | p99 ms |",
        True,
    ),
}

pytestmark = pytest.mark.multiprocess


def test_every_registered_benchmark_has_a_smoke_run() -> None:
    assert set(CASES) == set(REGISTRY)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _wrk_available() -> bool:
    return shutil.which("wrk") is not None or (hasattr(os, "geteuid") and os.geteuid() == 0)


@pytest.mark.parametrize("name", list(CASES))
def test_benchmark_runs(name: str, tmp_path: Path) -> None:
    flags, header, needs_wrk = CASES[name]
    if needs_wrk and not _wrk_available():
        message = f"{name} needs wrk: apt-get install -y wrk"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    output = tmp_path / "BENCHMARKS.md"
    extra: list[str] = []
    plot = tmp_path / "growth.png"
    drawing = name == "growth"
    if drawing:
        extra = ["--growth-plot", str(plot)]
    scratch = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        *("--no-write", "--data-dir", str(scratch), "--output", str(output), "--databases", DATABASES, "--only", name),
        *flags,
        *extra,
    ]
    # In a session of its own, so that on a timeout the servers and wrk it started go with it.
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{name} took more than {TIMEOUT_S} s:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    shown = f"$ {' '.join(command)}\n--- stdout\n{stdout[-6000:]}\n--- stderr\n{stderr[-6000:]}"
    assert process.returncode == 0, shown
    assert f"\n## {REGISTRY[name].title}\n" in stdout, shown
    assert header in stdout, shown
    assert not output.exists(), "--no-write wrote the Markdown file"
    if drawing:
        assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), shown
        assert "](growth.png)" in stdout, shown  # the link, relative to the Markdown file
        assert "| cold read | database | 100: CPU µs/req (req/s) |" in stdout, shown  # and the cold reads
