"""The Numba kernel against the SimPy reference on dynamic fleets (``docs/fleet-dynamics.md``).

Three kinds of checks:

* identical results on deterministic inputs: the same arrival times (a trace), a service time
  that depends only on the batch size, constant provisioning delays and deterministic fleet
  dynamics (spot capacity traces, both autoscaling policies, scheduled minimums, deadlines,
  fallback to on-demand, ``max_nodes`` limits, no Poisson interruptions).  Every latency and
  wait lands in the same histogram bucket, and the fleet counters, node-seconds and busy
  worker-seconds agree (``rtol`` 1e-9);
* statistical agreement with Poisson interruptions and lognormal provisioning: preemptions per
  spot node-hour, mean nodes and p50/p99 latency within two-sample 99.5 % intervals;
* regression cases for the kernel bugs this comparison found (``test_bug_*``, all fixed; the
  docstrings say what the kernel used to do).  A bug found later goes into ``KERNEL_BUGS``: its
  minimal case is then marked ``xfail(strict=True)`` and the random sweeps stay clear of it
  (``_known_bug_triggered`` skips examples that may trigger it; ``DYNAMIC_MAX_BATCH`` drops to
  1 for the two batching bugs); deleting the entry once the kernel is fixed turns the case into
  a plain test and widens the sweeps again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from scipy import stats

from simulators.core import fleet_kernel as fk
from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import (
    CLASS_FALLBACK,
    CLASS_SPOT,
    N_CLASSES,
    STATE_DRAINING,
    STATE_READY,
    AutoscalingPolicy,
    DelayComponent,
    FleetSpec,
    SpotModel,
)
from simulators.core.histogram import RELATIVE_ERROR_BOUND, histogram_of
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.core.service import linear_service
from simulators.realtime import _layout as rk
from simulators.realtime.api import RealtimeSimResult, simulate_realtime
from simulators.realtime.reference_fleet import FleetReferenceResult, simulate_fleet_reference

# Open kernel behaviours that contradict docs/fleet-dynamics.md, name -> description.  Each has a
# minimal failing case below, marked xfail(strict=True) while its entry is here: remove the
# entry when the kernel is fixed.  The names the code below knows are those of the test_bug_*
# cases (all fixed so far), e.g. "dispatch_before_the_death".
KERNEL_BUGS: dict[str, str] = {}


def known(bug: str) -> bool:
    """Return whether ``bug`` is a listed, still unfixed kernel bug."""
    return bug in KERNEL_BUGS


def xfail_while_listed(bug: str, raises: tuple[type[BaseException], ...] = (AssertionError,)):
    """Mark a minimal case of ``bug``: strict xfail while listed, a plain test once removed."""
    return pytest.mark.xfail(known(bug), reason=KERNEL_BUGS.get(bug, ""), strict=True,
                             raises=raises)


# --- running both models ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A deterministic scenario: arrival times, fleet, batching and a batch-size-only service."""

    times: np.ndarray
    fleet: FleetSpec
    horizon_s: float
    warmup_s: float = 0.0
    max_batch: int = 1
    max_wait_s: float = 0.0
    base_ms: float = 1000.0
    per_item_ms: float = 0.0


def run_both(case: Case) -> tuple[RealtimeSimResult, FleetReferenceResult]:
    """Run the kernel (one replication) and the reference on the same case."""
    service = linear_service(case.base_ms, case.per_item_ms, case.max_batch)
    times = np.asarray(case.times, dtype=np.float64)
    kernel = simulate_realtime(
        arrivals=TraceArrivals(times), service=service, max_batch=case.max_batch,
        max_wait_s=case.max_wait_s, horizon_s=case.horizon_s, warmup_s=case.warmup_s,
        n_replications=1, seed=11, fleet=case.fleet)
    ref = simulate_fleet_reference(
        times, lambda k: float(service.mean_s[k]), case.fleet, max_batch=case.max_batch,
        max_wait_s=case.max_wait_s, warmup_s=case.warmup_s, horizon_s=case.horizon_s,
        rng=np.random.default_rng(0))
    return kernel, ref


def assert_identical(kernel: RealtimeSimResult, ref: FleetReferenceResult) -> None:
    """Assert bucket-for-bucket histograms and equal counters, node- and busy worker-seconds."""
    latency = ref.latency_s[~np.isnan(ref.latency_s)]
    wait = ref.wait_s[~np.isnan(ref.wait_s)]
    np.testing.assert_array_equal(kernel.latency_hist[0], histogram_of(latency),
                                  err_msg="latency histogram")
    np.testing.assert_array_equal(kernel.wait_hist[0], histogram_of(wait),
                                  err_msg="wait histogram")
    s = kernel.counters()
    n_no_slot = sum(kind == "launch_dropped" for _, kind, _ in ref.events)
    counters = {
        "served in the window": (s.n_window[0], latency.size),
        "arrivals": (s.n_arrivals_total[0], ref.n_arrivals_total),
        "completed batches": (s.n_batches_total[0], ref.batch_size.size),
        "requeued": (s.n_requeued[0], ref.n_requeued),
        "dropped": (s.n_dropped[0], ref.n_dropped),
        "stranded": (s.n_stranded[0], ref.n_stranded),
        "in system at the horizon": (s.n_in_system_at_horizon[0],
                                     ref.n_in_system_at_horizon),
        "preemptions": (s.n_preemptions[0], ref.n_preemptions),
        "preemption events": (s.n_preemption_events[0], ref.n_preemption_events),
        "launches base": (s.n_launch_base[0], ref.n_launches[0]),
        "launches spot": (s.n_launch_spot[0], ref.n_launches[1]),
        "launches fallback": (s.n_launch_fallback[0], ref.n_launches[2]),
        "launches without a slot": (s.n_launch_no_slot[0], n_no_slot),
        "scale out": (s.n_scale_out[0], ref.n_scale_out),
        "scale in": (s.n_scale_in[0], ref.n_scale_in),
        "max nodes": (s.max_nodes[0], ref.max_nodes_seen),
    }
    wrong = {name: (float(k), int(r)) for name, (k, r) in counters.items() if k != r}
    assert not wrong, f"counters differ (kernel, reference): {wrong}"
    for basis, ref_node_s in (("horizon", ref.node_s), ("window", ref.node_s_window)):
        np.testing.assert_allclose(kernel.node_seconds(basis)[0], ref_node_s, rtol=1e-9,
                                   atol=1e-9, err_msg=f"node-seconds ({basis})")
    for basis, ref_busy in (("horizon", ref.busy_worker_s), ("window", ref.busy_worker_s_window)):
        np.testing.assert_allclose(kernel.busy_worker_s_by_class(basis)[0], ref_busy,
                                   rtol=1e-9, atol=1e-9,
                                   err_msg=f"busy worker-seconds by class ({basis})")
    np.testing.assert_allclose(s.sum_latency_s[0], latency.sum(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s.sum_wait_s[0], wait.sum(), rtol=1e-9, atol=1e-9)


def _known_bug_triggered(ref: FleetReferenceResult, case: Case) -> str | None:
    """Return the listed kernel bug this run may trigger (read off the reference), or None.

    Over-approximations, cheap and sufficient: a dispatch or a deadline drop at the time of a
    requeue (an idle READY worker took up the lost batch at once); a request dropped before
    its own max-wait ran out (it may not have been in the kernel's ring); under a trace, a
    launch dropped for want of a slot; a lost batch planned to end after the system drained.
    The two batching bugs need ``max_batch > 1`` on a changing fleet, which the sweeps avoid
    while they are listed.
    """
    requeue_s = {t for t, kind, _ in ref.events if kind == "requeue"}
    decided_s = (set(ref.batch_start_s.tolist()) | set(ref.lost_batch_start_s.tolist())
                 | set(ref.drop_times_s.tolist()))
    if known("dispatch_before_the_death") and requeue_s & decided_s:
        return "dispatch_before_the_death"
    if (known("deadline_drop_misses_requests_not_in_the_ring") and case.max_batch > 1
            and np.any(ref.dropped_s - ref.arrival_s < case.max_wait_s)):
        return "deadline_drop_misses_requests_not_in_the_ring"
    if (known("tick_tries_more_launches_than_room") and case.fleet.spot is not None
            and case.fleet.spot.replays_trace
            and any(kind == "launch_dropped" for _, kind, _ in ref.events)):
        return "tick_tries_more_launches_than_room"
    if known("fleet_events_after_the_drain") and ref.lost_batch_end_s.size:
        service = linear_service(case.base_ms, case.per_item_ms, case.max_batch)
        ends = ref.batch_start_s + service.mean_s[ref.batch_size]
        drained_s = max(ends.max(initial=0.0), case.horizon_s)
        if ref.lost_batch_end_s.max() > drained_s:
            return "fleet_events_after_the_drain"
    return None


def _skip_known_bugs(ref: FleetReferenceResult, case: Case) -> None:
    """Reject (hypothesis ``assume``) an example that may trigger a listed kernel bug."""
    bug = _known_bug_triggered(ref, case)
    if bug is not None:
        event(f"skipped: may trigger the kernel bug {bug}")
    assume(bug is None)


# max_batch on fleets whose nodes change after t = 0 (see the module docstring)
DYNAMIC_MAX_BATCH = (1 if known("batch_takes_future_arrivals")
                     or known("infinite_arrival_times_queued") else 4)


def trace_spot(times_s, capacity, **kwargs) -> SpotModel:
    return SpotModel(trace_times_s=np.asarray(times_s, dtype=np.float64),
                     trace_capacity=np.asarray(capacity, dtype=np.int64), **kwargs)


# --- identical results: random scenarios -------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(1, 3), width=st.integers(1, 3),
       max_batch=st.integers(1, 6), wait_s=st.sampled_from([0.0, 0.5, 2.0]),
       deadline_s=st.sampled_from([0.0, 0.5, 2.0, 5.0]), rate=st.sampled_from([1.0, 3.0, 8.0]),
       base_ms=st.sampled_from([200.0, 1000.0]), per_item_ms=st.sampled_from([0.0, 250.0]))
def test_identical_with_deadlines_and_batching(seed, n_nodes, width, max_batch, wait_s,
                                               deadline_s, rate, base_ms, per_item_ms):
    """A fleet of base nodes with deadlines: drops and the re-formed batches agree exactly.

    Arrivals on a 0.25 s grid make ties; overloads make the queue wait past the deadline.
    """
    rng = np.random.default_rng(seed)
    horizon_s = 120.5
    times = np.round(np.sort(rng.uniform(0.0, 120.0, rng.poisson(rate * 120.0))) * 4) / 4
    fleet = replace(FleetSpec.fixed(n_nodes, width), deadline_s=deadline_s)
    case = Case(times, fleet, horizon_s, warmup_s=10.0, max_batch=max_batch, max_wait_s=wait_s,
                base_ms=base_ms, per_item_ms=per_item_ms)
    kernel, ref = run_both(case)
    _skip_known_bugs(ref, case)
    assert_identical(kernel, ref)


@st.composite
def dynamic_cases(draw) -> Case:
    """A random deterministic dynamic fleet: spot trace, autoscaling, deadlines, fallback."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    horizon_s = 300.5  # no trace tick or evaluation falls on it
    width = draw(st.integers(1, 2))
    max_nodes = draw(st.integers(1, 5))
    initial = draw(st.integers(1, max_nodes))
    base = draw(st.integers(0, initial))
    spot = None
    extra_is_spot = draw(st.sampled_from([True, False]))  # the first value comes most often
    if extra_is_spot:
        gap_s = draw(st.sampled_from([20.0, 30.0, 45.0]))
        ticks_s = np.arange(0.0, 300.0, gap_s)  # from t = 0
        spot = trace_spot(ticks_s, rng.integers(0, max_nodes + 1, ticks_s.size),
                          notice_s=draw(st.sampled_from([2.0, 1.0, 5.0, 10.0])),
                          replacement_delay_s=draw(st.sampled_from([0.0, 5.0])),
                          fallback_to_on_demand_after_s=draw(st.sampled_from([None, 15.0, 60.0])))
    policy = None
    if draw(st.sampled_from([True, False])):
        interval_s = draw(st.sampled_from([15.0, 30.0]))
        high = draw(st.integers(max(base, 1), max_nodes))
        schedule = ()
        if draw(st.booleans()):  # wraps midnight; its edges fall between evaluations
            schedule = ((23.96875, 0.03125, draw(st.integers(0, high))),)
        policy = AutoscalingPolicy(
            draw(st.sampled_from(["utilization", "queue_per_worker"])),
            draw(st.sampled_from([0.5, 0.8, 1.0, 2.0])), min_nodes=draw(st.integers(0, high)),
            max_nodes=high, interval_s=interval_s,
            window_s=interval_s * draw(st.integers(1, 2)),
            scale_in_cooldown_s=draw(st.sampled_from([0.0, 30.0, 60.0])), schedule=schedule)
    provisioning_s = draw(st.sampled_from([0.0, 5.0, 20.0]))
    fleet = FleetSpec(
        workers_per_node=width, initial_nodes=initial, max_nodes=max_nodes,
        on_demand_base=base, extra_is_spot=extra_is_spot, autoscaling=policy, spot=spot,
        provisioning=(DelayComponent("boot", provisioning_s),) if provisioning_s else (),
        start_hour=draw(st.sampled_from([0.0, 23.9375])),
        deadline_s=draw(st.sampled_from([None, 5.0, 20.0])))
    rate = draw(st.sampled_from([0.5, 1.0, 0.2]))
    times = np.round(np.sort(rng.uniform(0.0, 299.0, rng.poisson(rate * 299.0))) * 4) / 4
    return Case(times, fleet, horizon_s, warmup_s=50.0,
                max_batch=draw(st.integers(1, DYNAMIC_MAX_BATCH)),
                max_wait_s=draw(st.sampled_from([0.0, 1.0, 3.0])),
                base_ms=draw(st.sampled_from([4000.0, 1000.0, 8000.0])),
                per_item_ms=draw(st.sampled_from([0.0, 500.0])))


@settings(max_examples=600, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=dynamic_cases())
def test_identical_on_dynamic_fleets(case: Case):
    """Spot traces, autoscaling, schedules, deadlines, fallback, slot limits: identical results.

    Examples that may trigger a listed kernel bug are skipped (a few per cent of them).
    """
    kernel, ref = run_both(case)
    _skip_known_bugs(ref, case)
    assert_identical(kernel, ref)


# --- identical results: hand-picked scenarios --------------------------------------------------


def _grid_arrivals(start_s: float, stop_s: float, gap_s: float) -> np.ndarray:
    return np.arange(start_s, stop_s, gap_s)


def case_requeue_under_load() -> Case:
    """Two spot nodes under a queue: capacity drops lose batches (notice 2 s < service 4 s)."""
    fleet = FleetSpec(workers_per_node=1, initial_nodes=3, max_nodes=4, on_demand_base=1,
                      extra_is_spot=True,
                      spot=trace_spot([0, 20, 40, 60, 80], [2, 1, 2, 0, 2], notice_s=2.0,
                                      replacement_delay_s=1.0))
    return Case(_grid_arrivals(0.0, 100.0, 1.25), fleet, 100.5, warmup_s=5.0, base_ms=4000.0)


def case_drain_after_a_burst() -> Case:
    """On-demand autoscaling: a burst scales out (provisioning 10 s), the lull drains nodes."""
    policy = AutoscalingPolicy("utilization", 0.6, min_nodes=1, max_nodes=4, interval_s=10.0,
                               window_s=20.0, scale_in_cooldown_s=20.0)
    fleet = FleetSpec(workers_per_node=2, initial_nodes=1, max_nodes=4, on_demand_base=1,
                      autoscaling=policy, provisioning=(DelayComponent("boot", 10.0),))
    times = np.concatenate([_grid_arrivals(0.0, 60.0, 0.5), _grid_arrivals(60.0, 200.0, 7.0)])
    return Case(times, fleet, 200.5, warmup_s=10.0, base_ms=6000.0)


def case_fallback_and_drops() -> Case:
    """Spot capacity gone for 80 s: replacements fall back to on-demand; deadlines drop."""
    fleet = FleetSpec(workers_per_node=1, initial_nodes=3, max_nodes=5, on_demand_base=1,
                      extra_is_spot=True,
                      spot=trace_spot([0, 30, 110], [2, 0, 2], notice_s=5.0,
                                      fallback_to_on_demand_after_s=25.0),
                      provisioning=(DelayComponent("boot", 5.0),), deadline_s=12.0)
    return Case(_grid_arrivals(0.0, 150.0, 0.75), fleet, 150.5, warmup_s=5.0, base_ms=2000.0)


def case_spot_autoscaler_with_schedule() -> Case:
    """Queue policy on spot with a scheduled minimum across midnight; launches wait and cancel."""
    policy = AutoscalingPolicy("queue_per_worker", 1.5, min_nodes=1, max_nodes=4,
                               interval_s=15.0, window_s=30.0, scale_in_cooldown_s=0.0,
                               schedule=((23.96875, 0.03125, 3),))
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=4, on_demand_base=1,
                      extra_is_spot=True, autoscaling=policy, start_hour=23.9375,
                      spot=trace_spot(np.arange(0.0, 300.0, 20.0),
                                      [1, 1, 0, 2, 3, 1, 0, 0, 3, 2, 1, 3, 0, 2, 1],
                                      notice_s=5.0, replacement_delay_s=5.0),
                      provisioning=(DelayComponent("boot", 5.0),))
    times = np.concatenate([_grid_arrivals(0.0, 100.0, 2.0), _grid_arrivals(100.0, 200.0, 0.5),
                            _grid_arrivals(200.0, 300.0, 3.0)])
    return Case(times, fleet, 300.5, warmup_s=20.0, base_ms=1500.0)


def case_launch_without_a_slot() -> Case:
    """One base and one spot slot: the replacement gets capacity while the dying node holds
    the slot, so it is dropped, and the fleet serves on the base node alone."""
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=2, on_demand_base=1,
                      extra_is_spot=True,
                      spot=trace_spot([0, 10, 12], [1, 0, 1], notice_s=5.0))
    return Case(_grid_arrivals(0.0, 40.0, 1.5), fleet, 40.5, base_ms=2000.0)


def case_batching_on_a_static_fleet_with_deadline() -> Case:
    """An overloaded base fleet with batching: drops, then the batch re-forms by max-wait."""
    fleet = replace(FleetSpec.fixed(2, 2), deadline_s=3.0)
    times = np.round(np.sort(np.random.default_rng(4).uniform(0.0, 60.0, 400)) * 4) / 4
    return Case(times, fleet, 60.5, warmup_s=2.0, max_batch=4, max_wait_s=1.0, base_ms=1500.0,
                per_item_ms=500.0)


HAND_PICKED = {
    "requeue": (case_requeue_under_load, lambda r: r.n_requeued > 0 and r.n_preemptions > 0),
    "drain": (case_drain_after_a_burst,
              lambda r: {"drain", "leave", "scale_out"} <= {k for _, k, _ in r.events}),
    "fallback": (case_fallback_and_drops,
                 lambda r: r.n_launches[CLASS_FALLBACK] > 0 and r.n_dropped > 0),
    "spot_autoscaler": (case_spot_autoscaler_with_schedule,
                        lambda r: {"scale_out", "scale_in", "cancel", "notice"}
                        <= {k for _, k, _ in r.events}),
    "no_slot": (case_launch_without_a_slot,
                lambda r: any(k == "launch_dropped" for _, k, _ in r.events)),
    "deadline_batching": (case_batching_on_a_static_fleet_with_deadline,
                          lambda r: r.n_dropped > 0 and r.batch_size.max() > 1),
}


@pytest.mark.parametrize("name", sorted(HAND_PICKED))
def test_identical_on_hand_picked_scenarios(name: str):
    """Scenarios that surely exercise requeue, draining, fallback, drops and slot limits."""
    make, exercised = HAND_PICKED[name]
    case = make()
    kernel, ref = run_both(case)
    assert exercised(ref), f"{name}: the scenario no longer exercises its mechanism"
    assert_identical(kernel, ref)


# --- statistical agreement: Poisson interruptions and lognormal provisioning --------------------


@pytest.mark.slow
def test_poisson_interruptions_and_lognormal_provisioning_agree_statistically():
    """Preemptions per spot node-hour, mean nodes and p50/p99 latency agree across replications.

    An autoscaled fleet (one base node, spot above it, about five nodes) with Poisson
    interruptions (20 per spot node-hour, notice 30 s, replacement after 15 s) and a
    provisioning delay of 20 s plus a lognormal (median 60 s, p95 150 s).  Ten replications per
    model, each model with its own random streams; four metrics, hence two-sample 99.5 %
    intervals (plus the histogram's bucket resolution for the latency quantiles).
    """
    reps, horizon_s, warmup_s, rate = 10, 10800.0, 600.0, 4.0
    policy = AutoscalingPolicy("utilization", 0.3, min_nodes=2, max_nodes=8, interval_s=60.0,
                               window_s=120.0, scale_in_cooldown_s=180.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=4, max_nodes=8, on_demand_base=1,
                      extra_is_spot=True, autoscaling=policy,
                      spot=SpotModel(interruptions_per_hour=8.0, notice_s=30.0,
                                     replacement_delay_s=15.0),
                      provisioning=(DelayComponent("pull", 20.0),
                                    DelayComponent.from_p95("load", 60.0, 150.0)))
    service = linear_service(400.0, 150.0, 4)
    kernel = simulate_realtime(arrivals=PoissonArrivals(rate), service=service, max_batch=4,
                               max_wait_s=0.05, horizon_s=horizon_s, warmup_s=warmup_s,
                               n_replications=reps, seed=2024, fleet=fleet)

    def per_node_hour(n_preemptions, node_s):
        exposed_s = node_s[..., CLASS_SPOT, STATE_READY] + node_s[..., CLASS_SPOT, STATE_DRAINING]
        return n_preemptions / (exposed_s / 3600.0)

    k_node_s = kernel.node_seconds("horizon")
    k = {"preemptions per spot node-hour":
         per_node_hour(kernel.counters().n_preemptions, k_node_s),
         "mean nodes": k_node_s.sum(axis=(1, 2)) / horizon_s}
    k_q = kernel.latency_percentiles_s(np.array([0.5, 0.99]))
    k["p50 latency"], k["p99 latency"] = k_q[:, 0], k_q[:, 1]

    r = {name: np.empty(reps) for name in k}
    for rep in range(reps):
        rng = np.random.default_rng([31, rep])
        ref = simulate_fleet_reference(
            poisson_arrivals(rng, rate, horizon_s), lambda b: float(service.mean_s[b]), fleet,
            max_batch=4, max_wait_s=0.05, warmup_s=warmup_s, horizon_s=horizon_s, rng=rng)
        r["preemptions per spot node-hour"][rep] = per_node_hour(ref.n_preemptions, ref.node_s)
        r["mean nodes"][rep] = ref.node_s.sum() / horizon_s
        latency = ref.latency_s[~np.isnan(ref.latency_s)]
        r["p50 latency"][rep], r["p99 latency"][rep] = np.quantile(latency, [0.5, 0.99],
                                                                  method="inverted_cdf")

    t = stats.t.ppf(0.9975, 2 * reps - 2)
    for name, a in k.items():
        b = r[name]
        slack = RELATIVE_ERROR_BOUND * abs(b.mean()) if "latency" in name else 0.0
        se = math.sqrt(a.var(ddof=1) / reps + b.var(ddof=1) / reps)
        assert abs(a.mean() - b.mean()) <= t * se + slack, (
            f"{name}: kernel {a.mean():.6g} vs reference {b.mean():.6g} (bound {t * se:.3g})")
        # the interval is narrow enough for the comparison to mean something
        assert t * se <= 0.2 * abs(b.mean()), f"{name}: interval too wide to judge"


# --- known kernel bugs: minimal failing cases -------------------------------------------------


@xfail_while_listed("dispatch_before_the_death")
def test_bug_requeued_batch_is_dispatched_at_the_death():
    """Base node (w0) and spot node (w1); trace K = 1, 0 at 0, 10.5 s; notice 0.25 s; 10 s service.

    r0 (0 s) -> w0 until 10; r1 (1 s) -> w1 (idle since 0) until 11.  10.5: notice; 10.75: the
    death loses r1's batch; w0, idle since 10, takes it at once: wait 9.75 s, latency 19.75 s.
    (The kernel used to dispatch it at max(10, 1) = 10, before the death: wait 9 s.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=2, on_demand_base=1,
                      extra_is_spot=True,
                      spot=trace_spot([0.0, 10.5], [1, 0], notice_s=0.25))
    kernel, ref = run_both(Case(np.array([0.0, 1.0]), fleet, 12.0, base_ms=10_000.0))
    np.testing.assert_array_equal(ref.wait_s, [0.0, 9.75])
    np.testing.assert_array_equal(ref.latency_s, [10.0, 19.75])
    assert_identical(kernel, ref)


@xfail_while_listed("batch_takes_future_arrivals")
def test_bug_batch_takes_requests_arriving_after_its_dispatch():
    """One base node, 10 s batches, max_batch 4, max-wait 0; the autoscaler adds a node at 1 s.

    r0 (0 s) holds w0 until 10.  The new node is READY at 3 s (provisioning 2 s): r1 (0.5 s)
    leaves alone at 3 and r2, arriving at 5, waits for w0 at 10.  (The kernel used to fill its
    queue up to w0's free time, r1 and r2, and send {r1, r2} at 3: r2's wait -2 s.)
    """
    policy = AutoscalingPolicy("utilization", 0.5, min_nodes=1, max_nodes=2, interval_s=1.0,
                               window_s=1.0, scale_in_cooldown_s=1000.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, on_demand_base=1,
                      autoscaling=policy, provisioning=(DelayComponent("boot", 2.0),))
    kernel, ref = run_both(Case(np.array([0.0, 0.5, 5.0]), fleet, 5.5, max_batch=4,
                                base_ms=10_000.0))
    np.testing.assert_array_equal(ref.batch_start_s, [0.0, 3.0, 10.0])
    np.testing.assert_array_equal(ref.wait_s, [0.0, 2.5, 5.0])
    assert_identical(kernel, ref)


@xfail_while_listed("infinite_arrival_times_queued")
def test_bug_queue_without_ready_workers_after_the_last_arrival():
    """One spot node; trace K = 1, 0 at 0, 10 s; notice 5 s; max_batch 4; horizon 20 s.

    r1 (12 s, the last arrival) finds no READY node.  At the horizon the waiting replacement
    starts whatever the capacity and serves r1 at 20.  (The kernel used to fill its queue with
    +inf arrival times and report five arrivals, four of them stranded.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=1, extra_is_spot=True,
                      spot=trace_spot([0.0, 10.0], [1, 0], notice_s=5.0))
    kernel, ref = run_both(Case(np.array([1.0, 12.0]), fleet, 20.0, max_batch=4))
    np.testing.assert_array_equal(ref.latency_s, [1.0, 9.0])
    assert ref.n_stranded == 0
    assert_identical(kernel, ref)


@xfail_while_listed("deadline_drop_misses_requests_not_in_the_ring")
def test_bug_deadline_drop_before_a_dispatch_takes_every_stale_request():
    """One node, max_batch 2, max-wait 2 s, deadline 0.2 s; {r0, r1} hold it from 0 to 10.

    At 10 the queue {r2 (9 s), r3 (9.5 s), r4 (9.75 s)} is full, a dispatch is due, and all
    three have waited past the deadline: all are dropped at 10, none is in the system at the
    horizon (11 s).  (The kernel used to drop r2 and r3 only, the two it held, and r4 at its own
    max-wait, 11.75 s.)
    """
    fleet = replace(FleetSpec.fixed(1), deadline_s=0.2)
    kernel, ref = run_both(Case(np.array([0.0, 0.0, 9.0, 9.5, 9.75]), fleet, 11.0,
                                max_batch=2, max_wait_s=2.0, base_ms=10_000.0))
    assert ref.n_dropped == 3 and ref.n_in_system_at_horizon == 0
    np.testing.assert_array_equal(ref.dropped_s[2:], [10.0, 10.0, 10.0])
    assert_identical(kernel, ref)


@xfail_while_listed("tick_tries_more_launches_than_room")
def test_bug_tick_tries_at_most_its_room():
    """Two spot slots; trace K = 2, 0, 1, 1 at 0, 10, 12, 20 s; notice 5 s.

    12: K = 1 leaves room for one launch: it is tried and dropped (dying nodes hold both
    slots); the other waits and starts at 20, in time for r0 (21 s).  (The kernel used to drop
    both at 12, stranding r0.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=2, extra_is_spot=True,
                      spot=trace_spot([0, 10, 12, 20], [2, 0, 1, 1], notice_s=5.0))
    kernel, ref = run_both(Case(np.array([21.0]), fleet, 30.0))
    np.testing.assert_array_equal(ref.n_launches, [0, 1, 0])
    assert_identical(kernel, ref)


@xfail_while_listed("fallback_rounding_loops_forever")
def test_bug_fallback_at_a_rounded_time():
    """A replacement requested for 0.7 s falls back at 0.7 + 0.1 = 0.7999999999999999 s.

    The reference does so (trace K = 1, 0 at 0, 0.5 s; notice 0.05 s; replacement delay 0.2 s;
    fallback 0.1 s).  The kernel used to loop forever on this scenario (``t - pend_t[0] >=
    fallback`` is false there), so its launch helper is called directly at that time, and a
    regression fails instead of hanging: it must launch the waiting request as class 2, not push
    the same LAUNCH event again.
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, extra_is_spot=True,
                      spot=trace_spot([0.0, 0.5], [1, 0], notice_s=0.05,
                                      replacement_delay_s=0.2,
                                      fallback_to_on_demand_after_s=0.1))
    ref = simulate_fleet_reference(np.array([0.01]), lambda b: 0.01, fleet, max_batch=1,
                                   max_wait_s=0.0, warmup_s=0.0, horizon_s=2.0,
                                   rng=np.random.default_rng(0))
    assert (0.7 + 0.1, "fallback", -1) in ref.events
    np.testing.assert_array_equal(ref.n_launches, [0, 0, 1])

    from simulators.core.rng import seed_stream
    from simulators.core.structures import new_event_heap
    from simulators.realtime.api import _fleet_arrays

    par = _fleet_arrays(fleet)
    st = fk.new_fleet_state(fleet.max_nodes)
    st.fi[fk.FI_CAPACITY] = 0
    fk.add_pending(0.7, st)
    books = fk.FleetAcc(np.zeros((2, N_CLASSES, fk.N_STATES + 1)), np.zeros((1, rk.N_TIMELINE)),
                        rk.T_NODE_BASE, 60.0, 2.0, 0.0)
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(0, 0, rng)
    ev = new_event_heap(64)
    t = 0.7 + 0.1
    fk.try_launches(t, False, par, st, books, ev, rng)
    assert st.fi[fk.FI_LAUNCH_BASE + fk.CL_FALLBACK] == 1 and st.fi[fk.FI_PEND_N] == 0
    assert not np.any((ev.t[: ev.meta[0]] == t) & (ev.kind[: ev.meta[0]] == fk.EV_LAUNCH))


@xfail_while_listed("no_trace_tick_at_the_horizon")
def test_bug_trace_tick_at_the_horizon_runs():
    """One spot node; trace K = 1, 0 at 0 and 20 s = the horizon: the tick at 20 runs.

    It gives the node its notice (one preemption, one preemption event), and the replacement,
    requested for 20, starts at once (the capacity no longer binds).  (The kernel used to skip
    the tick.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, extra_is_spot=True,
                      spot=trace_spot([0.0, 20.0], [1, 0], notice_s=5.0))
    kernel, ref = run_both(Case(np.array([1.0]), fleet, 20.0))
    assert (ref.n_preemptions, ref.n_preemption_events) == (1, 1)
    np.testing.assert_array_equal(ref.n_launches, [0, 1, 0])
    assert_identical(kernel, ref)


@xfail_while_listed("autoscaler_spot_launch_at_the_horizon_waits")
def test_bug_spot_scale_out_at_the_horizon_starts():
    """Spot scale-out by the evaluation at T = horizon = 20 s starts whatever the capacity.

    One spot node; trace K = 1, 0 at 0, 10 s; notice 5 s; a scheduled minimum of 2 from clock
    second 20.  20: the waiting replacement starts (LAUNCH at the horizon), then the autoscaler
    wants 2 nodes and launches one more spot node at once.  (The kernel used to leave it
    pending.)
    """
    policy = AutoscalingPolicy("utilization", 1.0, min_nodes=1, max_nodes=2, interval_s=10.0,
                               window_s=10.0, schedule=((20 / 3600, 1.0, 2),))
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, extra_is_spot=True,
                      autoscaling=policy, spot=trace_spot([0.0, 10.0], [1, 0], notice_s=5.0))
    kernel, ref = run_both(Case(np.array([1.0]), fleet, 20.0))
    np.testing.assert_array_equal(ref.n_launches, [0, 2, 0])
    assert ref.n_scale_out == 1
    assert_identical(kernel, ref)


@xfail_while_listed("initial_pending_launch_falls_back_late")
def test_bug_initial_spot_node_above_capacity_falls_back_on_time():
    """One spot node, first trace tick at 30 s with K = 0, fallback after 10 s.

    The initial node is a pending launch requested at 0 (K(t_0) = 0); it falls back to
    on-demand at 10 and serves r0 (1 s) at 10.  (The kernel used to fall back at the first
    tick, 30.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=1, extra_is_spot=True,
                      spot=trace_spot([30.0], [0], fallback_to_on_demand_after_s=10.0))
    kernel, ref = run_both(Case(np.array([1.0]), fleet, 40.0))
    assert (10.0, "fallback", -1) in ref.events
    np.testing.assert_array_equal(ref.wait_s, [9.0])
    assert_identical(kernel, ref)


@xfail_while_listed("waiting_launch_overflows_the_event_heap", raises=(SystemError, RuntimeError))
def test_bug_launch_waiting_through_many_ticks():
    """One spot node; capacity 0 from 10 s on, a tick every 10 s; fallback after 2000 s.

    The replacement waits through a hundred ticks (the horizon comes first).  (The kernel used
    to push a fallback LAUNCH event at every tick and overflow its event heap: 'event heap
    full'.)
    """
    ticks_s = np.arange(0.0, 1000.0, 10.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=1, extra_is_spot=True,
                      spot=trace_spot(ticks_s, [1] + [0] * (ticks_s.size - 1), notice_s=5.0,
                                      fallback_to_on_demand_after_s=2000.0))
    kernel, ref = run_both(Case(np.array([1.0, 995.0]), fleet, 1000.5))
    np.testing.assert_array_equal(ref.n_launches, [0, 1, 0])  # at the horizon
    assert_identical(kernel, ref)


@xfail_while_listed("fleet_events_after_the_drain")
def test_bug_no_launch_after_the_drain():
    """Base node (w0) and spot node (w1); trace K = 1, 0 at 0, 4 s; horizon 5 s; 10 s service.

    r0 (0 s) -> w0 until 10; r1 (1 s) -> w1, planned until 11.  4: notice (4 s) and a
    replacement requested for 10.5; 8: the death loses r1's batch; 10: w0 frees, r1 has waited
    past its 5 s deadline and is dropped: the system is empty and the run ends.  (The kernel
    used to run the launch at 10.5, before the lost batch's planned end, 11, and count it.)
    """
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=2, on_demand_base=1,
                      extra_is_spot=True, deadline_s=5.0,
                      spot=trace_spot([0.0, 4.0], [1, 0], notice_s=4.0, replacement_delay_s=6.5))
    kernel, ref = run_both(Case(np.array([0.0, 1.0]), fleet, 5.0, base_ms=10_000.0))
    assert ref.n_dropped == 1 and ref.n_requeued == 1
    np.testing.assert_array_equal(ref.n_launches, [0, 0, 0])
    assert_identical(kernel, ref)
