"""Speed of the training-job kernel against its SimPy reference, one JSON line per thread count.

Run with ``python benchmarks/bench_training.py``.  The case is a 2,000 GPU-hour job on 8 nodes
of 8 GPUs (31.25 h of gang compute) on spot at 0.05 interruptions per node-hour (gang MTBF
2.5 h), checkpointing every Young/Daly interval (C = 120 s), with lognormal provisioning,
replacement and restart: 10,000 replications.  The kernel runs several times per thread count
(min / median / max of the wall time); the SimPy reference runs a smaller number of
replications in the same process, and the ratio compares time per replication.  First-call time
(compilation, or loading the on-disk cache) is reported apart from run time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numba

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _bench import machine, spread
from simulators.core.fleet import DelayComponent
from simulators.training.reference import simulate_training_reference_runs
from simulators.training.api import simulate_training
from simulators.training.checkpoints import young_daly_interval_s

NODES, GPUS_PER_NODE, RATE = 8, 8, 0.05
CASE = {
    "interruptions_per_node_hour": RATE,
    "checkpoint_interval_s": young_daly_interval_s(120.0, 3600.0 / (NODES * RATE)),
    "checkpoint_cost_s": 120.0,
    "restart_overhead_s": 300.0,
    "provisioning": DelayComponent.from_p95("boot", 240.0, 600.0),
    "replacement_delay_s": 180.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--simpy-replications", type=int, default=300)
    args = parser.parse_args()

    t0 = time.perf_counter()
    simulate_training(2000.0, NODES, GPUS_PER_NODE, "spot", 2, 0, **CASE)
    first_call_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref = simulate_training_reference_runs(args.simpy_replications, 1, 2000.0, NODES,
                                           GPUS_PER_NODE, "spot", **CASE)
    simpy_per_rep_s = (time.perf_counter() - t0) / args.simpy_replications

    max_threads = numba.config.NUMBA_NUM_THREADS
    for threads in sorted({1, max_threads}):
        numba.set_num_threads(threads)
        times = []
        for k in range(args.repeats):
            t0 = time.perf_counter()
            sim = simulate_training(2000.0, NODES, GPUS_PER_NODE, "spot", args.replications,
                                    k + 1, **CASE)
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        print(json.dumps({
            "case": "spot_2000gpuh_8x8_ckpt",
            "threads": threads,
            "replications": args.replications,
            "kernel_s": spread(times),
            "kernel_replications_per_s": args.replications / median,
            "simpy_replications": args.simpy_replications,
            "simpy_s_per_replication": simpy_per_rep_s,
            "ratio_kernel_to_simpy": simpy_per_rep_s * args.replications / median,
            "first_call_s": first_call_s,
            "mean_completion_h": float(sim.completion_time_s().mean() / 3600.0),
            "simpy_mean_completion_h": float(ref["completion_s"].mean() / 3600.0),
            "mean_interruptions": float(sim.n_interruptions().mean()),
            "segments_per_run": round(sim.work_s / CASE["checkpoint_interval_s"] + 0.5),
            **machine(),
        }), flush=True)


if __name__ == "__main__":
    main()
