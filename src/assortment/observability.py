"""What operators see (SPEC §12.1, §12.2): Prometheus metrics and one log line per request.

Metrics: prometheus-client, in its multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set (`assortment
serve` sets it, so the figures of every worker are summed at `/metrics`), else in this process's registry.
The environment variable is read when prometheus-client is first imported, so `serve` sets it before
the app (and this module) is imported.

The request telemetry is a pure ASGI wrapper around the whole app, the read cache included: a page served
from the cache is counted and logged like any other. The route label is the route's template (never the
raw path: ids would make a label per entity); a request no route matched is `unmatched`.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format (what generate_latest writes for these ASCII names), as SPEC §12.1 names it.
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TELEMETRY_MARK = "telemetry"  # scope["state"] key: {"entered": bool}, set when the framework saw the request
PUBLISH_ROUTE = ("POST", "/pcm/catalogs/{catalog_id}/releases")
RELEASE_VIEW_PREFIX = "/pcm/catalogs/"
MAX_REMEMBERED_PATHS = 20_000

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PUBLISH_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)

HTTP_REQUESTS = Counter(
    "assortment_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "assortment_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
)
CACHE_HITS = Counter("assortment_release_cache_hits", "Release-view reads answered from the read cache.")
CACHE_MISSES = Counter("assortment_release_cache_misses", "Release-view reads rendered from the database.")
PUBLISH_DURATION = Histogram(
    "assortment_publish_duration_seconds", "Time to publish a catalog release.", buckets=PUBLISH_BUCKETS
)
WEBHOOK_DELIVERIES = Counter("assortment_webhook_deliveries", "Webhook delivery attempts, by outcome.", ("outcome",))
WEBHOOK_PENDING = Gauge(
    "assortment_webhook_pending_jobs", "Webhook jobs waiting for delivery.", multiprocess_mode="livemax"
)
POOL_IN_USE = Gauge(
    "assortment_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
for _outcome in ("succeeded", "failed"):
    WEBHOOK_DELIVERIES.labels(_outcome)

access_log = logging.getLogger("assortment.access")


def metrics_exposition() -> tuple[bytes, str]:
    """The Prometheus text of every process of this deployment (or of this one, outside `serve`)."""
    PENDING.flush()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), EXPOSITION_CONTENT_TYPE
    return generate_latest(REGISTRY), EXPOSITION_CONTENT_TYPE


def mark_process_dead(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def track_pool(engine: Any) -> None:
    """Keep `assortment_db_pool_connections_in_use` with the pool's checkouts and checkins."""
    from sqlalchemy import event

    @event.listens_for(engine, "checkout")
    def _checkout(*_args: Any) -> None:
        POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_args: Any) -> None:
        POOL_IN_USE.dec()


class RouteTemplates:
    """The route template of a path, for requests no router saw (pages served by the read cache): found
    once by matching the app's routes (walked like the router tree, included routers with their
    prefixes), then remembered per method and path (bounded)."""

    def __init__(self, routes: Callable[[], list[Any]]) -> None:
        self.routes = routes
        self.table: list[tuple[re.Pattern[str], frozenset[str], str]] | None = None
        self.known: dict[tuple[str, str], str] = {}

    def lookup(self, scope: Scope) -> str:
        key = (scope["method"], scope["path"])
        found = self.known.get(key)
        if found is None:
            if self.table is None:
                self.table = []
                _flatten(self.routes(), "", self.table)
            found = next(
                (template for regex, methods, template in self.table if key[0] in methods and regex.match(key[1])),
                "unmatched",
            )
            if len(self.known) >= MAX_REMEMBERED_PATHS:
                self.known.clear()
            self.known[key] = found
        return found


def _flatten(routes: list[Any], prefix: str, table: list[tuple[re.Pattern[str], frozenset[str], str]]) -> None:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            _flatten(inner.routes, prefix + str(getattr(context, "prefix", "") or ""), table)
        elif isinstance(route, Route):
            template = prefix + route.path
            regex, _, _ = compile_path(template)
            table.append((regex, frozenset(route.methods or ()), template))


def route_of(scope: Scope, templates: RouteTemplates, routed: bool) -> str:
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    root = scope.get("root_path") or ""
    if root:  # a mounted app (static files)
        return f"{root}/{{path}}"
    if not routed:
        return templates.lookup(scope)
    return "unmatched"


class Pending:
    """Request figures gathered in this process between two flushes into prometheus-client.

    In multiprocess mode every `inc`/`observe` takes a lock and writes a memory-mapped file, and `labels()`
    builds its key under another lock: about 7 µs per request for a counter and a histogram. Here a
    request adds to plain dicts (about 1 µs); `flush` hands the totals over, from the background writer
    every FLUSH_SECONDS and before this process answers /metrics, so a scrape lags other workers' requests
    by at most that."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}  # [sum, count per bucket…]
        self.cache_hits = 0
        self.cache_misses = 0
        self.bounds = (*LATENCY_BUCKETS, float("inf"))

    def add(self, method: str, route: str, status: str, elapsed: float) -> None:
        key = (method, route)
        index = bisect.bisect_left(self.bounds, elapsed)
        with self.lock:
            counted = (method, route, status)
            self.requests[counted] = self.requests.get(counted, 0) + 1
            slots = self.durations.get(key)
            if slots is None:
                slots = self.durations[key] = [0.0] * (len(self.bounds) + 1)
            slots[0] += elapsed
            slots[index + 1] += 1

    def cache(self, hit: bool) -> None:
        with self.lock:
            if hit:
                self.cache_hits += 1
            else:
                self.cache_misses += 1

    def flush(self) -> None:
        with self.lock:
            requests, self.requests = self.requests, {}
            durations, self.durations = self.durations, {}
            hits, misses, self.cache_hits, self.cache_misses = self.cache_hits, self.cache_misses, 0, 0
        for counted, total in requests.items():
            HTTP_REQUESTS.labels(*counted).inc(total)
        for timed, slots in durations.items():
            child = HTTP_DURATION.labels(*timed)
            # A histogram's stored buckets are not cumulative (observe adds 1 to one bucket); the
            # collector sums them. Adding each bucket's count is what that many observe() calls do.
            child._sum.inc(slots[0])
            for index, observed in enumerate(slots[1:]):
                if observed:
                    child._buckets[index].inc(observed)
        if hits:
            CACHE_HITS.inc(hits)
        if misses:
            CACHE_MISSES.inc(misses)


PENDING = Pending()


class AccessLog:
    """One line per request, formatted at once (the fields and shape of the logging formatters) and
    written in batches by the background writer: a line through `logging` costs about 14 µs (its record,
    handler lock and one write each), this about 2 µs, which the cached read path needs."""

    def __init__(self, log_format: str, stream: Any = None) -> None:
        self.json = log_format == "json"
        self.stream = stream
        self.pid = os.getpid()
        self.lines: list[bytes] = []
        self.lock = threading.Lock()

    def write(
        self,
        method: str,
        route: str,
        path: str,
        status: int,
        elapsed: float,
        request_id: str | None,
        store_id: str | None,
    ) -> None:
        ms = elapsed * 1000
        now = time.time()
        if self.json:
            line = orjson.dumps(
                {
                    "ts": _iso(now),
                    "level": "info",
                    "msg": f"{method} {route} {path} {status} {ms:.1f}ms",
                    "logger": "assortment.access",
                    "pid": self.pid,
                    "method": method,
                    "route": route,
                    "path": path,
                    "status": status,
                    "duration_ms": round(ms, 3),
                    "request_id": request_id,
                    "store_id": store_id,
                }
            )
        else:
            line = (
                f"{_iso(now)} INFO {method} {route} {path} {status} {ms:.1f}ms "
                f"request_id={request_id or '-'} store_id={store_id or '-'}"
            ).encode("utf-8", "backslashreplace")
        with self.lock:
            self.lines.append(line)

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
        if lines:
            stream = self.stream or sys.stderr
            try:
                stream.flush()  # what the logging handler wrote before goes first
                raw = getattr(stream, "buffer", None)
                if raw is not None:
                    raw.write(b"\n".join(lines) + b"\n")
                    raw.flush()
                else:
                    stream.write(b"\n".join(lines).decode("utf-8", "replace") + "\n")
                    stream.flush()
            except (OSError, ValueError):  # a closed stream at exit: nothing more to say
                pass


class Writer:
    """The background thread that flushes the pending figures and the access log, every FLUSH_SECONDS."""

    FLUSH_SECONDS = 0.2

    def __init__(self, access: AccessLog | None) -> None:
        self.access = access
        self.thread: threading.Thread | None = None
        self.started_lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.thread is None:
            with self.started_lock:
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        PENDING.flush()
        if self.access is not None:
            self.access.flush()


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _iso(moment: float) -> str:
    whole = int(moment)
    if _second[0] != whole:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int((moment - whole) * 1000):03d}Z"


class RequestTelemetry:
    """Count, time and log every HTTP request (pure ASGI, around everything else)."""

    def __init__(
        self,
        app: ASGIApp,
        templates: RouteTemplates,
        store_of: Callable[[Scope], str | None],
        access: AccessLog | None,
    ) -> None:
        self.app = app
        self.templates = templates
        self.store_of = store_of
        self.access = access
        self.writer = Writer(access)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, self._flushing_on_shutdown(send))
            else:
                await self.app(scope, receive, send)
            return
        self.writer.ensure_started()
        started = time.perf_counter()
        status = 500
        framework = {"entered": False}
        scope.setdefault("state", {})[TELEMETRY_MARK] = framework
        request_id: str | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        request_id = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            elapsed = time.perf_counter() - started
            self.record(scope, status, elapsed, routed=framework["entered"], request_id=request_id)

    def _flushing_on_shutdown(self, send: Send) -> Send:
        writer = self.writer

        async def send_after_flush(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                writer.flush()  # the server may be stopped by a signal right after: no exit hooks run
            await send(message)

        return send_after_flush

    def record(self, scope: Scope, status: int, elapsed: float, *, routed: bool, request_id: str | None) -> None:
        method: str = scope["method"]
        route = route_of(scope, self.templates, routed)
        PENDING.add(method, route, str(status), elapsed)
        path: str = scope["path"]
        if status == 200 and method == "GET" and path.startswith(RELEASE_VIEW_PREFIX) and "/releases/" in path:
            PENDING.cache(hit=not routed)
        elif status == 201 and route == PUBLISH_ROUTE[1] and method == PUBLISH_ROUTE[0]:
            PUBLISH_DURATION.observe(elapsed)
        if self.access is not None:
            self.access.write(method, route, path, status, elapsed, request_id, self.store_of(scope))


def access_log_for(log_format: str) -> AccessLog | None:
    """The request log of a served process: on when the server's logging says INFO for it (`serve`
    configures that); off elsewhere (in-process tests, tools)."""
    if not access_log.isEnabledFor(logging.INFO) or not access_log.hasHandlers():
        return None
    return AccessLog(log_format)


# --- log formatting -----------------------------------------------------------------------------------


class TextFormatter(logging.Formatter):
    """`2026-12-07T08:00:00.123Z INFO GET /pcm/products 200 1.2ms request_id=… store_id=…`"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.getMessage()}"
        http = getattr(record, "http", None)
        if http:
            line += f" request_id={http.get('request_id') or '-'} store_id={http.get('store_id') or '-'}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `msg`, the logger, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
            "pid": record.process,
        }
        http = getattr(record, "http", None)
        if http:
            document.update(http)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server: ours and uvicorn's loggers, one format."""
    formatter = "json" if log_format == "json" else "text"
    handler = {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"()": "assortment.observability.TextFormatter"},
            "json": {"()": "assortment.observability.JsonFormatter"},
        },
        "handlers": {"default": handler},
        "loggers": {
            "assortment": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
