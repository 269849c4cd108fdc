"""The Numba real-time kernel against closed-form queueing results.

Every assertion is judged with a 95 % confidence interval across independent replications, and
Little's law is checked on every run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.core.arrivals import PoissonArrivals
from simulators.core.service import constant_service, exponential_service
from simulators.realtime.api import simulate_realtime
from tests.oracles import (
    bulk_gated_mean_wait,
    erlang_c,
    md1_mean_wait,
    mmc_mean_wait,
    mmc_wait_quantile,
)
from tests.simulators.helpers import assert_ci_agrees, assert_littles_law, ci

N_REPS = 8


def _horizon_for(lam: float, target_requests: float) -> float:
    return target_requests / lam


@pytest.mark.parametrize("c", [1, 4, 16])
@pytest.mark.parametrize("rho", [0.5, 0.7, 0.9])
def test_mmc_mean_wait_matches_erlang_c(c: int, rho: float) -> None:
    """M/M/c (max_batch 1, exponential service): mean wait within 2 % of Erlang C."""
    mu = 1.0
    lam = rho * c * mu
    # heavier load needs longer runs (the wait's autocorrelation time grows like 1/(1-rho)^2),
    # and so do rare waits (a small Erlang C probability of waiting)
    prob_wait = erlang_c(c, lam / mu)
    n_requests = 4e5 / (1.0 - rho) ** 2 * min(max(0.15 / prob_wait, 1.0), 12.0)
    horizon = _horizon_for(lam, n_requests)
    sim = simulate_realtime(
        arrivals=PoissonArrivals(lam), service=exponential_service(1000.0 / mu, 1),
        n_workers=c, max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=horizon * 0.02,
        n_replications=N_REPS, seed=11 + c,
    )
    truth = mmc_mean_wait(lam, mu, c)
    assert_ci_agrees(ci(sim.mean_wait_s()), truth, rel_tol=0.02, max_rel_half_width=0.03)
    assert_ci_agrees(ci(sim.utilization()), rho, rel_tol=0.0, max_rel_half_width=0.01)
    assert_littles_law(sim, rel_tol=0.01)


@pytest.mark.parametrize("c,q", [(4, 0.95), (4, 0.99), (16, 0.99)])
def test_mmc_wait_quantiles_match_erlang_c_tail(c: int, q: float) -> None:
    """M/M/c wait quantiles: P(W > t) = C e^{-(c mu - lam) t}; histogram error <= 0.78 %."""
    lam = 0.8 * c
    horizon = _horizon_for(lam, 2e6)
    sim = simulate_realtime(
        arrivals=PoissonArrivals(lam), service=exponential_service(1000.0, 1), n_workers=c,
        max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=horizon * 0.02,
        n_replications=N_REPS, seed=5,
    )
    truth = mmc_wait_quantile(lam, 1.0, c, q)
    est = ci(sim.wait_percentiles_s(np.array([q]))[:, 0])
    assert_ci_agrees(est, truth, rel_tol=0.02, max_rel_half_width=0.04)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_md1_mean_wait_matches_pollaczek_khinchine(rho: float) -> None:
    """M/D/1: mean wait = rho / (2 mu (1 - rho))."""
    service_s = 0.004
    lam = rho / service_s
    horizon = _horizon_for(lam, 2e6 / (1 - rho))
    sim = simulate_realtime(
        arrivals=PoissonArrivals(lam), service=constant_service(service_s * 1000.0, 1),
        n_workers=1, max_batch=1, max_wait_s=0.0, horizon_s=horizon, warmup_s=10.0,
        n_replications=N_REPS, seed=3,
    )
    assert_ci_agrees(ci(sim.mean_wait_s()), md1_mean_wait(lam, service_s), rel_tol=0.02,
                     max_rel_half_width=0.03)
    # every request's latency is its wait plus exactly one service time
    np.testing.assert_allclose(sim.mean_latency_s() - sim.mean_wait_s(), service_s, rtol=1e-9)
    assert_littles_law(sim, rel_tol=0.01)


@pytest.mark.parametrize("lam,k", [(3.0, 4), (7.0, 8)])
def test_bulk_service_gated_matches_ctmc(lam: float, k: int) -> None:
    """max_wait 0 + exponential batch service independent of size = gated M/M^[K]/1."""
    horizon = _horizon_for(lam, 3e6)
    sim = simulate_realtime(
        arrivals=PoissonArrivals(lam), service=exponential_service(1000.0, k), n_workers=1,
        max_batch=k, max_wait_s=0.0, horizon_s=horizon, warmup_s=1000.0,
        n_replications=N_REPS, seed=21,
    )
    truth = bulk_gated_mean_wait(lam, 1.0, k)
    assert_ci_agrees(ci(sim.mean_wait_s()), truth, rel_tol=0.02, max_rel_half_width=0.03)
    assert_littles_law(sim, rel_tol=0.01)


def test_batching_deterministic_cycle_is_exact() -> None:
    """Constant gaps and service: every batch fills to max_batch and waits are known exactly.

    Arrivals every 1 ms, max_batch 4, generous max_wait, service 2 ms, one worker: a batch
    leaves when its 4th request arrives, so the waits are 3, 2, 1, 0 ms and latency = wait + 2.
    """
    from simulators.core.arrivals import TraceArrivals

    times = np.arange(0, 4000) * 0.001
    sim = simulate_realtime(
        arrivals=TraceArrivals(times), service=constant_service(2.0, 4), n_workers=1,
        max_batch=4, max_wait_s=0.010, horizon_s=4.0, warmup_s=0.0, n_replications=2, seed=0,
    )
    assert sim.counters().n_batches_total[0] == 1000
    np.testing.assert_allclose(sim.mean_wait_s(), 0.0015, rtol=1e-9)
    np.testing.assert_allclose(sim.mean_latency_s(), 0.0035, rtol=1e-9)
    np.testing.assert_allclose(sim.mean_batch_size(), 4.0)
    assert math.isclose(sim.utilization()[0], 0.5, rel_tol=1e-3)
