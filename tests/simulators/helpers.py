"""Shared helpers of the simulator tests."""

from __future__ import annotations

import numpy as np

from planner.stats import Estimate, estimate
from simulators.realtime.api import RealtimeSimResult


def assert_littles_law(sim: RealtimeSimResult, rel_tol: float) -> None:
    """Assert L_q = lambda W_q per replication: the time-average queue against lambda x wait.

    The two sides come from different kernel accumulators (queue area integrated over time
    against per-request waits), so a bookkeeping error in either shows up here.
    """
    lq = sim.mean_queue_length()
    lam_w = sim.arrival_rate_rps() * sim.mean_wait_s()
    scale = np.maximum(lam_w, 1e-3)
    assert np.all(np.abs(lq - lam_w) <= rel_tol * scale), (lq, lam_w)


def ci(values: np.ndarray) -> Estimate:
    """Return the replication mean with its 95 % confidence interval."""
    return estimate(np.asarray(values, dtype=np.float64))


def assert_ci_agrees(est: Estimate, truth: float, *, rel_tol: float, max_rel_half_width: float
                     ) -> None:
    """Assert ``truth`` lies in the CI (widened by ``rel_tol``) and the CI is tight enough.

    The second condition keeps the test meaningful: a very wide interval would accept anything.
    """
    assert est.half_width is not None
    assert est.half_width <= max_rel_half_width * abs(truth), (
        f"CI too wide to judge: {est} for truth {truth}")
    assert est.contains(truth, rel_tol=rel_tol), f"{truth} outside {est} (+{rel_tol:.0%})"
