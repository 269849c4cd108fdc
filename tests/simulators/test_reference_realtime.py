"""Tests of the SimPy reference model of real-time serving (simulators.realtime.reference).

Truths used here, independent of the model's code:

* hand-worked event logs (times in ms) for the batching, tie and worker-choice rules;
* a direct evaluation of the specification's recursion for the dispatch time (no event queue),
  compared request for request on random small traces;
* closed forms from ``tests/oracles.py`` (Erlang C, Pollaczek-Khinchine, gated bulk service),
  compared through 95% t confidence intervals across independent replications, widened by a
  2% tolerance;
* Little's law and conservation laws on the event log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import SimulationError
from simulators.core.reference_arrivals import diurnal_arrivals, diurnal_rate_rps, poisson_arrivals
from simulators.realtime.reference import ReferenceResult, simulate_realtime_reference
from tests.oracles import bulk_gated_mean_wait, md1_mean_wait, mmc_mean_wait, mmc_wait_quantile

MS = 1e-3


class ServiceSequence:
    """A service-time sampler that returns ``values_s[k]`` on its k-th call and logs the calls.

    The model calls the sampler once per batch in dispatch order, so ``calls`` lines up with
    the result's batch arrays.
    """

    def __init__(self, values_s: Sequence[float]) -> None:
        self.values_s = list(values_s)
        self.calls: list[tuple[int, float]] = []  # (batch size, service time in s)

    def __call__(self, batch_size: int) -> float:
        value = self.values_s[len(self.calls)]
        self.calls.append((batch_size, value))
        return value

    @property
    def service_s(self) -> np.ndarray:
        return np.array([value for _, value in self.calls])


def run_ms(arrivals_ms, services_ms, *, horizon_ms, warmup_ms=0.0, **policy) -> ReferenceResult:
    """Run the model on times given in milliseconds (``policy``: workers, batch, wait)."""
    services = ServiceSequence([s * MS for s in services_ms])
    return simulate_realtime_reference(
        np.array(arrivals_ms, dtype=np.float64) * MS,
        services,
        warmup_s=warmup_ms * MS,
        horizon_s=horizon_ms * MS,
        **policy,
    )


def assert_ms(values_s: np.ndarray, expected_ms: Sequence[float]) -> None:
    np.testing.assert_allclose(values_s, np.array(expected_ms) * MS, rtol=0.0, atol=1e-12)


# --- hand-worked cases ------------------------------------------------------------------------


def test_hand_case_fill_then_deadline():
    """Arrivals 0, 1, 2, 10 ms; max_batch 2; max_wait 5 ms; service 3 ms; one worker.

    ====  =====================================================================================
    ms    event
    ====  =====================================================================================
    0     r0 arrives, worker 0 idle, queue [r0] (1 < 2): wait for 0 + 5 = 5 or a second request
    1     r1 arrives, the queue reaches max_batch: batch {r0, r1} on worker 0 until 4
    2     r2 arrives, worker busy
    4     worker 0 frees; queue [r2] (1 < 2) and r2's deadline 2 + 5 = 7 not reached
    7     r2's deadline: batch {r2} until 10
    10    r3 arrives and worker 0 frees (tie: both before the dispatcher); deadline 15
    15    r3's deadline: batch {r3} until 18
    ====  =====================================================================================
    """
    result = run_ms([0, 1, 2, 10], [3, 3, 3], horizon_ms=20, n_workers=1, max_batch=2,
                    max_wait_s=5 * MS)
    np.testing.assert_array_equal(result.batch_size, [2, 1, 1])
    assert_ms(result.batch_start_s, [1, 7, 15])
    np.testing.assert_array_equal(result.batch_worker, [0, 0, 0])
    assert_ms(result.wait_s, [1, 0, 5, 5])
    assert_ms(result.latency_s, [4, 3, 8, 8])
    assert result.busy_worker_s == pytest.approx(9 * MS, abs=1e-12)
    assert result.n_in_system_at_horizon == 0
    assert result.n_arrivals_total == 4


def test_hand_case_zero_max_wait_takes_what_is_queued():
    """Same arrivals, max_wait 0: dispatch at once with what is queued when a worker is idle.

    0: batch {r0} until 3.  1, 2: r1, r2 queue (the queue reaches 2 but no worker is idle).
    3: worker frees, batch {r1, r2} until 6.  10: batch {r3} until 13.
    """
    result = run_ms([0, 1, 2, 10], [3, 3, 3], horizon_ms=20, n_workers=1, max_batch=2,
                    max_wait_s=0.0)
    np.testing.assert_array_equal(result.batch_size, [1, 2, 1])
    assert_ms(result.batch_start_s, [0, 3, 10])
    assert_ms(result.wait_s, [0, 2, 1, 0])
    assert_ms(result.latency_s, [3, 5, 4, 3])


def test_hand_case_arrivals_at_the_dispatch_time_join_the_batch():
    """Arrivals 0, 5, 5, 5, 5 ms; max_batch 3; max_wait 5 ms; service 3 ms; one worker.

    5: r1..r4 arrive exactly at r0's deadline and are processed first, so the batch is
    {r0, r1, r2} (capped at 3) until 8.  8: queue [r3, r4] (2 < 3), r3's deadline is 10.
    10: batch {r3, r4} until 13.
    """
    result = run_ms([0, 5, 5, 5, 5], [3, 3], horizon_ms=20, n_workers=1, max_batch=3,
                    max_wait_s=5 * MS)
    np.testing.assert_array_equal(result.batch_size, [3, 2])
    assert_ms(result.batch_start_s, [5, 10])
    assert_ms(result.wait_s, [5, 0, 0, 5, 5])
    assert_ms(result.latency_s, [8, 3, 3, 8, 8])


def test_hand_case_arrival_at_a_completion_joins_the_batch():
    """Arrivals 0, 1, 3 ms; max_batch 4; max_wait 0; service 3 ms; one worker.

    0: batch {r0} until 3.  1: r1 queues.  3: r2 arrives as the worker frees; both events come
    before the dispatcher, which sends {r1, r2}.
    """
    result = run_ms([0, 1, 3], [3, 3], horizon_ms=10, n_workers=1, max_batch=4, max_wait_s=0.0)
    np.testing.assert_array_equal(result.batch_size, [1, 2])
    assert_ms(result.batch_start_s, [0, 3])
    assert_ms(result.wait_s, [0, 2, 0])


def test_hand_case_longest_idle_worker_gets_the_batch():
    """Two workers, max_batch 1, max_wait 0; arrivals 0, 0, 10, 11 ms; services 5, 2, 1, 1 ms.

    0: r0 -> worker 0 (all free since 0, lowest index) until 5; r1 -> worker 1 until 2.
    10: idle since 5 (w0) and since 2 (w1): r2 -> worker 1 until 11.
    11: worker 1 frees as r3 arrives; idle since 5 (w0) and 11 (w1): r3 -> worker 0.
    """
    result = run_ms([0, 0, 10, 11], [5, 2, 1, 1], horizon_ms=20, n_workers=2, max_batch=1,
                    max_wait_s=0.0)
    np.testing.assert_array_equal(result.batch_worker, [0, 1, 1, 0])
    assert_ms(result.batch_start_s, [0, 0, 10, 11])
    assert_ms(result.wait_s, [0, 0, 0, 0])


def test_hand_case_workers_freed_together_go_by_lowest_index():
    """Two workers, max_batch 1, max_wait 0; arrivals 0, 0, 1, 2 ms; services 1, 4, 3, 1 ms.

    0: r0 -> w0 until 1, r1 -> w1 until 4.  1: w0 frees as r2 arrives: r2 -> w0 until 4.
    2: r3 queues.  4: w1 and w0 both free at 4 (w1's completion was scheduled first); the
    tie goes to the lowest index, so r3 -> w0, having waited 2.
    """
    result = run_ms([0, 0, 1, 2], [1, 4, 3, 1], horizon_ms=10, n_workers=2, max_batch=1,
                    max_wait_s=0.0)
    np.testing.assert_array_equal(result.batch_worker, [0, 1, 0, 0])
    assert_ms(result.batch_start_s, [0, 0, 1, 4])
    assert_ms(result.wait_s, [0, 0, 0, 2])


def test_hand_case_full_batches_fill_every_idle_worker_at_once():
    """Two workers, max_batch 2, max_wait 1 ms, five arrivals at 0, service 3 ms.

    0: the queue holds 5 >= 2: {r0, r1} -> w0 and {r2, r3} -> w1, both until 3.  r4's
    deadline (1 ms) passes with no idle worker; at 3 both free, {r4} -> w0 (lowest index).
    """
    result = run_ms([0] * 5, [3, 3, 3], horizon_ms=10, n_workers=2, max_batch=2,
                    max_wait_s=1 * MS)
    np.testing.assert_array_equal(result.batch_size, [2, 2, 1])
    np.testing.assert_array_equal(result.batch_worker, [0, 1, 0])
    assert_ms(result.batch_start_s, [0, 0, 3])
    assert_ms(result.wait_s, [0, 0, 0, 0, 3])


def test_a_deadline_tie_computed_in_float_stays_a_tie():
    """A request arriving at exactly ``A_i + max_wait_s`` (a float sum) joins the batch.

    Three arrivals at 0 fill a batch (max_batch 3) until 3 ms; r3 arrives at 2 ms, and r4 at
    ``0.002 + 0.009`` = 0.011000000000000001 s, r3's deadline.  The dispatcher sets its timer at
    3 ms, where ``0.003 + (deadline - 0.003)`` rounds to 0.011, one ulp early; dispatching
    when that timer fires would send r3 alone, before r4 arrives.
    """
    max_wait_s = 9 * MS
    deadline_s = 2 * MS + max_wait_s
    assert 3 * MS + (deadline_s - 3 * MS) != deadline_s  # the trap is real
    result = simulate_realtime_reference(
        np.array([0.0, 0.0, 0.0, 2 * MS, deadline_s]), lambda b: 3 * MS, n_workers=1,
        max_batch=3, max_wait_s=max_wait_s, warmup_s=0.0, horizon_s=0.02,
    )
    np.testing.assert_array_equal(result.batch_size, [3, 2])
    assert result.batch_start_s[1] == deadline_s


def test_arrival_times_are_kept_exactly():
    """``0.001 + (0.014 - 0.001)`` is 0.013999999999999999, and no float delay added to 0.001
    gives 0.014 exactly; the request must still arrive, and be dispatched, at 0.014."""
    assert 0.001 + (0.014 - 0.001) != 0.014
    result = simulate_realtime_reference(np.array([0.001, 0.014]), lambda b: MS, n_workers=1,
                                         max_batch=1, max_wait_s=0.0, warmup_s=0.0,
                                         horizon_s=0.015)
    np.testing.assert_array_equal(result.batch_start_s, [0.001, 0.014])
    np.testing.assert_array_equal(result.wait_s, [0.0, 0.0])


def test_warmup_and_horizon_bookkeeping():
    """The first hand case with warm-up 2 ms and horizon 16 ms (then 18 ms).

    r2 arrives exactly at the warm-up and is counted; r0 and r1 are served but not returned.
    Busy intervals [1, 4], [7, 10], [15, 18] clipped to [2, 16] give 2 + 3 + 1 = 6 ms; r3 is
    in service at 16.  With the horizon at 18, r3 completes exactly at the horizon and has left.
    """
    policy = dict(n_workers=1, max_batch=2, max_wait_s=5 * MS)
    result = run_ms([0, 1, 2, 10], [3, 3, 3], horizon_ms=16, warmup_ms=2, **policy)
    assert_ms(result.arrival_s, [2, 10])
    assert_ms(result.wait_s, [5, 5])
    assert_ms(result.latency_s, [8, 8])
    np.testing.assert_array_equal(result.batch_size, [2, 1, 1])
    assert result.busy_worker_s == pytest.approx(6 * MS, abs=1e-12)
    assert result.n_in_system_at_horizon == 1
    assert result.n_arrivals_total == 4

    at_completion = run_ms([0, 1, 2, 10], [3, 3, 3], horizon_ms=18, warmup_ms=2, **policy)
    assert at_completion.n_in_system_at_horizon == 0
    assert at_completion.busy_worker_s == pytest.approx(8 * MS, abs=1e-12)


def test_no_arrivals_gives_empty_result():
    result = simulate_realtime_reference(np.array([]), lambda b: 1.0, n_workers=2, max_batch=4,
                                         max_wait_s=0.1, warmup_s=0.0, horizon_s=10.0)
    assert result.arrival_s.size == result.batch_size.size == 0
    assert result.busy_worker_s == 0.0
    assert result.n_in_system_at_horizon == result.n_arrivals_total == 0


@pytest.mark.parametrize(
    ("arrivals", "overrides", "match"),
    [
        ([0.2, 0.1], {}, "sorted"),
        ([0.1, 10.0], {}, "horizon_s"),
        ([-0.1, 0.2], {}, ">= 0"),
        ([0.1, np.nan], {}, "finite"),
        ([0.1], {"warmup_s": 10.0}, "warmup_s"),
        ([0.1], {"max_batch": 0}, "max_batch"),
        ([0.1], {"n_workers": 0}, "n_workers"),
        ([0.1], {"max_wait_s": -1.0}, "max_wait_s"),
        ([0.1], {"service": lambda b: 0.0}, "service_s"),
    ],
)
def test_invalid_inputs_raise_simulation_error(arrivals, overrides, match):
    kwargs = dict(n_workers=1, max_batch=2, max_wait_s=0.0, warmup_s=0.0, horizon_s=10.0)
    service = overrides.pop("service", lambda b: 1.0)
    kwargs.update(overrides)
    with pytest.raises(SimulationError, match=match):
        simulate_realtime_reference(np.array(arrivals), service, **kwargs)


# --- the specification's recursion, evaluated directly ----------------------------------------


def dispatch_by_formula(
    arrivals_s: np.ndarray,
    service_s: Callable[[int], float],
    n_workers: int,
    max_batch: int,
    max_wait_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate the batching rule of the specification without an event queue.

    With ``i`` the oldest undispatched request: the worker is the one free earliest (ties to
    the lowest index), ``t_w = max(its free time, A[i])``,
    ``D = max(t_w, min(A[i] + max_wait_s, A[i + max_batch - 1]))`` and the batch is every
    request from ``i`` with arrival ``<= D``, at most ``max_batch``.

    Returns
    -------
    batch_start_s, batch_size, batch_worker : arrays of length m (batches)
    dispatch_s : float64[n]
        Dispatch time of every request.
    """
    n = arrivals_s.size
    free_at_s = [0.0] * n_workers
    starts, sizes, workers = [], [], []
    dispatch_s = np.empty(n)
    i = 0
    while i < n:
        worker = min(range(n_workers), key=lambda w: (free_at_s[w], w))
        t_w = max(free_at_s[worker], float(arrivals_s[i]))
        fill_s = float(arrivals_s[i + max_batch - 1]) if i + max_batch - 1 < n else math.inf
        start_s = max(t_w, min(float(arrivals_s[i]) + max_wait_s, fill_s))
        end = i
        while end < n and end - i < max_batch and arrivals_s[end] <= start_s:
            end += 1
        free_at_s[worker] = start_s + service_s(end - i)
        dispatch_s[i:end] = start_s
        starts.append(start_s)
        sizes.append(end - i)
        workers.append(worker)
        i = end
    return np.array(starts), np.array(sizes, dtype=np.int64), np.array(workers), dispatch_s


@st.composite
def small_scenarios(draw):
    """Small traces on a grid (ties are common), in whole seconds or in decimal milliseconds."""
    scale = draw(st.sampled_from([1.0, MS]))
    ticks = sorted(draw(st.lists(st.integers(0, 40), max_size=25)))
    arrivals_s = np.array(ticks, dtype=np.float64) * scale
    horizon_ticks = max(ticks, default=0) + 1 + draw(st.integers(0, 10))
    services_s = [k * scale for k in draw(st.lists(st.integers(1, 6), min_size=25, max_size=25))]
    return dict(
        arrivals_s=arrivals_s,
        services_s=services_s,
        n_workers=draw(st.integers(1, 3)),
        max_batch=draw(st.integers(1, 4)),
        max_wait_s=draw(st.sampled_from([0, 1, 2, 5])) * scale,
        warmup_s=draw(st.integers(0, horizon_ticks - 1)) * scale,
        horizon_s=horizon_ticks * scale,
    )


@settings(max_examples=200, deadline=None)
@given(small_scenarios())
def test_reference_matches_the_specification_recursion(scenario):
    """Same inputs, same service sequence: the event model and the recursion agree exactly."""
    policy = {k: scenario[k] for k in ("n_workers", "max_batch", "max_wait_s")}
    arrivals_s = scenario["arrivals_s"]
    result = simulate_realtime_reference(
        arrivals_s, ServiceSequence(scenario["services_s"]),
        warmup_s=scenario["warmup_s"], horizon_s=scenario["horizon_s"], **policy,
    )
    starts, sizes, workers, dispatch_s = dispatch_by_formula(
        arrivals_s, ServiceSequence(scenario["services_s"]), **policy
    )
    np.testing.assert_array_equal(result.batch_size, sizes)
    np.testing.assert_array_equal(result.batch_start_s, starts)  # bit for bit: ties stay ties
    np.testing.assert_array_equal(result.batch_worker, workers)
    post = arrivals_s >= scenario["warmup_s"]
    np.testing.assert_array_equal(result.wait_s, (dispatch_s - arrivals_s)[post])


@settings(max_examples=200, deadline=None)
@given(small_scenarios())
def test_conservation_and_accounting(scenario):
    services = ServiceSequence(scenario["services_s"])
    arrivals_s, warmup_s, horizon_s = (scenario[k] for k in ("arrivals_s", "warmup_s",
                                                             "horizon_s"))
    result = simulate_realtime_reference(
        arrivals_s, services, n_workers=scenario["n_workers"], max_batch=scenario["max_batch"],
        max_wait_s=scenario["max_wait_s"], warmup_s=warmup_s, horizon_s=horizon_s,
    )
    n_pre = int(np.count_nonzero(arrivals_s < warmup_s))
    assert result.n_arrivals_total == arrivals_s.size == n_pre + result.arrival_s.size
    assert int(result.batch_size.sum()) == result.n_arrivals_total
    assert np.all((result.batch_size >= 1) & (result.batch_size <= scenario["max_batch"]))
    assert np.all(np.diff(result.batch_start_s) >= 0.0)  # dispatch order is time order

    # Request j (global arrival order) is in batch b with cumsum(size)[b-1] <= j < cumsum[b].
    service_s = services.service_s
    batch_of = np.searchsorted(np.cumsum(result.batch_size), np.arange(n_pre, arrivals_s.size),
                               side="right")
    assert np.all(result.wait_s >= 0.0)
    # latency = completion - arrival is rounded once more than the service time: allow 1 ulp.
    assert np.all(result.latency_s >= service_s[batch_of] - 1e-12)
    np.testing.assert_allclose(result.latency_s, result.wait_s + service_s[batch_of],
                               rtol=0.0, atol=1e-9)
    np.testing.assert_array_equal(result.wait_s,
                                  result.batch_start_s[batch_of] - result.arrival_s)

    end_s = result.batch_start_s + service_s
    for worker in range(scenario["n_workers"]):  # a worker serves one batch at a time
        mine = result.batch_worker == worker
        assert np.all(result.batch_start_s[mine][1:] >= end_s[mine][:-1])
    clipped = np.clip(end_s, warmup_s, horizon_s) - np.clip(result.batch_start_s, warmup_s,
                                                            horizon_s)
    assert result.busy_worker_s == pytest.approx(clipped.sum(), abs=1e-9)
    assert result.busy_worker_s <= scenario["n_workers"] * (horizon_s - warmup_s) + 1e-9
    # In the system at the horizon: queued (its batch starts later) or in service.
    assert result.n_in_system_at_horizon == int(result.batch_size[end_s > horizon_s].sum())


# --- against closed forms -----------------------------------------------------------------------


def replicate(
    seed: int,
    n_replications: int,
    rate_rps: float,
    make_service: Callable[[np.random.Generator], Callable[[int], float]],
    *,
    n_requests: int,
    warmup_fraction: float = 0.1,
    **policy,
) -> list[ReferenceResult]:
    """Independent replications on Poisson arrivals, each with its own arrival and service
    streams spawned from ``seed``; about ``n_requests`` arrivals each."""
    horizon_s = n_requests / rate_rps
    results = []
    for child in np.random.SeedSequence(seed).spawn(n_replications):
        arrival_rng, service_rng = (np.random.default_rng(s) for s in child.spawn(2))
        results.append(simulate_realtime_reference(
            poisson_arrivals(arrival_rng, rate_rps, horizon_s), make_service(service_rng),
            warmup_s=warmup_fraction * horizon_s, horizon_s=horizon_s, **policy,
        ))
    return results


def assert_oracle_in_ci(samples: Sequence[float], oracle: float, *, what: str,
                        confidence: float = 0.95, rel_tol: float = 0.02) -> None:
    """The oracle lies in the t confidence interval of the mean, widened by ``rel_tol``."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean()
    half = scipy.stats.t.ppf(0.5 + confidence / 2, samples.size - 1) * samples.std(ddof=1) \
        / math.sqrt(samples.size)
    slack = rel_tol * abs(oracle)
    assert mean - half - slack <= oracle <= mean + half + slack, (
        f"{what}: oracle {oracle:.6g} outside {confidence:.0%} CI "
        f"[{mean - half:.6g}, {mean + half:.6g}] (+/- {rel_tol:.0%} tolerance)"
    )


def exponential_service(mean_s: float):
    return lambda rng: (lambda batch_size: rng.exponential(mean_s))


@pytest.mark.slow
@pytest.mark.parametrize(("n_workers", "n_replications", "n_requests"),
                         [(1, 10, 30_000), (4, 12, 50_000)])
def test_mmc_mean_wait_matches_erlang_c(n_workers, n_replications, n_requests):
    rate_rps, rho = 0.7 * n_workers, 0.7  # mu = 1 per second
    results = replicate(20240 + n_workers, n_replications, rate_rps, exponential_service(1.0),
                        n_requests=n_requests, n_workers=n_workers, max_batch=1, max_wait_s=0.0)
    assert_oracle_in_ci([r.wait_s.mean() for r in results],
                        mmc_mean_wait(rate_rps, 1.0, n_workers), what="M/M/c mean wait")
    assert_oracle_in_ci([np.quantile(r.wait_s, 0.95) for r in results],
                        mmc_wait_quantile(rate_rps, 1.0, n_workers, 0.95), what="M/M/c wait p95")
    window_s = 0.9 * n_requests / rate_rps
    assert_oracle_in_ci([r.busy_worker_s / (n_workers * window_s) for r in results], rho,
                        what="utilization")


@pytest.mark.slow
def test_md1_mean_wait_matches_pollaczek_khinchine():
    rate_rps, service_s = 0.7, 1.0
    results = replicate(7, 10, rate_rps, lambda rng: (lambda b: service_s), n_requests=20_000,
                        n_workers=1, max_batch=1, max_wait_s=0.0)
    assert_oracle_in_ci([r.wait_s.mean() for r in results], md1_mean_wait(rate_rps, service_s),
                        what="M/D/1 mean wait")


@pytest.mark.slow
def test_gated_batching_matches_bulk_service_ctmc():
    """max_wait 0, one worker, batch-size-independent exponential service = M/M^[4]/1 gated."""
    results = replicate(11, 10, 3.0, exponential_service(1.0), n_requests=50_000, n_workers=1,
                        max_batch=4, max_wait_s=0.0)
    assert_oracle_in_ci([r.wait_s.mean() for r in results], bulk_gated_mean_wait(3.0, 1.0, 4),
                        what="gated bulk mean wait")


def test_littles_law_for_the_queue():
    """Time-average queue length from the event log equals arrival rate times mean wait.

    The queue length at ``t`` in the window is (arrivals up to ``t``) - (requests dispatched up
    to ``t``), from the arrival times and the batch log alone; its integral over the window has
    a closed form for counting processes.  Only the window's edges (requests queued across the
    warm-up or the horizon) separate it from ``lambda * Wq``.
    """
    rate_rps, warmup_s, horizon_s = 6.0, 500.0, 10_500.0
    rng = np.random.default_rng(2024)
    arrivals_s = poisson_arrivals(rng, rate_rps, horizon_s)
    result = simulate_realtime_reference(
        arrivals_s, lambda b: rng.exponential(0.4 + 0.2 * b), n_workers=2, max_batch=4,
        max_wait_s=0.5, warmup_s=warmup_s, horizon_s=horizon_s,
    )
    window_s = horizon_s - warmup_s
    n_pre = result.n_arrivals_total - result.arrival_s.size
    arrived_area = n_pre * window_s + np.sum(horizon_s - result.arrival_s)
    in_window = result.batch_start_s < horizon_s
    dispatched_area = np.sum(result.batch_size[in_window] * (
        horizon_s - np.maximum(result.batch_start_s[in_window], warmup_s)))
    queue_time_average = (arrived_area - dispatched_area) / window_s
    observed_rate_rps = result.arrival_s.size / window_s
    assert queue_time_average > 0.5  # a real queue, not a vacuous check
    assert queue_time_average == pytest.approx(observed_rate_rps * result.wait_s.mean(), rel=0.01)


# --- arrival generators ---------------------------------------------------------------------------


def test_poisson_arrivals_count_and_gaps():
    rate_rps, horizon_s = 50.0, 2_000.0
    times_s = poisson_arrivals(np.random.default_rng(1), rate_rps, horizon_s)
    expected = rate_rps * horizon_s
    assert abs(times_s.size - expected) < 4.0 * math.sqrt(expected)
    assert np.all(np.diff(times_s) >= 0.0) and times_s[0] >= 0.0 and times_s[-1] < horizon_s
    gaps = np.diff(times_s)
    # Exponential gaps: mean 1/rate and coefficient of variation 1 (standard errors ~0.3%).
    assert gaps.mean() == pytest.approx(1.0 / rate_rps, rel=0.015)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.02)


def expected_hourly_counts(rate, days: int) -> np.ndarray:
    """Integral of the rate over each hour of the day, times the number of days."""
    edges = np.arange(25) * 3600.0
    counts = [scipy.integrate.quad(rate, lo, hi)[0] for lo, hi in zip(edges[:-1], edges[1:])]
    return days * np.array(counts)


def test_diurnal_arrivals_follow_the_smooth_profile():
    days, mean_rps, ratio, peak_hour = 10, 0.5, 4.0, 14.0
    times_s = diurnal_arrivals(np.random.default_rng(3), mean_rps, ratio, peak_hour,
                               days * 86400.0)
    counts = np.bincount((times_s // 3600).astype(int) % 24, minlength=24)
    expected = expected_hourly_counts(
        lambda t: float(diurnal_rate_rps(np.array([t]), mean_rps, ratio, peak_hour)[0]), days)
    assert expected.sum() == pytest.approx(mean_rps * days * 86400.0, rel=1e-9)
    assert np.all(np.abs(counts - expected) < 4.5 * np.sqrt(expected))
    rates = diurnal_rate_rps(np.array([peak_hour, peak_hour + 12.0]) * 3600.0, mean_rps, ratio,
                             peak_hour)
    assert rates[0] / rates[1] == pytest.approx(ratio)
    assert np.argmax(counts) in (13, 14)  # the hour ending at, or starting at, the peak


def test_diurnal_arrivals_follow_hourly_weights():
    weights = np.zeros(24)
    weights[8:20] = np.linspace(1.0, 3.0, 12)
    days, mean_rps = 5, 0.4
    times_s = diurnal_arrivals(np.random.default_rng(4), mean_rps, 1.0, 0.0, days * 86400.0,
                               hourly_weights=weights)
    counts = np.bincount((times_s // 3600).astype(int) % 24, minlength=24)
    expected = days * 3600.0 * mean_rps * weights / weights.mean()
    assert np.all(counts[weights == 0.0] == 0)
    busy = weights > 0.0
    assert np.all(np.abs(counts[busy] - expected[busy]) < 4.5 * np.sqrt(expected[busy]))
    assert times_s.size == pytest.approx(mean_rps * days * 86400.0, rel=0.02)


def test_diurnal_arrivals_reject_bad_profiles():
    rng = np.random.default_rng(0)
    with pytest.raises(SimulationError, match="peak_to_trough"):
        diurnal_arrivals(rng, 1.0, 0.5, 12.0, 3600.0)
    with pytest.raises(SimulationError, match="hourly_weights"):
        diurnal_arrivals(rng, 1.0, 2.0, 12.0, 3600.0, hourly_weights=np.ones(23))

