"""bench/growth.py's arithmetic, in process: the catalog shapes, the growth exponent and its verdict, the
plot. The benchmark itself runs in test_bench_smoke.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from bench.catalogs import BUDGET_SIZES, Load
from bench.common import Measured
from bench.growth import (
    MILLION,
    Point,
    growth_sentence,
    judged,
    million_verdicts,
    parse_sizes,
    scaled_sizes,
    sizes_wanted,
    slope,
)


def point(products: int, wall: float, rss: float, rps: float = 1000.0) -> Point:
    p = Point(products, scaled_sizes(products))
    p.publishes.append(Measured(wall, 0, rss, "", {"cpu_seconds": wall, "load": 0.0}))
    p.reads.append(Load(rps, 1.0, 2.0, 100, ""))
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
