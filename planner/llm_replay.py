"""Replay a recorded LLM engine run through the llm simulator and compare the latencies.

A run is a folder (the layout of ``../shared/data/llm-serving/``):

- ``requests.jsonl``: one JSON object a line with ``input_toks``, ``output_toks`` and the
  engine's timestamps ``queued_ts`` (or ``arrival_time``), ``first_token_ts`` and
  ``last_token_ts`` (seconds, one clock);
- ``meta.json``: ``model`` and ``engine_kwargs`` (vLLM's names: ``max_num_seqs``,
  ``max_num_batched_tokens``, ``tensor_parallel_size``, ``dtype``, ``kv_cache_dtype``,
  ``block_size``, ``gpu_memory_utilization``), and when known ``gpu`` and ``kv_cache_tokens``
  (else derived from the model's shape and the GPU's memory).

The replay feeds the same arrivals and token counts to the simulator, with step times from the
roofline latency model (:mod:`simulators.core.latency_model`) for the run's model and GPU and
nothing fitted to the run, and reports measured vs predicted TTFT, TPOT and E2E (mean, p50, p90,
p99) with the error in %. :func:`fit_engine_run` is how a user calibrates: it scales the GEMM
efficiency and sets the engine's host time per step so that the replay matches their run.
Definitions (the run's authors'): TTFT = first token - queued; TPOT = (last - first) /
(output tokens - 1) over requests with more than one output token; E2E = last token - queued.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace

import numpy as np

from domain.errors import ScenarioError, SimulationError
from planner.inputs_llm import load_model
from planner.json_schemas import LATENCY_FIT_VERSION, LLM_REPLAY_VERSION
from planner.patterns.summary import summarise_distribution
from simulators.core.arrivals import TraceArrivals
from simulators.core.fleet import FleetSpec
from simulators.core.gpus import GPU_SPECS, resolve_gpu
from simulators.core.latency_model import DEFAULT_HOST_OVERHEAD_MS, LatencyFit, derived_profile
from simulators.core.llm_models import ModelSpec, dtype_name, kv_cache_tokens
from simulators.core.spec import RunSpec
from simulators.llm import EngineConfig, LlmSpec, TokenSamples, simulate

METRICS = ("ttft_ms", "tpot_ms", "e2e_ms")
STATS = ("mean", "p50", "p90", "p99")
_ENGINE_DEFAULTS = {"max_num_seqs": 256, "max_num_batched_tokens": 2048, "block_size": 16,
                    "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1}


@dataclass(frozen=True, eq=False)
class EngineRun:
    """A recorded engine run: per-request arrivals, tokens and measured latencies (ms)."""

    name: str
    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    ttft_ms: np.ndarray
    e2e_ms: np.ndarray
    model: str | None
    gpu: str | None
    engine: dict
    kv_cache_tokens: int | None

    @property
    def tpot_ms(self) -> np.ndarray:
        """TPOT of the requests with more than one output token."""
        several = self.output_tokens > 1
        return (self.e2e_ms - self.ttft_ms)[several] / (self.output_tokens[several] - 1)


def _bad(where: str, what: str) -> ScenarioError:
    return ScenarioError(f"{where}: {what}")


def read_engine_run(path: str) -> EngineRun:
    """Read a run folder (module notes); every problem names the file, line and field."""
    if not os.path.isdir(path):
        raise _bad(path, "not a folder; give the folder that holds requests.jsonl and "
                         "meta.json")
    meta_path = os.path.join(path, "meta.json")
    meta: dict = {}
    if os.path.exists(meta_path):
        try:
            with open(meta_path, encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad(meta_path, f"not readable JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise _bad(meta_path, "must hold a JSON object")
    kwargs = meta.get("engine_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise _bad(meta_path, "engine_kwargs must be an object of the engine's arguments")
    engine = {k: kwargs.get(k) if kwargs.get(k) is not None else v
              for k, v in _ENGINE_DEFAULTS.items()}
    engine["dtype"] = kwargs.get("dtype") or "auto"
    engine["kv_cache_dtype"] = kwargs.get("kv_cache_dtype") or "auto"
    for key in _ENGINE_DEFAULTS:
        value = engine[key]
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0)
        if not ok:
            raise _bad(meta_path, f"engine_kwargs.{key} = {value!r} must be a positive number")
    rows = _read_requests(os.path.join(path, "requests.jsonl"))
    queued = np.array([r[0] for r in rows])
    order = np.argsort(queued, kind="stable")
    arr = np.array(rows, dtype=np.float64)[order]
    start = arr[0, 0]
    kv = meta.get("kv_cache_tokens")
    return EngineRun(
        name=os.path.basename(os.path.normpath(path)), arrival_s=arr[:, 0] - start,
        prompt_tokens=arr[:, 3].astype(np.int64), output_tokens=arr[:, 4].astype(np.int64),
        ttft_ms=(arr[:, 1] - arr[:, 0]) * 1000.0, e2e_ms=(arr[:, 2] - arr[:, 0]) * 1000.0,
        model=meta.get("model") or kwargs.get("model"), gpu=meta.get("gpu"), engine=engine,
        kv_cache_tokens=int(kv) if isinstance(kv, (int, float)) and kv > 0 else None)


def _read_requests(path: str) -> list[tuple[float, float, float, int, int]]:
    if not os.path.exists(path):
        raise _bad(path, "no such file; a run folder needs requests.jsonl (one request a line)")
    rows = []
    with open(path, encoding="utf-8", errors="strict") as fh:
        try:
            lines = fh.readlines()
        except UnicodeDecodeError as exc:
            raise _bad(path, f"not UTF-8 text ({exc})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad(path, f"line {i}: not a JSON object ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise _bad(path, f"line {i}: expected a JSON object")
        arrival = rec.get("queued_ts", rec.get("arrival_time"))
        values = {"queued_ts": arrival, "first_token_ts": rec.get("first_token_ts"),
                  "last_token_ts": rec.get("last_token_ts"), "input_toks": rec.get("input_toks"),
                  "output_toks": rec.get("output_toks")}
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value):
                raise _bad(path, f"line {i}: {key} = {value!r} must be a number"
                                 + ("; give queued_ts or arrival_time" if key == "queued_ts"
                                    else ""))
        if values["input_toks"] < 1 or values["output_toks"] < 1:
            raise _bad(path, f"line {i}: input_toks and output_toks must be >= 1 (got "
                             f"{values['input_toks']}, {values['output_toks']})")
        if not arrival <= values["first_token_ts"] <= values["last_token_ts"]:
            raise _bad(path, f"line {i}: timestamps must satisfy queued <= first_token <= "
                             f"last_token (got {arrival}, {values['first_token_ts']}, "
                             f"{values['last_token_ts']}); are they on one clock?")
        rows.append((float(arrival), float(values["first_token_ts"]),
                     float(values["last_token_ts"]), int(values["input_toks"]),
                     int(values["output_toks"])))
    if len(rows) < 2:
        raise _bad(path, f"holds {len(rows)} request(s); a replay needs at least two")
    return rows


@dataclass(frozen=True)
class ReplayResult:
    """Measured vs predicted latencies of a run, and what the prediction rests on."""

    run: str
    requests: int
    model: str
    gpu: str
    measured: dict
    predicted: dict
    kv_cache_tokens: int
    host_overhead_ms: float
    fit: LatencyFit
    derivation: str

    @property
    def error_pct(self) -> dict:
        """Signed error of each predicted statistic, % of the measured one."""
        return {m: {s: 100.0 * (self.predicted[m][s] / self.measured[m][s] - 1.0)
                    for s in STATS} for m in METRICS}

    def as_dict(self) -> dict:
        """Return the comparison as plain JSON values."""
        return {"run": self.run, "requests": self.requests, "model": self.model,
                "gpu": self.gpu, "measured": self.measured, "predicted": self.predicted,
                "error_pct": self.error_pct, "kv_cache_tokens": self.kv_cache_tokens,
                "host_overhead_ms": self.host_overhead_ms, "fit": self.fit.as_dict(),
                "derivation": self.derivation}


def _stats(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p90": float(np.percentile(values, 90)), "p99": float(np.percentile(values, 99))}


def run_model(run: EngineRun, model: str | None, base_dir: str | None = None) -> ModelSpec:
    """Return the shape of the run's model (``model`` overrides ``meta.json``)."""
    ref = model or run.model
    if not ref:
        raise ScenarioError(f"{run.name}: meta.json names no model; pass --model (a catalog name "
                         "such as llama-3.1-8b, or a config.json)")
    return load_model(ref, base_dir=base_dir)


def run_gpu(run: EngineRun, gpu: str | None) -> str:
    """Return the GPU_SPECS key of the run's GPU (``gpu`` overrides ``meta.json``)."""
    ref = gpu or run.gpu
    if not ref:
        raise ScenarioError(f"{run.name}: meta.json names no GPU; pass --gpu (e.g. 'H100', "
                         "'RTX PRO 6000')")
    return resolve_gpu(ref)


def replay_engine_run(run: EngineRun, model: ModelSpec, gpu_key: str, fit: LatencyFit, *,
                      host_overhead_ms: float = DEFAULT_HOST_OVERHEAD_MS) -> ReplayResult:
    """Replay ``run`` on ``model`` and GPU ``gpu_key`` with the latency model's ``fit``."""
    e = run.engine
    tp = int(e["tensor_parallel_size"])
    gpu = GPU_SPECS[gpu_key]
    weight_dtype = dtype_name(e["dtype"])
    kv_dtype = weight_dtype if e["kv_cache_dtype"] == "auto" else dtype_name(e["kv_cache_dtype"])
    if run.kv_cache_tokens is not None:
        cap_tokens, cap_text = run.kv_cache_tokens, f"KV cache {run.kv_cache_tokens:,} tokens " \
                                                   "(meta.json)"
    else:
        cap = kv_cache_tokens(model, gpu_memory_gib=gpu.memory_gib, tensor_parallel=tp,
                              gpu_memory_utilization=float(e["gpu_memory_utilization"]),
                              max_num_batched_tokens=int(e["max_num_batched_tokens"]),
                              max_num_seqs=int(e["max_num_seqs"]),
                              block_size=int(e["block_size"]), weight_dtype=weight_dtype,
                              kv_dtype=kv_dtype)
        cap_tokens, cap_text = cap.tokens, cap.derivation
    profile = derived_profile(model, gpu, fit, gpu_key=gpu_key, tp=tp,
                              weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                              max_seqs=int(e["max_num_seqs"]), host_overhead_ms=host_overhead_ms)
    sim = simulate(LlmSpec(
        arrivals=TraceArrivals(times_s=run.arrival_s),
        tokens=TokenSamples(run.prompt_tokens, run.output_tokens, order="sequential"),
        profile=profile,
        engine=EngineConfig(kv_cache_tokens=cap_tokens, max_num_seqs=int(e["max_num_seqs"]),
                            max_num_batched_tokens=int(e["max_num_batched_tokens"]),
                            block_size=int(e["block_size"])),
        fleet=FleetSpec.fixed(1),
        run=RunSpec(horizon_s=float(run.arrival_s[-1]) + 1e-3, warmup_s=0.0,
                    n_replications=2, seed=0)))
    predicted = {}
    for key, dist in (("ttft_ms", sim.ttft), ("tpot_ms", sim.tpot), ("e2e_ms", sim.e2e)):
        est, _ = summarise_distribution(dist)
        predicted[key] = {s: float(est[s].mean) for s in STATS}
    measured = {"ttft_ms": _stats(run.ttft_ms), "tpot_ms": _stats(run.tpot_ms),
                "e2e_ms": _stats(run.e2e_ms)}
    return ReplayResult(run.name, int(run.arrival_s.size), model.name, gpu.name, measured,
                        predicted, int(cap_tokens), float(host_overhead_ms), fit,
                        f"{profile.derivation}; {cap_text}")


@dataclass(frozen=True)
class EngineFit:
    """Terms fitted to an engine run, and the replay before and after."""

    fit: LatencyFit
    host_overhead_ms: float
    before: ReplayResult
    after: ReplayResult

    def as_dict(self) -> dict:
        """Return the fit file's JSON (``latency: {kind: auto, fit: FILE}`` reads it)."""
        return {"schema_version": LATENCY_FIT_VERSION, "kind": "latency-fit",
                "fit": self.fit.as_dict(), "host_overhead_ms": self.host_overhead_ms,
                "error_pct_before": self.before.error_pct,
                "error_pct_after": self.after.error_pct}


def replay_document(result: ReplayResult) -> dict:
    """Return the JSON of ``planner llm replay``: ``schema_version``, ``kind: llm-replay`` and
    the comparison (:meth:`ReplayResult.as_dict`)."""
    return {"schema_version": LLM_REPLAY_VERSION, "kind": "llm-replay", **result.as_dict()}


def fit_engine_run(run: EngineRun, model: ModelSpec, gpu_key: str, fit: LatencyFit, *,
                   host_overhead_ms: float = DEFAULT_HOST_OVERHEAD_MS) -> EngineFit:
    """Fit a scale on the GEMM and attention efficiencies and the host time per step so that
    the replay's mean TTFT, TPOT and E2E match the run's (least squares on log-ratios,
    Nelder-Mead; a few dozen replays)."""
    from scipy.optimize import minimize

    before = replay_engine_run(run, model, gpu_key, fit, host_overhead_ms=host_overhead_ms)

    def terms(x) -> tuple[LatencyFit, float]:
        scale = float(np.exp(x[0]))
        g = min(1.0, fit.gemm_efficiency * scale)
        a = min(1.0, fit.attention_efficiency * scale)
        return replace(fit, gemm_efficiency=g, attention_efficiency=a), max(0.0, float(x[1]))

    def loss(x) -> float:
        f, host = terms(x)
        try:
            r = replay_engine_run(run, model, gpu_key, f, host_overhead_ms=host)
        except SimulationError:
            return 1e6
        return sum(math.log(r.predicted[m]["mean"] / r.measured[m]["mean"]) ** 2
                   for m in METRICS)

    best = minimize(loss, [0.0, host_overhead_ms], method="Nelder-Mead",
                    options={"xatol": 1e-3, "fatol": 1e-6, "maxfev": 80})
    fitted, host = terms(best.x)
    fitted = replace(fitted, source=f"{fit.source}; GEMM and attention efficiencies scaled by "
                                    f"{np.exp(best.x[0]):.3f} and host time {host:.2f} ms/step "
                                    f"fitted to the engine run {run.name}")
    after = replay_engine_run(run, model, gpu_key, fitted, host_overhead_ms=host)
    return EngineFit(fitted, host, before, after)


def markdown_table(result: ReplayResult) -> str:
    """Return measured vs predicted as a Markdown table (one row per metric and statistic)."""
    lines = ["| metric | statistic | measured | predicted | error |",
             "| --- | --- | ---: | ---: | ---: |"]
    err = result.error_pct
    for m in METRICS:
        for s in STATS:
            lines.append(f"| {m[:-3].upper()} | {s} | {_ms(result.measured[m][s])} | "
                         f"{_ms(result.predicted[m][s])} | {err[m][s]:+.1f} % |")
    return "\n".join(lines)


def _ms(x: float) -> str:
    return f"{x / 1000:,.2f} s" if x >= 1000 else f"{x:,.1f} ms"
