"""Speed of the streaming micro-batch kernel against its SimPy reference, one JSON line per case.

Run with ``python benchmarks/bench_streaming.py``.  Every case runs the Numba kernel on one
thread (one replication, so one core) several times and reports simulated records per second
(min / median / max over the repeats), then runs the SimPy reference on the same scenario with a
shorter horizon, several times, in the same process, and reports the ratio of the medians.
First-call time (compilation, or loading the on-disk cache) is reported apart from run time.
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
from simulators.streaming import _layout as sk
from simulators.core.reference_arrivals import poisson_arrivals
from simulators.streaming.reference import simulate_streaming_reference
from simulators.core.service import ServiceTime, exponential_service, linear_service
from simulators.streaming.api import simulate_streaming


def bench_streaming(rate_rps: float, service: ServiceTime, workers: int, window_s: float,
                    max_batch: int, records: float, simpy_records: int, repeats: int
                    ) -> dict[str, object]:
    """Return kernel and SimPy records/s (min/median/max) and the ratio of the medians."""
    def kernel_once(horizon_s: float) -> tuple[float, float]:
        t0 = time.perf_counter()
        sim = simulate_streaming(PoissonArrivals(rate_rps), service, n_nodes=workers,
                                 workers_per_node=1, window_s=window_s, max_batch=max_batch,
                                 horizon_s=horizon_s, warmup_s=0.0, n_replications=1, seed=1)
        return float(sim.stats[0, sk.S_N_ARRIVALS_TOTAL]), time.perf_counter() - t0

    t0 = time.perf_counter()
    kernel_once(10 * window_s)
    first_call_s = time.perf_counter() - t0
    kernel = []
    for _ in range(repeats):
        n, dt = kernel_once(records / rate_rps)
        kernel.append(n / dt)

    rng = np.random.default_rng(1)
    if service.distribution == "exponential":
        def sampler(k: int) -> float:
            return float(service.mean_s[k] * rng.exponential())
    else:
        def sampler(k: int) -> float:
            return float(service.mean_s[k])
    simpy = []
    horizon = simpy_records / rate_rps
    for _ in range(repeats):
        arrivals = poisson_arrivals(rng, rate_rps, horizon)
        t0 = time.perf_counter()
        simulate_streaming_reference(arrivals, sampler, n_workers=workers, window_s=window_s,
                                     max_batch=max_batch, horizon_s=horizon, warmup_s=0.0)
        simpy.append(arrivals.size / (time.perf_counter() - t0))

    return {
        "kernel_records_per_s": spread(kernel),
        "simpy_records_per_s": spread(simpy),
        "ratio_kernel_to_simpy": statistics.median(kernel) / statistics.median(simpy),
        "first_call_s": first_call_s,
        "records_per_kernel_repeat": records,
        "records_per_simpy_repeat": simpy_records,
        "repeats": repeats,
    }


CASES = {
    "w10s_b64_4gpu_linear": {"rate_rps": 1000.0, "service": linear_service(5.0, 0.5, 64),
                                 "workers": 4, "window_s": 10.0, "max_batch": 64},
    "w1s_b8_2gpu_exponential": {"rate_rps": 200.0, "service": exponential_service(20.0, 8),
                                    "workers": 2, "window_s": 1.0, "max_batch": 8},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=float, default=2e7, help="records per kernel repeat")
    parser.add_argument("--simpy-records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    numba.set_num_threads(1)
    for name, case in CASES.items():
        out = bench_streaming(**case, records=args.records, simpy_records=args.simpy_records,
                              repeats=args.repeats)
        print(json.dumps({"case": name, **out, "threads": numba.get_num_threads(),
                          **machine()}), flush=True)


if __name__ == "__main__":
    main()
