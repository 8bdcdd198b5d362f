"""Webhooks and the outbox (issue 14, SPEC §11): what the outbox costs a change, and how fast events reach a
healthy receiver.

On each database (a fresh one, seeded with a small catalog as bench/catalogs.py seeds it):

- **Outbox cost.** Two `assortment serve --workers 1` processes on the same database, one as shipped and one
  with `ASSORTMENT_BENCH_WITHOUT_EVENTS=true` (it records no events; the setting exists for this comparison
  only), both with their delivery loop off. Rounds alternate between them (which goes first alternates too):
  `wrk -t1 -c1` PUTs one product for a few seconds (one request at a time, so the figure is the time of one
  update, client overhead included), then the catalog is published over HTTP a few times. A product update
  is measured twice: in a store without integrations (the event row alone) and in a store with an enabled
  integration observing `product.updated` (the event and its job; nothing delivers it). The cost is the
  median over rounds of (time with events / time without − 1), and best against best.
- **Latency.** One server with its delivery loop on, an enabled integration observing `product.updated`
  pointing at a receiver on loopback (`bench/webhook_receiver.py`, a separate process), and product updates
  sent one after the other at a steady rate. The latency of an event is from the moment its request was sent
  (so an upper bound on "from commit": the commit happens before the answer) to its arrival at the receiver.
- **Throughput.** A backlog of N `product.created` events with their jobs, written by
  `assortment products import` of N products into a store whose integration observes them while nothing
  delivers; then one `assortment worker` (one delivery loop) starts, and the rate is N over the time from
  the first to the last arrival.

Budgets (DESIGN.md, SPEC §11.3): p95 ≤ 2 s from commit, ≥ 500 events/s sustained, outbox ≤ 10 % of a
product update and of a publish.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import product_import
from bench.catalogs import (
    ENGINE_NAMES,
    Sizes,
    load_average,
    seeded_database,
    settle,
)
from bench.common import (
    ROOT,
    Benchmark,
    Context,
    Section,
    assortment_command,
    create_key,
    free_port,
    running_server,
    scalar,
    server_version,
)

BUDGET_P95_S = 2.0
BUDGET_EVENTS_PER_S = 500.0
BUDGET_OVERHEAD = 0.10
WARM_UP = 30  # pairs of requests before each round's timed ones
DELIVERING = {"ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
QUIET = {**DELIVERING, "ASSORTMENT_WEBHOOK_WORKER": "false", "ASSORTMENT_LOG_LEVEL": "warning"}
WITHOUT_EVENTS = {**QUIET, "ASSORTMENT_BENCH_WITHOUT_EVENTS": "true"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("webhooks (delivery latency, throughput, outbox cost)")
    group.add_argument("--webhooks-rounds", type=int, default=10, help="rounds of the outbox cost (10)")
    group.add_argument(
        "--webhooks-updates", type=int, default=300, help="pairs of product updates per round and store (300)"
    )
    group.add_argument("--webhooks-publishes", type=int, default=4, help="pairs of publishes per round (4)")
    group.add_argument(
        "--webhooks-catalog-products", type=int, default=2000, help="products in the published catalog (2000)"
    )
    group.add_argument("--webhooks-latency-events", type=int, default=400, help="events timed for latency (400)")
    group.add_argument("--webhooks-latency-rate", type=float, default=20.0, help="their changes per second (20)")
    group.add_argument(
        "--webhooks-backlog", type=int, default=10_000, help="events in the backlog delivered for throughput"
    )


# --- the receiver -------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str  # where integrations point
    base: str

    def count(self) -> int:
        return int(httpx.get(f"{self.base}/count", timeout=30).text)

    def received(self) -> list[dict[str, Any]]:
        text = httpx.get(f"{self.base}/received", timeout=60).text
        return [json.loads(line) for line in text.splitlines() if line]

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (got := self.count()) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the receiver got {got} of {count} deliveries within {timeout:.0f} s")
            time.sleep(0.2)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_receiver", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/count", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the webhook receiver did not start") from None
                time.sleep(0.05)
        yield Receiver(f"{base}/hook", base)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- API helpers --------------------------------------------------------------------------------------------


def cli(database_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [assortment_command(), *args],
        env={**os.environ, **(env or {}), "ASSORTMENT_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"assortment {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def with_application_name(database_url: str, name: str) -> str:
    """PostgreSQL: the URL with `application_name` set, so the server's backends can be told apart."""
    if not database_url.startswith("postgresql"):
        return database_url
    return make_url(database_url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def store_with_key(database_url: str, name: str) -> tuple[str, str, str]:
    """A new store and a key of it: (store id, client id, secret)."""
    store = json.loads(cli(database_url, "stores", "create", "--name", name, "--json").strip().splitlines()[-1])
    key = json.loads(
        cli(database_url, "keys", "create", "--name", name, "--store", store["id"], "--json").strip().splitlines()[-1]
    )
    return str(store["id"]), str(key["client_id"]), str(key["client_secret"])


def token(base: str, client_id: str, secret: str) -> str:
    response = httpx.post(
        f"{base}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30,
    )
    if response.status_code != 200:
        raise SystemExit(f"token: {response.status_code} {response.text[:500]}")
    return str(response.json()["access_token"])


def call(client: httpx.Client, method: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.request(method, path, json=None if data is None else {"data": data})
    if response.status_code >= 300:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:2000]}")
    return response.json() if response.content else {}


def api(base: str, bearer: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=120)


def integrate(client: httpx.Client, url: str, observes: list[str]) -> str:
    made = call(
        client,
        "POST",
        "/v2/integrations",
        {
            "type": "integration",
            "name": "bench receiver",
            "integration_type": "webhook",
            "enabled": True,
            "observes": observes,
            "configuration": {"url": url, "secret_key": "whsec_YmVuY2ggc2lnbmluZyBrZXkgb2YgMzIgYnl0ZXMh"},
        },
    )
    return str(made["data"]["id"])


def new_product(client: httpx.Client, name: str) -> str:
    made = call(
        client,
        "POST",
        "/pcm/products",
        {"type": "product", "attributes": {"name": name, "sku": name, "commodity_type": "physical"}},
    )
    return str(made["data"]["id"])


def update_body(product_id: str, name: str) -> dict[str, Any]:
    return {"data": {"type": "product", "id": product_id, "attributes": {"name": name}}}


# --- the outbox's cost --------------------------------------------------------------------------------------


@dataclass
class Arm:
    """Times (ms) of the same request with and without events, taken in pairs, alternately first."""

    with_events: list[float] = field(default_factory=list)
    without: list[float] = field(default_factory=list)
    cpu_with: float = 0.0  # CPU seconds of the server and its database backends, all pairs
    cpu_without: float = 0.0

    def cpu_cost(self) -> float:
        """CPU with events over CPU without, − 1: what the outbox makes the machine do, which the other work
        on a shared machine disturbs much less than it disturbs wall time (the wait for the disk is not in it)."""
        return self.cpu_with / self.cpu_without - 1 if self.cpu_without else float("nan")

    def cpu_per_request_ms(self) -> tuple[float, float]:
        count = max(len(self.without), 1)
        return self.cpu_with / count * 1000, self.cpu_without / count * 1000

    def medians(self) -> tuple[float, float]:
        return statistics.median(self.with_events), statistics.median(self.without)

    def cost(self) -> float:
        """The median time with events over the median time without, − 1."""
        with_ms, without_ms = self.medians()
        return with_ms / without_ms - 1


class Connection:
    """One kept-alive HTTP/1.1 connection to a server (http.client: the least client time per request)."""

    def __init__(self, base: str, bearer: str) -> None:
        parts = urlsplit(base)
        self.http = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
        self.headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def timed(self, method: str, path: str, body: bytes | None = None) -> float:
        """The request's time in ms, from sending to the last byte of the answer (which must be 2xx)."""
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.http.request(method, path, body=body, headers=self.headers)
                response = self.http.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the kept-alive connection (idle too long): once more on a new one.
                self.http.close()
                if attempt == 2:
                    raise
        took = (time.perf_counter() - started) * 1000
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {content[:1000]!r}")
        return took

    def close(self) -> None:
        self.http.close()


@dataclass
class Cost:
    update: Arm = field(default_factory=Arm)
    update_observed: Arm = field(default_factory=Arm)
    publish: Arm = field(default_factory=Arm)
    loads: list[float] = field(default_factory=list)


class CpuProbe:
    """The CPU time used so far by a server process and by the PostgreSQL backends of its connections (which
    the server names with `application_name`); on SQLite the database works inside the server process."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, base: str, database_url: str, application_name: str) -> None:
        self.server_pid = server_pid(base)
        self.database_url = database_url if database_url.startswith("postgresql") else None
        self.application_name = application_name

    def seconds(self) -> float:
        pids = [self.server_pid]
        if self.database_url is not None:
            names = f"SELECT pid FROM pg_stat_activity WHERE application_name = '{self.application_name}'"
            pids += [int(pid) for pid in rows(self.database_url, names)]
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a backend that ended meanwhile
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.TICKS


def server_pid(base: str) -> int:
    """The pid of the `assortment serve` listening at `base` (one worker: the server runs in that process)."""
    port = str(urlsplit(base).port)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv]
        if "serve" in words and "--port" in words and words[words.index("--port") + 1] == port:
            return int(entry.name)
    raise SystemExit(f"no assortment serve process listens on port {port}")


def rows(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).scalars())
    finally:
        engine.dispose()


@dataclass
class Servers:
    """The two servers of the comparison: their connections for one store, and their CPU probes."""

    on: Connection
    off: Connection
    on_cpu: CpuProbe
    off_cpu: CpuProbe


def paired(arm: Arm, servers: Servers, method: str, path: str, count: int, updating: str = "") -> None:
    """`count` pairs of the same request to both servers, which one goes first alternating: both see the
    same moment of the machine, whatever else it runs. `updating`: the product whose name each PUT changes."""
    on, off = servers.on, servers.off
    on_cpu, off_cpu = servers.on_cpu.seconds(), servers.off_cpu.seconds()
    for i in range(count):
        body = json.dumps(update_body(updating, f"{path} {time.time_ns()}")).encode() if updating else None
        if i % 2 == 0:
            arm.with_events.append(on.timed(method, path, body))
            arm.without.append(off.timed(method, path, body))
        else:
            arm.without.append(off.timed(method, path, body))
            arm.with_events.append(on.timed(method, path, body))
    arm.cpu_with += servers.on_cpu.seconds() - on_cpu
    arm.cpu_without += servers.off_cpu.seconds() - off_cpu


def last(arm: Arm, count: int, digits: int = 2) -> str:
    """The medians of the last `count` pairs, with / without."""
    with_ms, without_ms = statistics.median(arm.with_events[-count:]), statistics.median(arm.without[-count:])
    return f"{with_ms:.{digits}f} / {without_ms:.{digits}f}"


def both(arm: Arm, digits: int) -> str:
    with_ms, without_ms = arm.medians()
    return f"{with_ms:.{digits}f} / {without_ms:.{digits}f}"


def measure_cost(ctx: Context, url: str, catalog_id: str) -> Cost:
    args = ctx.args
    cost = Cost()
    client_id, secret = create_key(url, "bench-cost")
    _, observed_id, observed_secret = store_with_key(url, "observed")
    product_id = str(scalar(url, "SELECT id FROM product ORDER BY pk LIMIT 1"))
    if len(product_id) == 32:  # SQLite keeps uuids as 32 hex digits
        product_id = str(uuid.UUID(product_id))
    with running_server(url, env=QUIET) as base, api(base, token(base, observed_id, observed_secret)) as client:
        observer = integrate(client, "http://127.0.0.1:9/never-delivered", ["product.updated"])
        observed_product = new_product(client, f"observed-{uuid.uuid4().hex[:8]}")
    rounds = args.webhooks_rounds
    for round_no in range(rounds):
        # New servers each round, started one after the other in alternating order: in trial runs the server
        # started first was slower by 5 to 40 %, with or without events, which pairing requests does not cancel.
        with paired_servers(url, first_on=round_no % 2 == 0) as (on, off):
            store = Servers(
                Connection(on, token(on, client_id, secret)),
                Connection(off, token(off, client_id, secret)),
                CpuProbe(on, url, "assortment-bench-on"),
                CpuProbe(off, url, "assortment-bench-off"),
            )
            observed = replace(
                store,
                on=Connection(on, token(on, observed_id, observed_secret)),
                off=Connection(off, token(off, observed_id, observed_secret)),
            )
            try:
                updates = f"/pcm/products/{product_id}"
                observed_path = f"/pcm/products/{observed_product}"
                paired(Arm(), store, "PUT", updates, WARM_UP, product_id)  # connections, caches, statements
                paired(Arm(), observed, "PUT", observed_path, WARM_UP, observed_product)
                cost.loads.append(load_average())
                paired(cost.update, store, "PUT", updates, args.webhooks_updates, product_id)
                paired(cost.update_observed, observed, "PUT", observed_path, args.webhooks_updates, observed_product)
                paired(cost.publish, store, "POST", f"/pcm/catalogs/{catalog_id}/releases", args.webhooks_publishes)
            finally:
                for connection in (store.on, store.off, observed.on, observed.off):
                    connection.close()
        first = "with" if round_no % 2 == 0 else "without"
        print(
            f"    round {round_no + 1}/{rounds} (server {first} events started first; load {cost.loads[-1]:.1f}): "
            f"this round's median update {last(cost.update, args.webhooks_updates)} ms, observed "
            f"{last(cost.update_observed, args.webhooks_updates)} ms, publish "
            f"{last(cost.publish, args.webhooks_publishes, 0)} ms (with / without events); so far: wall "
            f"{pct(cost.update.cost())} / {pct(cost.update_observed.cost())} / {pct(cost.publish.cost())}, CPU "
            f"{pct(cost.update.cpu_cost())} / {pct(cost.update_observed.cpu_cost())} / {pct(cost.publish.cpu_cost())}"
        )
    with running_server(url, env=QUIET) as base, api(base, token(base, observed_id, observed_secret)) as client:
        call(client, "PUT", f"/v2/integrations/{observer}", {"type": "integration", "enabled": False})  # never due
    return cost


@contextmanager
def paired_servers(url: str, *, first_on: bool) -> Iterator[tuple[str, str]]:
    """(with events, without), both delivery loops off, started in the order asked."""
    on = (with_application_name(url, "assortment-bench-on"), QUIET)
    off = (with_application_name(url, "assortment-bench-off"), WITHOUT_EVENTS)
    first, second = (on, off) if first_on else (off, on)
    with running_server(first[0], env=first[1]) as one, running_server(second[0], env=second[1]) as two:
        yield (one, two) if first_on else (two, one)


# --- latency and throughput ---------------------------------------------------------------------------------


@dataclass
class Delivery:
    latencies_ms: list[float]
    backlog: int
    rate: float  # events/s, first to last arrival
    drain_s: float  # from the worker's start to the last arrival
    load: float


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure_latency(url: str, receiver: Receiver, events: int, rate: float) -> list[float]:
    _, client_id, secret = store_with_key(url, "latency")
    serving = {**DELIVERING, "ASSORTMENT_LOG_LEVEL": "warning"}
    with running_server(url, env=serving) as base, api(base, token(base, client_id, secret)) as client:
        integrate(client, receiver.url, ["product.updated"])
        products = [new_product(client, f"latency-{uuid.uuid4().hex[:8]}") for _ in range(10)]
        already = receiver.count()
        sent: dict[str, float] = {}
        started = time.monotonic()
        for i in range(events):
            due = started + i / rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            product_id = products[i % len(products)]
            name = f"latency {i}"
            sent[name] = time.monotonic()
            response = client.put(f"/pcm/products/{product_id}", json=update_body(product_id, name))
            if response.status_code != 200:
                raise SystemExit(f"PUT product: {response.status_code} {response.text[:500]}")
        receiver.wait_for(already + events, timeout=120)
    arrived = {r["name"]: r["at"] for r in receiver.received() if r.get("name") in sent}
    missing = set(sent) - set(arrived)
    if missing:
        raise SystemExit(f"{len(missing)} events never arrived")
    return [(arrived[name] - sent[name]) * 1000 for name in sent]


def measure_throughput(ctx: Context, url: str, receiver: Receiver, backlog: int) -> tuple[float, float]:
    store_id, client_id, secret = store_with_key(url, "throughput")
    with running_server(url, env=QUIET) as base, api(base, token(base, client_id, secret)) as client:
        integrate(client, receiver.url, ["product.created"])
    pending = int(str(scalar(url, "SELECT count(*) FROM integration_job WHERE status = 'pending'")))
    path = product_import.products_file(ctx.data_dir, backlog)
    cli(url, "products", "import", str(path), "--store", store_id, "--quiet")
    jobs = int(str(scalar(url, "SELECT count(*) FROM integration_job WHERE status = 'pending'"))) - pending
    if jobs != backlog:
        raise SystemExit(f"the import left {jobs} new pending jobs, expected {backlog}")
    already = receiver.count()
    env = {**os.environ, **DELIVERING, "ASSORTMENT_DATABASE_URL": url, "ASSORTMENT_LOG_LEVEL": "warning"}
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.monotonic()
        worker = subprocess.Popen([assortment_command(), "worker"], env=env, stdout=log, stderr=log)
        try:
            receiver.wait_for(already + backlog, timeout=max(120.0, backlog / 50))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    times = sorted(r["at"] for r in receiver.received()[already:])
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9), times[-1] - started


# --- the report ---

ABOUT = (
    "Outbox cost: two `assortment serve --workers 1` on one database, one as shipped and one with "
    "`ASSORTMENT_BENCH_WITHOUT_EVENTS=true` (it records no events; the setting exists for this comparison "
    "only), delivery loops off. The same request goes to both in pairs, which one first alternating, so both "
    "see the same moments of the machine: PUTs of one product (one request at a time, on kept-alive "
    "connections; a store without integrations, and a store with an enabled integration observing "
    "`product.updated`, whose jobs are written and never delivered), then publishes of the catalog; new "
    "servers each round, started one after the other in alternating order (in trial runs the server started "
    "first was slower by 5 to 40 %, whichever it was; alternating cancels that). The cost "
    "is the median time with events over the median without, − 1 (wall), and the CPU time the server process "
    "and its PostgreSQL backends spent with events over without, − 1 (CPU: what the other work on a shared "
    "machine disturbs least; it leaves out waiting for the disk). Cells: with / without. Latency: one server "
    "delivering, an enabled integration pointing at a receiver on loopback (a separate process, "
    "`bench/webhook_receiver.py`), product updates at a steady rate; from sending the request (so an upper "
    "bound on from-commit) to the arrival. Throughput: `assortment products import` of N products into a "
    "store whose integration observes `product.created` while nothing delivers, then one `assortment worker` "
    "(one delivery loop) drains the backlog: N over the time from the first to the last arrival."
)


def verdict(ok: bool) -> str:
    return "ok" if ok else "**over budget**"


def cost_verdict(arm: Arm) -> str:
    wall, cpu = arm.cost() <= BUDGET_OVERHEAD, arm.cpu_cost() <= BUDGET_OVERHEAD
    if wall and cpu:
        return "ok"
    if cpu:
        return "CPU within, wall time **over budget**"
    if wall:
        return "wall time within, CPU **over budget**"
    return "**over budget**"


def pct(value: float) -> str:
    return f"{value * 100:+.1f} %"


def run(ctx: Context) -> Section:
    args = ctx.args
    if args.webhooks_rounds < 1 or args.webhooks_latency_events < 1 or args.webhooks_backlog < 2:
        raise SystemExit("--webhooks-rounds and --webhooks-latency-events ≥ 1, --webhooks-backlog ≥ 2")
    products = args.webhooks_catalog_products
    sizes = Sizes(products, max(2, products // 50), products * 2, products // 4, priced=False)
    costs: dict[str, Cost] = {}
    deliveries: dict[str, Delivery] = {}
    versions: dict[str, str] = {}
    for kind in ctx.databases:
        print(f"webhooks on {kind}: catalog of {sizes.text()}")
        with seeded_database(ctx, kind, sizes, "webhooks.db") as (url, seeded):
            versions[kind] = server_version(kind, url)
            settle(url)
            costs[kind] = measure_cost(ctx, url, seeded.catalog_id)
            with running_receiver() as receiver:
                load = load_average()
                latencies = measure_latency(url, receiver, args.webhooks_latency_events, args.webhooks_latency_rate)
                print(f"    latency p50 {percentile(latencies, 0.5):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms")
                rate, drain = measure_throughput(ctx, url, receiver, args.webhooks_backlog)
                print(f"    throughput {rate:,.0f} events/s ({args.webhooks_backlog:,} in {drain:.1f} s)")
            deliveries[kind] = Delivery(latencies, args.webhooks_backlog, rate, drain, load)
    return Section(title="Webhooks and the outbox", body=report(ctx, sizes, versions, costs, deliveries))


def report(
    ctx: Context, sizes: Sizes, versions: dict[str, str], costs: dict[str, Cost], deliveries: dict[str, Delivery]
) -> str:
    args = ctx.args
    kinds = list(versions)
    head = "| | budget | " + " | ".join(versions[k] for k in kinds) + " |"
    rule = "|---|---|" + "---:|" * len(kinds)
    rows = []

    def row(label: str, budget: str, cells: list[str]) -> None:
        rows.append(f"| {label} | {budget} | " + " | ".join(cells) + " |")

    row(
        "delivery latency, p50 / p95 / max",
        f"p95 ≤ {BUDGET_P95_S:.0f} s",
        [
            f"{percentile(d.latencies_ms, 0.5):,.0f} / {percentile(d.latencies_ms, 0.95):,.0f} / "
            f"{max(d.latencies_ms):,.0f} ms ({verdict(percentile(d.latencies_ms, 0.95) <= BUDGET_P95_S * 1000)})"
            for d in (deliveries[k] for k in kinds)
        ],
    )
    row(
        "throughput, one delivery loop",
        f"≥ {BUDGET_EVENTS_PER_S:,.0f} events/s",
        [
            f"{d.rate:,.0f} events/s ({d.backlog:,} in {d.drain_s:.1f} s; {verdict(d.rate >= BUDGET_EVENTS_PER_S)})"
            for d in (deliveries[k] for k in kinds)
        ],
    )
    for label, name in (
        ("outbox cost, product update (no integration)", "update"),
        ("outbox cost, product update (one integration observing it)", "update_observed"),
        ("outbox cost, publish", "publish"),
    ):
        cells = []
        for kind in kinds:
            arm: Arm = getattr(costs[kind], name)
            cpu_with, cpu_without = arm.cpu_per_request_ms()
            cells.append(
                f"wall {pct(arm.cost())} ({both(arm, 2)} ms), CPU {pct(arm.cpu_cost())} ({cpu_with:,.2f} / "
                f"{cpu_without:,.2f} ms); {cost_verdict(arm)}"
            )
        row(label, f"≤ {BUDGET_OVERHEAD * 100:.0f} %", cells)
    loads = [x for c in costs.values() for x in c.loads] + [d.load for d in deliveries.values()]
    engines = ", ".join(ENGINE_NAMES[k] for k in kinds)
    return (
        f"{ABOUT}\n\n"
        f"Catalog published: {sizes.text()}. Cost: {args.webhooks_rounds} rounds of {args.webhooks_updates} "
        f"pairs of updates per store and {args.webhooks_publishes} pairs of publishes. "
        f"Latency: {args.webhooks_latency_events:,} updates at {args.webhooks_latency_rate:g}/s. Throughput: a "
        f"backlog of {args.webhooks_backlog:,} events. Databases: {engines}. Load average (1 min) during the "
        f"runs: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs.\n\n"
        f"Command: `{ctx.command}` — {time.strftime('%Y-%m-%d')}\n\n"
        f"{head}\n{rule}\n" + "\n".join(rows)
    )


BENCHMARK = Benchmark(
    name="webhooks",
    title="Webhooks and the outbox",
    run=run,
    description="webhook delivery latency and throughput to a local receiver, outbox cost of an update and a publish",
    add_arguments=add_arguments,
)
