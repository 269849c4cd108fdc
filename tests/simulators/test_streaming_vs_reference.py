"""The streaming Numba kernel against its SimPy reference model (the executable specification).

* Identical results on deterministic inputs: the same arrival trace (rounded to a grid, so that
  arrivals fall exactly on window closes) and a batch-size-only service time give the same
  windows, so every latency lands in the same histogram bucket and every counter agrees.
* Statistical agreement with random service times: Poisson arrivals and lognormal batch
  durations drawn from independent streams; mean latency, p99 and mean processing time of the
  two models agree within a two-sample confidence interval across replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import AutoscalingPolicy
from simulators.core.histogram import histogram_of
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.core.service import ServiceTime, linear_service, table_service
from simulators.streaming.api import simulate_streaming, streaming_autoscaling
from simulators.streaming.reference import ReferenceFleet, simulate_streaming_reference


def assert_matches_reference(kernel, ref) -> None:
    """Assert replication 0 of ``kernel`` is the reference run: every count equal, every sum
    equal up to float rounding (the two add the same terms in different orders)."""
    s = kernel.counters()
    np.testing.assert_array_equal(kernel.latency_hist[0], histogram_of(ref.latency_s))
    equal = {
        "n_window": ref.latency_s.size, "n_arrivals_total": ref.n_arrivals_total,
        "n_processed_by_horizon": ref.n_processed_by_horizon,
        "n_in_system_at_horizon": ref.n_in_system_at_horizon,
        "n_windows_total": ref.window_close_s.size,
        "n_windows_processed": np.count_nonzero(ref.window_end_s <= kernel.horizon_s),
        "n_batches": ref.batch_size.size, "max_backlog_windows": ref.max_backlog_windows,
        "max_backlog_records": ref.max_backlog_records,
        "backlog_windows_at_horizon": ref.backlog_windows_at_horizon,
        "backlog_records_at_horizon": ref.backlog_records_at_horizon,
        "lag_at_horizon_s": ref.lag_at_horizon_s, "last_end_s": ref.window_end_s[-1],
        "n_scale_out": ref.n_scale_out, "n_scale_in": ref.n_scale_in,
        "n_nodes_launched": ref.n_launched, "max_nodes": ref.max_nodes,
        "n_interruptions": ref.n_interruptions, "n_replacements": ref.n_replacements,
        "n_lost_shares": ref.n_lost_shares, "n_reprocessed_records": ref.n_reprocessed_records,
        "n_stranded": 0,
    }
    assert {k: getattr(s, k)[0] for k in equal} == equal
    tl = kernel.timeline_per_replication()
    close = {
        "sum_latency_s": ref.latency_s.sum(), "busy_worker_s": ref.busy_worker_s,
        "busy_worker_s_horizon": ref.busy_worker_s_horizon,
        "busy_spot_worker_s": ref.busy_spot_worker_s, "lost_worker_s": ref.lost_worker_s,
        "backlog_window_area": ref.backlog_window_area,
        "backlog_record_area": ref.backlog_record_area, "in_system_area": ref.in_system_area,
        "node_s_horizon": ref.node_s_horizon, "node_s_window": ref.node_s_window,
        "node_s_spot_horizon": ref.node_s_spot_horizon,
        "node_s_spot_window": ref.node_s_spot_window,
    }
    got = {k: getattr(s, k)[0] for k in close}
    got["timeline nodes"] = (tl["nodes"][0] * tl["width_s"]).sum()
    got["timeline spot nodes"] = (tl["nodes_spot"][0] * tl["width_s"]).sum()
    close["timeline nodes"] = ref.node_s_horizon
    close["timeline spot nodes"] = ref.node_s_spot_horizon
    for key, value in close.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=1e-9, err_msg=key)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 300),
    mean_gap_s=st.floats(0.01, 0.5),
    grid_s=st.sampled_from([0.0, 0.25, 0.5]),
    window_s=st.sampled_from([0.5, 1.0, 2.5]),
    workers=st.integers(1, 5),
    max_batch=st.integers(1, 16),
    base_ms=st.sampled_from([1.0, 20.0, 150.0]),
    per_item_ms=st.sampled_from([0.0, 2.0, 40.0]),
    overhead_s=st.sampled_from([0.0, 0.1]),
)
def test_identical_on_deterministic_inputs(seed, n, mean_gap_s, grid_s, window_s, workers,
                                           max_batch, base_ms, per_item_ms, overhead_s):
    """Same trace, batch-size-only service: latencies, counts, backlog and busy time agree.

    The parameter ranges cover light load and heavy overload (processing far longer than the
    window), so the backlog bookkeeping is exercised both ways.
    """
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(mean_gap_s, n))
    if grid_s:
        times = np.round(times / grid_s) * grid_s
    times = np.sort(times - times[0])
    horizon = float(times[-1]) + 0.01
    warmup = float(times[n // 5])
    service = linear_service(base_ms, per_item_ms, max_batch)
    kernel = simulate_streaming(
        TraceArrivals(times), service, n_nodes=workers, workers_per_node=1, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=2, seed=seed,
        overhead_s=overhead_s)
    ref = simulate_streaming_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=workers, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, overhead_s=overhead_s)
    assert_matches_reference(kernel, ref)
    np.testing.assert_array_equal(kernel.latency_hist[0], kernel.latency_hist[1])
    assert ref.n_arrivals_total == n


def _jittered_table(max_batch: int) -> ServiceTime:
    """A small measured-looking table with lognormal spread (p99 about 1.8 x p50)."""
    sizes = np.array([1, 2, 4])
    mean_ms = np.array([15.0, 22.0, 40.0])
    return table_service(sizes, mean_ms, max_batch, p50_ms=0.93 * mean_ms, p99_ms=1.7 * mean_ms,
                         jitter="lognormal")


def _welch_ok(a: np.ndarray, b: np.ndarray, alpha: float = 0.001) -> bool:
    """Return whether the means of two replication samples are compatible (Welch t-test)."""
    return stats.ttest_ind(a, b, equal_var=False).pvalue > alpha


def test_statistical_agreement_with_lognormal_service():
    """Poisson arrivals, lognormal batch durations: kernel and reference agree across replications.

    Utilization is about 0.6 of the window, so processing time and its jitter shape the latency
    tail, which the p99 comparison checks.
    """
    rate, window, max_batch, horizon, warmup, reps = 50.0, 1.0, 4, 60.0, 5.0, 25
    service = _jittered_table(max_batch)
    kernel = simulate_streaming(
        PoissonArrivals(rate), service, n_nodes=1, workers_per_node=1, window_s=window,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=reps, seed=7)
    rng = np.random.default_rng(11)
    ref_mean, ref_p99, ref_proc = [], [], []
    for _ in range(reps):
        times = poisson_arrivals(rng, rate, horizon)
        ref = simulate_streaming_reference(
            times, lambda k: float(rng.lognormal(service.log_mu[k], service.log_sigma[k])),
            n_workers=1, window_s=window, max_batch=max_batch, horizon_s=horizon,
            warmup_s=warmup)
        ref_mean.append(ref.latency_s.mean())
        ref_p99.append(np.quantile(ref.latency_s, 0.99, method="inverted_cdf"))
        busy = ref.window_n > 0
        ref_proc.append((ref.window_end_s - ref.window_start_s)[busy].mean())
    k_p99 = kernel.latency_percentiles_s([0.99])[:, 0]
    assert _welch_ok(kernel.mean_latency_s(), np.array(ref_mean))
    assert _welch_ok(k_p99, np.array(ref_p99))
    assert _welch_ok(kernel.mean_processing_s(), np.array(ref_proc))
    # and the comparison has power: the processing time is far from negligible
    assert 0.4 < np.mean(ref_proc) < 0.8


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_per_phase=st.integers(20, 200),
    window_s=st.sampled_from([0.5, 1.0, 2.0]),
    wpn=st.integers(1, 3),
    max_batch=st.integers(1, 8),
    base_ms=st.sampled_from([20.0, 100.0]),
    per_item_ms=st.sampled_from([10.0, 40.0]),
    target=st.sampled_from([0.3, 0.5, 0.8]),
    max_nodes=st.integers(2, 6),
    interval_s=st.sampled_from([1.0, 2.0, 5.0]),
    delay_s=st.sampled_from([0.0, 1.0, 3.0]),
)
def test_identical_with_autoscaling(seed, n_per_phase, window_s, wpn, max_batch, base_ms,
                                    per_item_ms, target, max_nodes, interval_s, delay_s):
    """A burst between two quiet phases drives scale-out and scale-in; both models agree exactly.

    Checks the ready nodes behind every window (through the latencies and busy time), the
    node-seconds paid (provisioning included), and the autoscaler's decision counts.
    """
    rng = np.random.default_rng(seed)
    quiet = np.sort(rng.uniform(0.0, 20.0, n_per_phase // 4))
    burst = np.sort(rng.uniform(20.0, 40.0, 3 * n_per_phase))
    tail = np.sort(rng.uniform(40.0, 60.0, n_per_phase // 4))
    times = np.round(np.concatenate([quiet, burst, tail]) * 4) / 4  # ties with closes and evals
    times = times[times < 60.0]
    horizon, warmup = 60.0, 5.0
    service = linear_service(base_ms, per_item_ms, max_batch)
    auto = streaming_autoscaling(target, 1, max_nodes, interval_s)
    kernel = simulate_streaming(
        TraceArrivals(times), service, n_nodes=1, workers_per_node=wpn, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=1, seed=seed,
        autoscaling=auto, provisioning_delay_s=delay_s)
    ref = simulate_streaming_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=wpn, workers_per_node=wpn,
        window_s=window_s, max_batch=max_batch, horizon_s=horizon, warmup_s=warmup,
        fleet=ReferenceFleet(autoscaling=auto, provisioning_delay_s=delay_s))
    assert_matches_reference(kernel, ref)
    assert ref.nodes_at_start.min() >= 1 and ref.nodes_at_start.max() <= max_nodes


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_per_phase=st.integers(10, 150),
    window_s=st.sampled_from([0.5, 1.0, 2.0]),
    wpn=st.integers(1, 2),
    max_batch=st.integers(1, 8),
    target=st.sampled_from([0.3, 0.8]),
    max_nodes=st.integers(2, 6),
    interval_s=st.sampled_from([1.0, 2.0, 5.0]),
    window_n=st.sampled_from([1, 3]),
    cooldown_s=st.sampled_from([0.0, 4.0]),
    delay_s=st.sampled_from([0.0, 1.0, 3.0]),
    start_hour=st.sampled_from([7.99, 7.995, 23.995]),
    floor=st.integers(1, 6),
)
def test_identical_with_a_clock_schedule(seed, n_per_phase, window_s, wpn, max_batch, target,
                                         max_nodes, interval_s, window_n, cooldown_s, delay_s,
                                         start_hour, floor):
    """A clock schedule raises the floor inside the minute simulated (8:00 after 7:59:24 or
    7:59:42; a range wrapping midnight after 23:59:42), with a trailing window and a
    cooldown: both models agree exactly."""
    rng = np.random.default_rng(seed)
    burst = np.sort(rng.uniform(10.0, 30.0, 2 * n_per_phase))
    quiet = np.sort(rng.uniform(0.0, 60.0, n_per_phase // 2))
    times = np.sort(np.round(np.concatenate([burst, quiet]) * 4) / 4)
    times = times[times < 60.0]
    horizon, warmup = 60.0, 5.0
    service = linear_service(20.0, 30.0, max_batch)
    floor = min(floor, max_nodes)
    auto = AutoscalingPolicy("utilization", target, 1, max_nodes, interval_s,
                             window_n * interval_s, cooldown_s,
                             ((8.0, 9.0, floor), (23.999, 0.5, floor)))
    kernel = simulate_streaming(
        TraceArrivals(times), service, n_nodes=1, workers_per_node=wpn, window_s=window_s,
        max_batch=max_batch, horizon_s=horizon, warmup_s=warmup, n_replications=1, seed=seed,
        autoscaling=auto, provisioning_delay_s=delay_s, start_hour=start_hour)
    ref = simulate_streaming_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=wpn, workers_per_node=wpn,
        window_s=window_s, max_batch=max_batch, horizon_s=horizon, warmup_s=warmup,
        fleet=ReferenceFleet(autoscaling=auto, provisioning_delay_s=delay_s,
                             start_hour=start_hour))
    assert_matches_reference(kernel, ref)
    assert ref.max_nodes >= floor  # the schedule's floor was launched


def test_schedule_raises_the_floor_at_its_clock_hour():
    """One record a second, far below the target: without a schedule the fleet stays at one
    node; a floor of 3 from 08:00 launches two nodes at the first evaluation at or after 08:00
    (the run starts at 07:45, evaluations every 60 s: at t = 900 s), and none before."""
    times = np.arange(0.0, 1200.0, 1.0)
    service = linear_service(10.0, 0.0, 1)
    run = {"workers_per_node": 1, "window_s": 1.0, "max_batch": 1, "horizon_s": 1200.0,
           "warmup_s": 0.0, "n_replications": 1, "seed": 3, "start_hour": 7.75}
    plain = AutoscalingPolicy("utilization", 0.6, 1, 4, 60.0, 60.0, 0.0)
    floored = AutoscalingPolicy("utilization", 0.6, 1, 4, 60.0, 60.0, 0.0, ((8.0, 20.0, 3),))
    base = simulate_streaming(TraceArrivals(times), service, n_nodes=1, autoscaling=plain, **run)
    sim = simulate_streaming(TraceArrivals(times), service, n_nodes=1, autoscaling=floored,
                             **run)
    assert base.scaling_counts()["max_nodes"][0] == 1
    counts = {k: v[0] for k, v in sim.scaling_counts().items()}
    assert counts["max_nodes"] == 3 and counts["launched"] == 2 and counts["scale_out"] == 1
    assert sim.node_seconds()[0] == pytest.approx(900.0 + 3 * 300.0)  # no provisioning delay
