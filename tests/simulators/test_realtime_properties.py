"""Properties of the real-time kernel: conservation, monotonicity, bounds, reproducibility."""

from __future__ import annotations

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals, TraceArrivals
from simulators.core.histogram import bucket_bounds, percentiles_from_counts
from simulators.core.service import (
    constant_service,
    exponential_service,
    linear_service,
    table_service,
)
from simulators.realtime.api import simulate_realtime

SETTINGS = settings(max_examples=40, deadline=None)


def _small(seed, rate, workers, max_batch, wait_ms, service, horizon=60.0, warmup=5.0, reps=3):
    return simulate_realtime(
        arrivals=PoissonArrivals(rate), service=service, n_workers=workers, max_batch=max_batch,
        max_wait_s=wait_ms / 1000.0, horizon_s=horizon, warmup_s=warmup, n_replications=reps,
        seed=seed,
    )


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    rate=st.floats(1.0, 3000.0),
    workers=st.integers(1, 70),
    max_batch=st.integers(1, 64),
    wait_ms=st.floats(0.0, 20.0),
    base_ms=st.floats(0.1, 20.0),
    per_item_ms=st.floats(0.0, 2.0),
)
def test_requests_are_conserved(seed, rate, workers, max_batch, wait_ms, base_ms, per_item_ms):
    """arrivals = completions by the horizon + in flight at the horizon; all arrivals served."""
    sim = _small(seed, rate, workers, max_batch, wait_ms,
                 linear_service(base_ms, per_item_ms, max_batch))
    s = sim.counters()
    total = s.n_arrivals_total
    np.testing.assert_array_equal(total, s.n_dispatched_total)
    np.testing.assert_array_equal(
        total, s.n_completed_by_horizon + s.n_in_system_at_horizon)
    np.testing.assert_array_equal(sim.latency_hist.sum(axis=1), s.n_window)
    np.testing.assert_array_equal(sim.wait_hist.sum(axis=1), s.n_window)
    assert np.all(s.n_window <= total)
    tl = sim.timeline_per_replication()
    np.testing.assert_array_equal(tl["arrivals"].sum(axis=1), total)
    assert np.all(sim.utilization() <= 1.0 + 1e-12)
    assert np.all(tl["mean_queue"] >= -1e-9)
    assert np.all(tl["mean_busy_workers"] <= workers + 1e-9)


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(50, 3000),
    mean_gap_ms=st.floats(0.05, 5.0),
    service_ms=st.floats(0.1, 30.0),
    workers=st.integers(1, 12),
)
def test_more_workers_never_raise_latency(seed, n, mean_gap_ms, service_ms, workers):
    """FIFO, max_batch 1: adding a worker never raises the mean or p99 latency.

    Arrivals come from a trace and the service of the k-th request is the k-th draw of the
    replication's stream whatever the fleet, so the two fleets see the same requests
    (Kiefer-Wolfowitz: every request's wait is non-increasing in the number of servers).
    """
    times = np.cumsum(np.random.default_rng(seed).exponential(mean_gap_ms / 1000.0, n))
    times -= times[0]
    runs = [simulate_realtime(
        arrivals=TraceArrivals(times), service=exponential_service(service_ms, 1), n_workers=c,
        max_batch=1, max_wait_s=0.0, horizon_s=float(times[-1]) + 1.0, warmup_s=0.0,
        n_replications=2, seed=seed) for c in (workers, workers + 1)]
    q = np.array([0.5, 0.99, 1.0])
    fewer, more = (r.latency_percentiles_s(q) for r in runs)
    lower, upper = bucket_bounds()
    assert np.all(more <= fewer * (1 + 1e-12) + 1e-12)
    assert np.all(runs[1].mean_latency_s() <= runs[0].mean_latency_s() * (1 + 1e-12))


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    rate=st.floats(10.0, 2000.0),
    workers=st.integers(1, 8),
    max_batch=st.integers(1, 32),
    wait_ms=st.floats(0.0, 10.0),
)
def test_latency_is_at_least_the_service_time(seed, rate, workers, max_batch, wait_ms):
    """With the real H100 BERT profile, no request is faster than the fastest batch."""
    sizes = np.array([1, 2, 4, 8, 16, 32])
    means = np.array([2.2, 2.2, 2.21, 2.25, 3.6, 7.25])
    service = table_service(sizes, means, max_batch)
    sim = _small(seed, rate, workers, max_batch, wait_ms, service, horizon=20.0, warmup=1.0)
    fastest_s = service.mean_s[1:].min()
    lower, upper = bucket_bounds()
    occupied = np.flatnonzero(sim.latency_hist.sum(axis=0))
    assert upper[occupied].min() > fastest_s
    assert np.all(sim.mean_latency_s() - sim.mean_wait_s() >= fastest_s * (1 - 1e-9))


def test_results_do_not_depend_on_the_thread_count() -> None:
    kwargs = dict(arrivals=PoissonArrivals(500.0), service=exponential_service(5.0, 8),
                  n_workers=3, max_batch=8, max_wait_s=0.002, horizon_s=200.0, warmup_s=10.0,
                  n_replications=5, seed=42)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_realtime(**kwargs)
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        many = simulate_realtime(**kwargs)
        chunked = simulate_realtime(**kwargs, progress=lambda done, total: None)
    finally:
        numba.set_num_threads(before)
    for other in (many, chunked):
        np.testing.assert_array_equal(one.latency_hist, other.latency_hist)
        np.testing.assert_array_equal(one.stats, other.stats)
        np.testing.assert_array_equal(one.timeline, other.timeline)
    # and different replications really differ
    assert not np.array_equal(one.latency_hist[0], one.latency_hist[1])


def test_trace_replay_counts_every_row_and_loops() -> None:
    times = np.sort(np.random.default_rng(1).uniform(0, 100.0, 5000))
    times -= times[0]
    sim = simulate_realtime(arrivals=TraceArrivals(times), service=constant_service(1.0, 1),
                            n_workers=4, max_batch=1, max_wait_s=0.0, horizon_s=100.0,
                            warmup_s=0.0, n_replications=2, seed=0)
    assert sim.counters().n_arrivals_total[0] == np.sum(times < 100.0)
    looped = simulate_realtime(arrivals=TraceArrivals(times, repeat=True),
                               service=constant_service(1.0, 1), n_workers=4, max_batch=1,
                               max_wait_s=0.0, horizon_s=350.0, warmup_s=0.0, n_replications=2,
                               seed=0)
    period = TraceArrivals(times).period_s()
    expected = sum(np.sum(times + k * period < 350.0) for k in range(5))
    assert looped.counters().n_arrivals_total[0] == expected


def test_diurnal_arrivals_follow_the_rate_curve() -> None:
    """Hourly counts of a day of smooth diurnal arrivals match the integral of the rate."""
    arrivals = DiurnalArrivals(mean_rate_rps=200.0, peak_to_trough=4.0, peak_hour=15.5,
                               start_hour=6.0)
    sim = simulate_realtime(arrivals=arrivals, service=constant_service(0.1, 1), n_workers=2,
                            max_batch=1, max_wait_s=0.0, horizon_s=86_400.0, warmup_s=0.0,
                            n_replications=4, seed=9, timeline_bin_s=3600.0)
    counts = sim.timeline_per_replication()["arrivals"]  # [R, 24]
    t = np.linspace(0, 86_400.0, 24 * 3600 + 1)
    rate = arrivals.rate_at(t)
    expected = np.array([np.trapezoid(rate[h * 3600:(h + 1) * 3600 + 1],
                                      t[h * 3600:(h + 1) * 3600 + 1]) for h in range(24)])
    # Poisson counts: 4 replications, z <= 4.5 on every hour
    z = (counts.mean(axis=0) - expected) / np.sqrt(expected / counts.shape[0])
    assert np.all(np.abs(z) < 4.5), z
    assert np.argmax(expected) == 9  # clock hour 15 (peak 15:30) is simulation hour 9
    assert abs(counts.sum(axis=1).mean() / 86_400.0 - 200.0) < 1.0


def test_piecewise_diurnal_uses_the_hourly_weights() -> None:
    weights = tuple([1.0] * 12 + [3.0] * 12)
    sim = simulate_realtime(
        arrivals=DiurnalArrivals(mean_rate_rps=100.0, hourly_weights=weights),
        service=constant_service(0.1, 1), n_workers=2, max_batch=1, max_wait_s=0.0,
        horizon_s=86_400.0, warmup_s=0.0, n_replications=2, seed=3, timeline_bin_s=3600.0)
    per_hour = sim.timeline_per_replication()["arrivals"].mean(axis=0) / 3600.0
    np.testing.assert_allclose(per_hour[:12].mean(), 50.0, rtol=0.01)
    np.testing.assert_allclose(per_hour[12:].mean(), 150.0, rtol=0.01)


def test_poisson_rate_and_percentile_api() -> None:
    sim = _small(1, 1000.0, 2, 1, 0.0, exponential_service(1.0, 1), horizon=100.0, warmup=0.0)
    np.testing.assert_allclose(sim.arrival_rate_rps(), 1000.0, rtol=0.02)
    p = sim.latency_percentiles_s(np.array([0.5, 0.99]))
    assert p.shape == (3, 2) and np.all(p[:, 0] < p[:, 1])
    np.testing.assert_array_equal(p, percentiles_from_counts(sim.latency_hist, [0.5, 0.99]))


def test_typed_records_cover_every_kernel_column() -> None:
    """Each typed record of kernel output has one field per layout column, at its column.

    Reads the private layouts generically (every ``S_*`` / ``J_*`` / ``O_*`` name), so a column
    added to a kernel without a field in its record fails here.
    """
    from dataclasses import fields

    from simulators.batch import _kernel as batch_layout
    from simulators.batch.api import BatchCounters, BatchJobs
    from simulators.realtime import _layout as realtime_layout
    from simulators.realtime.api import RealtimeCounters
    from simulators.streaming import _layout as streaming_layout
    from simulators.streaming.api import StreamingCounters
    from simulators.training import _kernel as training_layout
    from simulators.training.api import TrainingRuns

    for record, build, layout, prefix in (
        (RealtimeCounters, RealtimeCounters.from_stats, realtime_layout, "S_"),
        (StreamingCounters, StreamingCounters.from_stats, streaming_layout, "S_"),
        (BatchCounters, BatchCounters.from_stats, batch_layout, "S_"),
        (BatchJobs, BatchJobs.from_jobs, batch_layout, "J_"),
        (TrainingRuns, TrainingRuns.from_runs, training_layout, "O_"),
    ):
        columns = {name[len(prefix):].lower(): index for name, index in vars(layout).items()
                   if name.startswith(prefix) and isinstance(index, int)}
        assert {f.name for f in fields(record)} == set(columns), record.__name__
        assert sorted(columns.values()) == list(range(len(columns))), record.__name__
        ramp = np.tile(np.arange(len(columns), dtype=np.float64), (2, 3, 1))
        built = build(ramp)
        for name, index in columns.items():
            np.testing.assert_array_equal(getattr(built, name), np.full((2, 3), index))
