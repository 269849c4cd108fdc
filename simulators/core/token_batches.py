"""The static-batching service time of an LLM batch, from a token profile and a token mix.

:func:`batch_service_table` draws batches of requests from a workload's per-request prompt and
output token counts (e.g. the Azure LLM inference trace) and times each on a measured (or
scaled) :class:`~simulators.core.tokens.TokenProfile`, per batch size; its ``mean_ms`` /
``p50_ms`` / ``p99_ms`` feed :func:`simulators.core.service.table_service`.
"""

from __future__ import annotations

import numpy as np

from domain.errors import SimulationError
from simulators.core.tokens import TokenProfile

__all__ = ["batch_service_table"]


def batch_service_table(profile: TokenProfile, prompt_tokens, output_tokens, max_batch: int, *,
                        n_samples: int = 2000, seed: int = 0,
                        prefill_rule: str = "padded") -> dict:
    """Return the static-batching service time of a batch of ``b`` requests, ``b = 1..max_batch``.

    A batch of ``b`` requests is ``b`` draws (with replacement) of (prompt, output) pairs from
    the samples.  It is served the way a static-batching server with a rectangular KV cache runs
    it (the layout the profile measured):

    - prefill: ``prefill_rule="padded"`` (default): ``b`` prompts padded to the longest,
      ``profile.prefill_ms(b, max p_i)``; ``"packed"``: no padding (varlen attention),
      ``min(f(sum p_i), sum f(p_i))``;
    - prefill emits each request's first token; then ``max o_i - 1`` decode steps, all at batch
      ``b`` (finished sequences keep their slot until the longest is done), step ``k`` at context
      ``max p_i + k``, summed exactly by :meth:`TokenProfile.decode_sum_ms`.

    Parameters
    ----------
    profile : TokenProfile
    prompt_tokens, output_tokens : int64[n]
        Per-request prompt and output token counts (e.g. a trace's columns).
    max_batch : int
        Largest batch size tabulated.
    n_samples : int
        Monte Carlo batches drawn per batch size.
    seed : int
        Seed of the draws (results are a pure function of the inputs and the seed).
    prefill_rule : {"padded", "packed"}

    Returns
    -------
    dict
        ``batch_sizes`` int64[max_batch]; ``mean_ms``, ``p50_ms``, ``p99_ms``, ``prefill_mean_ms``,
        ``decode_mean_ms``, ``output_tokens_per_batch_mean`` (useful output tokens per batch),
        ``beyond_profile_fraction`` (share of drawn batches whose padded prompt or final context
        lies beyond the measured grid, i.e. extrapolated): float64[max_batch];
        ``tokens_per_request``: ``{"prompt": mean, "output": mean}`` of the samples;
        ``description``: str.  Feed ``batch_sizes``, ``mean_ms`` (and ``p50_ms``/``p99_ms`` for
        lognormal jitter) to :func:`simulators.core.service.table_service`.
    """
    prompt, output = _checked_arguments(prompt_tokens, output_tokens, max_batch, n_samples,
                                        prefill_rule)
    max_batch, n_samples = int(max_batch), int(n_samples)
    rng = np.random.default_rng(seed)
    stats = np.zeros((7, max_batch))
    for b in range(1, max_batch + 1):
        idx = rng.integers(0, prompt.size, size=(n_samples, b))
        stats[:, b - 1] = _batch_stats(profile, b, prompt[idx], output[idx], prefill_rule)
    return {
        "batch_sizes": np.arange(1, max_batch + 1, dtype=np.int64),
        "mean_ms": stats[0], "p50_ms": stats[1], "p99_ms": stats[2],
        "prefill_mean_ms": stats[3], "decode_mean_ms": stats[4],
        "output_tokens_per_batch_mean": stats[5], "beyond_profile_fraction": stats[6],
        "tokens_per_request": {"prompt": float(prompt.mean()), "output": float(output.mean())},
        "description": (
            f"token model {profile.model} on {profile.gpu} ({profile.derivation}); static "
            f"batching, {prefill_rule} prefill, decode to the longest output; {n_samples} "
            f"Monte Carlo batches per size from {prompt.size} requests (seed {seed})"),
    }


def _checked_arguments(prompt_tokens, output_tokens, max_batch, n_samples,
                       prefill_rule) -> tuple[np.ndarray, np.ndarray]:
    """Check :func:`batch_service_table`'s arguments; return the token counts as int64."""
    prompt = _token_array("prompt_tokens", prompt_tokens)
    output = _token_array("output_tokens", output_tokens)
    if prompt.size != output.size:
        raise SimulationError(f"prompt_tokens and output_tokens must pair up request by request "
                                f"(got {prompt.size} and {output.size} values)")
    for name, value in (("max_batch", max_batch), ("n_samples", n_samples)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise SimulationError(f"{name} must be a whole number >= 1 (got {value!r})")
    if prefill_rule not in ("padded", "packed"):
        raise SimulationError(f"prefill_rule must be 'padded' or 'packed' (got "
                                f"{prefill_rule!r})")
    return prompt, output


def _batch_stats(profile: TokenProfile, b: int, p: np.ndarray, o: np.ndarray,
                 prefill_rule: str) -> tuple[float, ...]:
    """Time drawn batches of ``b`` requests (prompts ``p``, outputs ``o``: int64[n_samples, b]).

    Returns the mean, median and 99th percentile of the batch time, the mean prefill and decode
    time (ms), the mean output tokens per batch and the share of batches beyond the profile.
    """
    p_max, o_max = p.max(axis=1), o.max(axis=1)
    if prefill_rule == "padded":
        pre = profile.prefill_ms(b, p_max)
    else:
        f = profile.prefill_ms(1, p)
        pre = np.minimum(profile.prefill_ms(1, p.sum(axis=1)), f.sum(axis=1))
    dec = profile.decode_sum_ms(b, p_max + 1, o_max - 1)
    total = pre + dec
    beyond = ((p_max > profile.prefill_tokens[-1])
              | (p_max + o_max - 1 > profile.decode_contexts[-1]))
    return (total.mean(), np.percentile(total, 50), np.percentile(total, 99),
            pre.mean(), np.mean(dec), o.sum(axis=1).mean(), beyond.mean())


def _token_array(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise SimulationError(f"{name} must be a non-empty 1-D array of token counts (got shape "
                                f"{arr.shape})")
    if not np.issubdtype(arr.dtype, np.number):
        raise SimulationError(f"{name} must be numeric (got dtype {arr.dtype})")
    ok = np.isfinite(arr) & (arr >= 1) & (np.round(arr) == arr)
    if not ok.all():
        i = int(np.argmin(ok))
        raise SimulationError(f"{name}[{i}]={_shown(arr[i])} is not a whole number >= 1; every "
                                f"request needs at least one prompt and one output token")
    return arr.astype(np.int64)


def _shown(value) -> str:
    """Return a count as a user wrote it: ``4`` not ``np.float64(4.0)``."""
    value = value.item() if isinstance(value, np.generic) else value
    return str(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)
