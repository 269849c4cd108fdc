"""Cold start of the commands a user runs (issue 17): ``planner --help`` and ``--version``, and
the first run on a machine of each pattern's bundled scenario, which compiles its simulation
kernels (an empty ``NUMBA_CACHE_DIR``), against the same run once they are cached.

Each command runs as the user runs it, in its own process.  Prints one JSON line per
measurement (min / median / max over ``--repeats``) and, per pattern, the compile time (the
cold run's wall time less the cached run's), which ``simulators.core.jit.COMPILE_S`` quotes.

    .venv/bin/python benchmarks/bench_cold_start.py [--repeats 3] [--cold-repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANNER = Path(sys.executable).with_name("planner")
SCENARIOS = {  # pattern -> a bundled scenario that runs it (with few replications)
    "realtime": "bert-serving.yaml",
    "batch": "nightly-recsys.yaml",
    "training": "training-spot.yaml",
    "streaming": "fraud-scoring.yaml",
    "llm": "llm-chat.yaml",
}


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def _stats(name: str, walls: list[float], **extra: object) -> dict:
    row = {"measure": name, "min_s": round(min(walls), 2),
           "median_s": round(statistics.median(walls), 2), "max_s": round(max(walls), 2),
           "runs": len(walls), **extra}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-repeats", type=int, default=1)
    parser.add_argument("--patterns", default=",".join(SCENARIOS))
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    _stats("planner --help", [_wall([str(PLANNER), "--help"], env)
                              for _ in range(args.repeats)])
    _stats("planner --version", [_wall([str(PLANNER), "--version"], env)
                                 for _ in range(args.repeats)])
    for pattern in args.patterns.split(","):
        scenario = str(ROOT / "scenarios" / SCENARIOS[pattern])
        cmd = [str(PLANNER), "compare", scenario, "-r", "2", "-q", "-f", "json", "-o",
               os.devnull]
        colds, warms = [], []
        for _ in range(args.cold_repeats):
            cache = tempfile.mkdtemp(prefix="bench-numba-")
            try:
                cold_env = dict(env, NUMBA_CACHE_DIR=cache)
                colds.append(_wall(cmd, cold_env))
                warms.extend(_wall(cmd, cold_env) for _ in range(args.repeats))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
        _stats(f"first run, {pattern} ({SCENARIOS[pattern]})", colds, pattern=pattern,
               compile_s=round(statistics.median(colds) - statistics.median(warms), 1))
        _stats(f"cached run, {pattern} ({SCENARIOS[pattern]})", warms, pattern=pattern)


if __name__ == "__main__":
    main()
