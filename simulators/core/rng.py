"""Per-replication random streams for the kernels: xoshiro256+ seeded by splitmix64.

A stream's state is a ``uint64[4]`` array owned by one replication, so kernels that run
replications in parallel never share state and the result does not depend on the thread count.
The generator is small enough to inline into the hot loop; numpy's ``Generator`` inside Numba
draws about 87 million exponentials per second on these machines, and the serving kernel needs
two draws per request, so the cheaper stream matters (see ``benchmarks/``).

References: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021);
Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (splitmix64, 2014).
"""

from __future__ import annotations

import math

import numpy as np

from simulators.core.jit import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM = np.uint64(0xD1B54A32D192ED03)
_TWO_POW_M53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_PI = 2.0 * math.pi
_MASK_8 = np.uint64(0xFF)
_S11 = np.uint64(11)  # 64 - 53: the good bits of an output
_S17 = np.uint64(17)  # xoshiro256 shift and rotation
_S19 = np.uint64(19)
_S45 = np.uint64(45)


def _exponential_ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return the 256-layer ziggurat tables for Exp(1) on 53-bit integers.

    Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat. Softw.
    5(8), 2000 (their ``zigset`` for the exponential, with 2**53 in place of 2**32).
    """
    m = 2.0**53
    de = 7.697117470131487
    te = de
    ve = 3.949659822581572e-3
    ke = np.zeros(256, dtype=np.uint64)
    we = np.zeros(256)
    fe = np.zeros(256)
    q = ve / math.exp(-de)
    ke[0] = np.uint64((de / q) * m)
    ke[1] = np.uint64(0)
    we[0] = q / m
    we[255] = de / m
    fe[0] = 1.0
    fe[255] = math.exp(-de)
    for i in range(254, 0, -1):
        de = -math.log(ve / de + math.exp(-de))
        ke[i + 1] = np.uint64((de / te) * m)
        te = de
        fe[i] = math.exp(-de)
        we[i] = de / m
    return ke, we, fe, 7.697117470131487


# Constant tables, computed once when the module is imported (pure arithmetic, no I/O); Numba
# freezes them into the compiled kernels.
_ZIG_KE, _ZIG_WE, _ZIG_FE, _ZIG_R = _exponential_ziggurat_tables()


@jit(inline="always")
def _splitmix64(x):
    """Return the splitmix64 output for state ``x`` (already advanced by the caller)."""
    z = x
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@jit
def seed_stream(seed, stream, state):
    """Fill ``state`` (uint64[4]) for replication ``stream`` of scenario seed ``seed``.

    Parameters
    ----------
    seed : int
        The scenario seed (>= 0).
    stream : int
        The replication index (>= 0); each index gives an independent-looking stream.
    state : uint64[4]
        Output buffer.
    """
    x = np.uint64(seed) * _GOLDEN + (np.uint64(stream) + np.uint64(1)) * _STREAM
    for k in range(4):
        x = x + _GOLDEN
        state[k] = _splitmix64(x)
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = np.uint64(1)


@jit(inline="always")
def xoshiro_step(s0, s1, s2, s3):
    """One xoshiro256+ step on a stream held in registers: returns (64 bits, s0, s1, s2, s3).

    A loop that draws many numbers loads ``state`` once, steps the registers and stores them
    back at the end (:func:`simulators.core.arrival_kernel.fill_arrivals`); :func:`next_u64` is
    one step with the load and the store.
    """
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
def next_u64(state):
    """Advance a xoshiro256+ stream and return 64 bits (the top 53 are the good ones)."""
    result, state[0], state[1], state[2], state[3] = xoshiro_step(state[0], state[1], state[2],
                                                                  state[3])
    return result


@jit(inline="always")
def uniform_of(bits):
    """Return the uniform float64 in (0, 1] made of the top 53 of 64 random ``bits``."""
    return (float(bits >> _S11) + 1.0) * _TWO_POW_M53


@jit(inline="always")
def uniform(state):
    """Return a uniform float64 in (0, 1]: never 0, so ``log`` of it is finite."""
    return uniform_of(next_u64(state))


@jit(inline="always")
def exponential_step(state, s0, s1, s2, s3):
    """:func:`exponential` on a stream held in registers: returns (x, s0, s1, s2, s3).

    The same draws as :func:`exponential`; the rare slow path stores the registers into
    ``state``, draws through it and reloads them.  (:func:`exponential` does not call this: the
    registers' round trip through the tuple makes it twice as slow there.)
    """
    bits, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
    iz = bits & _MASK_8
    jz = bits >> _S11
    if jz < _ZIG_KE[iz]:
        return float(jz) * _ZIG_WE[iz], s0, s1, s2, s3
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    x = _exponential_slow(state, iz, jz)
    return x, state[0], state[1], state[2], state[3]


@jit(inline="always")
def exponential(state):
    """Return an Exp(1) variate with the ziggurat method (98.9 % of draws: one table lookup).

    About twice as fast as ``-log(u)``; the rare slow path (a wedge test or the tail, where
    ``x = r - log(u)`` by memorylessness) keeps the distribution exact.
    """
    bits = next_u64(state)
    iz = bits & _MASK_8
    jz = bits >> _S11
    if jz < _ZIG_KE[iz]:
        return float(jz) * _ZIG_WE[iz]
    return _exponential_slow(state, iz, jz)


@jit
def _exponential_slow(state, iz, jz):
    """Slow path of :func:`exponential` (Marsaglia & Tsang's ``efix``)."""
    while True:
        if iz == 0:
            return _ZIG_R - math.log(uniform(state))
        x = float(jz) * _ZIG_WE[iz]
        if _ZIG_FE[iz] + uniform(state) * (_ZIG_FE[iz - 1] - _ZIG_FE[iz]) < math.exp(-x):
            return x
        bits = next_u64(state)
        iz = bits & _MASK_8
        jz = bits >> _S11
        if jz < _ZIG_KE[iz]:
            return float(jz) * _ZIG_WE[iz]


@jit(inline="always")
def exponential_by_inversion(state):
    """Return an Exp(1) variate by inversion (``-log(u)``, u in (0, 1]); kept for tests."""
    return -math.log(uniform(state))


@jit(inline="always")
def standard_normal(state):
    """Return a N(0, 1) variate (Box-Muller, one of the pair; used per batch, not per request)."""
    u1 = uniform(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)
