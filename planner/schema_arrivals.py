"""Arrival processes of a workload: Poisson, diurnal (hour-of-day rate) and trace replay.

Part of the scenario schema (:mod:`planner.schema`, which re-exports every model here); the
rate formula of the diurnal process is :func:`simulators.core.arrivals.diurnal_rate_rps`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from planner.schema_base import _Frozen, _resolve_path
from planner.schema_errors import problem
from simulators.core.arrivals import diurnal_amplitude, diurnal_rate_rps

__all__ = ["Arrivals", "DiurnalArrivals", "PoissonArrivals", "TraceArrivals"]

_MAX_WEIGHT = 1e12
"""Largest hourly weight: 24 of them still sum to a finite number, exactly enough."""

_MIN_TIME_SCALE = 1e-6
"""Smallest trace ``time_scale``: a second of the trace replays in a microsecond."""


class PoissonArrivals(_Frozen):
    """Poisson arrivals: independent exponential gaps at a constant rate ``rate_rps`` (1/s)."""

    kind: Literal["poisson"]
    rate_rps: float = Field(gt=0)


class DiurnalArrivals(_Frozen):
    """A non-homogeneous Poisson process whose rate follows the hour of day.

    ``smooth``: ``rate(h) = mean_rate_rps * (1 + a * cos(2 pi (h - peak_hour) / 24))`` with
    ``a = (peak_to_trough - 1) / (peak_to_trough + 1)``, so the peak is ``peak_to_trough`` times
    the trough and the daily mean is ``mean_rate_rps``. ``piecewise``: a constant rate per hour,
    ``mean_rate_rps * 24 * w[i] / sum(w)`` for ``hourly_weights`` ``w``, or, without weights, the
    smooth curve's value at each hour's midpoint (whose 24-point mean is exactly the mean rate).
    Simulation time 0 is the clock hour ``start_hour`` (hours, in [0, 24)).
    """

    kind: Literal["diurnal"]
    mean_rate_rps: float = Field(gt=0)
    peak_to_trough: float = Field(default=3.0, ge=1, le=1e6)
    peak_hour: float = Field(default=14.0, ge=0, lt=24)
    start_hour: float = Field(default=0.0, ge=0, lt=24)
    shape: Literal["smooth", "piecewise"] = "smooth"
    hourly_weights: tuple[float, ...] | None = None

    @field_validator("hourly_weights")
    @classmethod
    def _check_weights(cls, weights: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if weights is None:
            return weights
        if len(weights) != 24:
            raise problem(("", f"needs 24 values, one per hour 0..23 (got {len(weights)} "
                               "values); add or remove values"))
        bad = [(i, w) for i, w in enumerate(weights) if not 0 <= w <= _MAX_WEIGHT]
        if bad:
            i, w = bad[0]
            raise problem((f"[{i}]", f"must be a weight in [0, {_MAX_WEIGHT:g}] (got {w:g}); "
                                     "use a non-negative weight (only their ratios matter)"))
        if sum(weights) <= 0:
            raise problem(("", "must have a positive sum (got all zeros); give at least one "
                               "hour a positive weight"))
        return weights

    @model_validator(mode="after")
    def _check_shape(self) -> DiurnalArrivals:
        if self.hourly_weights is None:
            return self
        if self.shape != "piecewise":
            raise problem(("hourly_weights", f"is only used with shape: piecewise (got shape: "
                                             f"{self.shape}); set shape: piecewise or remove "
                                             "hourly_weights"))
        fields = type(self).model_fields
        ignored = [name for name in ("peak_to_trough", "peak_hour")
                   if getattr(self, name) != fields[name].default]  # defaults: a dump reloads
        if ignored:
            raise problem((ignored[0], "has no effect when hourly_weights is given (got "
                                       f"{getattr(self, ignored[0])}); remove it"))
        return self

    def hourly_rates_rps(self) -> np.ndarray:
        """Return the piecewise rate of each clock hour, float64[24] in requests/s."""
        if self.hourly_weights is not None:
            weights = np.asarray(self.hourly_weights, dtype=np.float64)
            return self.mean_rate_rps * 24.0 * weights / weights.sum()
        return self._smooth_rps(np.arange(24, dtype=np.float64) + 0.5)

    def rate_rps_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Return the arrival rate (requests/s) at simulation times ``t_s`` (s, float64[n])."""
        hour = (self.start_hour + np.asarray(t_s, dtype=np.float64) / 3600.0) % 24.0
        if self.shape == "piecewise":
            return self.hourly_rates_rps()[np.minimum(hour.astype(np.int64), 23)]
        return self._smooth_rps(hour)

    def _smooth_rps(self, hour: np.ndarray) -> np.ndarray:
        return diurnal_rate_rps(hour, self.mean_rate_rps, diurnal_amplitude(self.peak_to_trough),
                                self.peak_hour, 24.0)


class TraceArrivals(_Frozen):
    """Arrivals replayed from a CSV column of timestamps (seconds, or date-time strings).

    ``time_scale`` multiplies the gaps between arrivals (0.5 replays twice as fast); ``repeat``
    loops the trace to fill the horizon. A relative ``path`` is resolved against the scenario
    file's folder.
    """

    kind: Literal["trace"]
    path: str = Field(min_length=1)
    column: str = Field(default="TIMESTAMP", min_length=1)
    time_scale: float = Field(default=1.0, gt=0, le=1e6)
    repeat: bool = False

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)

    @field_validator("time_scale")
    @classmethod
    def _not_instant(cls, value: float) -> float:
        # A smaller scale squeezes the trace into less than the simulators' microsecond steps
        # (and a repeated trace into an endless loop at one instant).
        if 0 < value < _MIN_TIME_SCALE:
            raise problem(("", f"must be >= {_MIN_TIME_SCALE:g} (got {value:g}): the trace's "
                               "gaps would fall below the simulators' microsecond resolution; "
                               "use a larger time_scale"))
        return value


Arrivals = Annotated[
    PoissonArrivals | DiurnalArrivals | TraceArrivals, Field(discriminator="kind")
]
