"""What ``planner calibrate`` found: the fitted terms, and each load test before and after.

Plain frozen records with :meth:`as_dict` for the versioned JSON (``kind: calibration``,
:data:`planner.json_schemas.CALIBRATION_VERSION`); :mod:`planner.calibrate` builds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner.calibrate_batches import MeasuredTable, TestBatches

__all__ = [
    "CalibrationResult",
    "Comparison",
    "Fit",
    "LoadTestReport",
    "Prediction",
    "TermEstimate",
    "Terms",
]


@dataclass(frozen=True)
class Terms:
    """Correction terms of a service time: a batch takes ``scale * t(n) + overhead_ms``."""

    overhead_ms: float
    scale: float

    def as_dict(self) -> dict:
        """Return the terms as JSON values."""
        return {"overhead_ms": self.overhead_ms, "scale": self.scale}


@dataclass(frozen=True)
class TermEstimate:
    """A fitted term and its 95 % confidence interval (None where it cannot be computed)."""

    value: float
    ci95_low: float | None
    ci95_high: float | None

    def as_dict(self) -> dict:
        """Return ``{value, ci95: [low, high] or null}``."""
        ci = None if self.ci95_low is None or self.ci95_high is None else [self.ci95_low,
                                                                             self.ci95_high]
        return {"value": self.value, "ci95": ci}


@dataclass(frozen=True)
class Comparison:
    """Measured vs simulated latency percentiles of one load test under one set of terms.

    Attributes
    ----------
    quantiles : float64[k]
    measured_ms : float64[k]
    simulated_ms : float64[R, k]
        One row per replication (common random numbers: the same seeds for every set of terms).
    """

    quantiles: np.ndarray
    measured_ms: np.ndarray
    simulated_ms: np.ndarray

    def error_pct(self) -> np.ndarray:
        """Return float64[R, k]: each replication's error, % of the measured percentile."""
        return 100.0 * (self.simulated_ms / self.measured_ms - 1.0)

    def as_dict(self) -> dict:
        """Return simulated means and the error (mean, min, max over replications) by
        percentile name (``p50``, ``p90``, ``p99``)."""
        err = self.error_pct()
        names = percentile_names(self.quantiles)
        return {
            "simulated_ms": {n: _num(v) for n, v in zip(names, self.simulated_ms.mean(axis=0),
                                                        strict=True)},
            "error_pct": {n: {"mean": _num(err[:, i].mean()), "min": _num(err[:, i].min()),
                              "max": _num(err[:, i].max())} for i, n in enumerate(names)},
        }


@dataclass(frozen=True)
class Fit:
    """Terms fitted to some load tests (least squares on log percentiles).

    Attributes
    ----------
    overhead_ms, scale : TermEstimate
    fitted_on : tuple of str
        The load tests' names.
    chi2 : float
        Sum of squared standardised residuals at the optimum.
    dof : int
        Residuals minus fitted terms.
    correlation : float or None
        Correlation of the two estimates (near +-1: the tests cannot tell them apart).
    n_evaluations : int
        Simulations run by the optimiser.
    """

    overhead_ms: TermEstimate
    scale: TermEstimate
    fitted_on: tuple[str, ...]
    chi2: float
    dof: int
    correlation: float | None
    n_evaluations: int

    @property
    def terms(self) -> Terms:
        """The fitted values."""
        return Terms(self.overhead_ms.value, self.scale.value)

    def as_dict(self) -> dict:
        """Return the fit as JSON values."""
        return {"overhead_ms": self.overhead_ms.as_dict(), "scale": self.scale.as_dict(),
                "fitted_on": list(self.fitted_on), "chi2": _num(self.chi2), "dof": self.dof,
                "correlation": _num(self.correlation), "n_evaluations": self.n_evaluations}


@dataclass(frozen=True)
class LoadTestReport:
    """One load test: what it held, and the simulation before and after the fit."""

    name: str
    path: str
    kind: str
    n_requests: int
    rate_rps: float
    duration_s: float
    arrivals: str
    before: Comparison
    after: Comparison

    def as_dict(self) -> dict:
        """Return the test as JSON values."""
        names = percentile_names(self.before.quantiles)
        return {"name": self.name, "path": self.path, "format": self.kind,
                "requests": self.n_requests, "rate_rps": self.rate_rps,
                "duration_s": self.duration_s, "arrivals": self.arrivals,
                "measured_ms": dict(zip(names, map(float, self.before.measured_ms),
                                        strict=True)),
                "before": self.before.as_dict(), "after": self.after.as_dict()}


@dataclass(frozen=True)
class Prediction:
    """Leave-one-out: terms (or an in-loop table) fitted on every other test, and the left-out
    test predicted. ``extrapolation`` names the batch sizes the prediction needed that the
    other tests did not measure (table method), None when there were none."""

    left_out: str
    fit: Fit | None
    before: Comparison
    predicted: Comparison
    table: MeasuredTable | None = None
    extrapolation: str | None = None

    def as_dict(self) -> dict:
        """Return the prediction as JSON values."""
        return {"left_out": self.left_out, "fit": None if self.fit is None else self.fit.as_dict(),
                "table": None if self.table is None else self.table.as_dict(),
                "extrapolation": self.extrapolation,
                "before": self.before.as_dict(), "predicted": self.predicted.as_dict()}


@dataclass(frozen=True)
class CalibrationResult:
    """Everything ``planner calibrate`` reports."""

    scenario: str
    design: str
    pattern: str
    service_time: str
    quantiles: np.ndarray
    warmup_s: float
    replications: int
    seed: int
    before_terms: Terms
    fit: Fit | None
    tests: tuple[LoadTestReport, ...]
    leave_one_out: tuple[Prediction, ...]
    latency_fit: str | None = None
    """An llm design's calibrated latency fit file (JSON text), which its scenario points to."""
    method_id: str = "terms"
    """``terms`` (overhead and scale fitted by replay) or ``table`` (measured in-loop table)."""
    batches: tuple[TestBatches, ...] = ()
    """Batch recovery per test (realtime designs): per-size in-loop times, or why skipped."""
    table: MeasuredTable | None = None
    """The in-loop service-time table (``method_id == "table"``)."""

    def as_dict(self) -> dict:
        """Return the result as JSON values (without ``schema_version`` and ``kind``)."""
        return {"scenario": self.scenario, "design": self.design, "pattern": self.pattern,
                "service_time": self.service_time,
                "percentiles": percentile_names(self.quantiles), "warmup_s": self.warmup_s,
                "replications": self.replications, "seed": self.seed,
                "method": METHODS[self.method_id], "method_id": self.method_id,
                "terms_before": self.before_terms.as_dict(),
                "fit": None if self.fit is None else self.fit.as_dict(),
                "batches": [b.as_dict() for b in self.batches],
                "table": None if self.table is None else self.table.as_dict(),
                "tests": [t.as_dict() for t in self.tests],
                "leave_one_out": [p.as_dict() for p in self.leave_one_out]}


METHOD = ("least squares (scipy.optimize.least_squares, trust region) on log latency "
          "percentiles, each residual divided by the standard error of the measured percentile "
          "(batch means over 10 stretches of the test); every evaluation replays the tests with "
          "the same seeds (common random numbers); 95% intervals from the Jacobian, widened by "
          "the reduced chi-square when it exceeds 1")
TABLE_METHOD = ("measured in-loop table: batches recovered from per-request completions (one "
                "worker), the gap between back-to-back completions taken as the loop's batch "
                "time; sizes with enough back-to-back batches as measured (mean, lognormal "
                "dispersion from their p50-p90 spread), the others from the profile x terms "
                "fitted to the measured sizes (least squares, each size once)")
METHODS = {"terms": METHOD, "table": TABLE_METHOD}


def percentile_names(quantiles: np.ndarray) -> list[str]:
    """Return ``["p50", "p90", "p99"]`` for quantiles 0.5, 0.9, 0.99 (``p99.9`` for 0.999)."""
    return [f"p{100 * q:g}" for q in quantiles]


def _num(value: float | None) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
