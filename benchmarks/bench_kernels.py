"""Speed of the real-time serving kernel against its SimPy reference, one JSON line per case.

Run with ``make bench`` (or ``python benchmarks/bench_kernels.py``).  Every case runs the Numba
kernel on one thread (one replication, so one core) several times and reports simulated
requests per second (min / median / max over the repeats), then runs the SimPy reference on the
same scenario with a shorter horizon in the same process and reports the ratio of the medians.
First-call time (compilation, or loading the on-disk cache) is reported apart from run time.

Targets (issue 2): >= 20 M requests/s for M/M/16 with max_batch 1, >= 5 M/s with batching and a
table service time, kernel >= 100x the SimPy reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _bench import machine, spread
from simulators.core.arrivals import PoissonArrivals
from simulators.realtime import _layout as rk
from simulators.realtime.api import simulate_realtime
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.realtime.reference import simulate_realtime_reference
from simulators.core.service import ServiceTime, exponential_service, table_service


def _bert_table(max_batch: int) -> ServiceTime:
    import polars as pl

    frame = pl.read_csv(ROOT / "scenarios" / "data" / "h100_forward_latency.csv").filter(
        pl.col("model") == "bert-base-seq512")
    return table_service(frame["batch"].to_numpy(), frame["mean_ms"].to_numpy(), max_batch,
                         description="H100 bert-base-seq512 mean_ms")


def _kernel_rate(rate_rps, service, workers, max_batch, wait_s, horizon_s, repeats):
    def once(h):
        t0 = time.perf_counter()
        sim = simulate_realtime(arrivals=PoissonArrivals(rate_rps), service=service,
                                n_workers=workers, max_batch=max_batch, max_wait_s=wait_s,
                                horizon_s=h, warmup_s=0.0, n_replications=1, seed=1)
        return float(sim.stats[0, rk.S_N_ARRIVALS_TOTAL]), time.perf_counter() - t0

    t0 = time.perf_counter()
    once(1.0)
    first_call_s = time.perf_counter() - t0
    rates = []
    for _ in range(repeats):
        n, dt = once(horizon_s)
        rates.append(n / dt)
    return first_call_s, rates


def _simpy_rate(rate_rps, service, workers, max_batch, wait_s, n_requests):
    rng = np.random.default_rng(1)
    horizon = n_requests / rate_rps
    arrivals = poisson_arrivals(rng, rate_rps, horizon)
    if service.distribution == "exponential":
        def sampler(n: int) -> float:
            return float(service.mean_s[n] * rng.exponential())
    else:
        def sampler(n: int) -> float:
            return float(service.mean_s[n])
    t0 = time.perf_counter()
    simulate_realtime_reference(arrivals, sampler, n_workers=workers, max_batch=max_batch,
                                max_wait_s=wait_s, warmup_s=0.0, horizon_s=horizon)
    return arrivals.size / (time.perf_counter() - t0)


CASES = {
    "mmc16_batch1": dict(rate_rps=12.8, service=exponential_service(1000.0, 1), workers=16,
                         max_batch=1, wait_s=0.0, target=20e6),
    "bert_table_batch32": dict(rate_rps=3000.0, service=_bert_table(32), workers=1,
                               max_batch=32, wait_s=0.005, target=5e6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=float, default=2e7,
                        help="simulated requests per kernel repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--simpy-requests", type=int, default=100_000)
    args = parser.parse_args()
    numba.set_num_threads(1)
    for name, case in CASES.items():
        target = case.pop("target")
        horizon = args.requests / case["rate_rps"]
        first_call_s, rates = _kernel_rate(**case, horizon_s=horizon, repeats=args.repeats)
        simpy = _simpy_rate(**case, n_requests=args.simpy_requests)
        median = statistics.median(rates)
        print(json.dumps({
            "case": name,
            "kernel_requests_per_s": spread(rates),
            "simpy_requests_per_s": simpy,
            "ratio_kernel_to_simpy": median / simpy,
            "target_requests_per_s": target,
            "meets_target": bool(median >= target),
            "first_call_s": first_call_s,
            "threads": numba.get_num_threads(),
            "requests_per_repeat": args.requests,
            "repeats": args.repeats,
            **machine(),
        }), flush=True)


if __name__ == "__main__":
    main()
