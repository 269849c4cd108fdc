"""The training kernel against its SimPy reference (the executable specification).

The two models draw from different generators, so they agree in distribution, not draw for
draw: every compared mean lies within a two-sample 99.9 % interval (several metrics and
scenarios are compared, so each gets a wide one), and the completion-time distributions pass a
two-sample Kolmogorov-Smirnov test.  The reference also passes the hand-computed case exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulators.core.fleet import DelayComponent
from simulators.training.api import simulate_training
from simulators.training.reference import (
    simulate_training_reference,
    simulate_training_reference_runs,
)

_Z999 = 3.2905
BOOT = DelayComponent.from_p95("boot", 240.0, 600.0)

SCENARIOS = {
    "spot-fallback-after-3": (
        (200.0, 4, 8, "spot"),
        {"interruptions_per_node_hour": 0.1, "checkpoint_interval_s": 1800.0,
         "checkpoint_cost_s": 60.0, "restart_overhead_s": 120.0, "provisioning": BOOT,
         "replacement_delay_s": 180.0, "fallback_after_interruptions": 3}),
    "spot-near-deadline": (
        (200.0, 4, 8, "spot"),
        {"interruptions_per_node_hour": 0.15, "checkpoint_interval_s": 1200.0,
         "checkpoint_cost_s": 45.0, "restart_overhead_s": 90.0, "provisioning": 300.0,
         "replacement_delay_s": 120.0, "fallback_near_deadline": True,
         "fallback_margin_s": 900.0, "deadline_s": 30_000.0}),
    "on-demand-failures-no-checkpoint": (
        (24.0, 2, 8, "on_demand"),
        {"interruptions_per_node_hour": 0.2, "restart_overhead_s": 60.0, "provisioning": BOOT}),
    "reserved-window": (
        (64.0, 2, 8, "reserved"),
        {"checkpoint_interval_s": 3600.0, "checkpoint_cost_s": 60.0, "provisioning": BOOT,
         "reserved_hours": 4.1}),
}

# outputs compared: a TrainingRuns field and the reference field of the same name
METRICS = (
    "completion_s",
    "node_s_on_demand",
    "node_s_spot",
    "node_s_reserved",
    "checkpoint_s",
    "lost_s",
    "restart_s",
    "n_interruptions",
    "fell_back",
)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_kernel_agrees_with_reference(name):
    """Means of every output agree within a two-sample 99.9 % interval; KS on completion."""
    args, kwargs = SCENARIOS[name]
    kernel = simulate_training(*args, 20_000, 7, **kwargs).run_record()
    ref = simulate_training_reference_runs(1500, 7, *args, **kwargs)
    for field in METRICS:
        a, b = getattr(kernel, field)[:, 0], ref[field]
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        gap = abs(a.mean() - b.mean())
        scale = max(abs(a.mean()), 1e-9)
        assert gap <= _Z999 * se + 1e-9 * scale, (field, a.mean(), b.mean(), se)
    assert stats.ks_2samp(kernel.completion_s[:, 0], ref["completion_s"]).pvalue > 1e-3
    if "fallback" in name or "deadline" in name:
        # The scenario must exercise the fallback in both models for the check to mean much.
        assert 0.05 < kernel.fell_back[:, 0].mean() < 0.95
        assert 0.05 < ref["fell_back"].mean() < 0.95


def test_reference_hand_computed_case():
    """The reference reproduces the hand-computed on-demand run (see the analytic tests)."""
    run = simulate_training_reference(np.random.default_rng(0), 64.0, 2, 8, "on_demand",
                                      checkpoint_interval_s=5000.0, checkpoint_cost_s=60.0,
                                      restart_overhead_s=120.0, provisioning=300.0)
    expected = 300.0 + 120.0 + 14_400.0 + 3 * 60.0
    assert run.completion_s == pytest.approx(expected, rel=1e-12)
    assert run.node_s_on_demand == pytest.approx(2 * expected, rel=1e-12)
    assert run.checkpoint_s == pytest.approx(180.0)
    assert run.n_interruptions == 0 and not run.fell_back
