"""The batch-job kernel against the SimPy reference model (the executable specification).

* identical results on deterministic inputs: the same recorded arrival times (a trace),
  constant provisioning and on-demand nodes leave nothing random, so every job row, every
  freshness bucket and every counter must agree;
* statistical agreement on random scenarios (Poisson and diurnal records, lognormal
  provisioning, spot interruptions with checkpoints and fallback, overruns, warm-up): the
  replication means of the two models agree within a two-sample confidence interval.  The
  reference generates records one by one, so this also checks the kernel's integration of the
  arrival rate (counts, freshness histogram, mean, SLO share).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.batch.api import scheduled_starts_s, simulate_batch
from simulators.batch.reference import simulate_batch_reference
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals, TraceArrivals
from simulators.core.fleet import DelayComponent
from simulators.core.reference_arrivals import diurnal_arrivals, poisson_arrivals
from simulators.core.service import constant_service

SERVICE = constant_service(2000.0, 4)  # 4 records per 2 s per worker: 2 records/s per worker


def test_identical_on_a_trace():
    """A trace, constant provisioning and checkpoints, overrunning jobs: exact agreement."""
    rng = np.random.default_rng(7)
    times = np.sort(rng.uniform(0.0, 20_000.0, 80_000))
    times = np.round(times)  # ties, including arrivals exactly at cutoffs
    times = times[times < 20_000.0]  # records arrive in [0, horizon)
    kw = {"provisioning": 45.0, "startup_s": 15.0, "checkpoint_s": 50.0, "checkpoint_cost_s": 7.0,
              "deadline_s": 700.0, "slo_freshness_s": 600.0}
    sim = simulate_batch(TraceArrivals(times), SERVICE, 2, 1, 4, 500.0, 20_000.0, 3000.0, 2, 0,
                         **kw)
    ref = simulate_batch_reference(
        times, scheduled_starts_s(20_000.0, period_s=500.0), horizon_s=20_000.0,
        warmup_s=3000.0, nodes=2, workers_per_node=1, throughput_rps=sim.throughput_rps,
        rng=np.random.default_rng(0), provisioning=(DelayComponent("cold", 45.0),),
        startup_s=15.0, checkpoint_s=50.0, checkpoint_cost_s=7.0, deadline_s=700.0,
        slo_freshness_s=600.0)
    assert sim.throughput_rps == 4.0
    for r in range(2):
        np.testing.assert_allclose(sim.jobs[r], ref.jobs, rtol=1e-12)
        np.testing.assert_array_equal(sim.freshness_hist[r], ref.freshness_hist())
    assert (sim.overruns() > 0).all() and (sim.jobs_missing_deadline() > 0).all()
    assert sim.overruns()[0] == ref.counts["overruns"]
    assert sim.jobs_missing_deadline()[0] == ref.counts["missed_deadline"]
    for name in ("arrived", "processed", "pending"):
        assert getattr(sim, f"records_{name}")("horizon")[0] == ref.counts[name]
        assert getattr(sim, f"records_{name}")("window")[0] == ref.counts[f"window_{name}"]
    assert sim.mean_freshness_s()[0] == pytest.approx(ref.freshness_s.mean(), rel=1e-12)
    assert sim.counters().n_slo_met[0] == ref.counts["slo_met"]
    for b, basis in enumerate(("horizon", "window")):
        assert sim.node_seconds(basis)[0, 0] == pytest.approx(ref.node_s[(basis, "on_demand")])
        assert sim.busy_worker_s(basis)[0] == pytest.approx(ref.busy_worker_s[basis])


def _two_sample_agree(kernel: np.ndarray, reference: np.ndarray, name: str, *, z: float = 4.0,
                      rel_slack: float = 0.0) -> None:
    """Assert the means differ by at most z standard errors of the difference (+ slack)."""
    a = np.asarray(kernel, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = abs(a.mean() - b.mean())
    slack = rel_slack * abs(b.mean())
    assert diff <= z * se + slack, f"{name}: kernel {a.mean():.6g} vs reference {b.mean():.6g} " \
        f"(se {se:.3g})"
    assert se < 0.1 * max(abs(b.mean()), 1e-9) or se == 0, f"{name}: too noisy to judge"


SCENARIO = {"nodes": 3, "workers_per_node": 1, "period_s": 900.0, "horizon_s": 8 * 3600.0,
            "warmup_s": 2000.0, "startup_s": 30.0, "checkpoint_s": 90.0,
            "checkpoint_cost_s": 12.0, "interruptions_per_node_hour": 1.5,
            "replacement_delay_s": 120.0, "fallback_after": 3, "deadline_s": 900.0,
            "slo_freshness_s": 1200.0}
PROVISIONING = (DelayComponent("boot", 60.0, 0.4), DelayComponent("image", 20.0))


@pytest.mark.parametrize("process", ["poisson", "diurnal"])
def test_statistical_agreement_with_spot_interruptions(process):
    """Spot gang with checkpoints, fallback, lognormal provisioning and overruns."""
    s = SCENARIO
    if process == "poisson":
        arrivals = PoissonArrivals(3.0)
    else:
        arrivals = DiurnalArrivals(3.0, peak_to_trough=2.0, peak_hour=4.0)
    sim = simulate_batch(arrivals, SERVICE, s["nodes"], s["workers_per_node"], 4, s["period_s"],
                         s["horizon_s"], s["warmup_s"], 400, 17, provisioning=PROVISIONING,
                         purchase="spot",
                         **{k: v for k, v in s.items() if k not in (
                             "nodes", "workers_per_node", "period_s", "horizon_s", "warmup_s")})
    sched = scheduled_starts_s(s["horizon_s"], period_s=s["period_s"])
    rng = np.random.default_rng(2024 + len(process))
    refs = []
    for _ in range(120):
        if process == "poisson":
            times = poisson_arrivals(rng, 3.0, s["horizon_s"])
        else:
            times = diurnal_arrivals(rng, 3.0, 2.0, 4.0, s["horizon_s"])
        refs.append(simulate_batch_reference(
            times, sched, horizon_s=s["horizon_s"], warmup_s=s["warmup_s"], nodes=s["nodes"],
            workers_per_node=1, throughput_rps=sim.throughput_rps, rng=rng,
            provisioning=PROVISIONING, startup_s=s["startup_s"], checkpoint_s=s["checkpoint_s"],
            checkpoint_cost_s=s["checkpoint_cost_s"], purchase="spot",
            interruptions_per_node_hour=s["interruptions_per_node_hour"],
            replacement_delay_s=s["replacement_delay_s"], fallback_after=s["fallback_after"],
            deadline_s=s["deadline_s"], slo_freshness_s=s["slo_freshness_s"]))
    # the scenario exercises what it should
    assert sim.interruptions().mean() > 3 and sim.overruns().mean() > 0.5
    assert sim.jobs_missing_deadline().mean() > 0.5
    assert sim.counters().n_fallbacks.sum() > 10

    def ref_stat(f):
        return np.array([f(r) for r in refs], dtype=np.float64)

    q = np.array([0.5, 0.9, 0.99])
    pk = sim.freshness_percentiles_s(q)
    for k, p in enumerate(q):
        _two_sample_agree(pk[:, k], ref_stat(lambda r, p=p: np.quantile(r.freshness_s, p,
                                                                       method="inverted_cdf")),
                          f"freshness p{int(100 * p)}", rel_slack=0.008)
    _two_sample_agree(sim.mean_freshness_s(), ref_stat(lambda r: r.freshness_s.mean()),
                      "mean freshness")
    _two_sample_agree(sim.slo_attainment(),
                      ref_stat(lambda r: r.counts["slo_met"] / r.counts["window_processed"]),
                      "SLO attainment")
    for basis in ("horizon", "window"):
        for o, option in enumerate(("on_demand", "spot")):
            _two_sample_agree(sim.node_seconds(basis)[:, o],
                              ref_stat(lambda r, b=basis, op=option: r.node_s[(b, op)]),
                              f"{option} node-seconds ({basis})")
        _two_sample_agree(sim.busy_worker_s(basis), ref_stat(lambda r, b=basis:
                                                             r.busy_worker_s[b]),
                          f"busy worker-seconds ({basis})")
        for name in ("arrived", "processed", "pending"):
            key = name if basis == "horizon" else f"window_{name}"
            _two_sample_agree(getattr(sim, f"records_{name}")(basis),
                              ref_stat(lambda r, k=key: r.counts[k]), f"{key} records")
    for name, mine in (("interruptions", sim.interruptions()), ("lost_s", sim.lost_work_s()),
                       ("overruns", sim.overruns()),
                       ("missed_deadline", sim.jobs_missing_deadline())):
        _two_sample_agree(mine, ref_stat(lambda r, k=name: r.counts[k]), name)
    _two_sample_agree(sim.job_durations_s().mean(axis=1),
                      ref_stat(lambda r: (r.jobs[:, 2] - r.jobs[:, 1]).mean()), "job duration")
    _two_sample_agree(sim.job_column("provisioning_s").mean(axis=1),
                      ref_stat(lambda r: r.jobs[:, 9].mean()), "gang provisioning")
