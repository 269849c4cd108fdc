"""The batch-job kernel against hand-computed and closed-form truths.

* on-demand, constant provisioning: every job's duration is provisioning + startup + records /
  throughput + checkpoints x cost, computed here from the job's record count;
* Poisson arrivals: mean freshness is period / 2 + the record-weighted job duration, and
  freshness is uniform over one period after the job's end (percentiles, SLO attainment);
* spot with checkpoints: Daly's expected time per segment, (1/lambda + R)(e^{lambda(tau + C)} - 1);
* the billing rule as an identity: paid node-seconds = nodes x job durations - R x interruptions;
* diurnal arrivals: job record counts against numerical integrals of the rate (scipy quad).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

from simulators.batch.api import simulate_batch
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals
from simulators.core.service import constant_service
from tests.simulators.helpers import assert_ci_agrees, ci

SERVICE = constant_service(50.0, 256)  # 256 records per 50 ms per worker = 5120 records/s


def _conserved(sim) -> None:
    for basis in ("horizon", "window"):
        np.testing.assert_array_equal(
            sim.records_arrived(basis), sim.records_processed(basis) + sim.records_pending(basis))


def test_on_demand_job_duration_is_hand_computed():
    """Each job: 120 s provisioning + 60 s startup + N / 10240 s + (ceil(W / 1 s) - 1) x 5 s."""
    sim = simulate_batch(PoissonArrivals(10.0), SERVICE, 2, 1, 256, 3600.0, 10 * 3600.0, 0.0, 4, 3,
                         provisioning=120.0, startup_s=60.0, checkpoint_s=1.0,
                         checkpoint_cost_s=5.0)
    throughput = 2 * 1 * 256 / 0.050
    assert sim.throughput_rps == pytest.approx(throughput)
    n = sim.job_column("records")
    work = n / throughput
    checkpoints = np.ceil(work / 1.0) - 1
    expected = 120.0 + 60.0 + work + 5.0 * checkpoints
    np.testing.assert_allclose(sim.job_durations_s(), expected, rtol=1e-12)
    np.testing.assert_array_equal(sim.job_column("checkpoints"), checkpoints)
    np.testing.assert_array_equal(sim.job_column("start_s"), sim.job_column("scheduled_s"))
    np.testing.assert_array_equal(sim.scheduled_s, 3600.0 * np.arange(1, 10))
    assert (sim.overruns() == 0).all() and (sim.interruptions() == 0).all()
    # every job ends inside the horizon: node-seconds = nodes x sum of durations, all on-demand
    np.testing.assert_allclose(sim.node_seconds()[:, 0], 2 * expected.sum(axis=1), rtol=1e-12)
    assert (sim.node_seconds()[:, 1] == 0).all()
    np.testing.assert_allclose(sim.busy_worker_s("horizon"), 2 * work.sum(axis=1), rtol=1e-12)
    # records after the last cutoff (9 h) are pending, all others processed
    assert (sim.records_pending() > 0).all()
    np.testing.assert_array_equal(sim.records_processed(), n.sum(axis=1))
    _conserved(sim)


def test_mean_freshness_is_half_a_period_plus_the_job_duration():
    """Poisson records: freshness = end - arrival is uniform on [D, D + P] within a job.

    With D = d0 + N / throughput, the record-weighted mean is P/2 + d0 + E[N^2] / (E[N] thr) =
    P/2 + d0 + (Lambda + 1) / thr for N ~ Poisson(Lambda).
    """
    period, rate, d0 = 3600.0, 100.0, 180.0
    thr = 2 * 256 / 0.050
    lam = rate * period
    sim = simulate_batch(PoissonArrivals(rate), SERVICE, 2, 1, 256, period, 24 * 3600.0,
                         3600.0, 24, 11, provisioning=120.0, startup_s=60.0,
                         slo_freshness_s=d0 + lam / thr + period / 4)
    duration = d0 + lam / thr
    truth = period / 2 + d0 + (lam + 1) / thr
    assert_ci_agrees(ci(sim.mean_freshness_s()), truth, rel_tol=1e-4, max_rel_half_width=0.01)
    # percentiles of a uniform on [D, D + P], within the histogram's bucket error
    q = sim.freshness_percentiles_s(np.array([0.1, 0.5, 0.9]))
    for k, p in enumerate((0.1, 0.5, 0.9)):
        np.testing.assert_allclose(q[:, k], duration + p * period, rtol=0.01)
    np.testing.assert_allclose(sim.slo_attainment(), 0.25, atol=0.005)
    # node-seconds on the window basis: the jobs scheduled from the warm-up on (hours 1..23)
    durations = sim.job_durations_s()
    in_window = sim.scheduled_s >= 3600.0
    np.testing.assert_allclose(sim.node_seconds("window")[:, 0],
                               2 * durations[:, in_window].sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        sim.utilization("window"),
        sim.busy_worker_s("window") / sim.node_seconds("window")[:, 0], rtol=1e-12)
    _conserved(sim)


def _daly_segment_s(work_s, ckpt_s, rate_per_s, restart_s):
    """Expected time to finish work + checkpoint with exponential failures and safe restarts."""
    return (1.0 / rate_per_s + restart_s) * np.expm1(rate_per_s * (work_s + ckpt_s))


def test_spot_processing_time_matches_daly():
    """Spot gang of 4 at 0.5 interruptions per node-hour, checkpoint every 600 s costing 60 s.

    Given a job's work W, E[processing] = sum over its segments of Daly's expression (the last
    segment has no checkpoint), and E[interruptions] = sum of (e^{lambda (tau + C)} - 1).
    """
    nodes, per_node_hour, tau, cost, restart = 4, 0.5, 600.0, 60.0, 300.0
    lam = nodes * per_node_hour / 3600.0
    thr = nodes * 256 / 0.050
    sim = simulate_batch(PoissonArrivals(710.0), SERVICE, nodes, 1, 256, 86_400.0, 10 * 86_400.0,
                         0.0, 200, 5, provisioning=100.0, startup_s=50.0, checkpoint_s=tau,
                         checkpoint_cost_s=cost, purchase="spot",
                         interruptions_per_node_hour=per_node_hour, replacement_delay_s=restart)
    work = sim.job_column("records") / thr
    n_seg = np.ceil(work / tau)
    last = work - (n_seg - 1) * tau
    expected = ((n_seg - 1) * _daly_segment_s(tau, cost, lam, restart)
                + _daly_segment_s(last, 0.0, lam, restart))
    processing = sim.job_durations_s() - 150.0
    ratio = processing.sum(axis=1) / expected.sum(axis=1)
    assert_ci_agrees(ci(ratio), 1.0, rel_tol=0.0, max_rel_half_width=0.02)
    expected_int = (n_seg - 1) * np.expm1(lam * (tau + cost)) + np.expm1(lam * last)
    assert_ci_agrees(ci(sim.interruptions() / expected_int.sum(axis=1)), 1.0, rel_tol=0.0,
                     max_rel_half_width=0.05)
    # billing identity: the lost node is unpaid during each replacement wait
    paid = nodes * sim.job_durations_s().sum(axis=1) - restart * sim.interruptions()
    np.testing.assert_allclose(sim.node_seconds()[:, 1], paid, rtol=1e-9)
    assert (sim.node_seconds()[:, 0] == 0).all()
    # lost work is the time between the segment start and each interruption
    lost = sim.job_column("lost_s")
    np.testing.assert_allclose(
        processing, work + cost * (n_seg - 1) + lost + restart * sim.job_column("interruptions"),
        rtol=1e-9)
    _conserved(sim)


def test_fallback_to_on_demand_after_one_interruption():
    """After the first interruption, a job finishes on on-demand nodes and is never hit again."""
    nodes, restart = 8, 200.0
    sim = simulate_batch(PoissonArrivals(2000.0), SERVICE, nodes, 1, 256, 21_600.0, 5 * 86_400.0,
                         0.0, 40, 9, provisioning=60.0, checkpoint_s=900.0, checkpoint_cost_s=30.0,
                         purchase="spot", interruptions_per_node_hour=0.2,
                         replacement_delay_s=restart, fallback_after=1)
    n_int = sim.job_column("interruptions")
    assert n_int.max() == 1 and n_int.sum() > 20
    np.testing.assert_array_equal(sim.job_column("fallback"), n_int)
    assert (sim.node_seconds()[:, 0] > 0).any()
    total = sim.node_seconds().sum(axis=1)
    ends_inside = sim.job_column("end_s")[:, -1] <= sim.horizon_s
    paid = nodes * sim.job_durations_s().sum(axis=1) - restart * sim.interruptions()
    np.testing.assert_allclose(total[ends_inside], paid[ends_inside], rtol=1e-9)
    _conserved(sim)


def test_overrunning_jobs_start_when_the_previous_one_ends():
    """Jobs longer than the period chain: start_i = max(scheduled_i, end_{i-1}); late ones pend."""
    sim = simulate_batch(PoissonArrivals(50.0), SERVICE, 1, 1, 256, 600.0, 6 * 3600.0, 0.0, 3, 2,
                         provisioning=500.0, startup_s=200.0, deadline_s=900.0)
    start, end = sim.job_column("start_s"), sim.job_column("end_s")
    sched = sim.job_column("scheduled_s")
    np.testing.assert_array_equal(start[:, 1:], np.maximum(sched[:, 1:], end[:, :-1]))
    np.testing.assert_array_equal(sim.overruns(), (start > sched).sum(axis=1))
    assert (sim.overruns() == sim.n_jobs - 1).all()
    missed = (end > sched + 900.0).sum(axis=1)
    np.testing.assert_array_equal(sim.jobs_missing_deadline(), missed)
    np.testing.assert_array_equal(sim.job_column("met_deadline"), (end <= sched + 900.0))
    done = end <= sim.horizon_s
    n = sim.job_column("records")
    np.testing.assert_array_equal(sim.records_processed(), (n * done).sum(axis=1))
    assert (sim.records_pending() > (n * ~done).sum(axis=1)).all()  # plus the tail
    _conserved(sim)


@pytest.mark.parametrize("weights", [None, tuple(1.0 + (h % 7) for h in range(24))])
def test_diurnal_record_counts_match_the_integrated_rate(weights):
    """Mean records per job = integral of rate(t) over its cutoff interval (scipy quad)."""
    arrivals = DiurnalArrivals(200.0, peak_to_trough=4.0, peak_hour=15.0, hourly_weights=weights,
                               start_hour=5.5)
    sim = simulate_batch(arrivals, SERVICE, 4, 1, 256, None, 2 * 86_400.0, 0.0, 300, 4,
                         at_s=[2 * 3600.0, 9 * 3600.0, 17.5 * 3600.0], provisioning=30.0)
    clock_s = np.fmod(sim.scheduled_s + 5.5 * 3600.0, 86_400.0)
    assert set(clock_s) == {2 * 3600.0, 9 * 3600.0, 17.5 * 3600.0}
    assert sim.n_jobs == 6
    cuts = np.concatenate([[0.0], sim.scheduled_s])
    breaks = np.arange(0.0, 2 * 86_400.0, 1800.0)
    truth, mean_arrival = [], []
    for a, b in itertools.pairwise(cuts):
        pts = breaks[(breaks > a) & (breaks < b)]
        kw = {"points": pts if pts.size else None, "limit": 400, "epsabs": 1e-6, "epsrel": 1e-10}
        val, _ = integrate.quad(lambda t: float(arrivals.rate_at(np.array([t]))[0]), a, b, **kw)
        first, _ = integrate.quad(
            lambda t, a=a: (t - a) * float(arrivals.rate_at(np.array([t]))[0]), a, b, **kw)
        truth.append(val)
        mean_arrival.append(a + first / val)
    records = sim.job_column("records")
    for k, lam in enumerate(truth):
        est = ci(records[:, k])
        assert est.contains(lam), (k, lam, est)
        assert est.half_width < 4 * math.sqrt(lam / sim.n_replications)
    # mean freshness: end - the job interval's mean arrival time, weighted by the job's records
    done = sim.job_column("end_s") <= sim.horizon_s
    fresh = (sim.job_column("end_s") - np.array(mean_arrival)) * records * done
    np.testing.assert_allclose(sim.mean_freshness_s(),
                               fresh.sum(axis=1) / (records * done).sum(axis=1), rtol=1e-7)
    _conserved(sim)


def test_records_of_jobs_ending_after_the_horizon_are_pending():
    """A job ending past the horizon is simulated (its row is complete); its records pend."""
    sim = simulate_batch(PoissonArrivals(5.0), SERVICE, 1, 1, 256, 3000.0, 3100.0, 0.0, 2, 1,
                         provisioning=200.0)
    assert sim.n_jobs == 1
    assert (sim.job_column("end_s")[:, 0] == 3200.0 + sim.job_column("work_s")[:, 0]).all()
    assert (sim.records_processed() == 0).all()
    assert (sim.freshness_hist.sum(axis=1) == 0).all()
    assert np.isnan(sim.mean_freshness_s()).all()
    np.testing.assert_allclose(sim.node_seconds()[:, 0], 100.0)  # 3000..3100 is inside
    assert sim.counters().n_jobs_done[0] == 0
    _conserved(sim)
