"""Young/Daly checkpoint theory: the optimal interval, the expected completion time and the
waste, in closed form (the training kernel is tested against them)."""

from __future__ import annotations

import math

import numpy as np

from domain.errors import SimulationError

_MAX_SEGMENTS = 10_000_000
"""More checkpoint segments than this is a mistake (an interval far too short)."""


def young_daly_interval_s(checkpoint_cost_s: float, mtbf_s: float) -> float:
    """Return Young's optimum checkpoint interval ``sqrt(2 C M)`` (s of compute).

    Parameters
    ----------
    checkpoint_cost_s : float
        Time to write one checkpoint, ``C`` (s, > 0).
    mtbf_s : float
        Mean time between interruptions of the gang, ``M`` (s, > 0).
    """
    _positive("checkpoint_cost_s", checkpoint_cost_s)
    _positive("mtbf_s", mtbf_s)
    return math.sqrt(2.0 * checkpoint_cost_s * mtbf_s)


def daly_interval_s(checkpoint_cost_s: float, mtbf_s: float) -> float:
    """Return Daly's first-order optimum ``sqrt(2 C M) - C`` (s; valid for ``C < M / 2``)."""
    return young_daly_interval_s(checkpoint_cost_s, mtbf_s) - checkpoint_cost_s


def daly_expected_time_s(work_s: float, interval_s: float | None, checkpoint_cost_s: float,
                         restart_s: float, mtbf_s: float) -> float:
    """Return the expected wall time to do ``work_s`` of compute with exponential failures.

    Daly (2006), restarts that can themselves fail: every segment of ``tau`` compute plus its
    checkpoint ``C`` is retried until it runs ``tau + C`` without a failure, and each failure
    costs a recovery of ``R`` that is retried until it runs ``R`` without one.  The expected time
    of one segment is ``M e^{R/M} (e^{(tau + C)/M} - 1)``; the work is split as in the
    simulator (segments of ``interval_s``, the last one shorter), which gives
    ``M e^{R/M} (e^{(tau + C)/M} - 1) W / tau`` when ``W`` is a whole number of intervals.
    The first start-up (provisioning and the first restart) is not included.

    Parameters
    ----------
    work_s : float
        Compute time ``W`` on the gang (s, > 0).
    interval_s : float or None
        Compute between checkpoints ``tau`` (s); None = one segment of ``W`` with no checkpoint.
    checkpoint_cost_s : float
        ``C`` (s, >= 0; ignored when ``interval_s`` is None).
    restart_s : float
        ``R``: replacement delay plus restart overhead (s, >= 0).
    mtbf_s : float
        ``M``: mean time between gang interruptions (s, > 0; ``inf`` = never).

    Returns
    -------
    float
        Expected wall time (s); ``inf`` when it overflows.
    """
    _positive("work_s", work_s)
    _non_negative("restart_s", restart_s)
    if mtbf_s == math.inf:
        n_seg, seg, last = _segments(work_s, interval_s)
        return work_s + (n_seg * checkpoint_cost_s if interval_s is not None else 0.0)
    _positive("mtbf_s", mtbf_s)
    c = checkpoint_cost_s if interval_s is not None else 0.0
    _non_negative("checkpoint_cost_s", c)
    n_seg, seg, last = _segments(work_s, interval_s)
    m = mtbf_s
    try:
        factor = m * math.exp(restart_s / m)
        return factor * ((n_seg - 1) * math.expm1((seg + c) / m) + math.expm1((last + c) / m))
    except OverflowError:
        return math.inf


def predicted_waste_fraction(interval_s: float, checkpoint_cost_s: float, mtbf_s: float,
                             restart_s: float = 0.0, *, first_order: bool = False) -> float:
    """Return the expected share of wall time that is not useful compute, ``1 - W / E[T]``.

    Parameters
    ----------
    interval_s, checkpoint_cost_s, mtbf_s, restart_s : float
        ``tau``, ``C``, ``M``, ``R`` as in :func:`daly_expected_time_s` (s).
    first_order : bool
        False: exact for Daly's model, ``1 - tau / (M e^{R/M} (e^{(tau+C)/M} - 1))``.  True:
        the usual first-order form ``C / tau + (tau / 2 + R) / M`` (good when
        ``C << tau << M``; 9.13 % for C = 60 s, M = 4 h at Young's interval).
    """
    _positive("interval_s", interval_s)
    _non_negative("checkpoint_cost_s", checkpoint_cost_s)
    _positive("mtbf_s", mtbf_s)
    _non_negative("restart_s", restart_s)
    if first_order:
        return checkpoint_cost_s / interval_s + (0.5 * interval_s + restart_s) / mtbf_s
    try:
        per_segment = mtbf_s * math.exp(restart_s / mtbf_s) * math.expm1(
            (interval_s + checkpoint_cost_s) / mtbf_s)
    except OverflowError:  # a segment is expected never to finish: all time is waste
        return 1.0
    return 1.0 - interval_s / per_segment


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise SimulationError(f"{name} must be a number (got {value!r}); pass e.g. 1.0")
    if not math.isfinite(value):
        raise SimulationError(f"{name} must be finite (got {value}); pass a finite number")
    return float(value)


def _positive(name: str, value) -> None:
    if _number(name, value) <= 0:
        raise SimulationError(f"{name} must be > 0 (got {value}); pass a positive number")


def _non_negative(name: str, value) -> None:
    if _number(name, value) < 0:
        raise SimulationError(f"{name} must be >= 0 (got {value}); pass 0 or more")


def _segments(work_s: float, interval_s: float | None) -> tuple[int, float, float]:
    """Return (number of segments, segment compute, last segment compute), s."""
    if interval_s is None:
        return 1, float(work_s), float(work_s)
    q = work_s / interval_s
    n = round(q)
    if not abs(q - n) <= 1e-9 * max(1.0, q):
        n = math.ceil(q)
    n = max(int(n), 1)
    if n > _MAX_SEGMENTS:
        raise SimulationError(
            f"checkpoint_interval_s={interval_s} cuts {work_s:.6g} s of compute into {n:,} "
            f"segments (more than {_MAX_SEGMENTS:,}); use a longer interval")
    last = work_s - (n - 1) * interval_s
    if last <= 0.0:  # rounding of a whole number of intervals
        last = float(interval_s)
    return n, float(interval_s), float(last)
