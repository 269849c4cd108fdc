"""Replay a recorded LLM engine run through the llm simulator and compare the latencies.

The bundled run (``scenarios/data/vllm_rtxpro6000_llama31_8b.csv``: vLLM 0.19, Llama-3.1-8B
bf16, one RTX PRO 6000 Blackwell, ``max_num_seqs`` 128, ``max_num_batched_tokens`` 2048, 300
ShareGPT requests) gives each request's arrival, prompt and output tokens and its measured TTFT
and end-to-end latency. The replay feeds the same arrivals and token counts to the simulator,
with nothing fitted to the run: the step times are the H100 profile of Llama-3-8B (the same
architecture as Llama-3.1-8B) derived for the RTX PRO 6000 from datasheet ratios (prefill by
dense BF16 FLOP/s, decode by memory bandwidth), and the KV capacity from the model's shape and
96 GB (``simulators.core.llm_models``). Prefix caching was on in the run; ShareGPT prompts share
no system prompt, so the replay models none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from planner.inputs_tokens import read_token_profile
from planner.patterns.summary import summarise_distribution
from simulators.core.arrivals import TraceArrivals
from simulators.core.fleet import FleetSpec
from simulators.core.llm_models import kv_cache_tokens, model_spec
from simulators.core.spec import RunSpec
from simulators.core.tokens import GPU_SPECS, scale_profile
from simulators.llm import EngineConfig, LlmSpec, TokenSamples, simulate

RUN_CSV = "vllm_rtxpro6000_llama31_8b.csv"
GPU = "RTXPRO6000-96GB"
ENGINE = {"max_num_seqs": 128, "max_num_batched_tokens": 2048, "block_size": 16,
          "gpu_memory_utilization": 0.9}


@dataclass(frozen=True)
class ReplayRow:
    """Measured and predicted mean and p99 (ms) of one latency."""

    metric: str
    measured_mean_ms: float
    predicted_mean_ms: float
    measured_p99_ms: float
    predicted_p99_ms: float


@dataclass(frozen=True)
class Replay:
    """The comparison, and what the prediction rests on."""

    rows: tuple[ReplayRow, ...]
    requests: int
    kv_cache_tokens: int
    derivation: str

    def markdown(self) -> str:
        """Return the comparison as a Markdown table."""
        lines = ["| metric | measured mean | predicted mean | measured p99 | predicted p99 |",
                 "| --- | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            lines.append(f"| {r.metric} | {_ms(r.measured_mean_ms)} | "
                         f"{_ms(r.predicted_mean_ms)} | {_ms(r.measured_p99_ms)} | "
                         f"{_ms(r.predicted_p99_ms)} |")
        return "\n".join(lines)


def _ms(x: float) -> str:
    return f"{x / 1000:,.2f} s" if x >= 1000 else f"{x:,.1f} ms"


def replay_vllm_run(data_dir: str, *, profile_csv: str | None = None) -> Replay:
    """Replay the bundled vLLM run found in ``data_dir`` and return measured vs predicted."""
    runs = pl.read_csv(os.path.join(data_dir, RUN_CSV))
    arrival = runs["arrival_s"].to_numpy()
    prompt = runs["prompt_tokens"].to_numpy().astype(np.int64)
    output = runs["output_tokens"].to_numpy().astype(np.int64)
    measured = {"TTFT": runs["measured_ttft_s"].to_numpy() * 1000.0,
                "E2E": runs["measured_e2e_s"].to_numpy() * 1000.0}
    several = output > 1
    measured["TPOT"] = ((measured["E2E"] - measured["TTFT"])[several]
                        / (output[several] - 1))
    path = profile_csv or os.path.join(data_dir, "h100_llm_token_latency.csv")
    profile = scale_profile(read_token_profile(path, "llama-3-8b", field_path="replay"), GPU)
    cap = kv_cache_tokens(model_spec("llama-3.1-8b"), gpu_memory_gib=GPU_SPECS[GPU].memory_gib,
                          gpu_memory_utilization=ENGINE["gpu_memory_utilization"],
                          max_num_batched_tokens=ENGINE["max_num_batched_tokens"],
                          max_num_seqs=ENGINE["max_num_seqs"], block_size=ENGINE["block_size"])
    horizon = float(arrival[-1]) + 1e-3
    sim = simulate(LlmSpec(
        arrivals=TraceArrivals(times_s=arrival), tokens=TokenSamples(prompt, output,
                                                                     order="sequential"),
        profile=profile,
        engine=EngineConfig(kv_cache_tokens=cap.tokens, max_num_seqs=ENGINE["max_num_seqs"],
                            max_num_batched_tokens=ENGINE["max_num_batched_tokens"],
                            block_size=ENGINE["block_size"]),
        fleet=FleetSpec.fixed(1), run=RunSpec(horizon_s=horizon, warmup_s=0.0,
                                              n_replications=2, seed=0)))
    rows = []
    for name, dist in (("TTFT", sim.ttft), ("TPOT", sim.tpot), ("E2E", sim.e2e)):
        est, _ = summarise_distribution(dist)
        m = measured[name]
        rows.append(ReplayRow(name, float(m.mean()), float(est["mean"].mean),
                              float(np.percentile(m, 99)), float(est["p99"].mean)))
    return Replay(tuple(rows), int(runs.height), cap.tokens,
                  f"{profile.derivation}; {cap.derivation}")
