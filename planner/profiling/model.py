"""A Llama-style decoder in plain PyTorch, with random weights and a preallocated KV cache.

The decoder the profiler times: token embedding, ``layers`` x (RMSNorm, fused q/k/v projection
with optional bias, rotary embeddings, grouped-query attention through
``torch.nn.functional.scaled_dot_product_attention``, output projection, RMSNorm, SwiGLU MLP or
a mixture of experts), a final RMSNorm and the lm_head (Qwen3's per-head q/k RMSNorm when the
shape has one).  Two steps, as a serving engine runs them:

* :meth:`Decoder.prefill`: one sequence of ``n`` prompt tokens, causal attention, its keys and
  values written to a cache slot; logits of the last token only.
* :meth:`Decoder.decode`: one new token for each of ``b`` sequences whose cache slots hold
  ``c`` tokens; the new keys and values are written at position ``c`` and each query attends
  to the ``c + 1`` cached keys (no mask needed).

Weights are ``normal(0, init_std)`` from a seeded generator on the device (values do not change
the timing; a small std keeps float16 finite).  MoE layers route each token to its top-k
experts (softmax, renormalised over the k chosen) and run every expert on the tokens gathered
for it; how many tokens each expert gets is data dependent, so a :class:`MoePlan` records the
counts of an eager pass and replays them, which lets a CUDA graph capture the step (the routing,
gathering and scattering still run on the device on every replay; with the same inputs the
counts are the same).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from planner.profiling.shape import DecoderShape

__all__ = ["DTYPES", "Decoder", "KvCache", "MoePlan"]

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}

RMS_EPS = 1e-5

_GQA_KWARG = tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5)
"""``scaled_dot_product_attention`` takes ``enable_gqa`` from PyTorch 2.5 on."""


class KvCache:
    """Keys and values of every layer: one preallocated block, viewed per layer.

    ``k(i)`` and ``v(i)`` are ``(max_batch, kv_heads, max_context, head_dim)`` views of layer
    ``i``.  The block is filled with small random values (not left uninitialised) so that
    attention over it reads finite numbers.
    """

    def __init__(self, shape: DecoderShape, *, max_batch: int, max_context: int,
                 device: torch.device | str, dtype: torch.dtype, seed: int = 0) -> None:
        self.max_batch = int(max_batch)
        self.max_context = int(max_context)
        self.data = torch.empty((shape.layers, 2, self.max_batch, shape.kv_heads,
                                 self.max_context, shape.head_dim), device=device, dtype=dtype)
        gen = torch.Generator(device=self.data.device).manual_seed(seed)
        self.data.normal_(0.0, 1.0, generator=gen)

    def k(self, layer: int) -> torch.Tensor:
        """Return the keys of ``layer``: ``(max_batch, kv_heads, max_context, head_dim)``."""
        return self.data[layer, 0]

    def v(self, layer: int) -> torch.Tensor:
        """Return the values of ``layer``: ``(max_batch, kv_heads, max_context, head_dim)``."""
        return self.data[layer, 1]


class MoePlan:
    """Tokens per expert of every MoE layer, recorded by an eager pass and replayed.

    A fresh plan records: each MoE layer counts its tokens per expert on the device and copies
    the counts to the host (a synchronisation).  After :meth:`freeze`, the layers use the
    recorded counts instead, so the step contains no host synchronisation and can be captured
    in a CUDA graph.  The counts are right as long as the step's inputs are the same as in the
    recording pass.
    """

    def __init__(self) -> None:
        self.counts: dict[int, list[int]] = {}
        self.frozen = False

    def freeze(self) -> MoePlan:
        """Replay the recorded counts from now on; return self."""
        self.frozen = True
        return self

    def tokens_per_expert(self, layer: int, expert_ids: torch.Tensor, experts: int) -> list[int]:
        """Return the tokens routed to each expert in ``layer`` (recorded or replayed)."""
        if self.frozen:
            return self.counts[layer]
        counts = torch.bincount(expert_ids, minlength=experts).tolist()
        self.counts[layer] = counts
        return counts


class _Layer:
    """The weights of one decoder layer (plain tensors)."""

    def __init__(self, shape: DecoderShape, new) -> None:
        h, d = shape.hidden, shape.head_dim
        qkv = (shape.heads + 2 * shape.kv_heads) * d
        self.attn_norm = new((h,), ones=True)
        self.qkv = new((qkv, h))
        self.qkv_bias = new((qkv,)) if shape.qkv_bias else None
        self.q_norm = new((d,), ones=True) if shape.qk_norm else None
        self.k_norm = new((d,), ones=True) if shape.qk_norm else None
        self.o = new((h, shape.heads * d))
        self.mlp_norm = new((h,), ones=True)
        i = shape.intermediate
        if shape.moe:
            self.router = new((shape.experts, h))
            self.gate_up = new((shape.experts, 2 * i, h))
            self.down = new((shape.experts, h, i))
        else:
            self.router = None
            self.gate_up = new((2 * i, h))
            self.down = new((h, i))


class Decoder:
    """A Llama-style decoder with random weights (see the module docstring).

    Parameters
    ----------
    shape : DecoderShape
        Layers, widths, heads, vocabulary, experts.
    device : torch.device or str
        Where the weights live.
    dtype : torch.dtype
        Weights, activations and KV cache (RMSNorm and the router's softmax run in float32).
    max_positions : int
        Longest position the rotary tables cover (prefill length, or decode context + 1).
    seed : int
        Seed of the weights' generator.
    init_std : float
        Standard deviation of the weights (norm weights are ones).
    """

    def __init__(self, shape: DecoderShape, *, device: torch.device | str, dtype: torch.dtype,
                 max_positions: int, seed: int = 0, init_std: float = 0.02) -> None:
        self.shape = shape
        self.device = torch.device(device)
        self.dtype = dtype
        gen = torch.Generator(device=self.device).manual_seed(seed)

        def new(size: tuple[int, ...], ones: bool = False) -> torch.Tensor:
            t = torch.empty(size, device=self.device, dtype=dtype)
            return t.fill_(1.0) if ones else t.normal_(0.0, init_std, generator=gen)

        self.embed = new((shape.vocab, shape.hidden))
        self.layers = [_Layer(shape, new) for _ in range(shape.layers)]
        self.final_norm = new((shape.hidden,), ones=True)
        self.lm_head = self.embed if shape.tied_embeddings else new((shape.vocab, shape.hidden))
        # SDPA's enable_gqa runs only in its flash backend (CUDA, 16-bit, head_dim <= 256);
        # elsewhere it would fall back to the math backend, which materialises the scores,
        # so the KV heads are repeated instead
        self.native_gqa = (_GQA_KWARG and self.device.type == "cuda"
                           and dtype in (torch.float16, torch.bfloat16) and shape.head_dim <= 256)
        self.cos, self.sin = rope_tables(shape.head_dim, int(max_positions), shape.rope_theta,
                                         device=self.device, dtype=dtype)

    # -----------------------------------------------------------------------------------------
    # Steps

    def prefill(self, tokens: torch.Tensor, cache: KvCache, *, slot: int = 0,
                moe: MoePlan | None = None) -> torch.Tensor:
        """Run one sequence's prompt: ``tokens`` (``int64[n]``) at positions ``0..n-1``.

        Writes the keys and values to ``cache`` slot ``slot`` (positions ``0..n-1``) and
        returns the logits of the last token, ``(1, vocab)``.
        """
        n = tokens.shape[0]
        positions = torch.arange(n, device=tokens.device)
        s = self.shape
        group = s.heads // s.kv_heads

        def attend(i: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            k, v = k.transpose(0, 1), v.transpose(0, 1)  # (kv_heads, n, d)
            cache.k(i)[slot, :, :n] = k
            cache.v(i)[slot, :, :n] = v
            q = q.transpose(0, 1).unsqueeze(0)  # (1, heads, n, d)
            k, v = k.unsqueeze(0), v.unsqueeze(0)
            if group == 1:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            elif self.native_gqa:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:
                out = F.scaled_dot_product_attention(
                    q, k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1),
                    is_causal=True)
            return out[0].transpose(0, 1).reshape(n, s.heads * s.head_dim)

        x = self._layers(tokens, positions, attend, moe)
        return self._logits(x[-1:])

    def decode(self, tokens: torch.Tensor, cache: KvCache, *, context: int,
               moe: MoePlan | None = None) -> torch.Tensor:
        """Run one decode step: ``tokens`` (``int64[b]``), one per sequence in cache slots
        ``0..b-1``, each at position ``context`` after ``context`` cached tokens.

        Writes the new keys and values at position ``context`` and returns the logits of every
        sequence, ``(b, vocab)``.
        """
        b = tokens.shape[0]
        c = int(context)
        positions = torch.full((b,), c, device=tokens.device, dtype=torch.long)
        s = self.shape
        group = s.heads // s.kv_heads

        def attend(i: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            ck, cv = cache.k(i), cache.v(i)
            ck[:b, :, c] = k  # (b, kv_heads, d)
            cv[:b, :, c] = v
            # the queries of one KV head's group stand in the sequence dimension: every query
            # sees every cached key, so no mask and no copy of the keys is needed
            q = q.reshape(b, s.kv_heads, group, s.head_dim)
            out = F.scaled_dot_product_attention(q, ck[:b, :, :c + 1], cv[:b, :, :c + 1])
            return out.reshape(b, s.heads * s.head_dim)

        x = self._layers(tokens, positions, attend, moe)
        return self._logits(x)

    # -----------------------------------------------------------------------------------------
    # Pieces

    def _layers(self, tokens: torch.Tensor, positions: torch.Tensor, attend,
                moe: MoePlan | None) -> torch.Tensor:
        s = self.shape
        t = tokens.shape[0]
        cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)
        x = F.embedding(tokens, self.embed)  # (t, hidden)
        q_width, kv_width = s.heads * s.head_dim, s.kv_heads * s.head_dim
        for i, layer in enumerate(self.layers):
            h = rms_norm(x, layer.attn_norm)
            q, k, v = F.linear(h, layer.qkv, layer.qkv_bias).split(
                (q_width, kv_width, kv_width), dim=-1)
            q, k = q.view(t, s.heads, s.head_dim), k.view(t, s.kv_heads, s.head_dim)
            if s.qk_norm:
                q, k = rms_norm(q, layer.q_norm), rms_norm(k, layer.k_norm)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            x = x + F.linear(attend(i, q, k, v.view(t, s.kv_heads, s.head_dim)), layer.o)
            h = rms_norm(x, layer.mlp_norm)
            x = x + (self._moe(i, layer, h, moe) if s.moe else
                     swiglu(h, layer.gate_up, layer.down))
        return x

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(rms_norm(x, self.final_norm), self.lm_head)

    def _moe(self, i: int, layer: _Layer, h: torch.Tensor, plan: MoePlan | None) -> torch.Tensor:
        """Route each token to its top-k experts and run every expert on its gathered tokens."""
        s = self.shape
        k = s.experts_per_token
        probs = torch.softmax(F.linear(h, layer.router).float(), dim=-1)
        weights, chosen = probs.topk(k, dim=-1)  # (t, k)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(h.dtype)
        flat = chosen.reshape(-1)
        order = torch.argsort(flat, stable=True)  # assignments grouped by expert
        token_of = order // k
        gathered = h[token_of]  # (t * k, hidden)
        counts = (plan or MoePlan()).tokens_per_expert(i, flat, s.experts)
        outs, start = [], 0
        for e, n in enumerate(counts):
            if n:
                outs.append(swiglu(gathered[start:start + n], layer.gate_up[e], layer.down[e]))
                start += n
        y = torch.cat(outs) * weights.reshape(-1)[order].unsqueeze(-1)
        return torch.zeros_like(h).index_add_(0, token_of, y)


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """RMSNorm in float32, cast back: ``x / rms(x) * weight``."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + RMS_EPS)
    return xf.to(x.dtype) * weight


def swiglu(x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    """SwiGLU MLP with a fused gate/up projection: ``down(silu(gate(x)) * up(x))``."""
    gate, up = F.linear(x, gate_up).chunk(2, dim=-1)
    return F.linear(F.silu(gate) * up, down)


def rope_tables(head_dim: int, positions: int, theta: float, *, device: torch.device,
                dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the rotary ``cos`` and ``sin`` tables, ``(positions, head_dim)`` each (the
    half-split layout of Llama: dimension ``j`` pairs with ``j + head_dim / 2``)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, device=device,
                                            dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(positions, device=device, dtype=torch.float32), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (``(tokens, heads, head_dim)``) by its positions' angles."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin
