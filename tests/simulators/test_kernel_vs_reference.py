"""The Numba kernel against the SimPy reference model (the executable specification).

Two kinds of checks:

* identical results on deterministic inputs: the same arrival times (a trace) and a service time
  that depends only on the batch size give the same batches, so every latency lands in the same
  histogram bucket, and the counters match;
* statistical agreement on random small scenarios with batching on: Poisson arrivals and random
  service times drawn from independent streams; p50, p99 and the mean batch size of the two
  models agree within a two-sample confidence interval across replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.histogram import RELATIVE_ERROR_BOUND, histogram_of
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.core.service import ServiceTime, exponential_service, linear_service, table_service
from simulators.realtime.api import simulate_realtime
from simulators.realtime.reference import simulate_realtime_reference


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 400),
    mean_gap_ms=st.floats(0.05, 5.0),
    round_to_ms=st.sampled_from([0.0, 0.5, 1.0]),
    workers=st.integers(1, 6),
    max_batch=st.integers(1, 12),
    wait_ms=st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.5]),
    base_ms=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    per_item_ms=st.sampled_from([0.0, 0.25, 1.0]),
)
def test_identical_on_deterministic_inputs(seed, n, mean_gap_ms, round_to_ms, workers, max_batch,
                                           wait_ms, base_ms, per_item_ms):
    """Same trace, batch-size-only service: every request's latency and wait agree exactly.

    Rounding arrival times to a grid creates ties (equal arrival and dispatch times, equal
    completion times), which exercises the tie-breaking rules of both models.
    """
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(mean_gap_ms / 1000.0, n))
    if round_to_ms:
        times = np.round(times / (round_to_ms / 1000.0)) * (round_to_ms / 1000.0)
    times = np.sort(times - times[0])
    horizon = float(times[-1]) + 0.001
    warmup = float(times[n // 5])
    service = linear_service(base_ms, per_item_ms, max_batch)
    kernel = simulate_realtime(
        arrivals=TraceArrivals(times), service=service, n_workers=workers, max_batch=max_batch,
        max_wait_s=wait_ms / 1000.0, horizon_s=horizon, warmup_s=warmup, n_replications=2,
        seed=seed)
    ref = simulate_realtime_reference(
        times, lambda k: float(service.mean_s[k]), n_workers=workers, max_batch=max_batch,
        max_wait_s=wait_ms / 1000.0, warmup_s=warmup, horizon_s=horizon)
    np.testing.assert_array_equal(kernel.latency_hist[0], histogram_of(ref.latency_s))
    np.testing.assert_array_equal(kernel.wait_hist[0], histogram_of(ref.wait_s))
    c = kernel.counters()
    assert c.n_window[0] == ref.latency_s.size
    np.testing.assert_allclose(c.sum_latency_s[0], ref.latency_s.sum(),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.sum_wait_s[0], ref.wait_s.sum(),
                               rtol=1e-9, atol=1e-12)
    assert c.n_batches_total[0] == ref.batch_size.size
    assert c.n_in_system_at_horizon[0] == ref.n_in_system_at_horizon
    np.testing.assert_allclose(kernel.busy_worker_s()[0], ref.busy_worker_s, rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_array_equal(kernel.latency_hist[0], kernel.latency_hist[1])


def _bert_lognormal(max_batch: int) -> ServiceTime:
    """Measured H100 bert-base-seq512 means with the table's p99/p50 spread (lognormal)."""
    sizes = np.array([1, 2, 4, 8, 9, 16, 24, 32])
    mean = np.array([2.22, 2.21, 2.21, 2.24, 2.26, 3.60, 5.45, 7.25])
    p50 = mean * 0.99
    p99 = mean * 1.08
    return table_service(sizes, mean, max_batch, p50_ms=p50, p99_ms=p99, jitter="lognormal")


def _draw_service(service: ServiceTime, rng: np.random.Generator):
    if service.distribution == "exponential":
        return lambda k: float(service.mean_s[k] * rng.exponential())
    if service.distribution == "lognormal":
        return lambda k: float(np.exp(service.log_mu[k] + service.log_sigma[k]
                                      * rng.standard_normal()))
    return lambda k: float(service.mean_s[k])


RANDOM_SCENARIOS = [
    # (rate_rps, workers, max_batch, max_wait_ms, service)
    (900.0, 1, 32, 5.0, _bert_lognormal(32)),
    (2500.0, 2, 16, 2.0, _bert_lognormal(16)),
    (300.0, 3, 4, 1.0, exponential_service(8.0, 4)),
    (120.0, 1, 8, 10.0, exponential_service(20.0, 8)),
]


@pytest.mark.parametrize("case", range(len(RANDOM_SCENARIOS)))
def test_distributions_agree_with_the_reference(case: int) -> None:
    """p50, p99 and mean batch size agree within a two-sample 99.5 % interval.

    Eight replications per model; the reference draws arrivals and service times from numpy
    generators, the kernel from its own streams.  Three metrics on four scenarios are twelve
    comparisons, hence the 99.5 % level; the bucket resolution (0.78 %) is added as slack.
    """
    rate, workers, max_batch, wait_ms, service = RANDOM_SCENARIOS[case]
    horizon = 20_000 / rate
    warmup = 0.05 * horizon
    reps = 8
    kernel = simulate_realtime(
        arrivals=PoissonArrivals(rate), service=service, n_workers=workers,
        max_batch=max_batch, max_wait_s=wait_ms / 1000.0, horizon_s=horizon, warmup_s=warmup,
        n_replications=reps, seed=100 + case)
    k_p = kernel.latency_percentiles_s(np.array([0.5, 0.99]))
    k_batch = kernel.mean_batch_size()

    r_p = np.empty((reps, 2))
    r_batch = np.empty(reps)
    for r in range(reps):
        rng = np.random.default_rng([case, r])
        ref = simulate_realtime_reference(
            poisson_arrivals(rng, rate, horizon), _draw_service(service, rng),
            n_workers=workers, max_batch=max_batch, max_wait_s=wait_ms / 1000.0,
            warmup_s=warmup, horizon_s=horizon)
        r_p[r] = np.quantile(ref.latency_s, [0.5, 0.99], method="inverted_cdf")
        in_window = (ref.batch_start_s >= warmup) & (ref.batch_start_s < horizon)
        r_batch[r] = ref.batch_size[in_window].mean()

    for name, a, b, slack in [
        ("p50", k_p[:, 0], r_p[:, 0], RELATIVE_ERROR_BOUND),
        ("p99", k_p[:, 1], r_p[:, 1], RELATIVE_ERROR_BOUND),
        ("mean batch", k_batch, r_batch, 0.0),
    ]:
        diff = a.mean() - b.mean()
        se = np.sqrt(a.var(ddof=1) / reps + b.var(ddof=1) / reps)
        t = stats.t.ppf(0.9975, 2 * reps - 2)
        bound = t * se + slack * abs(b.mean())
        assert abs(diff) <= bound, f"{name}: kernel {a.mean():.6g} vs reference {b.mean():.6g}"
        # the interval is narrow enough for the comparison to mean something
        assert t * se <= 0.1 * abs(b.mean()), f"{name}: interval too wide to judge"
