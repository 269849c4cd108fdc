"""Fixed-size log-bucket histogram with bounded relative error, bucketed at the bit level.

A value ``v`` (seconds) in ``[2**MIN_EXP, 2**MAX_EXP)`` falls in the bucket given by its float64
exponent and the top ``SUB_BITS`` bits of its mantissa: one shift and one subtraction of the raw
bits, no logarithm.  Each octave has ``2**SUB_BITS`` buckets of equal width, so a bucket spans a
relative width of at most ``2**-SUB_BITS`` (0.78 % for 7 bits); any estimate inside the bucket
that holds a value errs by at most that much relative to it (``RELATIVE_ERROR_BOUND``).  Bucket 0 holds values
below ``2**MIN_EXP`` (about 1 microsecond; in practice exact zeros, such as waits of requests that
found a free worker), and the last bucket holds values at or above ``2**MAX_EXP`` (overflow).

Memory is ``N_BUCKETS`` int64 counters per histogram, whatever the number of requests.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic

from simulators.core.jit import jit

SUB_BITS = 7
MIN_EXP = -20  # 2**-20 s ~ 0.95 microseconds
MAX_EXP = 24  # 2**24 s ~ 194 days
N_OCTAVES = MAX_EXP - MIN_EXP
N_BUCKETS = 2 + N_OCTAVES * (1 << SUB_BITS)  # zero bucket + octaves + overflow bucket
RELATIVE_ERROR_BOUND = 2.0**-SUB_BITS

_SHIFT = 52 - SUB_BITS
_OFFSET = (MIN_EXP + 1023) << SUB_BITS


@intrinsic
def _float64_bits(typingctx, value):
    """Reinterpret a float64's bits as int64 (a register bitcast, no memory round trip)."""
    if value != types.float64:
        return None
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@jit(inline="always")
def bucket_index(value_s):
    """Return the bucket of ``value_s`` (seconds, >= 0); NaN and negatives go to bucket 0."""
    if not value_s >= 1.0 / (1 << -MIN_EXP):
        return 0
    idx = (_float64_bits(value_s) >> _SHIFT) - _OFFSET + 1
    if idx >= N_BUCKETS - 1:
        return N_BUCKETS - 1
    return idx


def bucket_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper edges (seconds) of every bucket.

    Returns
    -------
    lower_s, upper_s : float64[N_BUCKETS]
        Bucket 0 is ``[0, 2**MIN_EXP)``; the overflow bucket is ``[2**MAX_EXP, inf)``.
    """
    idx = np.arange(1, N_BUCKETS - 1)
    octave = (idx - 1) >> SUB_BITS
    sub = (idx - 1) & ((1 << SUB_BITS) - 1)
    base = np.ldexp(1.0, octave + MIN_EXP)
    lower = np.concatenate([[0.0], base * (1.0 + sub / (1 << SUB_BITS)), [2.0**MAX_EXP]])
    upper = np.concatenate([[2.0**MIN_EXP], base * (1.0 + (sub + 1) / (1 << SUB_BITS)), [np.inf]])
    return lower, upper


def bucket_values() -> np.ndarray:
    """Return each bucket's representative value (seconds): its midpoint, 0 for bucket 0.

    The overflow bucket reports its lower edge (a lower bound, flagged by callers).
    """
    lower, upper = bucket_bounds()
    mid = 0.5 * (lower + upper)
    mid[0] = 0.0
    mid[-1] = lower[-1]
    return mid


def percentiles_from_counts(counts: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Return nearest-rank quantiles (seconds) of the values counted in ``counts``.

    Parameters
    ----------
    counts : int64[..., N_BUCKETS]
        One histogram per leading index (e.g. one per replication).
    quantiles : float64[k]
        Probabilities in (0, 1].

    Returns
    -------
    float64[..., k]
        An estimate of the ``ceil(q * n)``-th smallest value: inside the bucket that holds it,
        interpolated linearly by the rank's position among the bucket's ``c`` values (the
        ``j``-th of them is placed at ``lower + (j - 0.5) / c * width``).  The estimate never
        leaves the bucket, so its relative error against the exact nearest-rank quantile is at
        most ``RELATIVE_ERROR_BOUND`` (0.78 %); interpolation makes estimates move smoothly with the data, so that
        confidence intervals across replications are not collapsed by bucketing.  Values below
        ``2**MIN_EXP`` are reported as 0; the overflow bucket reports its lower edge.  NaN where
        a histogram is empty.
    """
    counts = np.asarray(counts, dtype=np.int64)
    q = np.asarray(quantiles, dtype=np.float64)
    lower, upper = bucket_bounds()
    flat = counts.reshape(-1, counts.shape[-1])
    out = np.full((flat.shape[0], q.size), np.nan)
    for row, hist in enumerate(flat):
        total = int(hist.sum())
        if total == 0:
            continue
        cum = np.cumsum(hist)
        ranks = np.maximum(np.ceil(q * total), 1).astype(np.int64)
        idx = np.searchsorted(cum, ranks, side="left")
        in_bucket = hist[idx]
        position = (ranks - (cum[idx] - in_bucket) - 0.5) / in_bucket
        width = np.where(np.isfinite(upper[idx]), upper[idx] - lower[idx], 0.0)
        values = lower[idx] + position * width
        values = np.where(idx == 0, 0.0, values)
        out[row] = values
    return out.reshape(counts.shape[:-1] + (q.size,))


def saturated_from_counts(counts: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Return whether each quantile falls in the overflow bucket (values at or above
    ``2**MAX_EXP`` s), where :func:`percentiles_from_counts` reports only the bucket's lower edge.

    Parameters
    ----------
    counts : int64[..., N_BUCKETS]
    quantiles : float64[k]
        Probabilities in (0, 1].

    Returns
    -------
    bool[..., k]
        True where the nearest rank ``ceil(q * n)`` is among the overflow bucket's values, so
        the quantile is a lower bound, not an estimate; False for an empty histogram.
    """
    counts = np.asarray(counts, dtype=np.int64)
    q = np.asarray(quantiles, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    ranks = np.maximum(np.ceil(q * total), 1)
    below = total - counts[..., -1:]
    return (total > 0) & (ranks > below)


def histogram_of(values_s: np.ndarray) -> np.ndarray:
    """Return the int64[N_BUCKETS] histogram of ``values_s`` (seconds), bucketed as the kernels do.

    Used by tests and by the reference models to compare against kernel output bucket by bucket.
    """
    return _histogram_of_kernel(np.ascontiguousarray(values_s, dtype=np.float64))


@jit
def _histogram_of_kernel(values_s):
    counts = np.zeros(N_BUCKETS, dtype=np.int64)
    for v in values_s:
        counts[bucket_index(v)] += 1
    return counts
