"""Properties of the training kernel: fallback, reserved billing, conservation, determinism,
input errors.  Each check is an invariant of the contract in ``simulators/training/api.py``, true
run by run, not a number pinned from a seeded run."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from domain.errors import SimulationError
from simulators.core.fleet import DelayComponent
from simulators.training.api import simulate_training

SPOT = {"interruptions_per_node_hour": 0.1, "checkpoint_interval_s": 1800.0,
        "checkpoint_cost_s": 60.0, "restart_overhead_s": 120.0,
        "provisioning": DelayComponent.from_p95("boot", 240.0, 600.0),
        "replacement_delay_s": 180.0}


def test_fallback_after_k_interruptions():
    """No run sees more than K spot interruptions; on-demand time exists only after a fallback."""
    k = 2
    sim = simulate_training(100.0, 4, 8, "spot", 4000, 3, fallback_after_interruptions=k, **SPOT)
    n = sim.n_interruptions()
    fell = sim.fell_back()
    assert n.max() == k
    assert np.array_equal(fell, n == k)
    assert 0.05 < fell.mean() < 0.95  # both kinds of runs occur, so the checks bite
    runs = sim.run_record()
    od = runs.node_s_on_demand
    spot = runs.node_s_spot
    done = sim.completion_time_s()
    at = sim.fallback_at_s()
    assert np.all(od[~fell] == 0) and np.all(od[fell] > 0)
    assert np.all(np.isnan(at[~fell]))
    np.testing.assert_allclose(spot[fell], 4 * at[fell], rtol=1e-12)
    np.testing.assert_allclose(od[fell], 4 * (done[fell] - at[fell]), rtol=1e-12)
    np.testing.assert_allclose(spot[~fell], 4 * done[~fell], rtol=1e-12)
    # After the fallback, one provisioning + restart and the rest of the work, no more losses:
    # the on-demand stretch is at least the restart plus the compute left.
    assert np.all(done[fell] - at[fell] >= 120.0)


def test_fallback_near_deadline_meets_the_deadline():
    """With a margin of one recovery plus one segment, every run meets the deadline.

    The quantity ``now + on-demand time left`` only grows while no progress is made, and the
    rule is checked at every interruption and checkpoint, so between checks it grows by at most
    a recovery plus a segment with its checkpoint; constant provisioning makes the on-demand
    finish exact.  Without the rule some runs miss the same deadline.
    """
    params = dict(SPOT, provisioning=300.0, interruptions_per_node_hour=0.05)
    work_s = 400.0 * 3600.0 / 32
    recovery, segment = 180.0 + 120.0, 1800.0 + 60.0
    margin = recovery + segment
    on_demand_s = 300.0 + 120.0 + work_s + math.ceil(work_s / 1800.0) * 60.0
    deadline = on_demand_s + margin + 420.0 + segment + 2400.0
    sim = simulate_training(400.0, 4, 8, "spot", 4000, 9, fallback_near_deadline=True,
                            fallback_margin_s=margin, deadline_s=deadline, **params)
    assert sim.deadline_probability() == 1.0
    fell = sim.fell_back()
    assert 0.05 < fell.mean() < 0.95
    late = simulate_training(400.0, 4, 8, "spot", 4000, 9, deadline_s=deadline, **params)
    assert late.deadline_probability() < 0.95
    # Fallback runs spend spot time only before the fallback.
    np.testing.assert_allclose(sim.run_record().node_s_spot[fell],
                               4 * sim.fallback_at_s()[fell], rtol=1e-12)


def test_reserved_bills_the_window_whatever_the_completion():
    """Reserved: node-seconds = nodes x window; a run past its window pays on-demand after it."""
    base = {"checkpoint_interval_s": 3600.0, "checkpoint_cost_s": 60.0,
            "restart_overhead_s": 120.0,
            "provisioning": DelayComponent.from_p95("boot", 240.0, 600.0)}
    sim = simulate_training(64.0, 2, 8, "reserved", 500, 1, reserved_hours=10.0, n_runs=3, **base)
    node_s = sim.node_seconds_by_purchase()
    np.testing.assert_allclose(node_s["reserved"], 3 * 2 * 36_000.0, rtol=1e-12)
    assert np.all(node_s["on_demand"] == 0) and np.all(node_s["spot"] == 0)
    assert np.all(sim.completion_time_s() < 36_000.0)
    assert sim.completion_time_s().std() > 0  # completion varies, the bill does not

    short = simulate_training(64.0, 2, 8, "reserved", 50, 1, reserved_hours=2.0, **base)
    done = short.completion_time_s()[:, 0]
    np.testing.assert_allclose(short.node_seconds_by_purchase()["reserved"], 2 * 7200.0)
    np.testing.assert_allclose(short.node_seconds_by_purchase()["on_demand"],
                               2 * (done - 7200.0), rtol=1e-12)

    sized = simulate_training(64.0, 2, 8, "reserved", 50, 1, **base)
    np.testing.assert_allclose(sized.node_seconds_by_purchase()["reserved"],
                               2 * sized.completion_time_s()[:, 0], rtol=1e-12)


@pytest.mark.parametrize("purchase, extra", [
    ("spot", {"fallback_after_interruptions": 3}),
    ("spot", {"fallback_near_deadline": True, "deadline_s": 60_000.0}),
    ("on_demand", {}),
    ("spot", {"checkpoint_interval_s": None, "checkpoint_cost_s": 0.0,
              "interruptions_per_node_hour": 0.01}),
])
def test_wall_time_and_billing_are_conserved(purchase, extra):
    """Every run: wall time = productive + checkpoints + lost + restarts; work done = W;
    billed node-seconds = nodes x wall time; busy <= allocated."""
    sim = simulate_training(300.0, 4, 8, purchase, 1000, 4, n_runs=2, **{**SPOT, **extra})
    r = sim.run_record()
    parts = r.productive_s + r.checkpoint_s + r.lost_s + r.restart_s
    np.testing.assert_allclose(parts, r.completion_s, rtol=1e-9)
    np.testing.assert_allclose(r.productive_s, sim.work_s, rtol=1e-9)
    billed = r.node_s_on_demand + r.node_s_spot
    np.testing.assert_allclose(billed, 4 * r.completion_s, rtol=1e-9)
    assert np.all(sim.busy_gpu_s() <= sim.allocated_gpu_s() * (1 + 1e-12))
    assert np.all(sim.n_interruptions() >= 0)
    assert np.all((sim.lost_compute_s() > 0) <= (sim.n_interruptions() > 0))


def test_results_do_not_depend_on_thread_count():
    """Each replication has its own stream (seed, replication): 1 thread == 2 threads."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_training(300.0, 4, 8, "spot", 64, 21, fallback_after_interruptions=4,
                                **SPOT)
        numba.set_num_threads(2)
        two = simulate_training(300.0, 4, 8, "spot", 64, 21, fallback_after_interruptions=4,
                                **SPOT)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.runs, two.runs)
    other = simulate_training(300.0, 4, 8, "spot", 64, 22, fallback_after_interruptions=4, **SPOT)
    assert not np.array_equal(one.runs, other.runs)


def test_replications_are_prefix_stable():
    """Replication r depends on (seed, r) only: more replications keep the first ones."""
    few = simulate_training(300.0, 4, 8, "spot", 5, 8, **SPOT)
    many = simulate_training(300.0, 4, 8, "spot", 50, 8, **SPOT)
    np.testing.assert_array_equal(few.runs, many.runs[:5])


GOOD = {"gpu_hours": 100.0, "nodes": 2, "gpus_per_node": 8, "purchase": "spot",
        "n_replications": 4, "seed": 0}


@pytest.mark.parametrize("change, name, shown", [
    ({"gpu_hours": 0.0}, "gpu_hours", "0.0"),
    ({"gpu_hours": math.nan}, "gpu_hours", "nan"),
    ({"nodes": 0}, "nodes", "0"),
    ({"gpus_per_node": 2.5}, "gpus_per_node", "2.5"),
    ({"purchase": "preemptible"}, "purchase", "preemptible"),
    ({"n_replications": 0}, "n_replications", "0"),
    ({"seed": -1}, "seed", "-1"),
    ({"n_runs": 0}, "n_runs", "0"),
    ({"interruptions_per_node_hour": -0.1}, "interruptions_per_node_hour", "-0.1"),
    ({"purchase": "reserved", "interruptions_per_node_hour": 0.1}, "interruptions_per_node_hour",
     "0.1"),
    ({"checkpoint_interval_s": -5.0}, "checkpoint_interval_s", "-5.0"),
    ({"checkpoint_cost_s": 30.0}, "checkpoint_cost_s", "30.0"),
    ({"restart_overhead_s": -1.0}, "restart_overhead_s", "-1.0"),
    ({"provisioning": -3.0}, "provisioning", "-3.0"),
    ({"provisioning": "fast"}, "provisioning", "fast"),
    ({"replacement_delay_s": math.inf}, "replacement_delay_s", "inf"),
    ({"fallback_after_interruptions": 0}, "fallback_after_interruptions", "0"),
    ({"purchase": "on_demand", "fallback_after_interruptions": 2}, "fallback_after_interruptions",
     "on_demand"),
    ({"fallback_near_deadline": True}, "fallback_near_deadline", "None"),
    ({"deadline_s": 0.0}, "deadline_s", "0.0"),
    ({"reserved_hours": 10.0}, "reserved_hours", "spot"),
    ({"interruptions_per_node_hour": 5.0, "checkpoint_interval_s": None},
     "checkpoint_interval_s", "None"),
])
def test_bad_input_names_parameter_value_and_fix(change, name, shown):
    """A ValueError (SimulationError) names the parameter, the bad value and a fix."""
    with pytest.raises(ValueError) as info:
        simulate_training(**{**GOOD, **change})
    assert isinstance(info.value, SimulationError)
    message = str(info.value)
    assert name in message and shown in message, message
    assert "; " in message  # the fix follows the problem
