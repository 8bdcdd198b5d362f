"""`python -m bench.run`: run the registered benchmarks, print their figures, update BENCHMARKS.md.

Adding a benchmark: write a module with a `BENCHMARK = Benchmark(name, title, run, ...)` whose `run`
takes the `Context` and returns a `Section`; list it in `REGISTRY` below. Each one owns its own section
of BENCHMARKS.md, so `--only NAME` refreshes that section and keeps the others.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from bench import (
    associations,
    catalogs,
    changes,
    cold_reads,
    cursor,
    growth,
    hierarchies,
    product_import,
    report,
    webhooks,
    workbench,
    workbench_releases,
)
from bench.common import DATA_DIR, DEFAULT_PG_ADMIN_URL, ENGINES, ROOT, Benchmark, Context, machine

REGISTRY: dict[str, Benchmark] = {
    b.name: b
    for b in (
        product_import.BENCHMARK,
        hierarchies.BENCHMARK,
        catalogs.PUBLISH,
        catalogs.RELEASE_READ,
        cold_reads.BENCHMARK,
        associations.BENCHMARK,
        growth.BENCHMARK,
        workbench.BENCHMARK,
        workbench_releases.BENCHMARK,
        changes.BENCHMARK,
        cursor.BENCHMARK,
        webhooks.BENCHMARK,
    )
}
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        action="append",
        choices=sorted(REGISTRY),
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of: {', '.join(sorted(REGISTRY))}",
    )
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument(
        "--databases",
        default=",".join(ENGINES),
        help="comma-separated databases to measure (default: sqlite,postgresql)",
    )
    p.add_argument(
        "--pg-url",
        default=os.environ.get("ASSORTMENT_BENCH_PG_URL", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL server on which throwaway databases are created (default: %(default)s)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median is reported")
    p.add_argument("--no-write", action="store_true", help="print the figures only, leave BENCHMARKS.md")
    p.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the Markdown file to update")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where the benchmarks keep their scratch files: SQLite databases, generated inputs (%(default)s)",
    )
    for benchmark in REGISTRY.values():
        if benchmark.add_arguments:
            benchmark.add_arguments(p)
    return p


def command_line(argv: list[str]) -> str:
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(ROOT))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", "bench.run", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.list:
        for benchmark in REGISTRY.values():
            print(f"{benchmark.name:<12} {benchmark.title}: {benchmark.description}")
        return 0
    databases = tuple(d.strip() for d in args.databases.split(",") if d.strip())
    unknown = [d for d in databases if d not in ENGINES]
    if unknown or not databases:
        parser().error(f"--databases: choose from {', '.join(ENGINES)}")
    if args.repeat < 1:
        parser().error("--repeat must be at least 1")
    args.data_dir = args.data_dir.resolve()  # servers started by the benchmarks run in the repository root
    args.data_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        args=args,
        command=command_line(argv),
        databases=databases,
        pg_admin_url=args.pg_url,
        data_dir=args.data_dir,
    )
    info = machine()
    print(f"machine: {info['nproc']} CPUs, {info['memory']}, {info['python']}")
    for name in args.only or list(REGISTRY):
        section = REGISTRY[name].run(ctx)
        print(f"\n## {section.title}\n\n{section.body}\n")
        if not args.no_write:
            report.write(args.output, name, section, info, ctx.command)
            print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
