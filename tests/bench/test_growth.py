"""bench/growth.py's arithmetic, in process: the catalog shapes, the growth exponent and its verdict, the
cold reads' verdict on flatness and their table, the plot. The benchmark itself runs in test_bench_smoke.py."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.catalogs import BUDGET_SIZES, Load
from bench.common import Context, Measured
from bench.growth import (
    MILLION,
    Point,
    cold_rows,
    cold_section,
    flat_sentence,
    flatness,
    growth_sentence,
    judged,
    million_verdicts,
    parse_sizes,
    scaled_sizes,
    sizes_wanted,
    slope,
)
from bench.run import parser

from bench import cold_reads

COLD = ["release node products, page of 25", "PIM product list, first page with total", "PIM product by id"]


def point(products: int, wall: float, rss: float, rps: float = 1000.0) -> Point:
    p = Point(products, scaled_sizes(products))
    p.publishes.append(Measured(wall, 0, rss, "", {"cpu_seconds": wall, "load": 0.0}))
    p.reads.append(Load(rps, 1.0, 2.0, 100, ""))
    return p


def with_cold(p: Point, *cpus: float | None, rps: float = 1000.0, load: float = 1.0) -> Point:
    """Point `p` with one run of the cold reads COLD, at these CPU µs per request."""
    p.cold_names = COLD[: len(cpus)]
    p.cold.append([(Load(rps, 1.0, 2.0, 100, ""), cpu) for cpu in cpus])
    p.cold_loads.append(load)
    return p


def test_sizes_keep_the_budget_proportions() -> None:
    budget = scaled_sizes(100_000)
    assert (budget.products, budget.nodes, budget.links, budget.associations) == BUDGET_SIZES
    assert budget.priced and budget.is_budget()
    small = scaled_sizes(1_000)
    assert (small.nodes, small.links, small.associations) == (20, 2_000, 500)
    with pytest.raises(SystemExit):
        scaled_sizes(10)  # one node cannot take two links per product


def test_size_flags() -> None:
    assert parse_sizes("10000, 1000,1_000") == [1_000, 10_000]
    with pytest.raises(SystemExit):
        parse_sizes("1k")
    args = argparse.Namespace(growth_sizes=None, growth_1m=True)
    assert sizes_wanted(args) == [1_000, 10_000, 100_000, MILLION]
    args = argparse.Namespace(growth_sizes="1000,10000", growth_1m=False)
    assert sizes_wanted(args) == [1_000, 10_000]


def test_the_exponent_is_the_slope_of_the_log_log_fit() -> None:
    xs = [1_000.0, 10_000.0, 100_000.0]
    assert slope(xs, [2 * x for x in xs]) == pytest.approx(1.0)
    assert slope(xs, [x**1.5 for x in xs]) == pytest.approx(1.5)
    assert slope(xs, [7.0, 7.0, 7.0]) == pytest.approx(0.0)
    assert slope(xs[:1], [1.0]) is None
    assert judged(1.0) == "linear or better"
    assert judged(1.1) == "about n log n"
    assert judged(1.3) == "worse than linear"


def test_the_verdict_is_computed_from_the_figures() -> None:
    linear = [point(1_000, 1.0, 100.0), point(10_000, 10.0, 110.0), point(100_000, 100.0, 150.0)]
    assert "grows as products^1.00 (**linear or better**)" in growth_sentence("sqlite", linear)
    quadratic = [point(1_000, 1.0, 100.0), point(10_000, 100.0, 10_000.0)]
    sentence = growth_sentence("postgresql", quadratic)
    assert "products^2.00 (**worse than linear**)" in sentence
    assert sentence.startswith("PostgreSQL")
    assert "no growth exponent" in growth_sentence("sqlite", linear[:1])


def test_the_republish_is_judged_by_its_share_of_the_first_publish() -> None:
    points = [point(1_000, 1.0, 100.0), point(10_000, 4.0, 110.0), point(100_000, 20.0, 150.0)]
    for p, again in zip(points, (0.8, 1.2, 3.0), strict=True):
        p.republishes.append(Measured(again, 0, 100.0, "", {"cpu_seconds": again / 2, "load": 0.0}))
    sentence = growth_sentence("postgresql", points)
    assert "costs 15% of the first publish's wall time and 8% of its CPU at 100,000 products" in sentence
    assert "its wall time growing as products^0.29." in sentence
    assert "republish" not in growth_sentence("postgresql", [point(1_000, 1.0, 100.0), point(10_000, 4.0, 110.0)])


def test_a_million_products_have_their_own_budget() -> None:
    assert million_verdicts({"postgresql": [point(100_000, 20.0, 300.0)]}) == []
    within, slow = point(MILLION, 110.0, 900.0), point(MILLION, 130.0, 900.0)
    lines = million_verdicts({"postgresql": [within], "sqlite": [slow]})
    assert lines[1].startswith("PostgreSQL, 1,000,000 products: publish 110.0 s wall, peak RSS 900 MiB")
    assert lines[1].endswith("**pass**") and lines[2].endswith("**fail**")
    heavy = point(MILLION, 100.0, 1_500.0)
    assert million_verdicts({"postgresql": [heavy]})[-1].endswith("**fail**")


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    from bench.growth import draw

    results = {
        "sqlite": [point(1_000, 1.5, 92.0, 12_000.0), point(10_000, 4.8, 156.0, 9_500.0)],
        "postgresql": [point(1_000, 2.9, 123.0, 10_000.0), point(10_000, 7.6, 151.0, 7_000.0)],
    }
    path = tmp_path / "sub" / "growth.png"
    draw(path, results, "test")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_cost_above_the_smallest_run_shows_the_true_exponent() -> None:
    from bench.growth import above_baseline, slope

    sizes = [1_000.0, 10_000.0, 100_000.0, 1_000_000.0]
    linear = [2.0 + 0.0001 * x for x in sizes]  # a fixed 2 s start-up hides the linear part in the plain fit
    quadratic = [2.0 + 1e-9 * x * x for x in sizes]
    plain = slope(sizes, linear)
    assert plain is not None and plain < 0.8
    assert above_baseline(sizes, linear) == pytest.approx(1.0)
    assert above_baseline(sizes, quadratic) == pytest.approx(2.0, abs=0.05)  # x² - x0² is nearly (x - x0)²
    assert above_baseline(sizes[:2], linear[:2]) is None  # one size beyond the smallest: no exponent
    assert above_baseline(sizes[:3], [5.0, 4.0, 6.0]) is None  # cheaper than the smallest run


def test_a_cold_read_is_flat_within_one_and_a_half_times_either_way() -> None:
    points = [
        with_cold(point(1_000, 1.0, 100.0), 500.0, 1_000.0, 300.0, rps=2_000.0),
        with_cold(point(10_000, 2.0, 110.0), 520.0, 3_000.0, 200.0, rps=1_800.0),
        with_cold(point(100_000, 4.0, 150.0), 740.0, 9_000.0, 190.0, rps=1_500.0),
    ]
    flat, grows, cheaper = flatness(points)
    assert flat.cpu_ratio == pytest.approx(1.48)
    assert flat.flat is True and flat.verdict() == "flat"
    assert flat.rps_ratio == pytest.approx(0.75)
    assert grows.cpu_ratio == pytest.approx(9.0)
    assert grows.verdict() == "**not flat**: grows"
    assert cheaper.flat is False  # 300 → 190 µs is more than 1.5× either way
    assert cheaper.verdict() == "**not flat**: cheaper at the largest"
    sentence = flat_sentence("sqlite", points)
    assert sentence == (
        "SQLite: 1 of 3 cold reads keep their CPU per request within 1.5× between 1,000 and 100,000 products; "
        "growing by more than 1.5×: PIM product list, first page with total (×9.00); more than 1.5× cheaper at the "
        "largest size: PIM product by id (×0.63)."
    )
    # A repeated run: the median per read.
    with_cold(points[-1], 700.0, 8_000.0, 250.0)
    with_cold(points[-1], 760.0, 8_500.0, 260.0)
    assert points[-1].cold_cpu(0) == 740.0 and flatness(points)[2].flat is True


def test_a_cold_read_without_its_figures_gets_no_verdict() -> None:
    assert flatness([point(1_000, 1.0, 100.0)]) == []  # --no-growth-cold
    assert flat_sentence("sqlite", [point(1_000, 1.0, 100.0)]) is None
    one = [with_cold(point(1_000, 1.0, 100.0), 500.0)]
    assert flatness(one)[0].verdict() == "(one size only)"
    assert "at one size only (1,000 products)" in (flat_sentence("postgresql", one) or "")
    blind = [with_cold(point(1_000, 1.0, 100.0), None), with_cold(point(10_000, 1.0, 100.0), None)]
    assert flatness(blind)[0].verdict() == "— (no CPU figure)"
    assert "could not be read" in (flat_sentence("sqlite", blind) or "")


def test_the_cold_table_has_a_row_per_read_and_database() -> None:
    results = {
        "sqlite": [
            with_cold(point(1_000, 1.0, 100.0), 500.0, 1_000.0, rps=2_000.0),
            with_cold(point(100_000, 4.0, 150.0), 600.0, 2_500.0, rps=1_000.0),
        ],
        "postgresql": [
            with_cold(point(1_000, 1.0, 100.0), 700.0, 1_200.0, rps=1_500.0),
            with_cold(point(100_000, 4.0, 150.0), 650.0, 1_300.0, rps=1_600.0),
        ],
    }
    results["postgresql"][1].cold[0][1][0].timeouts = 3
    lines = cold_rows(results)
    assert lines[0] == (
        "| cold read | database | 1,000: CPU µs/req (req/s) | 100,000: CPU µs/req (req/s) "
        "| CPU largest ÷ smallest | req/s largest ÷ smallest | verdict |"
    )
    assert lines[2] == (
        "| release node products, page of 25 | SQLite | 500 (2,000) | 600 (1,000) | ×1.20 | ×0.50 | flat |"
    )
    assert lines[5] == (
        "| PIM product list, first page with total | PostgreSQL | 1,200 (1,500) | 1,300 (1,600; 3 timed out) "
        "| ×1.08 | ×1.07 | flat |"
    )
    assert lines[4].endswith("| ×2.50 | ×0.50 | **not flat**: grows |")
    assert cold_rows({"sqlite": [point(1_000, 1.0, 100.0)]}) == []

    args = parser().parse_args(["--only", "growth"])
    ctx = Context(args=args, command="x", databases=("sqlite", "postgresql"), pg_admin_url="")
    section = cold_section(ctx, results)
    assert "`wrk -t2 -c32 -d3s --latency` after a 1 s warm-up" in section[1]
    assert section[3].startswith("- SQLite: 1 of 2 cold reads keep their CPU per request within 1.5×")
    assert lines == section[-len(lines) :]
    assert cold_section(ctx, {"sqlite": [point(1_000, 1.0, 100.0)]}) == []


def test_cold_read_flags() -> None:
    args = parser().parse_args(["--only", "growth"])
    assert (args.growth_cold, args.growth_cold_seconds, args.growth_cold_warmup) == (True, 3, 1)
    args = parser().parse_args(["--no-growth-cold", "--growth-cold-seconds", "10", "--growth-cold-warmup", "0"])
    assert (args.growth_cold, args.growth_cold_seconds, args.growth_cold_warmup) == (False, 10, 0)


def test_the_cold_reads_run_against_a_cold_server_with_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import growth

    calls: list[Any] = []

    @contextmanager
    def server(url: str) -> Iterator[str]:
        calls.append(("server", url))
        yield "http://127.0.0.1:1"

    def measure(base: str, token: str, reads: list[cold_reads.Read], seconds: int, warmup: int, conns: int) -> Any:
        calls.append(("measure", base, token, [r.name for r in reads], seconds, warmup, conns))
        return [(Load(100.0, 1.0, 2.0, 300, ""), 400.0) for _ in reads]

    monkeypatch.setattr(cold_reads, "cold_server", server)
    monkeypatch.setattr(cold_reads, "token_for", lambda base, url: "token")
    monkeypatch.setattr(cold_reads, "measure", measure)
    reads = [cold_reads.Read(name, "/x", 1.0) for name in COLD]
    args = parser().parse_args(["--growth-cold-seconds", "2", "--growth-cold-warmup", "0"])
    p = point(1_000, 1.0, 100.0)
    growth.measure_cold(p, "sqlite:///x.db", reads, args)
    assert calls == [("server", "sqlite:///x.db"), ("measure", "http://127.0.0.1:1", "token", COLD, 2, 0, 32)]
    assert p.cold_names == COLD and p.cold_cpu(2) == 400.0 and p.cold_rps(0) == 100.0 and len(p.cold_loads) == 1


def test_no_warm_up_when_its_duration_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    durations: list[int] = []

    class Answer:
        status_code = 200

    def run_wrk(wrk: str, url: str, token: str, threads: int, connections: int, seconds: int, **_: Any) -> Load:
        durations.append(seconds)
        return Load(10.0, 1.0, 2.0, 30, "")

    monkeypatch.setattr(cold_reads, "wrk_command", lambda: "wrk")
    monkeypatch.setattr(cold_reads, "server_pid", lambda base: None)
    monkeypatch.setattr(httpx, "get", lambda *a, **k: Answer())
    monkeypatch.setattr(cold_reads, "run_wrk", run_wrk)
    reads = [cold_reads.Read("a", "/a", 1.0), cold_reads.Read("b", "/b", 1.0)]
    assert [cpu for _, cpu in cold_reads.measure("http://h:1", "t", reads, 3, 0, 8)] == [None, None]
    assert durations == [3, 3]
    cold_reads.measure("http://h:1", "t", reads[:1], 3, 1, 8)
    assert durations == [3, 3, 1, 3]


def test_the_plot_draws_the_cold_reads_beneath(tmp_path: Path) -> None:
    from bench.growth import draw

    results = {
        "sqlite": [with_cold(point(1_000, 1.5, 92.0), 500.0, 900.0), with_cold(point(10_000, 4.8, 156.0), 510.0, None)],
        "postgresql": [with_cold(point(1_000, 2.9, 123.0), 700.0, 1_000.0), point(10_000, 7.6, 151.0)],
    }
    path = tmp_path / "growth.png"
    draw(path, results, "test")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
