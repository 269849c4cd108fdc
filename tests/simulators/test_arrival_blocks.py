"""Block generation of arrivals: independent of the block size, the same draws as the stream.

``fill_arrivals`` holds the xoshiro256+ state in registers; its draws must be the draws of
:mod:`simulators.core.rng` on the state array, and its exact diurnal rate the NumPy formula of
:mod:`simulators.core.arrivals`, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from simulators.core import arrival_kernel as ak
from simulators.core.arrival_kernel import fill_arrivals
from simulators.core.arrivals import (
    DAY_S,
    DiurnalArrivals,
    PoissonArrivals,
    TraceArrivals,
    diurnal_rate_rps,
)
from simulators.core.rng import (
    exponential,
    exponential_step,
    next_u64,
    seed_stream,
    xoshiro_step,
)
from simulators.realtime.api import _arrival_arrays


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
@pytest.mark.parametrize("block_size", [7, 256])
def test_blocks_equal_single_draws(arrivals, block_size) -> None:
    horizon = 2 * 86_400.0 if isinstance(arrivals, DiurnalArrivals) else 900.0
    kind, params, hourly, trace = _arrival_arrays(arrivals, horizon)
    n = 20_000
    single = _in_blocks(kind, params, hourly, trace, horizon, n, 1)
    blocks = _in_blocks(kind, params, hourly, trace, horizon, n, block_size)
    np.testing.assert_array_equal(single, blocks)
    finite = single[np.isfinite(single)]
    assert finite.size > 1000 and np.all(np.diff(finite) >= 0) and finite[-1] < horizon


@njit
def _poisson_from_stream(gap, horizon, n):
    rng = np.empty(4, np.uint64)
    seed_stream(9, 2, rng)
    out = np.full(n, math.inf)
    t = 0.0
    for k in range(n):
        t = t + exponential(rng) * gap
        if t >= horizon:
            break
        out[k] = t
    return out


def test_poisson_blocks_are_the_streams_exponentials() -> None:
    horizon = 900.0
    kind, params, hourly, trace = _arrival_arrays(PoissonArrivals(250.0), horizon)
    n = 20_000  # about 220 draws take the ziggurat's slow path
    np.testing.assert_array_equal(
        _in_blocks(kind, params, hourly, trace, horizon, n, 256),
        _poisson_from_stream(params[ak.P_MEAN_GAP_S], horizon, n))


@njit
def _register_and_array_draws(n):
    a = np.empty(4, np.uint64)
    b = np.empty(4, np.uint64)
    seed_stream(3, 1, a)
    seed_stream(3, 1, b)
    s0, s1, s2, s3 = b[0], b[1], b[2], b[3]
    bits_a = np.empty(n, np.uint64)
    bits_b = np.empty(n, np.uint64)
    exp_a = np.empty(n)
    exp_b = np.empty(n)
    for k in range(n):
        bits_a[k] = next_u64(a)
        bits_b[k], s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
        exp_a[k] = exponential(a)
        exp_b[k], s0, s1, s2, s3 = exponential_step(b, s0, s1, s2, s3)
    return bits_a, bits_b, exp_a, exp_b


def test_register_draws_equal_state_array_draws() -> None:
    bits_a, bits_b, exp_a, exp_b = _register_and_array_draws(50_000)
    np.testing.assert_array_equal(bits_a, bits_b)
    np.testing.assert_array_equal(exp_a, exp_b)


@njit
def _kernel_smooth_rates(params, clock_s):
    out = np.empty(clock_s.size)
    for k in range(clock_s.size):
        out[k] = ak.smooth_rate(params, clock_s[k])
    return out


@pytest.mark.parametrize(("ratio", "peak_hour", "start_hour"),
                         [(4.0, 15.5, 22.0), (3.0, 14.0, 0.0), (1.0, 0.0, 7.25)])
def test_kernel_smooth_rate_is_the_numpy_formula_bit_for_bit(ratio, peak_hour,
                                                              start_hour) -> None:
    arrivals = DiurnalArrivals(40.0, peak_to_trough=ratio, peak_hour=peak_hour,
                               start_hour=start_hour)
    _, params, _, _ = _arrival_arrays(arrivals, DAY_S)
    clock_s = np.random.default_rng(5).uniform(0.0, 3 * DAY_S, 10_000)
    np.testing.assert_array_equal(
        _kernel_smooth_rates(params, clock_s),
        diurnal_rate_rps(clock_s, 40.0, arrivals.amplitude, 3600.0 * peak_hour, DAY_S))
    # simulation time t is clock time t + start: DiurnalArrivals.rate_at gives the same bits
    np.testing.assert_array_equal(
        _kernel_smooth_rates(params, clock_s + params[ak.P_START_S]), arrivals.rate_at(clock_s))
