"""The serving kernel with fleet dynamics: pinned fleets, autoscaler oracles, spot replay.

Independent truths: the fixed-fleet kernel (a pinned autoscaler must change nothing), Erlang C
(the fleet the autoscaler should settle at), the real SkyPilot spot traces (their drop counts),
the configured Poisson interruption rate, and two independent node-second accumulators.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from planner.stats import estimate
from simulators.core.arrivals import PoissonArrivals
from simulators.core.fleet import (
    CLASS_SPOT,
    STATE_DRAINING,
    STATE_READY,
    AutoscalingPolicy,
    DelayComponent,
    FleetSpec,
    SpotModel,
)
from simulators.core.service import exponential_service, linear_service
from simulators.realtime.api import simulate_realtime
from tests.oracles import erlang_c


def _run(fleet, *, rate=200.0, service=None, max_batch=1, horizon=2000.0, warmup=100.0,
         reps=3, seed=5, arrivals=None):
    return simulate_realtime(
        arrivals=arrivals or PoissonArrivals(rate),
        service=service or exponential_service(10.0, max_batch), fleet=fleet,
        max_batch=max_batch, max_wait_s=0.002, horizon_s=horizon, warmup_s=warmup,
        n_replications=reps, seed=seed)


@pytest.mark.parametrize("spot", [False, True])
def test_pinned_autoscaler_without_interruptions_equals_the_fixed_fleet(spot: bool) -> None:
    fixed = _run(FleetSpec.fixed(4), max_batch=4, service=linear_service(8.0, 2.0, 4))
    pinned = FleetSpec(
        workers_per_node=1, initial_nodes=4, max_nodes=4, on_demand_base=1 if spot else 0,
        extra_is_spot=spot,
        autoscaling=AutoscalingPolicy("utilization", 0.5, min_nodes=4, max_nodes=4,
                                      interval_s=30.0, window_s=60.0),
        spot=SpotModel(interruptions_per_hour=0.0) if spot else None)
    dyn = _run(pinned, max_batch=4, service=linear_service(8.0, 2.0, 4))
    np.testing.assert_array_equal(fixed.latency_hist, dyn.latency_hist)
    np.testing.assert_array_equal(fixed.wait_hist, dyn.wait_hist)
    fixed_c, dyn_c = fixed.counters(), dyn.counters()
    for name in ("n_arrivals_total", "n_window", "sum_latency_s", "busy_worker_s", "n_batches",
                 "n_in_system_at_horizon"):
        np.testing.assert_array_equal(getattr(fixed_c, name), getattr(dyn_c, name))
    np.testing.assert_allclose(dyn.node_seconds("horizon").sum(axis=(1, 2)), 4 * 2000.0)
    assert (dyn_c.n_scale_out == 0).all() and (dyn_c.n_scale_in == 0).all()


def _smallest_fleet_for_outstanding(lam: float, mu: float, target: float) -> int:
    """Smallest c with (Lq + a) / c <= target for M/M/c (Erlang C), independently computed."""
    a = lam / mu
    c = max(1, math.ceil(a))
    while True:
        if c > a:
            lq = erlang_c(c, a) * a / (c - a)
            if (lq + a) / c <= target:
                return c
        c += 1


@pytest.mark.parametrize("metric,target,lam", [
    ("utilization", 0.6, 400.0),
    ("utilization", 0.8, 900.0),
    ("queue_per_worker", 0.9, 400.0),
])
def test_autoscaler_settles_near_the_smallest_fleet_meeting_its_target(metric, target, lam):
    """Steady Poisson load, max_batch 1: the fleet settles within one node of the oracle."""
    mu = 100.0  # 10 ms exponential service
    if metric == "utilization":
        oracle = math.ceil(lam / mu / target)
    else:
        oracle = _smallest_fleet_for_outstanding(lam, mu, target)
    fleet = FleetSpec(
        workers_per_node=1, initial_nodes=1, max_nodes=40,
        autoscaling=AutoscalingPolicy(metric, target, min_nodes=1, max_nodes=40,
                                      interval_s=30.0, window_s=120.0,
                                      scale_in_cooldown_s=120.0),
        provisioning=(DelayComponent("boot", 20.0),))
    horizon = 4 * 3600.0
    sim = simulate_realtime(
        arrivals=PoissonArrivals(lam), service=exponential_service(1000.0 / mu, 1), fleet=fleet,
        max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=horizon / 2,
        n_replications=3, seed=17, timeline_bin_s=60.0)
    tl = sim.timeline_mean()
    settled = tl["nodes_ready"][len(tl["nodes_ready"]) // 2:]
    assert abs(settled.mean() - oracle) <= 1.0, (settled.mean(), oracle)
    assert np.all(np.abs(settled - oracle) <= 1.5)


def _load_trace(shared_data, name, folder="1-node"):
    path = shared_data / "traces" / "skypilot_spot_traces" / "preemption" / folder / name
    doc = json.loads(path.read_text())
    data = np.asarray(doc["data"], dtype=np.int64)
    gap = float(doc["metadata"]["gap_seconds"])
    return np.arange(data.size) * gap, data, int(np.sum(np.diff(data) < 0))


@pytest.mark.parametrize("name", ["aws-04-22-2023/us-east-1f_v100_1.json",
                                  "aws-04-22-2023/us-west-2b_v100_1.json",
                                  "gcp-04-30-2023/us-central1-b_c3-88.json"])
@pytest.mark.parametrize("notice_s", [0.0, 20.0])
def test_spot_trace_replay_reproduces_the_drops_exactly(shared_data, name, notice_s):
    trace_path = (shared_data / "traces" / "skypilot_spot_traces" / "preemption" / "1-node"
                  / name)
    if not trace_path.exists():
        pytest.skip(f"{trace_path} not in this copy of the shared data")
    times, capacity, drops = _load_trace(shared_data, name)
    horizon = float(times[-1]) + 1.0
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, on_demand_base=0,
                      extra_is_spot=True,
                      spot=SpotModel(notice_s=notice_s, trace_times_s=times,
                                     trace_capacity=capacity))
    sim = simulate_realtime(
        arrivals=PoissonArrivals(0.02), service=exponential_service(50.0, 1), fleet=fleet,
        max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=0.0, n_replications=2,
        seed=1)
    assert (sim.counters().n_preemption_events == drops).all()
    assert (sim.counters().n_preemptions == drops).all()
    # every rise of the capacity launches the pending node (the initial one, or a replacement);
    # a node still pending at the horizon launches then (the capacity limit ends there)
    rises = int(np.sum(np.diff(capacity) > 0)) + int(capacity[-1] == 0)
    assert (sim.counters().n_launch_spot == rises).all()


@pytest.mark.parametrize("name", ["aws-08-03-2023/us-east-1f_v100_1.json",
                                  "aws-08-03-2023/us-west-2c_v100_1.json"])
def test_four_node_trace_replay_preempts_every_lost_node(shared_data, name):
    """4-node traces: a drop of k nodes preempts k nodes (one preemption event per tick)."""
    times, capacity, drop_ticks = _load_trace(shared_data, name, folder="4-node")
    lost_nodes = int(np.sum(np.maximum(-np.diff(capacity), 0)))
    fleet = FleetSpec(workers_per_node=1, initial_nodes=4, max_nodes=8, on_demand_base=0,
                      extra_is_spot=True,
                      spot=SpotModel(notice_s=30.0, trace_times_s=times,
                                     trace_capacity=capacity))
    sim = simulate_realtime(
        arrivals=PoissonArrivals(0.05), service=exponential_service(50.0, 1), fleet=fleet,
        max_batch=1, max_wait_s=0.0, horizon_s=float(times[-1]) + 1.0, warmup_s=0.0,
        n_replications=2, seed=1)
    assert (sim.counters().n_preemption_events == drop_ticks).all()
    assert (sim.counters().n_preemptions == lost_nodes).all()
    # the fleet holds exactly the available capacity: mean spot nodes = mean of the trace
    held = sim.node_seconds("horizon")[:, CLASS_SPOT, :2].sum(axis=1) / (times[-1] + 1.0)
    np.testing.assert_allclose(held, np.minimum(capacity, 4).mean(), rtol=0.01)


def test_poisson_interruptions_match_the_configured_rate() -> None:
    rate = 0.5  # per node-hour
    fleet = FleetSpec(workers_per_node=1, initial_nodes=10, max_nodes=20, on_demand_base=0,
                      extra_is_spot=True,
                      spot=SpotModel(interruptions_per_hour=rate, notice_s=60.0),
                      provisioning=(DelayComponent("boot", 60.0),))
    horizon = 100 * 3600.0
    sim = simulate_realtime(
        arrivals=PoissonArrivals(50.0), service=exponential_service(20.0, 1), fleet=fleet,
        max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=0.0, n_replications=8,
        seed=3)
    node_s = sim.node_seconds("horizon")[:, CLASS_SPOT]
    exposed_h = (node_s[:, STATE_READY] + node_s[:, STATE_DRAINING]) / 3600.0
    measured = estimate(sim.counters().n_preemptions / exposed_h)
    assert measured.contains(rate, rel_tol=0.0), measured
    assert measured.half_width < 0.1 * rate
    # every preemption was replaced: the fleet keeps its size
    assert np.all(np.abs(sim.node_seconds("horizon").sum(axis=(1, 2)) / horizon - 10) < 0.2)


def test_node_seconds_agree_with_the_timeline_and_requests_are_conserved() -> None:
    fleet = FleetSpec(
        workers_per_node=2, initial_nodes=3, max_nodes=12, on_demand_base=1, extra_is_spot=True,
        autoscaling=AutoscalingPolicy("utilization", 0.5, min_nodes=1, max_nodes=12,
                                      interval_s=20.0, window_s=60.0, scale_in_cooldown_s=60.0),
        spot=SpotModel(interruptions_per_hour=20.0, notice_s=0.0, replacement_delay_s=5.0),
        provisioning=(DelayComponent.from_p95("boot", 15.0, 40.0),),
        deadline_s=0.5)
    sim = simulate_realtime(
        arrivals=PoissonArrivals(300.0), service=linear_service(15.0, 2.0, 8), fleet=fleet,
        max_batch=8, max_wait_s=0.005, horizon_s=3600.0, warmup_s=300.0, n_replications=4,
        seed=8, timeline_bin_s=60.0)
    s = sim.counters()
    assert (s.n_preemptions > 0).all() and (s.n_requeued > 0).all()
    np.testing.assert_array_equal(
        s.n_arrivals_total,
        s.n_dispatched_total + s.n_dropped + s.n_stranded)
    np.testing.assert_array_equal(sim.latency_hist.sum(axis=1), s.n_window)
    tl = sim.timeline_per_replication()
    width = tl["width_s"]
    by_class = sim.node_seconds("horizon").sum(axis=2)  # [R, class]
    for cls, name in enumerate(("base", "spot", "on_demand_fallback")):
        from_timeline = (tl[f"nodes_{name}"] * width).sum(axis=1)
        np.testing.assert_allclose(from_timeline, by_class[:, cls], rtol=1e-9, atol=1e-6)
    by_state = sim.node_seconds("horizon").sum(axis=1)  # [R, state]
    for k, name in enumerate(("provisioning", "ready", "notice", "draining")):
        from_timeline = (tl[f"nodes_{name}"] * width).sum(axis=1)
        np.testing.assert_allclose(from_timeline, by_state[:, k], rtol=1e-9, atol=1e-6)
    # busy time never exceeds serving capacity
    serving = sim.node_seconds("window")[:, :, 1:].sum(axis=(1, 2)) * 2
    assert np.all(sim.busy_worker_s() <= serving * (1 + 1e-9))
