"""Confidence intervals across independent replications."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95 % confidence interval across replications.

    Attributes
    ----------
    mean : float or None
        Mean of the per-replication values (None when no replication had a value).
    low, high : float or None
        Student-t 95 % interval for the mean; equal to ``mean`` when the replications agree
        exactly (e.g. deterministic inputs), None with fewer than two values.
    n : int
        Replications that had a value.
    """

    mean: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        """Return the half-width of the interval, or None."""
        if self.low is None or self.high is None:
            return None
        return 0.5 * (self.high - self.low)

    def contains(self, value: float, *, rel_tol: float = 0.0) -> bool:
        """Return whether ``value`` lies in the interval widened by ``rel_tol`` of ``value``."""
        if self.low is None or self.high is None:
            return False
        slack = abs(value) * rel_tol
        return self.low - slack <= value <= self.high + slack

    def scaled(self, factor: float) -> Estimate:
        """Return the estimate multiplied by ``factor`` (e.g. seconds to milliseconds)."""
        def f(x: float | None) -> float | None:
            return None if x is None else x * factor
        if factor >= 0:
            return Estimate(f(self.mean), f(self.low), f(self.high), self.n)
        return Estimate(f(self.mean), f(self.high), f(self.low), self.n)

    def to_dict(self) -> dict[str, float | int | None]:
        """Return ``{"mean", "ci95_low", "ci95_high", "n"}``."""
        return {"mean": self.mean, "ci95_low": self.low, "ci95_high": self.high, "n": self.n}


def estimate(values: np.ndarray, *, confidence: float = 0.95) -> Estimate:
    """Return the mean of ``values`` (float64[R], NaN = missing) with a Student-t interval.

    Parameters
    ----------
    values : float64[R]
        One value per replication; NaN entries are ignored.
    confidence : float
        Two-sided confidence level.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, None, None, 1)
    sd = float(x.std(ddof=1))
    half = _t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


@functools.lru_cache(maxsize=256)
def _t_quantile(p: float, dof: int) -> float:
    """Student-t quantile: ``scipy.special.stdtrit``, the function ``scipy.stats.t.ppf`` calls
    (same value; importing ``scipy.stats`` costs ~0.8 s of every run's start, ``scipy.special``
    ~0.26 s). Imported on first use: reports that format estimates without computing one do not
    pay for it."""
    from scipy.special import stdtrit

    return float(stdtrit(dof, p))
