"""The streaming kernel against closed forms: window wait plus processing, Poisson window counts,
conservation, Little's law, and the linear growth of the backlog in overload.

Every expected value below is derived by hand from the contract in ``simulators/streaming/api.py``;
none is a number read off a seeded run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulators.core.arrivals import PoissonArrivals
from simulators.core.service import constant_service, linear_service
from simulators.streaming.api import simulate_streaming
from tests.simulators.helpers import assert_ci_agrees, ci


def _poisson_pmf(mu: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the support 0..N and pmf of Poisson(mu), truncated where the tail is < 1e-15."""
    n = np.arange(int(mu + 20 * math.sqrt(mu) + 30))
    return n, stats.poisson.pmf(n, mu)


def test_mean_latency_is_half_window_plus_processing():
    """Constant service, enough workers for every batch: latency = (close - arrival) + c + o.

    For Poisson arrivals the position of a record in its window is uniform, so the mean latency
    is W/2 + c + overhead, the median W/2 + c + o and the 99th percentile 0.99 W + c + o.
    """
    rate, window, c, overhead = 20.0, 2.0, 0.1, 0.05
    sim = simulate_streaming(
        PoissonArrivals(rate), constant_service(1000 * c, 8), n_nodes=4, workers_per_node=8,
        window_s=window, max_batch=8, horizon_s=1800.0, warmup_s=60.0, n_replications=12,
        seed=3, overhead_s=overhead)
    base = c + overhead
    assert_ci_agrees(ci(sim.mean_latency_s()), window / 2 + base, rel_tol=0.002,
                     max_rel_half_width=0.01)
    q = sim.latency_percentiles_s([0.5, 0.99])
    assert_ci_agrees(ci(q[:, 0]), 0.5 * window + base, rel_tol=0.01, max_rel_half_width=0.02)
    assert_ci_agrees(ci(q[:, 1]), 0.99 * window + base, rel_tol=0.01, max_rel_half_width=0.02)
    np.testing.assert_allclose(sim.mean_processing_s(), base, rtol=1e-12)
    assert (sim.max_backlog()["windows"] == 0).all()


def test_window_counts_are_poisson():
    """n ~ Poisson(lambda W): busy worker-seconds = c E[ceil(n / B)] per window, exactly.

    With a constant batch duration ``c`` the busy time of a window is ``c`` times its batch
    count, so utilization = c E[ceil(n / B)] / (workers W), an expectation over the Poisson
    pmf; the share of non-empty windows is 1 - exp(-lambda W).
    """
    rate, window, c, max_batch, workers = 3.0, 1.0, 0.05, 2, 4
    sim = simulate_streaming(
        PoissonArrivals(rate), constant_service(1000 * c, max_batch), n_nodes=1,
        workers_per_node=workers, window_s=window, max_batch=max_batch, horizon_s=3600.0,
        warmup_s=0.0, n_replications=10, seed=5)
    n, p = _poisson_pmf(rate * window)
    batches = float(np.sum(p * np.ceil(n / max_batch)))
    assert_ci_agrees(ci(sim.utilization()), c * batches / (workers * window), rel_tol=0.002,
                     max_rel_half_width=0.02)
    counters = sim.counters()
    nonempty = counters.n_nonempty_windows / counters.n_windows_total
    assert_ci_agrees(ci(nonempty), 1 - math.exp(-rate * window), rel_tol=0.002,
                     max_rel_half_width=0.01)


def test_linear_service_size_biased_processing():
    """One batch per window on one worker, f(n) = a + b n: E[latency] = W/2 + a + b (mu + 1).

    A record sees its own window's processing, so the window size it sees is size-biased:
    E[n f(n)] / E[n] = a + b E[n^2] / E[n] = a + b (mu + 1) for n ~ Poisson(mu).
    """
    rate, window, a, b = 50.0, 1.0, 0.01, 0.002
    sim = simulate_streaming(
        PoissonArrivals(rate), linear_service(1000 * a, 1000 * b, 200), n_nodes=1,
        workers_per_node=1, window_s=window, max_batch=200, horizon_s=1800.0, warmup_s=10.0,
        n_replications=10, seed=9)
    truth = window / 2 + a + b * (rate * window + 1)
    assert_ci_agrees(ci(sim.mean_latency_s()), truth, rel_tol=0.002, max_rel_half_width=0.01)
    # per window (not per record) the mean processing is a + b E[n | n > 0]
    mu = rate * window
    assert_ci_agrees(ci(sim.mean_processing_s()), a + b * mu / (1 - math.exp(-mu)),
                     rel_tol=0.002, max_rel_half_width=0.01)


@pytest.mark.parametrize("rate, c_ms, workers, window, max_batch", [
    (40.0, 20.0, 2, 1.0, 4),  # light
    (100.0, 12.5, 1, 1.0, 1),  # overloaded (rho = 1.25)
    (5.0, 300.0, 3, 0.5, 2),  # windows often empty, processing longer than the window
])
def test_conservation_and_littles_law(rate, c_ms, workers, window, max_batch):
    """Arrived = processed by the horizon + in the system at the horizon; L = lambda W (stable).

    Little's law holds for the stable cases: the time-average number of records arrived and not
    yet processed equals the arrival rate times the mean latency, from two separate kernel
    accumulators (an area over time, and per-record latencies).
    """
    sim = simulate_streaming(
        PoissonArrivals(rate), constant_service(c_ms, max_batch), n_nodes=workers,
        workers_per_node=1, window_s=window, max_batch=max_batch, horizon_s=900.0,
        warmup_s=30.0, n_replications=4, seed=13)
    counts = sim.counts()
    np.testing.assert_array_equal(counts["arrived"],
                                  counts["processed_by_horizon"] + counts["in_system_at_horizon"])
    assert (counts["backlog_records_at_horizon"] <= counts["in_system_at_horizon"]).all()
    assert (counts["measured"] <= counts["arrived"]).all()
    rho = rate * c_ms / 1000 / (workers * max_batch)
    if rho < 0.9:
        lam_w = sim.arrival_rate_rps() * sim.mean_latency_s()
        np.testing.assert_allclose(sim.mean_records_in_system(), lam_w, rtol=0.02)
        np.testing.assert_allclose(sim.throughput_rps(), sim.arrival_rate_rps(), rtol=0.02)


def test_overload_backlog_grows_linearly():
    """Processing P = n c > W: the backlog grows by (1 - W / P) windows per window.

    One worker, batches of one record, constant c with lambda c = rho = 1.25, so P = rho W on
    average.  Windows finish at the processing rate, so by the horizon h about (h - W) / P
    windows are done: the lag is about h (1 - 1 / rho), the waiting windows about
    (h / W)(1 - 1 / rho), and the backlog's slope over time is (1 - 1 / rho) / W windows per
    second.  Throughput is the fleet's capacity, 1 / c records per second.
    """
    rate, c, window, horizon = 100.0, 0.0125, 1.0, 600.0
    rho = rate * c
    sim = simulate_streaming(
        PoissonArrivals(rate), constant_service(1000 * c, 1), n_nodes=1, workers_per_node=1,
        window_s=window, max_batch=1, horizon_s=horizon, warmup_s=60.0, n_replications=6,
        seed=17, timeline_bin_s=10.0)
    growth = (1 - 1 / rho) / window
    assert_ci_agrees(ci(sim.lag_at_horizon_s()), horizon * (1 - 1 / rho), rel_tol=0.03,
                     max_rel_half_width=0.05)
    waiting = sim.counts()["backlog_windows_at_horizon"]
    assert_ci_agrees(ci(waiting), horizon * growth, rel_tol=0.03, max_rel_half_width=0.05)
    np.testing.assert_allclose(sim.max_backlog()["windows"], waiting, atol=2)
    tl = sim.timeline_mean()
    slope = np.polyfit(tl["start_s"] + tl["width_s"] / 2, tl["backlog_windows"], 1)[0]
    assert slope == pytest.approx(growth, rel=0.03)
    assert_ci_agrees(ci(sim.throughput_rps()), 1 / c, rel_tol=0.01, max_rel_half_width=0.02)
    assert_ci_agrees(ci(sim.utilization()), 1.0, rel_tol=0.001, max_rel_half_width=0.001)


def test_autoscaling_tracks_the_target_utilization():
    """Target tracking settles where the fleet's utilization brackets the target.

    One record per batch of constant duration c: the work is lambda c worker-seconds per second,
    so N nodes of one worker run at utilization lambda c / N.  The autoscaler asks for
    ceil(N u / target) = ceil(lambda c / target) nodes, give or take one node for the Poisson
    noise in the interval's busy time: here ceil(2.0 / 0.5) = 4, and the fleet ends between 4
    and 5 nodes, with utilization between lambda c / 5 and lambda c / 4 and no backlog left.
    Started on one node (a quarter of the capacity it needs), it must scale out.
    """
    from simulators.streaming.api import streaming_autoscaling

    rate, c, target = 100.0, 0.02, 0.5
    auto = streaming_autoscaling(target, min_nodes=1, max_nodes=10, interval_s=60.0)
    sim = simulate_streaming(
        PoissonArrivals(rate), constant_service(1000 * c, 1), n_nodes=1, workers_per_node=1,
        window_s=1.0, max_batch=1, horizon_s=4 * 3600.0, warmup_s=3600.0, n_replications=4,
        seed=23, autoscaling=auto, provisioning_delay_s=90.0)
    work = rate * c
    nodes = sim.mean_nodes("window")
    assert ((nodes >= work / target - 0.01) & (nodes <= work / target + 1.0)).all(), nodes
    util = sim.utilization()
    assert ((util >= work / 5 - 0.01) & (util <= work / 4 + 0.01)).all(), util
    assert (sim.counts()["backlog_windows_at_horizon"] == 0).all()
    assert (sim.scaling_counts()["scale_out"] >= 1).all()
    # while the first launches provision, the single node is overloaded: a backlog built up
    tl = sim.timeline_mean()
    assert tl["backlog_windows"][:2].max() > 1.0
    assert tl["nodes"][0] == 1.0


@pytest.mark.parametrize("times, delay_s, latencies, node_s", [
    # eval t=2 sees 0.8 busy of 1 held -> 2 nodes; eval t=3 sees 0 -> 1 node; the launched node
    # is still provisioning at window 2's start (t=3) and is removed then: held over [2, 3)
    ([0.25, 0.5, 3.5], 2.5, [1.55, 1.3, 0.9], 6.0 + 1.0),
    # no delay: the node launched at t=2 is ready for window 1 (start 2), which runs its two
    # batches in parallel (end 2.4); eval t=3 sees 0.8 of 2 held -> keep 2; eval t=4 sees 0 ->
    # removed at window 3's start (t=4): held over [2, 4)
    ([0.25, 0.5, 1.5, 1.6, 3.5], 0.0, [1.55, 1.3, 0.9, 0.8, 0.9], 6.0 + 2.0),
])
def test_autoscaling_by_hand(times, delay_s, latencies, node_s):
    """Tiny scenarios worked out by hand: W = 1 s, batches of one record of 0.4 s, target 0.5."""
    from simulators.core.arrivals import TraceArrivals
    from simulators.streaming.api import streaming_autoscaling

    auto = streaming_autoscaling(0.5, min_nodes=1, max_nodes=3, interval_s=1.0)
    sim = simulate_streaming(
        TraceArrivals(np.array(times)), constant_service(400.0, 1), n_nodes=1,
        workers_per_node=1, window_s=1.0, max_batch=1, horizon_s=6.0, warmup_s=0.0,
        n_replications=1, seed=0, autoscaling=auto, provisioning_delay_s=delay_s)
    assert sim.mean_latency_s()[0] == pytest.approx(np.mean(latencies), abs=1e-12)
    assert sim.node_seconds("horizon")[0] == pytest.approx(node_s, abs=1e-12)
    counts = {k: v.tolist() for k, v in sim.scaling_counts().items()}
    assert counts == {"scale_out": [1.0], "scale_in": [1.0], "launched": [1.0], "max_nodes": [2.0]}
    assert sim.busy_worker_s("horizon")[0] == pytest.approx(0.4 * len(times), abs=1e-12)
