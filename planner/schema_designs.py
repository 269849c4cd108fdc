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
    Spot,
    TraceInterruptions,
    provisioning_problems,
    spot_notice_s,
    spot_problems,
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
    """Target tracking on utilisation every ``interval_s`` (the shared rule of
    ``docs/fleet-dynamics.md``, measured over the last interval, no scale-in cooldown); new nodes
    serve after ``provisioning_delay_s`` (paid meanwhile), unless ``fleet.provisioning`` gives
    the delay."""

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
    """The fleet of a streaming design.

    With ``purchase: spot`` the first ``on_demand_base`` nodes are on-demand and never removed,
    the others spot, interrupted as ``spot`` says (``kind: rate`` or an AWS Spot Advisor band;
    ``notice_s``, ``replacement_delay_s``); a node that dies while processing its share of a
    window loses it, and the share is processed again.  ``provisioning`` (constant delays,
    summed) is the time from a node's launch to ready; without it, an autoscaled fleet's
    ``autoscaling.provisioning_delay_s`` is.
    """

    purchase: StreamingPurchase = "on_demand"
    on_demand_base: int = Field(default=0, ge=0)
    autoscaling: StreamingAutoscaling | None = None
    provisioning: tuple[ProvisioningDelay, ...] = ()
    spot: Spot | None = None

    @model_validator(mode="after")
    def _check_fleet(self) -> StreamingFleet:
        a = self.autoscaling
        problems: list[tuple[str, str]] = []
        if a is not None and not a.min_nodes <= self.nodes <= a.max_nodes:
            problems.append(("nodes", f"must be within autoscaling.min_nodes..max_nodes (got "
                                      f"{self.nodes}, not in {a.min_nodes}..{a.max_nodes}); "
                                      "start the fleet inside that range"))
        problems += spot_problems(self, "kind: rate")
        if self.spot is not None and isinstance(self.spot.interruptions, TraceInterruptions):
            problems.append(("spot.interruptions.kind", "streaming fleets replay no spot "
                             "capacity trace (got trace); use kind: rate or kind: advisor"))
        for i, delay in enumerate(self.provisioning):
            if delay.p95_s is not None:
                problems.append((f"provisioning[{i}].p95_s", f"streaming fleets take constant "
                                 f"delays (got p95_s {delay.p95_s:g}); remove p95_s and give "
                                 "the median as the delay"))
        problems += provisioning_problems(self.provisioning)
        if self.provisioning and a is not None and \
                "provisioning_delay_s" in a.model_fields_set:
            problems.append(("autoscaling.provisioning_delay_s", f"gives the delay a second time "
                             f"(got {a.provisioning_delay_s:g} beside provisioning); remove it "
                             "or remove provisioning"))
        if problems:
            raise problem(*problems)
        return self

    @property
    def provisioning_delay_s(self) -> float:
        """Time (s) from a node's launch to ready: the sum of ``provisioning``, else
        ``autoscaling.provisioning_delay_s``, else 0."""
        if self.provisioning:
            return float(sum(delay.median_s for delay in self.provisioning))
        return self.autoscaling.provisioning_delay_s if self.autoscaling is not None else 0.0

    @property
    def spot_notice_s(self) -> float | None:
        """Warning before a spot node dies (s): ``spot.notice_s`` or the provider's default."""
        return spot_notice_s(self)
