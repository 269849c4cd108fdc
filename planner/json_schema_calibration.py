"""JSON Schema of ``planner calibrate --format json`` (``kind: calibration``).

Generated from typed mirrors of :meth:`planner.calibrate_result.CalibrationResult.as_dict`,
keyed by the percentiles calibrate matches (:data:`planner.calibrate.DEFAULT_QUANTILES`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from planner.json_schema_results import Doc, OptNum, keyed, output_schema
from planner.json_schemas import CALIBRATION_VERSION

__all__ = ["calibration_schema"]

PERCENTILES = ("p50", "p90", "p99")
"""The percentiles every calibration document reports (calibrate.DEFAULT_QUANTILES)."""


def calibration_schema() -> dict[str, Any]:
    """``planner calibrate --format json``."""
    ms = keyed("PercentilesMs", PERCENTILES, float, "Latency at each percentile (ms).")
    sim_ms = keyed("SimulatedMs", PERCENTILES, OptNum, "Simulated latency at each percentile "
                   "(ms): the mean over replications.")

    class Error(Doc):
        """Simulated vs measured (%): of the replications' mean, and their range."""

        mean: OptNum
        min: OptNum
        max: OptNum

    errors = keyed("ErrorPct", PERCENTILES, Error, "Error at each percentile (%).")

    class Comparison(Doc):
        """A test simulated under one set of terms."""

        simulated_ms: sim_ms  # type: ignore[valid-type]
        error_pct: errors  # type: ignore[valid-type]

    class Estimate(Doc):
        """A fitted term and its 95 % confidence interval (null: cannot be computed)."""

        value: float
        ci95: list[float] | None = Field(min_length=2, max_length=2)

    class FitDoc(Doc):
        """Terms fitted to some tests (a batch of n takes scale x t(n) + overhead_ms)."""

        overhead_ms: Estimate
        scale: Estimate
        fitted_on: list[str]
        """The load tests' file names."""
        chi2: OptNum
        """Sum of squared standardised residuals at the optimum."""
        dof: int
        correlation: OptNum
        """Of the two estimates (near +-1: the tests cannot tell them apart)."""
        n_evaluations: int

    class Terms(Doc):
        """Correction terms."""

        overhead_ms: float
        scale: float

    class Test(Doc):
        """One load test, measured, and simulated before and after the fit."""

        name: str
        path: str
        format: Literal["requests", "k6", "locust"]
        requests: int
        rate_rps: float
        duration_s: float
        arrivals: str
        measured_ms: ms  # type: ignore[valid-type]
        before: Comparison
        after: Comparison

    class SizeRow(Doc):
        """One batch size's in-loop time (back-to-back batches) against the profile."""

        batch_size: int
        batches: int
        back_to_back: int
        median_ms: OptNum
        mean_ms: OptNum
        p90_ms: OptNum
        median_ci95_ms: list[float] | None = Field(min_length=2, max_length=2)
        """Distribution-free 95 % interval of the median (null under 6 batches)."""
        profile_ms: float
        flag: Literal["slower", "faster"] | None
        """Set where the profile lies outside the median's interval by more than 5 %."""

    class Batches(Doc):
        """Batches recovered from one test (one worker), or why recovery was skipped."""

        test: str
        skipped: str | None
        batches: int
        back_to_back: int
        serial_correlation: OptNum
        """Lag-1 correlation of successive in-loop times (log / size median); null under 30
        pairs."""
        drifts: bool
        """serial_correlation above 0.2: the loop runs in slow and fast stretches, which
        independent draws (the simulator) cannot reproduce."""
        tolerance_ms: float
        rows: list[SizeRow]

    class TableRow(Doc):
        """One batch size of the in-loop service-time table."""

        batch_size: int
        mean_ms: float
        p50_ms: float
        p99_ms: float
        back_to_back: int
        measured: bool
        """False: the profile x terms_elsewhere (too few back-to-back batches)."""

    class InLoopTable(Doc):
        """The measured in-loop service-time table (method_id table)."""

        fitted_on: list[str]
        min_back_to_back: int
        terms_elsewhere: Terms
        sigma_elsewhere: float
        unobserved: str | None
        """Batch sizes not measured (e.g. "25-32"), null when all were."""
        rows: list[TableRow]

    class Prediction(Doc):
        """Leave one out: fitted on the other tests, this one predicted."""

        left_out: str
        fit: FitDoc | None
        table: InLoopTable | None
        extrapolation: str | None
        """Batch sizes the left-out test formed that the other tests did not measure."""
        before: Comparison
        predicted: Comparison

    root = create_model(
        "Calibration", __base__=Doc, __doc__="A service-time calibration from load tests "
        "(planner calibrate --format json).",
        schema_version=(Literal[CALIBRATION_VERSION], ...),  # type: ignore[valid-type]
        kind=(Literal["calibration"], ...), scenario=(str, ...), design=(str, ...),
        pattern=(str, ...), service_time=(str, Field(description="The model before terms.")),
        percentiles=(list[Literal[PERCENTILES]], ...),  # type: ignore[valid-type]
        warmup_s=(float, ...), replications=(int, ...), seed=(int, ...), method=(str, ...),
        method_id=(Literal["terms", "table"], ...),
        terms_before=(Terms, ...), fit=(FitDoc | None, ...), batches=(list[Batches], ...),
        table=(InLoopTable | None, ...), tests=(list[Test], ...),
        leave_one_out=(list[Prediction], ...),
        wrote=(str | None, Field(description="The calibrated scenario written (--output).")),
        wrote_fit=(str | None, Field(description="An llm design's calibrated latency fit "
                                                 "file, written beside the scenario.")),
        wrote_table=(str | None, Field(description="The in-loop service-time table (method "
                                                   "table), written beside the scenario.")))
    return output_schema(root)
