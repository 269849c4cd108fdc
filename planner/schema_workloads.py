"""Workloads of a scenario: a stream of inference requests, or a training job.

Part of the scenario schema (:mod:`planner.schema`, which re-exports every model here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from planner.schema_arrivals import Arrivals
from planner.schema_base import Name, _Frozen
from planner.schema_errors import problem

__all__ = ["InferenceWorkload", "LatencySLO", "TokenCounts", "TokenDistribution",
           "TrainingWorkload", "Workload"]


class LatencySLO(_Frozen):
    """A latency objective: the ``percentile`` (0-100) of request latency at most ``latency_ms``.

    For streaming and batch designs the latency is the record's freshness (arrival to the end of
    the processing of its window or job). ``latency_s`` may be written instead of
    ``latency_ms`` for long objectives (e.g. ``latency_s: 21600`` for 6 hours).

    LLM designs (``pattern: llm``) may instead, or as well, bound the time to first token
    (``ttft_ms``) and the time per output token after it (``tpot_ms``) at the same percentile;
    ``latency_ms`` is then the end-to-end latency. Every bound given must hold.
    """

    percentile: float = Field(gt=0, lt=100)
    latency_ms: float | None = Field(default=None, gt=0)
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _seconds(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "latency_s" in data:
            if "latency_ms" in data:
                raise problem(("latency_s", "give latency_ms or latency_s, not both (got "
                                            f"{data['latency_ms']!r} ms and "
                                            f"{data['latency_s']!r} s); keep one"))
            data = dict(data)
            value = data.pop("latency_s")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                data["latency_ms"] = value * 1000.0
            else:
                data["latency_ms"] = value
        return data

    @model_validator(mode="after")
    def _some_bound(self) -> LatencySLO:
        if self.latency_ms is None and self.ttft_ms is None and self.tpot_ms is None:
            raise problem(("latency_ms", "an SLO needs a bound (got only the percentile); add "
                                         "latency_ms (or latency_s), or for LLM designs ttft_ms "
                                         "and/or tpot_ms"))
        return self

    @property
    def token_bounds(self) -> bool:
        """Whether the SLO bounds TTFT or TPOT (only LLM designs can be judged on them)."""
        return self.ttft_ms is not None or self.tpot_ms is not None


class TokenDistribution(_Frozen):
    """How per-request token counts spread around the workload's means.

    ``constant``: every request has the means (rounded); ``exponential``: geometric counts with
    those means (coefficient of variation ~1); ``lognormal``: lognormal with those means and
    coefficient of variation ``cv``. Counts are at least 1.
    """

    kind: Literal["constant", "exponential", "lognormal"]
    cv: float = Field(default=1.0, gt=0, le=10)


class TokenCounts(_Frozen):
    """Tokens per request, for $ per 1 million tokens: mean counts, or trace columns.

    Either ``prompt_tokens`` / ``output_tokens`` (means per request) or ``prompt_column`` /
    ``output_column`` (columns of the workload's arrival trace, whose means are used).
    """

    prompt_tokens: float | None = Field(default=None, ge=0)
    output_tokens: float | None = Field(default=None, ge=0)
    prompt_column: str | None = Field(default=None, min_length=1)
    output_column: str | None = Field(default=None, min_length=1)
    distribution: TokenDistribution | None = None

    @model_validator(mode="after")
    def _check_one_way(self) -> TokenCounts:
        means = self.prompt_tokens is not None or self.output_tokens is not None
        columns = self.prompt_column is not None or self.output_column is not None
        if means == columns:
            raise problem(("", "give token means (prompt_tokens, output_tokens) or trace "
                               "columns (prompt_column, output_column), not both or neither "
                               f"(got {self.model_dump(exclude_none=True)}); e.g. "
                               "prompt_tokens: 1000, output_tokens: 200"))
        if means and (self.prompt_tokens or 0) + (self.output_tokens or 0) <= 0:
            raise problem(("prompt_tokens", "prompt_tokens + output_tokens must be > 0 (got 0); "
                                            "give the mean tokens per request"))
        if columns and self.distribution is not None:
            raise problem(("distribution", "applies to token means, not trace columns (the "
                                           "trace's rows are the distribution); remove it"))
        return self


class InferenceWorkload(_Frozen):
    """A stream of inference requests, one item each; ``tokens`` enables $ per 1M tokens."""

    name: Name
    kind: Literal["inference"]
    arrivals: Arrivals
    slo: LatencySLO | None = None
    tokens: TokenCounts | None = None

    @model_validator(mode="after")
    def _check_token_columns(self) -> InferenceWorkload:
        t = self.tokens
        if t is not None and t.prompt_column is None and t.output_column is None:
            return self
        if t is not None and self.arrivals.kind != "trace":
            raise problem(("tokens", f"token columns need trace arrivals (got arrivals kind "
                                     f"{self.arrivals.kind!r}); give prompt_tokens and "
                                     "output_tokens means instead"))
        return self


class TrainingWorkload(_Frozen):
    """A training job of ``gpu_hours`` GPU-hours (on the ideal gang), optionally with a deadline.

    ``deadline_h`` counts from submission; the job should finish by it in at least
    ``deadline_percentile`` % of runs (the SLO). ``runs_per_month`` projects the monthly cost
    (1 for a one-off job: the month it runs).
    """

    name: Name
    kind: Literal["training"]
    gpu_hours: float = Field(gt=0, le=1e9)  # 25 x the largest published training run
    deadline_h: float | None = Field(default=None, gt=0, le=4660)  # 2^24 s, as latency_ms
    deadline_percentile: float = Field(default=95.0, gt=0, lt=100)
    runs_per_month: float = Field(default=1.0, gt=0, le=1e6)

    @property
    def slo(self) -> LatencySLO | None:
        """The deadline as a completion-time objective (ms), or None."""
        if self.deadline_h is None:
            return None
        return LatencySLO(percentile=self.deadline_percentile,
                          latency_ms=self.deadline_h * 3_600_000.0)


Workload = Annotated[InferenceWorkload | TrainingWorkload, Field(discriminator="kind")]
