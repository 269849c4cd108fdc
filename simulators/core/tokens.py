"""Token-based LLM service times: a measured per-token profile, interpolated and scaled.

A measured profile (``../shared/data/gpu-profiles/h100_llm_token_latency.csv``) gives the time
of a *prefill* pass over one prompt of ``n`` tokens and of one *decode step* (one new token for
each of ``batch`` sequences whose KV cache holds ``context`` tokens).  This module

1. builds the profile of one model shape from its measured arrays (:func:`token_profile`) and
   interpolates it;
2. derives the same model's profile on another GPU from datasheet ratios (:func:`scale_profile`):
   prefill is compute-bound and scales with dense FP16/BF16 tensor FLOP/s, decode steps are
   memory-bound and scale with memory bandwidth;
3. feeds :func:`simulators.core.token_batches.batch_service_table`, which times batches drawn
   from a workload's prompt/output token samples (e.g. the Azure LLM inference trace) on the
   profile: the static-batching service time of a batch of ``b`` requests, per batch size.

This module reads no files: the planner's input layer (:mod:`planner.inputs_tokens`) reads and
checks the profile and trace CSVs, naming file, line, column and value in its messages.

Interpolation rules (stated once, used everywhere):

- prefill time ``f(n)`` of one sequence of ``n`` prompt tokens: linear in ``n`` between measured
  token counts; **below** the smallest measured count it is clamped to that count's time (a
  pass still reads every weight, so this is a small over-estimate); **above** the largest it is
  extrapolated linearly with the last segment's ms-per-token slope (compute-bound regime; the
  quadratic attention term is slightly under-estimated there);
- a batch of ``b`` prompts of ``p`` tokens takes ``min(f(b p), b f(p))``.  With a pass cost
  ``c0 + c1 * tokens + c2 * sum(p_i^2)`` (fixed weight read, linear layers, causal attention),
  ``f(b p)`` over-counts attention (``(b p)^2`` instead of ``b p^2``) and ``b f(p)`` over-counts
  the fixed cost; both are upper bounds taken from measured numbers, the minimum is the tighter;
- decode step time: bilinear in (batch, context) over the measured grid, which is exact for the
  memory-bound form ``a + b_1 batch + b_2 batch * context``; cells the profile lacks (large
  batches at long contexts, whose KV cache did not fit) are filled by linear extrapolation in
  batch along their context column; outside the grid both directions extrapolate linearly; as a
  guard far outside the grid the result never drops below half the smallest measured step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from domain.errors import SimulationError
from simulators.core.gpus import GPU_SPECS, GpuSpec, gpu_key

# ---------------------------------------------------------------------------------------------
# The profile
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenProfile:
    """Prefill and decode-step times of one model shape on one GPU, with their interpolators.

    Attributes
    ----------
    model, gpu : str
        Model shape and GPU as named in the profile file.
    gpu_key : str
        The :data:`GPU_SPECS` key of ``gpu``.
    prefill_tokens : float64[k]
        Measured prompt lengths (ascending) of single-sequence prefill passes.
    prefill_grid_ms : float64[k]
        Mean prefill time (ms) at each.
    decode_batches : float64[nb], decode_contexts : float64[nc]
        Batch sizes and KV-cache context lengths of the decode grid (ascending).
    decode_grid_ms : float64[nb, nc]
        Mean time (ms) of one decode step; cells the file lacks are filled (see module notes).
    decode_measured : bool[nb, nc]
        Which cells of ``decode_grid_ms`` were measured.
    source : str
        File the numbers came from.
    derivation : str
        ``"measured"`` or how the numbers were derived from a measured profile.
    """

    model: str
    gpu: str
    gpu_key: str
    prefill_tokens: np.ndarray
    prefill_grid_ms: np.ndarray
    decode_batches: np.ndarray
    decode_contexts: np.ndarray
    decode_grid_ms: np.ndarray
    decode_measured: np.ndarray
    source: str
    derivation: str = "measured"

    def prefill_ms(self, batch, prompt_tokens):
        """Return the time (ms) to prefill ``batch`` sequences of ``prompt_tokens`` tokens each.

        ``min(f(batch * prompt_tokens), batch * f(prompt_tokens))`` with ``f`` the single-sequence
        interpolator (module notes).  Scalars or broadcastable arrays; equals the measured row
        at ``batch=1`` and a measured token count.
        """
        b = _at_least("batch", batch, 1.0)
        p = _at_least("prompt_tokens", prompt_tokens, 0.0)
        out = np.minimum(self._prefill_one_ms(b * p), b * self._prefill_one_ms(p))
        return float(out) if out.ndim == 0 else out

    def decode_step_ms(self, batch, context_tokens):
        """Return the time (ms) of one decode step of ``batch`` sequences at ``context_tokens``.

        Bilinear over the (batch, context) grid, linear extrapolation beyond it, never below half
        the smallest measured step.  Scalars or broadcastable arrays.
        """
        b = _at_least("batch", batch, 1.0)
        c = _at_least("context_tokens", context_tokens, 0.0)
        b, c = np.broadcast_arrays(b, c)
        cols = _lerp(b.ravel(), self.decode_batches, self.decode_grid_ms)  # (n, nc)
        out = _lerp_rows(c.ravel(), self.decode_contexts, cols)
        out = np.maximum(out, self._decode_floor_ms).reshape(b.shape)
        return float(out) if out.ndim == 0 else out

    def decode_sum_ms(self, batch: float, first_context, n_steps):
        """Return the summed time (ms) of ``n_steps`` decode steps at contexts ``first_context``,
        ``first_context + 1``, ... at a fixed ``batch``.

        The step time is piecewise linear in the context with knots at the measured contexts, so
        each piece is summed exactly as ``count * (first + last) / 2``: no quadrature error
        (except where the floor of :meth:`decode_step_ms` binds, which it does not inside the
        measured profile).  ``first_context``, ``n_steps``: int64[n] arrays or scalars.
        """
        lo_all = np.asarray(first_context, dtype=np.float64)
        hi_all = lo_all + np.asarray(n_steps, dtype=np.float64) - 1.0
        knots = self.decode_contexts
        edges = np.concatenate(([-np.inf], knots[1:-1], [np.inf]))
        total = np.zeros(np.broadcast(lo_all, hi_all).shape)
        for j in range(edges.size - 1):
            # piece j covers integer contexts c with edges[j] < c <= edges[j+1] (first: all below)
            start = lo_all if j == 0 else np.maximum(lo_all, np.floor(edges[j]) + 1.0)
            stop = np.minimum(hi_all, edges[j + 1])
            count = stop - start + 1.0
            ok = count > 0
            if not ok.any():
                continue
            first = self.decode_step_ms(batch, np.where(ok, start, knots[0]))
            last = self.decode_step_ms(batch, np.where(ok, stop, knots[0]))
            total = total + np.where(ok, count * (np.asarray(first) + np.asarray(last)) / 2, 0.0)
        return float(total) if total.ndim == 0 else total

    @property
    def _decode_floor_ms(self) -> float:
        # a guard against extrapolating far outside the grid; it never binds inside it
        return 0.5 * float(self.decode_grid_ms[self.decode_measured].min())

    def _prefill_one_ms(self, tokens: np.ndarray) -> np.ndarray:
        xs, ys = self.prefill_tokens, self.prefill_grid_ms
        inside = np.interp(tokens, xs, ys)  # clamps below the grid
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return np.where(tokens > xs[-1], ys[-1] + slope * (tokens - xs[-1]), inside)


def _at_least(name: str, values, low: float) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(arr) & (arr >= low)
    if not ok.all():
        bad = arr[~ok].ravel()[0]
        raise SimulationError(f"{name} must be a finite number >= {low:g} (got {_show(bad)})")
    return arr


def _show(value) -> str:
    """Return a value as a user wrote it: ``4`` not ``np.float64(4.0)``, strings quoted."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _lerp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Interpolate ``fp`` (rows indexed by ``xp``) at ``x``, extrapolating linearly: (n, ...)."""
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    w = (x - xp[i]) / (xp[i + 1] - xp[i])
    w = w.reshape(w.shape + (1,) * (fp.ndim - 1))
    return fp[i] * (1.0 - w) + fp[i + 1] * w


def _lerp_rows(x: np.ndarray, xp: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Interpolate each row of ``rows`` (n, len(xp)) at its own ``x[n]``, extrapolating."""
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    w = (x - xp[i]) / (xp[i + 1] - xp[i])
    k = np.arange(x.size)
    return rows[k, i] * (1.0 - w) + rows[k, i + 1] * w


def token_profile(model: str, gpu: str, *, prefill_tokens, prefill_ms, decode_batch,
                  decode_context, decode_ms, source: str) -> TokenProfile:
    """Return the :class:`TokenProfile` of measured prefill passes and decode steps.

    Parameters
    ----------
    model, gpu : str
        Model shape and GPU the numbers were measured on.  A GPU name with a datasheet entry
        (e.g. ``"NVIDIA H100 80GB HBM3"``) sets ``gpu_key``; any other name gives a profile
        usable as measured that :func:`scale_profile` refuses.
    prefill_tokens, prefill_ms : float64[k]
        Prompt length (>= 1 token) and mean time (> 0 ms) of single-sequence prefill passes,
        any order, one per prompt length, at least two lengths.
    decode_batch, decode_context, decode_ms : float64[m]
        Batch size (>= 1), KV-cache length (>= 1 token) and mean time (> 0 ms) of one decode
        step, one per (batch, context) pair: at least two contexts, each with at least two batch
        sizes.  Missing cells of the grid are filled as the module notes say.
    source : str
        Where the numbers come from (a file path); starts every message.

    Raises
    ------
    SimulationError (a ValueError)
        A value out of range, arrays of different lengths, a repeated grid point, or too few
        grid points to interpolate.
    """
    pre_n, pre_ms = _measurements(source, ("prefill_tokens", prefill_tokens, ">=", 1.0),
                                  ("prefill_ms", prefill_ms, ">", 0.0))
    batches, contexts, dec_ms = _measurements(
        source, ("decode_batch", decode_batch, ">=", 1.0),
        ("decode_context", decode_context, ">=", 1.0), ("decode_ms", decode_ms, ">", 0.0))
    _unique_points(source, "prefill_tokens", pre_n[:, None])
    _unique_points(source, "(decode_batch, decode_context)", np.column_stack((batches, contexts)))
    if pre_n.size < 2:
        raise SimulationError(f"{source}: model {model!r} has {pre_n.size} prefill row(s); "
                                f"measure at least two prompt lengths")
    grid_b, grid_c = np.unique(batches), np.unique(contexts)
    if grid_c.size < 2:
        raise SimulationError(f"{source}: model {model!r} has decode rows at {grid_c.size} "
                                f"context length(s); measure at least two")
    grid = np.full((grid_b.size, grid_c.size), np.nan)
    grid[np.searchsorted(grid_b, batches), np.searchsorted(grid_c, contexts)] = dec_ms
    measured = ~np.isnan(grid)
    for j, ctx in enumerate(grid_c):
        have = measured[:, j]
        if have.sum() < 2:
            raise SimulationError(f"{source}: model {model!r} has decode rows at "
                                    f"context_tokens={int(ctx)} for {int(have.sum())} batch "
                                    f"size(s); measure at least two")
        grid[~have, j] = _lerp(grid_b[~have], grid_b[have], grid[have, j])
    order = np.argsort(pre_n)
    return TokenProfile(
        model=model, gpu=gpu, gpu_key=_profile_gpu_key(gpu),
        prefill_tokens=pre_n[order], prefill_grid_ms=pre_ms[order],
        decode_batches=grid_b, decode_contexts=grid_c, decode_grid_ms=grid,
        decode_measured=measured, source=source)


def _measurements(source: str, *columns: tuple[str, object, str, float]) -> list[np.ndarray]:
    """Check same-length 1-D arrays of finite numbers, each ``>`` or ``>=`` its bound, and
    return them as float64."""
    out = []
    for name, values, op, low in columns:
        arr = np.asarray(values)
        if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.number) or arr.size == 0):
            raise SimulationError(f"{source}: {name} must be a 1-D array of numbers (got shape "
                                    f"{arr.shape}, dtype {arr.dtype})")
        arr = arr.astype(np.float64)
        ok = np.isfinite(arr) & ((arr > low) if op == ">" else (arr >= low))
        if not ok.all():
            i = int(np.argmin(ok))
            raise SimulationError(f"{source}: {name}[{i}]={_show(arr[i])} is invalid; it must "
                                    f"be a finite number {op} {low:g}")
        if out and arr.size != out[0].size:
            raise SimulationError(f"{source}: {name} has {arr.size} values but {columns[0][0]} "
                                    f"has {out[0].size}; pass one value per measurement")
        out.append(arr)
    return out


def _unique_points(source: str, what: str, points: np.ndarray) -> None:
    _, first, counts = np.unique(points, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = points[first[np.argmax(counts > 1)]]
        at = np.flatnonzero((points == dup).all(axis=1)).tolist()
        raise SimulationError(f"{source}: duplicate {what} at positions {at}; keep one "
                                f"measurement per grid point (average repeated ones first)")


def _profile_gpu_key(gpu: str) -> str:
    try:
        return gpu_key(gpu, _memory_in_name(gpu))
    except SimulationError:
        return ""  # usable as measured; scale_profile refuses it with the list of known GPUs


def _memory_in_name(name: str) -> float | None:
    for word in name.split():
        if word.upper().endswith("GB") and word[:-2].isdigit():
            return float(word[:-2])
    return None

# ---------------------------------------------------------------------------------------------
# Scaling to another GPU
# ---------------------------------------------------------------------------------------------


def scale_profile(profile: TokenProfile, target_gpu: str) -> TokenProfile:
    """Return ``profile`` as it would run on ``target_gpu`` (a :data:`GPU_SPECS` key).

    Prefill times are multiplied by ``source TFLOPs / target TFLOPs`` (compute-bound), decode
    step times by ``source GB/s / target GB/s`` (memory-bound).  Target = source returns the
    profile unchanged.  Assumes both GPUs reach the same fraction of their peaks, and does
    **not** check that the model's weights and KV cache fit the target's memory.
    """
    if target_gpu not in GPU_SPECS:
        raise SimulationError(f"target_gpu {target_gpu!r} is not in GPU_SPECS; known: "
                                f"{sorted(GPU_SPECS)} (gpu_key() maps catalog names to these)")
    if profile.gpu_key not in GPU_SPECS:
        raise SimulationError(f"profile GPU {profile.gpu!r} ({profile.source}) has no "
                                f"datasheet entry; known: {sorted(GPU_SPECS)}")
    if target_gpu == profile.gpu_key:
        return profile
    src, dst = GPU_SPECS[profile.gpu_key], GPU_SPECS[target_gpu]
    flop_ratio = src.dense_tflops / dst.dense_tflops
    bw_ratio = src.bandwidth_gb_per_s / dst.bandwidth_gb_per_s
    base = profile.gpu if profile.derivation == "measured" else \
        f"{profile.gpu} ({profile.derivation})"
    derivation = (
        f"derived from the measured {base} profile by FLOP ratio "
        f"{_fmt(src.dense_tflops)}/{_fmt(dst.dense_tflops)} for prefill and bandwidth ratio "
        f"{_fmt(src.bandwidth_gb_per_s)}/{_fmt(dst.bandwidth_gb_per_s)} for decode "
        f"(datasheets: {src.name}: {src.source}; {dst.name}: {dst.source})")
    return replace(profile, gpu=dst.name, gpu_key=target_gpu,
                   prefill_grid_ms=profile.prefill_grid_ms * flop_ratio,
                   decode_grid_ms=profile.decode_grid_ms * bw_ratio, derivation=derivation)


def _fmt(x: float) -> str:
    return f"{x:g}"


__all__ = [
    "GPU_SPECS",
    "GpuSpec",
    "SimulationError",
    "TokenProfile",
    "gpu_key",
    "scale_profile",
    "token_profile",
]
