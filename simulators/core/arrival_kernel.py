"""Block generation of arrival times: the random-number work in tight, specialised loops.

The serving loop consumes arrivals one at a time; generating them 256 at a time, with the
xoshiro256+ state held in registers (loaded once per block, stored back at the end, with the
register-state draws of :mod:`simulators.core.rng`) and the arrival kind chosen once per block,
removes the store-to-load round trip through the state array on every draw.  The streams are the
same as :mod:`simulators.core.rng` draws: the same 64-bit outputs, the same ziggurat, so results
do not depend on the block size (``block.shape[0]`` = 1 is one arrival at a time).
"""

from __future__ import annotations

import math

from simulators.core.jit import jit
from simulators.core.rng import _TWO_PI, exponential_step, uniform_of, xoshiro_step

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


@jit(inline="always")
def smooth_rate(params, clock_s):
    """Return the smooth diurnal rate (1/s) at ``clock_s``, s after midnight of day 0.

    The compiled twin of :func:`simulators.core.arrivals.diurnal_rate_rps`, the same
    floating-point expression (``tests/simulators/test_arrival_blocks.py`` checks the bits).
    """
    phase = _TWO_PI * (clock_s - params[P_PEAK_S]) / params[P_PERIOD_S]
    return params[P_MEAN_RATE] * (1.0 + params[P_AMPLITUDE] * math.cos(phase))


@jit
def fill_arrivals(kind, t_gen, pos, rng, params, hourly_rates, trace, horizon_s, block):
    """Write the next ``block.shape[0]`` arrival times after ``t_gen`` into ``block``.

    Times at or past the horizon are written as +inf.  Returns the last time generated and
    the position state ``pos`` (-1 before the first arrival): the absolute clock-segment index
    of ``t_gen`` for diurnal arrivals, the trace row for traces.  The draws do not depend on the
    block size: filling blocks of 1 gives the same times as blocks of 256.

    Diurnal arrivals are a non-homogeneous Poisson process generated exactly by thinning
    against a piecewise-constant envelope: ``hourly_rates[0, k]`` bounds the rate from above
    over the ``k``-th clock segment (``P_SEGMENT_S`` long, 10 minutes) counted from midnight
    before simulation time 0, and ``hourly_rates[1, k]`` from below (the 24-hour pattern
    repeated over the horizon, so the kernel indexes it directly, without a modulo);
    ``hourly_rates[2, k]`` is ``1 / upper``.  Candidate gaps are drawn by inverting the
    envelope's integral across segment boundaries; a candidate is accepted at once when
    ``u * upper <= lower`` (the squeeze, almost always), otherwise by comparing with the exact
    rate (:func:`smooth_rate`).  For piecewise shapes upper = lower, so every candidate is
    accepted and the method is plain inversion.
    """
    n = block.shape[0]
    if kind == ARRIVAL_TRACE or t_gen == math.inf:
        n_trace = trace.shape[0]
        for k in range(n):
            if t_gen != math.inf:  # the next row, shifted by whole periods when looped
                pos += 1
                if pos >= n_trace and params[P_REPEAT] == 0.0:
                    t_gen = math.inf
                else:
                    t_gen = trace[pos % n_trace] + (pos // n_trace) * params[P_PERIOD_S]
                    if t_gen >= horizon_s:
                        t_gen = math.inf
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
            e, s0, s1, s2, s3 = exponential_step(rng, s0, s1, s2, s3)
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
            e, s0, s1, s2, s3 = exponential_step(rng, s0, s1, s2, s3)
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
            bits, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            u = uniform_of(bits) * upper
            if u > lower and u > smooth_rate(params, t_gen + start_s):  # squeeze, then exact
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
