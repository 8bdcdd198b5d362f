"""Workbench release pages (SPEC §13.3, issue 16): a catalog's page, browsing a release, and comparing two
releases of the publish benchmark's catalog (100k products) that differ in 1 %.

Budget (DESIGN.md, SPEC §13.3): each page's server time ≤ 100 ms (the comparison: its first page).

The catalog is seeded and published as in the `changes` benchmark (published, 1 % of its products changed
with direct SQL, published again). `assortment serve --workers 1` then answers, signed in as an editor, over
keep-alive loopback after a warm-up, one request at a time: the catalog's page, the latest release's browse
page (its first hierarchy's top nodes and products), the browse page of its busiest node, and the comparison
of the latest release with the one before (created / updated / deleted, with the changed fields).

    python -m bench.run --only workbench-releases
    python -m bench.run --only workbench-releases --catalog-products 10000 --catalog-nodes 200 \
        --catalog-links 20000 --catalog-associations 5000      # a quick run (no budget verdict)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import date

import httpx

from bench.catalogs import ENGINE_NAMES, load_average, publish, seeded_database, settle, sizes_of
from bench.changes import change_one_percent
from bench.common import Benchmark, Context, Section, running_server, server_version
from bench.hierarchies import Latency, timed
from bench.workbench import BUDGET_MS, create_user, sign_in

WARMUP = 3
# Measured once, before the others: the first comparison of two releases passes over both and keeps what
# differs (later ones read that); outside the budget's steady state, shown for what it costs.
FIRST_COMPARISON = "compare it with the release before, the first time (found and kept; once per pair)"


@dataclass
class Figures:
    version: str
    load: float
    pages: dict[str, Latency] = field(default_factory=dict)


def run(ctx: Context) -> Section:
    sizes = sizes_of(ctx.args)
    requests: int = ctx.args.workbench_release_requests
    print(f"workbench-releases: {sizes.text()}; 1 % of the products changed between the two releases")
    results: dict[str, Figures] = {}
    for kind in ctx.databases:
        with seeded_database(ctx, kind, sizes, "workbench-releases.db") as (url, seeded):
            publish(url, seeded, sizes)
            change_one_percent(url)
            publish(url, seeded, sizes)
            settle(url)
            email = create_user(url)
            catalog = f"/admin/catalogs/{seeded.catalog_id}"
            pages = {
                "a catalog's page": catalog,
                "browse the latest release": f"{catalog}/releases/latest",
                "browse every product of a hierarchy (first page)": f"{catalog}/releases/latest?products=all",
                f"browse its busiest node ({seeded.busiest_node_products:,} products)": (
                    f"{catalog}/releases/latest?node={seeded.busiest_node}"
                ),
                "compare it with the release before": f"{catalog}/releases/latest/compare",
            }
            figures = Figures(server_version(kind, url), load_average())
            with running_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=120) as client:
                sign_in(client, email)
                client.get(catalog)  # the server's first page (templates compiled) is not the comparison's
                for title, path in pages.items():

                    def get(_i: int, path: str = path) -> httpx.Response:
                        return client.get(path)

                    if path.endswith("/compare"):  # the pair's first comparison finds and keeps its changes
                        figures.pages[FIRST_COMPARISON] = timed(1, 0, get, 200)
                        print(f"  {kind}: {FIRST_COMPARISON}: {figures.pages[FIRST_COMPARISON].text()}")
                    figures.pages[title] = timed(requests, WARMUP, get, 200)
                    print(f"  {kind}: {title}: {figures.pages[title].text()}")
            results[kind] = figures
    budget = sizes.is_budget()
    titles = list(next(iter(results.values())).pages) if results else []
    lines = [
        "| page | budget | " + " | ".join(ENGINE_NAMES[k] for k in results) + " | verdict |",
        "|---|---|" + "---|" * len(results) + "---|",
    ]
    for title in titles:
        latencies = [results[k].pages[title] for k in results]
        worst = max(max(lat.median, lat.p95) for lat in latencies)
        verdict = ("pass" if worst <= BUDGET_MS else "**fail**") if budget else "(not the budget size)"
        if title == FIRST_COMPARISON:
            verdict = "(once per pair of releases)"
        cells = " | ".join(lat.text() for lat in latencies)
        lines.append(f"| {title} | ≤ {BUDGET_MS:.0f} ms | {cells} | {verdict} |")
    versions = "; ".join(f"{f.version}, load average {f.load:.2f}" for f in results.values())
    body = "\n".join(
        [
            f"The catalog of the publish benchmark ({sizes.text()}) published, 1 % of its products changed "
            "(renamed, repriced, moved) and published again, as in the `changes` benchmark. Workbench pages from "
            f"`assortment serve --workers 1`, signed in as an editor, {requests} sequential requests each over "
            f"keep-alive loopback after {WARMUP} of warm-up; time as the client sees it. The first comparison of "
            "the two releases is timed alone, before the others: it passes over both releases' digests and keeps "
            f"what differs, which every later comparison of the pair reads. {versions}.",
            "",
            f"Command: `{ctx.command}` — {date.today().isoformat()}",
            "",
            *lines,
        ]
    )
    return Section("Workbench release pages", body)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workbench-releases")
    group.add_argument(
        "--workbench-release-requests", type=int, default=20, help="timed requests per page (20)"
    )


BENCHMARK = Benchmark(
    name="workbench-releases",
    title="Workbench release pages",
    run=run,
    description="server time of a catalog's page, a release's browse page and a comparison of two 100k releases",
    add_arguments=add_arguments,
)
