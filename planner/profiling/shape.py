"""The decoder shape a profile runs, and the device memory each grid point needs.

Torch-free: :func:`decoder_shape` reads a :class:`simulators.core.llm_models.ModelSpec` (or any
object with its fields), :func:`resolve_model` turns a ``--model`` value into one, and the
``*_bytes`` functions size the weights, the KV cache and a step's activations so that the
profiler can skip a grid point that does not fit instead of running out of memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import PlannerError

GIB = 1024.0**3

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
"""Bytes per value of the dtypes a profile can run in."""


@dataclass(frozen=True)
class DecoderShape:
    """The shape of the Llama-style decoder the profiler builds.

    Attributes
    ----------
    name : str
        The model's short name (the ``model`` column of the CSV).
    layers, hidden, intermediate, heads, kv_heads, head_dim, vocab : int
        Decoder layers, residual width, FFN width (per expert when ``experts > 0``), query heads,
        key/value heads (grouped-query attention when fewer than ``heads``), head width and
        vocabulary size.
    tied_embeddings : bool
        The lm_head shares the embedding matrix.
    experts, experts_per_token : int
        Routed experts per MoE layer and how many each token uses (0: a dense MLP).
    qkv_bias : bool
        The q, k and v projections have a bias (Qwen2).
    qk_norm : bool
        Each head's queries and keys go through an RMSNorm before the rotation (Qwen3).
    rope_theta : float
        Base of the rotary embedding's frequencies.
    """

    name: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool = False
    experts: int = 0
    experts_per_token: int = 0
    qkv_bias: bool = False
    qk_norm: bool = False
    rope_theta: float = 10_000.0

    def __post_init__(self) -> None:
        for field in ("layers", "hidden", "intermediate", "heads", "kv_heads", "head_dim",
                      "vocab"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise PlannerError(f"model {self.name!r}: {field}={value!r} must be a whole "
                                   "number >= 1")
        if self.heads % self.kv_heads:
            raise PlannerError(f"model {self.name!r}: heads={self.heads} is not a multiple of "
                               f"kv_heads={self.kv_heads}; grouped-query attention needs one")
        if self.head_dim % 2:
            raise PlannerError(f"model {self.name!r}: head_dim={self.head_dim} must be even "
                               "(rotary embeddings rotate pairs)")
        if self.experts < 0 or (self.experts and not 1 <= self.experts_per_token <= self.experts):
            raise PlannerError(f"model {self.name!r}: experts={self.experts} with "
                               f"experts_per_token={self.experts_per_token}; a MoE model needs "
                               "1 <= experts_per_token <= experts")

    @property
    def moe(self) -> bool:
        """Whether the MLPs are mixtures of experts."""
        return self.experts > 0

    def params(self) -> int:
        """Return the number of parameters the profiler allocates."""
        h, d = self.hidden, self.head_dim
        qkv = h * (self.heads + 2 * self.kv_heads) * d
        if self.qkv_bias:
            qkv += (self.heads + 2 * self.kv_heads) * d
        attn = qkv + self.heads * d * h + (2 * d if self.qk_norm else 0)
        if self.moe:
            mlp = self.experts * 3 * h * self.intermediate + self.experts * h
        else:
            mlp = 3 * h * self.intermediate
        per_layer = attn + mlp + 2 * h
        embed = self.vocab * h * (1 if self.tied_embeddings else 2)
        return self.layers * per_layer + embed + h


def decoder_shape(spec) -> DecoderShape:
    """Return the :class:`DecoderShape` of a ``ModelSpec``.

    ``intermediate`` is the dense MLP's width, or one routed expert's for a MoE model (as
    ``ModelSpec`` holds it).  Fields a spec may lack take Llama defaults: ``attention_heads =
    hidden // head_dim``, untied embeddings, no experts, no qkv bias, no q/k norm,
    ``rope_theta`` 10,000.  A ``DecoderShape`` is returned as it is.
    """
    if isinstance(spec, DecoderShape):
        return spec
    heads = getattr(spec, "attention_heads", None) or spec.hidden // spec.head_dim
    return DecoderShape(
        name=str(spec.name), layers=int(spec.layers), hidden=int(spec.hidden),
        intermediate=int(spec.intermediate), heads=int(heads), kv_heads=int(spec.kv_heads),
        head_dim=int(spec.head_dim), vocab=int(spec.vocab),
        tied_embeddings=bool(getattr(spec, "tied_embeddings", False)),
        experts=int(getattr(spec, "experts", 0) or 0),
        experts_per_token=int(getattr(spec, "experts_per_token", 0) or 0),
        qkv_bias=bool(getattr(spec, "qkv_bias", False)),
        qk_norm=bool(getattr(spec, "qk_norm", False)),
        rope_theta=float(getattr(spec, "rope_theta", None) or 10_000.0))


def resolve_model(ref: str):
    """Return the ``ModelSpec`` of a catalog name or a path to a Hugging Face ``config.json``
    (or a folder holding one), through :func:`planner.inputs_llm.load_model`.

    Raises
    ------
    PlannerError
        An unknown name or an unreadable config (the message names the value and the fix).
    """
    from planner.inputs_llm import load_model

    return load_model(ref)


# ---------------------------------------------------------------------------------------------
# Memory


def weight_bytes(shape: DecoderShape, dtype: str) -> int:
    """Return the bytes of the decoder's weights in ``dtype``."""
    return shape.params() * DTYPE_BYTES[dtype]


def kv_bytes(shape: DecoderShape, batch: int, context: int, dtype: str) -> int:
    """Return the bytes of a KV cache of ``batch`` sequences of ``context`` tokens (every
    layer, keys and values)."""
    return (2 * shape.layers * batch * shape.kv_heads * context * shape.head_dim
            * DTYPE_BYTES[dtype])


def activation_bytes(shape: DecoderShape, *, tokens: int, keys: int, logits_rows: int,
                     dtype: str, device_type: str) -> int:
    """Return a generous estimate of the peak activation memory of one step.

    Parameters
    ----------
    tokens : int
        Tokens the step computes (``n`` for a prefill, ``batch`` for a decode step).
    keys : int
        Keys each query attends to at most (``n`` for a prefill, ``context + 1`` for decode).
    logits_rows : int
        Rows of logits the step produces (1 for a prefill, ``batch`` for decode).
    device_type : str
        ``"cuda"`` (fused attention: no score matrix) or ``"cpu"`` (scores may be
        materialised: ``heads x tokens x keys`` floats are added).

    Notes
    -----
    Counts the residual stream and its normalised copy, q/k/v with their rotated copies, the
    attention output, the MLP's gate/up/activation buffers (per routed token for MoE, plus the
    router's float32 scores), and the logits with their float32 softmax-sized copy, then
    doubles the sum: a CUDA graph's private pool keeps the step's buffers, and the allocator
    rounds up.
    """
    b = DTYPE_BYTES[dtype]
    h, d = shape.hidden, shape.head_dim
    qkv = (shape.heads + 2 * shape.kv_heads) * d
    per_token = 4 * h + 2 * qkv + shape.heads * d
    if shape.moe:
        k = shape.experts_per_token
        per_token += k * (2 * h + 3 * shape.intermediate) + 2 * shape.experts * 4 // b
    else:
        per_token += 3 * shape.intermediate
    total = tokens * per_token * b + logits_rows * shape.vocab * (b + 4)
    if device_type != "cuda":
        total += shape.heads * tokens * keys * 4
    return 2 * total


@dataclass(frozen=True)
class Footprint:
    """The memory one grid point needs, in bytes."""

    weights: int
    kv_cache: int
    activations: int

    @property
    def total(self) -> int:
        """Weights + KV cache + activations."""
        return self.weights + self.kv_cache + self.activations

    def describe(self, budget: float) -> str:
        """Return 'weights X GiB + KV cache Y GiB + activations Z GiB = T GiB > budget B GiB'."""
        return (f"weights {gib(self.weights)} + KV cache {gib(self.kv_cache)} + activations "
                f"{gib(self.activations)} = {gib(self.total)} > memory budget {gib(budget)}")


def prefill_footprint(shape: DecoderShape, tokens: int, dtype: str,
                      device_type: str) -> Footprint:
    """Return the memory of a prefill of ``tokens`` prompt tokens (one sequence)."""
    return Footprint(weight_bytes(shape, dtype), kv_bytes(shape, 1, tokens, dtype),
                     activation_bytes(shape, tokens=tokens, keys=tokens, logits_rows=1,
                                      dtype=dtype, device_type=device_type))


def decode_footprint(shape: DecoderShape, batch: int, context: int, dtype: str,
                     device_type: str) -> Footprint:
    """Return the memory of a decode step of ``batch`` sequences with ``context`` cached
    tokens each (the cache holds ``context + 1`` slots: the new token's too)."""
    return Footprint(weight_bytes(shape, dtype), kv_bytes(shape, batch, context + 1, dtype),
                     activation_bytes(shape, tokens=batch, keys=context + 1, logits_rows=batch,
                                      dtype=dtype, device_type=device_type))


def gib(n: float) -> str:
    """Return ``n`` bytes as a short GiB figure (``0.25 GiB``, ``15.0 GiB``)."""
    g = n / GIB
    return f"{g:.2f} GiB" if g < 10 else f"{g:.1f} GiB"
