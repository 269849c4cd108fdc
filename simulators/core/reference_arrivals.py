"""Arrival-time generators for the reference models and the differential tests.

These draw from a caller-supplied ``numpy.random.Generator`` and are independent of the
kernels' random streams: a test generates one trace here and feeds the same array to the SimPy
reference and to the kernel.  They are textbook constructions, chosen for being easy to check,
not for speed.
"""

from __future__ import annotations

import math

import numpy as np

from domain.errors import SimulationError
from simulators.core import arrivals
from simulators.core.arrivals import HOUR_S, diurnal_amplitude

__all__ = ["diurnal_arrivals", "diurnal_rate_rps", "poisson_arrivals"]


def poisson_arrivals(rng: np.random.Generator, rate_rps: float, horizon_s: float) -> np.ndarray:
    """Draw the arrival times of a homogeneous Poisson process on ``[0, horizon_s)``.

    Uses the conditional-uniformity property: the number of arrivals is
    Poisson(``rate_rps * horizon_s``) and, given that number, the times are independent
    uniforms on the window, sorted.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed: one Poisson draw, then ``n`` uniforms).
    rate_rps : float
        Arrival rate, requests/s, ``>= 0``.
    horizon_s : float
        Length of the window, s, ``> 0``.

    Returns
    -------
    float64[n]
        Sorted arrival times, s, each in ``[0, horizon_s)``.
    """
    _check_rate_and_horizon(rate_rps, horizon_s)
    n = int(rng.poisson(rate_rps * horizon_s))
    times_s = np.sort(horizon_s * rng.random(n))
    # horizon_s * u with u < 1 can round up to horizon_s itself; such a point is outside the
    # half-open window (probability about 1e-16 per point).
    return times_s[times_s < horizon_s]


def diurnal_rate_rps(
    time_s: np.ndarray,
    mean_rate_rps: float,
    peak_to_trough: float,
    peak_hour: float,
    hourly_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate the diurnal arrival rate used by :func:`diurnal_arrivals`.

    Smooth profile (``hourly_weights is None``)::

        rate(t) = m * (1 + a * cos(2 pi (t - 3600 * peak_hour) / 86400)),  a = (r - 1) / (r + 1)

    with ``m = mean_rate_rps`` and ``r = peak_to_trough``, so that the maximum over the minimum
    is ``r``, the peak is at ``peak_hour`` and the daily mean is ``m``
    (:func:`simulators.core.arrivals.diurnal_rate_rps`, the kernels' formula).

    Piecewise profile: ``rate(t) = m * w[floor(t / 3600) mod 24]``, where ``w`` is
    ``hourly_weights`` divided by its mean (so the daily mean is again ``m``);
    ``peak_to_trough`` and ``peak_hour`` are then ignored.

    Parameters
    ----------
    time_s : float64[n]
        Times since midnight of day 0, s.
    mean_rate_rps : float
        Daily mean rate, requests/s.
    peak_to_trough : float
        Ratio of the highest to the lowest rate of the smooth profile, ``>= 1``.
    peak_hour : float
        Hour of the day (0 to 24) of the smooth profile's peak.
    hourly_weights : float64[24], optional
        Relative rates of the 24 hours of the day, ``>= 0``, not all zero.

    Returns
    -------
    float64[n]
        Rate at each time, requests/s.
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    if hourly_weights is not None:
        weights = _normalised_weights(hourly_weights)
        hour = np.floor(time_s / HOUR_S).astype(np.int64) % 24
        return mean_rate_rps * weights[hour]
    return arrivals.diurnal_rate_rps(time_s, mean_rate_rps, diurnal_amplitude(peak_to_trough),
                                     HOUR_S * peak_hour, arrivals.DAY_S)


def diurnal_arrivals(
    rng: np.random.Generator,
    mean_rate_rps: float,
    peak_to_trough: float,
    peak_hour: float,
    horizon_s: float,
    hourly_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a non-homogeneous Poisson process with a daily cycle by thinning (Lewis-Shedler).

    Candidates come from a homogeneous Poisson process at the profile's maximum rate
    ``rate_max``; a candidate at time ``t`` is kept with probability ``rate(t) / rate_max``
    (``rate`` is :func:`diurnal_rate_rps`).  The kept points form a Poisson process with
    intensity ``rate(t)`` (Lewis and Shedler, "Simulation of nonhomogeneous Poisson processes by
    thinning", Naval Research Logistics Quarterly 26(3), 1979).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (consumed: the candidates, then one uniform per candidate).
    mean_rate_rps : float
        Daily mean rate, requests/s, ``>= 0``.
    peak_to_trough : float
        Ratio of the highest to the lowest rate of the smooth profile, finite and ``>= 1``.
    peak_hour : float
        Hour of the day of the smooth profile's peak, in ``[0, 24]``.
    horizon_s : float
        Length of the window, s, ``> 0``; ``t = 0`` is midnight.
    hourly_weights : float64[24], optional
        If given, the piecewise-constant hourly profile is used instead of the smooth one
        (``peak_to_trough`` and ``peak_hour`` are then ignored).

    Returns
    -------
    float64[n]
        Sorted arrival times, s, each in ``[0, horizon_s)``.
    """
    _check_rate_and_horizon(mean_rate_rps, horizon_s)
    if hourly_weights is None:
        if not (math.isfinite(peak_to_trough) and peak_to_trough >= 1.0):
            raise SimulationError(
                f"peak_to_trough must be finite and >= 1 (got {peak_to_trough!r}); "
                "use 1 for a flat profile"
            )
        if not (math.isfinite(peak_hour) and 0.0 <= peak_hour <= 24.0):
            raise SimulationError(f"peak_hour must be in [0, 24] (got {peak_hour!r})")
        max_rate_rps = mean_rate_rps * (1.0 + diurnal_amplitude(peak_to_trough))
    else:
        max_rate_rps = mean_rate_rps * float(np.max(_normalised_weights(hourly_weights)))

    candidates_s = poisson_arrivals(rng, max_rate_rps, horizon_s)
    if max_rate_rps == 0.0:
        return candidates_s
    rate = diurnal_rate_rps(candidates_s, mean_rate_rps, peak_to_trough, peak_hour, hourly_weights)
    keep = rng.random(candidates_s.size) * max_rate_rps < rate
    return candidates_s[keep]


def _normalised_weights(hourly_weights: np.ndarray) -> np.ndarray:
    """Return the 24 hourly weights divided by their mean, after checking them."""
    weights = np.asarray(hourly_weights, dtype=np.float64)
    if weights.shape != (24,):
        raise SimulationError(
            f"hourly_weights must have 24 values, one per hour (got shape {weights.shape})"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0.0) or weights.sum() <= 0.0:
        raise SimulationError(
            f"hourly_weights must be finite, >= 0 and not all zero (got {weights.tolist()})"
        )
    return weights / weights.mean()


def _check_rate_and_horizon(rate_rps: float, horizon_s: float) -> None:
    """Raise ``SimulationError`` unless the rate is finite ``>= 0`` and the horizon ``> 0``."""
    if not (math.isfinite(rate_rps) and rate_rps >= 0.0):
        raise SimulationError(f"arrival rate must be finite and >= 0 rps (got {rate_rps!r})")
    if not (math.isfinite(horizon_s) and horizon_s > 0.0):
        raise SimulationError(f"horizon_s must be finite and > 0 (got {horizon_s!r})")
