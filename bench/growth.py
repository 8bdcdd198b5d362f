"""How cost grows: publish time, peak memory, release read req/s and the cold reads' server CPU per request at
1k, 10k and 100k products (1M with `--growth-1m`), tabulated in BENCHMARKS.md and drawn in BENCHMARKS-growth.png
beside it.

Every size is a catalog built like the one of the publish budget (bench/catalogs.py), its other dimensions
scaled with the products in the budget's proportions (100k products : 2k nodes : 200k node links : 50k
associations; every product priced). For each database and size: a fresh database is seeded, the catalog
is published as a whole timed process (`assortment catalogs publish`: wall time, and from wait4 CPU time
and peak RSS), the database settled, and then `wrk` loads a page of 25 of the busiest node's products of the
new release against `assortment serve --workers 1`; then 1 % of the products change (`bench/changes.py`) and
the catalog is published again, timed the same way (the incremental publish, SPEC §10.3). The growth exponent
is the least-squares slope of log(cost) against log(products): 1 is linear.

Before the republish, the cold reads of bench/cold_reads.py (release and shopper pages with the read cache off,
PIM reads, with its hierarchy of 1,000 siblings added) are loaded one by one against a second server with
`ASSORTMENT_READ_CACHE_BYTES=0`, `wrk -t2` for `--growth-cold-seconds` after `--growth-cold-warmup`: the server's
CPU µs per request and req/s of each, at each size. Issue 17 wants each within 1.5× between 1k and 100k
products; the verdict compares CPU per request at the smallest and the largest size (the figure that the other
work on a shared machine disturbs least), req/s shown beside it. `--no-growth-cold` leaves them out.

    python -m bench.run --only growth                                  # 1k, 10k, 100k
    python -m bench.run --only growth --growth-1m                      # and 1M
    python -m bench.run --only growth --growth-sizes 1000,10000 --no-write   # a quick look
    python -m bench.run --only growth --growth-cold-seconds 10 --growth-cold-warmup 2   # longer cold reads

The plot goes to BENCHMARKS-growth.png beside the --output Markdown file; with --no-write to
bench/data/growth.png unless --growth-plot PATH says otherwise (--no-growth-plot: no plot). The plot is
drawn with matplotlib (a dev dependency).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench import cold_reads
from bench.catalogs import (
    BUDGET_SIZES,
    ENGINE_NAMES,
    Load,
    Sizes,
    load_average,
    publish,
    run_wrk,
    seeded_database,
    settle,
    wrk_command,
)
from bench.common import Benchmark, Context, Measured, Section, create_key, running_server, server_version

DEFAULT_SIZES = (1_000, 10_000, 100_000)
MILLION = 1_000_000
PAGE = 25
# A fitted exponent up to 1 + LINEAR_SLACK counts as linear: two timings of the same work differ by a
# few per cent on a shared machine, and that is what the slack absorbs.
LINEAR_SLACK = 0.05
# n log n between 10k and 100k is products^1.10; up to this exponent the growth is that of a sort, and
# called so: a verdict between linear and worse than linear.
N_LOG_N_EXPONENT = 1.15
PLOT_NAME = "BENCHMARKS-growth.png"
NO_MATPLOTLIB = "drawing the growth plot needs matplotlib: make install (or pass --no-growth-plot)"
# Issue 17: every cold read within 1.5× between 1k and 100k products.
FLAT_RATIO = 1.5
COLD_SECONDS = 3
COLD_WARMUP = 1


def scaled_sizes(products: int) -> Sizes:
    """A catalog of `products` products with the budget catalog's proportions of nodes, links and
    associations, priced."""
    budget_products, nodes, links, associations = BUDGET_SIZES
    sizes = Sizes(
        products=products,
        nodes=max(1, round(products * nodes / budget_products)),
        links=round(products * links / budget_products),
        associations=round(products * associations / budget_products),
        priced=True,
    )
    if sizes.links > sizes.products * sizes.nodes:
        raise SystemExit(f"--growth-sizes: {products:,} products are too few for the budget's proportions (use ≥ 100)")
    return sizes


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"--growth-sizes: comma-separated numbers of products, not {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise SystemExit("--growth-sizes: at least one size, every size ≥ 1")
    return sizes


def sizes_wanted(args: argparse.Namespace) -> list[int]:
    sizes = parse_sizes(args.growth_sizes) if args.growth_sizes else list(DEFAULT_SIZES)
    if args.growth_1m and MILLION not in sizes:
        sizes.append(MILLION)
    for products in sizes:
        scaled_sizes(products)  # rejects the sizes the proportions do not fit
    return sorted(sizes)


def plot_path(ctx: Context) -> Path | None:
    """Where the plot goes: --growth-plot, else beside the Markdown file, else (--no-write) bench/data/."""
    args = ctx.args
    if not args.growth_plot_enabled:
        return None
    if args.growth_plot is not None:
        return Path(args.growth_plot)
    if args.no_write:
        return ctx.data_dir / "growth.png"
    return Path(args.output).parent / PLOT_NAME


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Point:
    """One database at one size: every run's publish and read."""

    products: int
    sizes: Sizes
    version: str = ""
    seed_seconds: list[float] = field(default_factory=list)
    publishes: list[Measured] = field(default_factory=list)
    republishes: list[Measured] = field(default_factory=list)  # after 1 % of the products changed
    reads: list[Load] = field(default_factory=list)
    busiest_node_products: int = 0
    body_bytes: int = 0
    # The cold reads (bench/cold_reads.py): their names, and per run each read's load and server CPU µs per
    # request (None where the server's CPU time could not be read).
    cold_names: list[str] = field(default_factory=list)
    cold: list[list[tuple[Load, float | None]]] = field(default_factory=list)
    cold_loads: list[float] = field(default_factory=list)  # the load average before each run's cold reads

    @property
    def wall(self) -> float:
        return statistics.median(m.seconds for m in self.publishes)

    @property
    def cpu(self) -> float:
        return statistics.median(m.extra["cpu_seconds"] for m in self.publishes)

    @property
    def rss(self) -> float:
        return max(m.max_rss_mib for m in self.publishes)

    @property
    def republish_wall(self) -> float:
        return statistics.median(m.seconds for m in self.republishes) if self.republishes else math.nan

    @property
    def republish_cpu(self) -> float:
        return statistics.median(m.extra["cpu_seconds"] for m in self.republishes) if self.republishes else math.nan

    @property
    def republish_rss(self) -> float:
        return max((m.max_rss_mib for m in self.republishes), default=math.nan)

    @property
    def rps(self) -> float:
        return statistics.median(load.rps for load in self.reads)

    @property
    def p99(self) -> float:
        return max(load.p99_ms for load in self.reads)

    def cold_cpu(self, read: int) -> float | None:
        """The median server CPU µs per request of cold read number `read` over the runs."""
        values = [cpu for run in self.cold if (cpu := run[read][1]) is not None]
        return statistics.median(values) if values else None

    def cold_rps(self, read: int) -> float:
        return statistics.median(run[read][0].rps for run in self.cold)

    def cold_timeouts(self, read: int) -> int:
        return sum(run[read][0].timeouts for run in self.cold)


def access_token(base: str, database_url: str) -> str:
    client_id, secret = create_key(database_url, name="growth")
    response = httpx.post(
        f"{base}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    )
    if response.status_code != 200:
        raise SystemExit(f"POST /oauth/access_token: {response.status_code} {response.text[:2000]}")
    return str(response.json()["access_token"])


def measure_once(ctx: Context, kind: str, point: Point, wrk: str) -> None:
    """Seed a fresh database, publish its catalog (timed), then load a page of the release with wrk."""
    args = ctx.args
    sizes = point.sizes
    with seeded_database(ctx, kind, sizes, f"growth-{point.products}.db") as (url, seeded):
        if seeded.busiest_node_products < PAGE:
            raise SystemExit(f"no node has {PAGE} products (at most {seeded.busiest_node_products})")
        point.version = server_version(kind, url)
        point.seed_seconds.append(seeded.seconds)
        point.busiest_node_products = seeded.busiest_node_products
        load = load_average()  # as catalogs.timed_publish, which does not hand back the release
        measured, release = publish(url, seeded, sizes)
        measured.extra["load"] = load
        point.publishes.append(measured)
        print(
            f"  {kind:<10} {point.products:>9,}: seeded in {seeded.seconds:5.1f} s; publish {measured.seconds:6.2f} s "
            f"wall, {measured.extra['cpu_seconds']:6.2f} s CPU, peak RSS {measured.max_rss_mib:,.0f} MiB "
            f"(load average before: {load:.1f})"
        )
        found = None
        if args.growth_cold:
            product_id = cold_reads.some_product(url)
            found = cold_reads.targets(seeded.catalog_id, release["id"], seeded.busiest_node, product_id, url)
        settle(url)
        path = (
            f"/pcm/catalogs/{seeded.catalog_id}/releases/{release['id']}"
            f"/nodes/{seeded.busiest_node}/relationships/products"
        )
        with running_server(url, workers=1) as base:
            token = access_token(base, url)
            response = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code} {response.text[:2000]}")
            served = len(json.loads(response.content)["data"])
            if served != PAGE:
                raise SystemExit(f"expected a page of {PAGE} products, got {served}")
            point.body_bytes = len(response.content)
            threads, connections = args.read_threads, args.read_connections
            if args.read_warmup > 0:
                run_wrk(wrk, base + path, token, threads, connections, args.read_warmup)
            read = run_wrk(wrk, base + path, token, threads, connections, args.read_seconds)
            point.reads.append(read)
            print(
                f"  {kind:<10} {point.products:>9,}: read {read.rps:9,.0f} req/s "
                f"(p50 {read.p50_ms:.2f} ms, p99 {read.p99_ms:.2f} ms)"
            )
        if found is not None:
            measure_cold(point, url, found.reads, args)
        # The incremental publish (SPEC §10.3): 1 % of the products changed, then the catalog published again.
        from bench.changes import change_one_percent

        changed = change_one_percent(url)
        load = load_average()
        again, _ = publish(url, seeded, sizes)
        again.extra["load"] = load
        point.republishes.append(again)
        print(
            f"  {kind:<10} {point.products:>9,}: republish after {changed:,} changed {again.seconds:6.2f} s wall, "
            f"{again.extra['cpu_seconds']:6.2f} s CPU, peak RSS {again.max_rss_mib:,.0f} MiB (load average before: "
            f"{load:.1f})"
        )


def measure_cold(point: Point, url: str, reads: list[cold_reads.Read], args: argparse.Namespace) -> None:
    """The cold reads, one after the other, against a server with the read cache off."""
    with cold_reads.cold_server(url) as base:
        token = cold_reads.token_for(base, url)
        average = load_average()
        print(f"  cold reads at {point.products:,} products (load average {average:.1f}):")
        loads = cold_reads.measure(
            base, token, reads, args.growth_cold_seconds, args.growth_cold_warmup, args.read_connections
        )
    point.cold_names = [read.name for read in reads]
    point.cold.append(loads)
    point.cold_loads.append(average)


# --- growth ---------------------------------------------------------------------------------------


def slope(xs: list[float], ys: list[float]) -> float | None:
    """The least-squares slope of log(y) against log(x): the growth exponent; None under two sizes."""
    if len(xs) < 2:
        return None
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def above_baseline(xs: list[float], ys: list[float]) -> float | None:
    """The growth exponent of the cost above the smallest size's (y - y0 against x - x0, over the other
    sizes); None with fewer than two other sizes or where a larger size did not cost more."""
    extra = [(x - xs[0], y - ys[0]) for x, y in zip(xs[1:], ys[1:], strict=True)]
    if len(extra) < 2 or any(dx <= 0 or dy <= 0 for dx, dy in extra):
        return None
    return slope([dx for dx, _ in extra], [dy for _, dy in extra])


def judged(exponent: float) -> str:
    if exponent <= 1 + LINEAR_SLACK:
        return "linear or better"
    if exponent <= N_LOG_N_EXPONENT:
        return "about n log n"
    return "worse than linear"


def growth_sentence(kind: str, points: list[Point]) -> str:
    """The growth exponents of one database, computed from its points, and the verdict on each."""
    name = ENGINE_NAMES[kind]
    xs = [float(p.products) for p in points]
    time_exponent = slope(xs, [p.wall for p in points])
    rss_exponent = slope(xs, [p.rss for p in points])
    if time_exponent is None or rss_exponent is None:
        return f"{name}: one size only ({points[0].products:,} products), so no growth exponent."
    span = f"{points[0].products:,}–{points[-1].products:,} products"
    text = (
        f"{name}, over {span}: publish wall time grows as products^{time_exponent:.2f} "
        f"(**{judged(time_exponent)}**), peak RSS as products^{rss_exponent:.2f} (**{judged(rss_exponent)}**)"
    )
    if len(points) > 2:
        # The fit over all sizes is flattered by what every run pays whatever its size (start-up, imports,
        # the baseline memory of the process): the growth of the cost above the smallest size's is the
        # honest figure, and the verdict that counts.
        above_time = above_baseline(xs, [p.wall for p in points])
        above_rss = above_baseline(xs, [p.rss for p in points])
        parts = [
            f"{label} above the {points[0].products:,}-product run grows as products^{value:.2f} (**{judged(value)}**)"
            for label, value in (("time", above_time), ("RSS", above_rss))
            if value is not None
        ]
        if parts:
            text += "; without the fixed part, " + " and ".join(parts)
    first, last = points[0], points[-1]
    text += f". Read req/s at {last.products:,} products is {last.rps / first.rps:.0%} of that at {first.products:,}."
    republished = [p for p in points if p.republishes]
    if republished:
        # 1 % of each size changes, so the change grows with the catalog too: a republish in proportion to
        # the change grows linearly, and what tells it from a full publish is its share of one.
        exponent = slope([float(p.products) for p in republished], [p.republish_wall for p in republished])
        top = republished[-1]
        text += (
            f" The republish after 1 % changed costs {top.republish_wall / top.wall:.0%} of the first publish's wall "
            f"time and {top.republish_cpu / top.cpu:.0%} of its CPU at {top.products:,} products"
            + (f", its wall time growing as products^{exponent:.2f}." if exponent is not None else ".")
        )
    return text


# DESIGN.md: the first publish of 1M products ≤ 120 s with peak RSS ≤ 1 GiB (issue 13).
BUDGET_MILLION_S = 120.0
BUDGET_MILLION_RSS_MIB = 1024.0


def million_verdicts(results: dict[str, list[Point]]) -> list[str]:
    """Lines saying whether the 1M-product publishes kept to their budget (none when 1M was not measured)."""
    lines = []
    for kind, points in results.items():
        for p in points:
            if p.products != MILLION:
                continue
            slowest = max(m.seconds for m in p.publishes)
            ok = slowest <= BUDGET_MILLION_S and p.rss <= BUDGET_MILLION_RSS_MIB
            lines.append(
                f"{ENGINE_NAMES[kind]}, 1,000,000 products: publish {slowest:.1f} s wall, peak RSS {p.rss:,.0f} MiB; "
                f"budget ≤ {BUDGET_MILLION_S:g} s and ≤ {BUDGET_MILLION_RSS_MIB:,.0f} MiB: "
                + ("**pass**" if ok else "**fail**")
            )
    return ["", *lines] if lines else []


# --- cold reads: flat with size? ---------------------------------------------------------------------


@dataclass
class Flatness:
    """One cold read of one database: its cost at the largest size against the smallest's."""

    name: str
    cpu_ratio: float | None  # server CPU µs per request, largest size ÷ smallest (None: one size, or no CPU figure)
    rps_ratio: float | None  # req/s, largest ÷ smallest
    sizes: int  # how many sizes measured it

    @property
    def flat(self) -> bool | None:
        """Within FLAT_RATIO either way; None when it cannot be told."""
        if self.cpu_ratio is None:
            return None
        return 1 / FLAT_RATIO <= self.cpu_ratio <= FLAT_RATIO

    def verdict(self) -> str:
        if self.sizes < 2:
            return "(one size only)"
        if self.flat is None or self.cpu_ratio is None:
            return "— (no CPU figure)"
        if self.flat:
            return "flat"
        return "**not flat**: " + ("grows" if self.cpu_ratio > 1 else "cheaper at the largest")


def flatness(points: list[Point]) -> list[Flatness]:
    """Each cold read of one database, judged between the smallest and the largest size that measured it."""
    measured = [p for p in points if p.cold]
    if not measured:
        return []
    first, last = measured[0], measured[-1]
    found = []
    for i, name in enumerate(first.cold_names):
        cpu_ratio = rps_ratio = None
        if len(measured) > 1:
            cpu0, cpu1 = first.cold_cpu(i), last.cold_cpu(i)
            if cpu0 and cpu1 is not None:
                cpu_ratio = cpu1 / cpu0
            if first.cold_rps(i) > 0:
                rps_ratio = last.cold_rps(i) / first.cold_rps(i)
        found.append(Flatness(name, cpu_ratio, rps_ratio, len(measured)))
    return found


def flat_sentence(kind: str, points: list[Point]) -> str | None:
    """How many cold reads of one database stay within FLAT_RATIO, and the ones that do not; None without
    cold reads."""
    judged_reads = flatness(points)
    if not judged_reads:
        return None
    name = ENGINE_NAMES[kind]
    measured = [p for p in points if p.cold]
    if len(measured) < 2:
        return f"{name}: cold reads at one size only ({measured[0].products:,} products), so no verdict on flatness."
    told = [f for f in judged_reads if f.flat is not None]
    span = f"{measured[0].products:,} and {measured[-1].products:,} products"
    if not told:
        return f"{name}: the server's CPU time could not be read, so no verdict on the cold reads' flatness."
    flat = [f for f in told if f.flat]
    text = (
        f"{name}: {len(flat)} of {len(judged_reads)} cold reads keep their CPU per request within {FLAT_RATIO:g}× "
        f"between {span}"
    )
    grows = [f for f in told if not f.flat and (f.cpu_ratio or 0) > 1]
    cheaper = [f for f in told if not f.flat and (f.cpu_ratio or 0) < 1]
    if grows:
        text += f"; growing by more than {FLAT_RATIO:g}×: " + ", ".join(f"{f.name} (×{f.cpu_ratio:.2f})" for f in grows)
    if cheaper:
        # Not a cost that grows with the store, but outside the band all the same: the smaller size's run cost
        # more (most often the other work on the machine at the time), and says so.
        text += f"; more than {FLAT_RATIO:g}× cheaper at the largest size: " + ", ".join(
            f"{f.name} (×{f.cpu_ratio:.2f})" for f in cheaper
        )
    return text + "."


def cold_rows(results: dict[str, list[Point]]) -> list[str]:
    """The cold reads' table: a row per read and database, CPU µs per request (req/s) at each size, the
    ratios of the largest size to the smallest and the verdict; no lines without cold reads."""
    measured = {kind: [p for p in points if p.cold] for kind, points in results.items()}
    measured = {kind: points for kind, points in measured.items() if points}
    if not measured:
        return []
    sizes = sorted({p.products for points in measured.values() for p in points})
    names = next(iter(measured.values()))[0].cold_names
    header = (
        "| cold read | database | "
        + " | ".join(f"{n:,}: CPU µs/req (req/s)" for n in sizes)
        + " | CPU largest ÷ smallest | req/s largest ÷ smallest | verdict |"
    )
    lines = [header, "|---|---|" + "---:|" * len(sizes) + "---:|---:|---|"]
    verdicts = {kind: flatness(points) for kind, points in measured.items()}
    for i, name in enumerate(names):
        for kind, points in measured.items():
            by_size = {p.products: p for p in points}
            cells = [name, ENGINE_NAMES[kind]]
            for n in sizes:
                p = by_size.get(n)
                if p is None:
                    cells.append("")
                    continue
                cpu = p.cold_cpu(i)
                extra = f"; {p.cold_timeouts(i)} timed out" if p.cold_timeouts(i) else ""
                cells.append(("—" if cpu is None else f"{cpu:,.0f}") + f" ({p.cold_rps(i):,.0f}{extra})")
            verdict = verdicts[kind][i]
            cells += [
                "—" if verdict.cpu_ratio is None else f"×{verdict.cpu_ratio:.2f}",
                "—" if verdict.rps_ratio is None else f"×{verdict.rps_ratio:.2f}",
                verdict.verdict(),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


# --- plot -----------------------------------------------------------------------------------------


def draw(path: Path, results: dict[str, list[Point]], title: str) -> None:
    """Three log-log panels against products: publish seconds, peak RSS MiB, read req/s; one line per
    database and a dotted reference of linear cost through the first database's smallest size. With cold
    reads, a second row: per database, each cold read's server CPU µs per request against products."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise SystemExit(NO_MATPLOTLIB) from None

    def products_label(value: float, _position: object) -> str:
        for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
            if value >= factor:
                return f"{value / factor:g}{suffix}"
        return f"{value:g}"

    def plain(value: float, _position: object) -> str:
        return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"

    def two_and_five(value: float, position: object) -> str:  # minor labels: the 2s and 5s of each decade
        leading = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0.0
        return plain(value, position) if round(leading, 6) in (2.0, 5.0) else ""

    panels: tuple[tuple[str, Callable[[Point], float], float, str], ...] = (
        ("publish wall time (s)", lambda p: p.wall, 1.0, "∝ products (linear)"),
        ("publish peak RSS (MiB)", lambda p: p.rss, 1.0, "∝ products (linear)"),
        ("release read, page of 25 (req/s)", lambda p: p.rps, -1.0, "∝ 1/products (linear cost per request)"),
    )
    cold = {kind: [p for p in points if p.cold] for kind, points in results.items()}
    cold = {kind: points for kind, points in cold.items() if points}
    rows = 2 if cold else 1
    figure = Figure(figsize=(15, 4.8 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, len(panels), squeeze=False)
    all_sizes = sorted({p.products for points in results.values() for p in points})
    anchor = next(iter(results.values()))[0]

    def log_log(ax: Any, label: str) -> None:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("products in the catalog")
        ax.set_title(label)
        ax.set_xticks(all_sizes)
        ax.xaxis.set_major_formatter(FuncFormatter(products_label))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
        ax.yaxis.set_major_formatter(FuncFormatter(plain))
        ax.yaxis.set_minor_formatter(FuncFormatter(two_and_five))
        ax.tick_params(axis="y", which="minor", labelsize="x-small")
        ax.grid(True, which="both", alpha=0.3)

    for ax, (label, value, power, reference) in zip(grid[0], panels, strict=True):
        for kind, points in results.items():
            ax.plot([p.products for p in points], [value(p) for p in points], marker="o", label=ENGINE_NAMES[kind])
        if len(all_sizes) > 1:
            x0, y0 = anchor.products, value(anchor)
            ax.plot(all_sizes, [y0 * (x / x0) ** power for x in all_sizes], ":", color="grey", label=reference)
        log_log(ax, label)
        ax.legend(fontsize="small")
    if cold:
        spare = list(grid[1][len(cold) :])
        markers = "osD^v<>ph*"
        for ax, (kind, points) in zip(grid[1], cold.items(), strict=False):
            for i, name in enumerate(points[0].cold_names):
                cpus = [(p.products, p.cold_cpu(i)) for p in points]
                shown = [(x, y) for x, y in cpus if y is not None]
                ax.plot(
                    [x for x, _ in shown],
                    [y for _, y in shown],
                    marker=markers[i % len(markers)],
                    color=f"C{i % 10}",
                    label=name.replace("`", ""),
                )
            log_log(ax, f"cold reads, {ENGINE_NAMES[kind]}: server CPU µs per request")
        for ax in spare:
            ax.axis("off")
        handles, labels = grid[1][0].get_legend_handles_labels()
        where = spare[0] if spare else grid[1][-1]
        where.legend(
            handles,
            labels,
            loc="center" if spare else "best",
            fontsize="small",
            title=f"flat with size: within {FLAT_RATIO:g}× between the smallest and largest size",
            title_fontsize="small",
        )
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


# --- report ---------------------------------------------------------------------------------------


def run(ctx: Context) -> Section:
    args = ctx.args
    products = sizes_wanted(args)
    repeat = max(args.repeat, 1)
    plot = plot_path(ctx)
    if plot is not None and importlib.util.find_spec("matplotlib") is None:  # before, not after, the hours
        raise SystemExit(NO_MATPLOTLIB)
    wrk = wrk_command()
    print(
        f"growth: {', '.join(f'{p:,}' for p in products)} products on {', '.join(ctx.databases)}; "
        f"wrk -t{args.read_threads} -c{args.read_connections} -d{args.read_seconds}s × {repeat}"
        + (
            f"; cold reads wrk -t2 -c{args.read_connections} -d{args.growth_cold_seconds}s each"
            if args.growth_cold
            else ""
        )
    )
    results: dict[str, list[Point]] = {}
    for kind in ctx.databases:
        results[kind] = []
        for count in products:
            point = Point(count, scaled_sizes(count))
            for _ in range(repeat):
                measure_once(ctx, kind, point, wrk)
            results[kind].append(point)

    rows = []
    for count in products:
        for points in results.values():
            p = next(p for p in points if p.products == count)
            cells = [
                f"{count:,}",
                p.version,
                f"{p.wall:.2f}",
                f"{p.wall / (count / 1000):.3f}",
                f"{p.cpu:.2f}",
                f"{p.rss:,.0f}",
                f"{p.rps:,.0f}",
                f"{p.p99:.2f}",
                f"{p.republish_wall:.2f}",
                f"{p.republish_cpu:.2f}",
                f"{p.republish_rss:,.0f}",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    loads = [m.extra["load"] for points in results.values() for p in points for m in p.publishes]
    shapes = "; ".join(f"{p:,}: {scaled_sizes(p).text()}" for p in products)
    stamp = date.today().isoformat()
    if plot is not None:
        draw(plot, results, f"How cost grows — {', '.join(ENGINE_NAMES[k] for k in results)}, {stamp}")
        print(f"plot: {plot}")
        try:
            shown = os.path.relpath(plot.resolve(), Path(args.output).resolve().parent)
        except ValueError:  # another drive
            shown = str(plot)
        drawn = "Publish time, peak RSS and read req/s" + (
            ", and the cold reads' CPU per request," if args.growth_cold else ""
        )
        picture = f"![{drawn} against products, log-log]({shown})"
    else:
        picture = "(No plot: --no-growth-plot.)"
    body = "\n".join(
        [
            "Each size is a catalog built as in the publish benchmark, with nodes, node links and "
            "associations scaled in the budget catalog's proportions (100k products : 2k nodes : 200k "
            f"links : 50k associations, every product priced) — {shapes}. Per database and size: a fresh "
            "database, seeded; `assortment catalogs publish ID --quiet --json` timed as a whole process "
            "(wall time with start-up, and from `wait4` its CPU time and peak RSS); the database settled "
            "(PostgreSQL `VACUUM ANALYZE` and `CHECKPOINT`, SQLite a WAL checkpoint); then "
            f"`wrk -t{args.read_threads} -c{args.read_connections} -d{args.read_seconds}s --latency` after a "
            f"{args.read_warmup} s warm-up, against `assortment serve --workers 1`, on the default page of "
            f"{PAGE} of the busiest node's products in the new release; then 1 % of the products changed with "
            "direct SQL as in the `changes` benchmark (renamed, repriced, moved; `updated_at` moved as the API "
            "does) and the catalog published again, timed the same way: the incremental publish (SPEC §10.3). "
            + (
                f"{repeat} runs per point: median wall, CPU and req/s, largest RSS and p99. "
                if repeat > 1
                else "One run per point. "
            )
            + f"1-minute load average before the publishes: {min(loads):.1f}–{max(loads):.1f} on "
            f"{os.cpu_count()} CPUs (wrk shares them with the server).",
            "",
            "Growth exponent: the least-squares slope of log(cost) against log(products) over the measured "
            f"sizes; 1 is linear, and up to {1 + LINEAR_SLACK:g} counts as linear (timing noise); up to "
            f"{N_LOG_N_EXPONENT:g} it is called n log n (sorting 10× more rows costs about 12.5×). The "
            "start-up cost of the process (and its baseline memory) is in every point, so the fit over "
            "all sizes is flattered at the small end.",
            "",
            *(f"- {growth_sentence(kind, points)}" for kind, points in results.items()),
            "",
            f"Command: `{ctx.command}` — {stamp}",
            "",
            "| products | database | publish wall s | s per 1k products | CPU s | peak RSS MiB | read req/s | p99 ms "
            "| republish after 1 % changed, wall s | its CPU s | its peak RSS MiB |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            *million_verdicts(results),
            *cold_section(ctx, results),
            "",
            picture,
        ]
    )
    return Section(TITLE, body)


def cold_section(ctx: Context, results: dict[str, list[Point]]) -> list[str]:
    """The cold reads' paragraph, verdicts and table (nothing when they were not measured)."""
    args = ctx.args
    rows = cold_rows(results)
    if not rows:
        return []
    loads = [load for points in results.values() for p in points for load in p.cold_loads]
    sentences = [s for kind, points in results.items() if (s := flat_sentence(kind, points)) is not None]
    return [
        "",
        "**Cold reads against size** (issue 17: each within "
        f"{FLAT_RATIO:g}× between 1k and 100k products). At each size, after the release read, the reads of the "
        "cold-reads benchmark (`bench/cold_reads.py`, a hierarchy of "
        f"{cold_reads.SIBLINGS:,} siblings added beside the catalog) against a second "
        "`assortment serve --workers 1` with `ASSORTMENT_READ_CACHE_BYTES=0`, one read after the other: "
        f"`wrk -t2 -c{args.read_connections} -d{args.growth_cold_seconds}s --latency`"
        + (f" after a {args.growth_cold_warmup} s warm-up" if args.growth_cold_warmup > 0 else "")
        + "; the server's CPU time per request from `/proc` over the timed run, and req/s. The verdict compares "
        "CPU per request at the smallest and the largest size (other work on the shared machine disturbs it "
        "least; req/s falls whenever the server is not scheduled)"
        + (f"; 1-minute load average before them: {min(loads):.1f}–{max(loads):.1f}." if loads else "."),
        "",
        *(f"- {s}" for s in sentences),
        "",
        *rows,
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("growth (also uses --read-seconds, --read-warmup, --read-connections, …)")
    group.add_argument(
        "--growth-sizes",
        default=None,
        metavar="N,N,…",
        help=f"products per catalog, comma-separated (default: {','.join(map(str, DEFAULT_SIZES))})",
    )
    group.add_argument("--growth-1m", action="store_true", help="also measure 1,000,000 products (slow)")
    group.add_argument(
        "--growth-plot",
        default=None,
        metavar="PATH",
        help=f"where to draw the PNG (default: {PLOT_NAME} beside --output; with --no-write bench/data/growth.png)",
    )
    group.add_argument(
        "--no-growth-plot",
        dest="growth_plot_enabled",
        action="store_false",
        help="draw no plot (matplotlib not needed)",
    )
    group.add_argument(
        "--growth-cold-seconds",
        type=int,
        default=COLD_SECONDS,
        metavar="S",
        help=f"duration of each cold read's timed wrk run at each size ({COLD_SECONDS})",
    )
    group.add_argument(
        "--growth-cold-warmup",
        type=int,
        default=COLD_WARMUP,
        metavar="S",
        help=f"duration of each cold read's wrk warm-up, 0 for none ({COLD_WARMUP})",
    )
    group.add_argument(
        "--no-growth-cold",
        dest="growth_cold",
        action="store_false",
        help="leave out the cold reads (bench/cold_reads.py) at each size",
    )


TITLE = "How cost grows: publish, release read and cold reads against catalog size"
BENCHMARK = Benchmark(
    name="growth",
    title=TITLE,
    run=run,
    description=(
        "publish time, peak RSS, release read req/s and the cold reads' CPU per request at 1k, 10k, 100k (1M) "
        "products on each database"
    ),
    add_arguments=add_arguments,
)
