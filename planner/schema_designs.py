"""Parts of the design patterns beside real-time serving: streaming micro-batches, scheduled
batch jobs and training jobs (the semantics are the contracts of :mod:`simulators.streaming.api`,
:mod:`simulators.batch.api` and :mod:`simulators.training.api`). The design models themselves live in
:mod:`planner.schema`, beside the service-time models they share."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from domain.purchase import (
    COMMITTED,  # noqa: F401 - re-exported
    AnyPurchase,
    StreamingPurchase,
)
from planner.schema_base import _Frozen
from planner.schema_errors import problem
from planner.schema_fleet import (
    AdvisorInterruptions,
    NodeFleet,
    ProvisioningDelay,
    RateInterruptions,
)


JobInterruptions = Annotated[RateInterruptions | AdvisorInterruptions,
                             Field(discriminator="kind")]


class JobSpot(_Frozen):
    """How spot nodes of a job (batch or training) are interrupted and replaced.

    Interruptions are Poisson per node (``kind: rate`` or an AWS Spot Advisor band); after one,
    the job waits ``replacement_delay_s`` (a replacement node launches and loads the last
    checkpoint) and redoes the work since that checkpoint. ``fallback_after_interruptions``
    moves the rest of the job to on-demand after that many interruptions;
    ``fallback_near_deadline`` (training) moves it when spot would likely miss the deadline,
    keeping ``fallback_margin_s`` in hand.
    """

    interruptions: JobInterruptions
    replacement_delay_s: float = Field(default=0.0, ge=0)
    fallback_after_interruptions: int | None = Field(default=None, ge=1)
    fallback_near_deadline: bool = False
    fallback_margin_s: float = Field(default=0.0, ge=0)


class JobFleet(NodeFleet):
    """The gang of nodes a batch or training job runs on."""

    purchase: AnyPurchase = "on_demand"
    provisioning: tuple[ProvisioningDelay, ...] = ()
    spot: JobSpot | None = None

    @model_validator(mode="after")
    def _check_spot(self) -> JobFleet:
        if self.purchase == "spot" and self.spot is None:
            raise problem(("spot", "is required with purchase: spot (got none); add spot: "
                                   "{interruptions: {kind: rate, per_node_hour: 0.05}}"))
        if self.purchase != "spot" and self.spot is not None:
            raise problem(("spot", f"only applies with purchase: spot (got spot: with "
                                   f"purchase: {self.purchase}); remove spot or set purchase: "
                                   "spot"))
        if self.spot is not None and isinstance(self.spot.interruptions, AdvisorInterruptions) \
                and self.provider != "aws":
            raise problem(("spot.interruptions.kind", f"advisor bands cover AWS only (got "
                           f"advisor for {self.instance}); use kind: rate"))
        return self


class Checkpointing(_Frozen):
    """Checkpoint every ``interval_s`` of work (``young_daly``: sqrt(2 x cost x MTBF) from the
    gang's interruption rate), each taking ``cost_s`` (s) of paid time without progress."""

    interval_s: float | Literal["young_daly"] = "young_daly"
    cost_s: float = Field(default=0.0, ge=0)

    @field_validator("interval_s")
    @classmethod
    def _positive(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and not value > 0:
            raise problem(("", f"must be > 0 seconds or 'young_daly' (got {value!r}); e.g. "
                               "interval_s: 1800"))
        return value


class Schedule(_Frozen):
    """When batch jobs start: every ``period_s`` from ``offset_s``, or at clock times ``at``
    (``"HH:MM"``, every day)."""

    period_s: float | None = Field(default=None, gt=0)
    offset_s: float = Field(default=0.0, ge=0)
    at: tuple[str, ...] = ()

    @field_validator("at")
    @classmethod
    def _times(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for t in value:
            m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(t))
            if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
                raise problem(("", f"must be clock times 'HH:MM' (got {t!r}); write e.g. "
                                   "at: ['01:00']"))
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Schedule:
        if (self.period_s is None) == (not self.at):
            raise problem(("", "give period_s (every N seconds) or at (clock times), one of "
                               f"them (got period_s {self.period_s}, at {list(self.at)}); "
                               "e.g. period_s: 3600"))
        return self

    @property
    def at_s(self) -> tuple[float, ...] | None:
        """The clock times as seconds of the day, or None."""
        if not self.at:
            return None
        return tuple(int(t.split(":")[0]) * 3600.0 + int(t.split(":")[1]) * 60.0
                     for t in self.at)


class StreamingAutoscaling(_Frozen):
    """Target tracking on utilisation every ``interval_s``; new nodes serve after
    ``provisioning_delay_s`` (paid meanwhile)."""

    target_utilization: float = Field(gt=0, le=1)
    min_nodes: int = Field(ge=1)
    max_nodes: int = Field(ge=1)
    interval_s: float = Field(default=60.0, gt=0)
    provisioning_delay_s: float = Field(default=120.0, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> StreamingAutoscaling:
        if self.max_nodes < self.min_nodes:
            raise problem(("max_nodes", f"must be >= min_nodes (got {self.max_nodes} < "
                                        f"{self.min_nodes}); raise max_nodes"))
        return self


class StreamingFleet(NodeFleet):
    """The standing fleet of a streaming design. Spot is not offered: the streaming model has
    no interruptions, and pricing spot without them would flatter it."""

    purchase: StreamingPurchase = "on_demand"
    autoscaling: StreamingAutoscaling | None = None

    @field_validator("purchase", mode="before")
    @classmethod
    def _no_spot(cls, value: object) -> object:
        if value == "spot":
            raise problem(("", "streaming designs do not model spot interruptions (got spot); "
                               "use on_demand or a commitment, or a realtime or batch design "
                               "for spot"))
        return value

    @model_validator(mode="after")
    def _check_nodes(self) -> StreamingFleet:
        a = self.autoscaling
        if a is not None and not a.min_nodes <= self.nodes <= a.max_nodes:
            raise problem(("nodes", f"must be within autoscaling.min_nodes..max_nodes (got "
                                    f"{self.nodes}, not in {a.min_nodes}..{a.max_nodes}); start "
                                    "the fleet inside that range"))
        return self
