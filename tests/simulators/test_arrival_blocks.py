"""Block generation of arrivals equals one-at-a-time generation, draw for draw."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from simulators.core import arrival_kernel as ak
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals, TraceArrivals

from simulators.core.arrival_kernel import fill_arrivals
from simulators.core.rng import seed_stream
from simulators.realtime.api import _arrival_arrays


@njit
def _one_at_a_time(kind, params, hourly, trace, horizon, n):
    rng = np.empty(4, np.uint64)
    seed_stream(9, 2, rng)
    out = np.full(n, math.inf)
    t, pos = 0.0, -1
    for k in range(n):
        t, pos = ak._next_arrival(kind, t, pos, rng, params, hourly, trace, horizon)
        out[k] = t
        if t == math.inf:
            break
    return out


@njit
def _in_blocks(kind, params, hourly, trace, horizon, n, block_size):
    rng = np.empty(4, np.uint64)
    seed_stream(9, 2, rng)
    out = np.empty(n)
    block = np.empty(block_size)
    t, pos = 0.0, -1
    k = 0
    while k < n:
        t, pos = fill_arrivals(kind, t, pos, rng, params, hourly, trace, horizon, block)
        m = min(block_size, n - k)
        out[k:k + m] = block[:m]
        k += m
    return out


@pytest.mark.parametrize("arrivals", [
    PoissonArrivals(250.0),
    DiurnalArrivals(40.0, peak_to_trough=4.0, peak_hour=15.5, start_hour=22.0),
    DiurnalArrivals(30.0, hourly_weights=tuple([0.0] * 3 + [1.0] * 18 + [2.0] * 3),
                    start_hour=1.0),
    TraceArrivals(np.cumsum(np.random.default_rng(0).exponential(0.1, 3000)), repeat=True),
])
@pytest.mark.parametrize("block_size", [1, 7, 256])
def test_blocks_equal_single_draws(arrivals, block_size) -> None:
    horizon = 2 * 86_400.0 if isinstance(arrivals, DiurnalArrivals) else 900.0
    kind, params, hourly, trace = _arrival_arrays(arrivals, horizon)
    n = 20_000
    single = _one_at_a_time(kind, params, hourly, trace, horizon, n)
    blocks = _in_blocks(kind, params, hourly, trace, horizon, n, block_size)
    np.testing.assert_array_equal(single, blocks)
    finite = single[np.isfinite(single)]
    assert finite.size > 1000 and np.all(np.diff(finite) >= 0) and finite[-1] < horizon
