"""Scenario schema of LLM serving designs (``pattern: llm``): engine, latency model, fleet.

Semantics: ``docs/llm-serving.md`` (continuous batching, chunked prefill, paged KV cache).
Re-exported by :mod:`planner.schema`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from planner.schema_base import Name, _Frozen, _resolve_path
from planner.schema_errors import problem
from planner.schema_fleet import Autoscaling, Fleet

__all__ = ["AutoLatency", "LlmAutoscaling", "LlmDesign", "LlmEngine", "LlmFleet", "ModelConfig",
           "ProfileLatency"]


class LlmEngine(_Frozen):
    """The serving engine's settings (vLLM's names; SGLang and TGI have the same knobs).

    ``max_num_seqs``: most requests running at once per replica; ``max_num_batched_tokens``:
    a step's token budget (decode tokens plus prefill chunks); ``block_size``: KV-cache block
    (tokens); ``gpu_memory_utilization``: share of GPU memory the engine may use (weights,
    activations, KV cache); ``tensor_parallel``: GPUs per replica (a node runs
    GPUs / tensor_parallel replicas); ``prefix_caching`` with ``prefix_tokens``: a shared prompt
    prefix of that many tokens is computed once per replica while resident;
    ``kv_cache_tokens``: the KV capacity per replica, when known (else derived from the model's
    shape and the GPU's memory); ``router``: how requests pick a replica; ``dtype``: the
    weights' data type (fp8: W8A8 GEMMs on GPUs with FP8 tensor cores, half the weight bytes);
    ``kv_cache_dtype``: the KV cache's (``auto``: as the weights); ``host_overhead_ms``: the
    engine's host time per step (scheduling, input preparation, sampling), which a CUDA-graph
    profile leaves out (default 1 ms, ``docs/latency-model.md``; 0 when the profile was
    measured through the engine, or the fit file's value when it was fitted to an engine run).
    """

    max_num_seqs: int = Field(default=256, ge=1, le=65536)
    max_num_batched_tokens: int = Field(default=2048, ge=1)
    block_size: int = Field(default=16, ge=1, le=1024)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    tensor_parallel: int = Field(default=1, ge=1, le=64)
    prefix_caching: bool = False
    prefix_tokens: int = Field(default=0, ge=0)
    kv_cache_tokens: int | None = Field(default=None, ge=1)
    router: Literal["least_outstanding", "round_robin"] = "least_outstanding"
    dtype: Literal["bf16", "fp16", "fp8"] = "bf16"
    kv_cache_dtype: Literal["auto", "bf16", "fp16", "fp8"] = "auto"
    host_overhead_ms: float | None = Field(default=None, ge=0, le=1000)

    @model_validator(mode="after")
    def _check_prefix(self) -> LlmEngine:
        if self.prefix_caching and self.prefix_tokens == 0:
            raise problem(("prefix_tokens", "prefix caching needs the shared prefix's length "
                                            "(got 0); set e.g. prefix_tokens: 200 (the system "
                                            "prompt), or prefix_caching: false"))
        if self.prefix_tokens and not self.prefix_caching:
            raise problem(("prefix_tokens", f"only applies with prefix_caching: true (got "
                                            f"{self.prefix_tokens}); set prefix_caching: true "
                                            "or remove prefix_tokens"))
        if self.max_num_batched_tokens < self.max_num_seqs:
            raise problem(("max_num_batched_tokens", f"must be >= max_num_seqs (got "
                                                     f"{self.max_num_batched_tokens} < "
                                                     f"{self.max_num_seqs}): every running "
                                                     "sequence needs a token of the step's "
                                                     "budget; raise it (vLLM refuses this too)"))
        if self.kv_cache_tokens is not None and self.kv_cache_tokens < self.block_size:
            raise problem(("kv_cache_tokens", f"must hold at least one block of block_size "
                                              f"{self.block_size} tokens (got "
                                              f"{self.kv_cache_tokens}); raise it"))
        return self


def _gpu_name(value: str) -> str:
    if value == "auto":
        return value
    from simulators.core.gpus import resolve_gpu

    try:
        return resolve_gpu(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class ProfileLatency(_Frozen):
    """Step times from a measured token-latency profile (prefill by tokens, decode steps by
    batch and context; ``simulators.core.tokens``), for the design's model.

    ``gpu: auto`` derives the profile for the fleet instance's GPU from the measured one by
    FLOP ratio (prefill) and memory-bandwidth ratio (decode); a GPU name (``H100``, ``RTX
    4090``, ``A100-SXM-80GB``) forces one. ``model`` picks the profile's rows (default: the
    design's ``model``).
    """

    kind: Literal["profile"]
    path: str = Field(min_length=1)
    gpu: str = "auto"
    model: str | None = Field(default=None, min_length=1)

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)

    @field_validator("gpu")
    @classmethod
    def _gpu(cls, value: str) -> str:
        return _gpu_name(value)


class AutoLatency(_Frozen):
    """Step times from the roofline latency model (``docs/latency-model.md``): FLOPs and bytes
    from the model's shape, peaks from the GPU's datasheet, efficiencies and per-layer overhead
    fitted to measured profiles (the bundled H100 fit, or ``fit:`` a file written by ``planner
    llm fit`` / ``planner llm replay --fit``). ``gpu: auto`` takes the fleet instance's GPU."""

    kind: Literal["auto"] = "auto"
    gpu: str = "auto"
    fit: str | None = Field(default=None, min_length=1)

    @field_validator("fit")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _resolve_path(value, info)

    @field_validator("gpu")
    @classmethod
    def _gpu(cls, value: str) -> str:
        return _gpu_name(value)


class ModelConfig(_Frozen):
    """A model given by its Hugging Face ``config.json`` (a file or the folder holding it)."""

    config: str = Field(min_length=1)

    @field_validator("config")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


LlmAutoscaling = Autoscaling
"""The one autoscaling schema (:class:`planner.schema_fleet.Autoscaling`); an LLM fleet tracks
``in_flight_per_replica``, ``waiting_per_replica`` or ``kv_utilization``
(:data:`planner.schema_fleet.AUTOSCALING_METRICS`). Kept as a name for imports."""


class LlmFleet(Fleet):
    """The nodes of an LLM design; every GPU serves (``workers_per_node`` does not apply: a
    node runs GPUs / ``engine.tensor_parallel`` replicas)."""

    autoscaling_pattern: ClassVar[str] = "llm"

    @model_validator(mode="after")
    def _no_workers(self) -> LlmFleet:
        if self.workers_per_node != 1:
            raise problem(("workers_per_node", f"does not apply to llm designs (got "
                                               f"{self.workers_per_node}): a node runs GPUs / "
                                               "engine.tensor_parallel replicas; remove it"))
        return self


class LlmDesign(_Frozen):
    """LLM serving with continuous batching: replicas of ``model`` on the fleet's GPUs, each
    scheduling every step (decode tokens first, then chunked prefills), with a paged KV cache
    and recompute preemption (``docs/llm-serving.md``)."""

    name: Name
    workload: Name
    pattern: Literal["llm"]
    model: str | ModelConfig
    engine: LlmEngine = LlmEngine()
    fleet: LlmFleet
    latency: Annotated[ProfileLatency | AutoLatency, Field(discriminator="kind")] = AutoLatency()

    @field_validator("model")
    @classmethod
    def _model(cls, value):
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("needs a model name such as llama-3.1-8b, or {config: PATH} "
                                 "of a Hugging Face config.json")
        return value

    @property
    def model_name(self) -> str:
        """The model's name as reports show it."""
        if isinstance(self.model, str):
            return self.model
        return self.model.config
