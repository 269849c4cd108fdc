"""The time of one LLM engine step on any GPU, from the model's shape and the GPU's datasheet.

A step runs ``T`` tokens through every layer: ``b`` decode tokens (one per running sequence,
whose KV caches hold ``C`` tokens in all) and ``n`` prefill tokens (prompt chunks whose queries
attend to ``Q`` earlier-or-equal key positions in all). Per layer, on each of the ``tp`` GPUs of
a tensor-parallel replica, the work is:

- **GEMMs** (QKV, output projection, MLP or the MoE experts the batch touches): ``2 T p / tp``
  FLOPs for ``p`` active parameters a token uses, reading the weight bytes of the parameters the
  batch touches (every dense weight; for MoE the expected number of distinct experts among
  ``T`` tokens routed top-``k`` of ``E`` uniformly, ``E (1 - (1 - k/E)^T)``);
- **attention**: ``4 H d (C + Q) / tp`` FLOPs (scores and weighted values, ``H`` heads of size
  ``d``), reading the KV cache of every key position it attends to;
- **all-reduce** under tensor parallelism: two per layer of ``T x hidden`` activations, as a ring
  (``2 (tp - 1) / tp`` of the bytes over the GPU link, plus a fixed latency per call).

Each part takes the smooth roofline time ``(t_c^k + t_m^k)^(1/k)`` of its compute time
``t_c = FLOPs / (peak x e)`` and memory time ``t_m = bytes / (bandwidth x e)``; every layer adds a
fixed overhead (kernel launches inside a CUDA graph, norms, rotary embeddings, small kernels'
tails) and the step adds the logits GEMM of the sequences that sample. The efficiencies (GEMMs,
attention, weight streaming, KV streaming) and the per-layer overhead are **fitted** to measured
step times (:mod:`simulators.core.latency_fit`); the FLOPs and bytes are **derived** from the
model's shape; the peaks and bandwidths are the GPU datasheet's. All-reduce is derived from the
link bandwidth with a stated efficiency and latency (no multi-GPU profile was at hand to fit).
Semantics and evidence: ``docs/latency-model.md``.

This module reads no files: the fitted terms are a :class:`LatencyFit` its callers load.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from domain.errors import SimulationError
from simulators.core.llm_models import dtype_bytes
from simulators.core.tokens import token_profile

ALLREDUCE_LINK_EFFICIENCY = 0.7
"""Share of the per-direction link bandwidth a ring all-reduce reaches (NCCL's bus bandwidth is
typically 70-85 % of NVLink's on large messages)."""

ALLREDUCE_LATENCY_US = 8.0
"""Fixed time of one all-reduce call (µs): small-message latency of engines' custom all-reduce
kernels on NVLink (5-10 µs); PCIe parts pay more through the per-byte term."""

ROOFLINE_SHARPNESS = 2.0
"""``k`` of the smooth roofline ``(compute^k + memory^k)^(1/k)``: a kernel near the ridge point
is slower than either bound alone (loads and math overlap imperfectly); ``k = 2`` fits the
measured H100 steps best of 1.5, 2, 3, 4 and a sharp ``max`` (``docs/latency-model.md``)."""


FIT_TERMS = ("gemm_efficiency", "attention_efficiency", "weight_efficiency", "kv_efficiency",
             "layer_overhead_us", "step_overhead_us")


@dataclass(frozen=True)
class LatencyFit:
    """The fitted terms of the step-time model.

    Attributes
    ----------
    gemm_efficiency : float
        Share of the dense tensor peak that GEMMs reach when compute-bound.
    attention_efficiency : float
        Share of the dense tensor peak that attention reaches when compute-bound.
    weight_efficiency : float
        Share of peak memory bandwidth reached streaming weights (small-batch GEMMs).
    kv_efficiency : float
        Share of peak memory bandwidth reached streaming the KV cache (decode attention).
    layer_overhead_us : float
        Fixed time per layer per step (µs): kernel launches inside a CUDA graph, small kernels.
    step_overhead_us : float
        Fixed time per step (µs) on top of the layers (0 for a profile measured in CUDA graphs:
        the engine's host time is :attr:`simulators.llm.EngineConfig`'s, not the GPU's).
    source : str
        What the terms were fitted to, and how well they fit.
    """

    gemm_efficiency: float
    attention_efficiency: float
    weight_efficiency: float
    kv_efficiency: float
    layer_overhead_us: float
    step_overhead_us: float
    source: str

    def __post_init__(self):
        for name in FIT_TERMS[:4]:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise SimulationError(f"latency fit: {name} must be a share in (0, 1] (got "
                                      f"{value!r}); refit it or fix the file")
        for name in FIT_TERMS[4:]:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1e6):
                raise SimulationError(f"latency fit: {name} must be a number of µs >= 0 (got "
                                      f"{value!r}); refit it or fix the file")

    def as_dict(self) -> dict:
        """Return the terms as plain JSON values."""
        return {**{name: float(getattr(self, name)) for name in FIT_TERMS},
                "source": self.source}

    def describe(self) -> str:
        """Return the terms in one line."""
        return (f"GEMMs at {self.gemm_efficiency:.0%} and attention at "
                f"{self.attention_efficiency:.0%} of the dense tensor peak, weights streamed at "
                f"{self.weight_efficiency:.0%} and the KV cache at {self.kv_efficiency:.0%} of "
                f"peak bandwidth, {self.layer_overhead_us:.1f} µs per layer"
                + (f" and {self.step_overhead_us:.0f} µs per step" if self.step_overhead_us
                   else ""))


@dataclass(frozen=True)
class Hardware:
    """The numbers of one GPU the model uses (from a datasheet entry)."""

    name: str
    dense_tflops: float
    fp8_tflops: float | None
    bandwidth_gb_per_s: float
    link_gb_per_s: float

    @classmethod
    def of(cls, spec) -> Hardware:
        """Return the hardware of a :class:`simulators.core.gpus.GpuSpec`."""
        return cls(spec.name, float(spec.dense_tflops), getattr(spec, "fp8_tflops", None),
                   float(spec.bandwidth_gb_per_s),
                   float(getattr(spec, "interconnect_gb_per_s", 32.0)))


@dataclass(frozen=True)
class Shape:
    """The per-layer sizes of a model that the step time needs (from a ``ModelSpec``).

    ``dense_params``: per layer, the parameters every token uses (attention projections, the
    dense MLP or the MoE router); ``expert_params``: one routed expert's MLP (0 when dense).
    """

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    dense_params: float
    expert_params: float
    experts: int
    experts_per_token: int

    @classmethod
    def of(cls, model) -> Shape:
        """Return the shape of a :class:`simulators.core.llm_models.ModelSpec`."""
        if model.is_moe:
            dense = model.attention_parameters() + model.hidden * model.experts
            expert = model.expert_parameters()
        else:
            dense, expert = model.attention_parameters() + model.expert_parameters(), 0.0
        return cls(model.name, model.layers, model.hidden, model.attention_heads,
                   model.kv_heads, model.head_dim, model.vocab, dense, expert, model.experts,
                   model.experts_per_token)


@dataclass(frozen=True)
class StepTime:
    """One step's time (ms) and its parts (ms, summed over layers)."""

    ms: float
    gemm_ms: float
    attention_ms: float
    allreduce_ms: float
    logits_ms: float
    overhead_ms: float
    gemm_bound: str
    attention_bound: str

    def as_dict(self) -> dict:
        """Return the time and its breakdown as plain JSON values."""
        return {"ms": self.ms, "breakdown_ms": {
            "gemm": self.gemm_ms, "attention": self.attention_ms,
            "allreduce": self.allreduce_ms, "logits": self.logits_ms,
            "overhead": self.overhead_ms},
            "gemm_bound": self.gemm_bound, "attention_bound": self.attention_bound}


def step_parts(shape: Shape, hw: Hardware, fit: LatencyFit, *, tokens, logits, kv_read,
               attended, tp: int = 1, weight_bytes: float = 2.0, kv_bytes: float = 2.0,
               fp8_compute: bool = False) -> dict[str, np.ndarray]:
    """Return the parts (ms, arrays) of steps given as arrays of their work.

    Parameters
    ----------
    tokens : array
        Tokens through the GEMMs per step (decode sequences + prefill tokens).
    logits : array
        Sequences that sample a token this step (rows of the logits GEMM).
    kv_read : array
        KV-cache positions read by attention (every key of every query's sequence).
    attended : array
        Query-key pairs attention computes (``C`` for decode, ``Q`` for prefill).
    tp : int
        GPUs per replica (tensor parallelism).
    weight_bytes, kv_bytes : float
        Bytes per weight and per KV value (2 for fp16/bf16, 1 for fp8).
    fp8_compute : bool
        GEMMs run on the FP8 tensor peak (fp8 weights and activations, on a GPU that has it).
    """
    t = np.asarray(tokens, dtype=np.float64)
    peak = (hw.fp8_tflops if fp8_compute and hw.fp8_tflops else hw.dense_tflops) * 1e12
    bw = hw.bandwidth_gb_per_s * 1e9 * fit.weight_efficiency
    gemm_rate = peak * fit.gemm_efficiency
    attn_rate = hw.dense_tflops * 1e12 * fit.attention_efficiency
    s = shape
    if s.experts:
        touched = s.experts * (1.0 - (1.0 - s.experts_per_token / s.experts) ** t)
        gemm_bytes = (s.dense_params + touched * s.expert_params) * weight_bytes / tp
        gemm_flops = 2.0 * t * (s.dense_params + s.experts_per_token * s.expert_params) / tp
    else:
        gemm_bytes = np.full_like(t, s.dense_params * weight_bytes / tp)
        gemm_flops = 2.0 * t * s.dense_params / tp
    gemm_c, gemm_m = gemm_flops / gemm_rate, gemm_bytes / bw
    kv_split = min(tp, s.kv_heads)
    kv_per_layer = 2.0 * s.kv_heads * s.head_dim * kv_bytes
    attn_c = 4.0 * s.heads * s.head_dim * np.asarray(attended, dtype=np.float64) / tp / attn_rate
    kv_bw = hw.bandwidth_gb_per_s * 1e9 * fit.kv_efficiency
    attn_m = kv_per_layer * np.asarray(kv_read, dtype=np.float64) / kv_split / kv_bw
    lg = np.asarray(logits, dtype=np.float64)
    logits_s = np.where(lg > 0, np.maximum(2.0 * lg * s.hidden * s.vocab / tp / gemm_rate,
                                           s.hidden * s.vocab * weight_bytes / tp / bw), 0.0)
    if tp > 1:
        msg = t * s.hidden * 2.0
        one = (2.0 * (tp - 1) / tp * msg / (hw.link_gb_per_s * 1e9 * ALLREDUCE_LINK_EFFICIENCY)
               + ALLREDUCE_LATENCY_US * 1e-6)
        allreduce = 2.0 * one * s.layers
    else:
        allreduce = np.zeros_like(t)
    gemm = _roofline(gemm_c, gemm_m) * s.layers
    attn = _roofline(attn_c, attn_m) * s.layers
    over = np.full_like(t, (fit.layer_overhead_us * s.layers + fit.step_overhead_us) * 1e-6)
    total = gemm + attn + allreduce + logits_s + over
    return {"ms": total * 1e3, "gemm": gemm * 1e3, "attention": attn * 1e3,
            "allreduce": allreduce * 1e3, "logits": logits_s * 1e3, "overhead": over * 1e3,
            "gemm_compute": gemm_c >= gemm_m, "attention_compute": attn_c >= attn_m}


def _roofline(compute, memory):
    """``(compute^k + memory^k)^(1/k)``, computed as ``max x (1 + (min/max)^k)^(1/k)`` so that
    neither side underflows."""
    hi = np.maximum(compute, memory)
    lo = np.minimum(compute, memory)
    ratio = np.divide(lo, hi, out=np.zeros_like(hi, dtype=np.float64), where=hi > 0)
    k = ROOFLINE_SHARPNESS
    return hi * (1.0 + ratio**k) ** (1.0 / k)


def prefill_work(tokens, context=0):
    """Return ``(kv_read, attended)`` of a chunk of ``tokens`` prompt tokens after ``context``
    cached ones: causal attention over ``context + i`` keys for the ``i``-th new token."""
    n = np.asarray(tokens, dtype=np.float64)
    p = np.asarray(context, dtype=np.float64)
    return p + n, n * p + n * (n + 1.0) / 2.0


def step_time(shape: Shape, hw: Hardware, fit: LatencyFit, *, phase: str, batch: int = 1,
              tokens: int = 1, context: int = 0, tp: int = 1, weight_bytes: float = 2.0,
              kv_bytes: float = 2.0, fp8_compute: bool = False) -> StepTime:
    """Return the time of one step of ``phase``.

    ``prefill``: ``batch`` sequences each prefilling ``tokens`` prompt tokens after ``context``
    cached ones (a chunk), each sampling a token at the end. ``decode``: ``batch`` sequences
    each decoding one token with ``context`` tokens already in its KV cache.
    """
    if phase not in ("prefill", "decode"):
        raise SimulationError(f"phase must be 'prefill' or 'decode' (got {phase!r})")
    for name, value, low in (("batch", batch, 1), ("tokens", tokens, 1), ("context", context, 0),
                             ("tensor_parallel", tp, 1)):
        if not (isinstance(value, (int, np.integer)) and value >= low):
            raise SimulationError(f"{name} must be a whole number >= {low} (got {value!r})")
    if phase == "prefill":
        kv, att = prefill_work(tokens, context)
        work = {"tokens": batch * tokens, "logits": batch, "kv_read": batch * kv,
                "attended": batch * att}
    else:
        work = {"tokens": batch, "logits": batch, "kv_read": batch * (context + 1),
                "attended": batch * (context + 1)}
    parts = step_parts(shape, hw, fit, tp=tp, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                       fp8_compute=fp8_compute, **work)
    return StepTime(float(parts["ms"]), float(parts["gemm"]), float(parts["attention"]),
                    float(parts["allreduce"]), float(parts["logits"]), float(parts["overhead"]),
                    "compute" if bool(parts["gemm_compute"]) else "memory",
                    "compute" if bool(parts["attention_compute"]) else "memory")


PREFILL_KNOTS = np.unique(np.concatenate((
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0], np.arange(64.0, 1024.0, 32.0),
    np.arange(1024.0, 8192.0, 128.0), np.arange(8192.0, 65537.0, 1024.0))))
"""Prompt lengths at which a derived profile tabulates prefill (the step time is smooth, so
linear interpolation between these knots is within 0.1 % of the model)."""

DECODE_CONTEXTS = np.array([1.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0])
"""Context lengths of a derived profile's decode grid (the step time is nearly linear in the
context, so a few knots suffice)."""


def decode_batches(max_seqs: int) -> np.ndarray:
    """Batch sizes of a derived profile's decode grid: every size to 64, then every 8th."""
    top = max(2, int(max_seqs))
    return np.unique(np.concatenate((np.arange(1.0, min(top, 64) + 1.0),
                                     np.arange(64.0, top + 8.0, 8.0), [float(top)])))


def derived_profile(model, gpu, fit: LatencyFit, *, gpu_key: str, tp: int = 1,
                    weight_dtype: str = "bf16", kv_dtype: str = "bf16", max_seqs: int = 256,
                    host_overhead_ms: float = 0.0):
    """Return the :class:`~simulators.core.tokens.TokenProfile` the model predicts for ``model``
    (a ``ModelSpec``) on ``tp`` GPUs of ``gpu`` (a ``GpuSpec``, key ``gpu_key``).

    Prefill is tabulated at :data:`PREFILL_KNOTS`, decode steps at :func:`decode_batches`
    (``max_seqs``) x :data:`DECODE_CONTEXTS`; ``host_overhead_ms`` is added to every step (the
    engine's host time per step, which a CUDA-graph measurement leaves out).
    """
    shape, hw = Shape.of(model), Hardware.of(gpu)
    fp8 = dtype_bytes(weight_dtype) == 1.0 and bool(hw.fp8_tflops)
    kw = {"tp": tp, "weight_bytes": dtype_bytes(weight_dtype), "kv_bytes": dtype_bytes(kv_dtype),
          "fp8_compute": fp8}
    n = PREFILL_KNOTS
    kv, att = prefill_work(n, 0)
    pre = step_parts(shape, hw, fit, tokens=n, logits=np.ones_like(n), kv_read=kv,
                     attended=att, **kw)["ms"] + host_overhead_ms
    bb, cc = np.meshgrid(decode_batches(max_seqs), DECODE_CONTEXTS, indexing="ij")
    b, c = bb.ravel(), cc.ravel()
    dec = step_parts(shape, hw, fit, tokens=b, logits=b, kv_read=b * (c + 1.0),
                     attended=b * (c + 1.0), **kw)["ms"] + host_overhead_ms
    tp_text = f" x {tp} (tensor parallel)" if tp > 1 else ""
    derivation = (
        f"derived by the roofline latency model: {model.name} ({model.source}; weights "
        f"{weight_dtype}, KV cache {kv_dtype}) on {gpu.name}{tp_text} ({gpu.source}); fitted: "
        f"{fit.describe()} ({fit.source})"
        + ("; all-reduce derived from the link bandwidth" if tp > 1 else "")
        + (f"; plus {host_overhead_ms:g} ms of engine host time per step"
           if host_overhead_ms else ""))
    prof = token_profile(model.name, gpu.name, prefill_tokens=n, prefill_ms=pre,
                         decode_batch=b, decode_context=c, decode_ms=dec,
                         source="the roofline latency model")
    return replace(prof, gpu_key=gpu_key, derivation=derivation)


DEFAULT_HOST_OVERHEAD_MS = 1.0
"""The engine's host time per step (ms) that a CUDA-graph profile leaves out: scheduling, input
preparation, sampling and output processing. vLLM's own serving benchmark of Llama-3.2-1B with
one request in flight reports a mean TPOT of 2.73 ms (vllm-project/vllm pull request 17866, May
2025), against about 1.5 ms for that shape's CUDA-graph step on an H100 in the bundled profile:
about 1 ms of host time per step. An assumption, printed with every figure that uses it; set
``engine.host_overhead_ms`` (or fit it with ``planner llm replay --fit``) for your engine."""
