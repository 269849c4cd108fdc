"""Model shapes of LLMs and the KV-cache capacity they leave on a GPU.

An engine (vLLM, SGLang, TGI) gives the KV cache what is left of ``gpu_memory_utilization`` x
GPU memory after the weights and a reserve for activations; the cache is split into blocks of
``block_size`` tokens. This module holds the shapes that decide both (from each model's
``config.json`` on Hugging Face) and computes the capacity in tokens (:func:`kv_cache_tokens`).
It reads no files.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from domain.errors import SimulationError

GIB = 1024.0**3


@dataclass(frozen=True)
class ModelSpec:
    """The shape of one decoder-only transformer.

    Attributes
    ----------
    name : str
        Short name (the ``model:`` of a design).
    params_b : float
        Parameters (billions), counted with embeddings.
    layers, hidden, intermediate, kv_heads, head_dim, vocab : int
        ``num_hidden_layers``, ``hidden_size``, ``intermediate_size``,
        ``num_key_value_heads``, ``hidden_size / num_attention_heads``, ``vocab_size``.
    source : str
        Where the numbers come from.
    """

    name: str
    params_b: float
    layers: int
    hidden: int
    intermediate: int
    kv_heads: int
    head_dim: int
    vocab: int
    source: str

    def weight_bytes(self, bytes_per_param: float = 2.0) -> float:
        """Return the weights' size in bytes (bf16/fp16: 2 bytes a parameter)."""
        return self.params_b * 1e9 * bytes_per_param

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """Return the KV cache one token takes: keys and values of every layer."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


_HF = "Hugging Face config.json of "
MODEL_SPECS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("llama-3-8b", 8.03, 32, 4096, 14336, 8, 128, 128256,
              _HF + "meta-llama/Meta-Llama-3-8B"),
    ModelSpec("llama-3.1-8b", 8.03, 32, 4096, 14336, 8, 128, 128256,
              _HF + "meta-llama/Llama-3.1-8B"),
    ModelSpec("llama-3-70b", 70.55, 80, 8192, 28672, 8, 128, 128256,
              _HF + "meta-llama/Meta-Llama-3-70B"),
    ModelSpec("llama-3.2-1b", 1.24, 16, 2048, 8192, 8, 64, 128256,
              _HF + "meta-llama/Llama-3.2-1B"),
    ModelSpec("llama-2-7b", 6.74, 32, 4096, 11008, 32, 128, 32000,
              _HF + "meta-llama/Llama-2-7b-hf"),
    ModelSpec("mistral-7b", 7.24, 32, 4096, 14336, 8, 128, 32768,
              _HF + "mistralai/Mistral-7B-v0.3"),
    ModelSpec("qwen2.5-7b", 7.62, 28, 3584, 18944, 4, 128, 152064,
              _HF + "Qwen/Qwen2.5-7B"),
)}


def model_spec(name: str) -> ModelSpec:
    """Return the shape of model ``name`` (``llama-3.1-8b``; case and ``meta-llama/`` ignored)."""
    key = str(name).lower().split("/")[-1].replace("meta-", "")
    if key in MODEL_SPECS:
        return MODEL_SPECS[key]
    close = difflib.get_close_matches(key, list(MODEL_SPECS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SimulationError(
        f"model {name!r} has no shape on record{hint}; known: {', '.join(MODEL_SPECS)}; give "
        "engine.kv_cache_tokens instead, or add the model to "
        "simulators.core.llm_models.MODEL_SPECS from its config.json")


RUNTIME_RESERVE_GIB = 1.0
"""Per GPU: CUDA context, cuBLAS/NCCL workspaces and CUDA graphs, which engines keep outside
the KV cache (vLLM's 'non-torch' memory is typically 0.5-1.5 GiB)."""


@dataclass(frozen=True)
class KvCapacity:
    """The KV cache of one replica and how it was derived."""

    tokens: int
    per_gpu_budget_gib: float
    weights_gib: float
    activation_gib: float
    bytes_per_token: float
    derivation: str


def kv_cache_tokens(model: ModelSpec, *, gpu_memory_gib: float, tensor_parallel: int = 1,
                    gpu_memory_utilization: float = 0.9, max_num_batched_tokens: int = 2048,
                    max_num_seqs: int = 256, block_size: int = 16) -> KvCapacity:
    """Return the KV-cache capacity (tokens) of one replica of ``tensor_parallel`` GPUs.

    ``tp x gpu_memory_gib x gpu_memory_utilization`` minus the weights (bf16), minus per GPU
    the activation peak of one step of ``max_num_batched_tokens`` tokens (the MLP's gate, up and
    down activations and four hidden-sized buffers, bf16, split over ``tp``), the fp32 logits of
    ``max_num_seqs`` sequences, and :data:`RUNTIME_RESERVE_GIB`; divided by the KV bytes of a
    token and rounded down to whole blocks.

    Raises
    ------
    SimulationError
        When the weights and reserves do not fit (no room for any KV cache).
    """
    tp = int(tensor_parallel)
    if tp < 1 or gpu_memory_gib <= 0 or not 0 < gpu_memory_utilization <= 1:
        raise SimulationError(
            f"need tensor_parallel >= 1, gpu_memory_gib > 0 and 0 < gpu_memory_utilization <= 1 "
            f"(got {tensor_parallel}, {gpu_memory_gib}, {gpu_memory_utilization})")
    weights = model.weight_bytes()
    act_per_gpu = (max_num_batched_tokens * (3 * model.intermediate + 4 * model.hidden) * 2.0
                   / tp + max_num_seqs * model.vocab * 4.0 + RUNTIME_RESERVE_GIB * GIB)
    budget = tp * gpu_memory_gib * GIB * gpu_memory_utilization - weights - tp * act_per_gpu
    per_token = model.kv_bytes_per_token()
    blocks = math.floor(budget / per_token / block_size) if budget > 0 else 0
    if blocks < 1:
        need = (weights + tp * act_per_gpu) / (tp * GIB * gpu_memory_utilization)
        raise SimulationError(
            f"{model.name} does not fit on {tp} GPU(s) of {gpu_memory_gib:g} GiB at "
            f"gpu_memory_utilization {gpu_memory_utilization:g}: weights "
            f"{weights / GIB:.1f} GiB + reserves leave no KV cache; use GPUs of at least "
            f"{need:.0f} GiB, a larger tensor_parallel, or a higher gpu_memory_utilization")
    tokens = blocks * block_size
    derivation = (
        f"KV cache {tokens:,} tokens per replica = ({tp} x {gpu_memory_gib:g} GiB x "
        f"{gpu_memory_utilization:g} - weights {weights / GIB:.1f} GiB - activations and "
        f"runtime {tp * act_per_gpu / GIB:.2f} GiB) / {per_token / 1024:.0f} KiB per token "
        f"({model.name}: {model.layers} layers x {model.kv_heads} KV heads x "
        f"{model.head_dim} x 2 (K, V) x 2 bytes)")
    return KvCapacity(tokens, tp * gpu_memory_gib * gpu_memory_utilization, weights / GIB,
                      tp * act_per_gpu / GIB, per_token, derivation)
