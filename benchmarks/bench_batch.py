"""Benchmark of the batch-job kernel: a nightly 500M-record scoring job, 30 nights.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--replications 64] [--repeats 5]``.

Prints, from one run:

* compile time (first call, cache cold or warm as found) apart from run time;
* kernel time for the full scenario (500 million records a night, diurnal arrivals, 30 nights,
  on-demand and spot with checkpoints), min / median / max of a few repeats;
* the kernel-vs-SimPy ratio per replication, measured on the same design scaled down to 50,000
  records a night (the SimPy reference generates every record, so the full night, 1.5e10 records
  for 30 nights, is out of its reach; the kernel's cost does not depend on the record count,
  which the last line shows).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np

from simulators.core.arrivals import DiurnalArrivals
from simulators.batch.api import scheduled_starts_s, simulate_batch
from simulators.core.fleet import DelayComponent
from simulators.core.reference_arrivals import diurnal_arrivals
from simulators.batch.reference import simulate_batch_reference
from simulators.core.service import linear_service

DAY_S = 86_400.0
RECORDS_PER_NIGHT = 500e6
NIGHTS = 30
PROVISIONING = (DelayComponent.from_p95("cold start", 180.0, 420.0),)
SERVICE = linear_service(20.0, 0.4, 256)  # 122.4 ms per batch of 256: ~2,090 records/s/GPU


def _design(purchase: str, scale: float) -> dict:
    spot = purchase == "spot"
    return {
        "nodes": 8, "workers_per_node": 4, "max_batch": 256, "period_s": None,
        "horizon_s": (NIGHTS + 1) * DAY_S, "warmup_s": DAY_S, "at_s": [3600.0],
        "provisioning": PROVISIONING, "startup_s": 120.0, "checkpoint_s": 1200.0 / scale,
        "checkpoint_cost_s": 60.0 / scale, "purchase": purchase,
        "interruptions_per_node_hour": 0.1 * scale if spot else 0.0,
        "replacement_delay_s": 300.0, "fallback_after": 3 if spot else None,
        "deadline_s": 6 * 3600.0, "slo_freshness_s": 30 * 3600.0}


def _arrivals(records_per_night: float) -> DiurnalArrivals:
    return DiurnalArrivals(records_per_night / DAY_S, peak_to_trough=4.0, peak_hour=14.0)


def _time(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _fmt(times: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    return (f"min {min(times) * unit:.2f} / median {statistics.median(times) * unit:.2f} / "
            f"max {max(times) * unit:.2f} {suffix}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference-replications", type=int, default=4)
    args = parser.parse_args()
    reps = args.replications
    print(f"threads: {numba.get_num_threads()}, replications: {reps}, repeats: {args.repeats}")

    full = _arrivals(RECORDS_PER_NIGHT)
    t0 = time.perf_counter()
    simulate_batch(full, SERVICE, n_replications=1, seed=0, **_design("spot", 1.0))
    print(f"first call (compile or cache load): {time.perf_counter() - t0:.2f} s")

    for purchase in ("on_demand", "spot"):
        def run(purchase=purchase):
            return simulate_batch(full, SERVICE, n_replications=reps, seed=1,
                                  **_design(purchase, 1.0))
        times, sim = _time(run, args.repeats)
        per_rep = [t / reps for t in times]
        dur = sim.job_durations_s()
        print(f"\n{purchase}: 500M records/night x {NIGHTS} nights x {reps} replications: "
              f"{_fmt(times)} ({_fmt(per_rep, 1e6, 'us')} per replication)")
        print(f"  records/night {sim.job_column('records').mean():.4g}, "
              f"job {dur.mean() / 3600:.2f} h (max {dur.max() / 3600:.2f} h), freshness p50/p99 "
              f"{np.nanmean(sim.freshness_percentiles_s([0.5, 0.99]), axis=0) / 3600} h, "
              f"missed deadlines/run {sim.jobs_missing_deadline().mean():.2f}, "
              f"interruptions/run {sim.interruptions().mean():.2f}, node-h (od, spot) "
              f"{sim.node_seconds('window').mean(axis=0) / 3600}")

    # kernel vs SimPy: the same design (spot, checkpoints, fallback) at 50,000 records a night
    small_n = 50_000.0
    scale = RECORDS_PER_NIGHT / small_n
    small = _arrivals(small_n)
    design = _design("spot", 1.0)
    sched = scheduled_starts_s(design["horizon_s"], at_s=design["at_s"])
    kernel_times, sim = _time(lambda: simulate_batch(
        small, SERVICE, n_replications=reps, seed=2, **design), args.repeats)
    rng = np.random.default_rng(3)
    ref_kwargs = {k: v for k, v in design.items() if k not in (
        "max_batch", "period_s", "at_s", "horizon_s", "warmup_s", "nodes", "workers_per_node")}

    def reference_once():
        times = diurnal_arrivals(rng, small_n / DAY_S, 4.0, 14.0, design["horizon_s"])
        return simulate_batch_reference(
            times, sched, horizon_s=design["horizon_s"], warmup_s=design["warmup_s"],
            nodes=design["nodes"], workers_per_node=design["workers_per_node"],
            throughput_rps=sim.throughput_rps, rng=rng, **ref_kwargs)
    ref_times, _ = _time(reference_once, args.reference_replications)
    kernel_per_rep = statistics.median(kernel_times) / reps
    ref_per_rep = statistics.median(ref_times)
    print(f"\nkernel vs SimPy at {small_n:.0f} records/night (spot, {NIGHTS + 1} days): kernel "
          f"{kernel_per_rep * 1e6:.1f} us/replication (median of {args.repeats}, parallel), "
          f"SimPy {ref_per_rep * 1e3:.1f} ms/replication (median of "
          f"{args.reference_replications}, {_fmt(ref_times)}): ratio "
          f"{ref_per_rep / kernel_per_rep:,.0f}x")
    records = small_n * (NIGHTS + 1)
    print(f"  SimPy handles ~{records / ref_per_rep:,.0f} records/s; the full scenario "
          f"({RECORDS_PER_NIGHT * (NIGHTS + 1):.3g} records) would take ~"
          f"{RECORDS_PER_NIGHT * (NIGHTS + 1) / (records / ref_per_rep) / 3600:,.0f} h per "
          f"replication (extrapolated, scale factor {scale:.0f})")
    print(f"  kernel per replication at 50k/night {kernel_per_rep * 1e6:.1f} us vs at 500M/night "
          f"above: records are integrated, not generated")


if __name__ == "__main__":
    main()
