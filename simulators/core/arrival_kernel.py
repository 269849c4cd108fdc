"""Block generation of arrival times: the random-number work in tight, specialised loops.

The serving loop consumes arrivals one at a time; generating them 256 at a time, with the
xoshiro256+ state held in registers (loaded once per block, stored back at the end) and the
arrival kind chosen once per block, removes the store-to-load round trip through the state
array on every draw.  The streams are the same as :mod:`simulators.core.rng` draws: the
same 64-bit outputs, the same ziggurat, so results do not depend on which path drew them.
"""

from __future__ import annotations

import math

import numpy as np

from simulators.core.jit import jit
from simulators.core.rng import (
    exponential,
    uniform,
    _MASK_8,
    _TWO_POW_M53,
    _ZIG_KE,
    _ZIG_WE,
    _exponential_slow,
)

ARRIVAL_POISSON = 0
ARRIVAL_SMOOTH = 1
ARRIVAL_PIECEWISE = 2
ARRIVAL_TRACE = 3


# arrival_params layout
P_RATE = 0  # Poisson rate, or the thinning envelope (max rate) for diurnal arrivals, 1/s
P_AMPLITUDE = 1  # smooth diurnal relative amplitude a, rate = mean * (1 + a cos(...))
P_PEAK_S = 2  # time of the daily peak, s after midnight
P_PERIOD_S = 3  # diurnal period (86,400 s), or the trace's repeat period
P_REPEAT = 4  # 1.0 = loop the trace, 0.0 = stop at its end
P_MEAN_RATE = 5  # smooth diurnal mean rate, 1/s
P_START_S = 6  # clock time of day at simulation time 0, s after midnight
P_MEAN_GAP_S = 7  # 1 / Poisson rate (a multiplication is cheaper than a division)
P_SEGMENT_S = 8  # diurnal thinning-envelope segment length, s (divides an hour)
N_ARRIVAL_PARAMS = 9


ARRIVAL_BLOCK = 256  # arrivals generated per block

_S17 = np.uint64(17)
_S45 = np.uint64(45)
_S19 = np.uint64(19)
_S11 = np.uint64(11)
_TWO_PI = 2.0 * math.pi


@jit(inline="always")
def _step(s0, s1, s2, s3):
    """One xoshiro256+ step on register state: returns (output, s0, s1, s2, s3)."""
    result = s0 + s3
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _S45) | (s3 >> _S19)
    return result, s0, s1, s2, s3


@jit(inline="always")
def _exp_draw(rng, s0, s1, s2, s3):
    """Exp(1) by the ziggurat on register state; the rare slow path goes through ``rng``."""
    bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
    iz = bits & _MASK_8
    jz = bits >> _S11
    if jz < _ZIG_KE[iz]:
        return float(jz) * _ZIG_WE[iz], s0, s1, s2, s3
    rng[0] = s0
    rng[1] = s1
    rng[2] = s2
    rng[3] = s3
    x = _exponential_slow(rng, iz, jz)
    return x, rng[0], rng[1], rng[2], rng[3]


@jit
def fill_arrivals(kind, t_gen, pos, rng, params, hourly_rates, trace, horizon_s, block):
    """Write the next ``block.shape[0]`` arrival times after ``t_gen`` into ``block``.

    Times at or past the horizon are written as +inf.  Returns the last time generated and
    the position state (clock-hour index for diurnal arrivals, row for traces), exactly as
    repeated calls of ``simulators.realtime._layout._next_arrival`` would.
    """
    n = block.shape[0]
    if kind == ARRIVAL_TRACE or t_gen == math.inf:
        for k in range(n):
            if t_gen != math.inf:
                t_gen, pos = _next_arrival(kind, t_gen, pos, rng, params, hourly_rates,
                                              trace, horizon_s)
            block[k] = t_gen
        return t_gen, pos
    s0 = rng[0]
    s1 = rng[1]
    s2 = rng[2]
    s3 = rng[3]
    k = 0
    if kind == ARRIVAL_POISSON:
        gap = params[P_MEAN_GAP_S]
        while k < n:
            e, s0, s1, s2, s3 = _exp_draw(rng, s0, s1, s2, s3)
            t_gen = t_gen + e * gap
            if t_gen >= horizon_s:
                t_gen = math.inf
                break
            block[k] = t_gen
            k += 1
    else:
        start_s = params[P_START_S]
        seg_s = params[P_SEGMENT_S]
        if pos < 0:
            pos = int(math.floor((t_gen + start_s) / seg_s))
        upper = hourly_rates[0, pos]
        lower = hourly_rates[1, pos]
        inv_upper = hourly_rates[2, pos]
        hour_end = (pos + 1) * seg_s - start_s
        while k < n:
            e, s0, s1, s2, s3 = _exp_draw(rng, s0, s1, s2, s3)
            t_next = t_gen + e * inv_upper if upper > 0.0 else math.inf
            while t_next >= hour_end:  # cross into the next envelope segment(s)
                e -= (hour_end - t_gen) * upper
                t_gen = hour_end
                pos += 1
                if t_gen >= horizon_s:
                    break
                upper = hourly_rates[0, pos]
                lower = hourly_rates[1, pos]
                inv_upper = hourly_rates[2, pos]
                hour_end = (pos + 1) * seg_s - start_s
                t_next = t_gen + e * inv_upper if upper > 0.0 else math.inf
            if t_gen >= horizon_s or t_next >= horizon_s:
                t_gen = math.inf
                break
            t_gen = t_next
            bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
            u = (float(bits >> _S11) + 1.0) * _TWO_POW_M53 * upper
            if u > lower:  # outside the squeeze: compare with the exact rate
                phase = _TWO_PI * (t_gen + start_s - params[P_PEAK_S]) / params[P_PERIOD_S]
                rate = params[P_MEAN_RATE] * (1.0 + params[P_AMPLITUDE] * math.cos(phase))
                if u > rate:
                    continue
            block[k] = t_gen
            k += 1
    for j in range(k, n):
        block[j] = math.inf
    rng[0] = s0
    rng[1] = s1
    rng[2] = s2
    rng[3] = s3
    return t_gen, pos


@jit(inline="always")
def _next_arrival(kind, t, pos, rng, params, hourly_rates, trace, horizon_s):
    """Return the next arrival time after ``t`` (inf past the horizon) and the new position.

    Diurnal arrivals are a non-homogeneous Poisson process generated exactly by thinning
    against a piecewise-constant envelope: ``hourly_rates[0, k]`` bounds the rate from above
    over the ``k``-th clock segment (``P_SEGMENT_S`` long, 10 minutes) counted from midnight
    before simulation time 0, and
    ``hourly_rates[1, k]`` from below (the 24-hour pattern repeated over the horizon, so the
    kernel indexes it directly, without a modulo); ``hourly_rates[2, k]`` is ``1 / upper``.  Candidate gaps are drawn by
    inverting the envelope's integral across hour boundaries; a candidate is accepted at once
    when ``u * upper <= lower`` (the squeeze, almost always), otherwise by comparing with the
    exact rate.  For piecewise shapes upper = lower, so every candidate is accepted and the
    method is plain inversion.  ``pos`` carries the absolute clock-segment index of ``t`` (or the
    trace position for trace replay; -1 before the first arrival).
    """
    if kind == ARRIVAL_POISSON:
        t = t + exponential(rng) * params[P_MEAN_GAP_S]
    elif kind == ARRIVAL_SMOOTH or kind == ARRIVAL_PIECEWISE:
        start_s = params[P_START_S]
        if pos < 0:
            pos = int(math.floor((t + start_s) / params[P_SEGMENT_S]))
        while True:
            e = exponential(rng)
            while True:
                h = pos
                upper = hourly_rates[0, h]
                hour_end = (pos + 1) * params[P_SEGMENT_S] - start_s
                t_next = t + e * hourly_rates[2, h] if upper > 0.0 else math.inf  # 1 / upper
                if t_next < hour_end:
                    t = t_next
                    break
                e -= (hour_end - t) * upper
                t = hour_end
                pos += 1
                if t >= horizon_s:
                    return math.inf, pos
            if t >= horizon_s:
                return math.inf, pos
            u = uniform(rng) * upper
            if u <= hourly_rates[1, h]:
                break
            phase = _TWO_PI * (t + start_s - params[P_PEAK_S]) / params[P_PERIOD_S]
            rate = params[P_MEAN_RATE] * (1.0 + params[P_AMPLITUDE] * math.cos(phase))
            if u <= rate:
                break
    else:
        pos += 1
        n = trace.shape[0]
        if pos >= n and params[P_REPEAT] == 0.0:
            return math.inf, pos
        t = trace[pos % n] + (pos // n) * params[P_PERIOD_S]
    if t >= horizon_s:
        return math.inf, pos
    return t, pos
