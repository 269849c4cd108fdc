"""Where an llm design's step times and KV capacity come from: the model, the GPU, the latency
model or a measured profile, and the engine's host time per step (``docs/latency-model.md``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.errors import ScenarioError, SimulationError
from planner import schema
from planner.inputs import ScenarioInputs
from planner.inputs_llm import load_fit_file, load_model
from simulators.core.gpus import GPU_SPECS, gpu_key
from simulators.core.latency_model import DEFAULT_HOST_OVERHEAD_MS, derived_profile
from simulators.core.llm_models import ModelSpec, kv_cache_tokens
from simulators.core.tokens import TokenProfile, scale_profile


@dataclass(frozen=True)
class StepModel:
    """A design's step times and what they rest on."""

    profile: TokenProfile
    gpu: str
    model: ModelSpec | None
    host_overhead_ms: float
    host_overhead_source: str

    @property
    def description(self) -> str:
        """Where the step times come from, in one line for reports."""
        return f"{self.profile.model} on {self.gpu}: {self.profile.derivation}"


def design_model(design: schema.LlmDesign, index: int, *, required: bool) -> ModelSpec | None:
    """The design's model shape (None when unknown and not ``required``)."""
    ref = design.model if isinstance(design.model, str) else design.model.config
    try:
        return load_model(ref)
    except SimulationError as exc:
        if not required:
            return None
        raise ScenarioError(f"designs[{index}].model: {exc}") from None


def _target_gpu(design: schema.LlmDesign, quote, index: int) -> str:
    if design.latency.gpu != "auto":
        return design.latency.gpu
    try:
        if quote.gpu_model is None:
            raise SimulationError(f"gpu: auto needs the GPU of {design.fleet.instance}, which "
                                  "the price catalog does not know; set gpu: to a known GPU, "
                                  "e.g. H100")
        return gpu_key(quote.gpu_model, quote.gpu_memory_gib)
    except SimulationError as exc:
        raise ScenarioError(f"designs[{index}].latency: {exc}") from None


def weight_and_kv_dtypes(engine: schema.LlmEngine) -> tuple[str, str]:
    """The weights' and the KV cache's data types."""
    kv = engine.dtype if engine.kv_cache_dtype == "auto" else engine.kv_cache_dtype
    return engine.dtype, kv


def step_model(design: schema.LlmDesign, inputs: ScenarioInputs, quote, index: int
               ) -> StepModel:
    """The design's step times: the latency model (``kind: auto``) or the measured profile
    (derived for the fleet's GPU), plus the engine's host time per step."""
    gpu = _target_gpu(design, quote, index)
    engine = design.engine
    latency = design.latency
    where = f"designs[{index}].latency"
    if isinstance(latency, schema.AutoLatency):
        model = design_model(design, index, required=True)
        try:
            fit_file = load_fit_file(latency.fit)
        except SimulationError as exc:
            raise ScenarioError(f"{where}.fit: {exc}") from None
        host, host_source = _host_overhead(engine, fit_file.host_overhead_ms)
        weights, kv = weight_and_kv_dtypes(engine)
        try:
            profile = derived_profile(model, GPU_SPECS[gpu], fit_file.fit, gpu_key=gpu,
                                      tp=engine.tensor_parallel, weight_dtype=weights,
                                      kv_dtype=kv, max_seqs=engine.max_num_seqs,
                                      host_overhead_ms=host)
        except SimulationError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        return StepModel(profile, gpu, model, host, host_source)
    measured = inputs.token_models[design.name].profile
    assert measured is not None  # read for kind: profile
    try:
        profile = scale_profile(measured, gpu)
    except SimulationError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    host, host_source = _host_overhead(engine, None)
    if host:
        profile = replace(
            profile, prefill_grid_ms=profile.prefill_grid_ms + host,
            decode_grid_ms=profile.decode_grid_ms + host,
            derivation=(profile.derivation if profile.derivation != "measured"
                        else "measured") + f"; plus {host:g} ms of engine host time per step")
    return StepModel(profile, gpu, design_model(design, index, required=False), host,
                     host_source)


def _host_overhead(engine: schema.LlmEngine, fitted: float | None) -> tuple[float, str]:
    if engine.host_overhead_ms is not None:
        return engine.host_overhead_ms, "engine.host_overhead_ms"
    if fitted is not None:
        return fitted, "fitted to an engine run (latency.fit)"
    return DEFAULT_HOST_OVERHEAD_MS, ("default: an estimate from vLLM's own benchmark "
                                      "(docs/latency-model.md)")


def kv_cache(design: schema.LlmDesign, quote, steps: StepModel, index: int) -> tuple[int, str]:
    """The KV capacity per replica: given, or derived from the model and the GPU's memory."""
    e = design.engine
    if e.kv_cache_tokens is not None:
        return e.kv_cache_tokens, f"KV cache {e.kv_cache_tokens:,} tokens per replica (given)"
    model = steps.model or design_model(design, index, required=True)
    memory = quote.gpu_memory_gib if quote.gpu_memory_gib else GPU_SPECS[steps.gpu].memory_gib
    weights, kv = weight_and_kv_dtypes(e)
    try:
        cap = kv_cache_tokens(model, gpu_memory_gib=memory, tensor_parallel=e.tensor_parallel,
                              gpu_memory_utilization=e.gpu_memory_utilization,
                              max_num_batched_tokens=e.max_num_batched_tokens,
                              max_num_seqs=e.max_num_seqs, block_size=e.block_size,
                              weight_dtype=weights, kv_dtype=kv)
    except SimulationError as exc:
        raise ScenarioError(f"designs[{index}].engine: {exc}") from None
    return cap.tokens, cap.derivation
