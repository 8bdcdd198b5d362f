"""Workbench pages through HTTP against a real `assortment serve` (one worker) on each database.

Budget (DESIGN.md, SPEC §13.3): every page's server time ≤ 100 ms with 100k products and a 10k-node
hierarchy, median and p95. Measured: the product list (first page, and a search by name or SKU), a
product's page, a hierarchy's page (the tree's first level), expanding a node with 1,000 children, and a
node's page.

The data is seeded outside the server, as bench/hierarchies.py does: products with `assortment products
import`, the hierarchy with Core inserts (one node carrying `--workbench-children` children, the rest a
complete 10-ary tree up to `--workbench-nodes`), links from products to the big node. A user is made with
`assortment users create`, signed in through the login form; each page is then requested sequentially
over keep-alive loopback, after a warm-up. The time is what the client sees: server time plus a loopback
round trip (tens of microseconds), so it is a slight overestimate of the server time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import create_engine, insert, select, text

from assortment.db.models import Node, NodeProduct, Product, Store
from bench.common import (
    Benchmark,
    Context,
    Section,
    assortment_command,
    fresh_database,
    run_assortment,
    running_server,
    server_version,
)
from bench.hierarchies import ENGINE_NAMES, Latency, NodeRows, _hierarchy, timed
from bench.product_import import products_file

BUDGET_MS = 100.0
WARMUP = 10
PASSWORD = "bench password, long enough"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workbench")
    group.add_argument("--workbench-products", type=int, default=100_000, help="products in the store")
    group.add_argument("--workbench-nodes", type=int, default=10_000, help="nodes in the big hierarchy")
    group.add_argument("--workbench-children", type=int, default=1_000, help="children of the node expanded")
    group.add_argument("--workbench-links", type=int, default=100, help="products linked to the node shown")
    group.add_argument("--workbench-requests", type=int, default=200, help="timed requests per page")


@dataclass
class Seeded:
    hierarchy: str
    big_node: str
    product: str
    nodes: int


def seed(url: str, nodes_wanted: int, children: int, links: int) -> Seeded:
    engine = create_engine(url)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        with engine.begin() as conn:
            scope_id = conn.execute(select(Store.id).where(Store.is_default.is_(True))).scalar_one()
            hierarchy_pk, hierarchy_id = _hierarchy(conn, scope_id, "Catalogue", now)
            rows = NodeRows(conn, scope_id, now)
            top: list[int] = []
            for i in range(10):
                pk, _ = rows.add(hierarchy_pk, None, f"Department {i}")
                top.append(pk)
            big_pk, big_id = rows.add(hierarchy_pk, top[0], "Big shelf")
            for i in range(children):
                rows.add(hierarchy_pk, big_pk, f"Shelf {i}", sort_order=None if i % 3 else i)
            remaining = max(0, nodes_wanted - len(rows.rows))
            per_department = remaining // len(top)
            for index, pk in enumerate(top):
                rows.add_subtree(hierarchy_pk, pk, per_department, f"d{index}")
            conn.execute(insert(Node), rows.rows)
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT setval(pg_get_serial_sequence('node', 'pk'), (SELECT max(pk) FROM node))"))
            product_pks = list(conn.execute(select(Product.pk).order_by(Product.pk.desc()).limit(links)).scalars())
            conn.execute(
                insert(NodeProduct), [{"node_pk": big_pk, "product_pk": pk, "linked_at": now} for pk in product_pks]
            )
            product_id = conn.execute(select(Product.id).where(Product.pk == product_pks[0])).scalar_one()
            # the product shown is in a few nodes
            for pk in top[:3]:
                conn.execute(insert(NodeProduct).values(node_pk=pk, product_pk=product_pks[0], linked_at=now))
            count = len(rows.rows)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return Seeded(hierarchy_id, big_id, str(product_id), count)
    finally:
        engine.dispose()


def create_user(url: str) -> str:
    email = "bench@example.com"
    done = subprocess.run(
        [assortment_command(), "users", "create", "--email", email, "--role", "editor", "--password-stdin", "--json"],
        env={**os.environ, "ASSORTMENT_DATABASE_URL": url},
        input=PASSWORD,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"assortment users create failed:\n{done.stderr}")
    return email


def sign_in(client: httpx.Client, email: str) -> None:
    form = client.get("/admin/login")
    token = CSRF.search(form.text)
    if not token:
        raise SystemExit(f"no sign-in form: {form.status_code} {form.text[:300]}")
    answer = client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:300]}")


@dataclass
class Figures:
    version: str
    load: float
    nodes: int
    pages: dict[str, Latency] = field(default_factory=dict)


def pages(seeded: Seeded, children: int) -> dict[str, str]:
    hierarchy = f"/admin/hierarchies/{seeded.hierarchy}"
    return {
        "product list, first page": "/admin/products",
        "product list, search": "/admin/products?q=Product 4242",
        "product list, page 40": "/admin/products?page=40",
        "a product's page": f"/admin/products/{seeded.product}",
        f"a hierarchy's page ({seeded.nodes:,} nodes)": hierarchy,
        f"expand a node of {children:,} children": f"{hierarchy}/nodes/{seeded.big_node}/children",
        "a node's page": f"{hierarchy}/nodes/{seeded.big_node}",
    }


def measure(kind: str, url: str, ctx: Context) -> Figures:
    args = ctx.args
    started = time.perf_counter()
    source = products_file(ctx.data_dir, args.workbench_products)
    imported = run_assortment(url, "products", "import", source, "--quiet")
    print(f"  {kind}: {args.workbench_products:,} products imported in {imported.seconds:.1f} s")
    seeded = seed(
        url, args.workbench_nodes, args.workbench_children, min(args.workbench_links, args.workbench_products)
    )
    print(f"  {kind}: {seeded.nodes:,} nodes seeded; setup {time.perf_counter() - started:.1f} s")
    email = create_user(url)
    figures = Figures(server_version(kind, url), os.getloadavg()[0], seeded.nodes)
    with running_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client, email)
        for title, path in pages(seeded, args.workbench_children).items():

            def get(_i: int, path: str = path) -> httpx.Response:
                return client.get(path)

            figures.pages[title] = timed(args.workbench_requests, WARMUP, get, 200)
            print(f"  {kind}: {title}: {figures.pages[title].text()}")
    return figures


def verdict(latencies: list[Latency]) -> str:
    if not latencies:
        return "not measured"
    worst = max(max(lat.median, lat.p95) for lat in latencies)
    return "pass" if worst <= BUDGET_MS else "FAIL"


def run(ctx: Context) -> Section:
    args = ctx.args
    results: dict[str, Figures] = {}
    for kind in ctx.databases:
        sqlite_file = ctx.data_dir / "workbench.db" if kind == "sqlite" else None
        with fresh_database(kind, ctx.pg_admin_url, sqlite_file=sqlite_file) as url:
            results[kind] = measure(kind, url, ctx)
    full = args.workbench_products >= 100_000 and args.workbench_nodes >= 10_000
    titles = list(next(iter(results.values())).pages) if results else []
    header = "| page | budget | " + " | ".join(ENGINE_NAMES[k] for k in results) + " | verdict |"
    lines = [header, "|---|---|" + "---|" * len(results) + "---|"]
    for title in titles:
        cells = [results[k].pages[title].text() for k in results]
        judged = verdict([results[k].pages[title] for k in results]) if full else "(smaller data: no verdict)"
        lines.append(f"| {title} | ≤ {BUDGET_MS:.0f} ms | " + " | ".join(cells) + f" | {judged} |")
    setup = ", ".join(
        f"{ENGINE_NAMES[k]} ({f.version}, load {f.load:.2f}, {f.nodes:,} nodes)" for k, f in results.items()
    )
    body = "\n".join(
        [
            f"{args.workbench_products:,} products in the store, a hierarchy of {args.workbench_nodes:,} nodes, "
            f"one node with {args.workbench_children:,} children and {args.workbench_links} products; "
            f"{args.workbench_requests} sequential requests per page over keep-alive loopback after {WARMUP} "
            f"of warm-up, signed in as an editor. Time as the client sees it (server time plus a loopback "
            f"round trip). {setup}.",
            "",
            *lines,
        ]
    )
    return Section("Workbench pages", body)


BENCHMARK = Benchmark(
    name="workbench",
    title="Workbench pages",
    run=run,
    description="server time of the workbench's pages at 100k products and a 10k-node hierarchy (≤ 100 ms)",
    add_arguments=add_arguments,
)
