"""The training kernel against hand-computed totals and Young/Daly's closed forms.

Daly's expected wall time is exact for the simulator's semantics (Poisson interruptions at
every moment, a failed segment re-done from the last checkpoint, a recovery that restarts when
it is interrupted), so the replication mean must agree with it within a 95 % confidence
interval; the formulas are written out here, apart from the module's helpers, which are checked
against them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.training.api import simulate_training
from simulators.training.checkpoints import (
    daly_expected_time_s,
    daly_interval_s,
    predicted_waste_fraction,
    young_daly_interval_s,
)
from tests.simulators.helpers import assert_ci_agrees, ci

_Z999 = 3.2905  # two-sided 99.9 %: many intervals are checked, so each gets a wide one


def assert_mean_agrees(values, truth, *, max_rel_half_width):
    """Assert ``truth`` lies in the 99.9 % interval of the mean of ``values``, itself tight."""
    values = np.asarray(values, dtype=np.float64).ravel()
    half = _Z999 * values.std(ddof=1) / math.sqrt(values.size)
    assert half <= max_rel_half_width * abs(truth), f"CI too wide: +-{half} for {truth}"
    assert abs(values.mean() - truth) <= half, f"{truth} outside {values.mean()} +- {half}"


def _daly_whole_intervals(work_s, tau, c, r, m):
    """Daly (2006): ``M e^{R/M} (e^{(tau+C)/M} - 1) W / tau``, W a whole number of tau."""
    return m * math.exp(r / m) * (math.exp((tau + c) / m) - 1.0) * work_s / tau


def _first_start(s, r, m):
    """Expected time of the first start-up of length ``s`` under Poisson(1/m) interruptions.

    Either it runs ``s`` uninterrupted, or it is cut after ``min(X, s)`` and a recovery of ``r``
    follows that restarts on each interruption (expected ``m (e^{r/m} - 1)``):
    ``m (1 - e^{-s/m}) + (1 - e^{-s/m}) m (e^{r/m} - 1) = m (1 - e^{-s/m}) e^{r/m}``.
    """
    return m * (1.0 - math.exp(-s / m)) * math.exp(r / m)


# ----------------------------------------------------------------------------- no interruptions


@pytest.mark.parametrize("interval_s, n_checkpoints", [(3600.0, 4), (5000.0, 3), (None, 0)])
def test_on_demand_without_interruptions_is_hand_computed(interval_s, n_checkpoints):
    """64 GPU-h on 2 x 8 GPUs = 4 h of compute; 300 s provisioning, 120 s restart, 60 s saves."""
    cost = 60.0 if interval_s is not None else 0.0
    sim = simulate_training(64.0, 2, 8, "on_demand", 3, 5, checkpoint_interval_s=interval_s,
                            checkpoint_cost_s=cost, restart_overhead_s=120.0, provisioning=300.0)
    expected = 300.0 + 120.0 + 14_400.0 + n_checkpoints * 60.0
    np.testing.assert_allclose(sim.completion_time_s(), expected, rtol=1e-12)
    node_s = sim.node_seconds_by_purchase()
    np.testing.assert_allclose(node_s["on_demand"], 2 * expected, rtol=1e-12)
    assert np.all(node_s["spot"] == 0) and np.all(node_s["reserved"] == 0)
    np.testing.assert_allclose(sim.productive_gpu_s(), 64.0 * 3600.0, rtol=1e-12)
    np.testing.assert_allclose(sim.busy_gpu_s(), 64.0 * 3600.0, rtol=1e-12)
    np.testing.assert_allclose(sim.checkpoint_s(), n_checkpoints * 60.0)
    np.testing.assert_allclose(sim.restart_s(), 420.0)
    assert np.all(sim.lost_compute_s() == 0) and np.all(sim.n_interruptions() == 0)
    np.testing.assert_allclose(sim.utilization(), 14_400.0 / expected, rtol=1e-12)
    np.testing.assert_allclose(sim.completion_time_percentiles_s([0.5, 0.99]), expected)
    assert sim.deadline_probability() is None


def test_deadline_is_met_at_or_before_it():
    """A run that ends exactly at the deadline meets it; one second earlier it does not."""
    finish = 300.0 + 14_400.0
    on_time = simulate_training(64.0, 2, 8, "on_demand", 2, 0, provisioning=300.0,
                                deadline_s=finish)
    late = simulate_training(64.0, 2, 8, "on_demand", 2, 0, provisioning=300.0,
                             deadline_s=finish - 1.0)
    assert on_time.deadline_probability() == 1.0
    assert late.deadline_probability() == 0.0


def test_lognormal_provisioning_mean_and_median():
    """Lognormal provisioning (median 240 s, p95 600 s) shifts completion by its own law."""
    from simulators.core.fleet import DelayComponent

    boot = DelayComponent.from_p95("boot", 240.0, 600.0)
    sim = simulate_training(16.0, 2, 8, "on_demand", 20_000, 3, provisioning=boot)
    delay = sim.completion_time_s().ravel() - 3600.0
    assert_ci_agrees(ci(delay), boot.mean_s(), rel_tol=0.0, max_rel_half_width=0.02)
    assert abs(np.median(delay) / 240.0 - 1.0) < 0.02
    assert abs(np.quantile(delay, 0.95) / 600.0 - 1.0) < 0.04


# ----------------------------------------------------------------------------- Daly


@pytest.mark.parametrize("purchase", ["spot", "on_demand"])
def test_mean_completion_matches_daly(purchase):
    """80 GPU-h on 4 x 8 GPUs = 9,000 s = 10 intervals of 900 s; gang MTBF 1 h.

    E[T] = first start-up (provisioning 200 s + restart 120 s, interruptible) + Daly with
    R = replacement 180 s + restart 120 s.  On-demand with a failure rate follows the same law.
    """
    m = 3600.0
    sim = simulate_training(80.0, 4, 8, purchase, 20_000, 11, interruptions_per_node_hour=0.25,
                            checkpoint_interval_s=900.0, checkpoint_cost_s=60.0,
                            restart_overhead_s=120.0, provisioning=200.0,
                            replacement_delay_s=180.0)
    truth = _first_start(320.0, 300.0, m) + _daly_whole_intervals(9000.0, 900.0, 60.0, 300.0, m)
    assert_ci_agrees(ci(sim.mean_completion_time_s()), truth, rel_tol=0.0,
                     max_rel_half_width=0.01)
    # Interruptions are Poisson over the whole wall time: E[N] = E[T] / M (optional stopping).
    assert_mean_agrees(sim.n_interruptions(), truth / m, max_rel_half_width=0.03)
    # The module's helper is the same formula.
    assert daly_expected_time_s(9000.0, 900.0, 60.0, 300.0, m) == pytest.approx(
        _daly_whole_intervals(9000.0, 900.0, 60.0, 300.0, m), rel=1e-12)


def test_no_checkpoints_matches_daly_single_segment():
    """Without checkpoints an interruption loses everything: E = M e^{R/M} (e^{W/M} - 1)."""
    m = 7200.0  # 2 nodes x 0.25 / h
    sim = simulate_training(8.0, 2, 4, "spot", 20_000, 2, interruptions_per_node_hour=0.25,
                            restart_overhead_s=60.0)
    w = 3600.0
    truth = _first_start(60.0, 60.0, m) + m * math.exp(60.0 / m) * math.expm1(w / m)
    assert_ci_agrees(ci(sim.mean_completion_time_s()), truth, rel_tol=0.0,
                     max_rel_half_width=0.01)
    assert daly_expected_time_s(w, None, 0.0, 60.0, m) == pytest.approx(
        m * math.exp(60.0 / m) * math.expm1(w / m), rel=1e-12)


def test_young_daly_anchor_values():
    """Section 4.4 of the reference notes: C = 60 s, M = 4 h gives 1,314.5 s and 9.13 %."""
    tau = young_daly_interval_s(60.0, 14_400.0)
    assert tau == pytest.approx(1314.534, abs=1e-3)
    assert daly_interval_s(60.0, 14_400.0) == pytest.approx(1254.534, abs=1e-3)
    assert predicted_waste_fraction(tau, 60.0, 14_400.0, first_order=True) == pytest.approx(
        0.0913, abs=5e-5)
    exact = predicted_waste_fraction(tau, 60.0, 14_400.0)
    assert 1.0 - tau / (14_400.0 * math.expm1((tau + 60.0) / 14_400.0)) == pytest.approx(exact)
    # No failures: the time is the work plus the checkpoints.
    assert daly_expected_time_s(9000.0, 900.0, 60.0, 0.0, math.inf) == 9600.0


def test_simulated_optimum_is_near_young_daly_and_waste_matches():
    """Sweep the interval around sqrt(2 C M); the simulated mean is smallest next to it.

    Gang MTBF 4 h (8 nodes at 1/32 per node-hour), C = 60 s, 100 h of compute, no start-up or
    restart cost, so the simulated waste ``1 - W / E[T]`` is Daly's per-segment waste.
    """
    m, c, w = 14_400.0, 60.0, 360_000.0
    tau_star = young_daly_interval_s(c, m)
    factors = np.array([0.4, 0.6, 1.0, 1.6, 2.5])
    means = []
    for f in factors:
        sim = simulate_training(w * 64 / 3600.0, 8, 8, "spot", 3000, 17,
                                interruptions_per_node_hour=1.0 / 32.0,
                                checkpoint_interval_s=f * tau_star, checkpoint_cost_s=c)
        est = ci(sim.mean_completion_time_s())
        assert_ci_agrees(est, daly_expected_time_s(w, f * tau_star, c, 0.0, m), rel_tol=0.0,
                         max_rel_half_width=0.005)
        means.append(est.mean)
        if f == 1.0:
            waste = 1.0 - w / est.mean
            half = est.half_width * w / est.mean**2  # delta method
            exact = predicted_waste_fraction(tau_star, c, m)
            assert abs(waste - exact) <= half, (waste, exact, half)
            # The first-order form is within a few percent of it when C << tau << M.
            assert waste == pytest.approx(
                predicted_waste_fraction(tau_star, c, m, first_order=True), rel=0.05)
            # Per-replication waste (a ratio, so biased by Jensen) is close to the pooled one.
            assert sim.waste_fraction().mean() == pytest.approx(waste, rel=0.01)
    assert int(np.argmin(means)) == 2, dict(zip(factors * tau_star, means))
