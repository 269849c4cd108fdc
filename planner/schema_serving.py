"""How a design serves its items: dynamic batching, a queue deadline and the service-time models.

Part of the scenario schema (:mod:`planner.schema`, which re-exports every model here).  The
files a ``path`` names (a measured table, a token-latency profile) are read by the input layer
(:mod:`planner.inputs_tables`, :mod:`planner.inputs_tokens`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from planner.schema_base import _Frozen, _resolve_path
from planner.schema_errors import problem

__all__ = ["CALIBRATED_FROM", "Batching", "ConstantServiceTime", "ExponentialServiceTime",
           "LinearServiceTime", "QueueLimits", "ServiceTime", "TableServiceTime",
           "TokenServiceTime"]

CALIBRATED_FROM = "calibrated from"
"""Words that start the service-time description of a design whose correction terms were fitted
to load tests (reports list such a design's service time among the assumptions)."""


class Batching(_Frozen):
    """Dynamic batching: a batch starts when ``max_batch`` items wait or the oldest waited
    ``max_wait_ms`` (ms)."""

    max_batch: int = Field(default=1, ge=1, le=4096)
    max_wait_ms: float = Field(default=0.0, ge=0)


class QueueLimits(_Frozen):
    """A request still queued ``deadline_ms`` (ms) after its arrival is dropped when a batch is
    formed; None (the default) keeps every request."""

    deadline_ms: float | None = Field(default=None, gt=0)


class _Corrected(_Frozen):
    """Correction terms of a service-time model, as ``planner calibrate`` fits them to load tests.

    A batch of ``n`` takes ``scale * t(n) + overhead_ms``, where ``t(n)`` is the model's time:
    ``overhead_ms`` is a fixed per-batch cost the model leaves out (batch formation, host-side
    bookkeeping, kernel launches outside the timed region), ``scale`` the serving loop's speed
    relative to the model (clocks under sustained load, shape switching). With jitter, the
    spread of ``scale * t(n)`` is kept and the overhead adds none. ``calibrated_from`` names the
    load tests the terms were fitted to (reports show it as an assumption).
    """

    overhead_ms: float = Field(default=0.0, ge=0, le=60_000, description=(
        "Fixed time added to every batch (ms), e.g. fitted by planner calibrate"))
    scale: float = Field(default=1.0, gt=0, le=100, description=(
        "Factor on the model's batch time (1: as measured or modelled)"))
    calibrated_from: tuple[str, ...] = Field(default=(), description=(
        "The load tests overhead_ms and scale were fitted to (planner calibrate)"))

    @model_validator(mode="after")
    def _check_source(self) -> _Corrected:
        measured = getattr(self, "kind", None) == "table"  # an in-loop table: itself calibrated
        if self.calibrated_from and self.overhead_ms == 0 and self.scale == 1 and not measured:
            raise problem(("calibrated_from", ("names load tests but overhead_ms is 0 and scale "
                                              f"is 1 (got {list(self.calibrated_from)}); remove "
                                              "calibrated_from or give the fitted terms")))
        return self


class TableServiceTime(_Corrected):
    """Service time per batch size from a measured CSV profile (see :mod:`planner.inputs`).

    ``column`` is the per-batch time in ms, ``batch_column`` the batch size, ``model_column``
    selects the rows of ``model``. ``jitter: lognormal`` draws around the table value with a
    spread fitted to the file's ``p50_ms`` and ``p99_ms`` columns.
    """

    kind: Literal["table"]
    path: str = Field(min_length=1)
    model: str | None = None
    column: str = Field(default="mean_ms", min_length=1)
    batch_column: str = Field(default="batch", min_length=1)
    model_column: str = Field(default="model", min_length=1)
    jitter: Literal["none", "lognormal"] = "none"

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


class ExponentialServiceTime(_Corrected):
    """Exponentially distributed service time per batch with mean ``mean_ms`` (ms); ``scale``
    multiplies the mean (an exponential time has no room for a fixed ``overhead_ms``)."""

    kind: Literal["exponential"]
    mean_ms: float = Field(gt=0)

    @model_validator(mode="after")
    def _no_overhead(self) -> ExponentialServiceTime:
        if self.overhead_ms:
            raise problem(("overhead_ms", ("an exponential service time cannot carry a fixed "
                                          f"per-batch overhead (got {self.overhead_ms:g}); use "
                                          "kind: constant, linear or table, or drop "
                                          "overhead_ms")))
        return self


class ConstantServiceTime(_Corrected):
    """A fixed service time of ``ms`` per batch (ms)."""

    kind: Literal["constant"]
    ms: float = Field(gt=0)


class LinearServiceTime(_Corrected):
    """A deterministic batch time ``base_ms + per_item_ms * batch_size`` (ms)."""

    kind: Literal["linear"]
    base_ms: float = Field(ge=0)
    per_item_ms: float = Field(ge=0)

    @model_validator(mode="after")
    def _check_positive(self) -> LinearServiceTime:
        if self.base_ms + self.per_item_ms <= 0:
            raise problem(("per_item_ms", ("base_ms + per_item_ms must be > 0 (got 0 + 0); "
                                          "give at least one of them a positive value")))
        return self


class TokenServiceTime(_Corrected):
    """An LLM's batch service time from a measured token-level profile (see
    :mod:`simulators.core.tokens`): prefill by prompt tokens, decode steps by batch size and
    context, for token counts drawn from the workload's ``tokens`` (trace columns or means).

    ``gpu: auto`` derives the profile for the fleet instance's GPU (catalog GPU model and memory)
    by FLOP ratio (prefill) and memory-bandwidth ratio (decode); a GPU key such as
    ``A100-SXM-80GB`` forces one. ``prefill: padded`` pads a batch's prompts to the longest
    (static batching with a rectangular KV cache, as measured); ``packed`` does not.
    """

    kind: Literal["tokens"]
    path: str = Field(min_length=1)
    model: str = Field(min_length=1)
    gpu: str = "auto"
    prefill: Literal["padded", "packed"] = "padded"
    samples: int = Field(default=2000, ge=100, le=100_000)
    jitter: Literal["none", "lognormal"] = "lognormal"

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


ServiceTime = Annotated[
    TableServiceTime | ExponentialServiceTime | ConstantServiceTime | LinearServiceTime
    | TokenServiceTime,
    Field(discriminator="kind"),
]
