"""The duration of one engine step, from the token profile, inside the kernel.

``docs/llm-serving.md``: a step with ``b`` decode sequences whose contexts sum to ``C`` and
``n`` prefill tokens takes ``D(b, C / b)`` (decode only), ``f(n)`` (prefill only) or
``D(b, C / b) + max(0, f(b + n) - f(b))`` (mixed), with ``f(n)`` =
:meth:`simulators.core.tokens.TokenProfile.prefill_ms` ``(1, n)`` and ``D(b, c)`` =
:meth:`~simulators.core.tokens.TokenProfile.decode_step_ms` ``(b, c)``.  The interpolators
below are the profile's, written again for Numba with the same arithmetic (the tests compare
them to 1e-9 ms); :func:`step_tables` evaluates the parts that depend only on integers once per
replication (``f(n)`` for every ``n <= max_num_batched_tokens + max_num_seqs``, the decode grid interpolated
at every batch size ``b <= max_num_seqs``), so a step costs one interpolation in the context.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from simulators.core.jit import jit
from simulators.core.structures import keep_alive

Profile = namedtuple("Profile", ("pre_x", "pre_y", "dec_b", "dec_c", "dec_grid", "dec_floor"))
"""A token profile's arrays: prefill token counts and times (ms, ascending), decode batch sizes
and contexts (ascending), the decode grid float64[nb, nc] (ms) and the floor of a decode step
(ms, half the smallest measured one), as :class:`simulators.core.tokens.TokenProfile` has them."""

StepTables = namedtuple("StepTables", ("prefill_ms", "decode_rows", "contexts", "floor_ms"))
"""Per-replication tables: ``prefill_ms`` float64[B + S + 1] (``f(n)``, ``S`` = max_num_seqs), ``decode_rows``
float64[max_num_seqs + 1, nc] (the grid interpolated in the batch size), the grid's contexts and
the decode floor (ms)."""


@jit
def prefill_one_ms(pre_x, pre_y, n):
    """Return ``f(n)`` (ms): linear between measured prompt lengths, clamped below the first,
    extrapolated with the last segment's slope above the last (``TokenProfile._prefill_one_ms``,
    ``np.interp``'s arithmetic)."""
    last = pre_x.shape[0] - 1
    if n > pre_x[last]:
        slope = (pre_y[last] - pre_y[last - 1]) / (pre_x[last] - pre_x[last - 1])
        return pre_y[last] + slope * (n - pre_x[last])
    if n <= pre_x[0]:
        return pre_y[0]
    if n == pre_x[last]:
        return pre_y[last]
    j = 0
    while pre_x[j + 1] <= n:
        j += 1
    slope = (pre_y[j + 1] - pre_y[j]) / (pre_x[j + 1] - pre_x[j])
    return slope * (n - pre_x[j]) + pre_y[j]


@jit(inline="always")
def _segment(xp, x):
    """Return ``clip(searchsorted(xp, x, 'right') - 1, 0, len(xp) - 2)``."""
    i = 0
    n = xp.shape[0]
    while i < n - 2 and xp[i + 1] <= x:
        i += 1
    return i


@jit
def decode_row(dec_b, dec_grid, b, row):
    """Write the decode grid interpolated (or extrapolated) at batch ``b`` into ``row``."""
    i = _segment(dec_b, b)
    w = (b - dec_b[i]) / (dec_b[i + 1] - dec_b[i])
    for j in range(dec_grid.shape[1]):
        row[j] = dec_grid[i, j] * (1.0 - w) + dec_grid[i + 1, j] * w


@jit(inline="always")
def decode_in_row(contexts, rows, b, floor_ms, c):
    """Return the decode step time (ms) at context ``c`` from row ``b`` of a table of batch
    rows, with the floor."""
    j = _segment(contexts, c)
    w = (c - contexts[j]) / (contexts[j + 1] - contexts[j])
    out = rows[b, j] * (1.0 - w) + rows[b, j + 1] * w
    return max(floor_ms, out)


@jit
def decode_ms(prof, b, c):
    """Return ``D(b, c)`` (ms) for any ``b >= 1``, ``c >= 0`` (not only integers)."""
    rows = np.empty((1, prof.dec_grid.shape[1]))
    decode_row(prof.dec_b, prof.dec_grid, b, rows[0])
    return decode_in_row(prof.dec_c, rows, 0, prof.dec_floor, c)


@jit
def step_tables(prof, max_tokens, max_seqs):
    """Return the :data:`StepTables` of a profile for the engine's limits."""
    pre = np.empty(max_tokens + max_seqs + 1)
    for n in range(max_tokens + max_seqs + 1):
        pre[n] = prefill_one_ms(prof.pre_x, prof.pre_y, float(n))
    rows = np.zeros((max_seqs + 1, prof.dec_grid.shape[1]))
    for b in range(1, max_seqs + 1):
        decode_row(prof.dec_b, prof.dec_grid, float(b), rows[b])
    return StepTables(pre, rows, prof.dec_c, prof.dec_floor)


@jit(inline="always")
def step_ms(prefill_ms, decode_rows, contexts, floor_ms, b, c_sum, n):
    """Return the duration (ms) of a step of ``b`` decode sequences with contexts summing to
    ``c_sum`` and ``n`` prefill tokens, from a :data:`StepTables`' parts (the arithmetic of
    :func:`decode_in_row`, written out with single arrays for the kernel's leaf functions)."""
    bb = b if b > 0 else 1
    c = c_sum / bb
    j = 0
    nc = contexts.shape[0]
    while j < nc - 2 and contexts[j + 1] <= c:
        j += 1
    w = (c - contexts[j]) / (contexts[j + 1] - contexts[j])
    d = max(floor_ms, decode_rows[bb, j] * (1.0 - w) + decode_rows[bb, j + 1] * w)
    extra = max(0.0, prefill_ms[bb + n] - prefill_ms[bb])
    keep_alive(prefill_ms)
    keep_alive(decode_rows)
    keep_alive(contexts)
    return d + extra if b > 0 else prefill_ms[n]


@jit
def step_seconds(tab, b, c_sum, n):
    """Return the duration (s) of a step (:func:`step_ms`) from the :data:`StepTables`."""
    return step_ms(tab.prefill_ms, tab.decode_rows, tab.contexts, tab.floor_ms, b, c_sum,
                   n) / 1000.0


def profile_arrays(profile) -> Profile:
    """Return the kernel's :data:`Profile` of a :class:`~simulators.core.tokens.TokenProfile`."""
    return Profile(np.ascontiguousarray(profile.prefill_tokens, dtype=np.float64),
                   np.ascontiguousarray(profile.prefill_grid_ms, dtype=np.float64),
                   np.ascontiguousarray(profile.decode_batches, dtype=np.float64),
                   np.ascontiguousarray(profile.decode_contexts, dtype=np.float64),
                   np.ascontiguousarray(profile.decode_grid_ms, dtype=np.float64),
                   float(profile._decode_floor_ms))
