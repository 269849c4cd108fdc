"""Sweep throughput: design points per second with each executor, and the share of wall time
spent outside the compiled kernels.

The issue's scale is 1,000 points of a one-day real-time scenario at 500 requests/s with 4
replications each.  By default this runs a scaled-down version (``--points 40 --horizon-s
3600``) and prints the extrapolation to the full size, clearly labelled; pass ``--points 1000
--horizon-s 86400`` for the real thing.  Kernels are compiled (or loaded from the disk cache)
by one warm-up point before timing.

    .venv/bin/python benchmarks/bench_sweep.py --workers 2 --repeat 3

"Outside the kernels" = 1 - (seconds inside the kernels, summed over points) / (wall seconds x
workers): pool start, scheduling, pickling, validation, building inputs, summarising and
pricing, and idle workers at the tail of the sweep.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from planner.schema import parse_scenario
from planner.sweep import make_executor, run_sweep


def scenario(points: int, horizon_s: float, rate_rps: float, replications: int):
    """Return a random sweep of ``points`` real-time designs."""
    return parse_scenario({
        "name": "bench-sweep", "horizon_s": horizon_s, "warmup_s": min(600.0, horizon_s / 10),
        "replications": replications, "seed": 1,
        "workloads": [{"name": "w", "kind": "inference",
                       "arrivals": {"kind": "poisson", "rate_rps": rate_rps},
                       "slo": {"percentile": 99, "latency_ms": 50}}],
        "designs": [{"name": "rt", "workload": "w", "pattern": "realtime",
                     "fleet": {"instance": "aws:g6.xlarge", "nodes": 2},
                     "batching": {"max_batch": 8, "max_wait_ms": 2},
                     "service_time": {"kind": "linear", "base_ms": 2, "per_item_ms": 0.5}}],
        "sweep": {"design": "rt", "mode": "random", "samples": points, "seed": 2,
                  "parameters": {"fleet.nodes": {"low": 2, "high": 6},
                                 "batching.max_batch": [4, 8, 16, 32],
                                 "batching.max_wait_ms": {"low": 0.5, "high": 20,
                                                          "log": True}}},
    })


def measure(kind: str, workers: int, sc) -> dict[str, float]:
    """Run the sweep once from scratch; return wall time, points/s, share outside kernels."""
    executor = make_executor(kind, workers=workers)
    try:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            result = run_sweep(sc, executor=executor, output=out, resume=False,
                               sensitivity=False, measure_kernels=True)
            wall = time.perf_counter() - t0
    finally:
        executor.close()
    ok = [r for r in result.rows if r["status"] == "ok"]
    kernel = sum(r["kernel_s"] or 0.0 for r in ok)
    in_point = sum(r["wall_s"] for r in ok)
    return {"wall_s": wall, "points": len(ok), "points_per_s": len(ok) / wall,
            "outside": 1.0 - kernel / (wall * workers),
            "outside_in_point": 1.0 - kernel / in_point, "kernel_per_point_s": kernel / len(ok)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=40)
    parser.add_argument("--horizon-s", type=float, default=3600.0)
    parser.add_argument("--rate-rps", type=float, default=500.0)
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--executors", default="local,ray")
    args = parser.parse_args()
    sc = scenario(args.points, args.horizon_s, args.rate_rps, args.replications)
    warm = scenario(1, 60.0, args.rate_rps, 2)
    t0 = time.perf_counter()
    run_sweep(warm, executor=make_executor("local", workers=0), output=tempfile.mkdtemp(),
              resume=False, sensitivity=False)
    print(f"warm-up (kernel compile or cache load, in-process): {time.perf_counter() - t0:.2f} s")
    print(f"sweep: {args.points} points x {args.replications} replications, horizon "
          f"{args.horizon_s:g} s at {args.rate_rps:g} req/s, {args.workers} workers")
    scale = 86400.0 / args.horizon_s
    for kind in args.executors.split(","):
        runs = [measure(kind, args.workers, sc) for _ in range(args.repeat)]
        pps = sorted(r["points_per_s"] for r in runs)
        out = sorted(r["outside"] for r in runs)
        inp = sorted(r["outside_in_point"] for r in runs)
        kpp = statistics.median(r["kernel_per_point_s"] for r in runs)
        print(f"[{kind}] points/s min {pps[0]:.3f} median {statistics.median(pps):.3f} max "
              f"{pps[-1]:.3f}; outside kernels (of wall x workers) min {out[0]:.1%} median "
              f"{statistics.median(out):.1%} max {out[-1]:.1%}; inside the point function "
              f"median {statistics.median(inp):.1%}; kernel time per point {kpp:.3f} s")
        if scale != 1.0 or args.points != 1000:
            # Kernel time grows linearly with the horizon; the per-point overhead does not.
            per_point_overhead = (1 / statistics.median(pps)) * args.workers - kpp
            full_point = kpp * scale + per_point_overhead
            full_pps = args.workers / full_point
            print(f"[{kind}] EXTRAPOLATED to a one-day horizon, 1,000 points: "
                  f"~{full_pps:.3f} points/s, ~{1000 / full_pps / 60:.0f} min, outside kernels "
                  f"~{per_point_overhead / full_point:.1%} (kernel time x{scale:g}, "
                  "overhead per point unchanged)")


if __name__ == "__main__":
    main()
