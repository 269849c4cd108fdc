"""Speed of the llm kernel (continuous batching) on one day of diurnal traffic, one JSON line.

Run with ``python benchmarks/bench_llm.py`` (``--quick`` for one hour).  The case: one day of
diurnal arrivals at a mean of 50 requests/s (peak-to-trough 3, peak at 14:00), prompt and output
tokens drawn from lognormal samples with means of about 575 and 210 tokens, the measured H100
profile of ``llama-3-8b`` (``../shared/data/gpu-profiles/h100_llm_token_latency.csv``), vLLM's
default engine limits (256 sequences, 2,048 batched tokens, 16-token blocks) and a 350,000-token
KV cache per replica, on one-GPU nodes autoscaled between 2 and 16 replicas on in-flight
requests per replica.  One replication, so one core.

Reported: the first call apart (``first_call_s``: compilation, or loading the on-disk cache;
``--cold`` measures it in a fresh process with an empty cache, i.e. with compilation), then the
run's wall time, steps per second and requests per second (min / median / max over
``--repeats``).  When the SimPy reference (``simulators/llm/reference.py``) exists it runs the
same scenario on a short horizon and the line gives the ratio of requests per second.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _bench import machine, spread

from simulators.core.arrivals import DiurnalArrivals
from simulators.core.fleet import AutoscalingPolicy, DelayComponent, FleetSpec
from simulators.core.spec import RunSpec
from simulators.core.tokens import TokenProfile, token_profile
from simulators.llm import EngineConfig, LlmSpec, TokenSamples, simulate

PROFILE_CSV = ROOT.parent / "shared" / "data" / "gpu-profiles" / "h100_llm_token_latency.csv"


def h100_profile(model: str = "llama-3-8b") -> TokenProfile:
    """The measured H100 profile of ``model``."""
    with PROFILE_CSV.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["model"] == model]
    pre = [r for r in rows if r["phase"] == "prefill"]
    dec = [r for r in rows if r["phase"] == "decode"]
    return token_profile(
        model, rows[0]["gpu"],
        prefill_tokens=[float(r["new_tokens_per_sequence"]) for r in pre],
        prefill_ms=[float(r["mean_ms"]) for r in pre],
        decode_batch=[float(r["batch"]) for r in dec],
        decode_context=[float(r["context_tokens"]) for r in dec],
        decode_ms=[float(r["mean_ms"]) for r in dec], source=str(PROFILE_CSV))


def token_samples(n: int = 10_000, seed: int = 7) -> TokenSamples:
    """Lognormal prompt and output lengths with means of about 575 and 210 tokens."""
    rng = np.random.default_rng(seed)
    sigma = 0.8
    prompt = np.clip(np.rint(rng.lognormal(np.log(575) - sigma**2 / 2, sigma, n)), 1, 8_000)
    output = np.clip(np.rint(rng.lognormal(np.log(210) - sigma**2 / 2, sigma, n)), 1, 2_000)
    return TokenSamples(prompt.astype(np.int64), output.astype(np.int64))


def day_spec(horizon_s: float = 86_400.0) -> LlmSpec:
    """The benchmark's scenario (module notes)."""
    policy = AutoscalingPolicy("in_flight_per_replica", target=16.0, min_nodes=2, max_nodes=16,
                               interval_s=60.0, window_s=300.0, scale_in_cooldown_s=600.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=4, max_nodes=16, on_demand_base=2,
                      autoscaling=policy, provisioning=(DelayComponent("model load", 120.0),))
    return LlmSpec(arrivals=DiurnalArrivals(50.0, peak_to_trough=3.0, peak_hour=14.0),
                   tokens=token_samples(), profile=h100_profile(),
                   engine=EngineConfig(kv_cache_tokens=350_000), fleet=fleet,
                   run=RunSpec(horizon_s, 0.0, 1, 1))


def cold_first_call_s() -> float:
    """Return the first call's time in a fresh process with an empty Numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        here = str(Path(__file__).parent)
        code = (f"import sys, time; sys.path.insert(0, {here!r}); import bench_llm;"
                "t0 = time.perf_counter(); bench_llm.simulate(bench_llm.day_spec(60.0));"
                "print(time.perf_counter() - t0)")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def reference_ratio(kernel_rps: float, horizon_s: float) -> dict[str, float] | None:
    """Run the SimPy reference on the scenario cut to ``horizon_s``; None when it is absent."""
    if not (ROOT / "simulators" / "llm" / "reference.py").exists():
        return None
    from simulators.llm.reference import simulate_reference

    spec = day_spec(horizon_s)
    spec = replace(spec, arrivals=replace(spec.arrivals, start_hour=12.0),
                   fleet=replace(spec.fleet, start_hour=12.0))
    t0 = time.perf_counter()
    run = simulate_reference(spec)
    dt = time.perf_counter() - t0
    n = float(np.asarray(run.arrival_s).size)
    return {"simpy_horizon_s": horizon_s, "simpy_requests": n, "simpy_wall_s": dt,
            "simpy_requests_per_s": n / dt, "ratio_kernel_to_simpy": kernel_rps / (n / dt)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one hour instead of one day")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cold", action="store_true",
                        help="also time the first call in a fresh process with an empty cache")
    parser.add_argument("--simpy-horizon-s", type=float, default=60.0)
    args = parser.parse_args()
    import numba

    numba.set_num_threads(1)
    horizon = 3_600.0 if args.quick else 86_400.0
    t0 = time.perf_counter()
    simulate(day_spec(60.0))
    first_call_s = time.perf_counter() - t0
    spec = day_spec(horizon)
    walls, steps, reqs = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        sim = simulate(spec)
        dt = time.perf_counter() - t0
        c = sim.counters()
        walls.append(dt)
        steps.append(float(c.steps[0]) / dt)
        reqs.append(float(c.arrived[0]) / dt)
    c = sim.counters()
    line = {
        "case": f"llm diurnal 50 req/s, {horizon / 3600:g} h, autoscaled 2..16 replicas",
        "first_call_s": first_call_s,
        "wall_s": spread(walls),
        "steps_per_s": spread(steps),
        "requests_per_s": spread(reqs),
        "requests": float(c.arrived[0]),
        "steps": float(c.steps[0]),
        "mean_decode_batch": float(c.mean_decode_batch[0]),
        "max_replicas": float(c.max_nodes[0]),
        "replica_hours": float(sim.node_seconds("horizon").sum()) / 3600,
        "e2e_mean_s": float(sim.e2e.mean_s[0]),
        "ttft_mean_s": float(sim.ttft.mean_s[0]),
        "preemptions": float(c.preemptions[0]),
        **machine(),
    }
    if args.cold:
        line["cold_first_call_s"] = cold_first_call_s()
    ref = reference_ratio(statistics.median(reqs), args.simpy_horizon_s)
    if ref is not None:
        line.update(ref)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
