"""End-to-end: scenario -> simulation -> priced results, checked against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.run import run_scenario
from planner.schema import parse_scenario
from tests.oracles import mmc_mean_wait


def _scenario(**design_overrides):
    design = {
        "name": "d", "workload": "w", "pattern": "realtime",
        "fleet": {"instance": "aws:g6.xlarge", "nodes": 3},
        "batching": {"max_batch": 1, "max_wait_ms": 0},
        "service_time": {"kind": "exponential", "mean_ms": 10},
    }
    design.update(design_overrides)
    return parse_scenario({
        "name": "t", "horizon_s": 3600, "warmup_s": 60, "replications": 6, "seed": 1,
        "workloads": [{"name": "w", "kind": "inference",
                       "arrivals": {"kind": "poisson", "rate_rps": 240},
                       "slo": {"percentile": 99, "latency_ms": 60}}],
        "designs": [design],
    })


def test_costs_match_a_hand_computed_table() -> None:
    """3 x g6.xlarge ($0.8048/h on-demand, 1 L4 each) for one hour at 240 req/s."""
    result = run_scenario(_scenario())
    d = result.design("d")
    price = 0.8048
    assert d.cost.usd_per_hour == pytest.approx(3 * price)
    assert d.cost.total_usd == pytest.approx(3 * price * 1.0)
    assert d.cost.usd_per_month == pytest.approx(3 * price * 730)
    throughput = d.throughput_rps.mean
    assert throughput == pytest.approx(240, rel=0.01)
    assert d.cost.usd_per_1k_requests == pytest.approx(3 * price / 3600 / throughput * 1000)
    # busy basis: only GPU-seconds spent serving, at price / 1 GPU per node
    busy_fraction = d.utilization.mean
    assert busy_fraction == pytest.approx(240 * 0.010 / 3, rel=0.02)
    # busy cost covers the measured window (after the 60 s warm-up)
    assert d.cost.busy_usd == pytest.approx(3 * price * 3540 / 3600 * busy_fraction, rel=1e-6)
    assert d.cost.price_as_of == "2026-01-21"
    assert d.cost.price_source and "vantage" in d.cost.price_source


def test_mean_wait_and_slo_through_the_whole_stack() -> None:
    result = run_scenario(_scenario())
    d = result.design("d")
    truth_ms = 1000 * mmc_mean_wait(240.0, 100.0, 3)
    assert d.wait_ms["mean"].contains(truth_ms, rel_tol=0.05)
    assert d.slo is not None and d.slo.met is (d.latency_ms["p99"].mean <= 60)
    assert 0.0 < d.slo.attainment.mean <= 1.0
    assert d.littles_law_relative_error is not None and d.littles_law_relative_error < 0.02
    assert len(d.timeline.start_s) == 60
    assert np.mean(d.timeline.series["arrivals_per_s"][1:]) == pytest.approx(240, rel=0.02)


def test_unknown_price_is_na_and_never_recommended() -> None:
    result = run_scenario(_scenario(fleet={"instance": "aws:p5e.48xlarge", "nodes": 1,
                                           "workers_per_node": 3}))
    d = result.design("d")
    assert d.cost.total_usd is None and d.cost.usd_per_1k_requests is None
    assert d.cost.note and "p5e.48xlarge" in d.cost.note
    assert result.cheapest_meeting_slo() is None
    assert any("price n/a" in w for w in d.warnings)
    assert any("GPUs per p5e.48xlarge node run no worker" in w for w in d.warnings)


def test_overload_is_reported() -> None:
    result = run_scenario(_scenario(fleet={"instance": "aws:g6.xlarge", "nodes": 2}))
    d = result.design("d")  # 240 req/s x 10 ms = 2.4 erlangs on 2 workers
    assert d.slo is not None and not d.slo.met
    assert any(w.startswith("overloaded") for w in d.warnings)
    assert math.isclose(d.utilization.mean, 1.0, rel_tol=0.01)
