"""Reads that miss every cache: the release view and the shopper view with the read cache off, and the PIM.

Budgets (DESIGN.md, issue 17), one worker, `wrk -t2 -c32` from a second process, the publish benchmark's
catalog (100k products / 2k nodes / 200k links) on SQLite and PostgreSQL:
- release node products, read cache off (`ASSORTMENT_READ_CACHE_BYTES=0`): ≥ 2,000 req/s, p99 ≤ 25 ms;
  release product by id ≥ 3,000 req/s; the shopper `/catalog` equivalents the same;
- PIM: product list first page (with `meta.results.total`) ≥ 1,000 req/s; product by id ≥ 3,000; node
  children (1,000 siblings) ≥ 1,000; a filtered list (`like(sku,…)`, `eq(status,live)`) ≥ 500.

The catalog is seeded and published as in the publish benchmark; a hierarchy whose one node has 1,000
children is added beside it. The server runs with `ASSORTMENT_READ_CACHE_BYTES=0`, so every release page is
rendered from the database.

    python -m bench.run --only cold-reads
    python -m bench.run --only cold-reads --catalog-products 10000 --catalog-nodes 200 \
        --catalog-links 20000 --catalog-associations 5000      # a quick run (no budget verdict)
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select

from assortment.db.models import Hierarchy, Node, Product, Store
from bench.catalogs import (
    ENGINE_NAMES,
    Load,
    load_average,
    publish,
    run_wrk,
    seeded_database,
    settle,
    sizes_of,
    wrk_command,
)
from bench.common import Benchmark, Context, Section, create_key, running_server, server_version

SIBLINGS = 1_000
BUDGET_P99_MS = 25.0


@dataclass(frozen=True)
class Read:
    name: str
    path: str
    budget_rps: float
    p99_budget: bool = False  # also p99 ≤ 25 ms


@dataclass
class Targets:
    reads: list[Read]
    siblings_hierarchy: str
    siblings_parent: str


def add_siblings(url: str) -> tuple[str, str]:
    """A hierarchy with one top-level node of SIBLINGS children: (hierarchy id, parent node id)."""
    engine = create_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        with engine.begin() as conn:
            scope_id = conn.execute(select(Store.id).where(Store.is_default.is_(True))).scalar_one()
            hierarchy_id, parent_id = uuid.uuid4(), uuid.uuid4()
            hierarchy_pk = conn.execute(
                insert(Hierarchy)
                .values(
                    id=hierarchy_id, scope_id=scope_id, name="Siblings", slug="siblings", created_at=now, updated_at=now
                )
                .returning(Hierarchy.pk)
            ).scalar_one()
            # Explicit pks, as the catalog's seed uses (a PostgreSQL sequence would not know about them).
            parent_pk = (conn.execute(select(func.max(Node.pk))).scalar() or 0) + 1
            node = {"scope_id": scope_id, "hierarchy_pk": hierarchy_pk, "created_at": now, "updated_at": now}
            conn.execute(
                insert(Node).values(pk=parent_pk, id=parent_id, parent_pk=None, name="Parent", slug="parent", **node)
            )
            conn.execute(
                insert(Node),
                [
                    {
                        "pk": parent_pk + 1 + i,
                        "id": uuid.uuid4(),
                        "parent_pk": parent_pk,
                        "name": f"Child {i}",
                        "slug": f"child-{i}",
                        **node,
                    }
                    for i in range(SIBLINGS)
                ],
            )
    finally:
        engine.dispose()
    return str(hierarchy_id), str(parent_id)


def some_product(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(Product.id).order_by(Product.pk).offset(7).limit(1)).scalar_one())
    finally:
        engine.dispose()


def targets(catalog_id: str, release_id: str, node_id: str, product_id: str, url: str) -> Targets:
    hierarchy_id, parent_id = add_siblings(url)
    release = f"/pcm/catalogs/{catalog_id}/releases/{release_id}"
    reads = [
        Read("release node products, page of 25", f"{release}/nodes/{node_id}/relationships/products", 2000, True),
        Read(
            "release node products via `latest`",
            f"/pcm/catalogs/{catalog_id}/releases/latest/nodes/{node_id}/relationships/products",
            2000,
            True,
        ),
        Read("release product by id", f"{release}/products/{product_id}", 3000),
        Read("shopper `/catalog` node products", f"/catalog/nodes/{node_id}/relationships/products", 2000, True),
        Read("shopper `/catalog` product by id", f"/catalog/products/{product_id}", 3000),
        Read("PIM product list, first page with total", "/pcm/products", 1000),
        Read("PIM product by id", f"/pcm/products/{product_id}", 3000),
        Read(
            f"PIM node children ({SIBLINGS:,} siblings)",
            f"/pcm/hierarchies/{hierarchy_id}/nodes/{parent_id}/children",
            1000,
        ),
        Read("PIM filtered list `like(sku,SKU-0000001*):eq(status,live)`", _filtered(), 500),
    ]
    return Targets(reads, hierarchy_id, parent_id)


def _filtered() -> str:
    return "/pcm/products?filter=like(sku,SKU-0000001*):eq(status,live)"


@contextmanager
def cold_server(url: str) -> Iterator[str]:
    with running_server(url, workers=1, env={"ASSORTMENT_READ_CACHE_BYTES": "0"}) as base:
        yield base


def token_for(base: str, url: str) -> str:
    client_id, secret = create_key(url)
    response = httpx.post(
        f"{base}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    )
    access: str = response.json()["access_token"]
    return access


def server_pid(base: str) -> int | None:
    """The process listening on the server's port (`ss`), for its CPU time; None when it cannot be told."""
    port = base.rsplit(":", 1)[1]
    try:
        listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    found = re.search(r"pid=(\d+)", listing.stdout)
    return int(found.group(1)) if found else None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (from /proc)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    base: str, token: str, reads: list[Read], seconds: int, warmup: int, connections: int
) -> list[tuple[Load, float | None]]:
    """Each read under wrk: its load figures and the server's CPU time per request in µs (the figure that
    other work on a shared machine disturbs least: throughput falls when the server is not scheduled)."""
    wrk = wrk_command()
    pid = server_pid(base)
    loads = []
    for read in reads:
        response = httpx.get(base + read.path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"GET {read.path}: {response.status_code} {response.text[:1000]}")
        if warmup > 0:
            run_wrk(wrk, base + read.path, token, 2, connections, warmup, timeouts_ok=True)
        before = cpu_seconds(pid)
        load = run_wrk(wrk, base + read.path, token, 2, connections, seconds, timeouts_ok=True)
        after = cpu_seconds(pid)
        cpu = None if before is None or after is None or not load.requests else 1e6 * (after - before) / load.requests
        cpu_text = "" if cpu is None else f", server CPU {cpu:,.0f} µs/request"
        if load.timeouts:
            cpu_text += f", {load.timeouts} timed out"
        print(f"    {read.name}: {load.rps:9,.0f} req/s (p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms{cpu_text})")
        loads.append((load, cpu))
    return loads


@dataclass
class Figures:
    version: str
    load: float
    loads: list[tuple[Load, float | None]]


def run(ctx: Context) -> Section:
    sizes = sizes_of(ctx.args)
    seconds: int = ctx.args.read_seconds
    warmup: int = ctx.args.read_warmup
    connections: int = ctx.args.read_connections
    print(f"cold reads: {sizes.text()}; wrk -t2 -c{connections} -d{seconds}s per read")
    figures: dict[str, Figures] = {}
    reads: list[Read] = []
    for kind in ctx.databases:
        with seeded_database(ctx, kind, sizes, "cold-reads.db") as (url, seeded):
            _, release = publish(url, seeded, sizes)
            found = targets(seeded.catalog_id, release["id"], seeded.busiest_node, some_product(url), url)
            reads = found.reads
            settle(url)
            started = time.perf_counter()
            with cold_server(url) as base:
                token = token_for(base, url)
                average = load_average()
                print(f"  {kind} (load average {average:.2f})")
                loads = measure(base, token, reads, seconds, warmup, connections)
                figures[kind] = Figures(server_version(kind, url), average, loads)
            print(f"  {kind}: measured in {time.perf_counter() - started:.0f} s")
    budget = sizes.is_budget()
    header = (
        "| read | budget | "
        + " | ".join(
            f"{ENGINE_NAMES[k]} req/s | {ENGINE_NAMES[k]} p50 / p99 ms | {ENGINE_NAMES[k]} CPU µs/req" for k in figures
        )
        + " | verdict |"
    )
    rows = [header, "|---|---|" + "---:|---:|---:|" * len(figures) + "---|"]
    for i, read in enumerate(reads):
        cells = [read.name, f"≥ {read.budget_rps:,.0f} req/s" + (", p99 ≤ 25 ms" if read.p99_budget else "")]
        ok = True
        for figure in figures.values():
            load, cpu = figure.loads[i]
            cells += [
                f"{load.rps:,.0f}",
                f"{load.p50_ms:.2f} / {load.p99_ms:.2f}",
                "—" if cpu is None else f"{cpu:,.0f}",
            ]
            ok = ok and load.rps >= read.budget_rps and (not read.p99_budget or load.p99_ms <= BUDGET_P99_MS)
        cells.append(("pass" if ok else "**fail**") if budget else "(not the budget size)")
        rows.append("| " + " | ".join(cells) + " |")
    versions = "; ".join(f"{f.version}, load average {f.load:.2f} before the load" for f in figures.values())
    body = "\n".join(
        [
            "Every read misses every cache: `assortment serve --workers 1` with `ASSORTMENT_READ_CACHE_BYTES=0` "
            f"on the catalog of the publish benchmark ({sizes.text()}), published once, plus a hierarchy whose "
            f"one node has {SIBLINGS:,} children. Load: `wrk -t2 -c{connections} -d{seconds}s --latency` per read "
            f"after a {warmup} s warm-up, from a separate process on 127.0.0.1 (same 2 CPUs). {versions}.",
            "",
            f"Command: `{ctx.command}` — {date.today().isoformat()}",
            "",
            *rows,
        ]
    )
    return Section("Cold reads: release, shopper and PIM reads without the read cache", body)


BENCHMARK = Benchmark(
    name="cold-reads",
    title="Cold reads: release, shopper and PIM reads without the read cache",
    run=run,
    description="wrk against release/shopper pages with the read cache off, and PIM reads, one worker",
)
