"""Arrival processes the serving kernels understand (plain values, no files, no YAML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from domain.errors import SimulationError

DAY_S = 86_400.0
HOUR_S = 3600.0


def diurnal_amplitude(peak_to_trough: float) -> float:
    """Return the relative amplitude ``a = (r - 1) / (r + 1)`` whose peak / trough is ``r``."""
    return (peak_to_trough - 1.0) / (peak_to_trough + 1.0)


def diurnal_rate_rps(clock, mean_rate_rps: float, amplitude: float, peak, period):
    """Return the smooth diurnal rate ``mean * (1 + a cos(2 pi (clock - peak) / period))``.

    ``clock``, ``peak`` and ``period`` share one unit: seconds (``period`` = :data:`DAY_S`) or
    hours (24); ``clock`` may be an array.  The one NumPy form of the formula: the scenario
    schema, :class:`DiurnalArrivals` and the reference generators evaluate it here, and
    ``simulators.core.arrival_kernel.smooth_rate`` is its compiled twin with the same
    floating-point expression, so every path gives the same bits.
    """
    phase = 2.0 * math.pi * (clock - peak) / period
    return mean_rate_rps * (1.0 + amplitude * np.cos(phase))


@dataclass(frozen=True)
class PoissonArrivals:
    """Homogeneous Poisson arrivals at ``rate_rps`` requests per second."""

    rate_rps: float

    def long_run_rate_rps(self) -> float:
        """Return the long-run arrival rate (1/s)."""
        return float(self.rate_rps)


@dataclass(frozen=True)
class DiurnalArrivals:
    """Non-homogeneous Poisson arrivals with a daily cycle, generated exactly by thinning.

    Smooth shape: ``rate(t) = mean * (1 + a cos(2 pi (t - peak) / 86400))`` with
    ``a = (r - 1) / (r + 1)`` so that peak / trough = ``r``.  Piecewise shape: ``rate(t) = mean *
    w[hour(t)]`` with the 24 hourly weights ``w`` normalised to mean 1.  Simulation time 0 is the
    clock hour ``start_hour``; ``t`` above is clock time.
    """

    mean_rate_rps: float
    peak_to_trough: float = 3.0
    peak_hour: float = 14.0
    hourly_weights: tuple[float, ...] | None = None
    start_hour: float = 0.0

    @property
    def amplitude(self) -> float:
        """Return the smooth curve's relative amplitude ``a``."""
        return diurnal_amplitude(self.peak_to_trough)

    def hourly_rates_rps(self) -> np.ndarray:
        """Return float64[24] rates of the piecewise shape (1/s), or zeros for the smooth one."""
        if self.hourly_weights is None:
            return np.zeros(24)
        w = np.asarray(self.hourly_weights, dtype=np.float64)
        return self.mean_rate_rps * w / w.mean()

    def rate_at(self, t_s: np.ndarray) -> np.ndarray:
        """Return the instantaneous rate (1/s) at simulation times ``t_s`` (s)."""
        t = np.asarray(t_s, dtype=np.float64) + HOUR_S * self.start_hour
        if self.hourly_weights is not None:
            hour = (np.fmod(t, DAY_S) // HOUR_S).astype(np.int64) % 24
            return self.hourly_rates_rps()[hour]
        return diurnal_rate_rps(t, self.mean_rate_rps, self.amplitude,
                                HOUR_S * self.peak_hour, DAY_S)

    def long_run_rate_rps(self) -> float:
        """Return the long-run (daily mean) arrival rate (1/s)."""
        return float(self.mean_rate_rps)


@dataclass(frozen=True)
class TraceArrivals:
    """Replay of recorded arrival times (s from the start of the simulation, sorted).

    With ``repeat`` the trace is looped: copy ``k`` is shifted by ``k * period_s``, where the
    period is the trace's span plus its mean gap (so the seam looks like any other gap).
    """

    times_s: np.ndarray = field(repr=False)
    repeat: bool = False

    def period_s(self) -> float:
        """Return the loop period (s)."""
        t = self.times_s
        if t.size < 2:
            return max(float(t[-1]) if t.size else 0.0, 1.0)
        span = float(t[-1] - t[0])
        return float(t[-1]) + span / (t.size - 1)

    def long_run_rate_rps(self) -> float:
        """Return the trace's mean arrival rate over its period (1/s)."""
        return self.times_s.size / self.period_s()


Arrivals = PoissonArrivals | DiurnalArrivals | TraceArrivals


def check_arrivals(arrivals: Arrivals) -> None:
    """Raise :class:`SimulationError` when an arrival process cannot be simulated."""
    if isinstance(arrivals, PoissonArrivals):
        if not arrivals.rate_rps > 0 or not math.isfinite(arrivals.rate_rps):
            raise SimulationError(f"Poisson rate_rps must be > 0 (got {arrivals.rate_rps!r})")
    elif isinstance(arrivals, DiurnalArrivals):
        if not arrivals.mean_rate_rps > 0:
            raise SimulationError(
                f"diurnal mean_rate_rps must be > 0 (got {arrivals.mean_rate_rps!r})"
            )
        if not arrivals.peak_to_trough >= 1:
            raise SimulationError(
                f"diurnal peak_to_trough must be >= 1 (got {arrivals.peak_to_trough!r})"
            )
        if arrivals.hourly_weights is not None:
            w = np.asarray(arrivals.hourly_weights, dtype=np.float64)
            if w.shape != (24,) or (w < 0).any() or not w.sum() > 0:
                raise SimulationError(
                    "diurnal hourly_weights must be 24 non-negative numbers with a positive sum"
                )
    elif isinstance(arrivals, TraceArrivals):
        t = arrivals.times_s
        if t.ndim != 1 or t.size == 0:
            raise SimulationError("trace arrivals must be a non-empty 1-D array of times")
        if (np.diff(t) < 0).any() or t[0] < 0:
            raise SimulationError("trace arrival times must be sorted and >= 0")
    else:  # pragma: no cover - typing guards this
        raise SimulationError(f"unknown arrival process {arrivals!r}")
