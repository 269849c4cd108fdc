"""Parts of the design patterns beside real-time serving: streaming micro-batches, scheduled
batch jobs and training jobs (the semantics are the contracts of :mod:`simulators.streaming.api`,
:mod:`simulators.batch.api` and :mod:`simulators.training.api`). The design models themselves live in
:mod:`planner.schema`, beside the service-time models they share."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

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
    Autoscaling,
    NodeFleet,
    ProvisioningDelay,
    RateInterruptions,
    Spot,
    TraceInterruptions,
    autoscaling_metric_problem,
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
    fallback_after_interruptions: int | None = Field(default=None, ge=1, le=1_000_000)
    fallback_near_deadline: bool = False
    fallback_margin_s: float = Field(default=0.0, ge=0)


class JobFleet(NodeFleet):
    """The gang of nodes a batch or training job runs on."""

    purchase: AnyPurchase = "on_demand"
    provisioning: tuple[ProvisioningDelay, ...] = ()
    spot: JobSpot | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_autoscaling(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "autoscaling" in data:
            raise problem(("autoscaling", f"does not apply to a batch or training job: each job "
                           f"runs on a fixed gang of nodes, started for the job and stopped "
                           f"after it (got autoscaling: {data['autoscaling']}); remove it and "
                           "size the gang with nodes (an autoscaled standing fleet is pattern: "
                           "realtime or streaming)"))
        return data

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


StreamingAutoscaling = Autoscaling
"""The one autoscaling schema (:class:`planner.schema_fleet.Autoscaling`); a streaming fleet
tracks ``utilization``. Kept as a name for imports; the old streaming form it named
(``target_utilization``) is read by :class:`StreamingFleet`."""

OLD_FORM_DELAY_S = 120.0
"""The old streaming form's default ``provisioning_delay_s`` (s)."""


def read_old_streaming_form(data: Any) -> Any:
    """Return a streaming fleet's raw fields with an old-form ``autoscaling`` block
    (``target_utilization``, ``provisioning_delay_s``) rewritten in the one schema, warning
    (``FutureWarning``) with the fields to write instead; other data unchanged.

    The old form tracked utilization over the last interval with no scale-in cooldown, and
    its nodes were ready ``provisioning_delay_s`` (default 120 s) after launch unless the fleet
    gave ``provisioning``: it reads as ``metric: utilization, target``, ``window_s`` =
    ``interval_s``, ``scale_in_cooldown_s: 0`` (unless given) and ``provisioning: [{name: boot,
    median_s: <delay>}]``, so the simulation is the same as before.
    """
    auto = data.get("autoscaling") if isinstance(data, Mapping) else None
    if not isinstance(auto, Mapping) or "target_utilization" not in auto:
        return data
    value = auto["target_utilization"]
    clash = [name for name in ("metric", "target") if name in auto]
    if clash:
        raise problem(("autoscaling.target_utilization", f"is the old streaming form of "
                       f"metric: utilization, target: {value} (got it beside "
                       f"{' and '.join(clash)}); remove target_utilization"))
    new = {"metric": "utilization", "target": value,
           **{k: v for k, v in auto.items()
              if k not in ("target_utilization", "provisioning_delay_s")}}
    new.setdefault("interval_s", 60.0)
    new.setdefault("window_s", new["interval_s"])
    new.setdefault("scale_in_cooldown_s", 0.0)
    out = {**data, "autoscaling": new}
    delay = auto.get("provisioning_delay_s", OLD_FORM_DELAY_S)
    if data.get("provisioning"):
        if "provisioning_delay_s" in auto:
            raise problem(("autoscaling.provisioning_delay_s", f"gives the delay a second "
                           f"time (got {delay} beside provisioning); remove it or remove "
                           "provisioning"))
        moved = ""
    else:
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or \
                not 0 <= delay < math.inf:
            raise problem(("autoscaling.provisioning_delay_s", f"must be a number of "
                           f"seconds >= 0 (got {delay!r}); write e.g. provisioning: "
                           "[{name: boot, median_s: 120}] beside autoscaling"))
        out["provisioning"] = [{"name": "boot", "median_s": delay}]
        moved = f", and provisioning: [{{name: boot, median_s: {delay:g}}}] on the fleet"
    shown = ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}"
                      for k, v in new.items())
    warnings.warn(
        f"streaming fleet {data.get('instance', '')}: autoscaling: {{target_utilization: "
        f"{value}, ...}} is the old streaming form and will be removed; it is read as "
        f"autoscaling: {{{shown}}}{moved} (the same simulation); write that instead",
        FutureWarning, stacklevel=2)
    return out


class StreamingFleet(NodeFleet):
    """The fleet of a streaming design.

    With ``purchase: spot`` the first ``on_demand_base`` nodes are on-demand and never removed,
    the others spot, interrupted as ``spot`` says (``kind: rate`` or an AWS Spot Advisor band;
    ``notice_s``, ``replacement_delay_s``); a node that dies while processing its share of a
    window loses it, and the share is processed again.  ``provisioning`` (constant delays,
    summed) is the time from a node's launch to ready (none: ready at launch).
    ``autoscaling`` is the one schema of every pattern (:class:`Autoscaling`) with metric
    ``utilization`` and ``min_nodes`` >= 1; the old form (``target_utilization``) is read as
    :func:`read_old_streaming_form` says.
    """

    autoscaling_pattern: ClassVar[str] = "streaming"
    """Whose metrics ``autoscaling`` may track (:data:`AUTOSCALING_METRICS`)."""

    purchase: StreamingPurchase = "on_demand"
    on_demand_base: int = Field(default=0, ge=0)
    autoscaling: Autoscaling | None = None
    provisioning: tuple[ProvisioningDelay, ...] = ()
    spot: Spot | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_autoscaling(cls, data: Any) -> Any:
        data = read_old_streaming_form(data)
        found = autoscaling_metric_problem(data, cls.autoscaling_pattern)
        if found is not None:
            raise problem(found)
        return data

    @model_validator(mode="after")
    def _check_fleet(self) -> StreamingFleet:
        a = self.autoscaling
        problems: list[tuple[str, str]] = []
        if a is not None and not a.min_nodes <= self.nodes <= a.max_nodes:
            problems.append(("nodes", f"must be within autoscaling.min_nodes..max_nodes (got "
                                      f"{self.nodes}, not in {a.min_nodes}..{a.max_nodes}); "
                                      "start the fleet inside that range"))
        if a is not None and a.min_nodes < 1:
            problems.append(("autoscaling.min_nodes", "must be >= 1 for a streaming fleet: a "
                             "window needs a node to be processed (got 0); use min_nodes: 1"))
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
        if problems:
            raise problem(*problems)
        return self

    @property
    def provisioning_delay_s(self) -> float:
        """Time (s) from a node's launch to ready: the sum of ``provisioning`` (0 without)."""
        return float(sum(delay.median_s for delay in self.provisioning))

    @property
    def spot_notice_s(self) -> float | None:
        """Warning before a spot node dies (s): ``spot.notice_s`` or the provider's default."""
        return spot_notice_s(self)
