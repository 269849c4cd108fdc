"""Spot streaming fleets: the Numba kernel against its SimPy reference, and closed forms.

* Identical results: the reference draws each spot node's time to its notice from the kernel's
  own spot stream (``seed_stream(seed, replication + SPOT_STREAM)``, one exponential per spot
  launch in launch order), so on a trace with batch-size-only service times both models see the
  same interruptions and must agree record for record, with and without autoscaling.
* Closed forms: a spot node is exposed to interruptions while it is ready and has no notice, at
  ``rate`` per node-hour, so the expected notices are ``rate x exposed node-hours`` (renewal
  argument with replacements); a share is lost when its node dies while busy with it, so the
  expected lost shares are ``rate x busy node-hours`` (notice 0) and the reprocessed records are
  the interruptions times the mean records in flight on a node.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import SpotModel
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.core.rng import exponential, seed_stream
from simulators.core.service import constant_service, linear_service
from simulators.streaming._layout import SPOT_STREAM
from simulators.streaming.api import simulate_streaming, streaming_autoscaling
from simulators.streaming.reference import ReferenceFleet, simulate_streaming_reference
from tests.simulators.helpers import assert_ci_agrees, ci
from tests.simulators.test_streaming_vs_reference import assert_matches_reference

SPOT_DELAYS = {"notice_s": st.sampled_from([0.0, 0.1, 2.0]),
               "replace_s": st.sampled_from([0.0, 0.5, 3.0]),
               "delay_s": st.sampled_from([0.0, 1.0, 2.5])}
"""Notice, replacement and provisioning delays (s), on the arrivals' grid so events tie."""


def _kernel_gaps(seed: int, per_hour: float, replication: int = 0):
    """Return a sampler of the kernel's spot draws: time from ready to notice (s)."""
    state = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + SPOT_STREAM, state)
    rate = per_hour / 3600.0
    return lambda: float(exponential(state)) / rate


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(20, 400),
    window_s=st.sampled_from([0.5, 1.0, 2.5]),
    n_nodes=st.integers(1, 3),
    wpn=st.integers(1, 2),
    base=st.integers(0, 1),
    max_batch=st.integers(1, 8),
    base_ms=st.sampled_from([20.0, 150.0]),
    per_item_ms=st.sampled_from([0.0, 30.0]),
    per_hour=st.sampled_from([60.0, 360.0, 1800.0]),
    **SPOT_DELAYS,
)
def test_identical_with_spot(seed, n, window_s, n_nodes, wpn, base, max_batch, base_ms,
                             per_item_ms, per_hour, notice_s, replace_s, delay_s):
    """Same trace and interruption draws: latencies, losses and node-seconds agree exactly.

    The rates give from a few to dozens of notices in a minute, so passes lose shares, wait for
    replacements (with delays on a 0.25 s grid, like the arrivals, so events tie), and windows
    back up.
    """
    rng = np.random.default_rng(seed)
    times = np.sort(np.round(rng.uniform(0.0, 60.0, n) * 4) / 4)
    times = times[times < 60.0]
    horizon, warmup = 60.0, 5.0
    base = min(base, n_nodes)
    service = linear_service(base_ms, per_item_ms, max_batch)
    spot = SpotModel(per_hour, notice_s=notice_s, replacement_delay_s=replace_s)
    kernel = simulate_streaming(
        TraceArrivals(times), service, n_nodes=n_nodes, workers_per_node=wpn, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=1, seed=seed,
        provisioning_delay_s=delay_s, spot=spot, on_demand_base=base)
    ref = simulate_streaming_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=n_nodes * wpn, workers_per_node=wpn,
        window_s=window_s, max_batch=max_batch, horizon_s=horizon, warmup_s=warmup,
        fleet=ReferenceFleet(provisioning_delay_s=delay_s, spot=spot, on_demand_base=base),
        interruption_gap_s=_kernel_gaps(seed, per_hour))
    assert_matches_reference(kernel, ref)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_per_phase=st.integers(20, 200),
    window_s=st.sampled_from([0.5, 1.0, 2.0]),
    wpn=st.integers(1, 2),
    base=st.integers(0, 1),
    max_batch=st.integers(1, 8),
    per_item_ms=st.sampled_from([10.0, 40.0]),
    target=st.sampled_from([0.3, 0.5, 0.8]),
    max_nodes=st.integers(2, 6),
    interval_s=st.sampled_from([1.0, 2.0, 5.0]),
    window_n=st.sampled_from([1, 3]),
    cooldown_s=st.sampled_from([0.0, 4.0]),
    per_hour=st.sampled_from([120.0, 900.0]),
    **SPOT_DELAYS,
)
def test_identical_with_spot_and_autoscaling(seed, n_per_phase, window_s, wpn, base, max_batch,
                                             per_item_ms, target, max_nodes, interval_s,
                                             window_n, cooldown_s, per_hour, notice_s,
                                             replace_s, delay_s):
    """A burst between quiet phases on a spot fleet: scale-out, scale-in (cancelling pending
    replacements, marking spot nodes first), interruptions and losses agree exactly."""
    rng = np.random.default_rng(seed)
    quiet = np.sort(rng.uniform(0.0, 20.0, n_per_phase // 4))
    burst = np.sort(rng.uniform(20.0, 40.0, 3 * n_per_phase))
    tail = np.sort(rng.uniform(40.0, 60.0, n_per_phase // 4))
    times = np.round(np.concatenate([quiet, burst, tail]) * 4) / 4
    times = times[times < 60.0]
    horizon, warmup = 60.0, 5.0
    service = linear_service(20.0, per_item_ms, max_batch)
    auto = streaming_autoscaling(target, 1, max_nodes, interval_s)
    auto = type(auto)(**{**auto.__dict__, "window_s": window_n * interval_s,
                         "scale_in_cooldown_s": cooldown_s})
    spot = SpotModel(per_hour, notice_s=notice_s, replacement_delay_s=replace_s)
    kernel = simulate_streaming(
        TraceArrivals(times), service, n_nodes=1, workers_per_node=wpn, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=1, seed=seed,
        autoscaling=auto, provisioning_delay_s=delay_s, spot=spot, on_demand_base=base)
    ref = simulate_streaming_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=wpn, workers_per_node=wpn,
        window_s=window_s, max_batch=max_batch, horizon_s=horizon, warmup_s=warmup,
        fleet=ReferenceFleet(autoscaling=auto, provisioning_delay_s=delay_s, spot=spot,
                             on_demand_base=base),
        interruption_gap_s=_kernel_gaps(seed, per_hour))
    assert_matches_reference(kernel, ref)
    assert ref.nodes_at_start.max() <= max_nodes + 1


def test_one_interruption_by_hand():
    """One spot node, one record per 1 s window (at k + 0.5) taking 0.9 s, notice 0 and an
    instant replacement.  The seed is picked so that the first notice ``g`` falls inside a pass
    and the replacement's own notice after the horizon: that window's share is lost at ``g``
    and run again from ``g`` on the replacement; later windows queue behind it."""
    per_hour, horizon = 72.0, 100.0
    for seed in range(200):
        gaps = _kernel_gaps(seed, per_hour)
        g = gaps()
        if 1.0 < g < horizon - 5 and g % 1.0 < 0.85 and g + gaps() > horizon:
            break
    else:
        pytest.fail("no seed in 0..199 gives one notice inside a pass")
    times = np.arange(100) + 0.5
    sim = simulate_streaming(
        TraceArrivals(times), constant_service(900.0, 1), n_nodes=1, workers_per_node=1,
        window_s=1.0, max_batch=1, horizon_s=horizon, warmup_s=0.0, n_replications=1,
        seed=seed, spot=SpotModel(per_hour, notice_s=0.0, replacement_delay_s=0.0))
    ends, prev = [], 0.0  # end_k = max(close_k, end_{k-1}) + 0.9, the lost window from g
    for k in range(100):
        start = max(k + 1.0, prev)
        prev = g + 0.9 if start <= g < start + 0.9 else start + 0.9
        ends.append(prev)
    counts = {k: v[0] for k, v in sim.spot_counts().items()}
    assert counts["interruptions"] == 1 and counts["replacements"] == 1
    assert counts["lost_shares"] == 1 and counts["reprocessed_records"] == 1
    assert counts["lost_worker_s"] == pytest.approx(g % 1.0, abs=1e-9)
    assert sim.mean_latency_s()[0] == pytest.approx(np.mean(np.array(ends) - times), abs=1e-9)
    assert sim.node_seconds()[0] == pytest.approx(horizon, abs=1e-9)  # dying node, then its
    assert sim.spot_node_seconds()[0] == pytest.approx(horizon, abs=1e-9)  # replacement
    busy = sum(min(e, horizon) - max(e - 0.9, 0.0) for e in ends if e - 0.9 < horizon)
    assert sim.busy_worker_s("horizon")[0] == pytest.approx(busy + g % 1.0, abs=1e-9)


def _welch_ok(a: np.ndarray, b: np.ndarray, alpha: float = 0.001) -> bool:
    return stats.ttest_ind(a, b, equal_var=False).pvalue > alpha


def test_statistical_agreement_with_independent_draws():
    """Poisson arrivals and interruptions drawn by numpy in the reference: the kernel's mean
    latency, interruptions and reprocessed records agree within confidence intervals.

    Windows of 2 s hold about 80 records: three batches of 0.6 s over two spot nodes, so one
    node's share lasts 1.2 s, longer than the 0.5 s notice, and notices during its first 0.7 s
    lose it.
    """
    rate, window, horizon, warmup, reps = 40.0, 2.0, 1800.0, 60.0, 12
    service = constant_service(600.0, 32)
    spot = SpotModel(20.0, notice_s=0.5, replacement_delay_s=5.0)
    kernel = simulate_streaming(
        PoissonArrivals(rate), service, n_nodes=2, workers_per_node=1, window_s=window,
        max_batch=32, horizon_s=horizon, warmup_s=warmup, n_replications=reps, seed=3,
        provisioning_delay_s=10.0, spot=spot)
    rng = np.random.default_rng(5)
    ref_mean, ref_int, ref_rep = [], [], []
    for _ in range(reps):
        ref = simulate_streaming_reference(
            poisson_arrivals(rng, rate, horizon), lambda k: float(service.mean_s[k]),
            n_workers=2, window_s=window, max_batch=32, horizon_s=horizon, warmup_s=warmup,
            fleet=ReferenceFleet(provisioning_delay_s=10.0, spot=spot),
            interruption_gap_s=lambda: float(rng.exponential(3600.0 / 20.0)))
        ref_mean.append(ref.latency_s.mean())
        ref_int.append(ref.n_interruptions)
        ref_rep.append(ref.n_reprocessed_records)
    counts = kernel.spot_counts()
    assert _welch_ok(kernel.mean_latency_s(), np.array(ref_mean))
    assert _welch_ok(counts["interruptions"], np.array(ref_int, dtype=float))
    assert _welch_ok(counts["reprocessed_records"], np.array(ref_rep, dtype=float))
    assert counts["reprocessed_records"].mean() > 20  # the comparison has power


@pytest.mark.parametrize("notice_s, replace_s, delay_s", [(0.0, 0.0, 0.0), (30.0, 20.0, 60.0)])
def test_interruptions_follow_the_rate(notice_s, replace_s, delay_s):
    """Notices = rate x exposed spot node-hours (renewal: each spot slot is exposed for an
    Exp(rate) time, then waits ``replacement_delay_s + provisioning_delay_s`` for its
    replacement to be ready), and spot node-seconds are the spot slots' share."""
    per_hour, n_spot, horizon = 6.0, 3, 6 * 3600.0
    sim = simulate_streaming(
        PoissonArrivals(5.0), constant_service(50.0, 16), n_nodes=n_spot + 1, workers_per_node=1,
        window_s=10.0, max_batch=16, horizon_s=horizon, warmup_s=0.0, n_replications=16,
        seed=11, provisioning_delay_s=delay_s, on_demand_base=1,
        spot=SpotModel(per_hour, notice_s=notice_s, replacement_delay_s=replace_s))
    cycle_s = 3600.0 / per_hour + replace_s + delay_s
    expected = n_spot * horizon / cycle_s
    assert_ci_agrees(ci(sim.spot_counts()["interruptions"]), expected, rel_tol=0.03,
                     max_rel_half_width=0.05)
    # the base node is never interrupted: on-demand node-seconds are exactly the horizon
    on_demand = sim.node_seconds("horizon") - sim.spot_node_seconds("horizon")
    np.testing.assert_allclose(on_demand, horizon, rtol=1e-12)
    if notice_s == 0.0 and delay_s == 0.0 and replace_s == 0.0:  # always n_spot spot nodes
        np.testing.assert_allclose(sim.spot_node_seconds("horizon"), n_spot * horizon,
                                   rtol=1e-12)


def test_reprocessed_records_are_interruptions_times_records_in_flight():
    """One spot node, notice 0 and instant replacement: a share is lost exactly when the node is
    interrupted while busy, so E[lost shares] = rate x busy node-hours; every window holds 100
    records (one batch of 0.3 s per 1 s window), so reprocessed = 100 x lost shares, and
    E[reprocessed] = interruptions x mean records in flight (100 x busy fraction)."""
    per_hour, horizon, reps = 36.0, 20000.0, 16
    times = np.arange(0.0, horizon, 0.01)
    sim = simulate_streaming(
        TraceArrivals(times), constant_service(300.0, 100), n_nodes=1, workers_per_node=1,
        window_s=1.0, max_batch=100, horizon_s=horizon, warmup_s=0.0, n_replications=reps,
        seed=2, spot=SpotModel(per_hour, notice_s=0.0, replacement_delay_s=0.0))
    counts = sim.spot_counts()
    np.testing.assert_array_equal(counts["reprocessed_records"], 100 * counts["lost_shares"])
    busy_h = sim.busy_worker_s("horizon") / 3600.0
    assert_ci_agrees(ci(counts["lost_shares"]), per_hour * busy_h.mean(), rel_tol=0.05,
                     max_rel_half_width=0.12)
    in_flight = 100.0 * sim.busy_worker_s("horizon") / horizon
    assert_ci_agrees(ci(counts["reprocessed_records"]),
                     float((counts["interruptions"] * in_flight).mean()), rel_tol=0.05,
                     max_rel_half_width=0.12)
    # the busy time is the windows' 0.3 s plus the lost partial passes and their reruns
    assert 0.3 <= busy_h.mean() * 3600.0 / horizon < 0.31


def test_a_fleet_without_spot_is_unchanged_by_a_zero_rate():
    """A spot model with rate 0 never interrupts: the same latencies as an on-demand fleet."""
    kwargs = {"arrivals": PoissonArrivals(30.0), "service": constant_service(40.0, 8),
              "n_nodes": 2, "workers_per_node": 2, "window_s": 2.0, "max_batch": 8,
              "horizon_s": 600.0, "warmup_s": 30.0, "n_replications": 3, "seed": 4}
    plain = simulate_streaming(**kwargs)
    spot = simulate_streaming(**kwargs, spot=SpotModel(0.0))
    np.testing.assert_array_equal(plain.latency_hist, spot.latency_hist)
    np.testing.assert_array_equal(plain.node_seconds(), spot.node_seconds())
    np.testing.assert_array_equal(spot.spot_node_seconds(), spot.node_seconds())
    assert (spot.spot_counts()["interruptions"] == 0).all()
