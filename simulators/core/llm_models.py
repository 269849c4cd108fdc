"""Model shapes of LLMs, what they weigh, and the KV-cache capacity they leave on a GPU.

An engine (vLLM, SGLang, TGI) gives the KV cache what is left of ``gpu_memory_utilization`` x
GPU memory after the weights and a reserve for activations; the cache is split into blocks of
``block_size`` tokens. A :class:`ModelSpec` holds the shape that decides both and counts the
parameters from it (:meth:`ModelSpec.parameters`); :func:`kv_cache_tokens` computes the
capacity in tokens.

Shapes come from the bundled catalog :data:`MODEL_SPECS` (the ``config.json`` keys of each
model on Hugging Face, in :mod:`simulators.core.model_catalog`) or from a user's
``config.json`` (read by :func:`planner.inputs_llm.model_from_hf_config`; ``load_model`` there
takes either). Both go through the one reader :func:`model_from_config`. This module reads no
files.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import SimulationError
from simulators.core.model_catalog import ALIASES, CATALOG

GIB = 1024.0**3

DTYPE_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0}
"""Bytes per value of the dtypes weights and the KV cache are held in."""

AUTO_DTYPE = "bf16"
"""What ``"auto"`` means: engines take the checkpoint's ``torch_dtype``, which is bf16 for every
catalog model (and vLLM's ``kv_cache_dtype="auto"`` follows the model's dtype)."""

_DTYPE_ALIASES = {
    "float32": "fp32", "float": "fp32", "f32": "fp32",
    "float16": "fp16", "half": "fp16", "f16": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8", "fp8_e4m3": "fp8", "fp8_e4m3fn": "fp8", "fp8_e5m2": "fp8", "e4m3": "fp8",
    "e5m2": "fp8", "float8_e4m3fn": "fp8", "float8_e4m3fnuz": "fp8", "float8_e5m2": "fp8",
    "auto": AUTO_DTYPE,
}


def _dtype_key(dtype) -> str | float:
    """Return the canonical dtype name, or the bytes per value when ``dtype`` is a number."""
    if isinstance(dtype, (int, float)) and not isinstance(dtype, bool):
        if math.isfinite(dtype) and dtype > 0:
            return float(dtype)
        raise SimulationError(f"bytes per value must be a number > 0 (got {dtype!r})")
    key = str(dtype).strip().lower().removeprefix("torch.")
    key = _DTYPE_ALIASES.get(key, key)
    if key not in DTYPE_BYTES:
        raise SimulationError(
            f"dtype {dtype!r} is not known; use one of {', '.join(DTYPE_BYTES)} (also accepted: "
            f"{', '.join(_DTYPE_ALIASES)}; 'auto' = {AUTO_DTYPE}) or a number of bytes")
    return key


def dtype_name(dtype) -> str:
    """Return the canonical name of ``dtype`` (``"bfloat16"`` -> ``"bf16"``; ``1.0`` ->
    ``"1 byte"``).

    Raises
    ------
    SimulationError
        When ``dtype`` is neither a known name nor a number of bytes > 0.
    """
    key = _dtype_key(dtype)
    if isinstance(key, float):
        return f"{key:g} byte" + ("" if key == 1 else "s")
    return key


def dtype_bytes(dtype) -> float:
    """Return the bytes per value of ``dtype``: a name (``bf16``, ``float16``, ``fp8_e4m3``,
    ``auto`` = :data:`AUTO_DTYPE`, ...) or a number of bytes (kept as given).

    Raises
    ------
    SimulationError
        When ``dtype`` is neither a known name nor a number of bytes > 0.
    """
    key = _dtype_key(dtype)
    return key if isinstance(key, float) else DTYPE_BYTES[key]


@dataclass(frozen=True)
class ModelSpec:
    """The shape of one decoder-only transformer (gated MLP or mixture of gated experts).

    Attributes
    ----------
    name : str
        Short name (the ``model:`` of a design) or the name of a user's ``config.json``.
    layers, hidden, attention_heads, kv_heads, vocab : int
        ``num_hidden_layers``, ``hidden_size``, ``num_attention_heads``,
        ``num_key_value_heads``, ``vocab_size``.
    intermediate : int
        The dense MLP's ``intermediate_size``; for MoE models the size of one routed expert
        (Mixtral: ``intermediate_size``; Qwen3-MoE: ``moe_intermediate_size``).
    head_dim : int
        ``head_dim`` where the config states it, else ``hidden // attention_heads``.
    tied_embeddings : bool
        ``tie_word_embeddings``: the LM head reuses the input embeddings.
    source : str
        Where the numbers come from (the Hugging Face repository, or the file).
    experts, experts_per_token : int
        Routed experts per layer and experts a token uses (0 and 0 for a dense model).
    qkv_bias : bool
        Biases on the q, k and v projections (Qwen2/2.5; Llama's ``attention_bias``).
    qk_norm : bool
        RMSNorm on each head's queries and keys (Qwen3): ``2 x head_dim`` weights a layer.
    """

    name: str
    layers: int
    hidden: int
    intermediate: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    source: str
    experts: int = 0
    experts_per_token: int = 0
    qkv_bias: bool = False
    qk_norm: bool = False

    def __post_init__(self):
        for field in ("layers", "hidden", "intermediate", "attention_heads", "kv_heads",
                      "head_dim", "vocab"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SimulationError(f"model {self.name}: {field} must be a whole number >= 1 "
                                      f"(got {value!r})")
        if self.attention_heads % self.kv_heads:
            raise SimulationError(
                f"model {self.name}: {self.attention_heads} attention heads do not split into "
                f"groups of {self.kv_heads} KV heads; kv_heads must divide attention_heads")
        if self.experts < 0 or not (0 < self.experts_per_token <= self.experts
                                    if self.experts else self.experts_per_token == 0):
            raise SimulationError(
                f"model {self.name}: need 1 <= experts_per_token <= experts for an MoE model, "
                f"or both 0 for a dense one (got {self.experts_per_token} of {self.experts})")

    @property
    def is_moe(self) -> bool:
        """Whether the MLP is a mixture of routed experts."""
        return self.experts > 0

    @property
    def q_dim(self) -> int:
        """Width of the queries (and of the attention output): ``attention_heads x head_dim``."""
        return self.attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values): ``kv_heads x head_dim``."""
        return self.kv_heads * self.head_dim

    def attention_parameters(self) -> float:
        """Return one layer's attention parameters: q, k, v, o projections, their biases and
        the q/k norms."""
        p = 2.0 * self.hidden * self.q_dim + 2.0 * self.hidden * self.kv_dim
        if self.qkv_bias:
            p += self.q_dim + 2.0 * self.kv_dim
        if self.qk_norm:
            p += 2.0 * self.head_dim
        return p

    def expert_parameters(self) -> float:
        """Return the parameters of one gated MLP (gate, up, down): the dense MLP, or one
        routed expert."""
        return 3.0 * self.hidden * self.intermediate

    def mlp_parameters(self, *, active: bool = False) -> float:
        """Return one layer's MLP parameters: the dense MLP, or the router and every expert
        (``active``: the ``experts_per_token`` experts one token uses)."""
        if not self.is_moe:
            return self.expert_parameters()
        used = self.experts_per_token if active else self.experts
        return used * self.expert_parameters() + self.hidden * self.experts

    def layer_parameters(self, *, active: bool = False) -> float:
        """Return one decoder layer's parameters (attention, MLP, its two RMSNorms)."""
        return self.attention_parameters() + self.mlp_parameters(active=active) + 2.0 * self.hidden

    def embedding_parameters(self) -> float:
        """Return the input embeddings plus the LM head (none of its own when tied)."""
        return self.vocab * self.hidden * (1.0 if self.tied_embeddings else 2.0)

    def parameters(self) -> float:
        """Return the total parameter count, from the shape: embeddings, LM head unless tied,
        every layer (with all experts), the final norm."""
        return self.layers * self.layer_parameters() + self.embedding_parameters() + self.hidden

    def active_parameters(self) -> float:
        """Return the parameters one token uses: :meth:`parameters` with ``experts_per_token``
        experts a layer instead of all (the same as :meth:`parameters` for a dense model)."""
        return (self.layers * self.layer_parameters(active=True) + self.embedding_parameters()
                + self.hidden)

    @property
    def params_b(self) -> float:
        """Total parameters, billions (:meth:`parameters` / 1e9)."""
        return self.parameters() / 1e9

    def weight_bytes(self, dtype="bf16") -> float:
        """Return the weights' size in bytes in ``dtype`` (a name such as ``"fp8"``, or bytes a
        parameter, as in ``weight_bytes(2.0)``)."""
        return self.parameters() * dtype_bytes(dtype)

    def kv_bytes_per_token(self, dtype="bf16") -> float:
        """Return the KV cache one token takes: keys and values of every layer,
        ``2 x layers x kv_heads x head_dim x`` bytes of ``dtype``."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * dtype_bytes(dtype)


# --- reading a Hugging Face config.json -------------------------------------------------------

_UNSUPPORTED_FIX = ("this reader covers decoders with a gated MLP or uniform routed experts "
                    "(Llama, Mistral, Mixtral, Qwen2, Qwen3, Qwen3-MoE); give "
                    "engine.kv_cache_tokens instead")


def _whole(cfg: Mapping, key: str, where: str, *, default=None, minimum: int = 1) -> int:
    """Return ``cfg[key]`` as an int >= ``minimum``; ``default`` when absent or null."""
    value = cfg.get(key)
    if value is None:
        if default is not None:
            return default
        raise SimulationError(
            f"{where}: {key} is missing; every decoder-only model's config.json states it "
            "(use the file from the model's Hugging Face repository unchanged)")
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value != int(value) or value < minimum):
        raise SimulationError(f"{where}: {key} is {value!r}; it must be a whole number "
                              f">= {minimum}; fix the value (the model's Hugging Face "
                              "config.json has it)")
    return int(value)


def _flag(cfg: Mapping, key: str, where: str) -> bool:
    """Return the boolean ``cfg[key]`` (False when absent or null)."""
    value = cfg.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SimulationError(f"{where}: {key} is {value!r}; it must be true or false")
    return value


def _reject_unsupported(cfg: Mapping, where: str) -> None:
    """Raise for shapes a ``ModelSpec`` cannot hold (and would silently miscount)."""
    archs = cfg.get("architectures")
    if isinstance(archs, list) and archs and not any(
            str(a).endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs):
        raise SimulationError(f"{where}: architectures is {archs!r}, not a causal language "
                              f"model (...ForCausalLM); {_UNSUPPORTED_FIX}")
    if cfg.get("kv_lora_rank") is not None:
        raise SimulationError(f"{where}: kv_lora_rank is {cfg['kv_lora_rank']!r}: multi-head "
                              f"latent attention (DeepSeek) is not modelled; {_UNSUPPORTED_FIX}")
    for key in ("shared_expert_intermediate_size", "n_shared_experts", "first_k_dense_replace"):
        if cfg.get(key):
            raise SimulationError(f"{where}: {key} is {cfg[key]!r}: shared experts or dense "
                                  f"layers beside the routed ones are not modelled; "
                                  f"{_UNSUPPORTED_FIX}")
    if cfg.get("mlp_only_layers") or cfg.get("decoder_sparse_step", 1) not in (None, 1):
        raise SimulationError(
            f"{where}: mlp_only_layers {cfg.get('mlp_only_layers')!r} / decoder_sparse_step "
            f"{cfg.get('decoder_sparse_step')!r} mix dense and MoE layers, which is not "
            f"modelled; {_UNSUPPORTED_FIX}")


def model_from_config(config: Mapping, *, path: str = "config.json", name: str | None = None,
                      source: str | None = None) -> ModelSpec:
    """Return the shape stated by the keys of a Hugging Face ``config.json`` (already parsed).

    Reads ``num_hidden_layers``, ``hidden_size``, ``intermediate_size`` (``moe_intermediate_size``
    for Qwen-MoE experts), ``num_attention_heads``, ``num_key_value_heads`` (default: the
    attention heads, as transformers does), ``head_dim`` (default ``hidden / heads``),
    ``vocab_size``, ``tie_word_embeddings`` (default false), the experts
    (``num_local_experts`` or ``num_experts``, ``num_experts_per_tok``) and, for a multimodal
    config without ``hidden_size``, its ``text_config``. Qwen2 models get q/k/v biases, Qwen3
    models q/k norms (their modelling code has them; the config does not say); Llama's
    ``attention_bias`` counts as q/k/v biases (its o-projection bias, ``hidden`` a layer, is
    left out). The MLP is taken to be gated (gate, up, down), as in every family above.

    Parameters
    ----------
    config : Mapping
        The parsed file.
    path : str
        The file, for messages (and the name, when neither ``name`` nor ``_name_or_path``).
    name, source : str, optional
        The spec's name and source (default: ``_name_or_path`` or the folder; the path).

    Raises
    ------
    SimulationError
        A required key is missing, a value is not a whole number, or the shape is one this
        module cannot count (latent attention, shared experts, mixed dense/MoE layers).
    """
    where = str(path)
    if not isinstance(config, Mapping):
        raise SimulationError(f"{where}: holds {type(config).__name__}, not a JSON object of "
                              "config keys; give the model's Hugging Face config.json")
    cfg = config
    if cfg.get("hidden_size") is None and isinstance(cfg.get("text_config"), Mapping):
        cfg, where = cfg["text_config"], f"{where} (text_config)"
    _reject_unsupported(cfg, where)
    hidden = _whole(cfg, "hidden_size", where)
    heads = _whole(cfg, "num_attention_heads", where)
    kv_heads = _whole(cfg, "num_key_value_heads", where, default=heads)
    if heads % kv_heads:
        raise SimulationError(f"{where}: num_key_value_heads is {kv_heads}, which does not "
                              f"divide num_attention_heads {heads}; fix one of them")
    if cfg.get("head_dim") is not None:
        head_dim = _whole(cfg, "head_dim", where)
    elif hidden % heads:
        raise SimulationError(f"{where}: head_dim is missing and hidden_size {hidden} is not a "
                              f"multiple of num_attention_heads {heads}; add head_dim")
    else:
        head_dim = hidden // heads
    expert_key = "num_local_experts" if cfg.get("num_local_experts") else "num_experts"
    experts = _whole(cfg, expert_key, where, default=0, minimum=0)
    per_token = _whole(cfg, "num_experts_per_tok", where, minimum=1) if experts else 0
    if per_token > experts:
        raise SimulationError(f"{where}: num_experts_per_tok is {per_token}, more than the "
                              f"{experts} experts ({expert_key}); fix one of them")
    ffn_key = ("moe_intermediate_size" if experts and cfg.get("moe_intermediate_size") is not None
               else "intermediate_size")
    model_type = str(cfg.get("model_type") or config.get("model_type") or "").lower()
    if name is None:
        raw = config.get("_name_or_path")
        raw = raw.strip().rstrip("/\\") if isinstance(raw, str) else ""
        if os.path.isabs(raw) or raw.startswith((".", "~")):
            raw = os.path.basename(raw)  # a local folder: its own name
        name = raw or os.path.basename(os.path.dirname(os.path.abspath(str(path)))) or "model"
    return ModelSpec(
        name=name, layers=_whole(cfg, "num_hidden_layers", where), hidden=hidden,
        intermediate=_whole(cfg, ffn_key, where), attention_heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, vocab=_whole(cfg, "vocab_size", where),
        tied_embeddings=_flag(cfg, "tie_word_embeddings", where),
        source=source or f"Hugging Face config.json at {path}", experts=experts,
        experts_per_token=per_token,
        qkv_bias=model_type.startswith("qwen2") or _flag(cfg, "attention_bias", where),
        qk_norm=model_type.startswith("qwen3"))


# --- the catalog ------------------------------------------------------------------------------

_HF = "Hugging Face config.json of "
MODEL_SPECS: dict[str, ModelSpec] = {
    short: model_from_config(keys, path=f"catalog entry {short}", name=short, source=_HF + repo)
    for short, (repo, keys) in CATALOG.items()}
"""The bundled shapes, by lower-case short name (see :mod:`simulators.core.model_catalog`)."""

_SUFFIXES = re.compile(r"-(?:hf|instruct|chat|base|it)(?=-|$)")


def _catalog_key(name: str) -> tuple[str | None, str]:
    """Return (the catalog key ``name`` resolves to or None, the normalised name)."""
    key = str(name).strip().lower().rstrip("/").split("/")[-1].removeprefix("meta-")
    for candidate in (key, re.sub(r"-\d{4}$", "", _SUFFIXES.sub("", key))):
        if candidate in MODEL_SPECS:
            return candidate, key
        if candidate in ALIASES:
            return ALIASES[candidate], key
    return None, key


def model_spec(name: str) -> ModelSpec:
    """Return the catalog shape of model ``name``.

    Case, an org prefix (``meta-llama/``), ``Meta-`` and the suffixes ``-hf``, ``-Instruct``,
    ``-chat``, ``-Base``, ``-it`` and a trailing date (``-2507``) are ignored, and
    :data:`~simulators.core.model_catalog.ALIASES` map versions (``Mixtral-8x7B-v0.1``).

    Raises
    ------
    SimulationError
        For a name not in the catalog, with the closest known name.
    """
    found, key = _catalog_key(name)
    if found is not None:
        return MODEL_SPECS[found]
    close = difflib.get_close_matches(_SUFFIXES.sub("", key), [*MODEL_SPECS, *ALIASES], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SimulationError(
        f"model {name!r} has no shape on record{hint}; known: {', '.join(MODEL_SPECS)}; give "
        "the path of the model's Hugging Face config.json instead, or engine.kv_cache_tokens, "
        "or add the model to simulators.core.model_catalog from its config.json")


# --- KV-cache capacity ------------------------------------------------------------------------

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
                    max_num_seqs: int = 256, block_size: int = 16, weight_dtype="bf16",
                    kv_dtype="bf16") -> KvCapacity:
    """Return the KV-cache capacity (tokens) of one replica of ``tensor_parallel`` GPUs.

    ``tp x gpu_memory_gib x gpu_memory_utilization`` minus the weights (in ``weight_dtype``),
    minus per GPU the activation peak of one step of ``max_num_batched_tokens`` tokens (the
    MLP's gate, up and down activations, times ``experts_per_token`` for MoE, and four
    hidden-sized buffers, bf16, split over ``tp``), the fp32 logits of ``max_num_seqs``
    sequences, and :data:`RUNTIME_RESERVE_GIB`; divided by the KV bytes of a token (in
    ``kv_dtype``) and rounded down to whole blocks. The dtypes take any name
    :func:`dtype_bytes` does; fp8 halves the bf16 bytes.

    Raises
    ------
    SimulationError
        When the weights and reserves do not fit (no room for any KV cache), or for an unknown
        dtype.
    """
    tp = int(tensor_parallel)
    if tp < 1 or gpu_memory_gib <= 0 or not 0 < gpu_memory_utilization <= 1:
        raise SimulationError(
            f"need tensor_parallel >= 1, gpu_memory_gib > 0 and 0 < gpu_memory_utilization <= 1 "
            f"(got {tensor_parallel}, {gpu_memory_gib}, {gpu_memory_utilization})")
    w_name, kv_name = dtype_name(weight_dtype), dtype_name(kv_dtype)
    weights = model.weight_bytes(weight_dtype)
    ffn = 3 * model.intermediate * max(1, model.experts_per_token)
    act_per_gpu = (max_num_batched_tokens * (ffn + 4 * model.hidden) * 2.0
                   / tp + max_num_seqs * model.vocab * 4.0 + RUNTIME_RESERVE_GIB * GIB)
    budget = tp * gpu_memory_gib * GIB * gpu_memory_utilization - weights - tp * act_per_gpu
    per_token = model.kv_bytes_per_token(kv_dtype)
    blocks = math.floor(budget / per_token / block_size) if budget > 0 else 0
    # bf16 (the default) goes unnamed: the derivations pinned in tests/golden read so
    w_note = "" if w_name in ("bf16", dtype_name(2.0)) else f" ({w_name})"
    kv_value = dtype_bytes(kv_dtype)
    kv_note = (dtype_name(kv_value) + ("" if kv_name in ("bf16", dtype_name(kv_value))
                                       else f" ({kv_name})"))
    if blocks < 1:
        need = (weights + tp * act_per_gpu) / (tp * GIB * gpu_memory_utilization)
        raise SimulationError(
            f"{model.name} does not fit on {tp} GPU(s) of {gpu_memory_gib:g} GiB at "
            f"gpu_memory_utilization {gpu_memory_utilization:g}: weights "
            f"{weights / GIB:.1f} GiB{w_note} + reserves leave no KV cache; use GPUs of at least "
            f"{need:.0f} GiB, a larger tensor_parallel, a higher gpu_memory_utilization"
            + (", or fp8 weights" if dtype_bytes(weight_dtype) > 1 else ""))
    tokens = blocks * block_size
    derivation = (
        f"KV cache {tokens:,} tokens per replica = ({tp} x {gpu_memory_gib:g} GiB x "
        f"{gpu_memory_utilization:g} - weights {weights / GIB:.1f} GiB{w_note} - activations "
        f"and runtime {tp * act_per_gpu / GIB:.2f} GiB) / {per_token / 1024:.0f} KiB per token "
        f"({model.name}: {model.layers} layers x {model.kv_heads} KV heads x "
        f"{model.head_dim} x 2 (K, V) x {kv_note})")
    return KvCapacity(tokens, tp * gpu_memory_gib * gpu_memory_utilization, weights / GIB,
                      tp * act_per_gpu / GIB, per_token, derivation)
