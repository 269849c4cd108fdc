"""Properties of the streaming simulator: thread-count independence, input checks, timeline and
arrival-process consistency."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from domain.errors import SimulationError
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals, TraceArrivals
from simulators.core.fleet import AutoscalingPolicy, SpotModel
from simulators.core.service import constant_service, exponential_service, table_service
from simulators.streaming.api import simulate_streaming, streaming_autoscaling


def _run(**overrides):
    kwargs = {"arrivals": PoissonArrivals(30.0), "service": exponential_service(40.0, 8),
              "n_nodes": 2, "workers_per_node": 2, "window_s": 2.0, "max_batch": 8,
              "horizon_s": 600.0, "warmup_s": 30.0, "n_replications": 6, "seed": 21,
              "overhead_s": 0.02, "slo_latency_s": 2.5}
    kwargs.update(overrides)
    return simulate_streaming(**kwargs)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
def test_results_do_not_depend_on_thread_count():
    """Each replication owns its streams, so 1 and 2 threads give bit-identical outputs."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run()
        numba.set_num_threads(2)
        two = _run()
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.latency_hist, two.latency_hist)
    np.testing.assert_array_equal(one.stats, two.stats)
    np.testing.assert_array_equal(one.timeline, two.timeline)
    # and replications differ from one another (each has its own stream)
    assert len(set(one.mean_latency_s())) == one.n_replications


def test_replication_k_is_the_same_whatever_the_chunking():
    """Replication k depends only on (seed, k): running 6 or the first 3 gives the same rows."""
    six = _run()
    three = _run(n_replications=3)
    np.testing.assert_array_equal(six.stats[:3], three.stats)
    chunked = _run(progress=lambda done, total: None)
    np.testing.assert_array_equal(six.stats, chunked.stats)


def test_timeline_agrees_with_totals():
    """Per-minute series add up to the per-replication totals they summarise."""
    sim = _run()
    tl = sim.timeline_per_replication()
    counts = sim.counts()
    np.testing.assert_array_equal(tl["arrivals"].sum(axis=1), counts["arrived"])
    np.testing.assert_array_equal(tl["processed"].sum(axis=1), counts["processed_by_horizon"])
    np.testing.assert_allclose(tl["nodes"], sim.n_nodes)
    np.testing.assert_allclose((tl["busy_workers"] * tl["width_s"]).sum(axis=1),
                               sim.busy_worker_s("horizon"), rtol=1e-9)
    assert ((tl["busy_workers"] >= 0) & (tl["busy_workers"] <= sim.n_workers + 1e-9)).all()
    np.testing.assert_allclose(sim.node_seconds("horizon"), sim.n_nodes * sim.horizon_s)
    np.testing.assert_allclose(sim.node_seconds("window"), sim.n_nodes * sim.measured_s)
    slo = sim.slo_attainment()
    assert slo is not None and ((slo > 0) & (slo <= 1)).all()
    # SLO attainment is the latency CDF at the SLO: compare with the histogram's share
    lat = sim.latency_percentiles_s([0.5])[:, 0]
    assert (lat < 2.5).all() == (slo > 0.5).all()


def test_diurnal_and_trace_arrivals():
    """Diurnal arrivals keep their daily mean; a regular trace gives exactly-known windows."""
    day = _run(arrivals=DiurnalArrivals(20.0, peak_to_trough=3.0), horizon_s=86_400.0,
               warmup_s=0.0, n_replications=2, window_s=60.0, service=constant_service(5.0, 8),
               timeline_bin_s=3600.0)
    rate = day.counts()["arrived"] / 86_400.0
    np.testing.assert_allclose(rate, 20.0, rtol=0.01)
    hourly = day.timeline_mean()["arrivals"] / 3600.0
    assert hourly.max() / hourly.min() == pytest.approx(3.0, rel=0.15)
    # a record every 0.1 s, windows of 1 s: 10 records per window, processed in one 0.3 s batch
    times = np.arange(0.0, 100.0, 0.1) + 0.05
    sim = simulate_streaming(TraceArrivals(times), constant_service(300.0, 10), 1, 1, 1.0, 10,
                             100.0, 0.0, 1, 0)
    assert sim.counters().n_batches[0] == 100
    assert sim.mean_latency_s()[0] == pytest.approx(0.5 + 0.3, abs=1e-9)
    # the last window closes at the horizon and is processed after it (the drain)
    assert sim.utilization()[0] == pytest.approx(99 * 0.3 / 100.0, rel=1e-9)
    assert sim.counts()["in_system_at_horizon"][0] == 10


_GOOD = {"arrivals": PoissonArrivals(10.0), "service": constant_service(10.0, 8), "n_nodes": 1,
         "workers_per_node": 1, "window_s": 1.0, "max_batch": 8, "horizon_s": 60.0,
         "warmup_s": 0.0, "n_replications": 1, "seed": 0}


@pytest.mark.parametrize("name, value", [
    ("window_s", -1.0), ("window_s", 0.0), ("window_s", math.inf), ("window_s", math.nan),
    ("max_batch", 0), ("max_batch", 2.5), ("max_batch", 9),
    ("n_nodes", 0), ("workers_per_node", 0), ("n_replications", 0), ("seed", -1),
    ("horizon_s", 0.0), ("warmup_s", 60.0), ("warmup_s", -1.0), ("overhead_s", -0.1),
    ("slo_latency_s", 0.0), ("autoscaling", {"target_utilization": 0.6}),
    ("provisioning_delay_s", -1.0), ("provisioning_delay_s", math.inf), ("on_demand_base", 2),
    ("on_demand_base", -1), ("spot", {"interruptions_per_hour": 0.1}), ("start_hour", 24.0),
])
def test_bad_input_names_the_parameter_value_and_fix(name, value):
    """A bad parameter raises ValueError naming the parameter, the bad value and a fix."""
    kwargs = dict(_GOOD, **{name: value})
    with pytest.raises(ValueError, match=name) as info:
        simulate_streaming(**kwargs)
    assert isinstance(info.value, SimulationError)
    assert isinstance(info.value, SimulationError)
    message = str(info.value)
    assert repr(value) in message or str(value) in message
    assert ";" in message  # the fix follows the semicolon


@pytest.mark.parametrize("field, spec, shown", [
    ("target", streaming_autoscaling(0.0, 1, 2), "0.0"),
    ("target", streaming_autoscaling(1.5, 1, 2), "1.5"),
    ("min_nodes", streaming_autoscaling(0.5, 3, 2), "3"),
    ("min_nodes", streaming_autoscaling(0.5, 0, 2), "0"),
    ("n_nodes", streaming_autoscaling(0.5, 2, 4), "[2, 4]"),
    ("interval_s", streaming_autoscaling(0.5, 1, 4, 0.0), "0.0"),
    ("metric", AutoscalingPolicy("queue_per_worker", 2.0, 1, 4), "queue_per_worker"),
    ("window_s", AutoscalingPolicy("utilization", 0.5, 1, 4, 60.0, 90.0), "90.0"),
    ("schedule", AutoscalingPolicy("utilization", 0.5, 1, 4, schedule=((8.0, 18.0, 9),)),
     "(8.0, 18.0, 9)"),
    ("scale_in_cooldown_s", AutoscalingPolicy("utilization", 0.5, 1, 4,
                                              scale_in_cooldown_s=-1.0), "-1.0"),
])
def test_bad_autoscaling_names_the_field(field, spec, shown):
    """A bad autoscaling field raises ValueError naming the field, its value and a fix."""
    with pytest.raises(ValueError, match=field) as info:
        simulate_streaming(**dict(_GOOD, autoscaling=spec))
    assert shown in str(info.value) and ";" in str(info.value)


@pytest.mark.parametrize("field, spot, shown", [
    ("interruptions_per_hour", SpotModel(interruptions_per_hour=-0.5), "-0.5"),
    ("notice_s", SpotModel(0.1, notice_s=math.nan), "nan"),
    ("replacement_delay_s", SpotModel(0.1, replacement_delay_s=-2.0), "-2.0"),
    ("fallback_to_on_demand_after_s", SpotModel(0.1, fallback_to_on_demand_after_s=60.0),
     "60.0"),
    ("trace", SpotModel(trace_times_s=np.array([0.0, 60.0]),
                        trace_capacity=np.array([1, 0])), "2 ticks"),
])
def test_bad_spot_names_the_field(field, spot, shown):
    """A bad spot model raises ValueError naming the field, its value and a fix."""
    with pytest.raises(ValueError, match=field) as info:
        simulate_streaming(**dict(_GOOD, spot=spot))
    assert shown in str(info.value) and ";" in str(info.value)


def test_jittered_table_service_runs_and_keeps_the_mean():
    """Lognormal jitter around a table keeps the mean batch duration (one batch per window)."""
    sizes = np.array([1, 4])
    mean = np.array([100.0, 100.0])
    service = table_service(sizes, mean, 4, p50_ms=0.9 * mean, p99_ms=2.0 * mean,
                            jitter="lognormal")
    sim = _run(service=service, max_batch=4, n_nodes=1, workers_per_node=1, overhead_s=0.0,
               arrivals=PoissonArrivals(0.5), window_s=1.0, horizon_s=7200.0, n_replications=4)
    # one record per window mostly; the mean over non-empty windows of a mix of single batches
    # (and rarely two batches back to back) stays close to 0.1 s x E[batches | n > 0]
    mu = 0.5
    p_more = 1 - math.exp(-mu) * (1 + mu + mu**2 / 2 + mu**3 / 6 + mu**4 / 24)
    expected = 0.1 * (1 + p_more / (1 - math.exp(-mu)))
    assert np.mean(sim.mean_processing_s()) == pytest.approx(expected, rel=0.03)
