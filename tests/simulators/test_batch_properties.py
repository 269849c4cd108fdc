"""Properties of the batch-job simulator: determinism, conservation, monotonicity, input errors."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import SimulationError
from simulators.batch.api import simulate_batch
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals
from simulators.core.fleet import DelayComponent
from simulators.core.service import constant_service

SERVICE = constant_service(50.0, 256)
SPOT = {"provisioning": (DelayComponent("boot", 90.0, 0.5),), "startup_s": 30.0,
            "checkpoint_s": 300.0, "checkpoint_cost_s": 20.0, "purchase": "spot",
            "interruptions_per_node_hour": 0.5, "fallback_after": 2, "deadline_s": 4 * 3600.0,
            "slo_freshness_s": 3 * 3600.0}


def _run(n_replications: int, threads: int | None = None):
    arrivals = DiurnalArrivals(3000.0, peak_to_trough=3.0, peak_hour=20.0)
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return simulate_batch(arrivals, SERVICE, 4, 2, 256, 6 * 3600.0, 5 * 86_400.0, 86_400.0,
                              n_replications, 123, **SPOT)
    finally:
        numba.set_num_threads(previous)


def _assert_same(a, b, rows=slice(None)):
    for name in ("freshness_hist", "jobs", "stats", "acc"):
        np.testing.assert_array_equal(getattr(a, name)[rows], getattr(b, name)[rows])


def test_results_do_not_depend_on_the_thread_count():
    """Replication k is seeded from (seed, k): one thread or all of them give the same bits."""
    _assert_same(_run(8, threads=1), _run(8, threads=numba.config.NUMBA_NUM_THREADS))


def test_replications_are_a_prefix_of_a_longer_run():
    """The first 3 replications of an 8-replication run are the 3 replications of a short one."""
    _assert_same(_run(8), _run(3), rows=slice(0, 3))
    a = _run(2)
    assert not np.array_equal(a.jobs[0], a.jobs[1])  # replications differ from each other


@settings(max_examples=25, deadline=None)
@given(
    rate=st.floats(0.5, 5000.0),
    nodes=st.integers(1, 6),
    period_h=st.sampled_from([0.5, 1.0, 6.0, 24.0]),
    prov_s=st.floats(0.0, 900.0),
    warmup_h=st.sampled_from([0.0, 3.0, 25.0]),
    spot=st.booleans(),
    ckpt=st.sampled_from([None, 60.0, 1800.0]),
    seed=st.integers(0, 2**31),
)
def test_conservation_and_nonnegative_accounts(rate, nodes, period_h, prov_s, warmup_h, spot,
                                               ckpt, seed):
    """Arrived = processed + pending; histogram totals = processed window records; accounts >= 0;
    window node-seconds <= horizon ones; busy <= paid worker-seconds."""
    sim = simulate_batch(PoissonArrivals(rate), SERVICE, nodes, 1, 256, period_h * 3600.0,
                         2 * 86_400.0, warmup_h * 3600.0, 3, seed, provisioning=prov_s,
                         checkpoint_s=ckpt, checkpoint_cost_s=10.0,
                         purchase="spot" if spot else "on_demand",
                         interruptions_per_node_hour=2.0 if spot else 0.0,
                         replacement_delay_s=120.0)
    for basis in ("horizon", "window"):
        np.testing.assert_array_equal(sim.records_arrived(basis), sim.records_processed(basis)
                                      + sim.records_pending(basis))
        assert (sim.node_seconds(basis) >= 0).all()
        assert (sim.busy_worker_s(basis) <= sim.node_seconds(basis).sum(axis=1) + 1e-6).all()
    np.testing.assert_array_equal(sim.freshness_hist.sum(axis=1), sim.records_processed("window"))
    assert (sim.node_seconds("window") <= sim.node_seconds("horizon") + 1e-6).all()
    assert (sim.node_seconds("horizon").sum(axis=1) <= nodes * sim.horizon_s + 1e-6).all()
    fresh = sim.mean_freshness_s()
    ok = np.isfinite(fresh)
    assert (fresh[ok] > prov_s).all()


def test_more_nodes_never_make_on_demand_jobs_longer():
    """Same seed, same records: a bigger on-demand gang finishes every job no later."""
    kw = {"provisioning": 120.0, "startup_s": 60.0, "checkpoint_s": 600.0,
          "checkpoint_cost_s": 30.0}
    small = simulate_batch(PoissonArrivals(4000.0), SERVICE, 2, 1, 256, 86_400.0, 3 * 86_400.0,
                           0.0, 4, 5, **kw)
    big = simulate_batch(PoissonArrivals(4000.0), SERVICE, 3, 1, 256, 86_400.0, 3 * 86_400.0,
                         0.0, 4, 5, **kw)
    np.testing.assert_array_equal(small.job_column("records"), big.job_column("records"))
    assert (big.job_durations_s() < small.job_durations_s()).all()
    assert (big.mean_freshness_s() < small.mean_freshness_s()).all()


BASE = {"arrivals": PoissonArrivals(10.0), "service": SERVICE, "nodes": 2, "workers_per_node": 1,
        "max_batch": 256, "period_s": 3600.0, "horizon_s": 86_400.0, "warmup_s": 0.0,
        "n_replications": 2, "seed": 1}


@pytest.mark.parametrize(("override", "name", "bad"), [
    ({"nodes": 0}, "nodes", "0"),
    ({"workers_per_node": 1.5}, "workers_per_node", "1.5"),
    ({"max_batch": 512}, "max_batch", "512"),
    ({"period_s": -5.0}, "period_s", "-5.0"),
    ({"period_s": 3600.0, "at_s": [3600.0]}, "period_s", "3600.0"),
    ({"period_s": None, "at_s": [90_000.0]}, "at_s[0]", "90000.0"),
    ({"warmup_s": 86_400.0}, "warmup_s", "86400.0"),
    ({"horizon_s": float("inf")}, "horizon_s", "inf"),
    ({"n_replications": 0}, "n_replications", "0"),
    ({"seed": -1}, "seed", "-1"),
    ({"provisioning": -3.0}, "provisioning", "-3.0"),
    ({"checkpoint_s": 0.0}, "checkpoint_s", "0.0"),
    ({"checkpoint_cost_s": -1.0}, "checkpoint_cost_s", "-1.0"),
    ({"purchase": "reserved"}, "purchase", "'reserved'"),
    ({"interruptions_per_node_hour": 1.0}, "interruptions_per_node_hour", "1.0"),
    ({"purchase": "spot", "fallback_after": 0}, "fallback_after", "0"),
    ({"deadline_s": 0.0}, "deadline_s", "0.0"),
    ({"slo_freshness_s": float("nan")}, "slo_freshness_s", "nan"),
    ({"horizon_s": 100.0, "period_s": 3600.0}, "horizon_s", "100.0"),
])
def test_bad_input_names_the_parameter_the_value_and_a_fix(override, name, bad):
    """A ValueError (and SimulationError) whose message has the name, the value and a fix."""
    with pytest.raises(ValueError) as info:
        simulate_batch(**{**BASE, **override})
    assert isinstance(info.value, SimulationError)
    message = str(info.value)
    assert f"{name} must be" in message, message
    assert f"(got {bad})" in message, message
    fix = message.split("); ", 1)
    assert len(fix) == 2 and len(fix[1]) > 5, message
