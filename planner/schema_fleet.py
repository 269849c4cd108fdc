"""Scenario schema of fleet dynamics: autoscaling, spot, provisioning delays.

Semantics: ``docs/fleet-dynamics.md``.  Re-exported by :mod:`planner.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.purchase import FleetPurchase
from planner.schema_base import (
    PROVIDERS,
    SPOT_NOTICE_S,
    Name,
    SpotBand,
    _Frozen,
    _resolve_path,
)
from planner.schema_errors import problem
from planner.schema_limits import MAX_NODES

# Fleet dynamics: autoscaling, spot, provisioning delays (semantics: docs/fleet-dynamics.md)


class ScheduledMinimum(_Frozen):
    """A floor of ``min_nodes`` for the autoscaler during the clock hours ``[start_hour,
    end_hour)``; a range with ``end_hour < start_hour`` wraps midnight."""

    start_hour: float = Field(ge=0, lt=24)
    end_hour: float = Field(ge=0, le=24)
    min_nodes: int = Field(ge=0)

    @model_validator(mode="after")
    def _check_range(self) -> ScheduledMinimum:
        if self.start_hour == self.end_hour:
            raise problem(("end_hour", f"equals start_hour (got {self.end_hour:g}), an empty "
                                       "range; use start_hour: 0, end_hour: 24 for all day"))
        return self


AutoscalingMetric = Literal["utilization", "queue_per_worker", "in_flight_per_replica",
                            "waiting_per_replica", "kv_utilization"]
"""Every metric an autoscaler may track; which ones a design can use is its pattern's
(:data:`AUTOSCALING_METRICS`)."""

AUTOSCALING_METRICS: dict[str, tuple[str, ...]] = {
    "realtime": ("utilization", "queue_per_worker"),
    "streaming": ("utilization",),
    "llm": ("in_flight_per_replica", "waiting_per_replica", "kv_utilization"),
}
"""The metrics each autoscaled pattern's simulator tracks (the first is the usual choice).
Batch and training jobs run on a fixed gang and have no autoscaler."""

_EQUIVALENT_METRIC = {("llm", "queue_per_worker"): "in_flight_per_replica",
                      ("llm", "utilization"): "kv_utilization",
                      ("realtime", "in_flight_per_replica"): "queue_per_worker",
                      ("realtime", "kv_utilization"): "utilization",
                      ("streaming", "kv_utilization"): "utilization"}
"""The closest metric of a pattern to one of another pattern's, offered as the fix."""

_FRACTIONS = {"utilization": "a utilization", "kv_utilization": "a KV utilisation"}

MAX_P95_TO_MEDIAN = 100.0
"""Widest lognormal provisioning delay, p95 over median (a median of 1e-9 s with a p95 of
900 s drew delays that sized a training run's hourly profile at 1.8e14 hours: MemoryError)."""

MAX_WINDOW_INTERVALS = 10_000
"""Most evaluation intervals in an autoscaler's window: the simulators keep a slot for each
(a 1e-9 s interval in a 300 s window allocated 3e11 of them, a SystemError)."""


class Autoscaling(_Frozen):
    """Target tracking, the same for every autoscaled pattern (real-time, streaming, LLM):
    every ``interval_s`` the node count needed to hold ``metric`` at ``target`` over the
    trailing ``window_s`` (s), clipped to ``[min_nodes, max_nodes]`` (raised by ``schedule``).
    Scale-in waits ``scale_in_cooldown_s`` (s) after the last scale action. New nodes serve
    after the fleet's ``provisioning`` (the one place for the launch-to-ready delay).

    Metrics by pattern (:data:`AUTOSCALING_METRICS`): real-time ``utilization`` (busy share of
    the workers, 0 < target <= 1) or ``queue_per_worker`` (requests in the system per worker,
    Knative's concurrency target); streaming ``utilization``; LLM ``in_flight_per_replica``
    (waiting + running requests per replica), ``waiting_per_replica`` (queued, not yet admitted)
    or ``kv_utilization`` (share of KV-cache blocks in use, 0 < target <= 1).

    The old streaming form ``{target_utilization: 0.6, min_nodes, max_nodes, interval_s,
    provisioning_delay_s}`` is still read in a streaming fleet, as ``metric: utilization,
    target: 0.6``, ``window_s`` = ``interval_s``, ``scale_in_cooldown_s: 0`` and the fleet's
    ``provisioning: [{name: boot, median_s: 120}]`` (its default delay), with a
    ``FutureWarning``: the same simulation as before.
    """

    metric: AutoscalingMetric = Field(description=(
        "What the autoscaler holds at target; by pattern: realtime utilization or "
        "queue_per_worker, streaming utilization, llm in_flight_per_replica, "
        "waiting_per_replica or kv_utilization"))
    target: float = Field(gt=0, le=1e6, description=(
        "The metric's target: a share 0 < target <= 1 for utilization and kv_utilization, "
        "requests per worker (replica) otherwise. The old streaming target_utilization: 0.6 "
        "is metric: utilization, target: 0.6"))
    min_nodes: int = Field(default=1, ge=0, description=(
        "Fewest nodes the autoscaler keeps (streaming: at least 1)"))
    max_nodes: int = Field(ge=1, description="Most nodes the autoscaler launches")
    interval_s: float = Field(default=60.0, gt=0, description="Seconds between evaluations")
    window_s: float = Field(default=300.0, gt=0, description=(
        "Trailing window the metric is averaged over (s), a multiple of interval_s; the old "
        "streaming form measured the last interval (window_s = interval_s)"))
    scale_in_cooldown_s: float = Field(default=300.0, ge=0, description=(
        "Scale-in waits this long after the last scale action (s); the old streaming form "
        "had none (0)"))
    schedule: tuple[ScheduledMinimum, ...] = Field(default=(), description=(
        "Floors of min_nodes by clock hour (the clock of diurnal arrivals' start_hour)"))

    @model_validator(mode="before")
    @classmethod
    def _refuse_other_forms(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        problems: list[tuple[str, str]] = []
        if "target_utilization" in data:
            value = data["target_utilization"]
            problems.append(("target_utilization", f"is the old streaming form (got "
                             f"target_utilization: {value}); write metric: utilization, "
                             f"target: {value}"))
        if "provisioning_delay_s" in data:
            value = data["provisioning_delay_s"]
            problems.append(("provisioning_delay_s", f"is the old streaming form's boot delay "
                             f"(got provisioning_delay_s: {value}); give the delay once, as the "
                             f"fleet's provisioning: [{{name: boot, median_s: {value}}}]"))
        if problems:
            raise problem(*problems)
        return data

    @model_validator(mode="after")
    def _check_limits(self) -> Autoscaling:
        problems: list[tuple[str, str]] = []
        if self.metric in _FRACTIONS and self.target > 1:
            other = ("or metric: queue_per_worker" if self.metric == "utilization" else
                     "or metric: in_flight_per_replica")
            problems.append(("target", f"is {_FRACTIONS[self.metric]}, at most 1 (got "
                                       f"{self.target:g}); use a fraction such as 0.6, {other}"))
        if self.min_nodes > self.max_nodes:
            problems.append(("max_nodes", f"must be >= min_nodes (got {self.max_nodes} < "
                                          f"{self.min_nodes}); raise max_nodes or lower "
                                          "min_nodes"))
        ratio = self.window_s / self.interval_s
        if ratio > MAX_WINDOW_INTERVALS:  # the simulators keep one slot per interval
            problems.append(("window_s", f"spans at most {MAX_WINDOW_INTERVALS:,} intervals "
                                         f"(got {self.window_s:g} s / interval_s "
                                         f"{self.interval_s:g} s = {ratio:,.0f}); raise "
                                         "interval_s or shorten window_s"))
        elif ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:  # the simulator's own test
            problems.append(("window_s", f"must be a multiple of interval_s (got "
                                         f"{self.window_s:g} with interval_s "
                                         f"{self.interval_s:g}); use e.g. window_s: "
                                         f"{max(1, round(ratio)) * self.interval_s:g}"))
        for i, entry in enumerate(self.schedule):
            if entry.min_nodes > self.max_nodes:
                problems.append((f"schedule[{i}].min_nodes", f"must be <= max_nodes (got "
                                 f"{entry.min_nodes} > {self.max_nodes}); lower it or raise "
                                 "max_nodes"))
        if problems:
            raise problem(*problems)
        return self


def autoscaling_metric_problem(data: Any, pattern: str) -> tuple[str, str] | None:
    """Return the problem of a fleet's raw ``autoscaling.metric`` that ``pattern`` cannot
    simulate (unknown, or another pattern's), naming the metrics it can; None when fine."""
    auto = data.get("autoscaling") if isinstance(data, Mapping) else None
    metric = auto.get("metric") if isinstance(auto, Mapping) else getattr(auto, "metric", None)
    supported = AUTOSCALING_METRICS[pattern]
    if not isinstance(metric, str) or metric in supported:
        return None
    choices = " or ".join(repr(m) for m in supported)
    owners = [p for p, metrics in AUTOSCALING_METRICS.items() if metric in metrics]
    what = f"a metric of {' and '.join(owners)} designs" if owners else "an unknown metric"
    fix = _EQUIVALENT_METRIC.get((pattern, metric), supported[0])
    return ("autoscaling.metric", f"is not a metric a {pattern} design can simulate (got "
            f"{metric!r}, {what}); a {pattern} design tracks {choices}: write metric: {fix}")


class ProvisioningDelay(_Frozen):
    """One part of the delay from a node's launch to serving (cold start, image pull, model
    load...): ``median_s`` (s), constant, or lognormal with that median and ``p95_s`` (s)."""

    name: Name
    median_s: float = Field(ge=0)
    p95_s: float | None = None

    @model_validator(mode="after")
    def _check_spread(self) -> ProvisioningDelay:
        if self.p95_s is not None and self.p95_s <= self.median_s:
            raise problem(("p95_s", f"must be > median_s (got {self.p95_s:g} <= "
                                    f"{self.median_s:g}); raise p95_s, or remove it for a "
                                    "constant delay"))
        if self.p95_s is not None and self.median_s == 0:
            raise problem(("median_s", "must be > 0 when p95_s is given, for a lognormal (got "
                                       "0); raise median_s or remove p95_s"))
        if self.p95_s is not None and self.p95_s > MAX_P95_TO_MEDIAN * self.median_s:
            raise problem(("p95_s", f"must be at most {MAX_P95_TO_MEDIAN:g} x median_s (got "
                                    f"{self.p95_s:g} for a median of {self.median_s:g} s): a "
                                    "wider lognormal draws delays of years in its tail; raise "
                                    "median_s or lower p95_s"))
        return self


class RateInterruptions(_Frozen):
    """Poisson interruptions: each spot node is interrupted at ``per_node_hour`` (1/h)."""

    kind: Literal["rate"]
    per_node_hour: float = Field(ge=0)


class AdvisorInterruptions(_Frozen):
    """A Poisson rate from an AWS Spot Advisor interruption band (see
    :mod:`costmodels.spot_advisor`); no ``band`` = look up the fleet's instance and region
    (``us-east-1``, the built-in price snapshot's AWS region, when the fleet names none)."""

    kind: Literal["advisor"]
    band: SpotBand | None = None


class TraceInterruptions(_Frozen):
    """Spot capacity replayed from a SkyPilot JSON trace (values times ``capacity_scale``); a
    relative ``path`` is resolved against the scenario file's folder."""

    kind: Literal["trace"]
    path: str = Field(min_length=1)
    capacity_scale: int = Field(default=1, ge=1, le=MAX_NODES)

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


SpotInterruptions = Annotated[
    RateInterruptions | AdvisorInterruptions | TraceInterruptions,
    Field(discriminator="kind"),
]


class Spot(_Frozen):
    """How a fleet's spot nodes are interrupted and replaced (times in s).

    ``notice_s`` None is the provider's warning (:data:`SPOT_NOTICE_S`). Each notice requests a
    replacement ``replacement_delay_s`` later; it needs a free node slot (``Fleet.max_nodes``)
    while the noticed node still holds its own. ``fallback_to_on_demand_after_s``: a spot launch
    that waited that long for trace capacity launches on-demand instead.
    """

    interruptions: SpotInterruptions
    notice_s: float | None = Field(default=None, ge=0)
    replacement_delay_s: float = Field(default=0.0, ge=0)
    fallback_to_on_demand_after_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_fallback(self) -> Spot:
        kind = self.interruptions.kind
        if self.fallback_to_on_demand_after_s is not None and kind != "trace":
            raise problem(("fallback_to_on_demand_after_s", "has no effect without a capacity "
                           f"trace: spot launches never wait (got interruptions kind: {kind}); "
                           "remove it or use interruptions: {kind: trace, ...}"))
        return self


class NodeFleet(_Frozen):
    """Nodes of one catalog instance type, ``instance`` such as ``aws:p5.48xlarge``: the part
    every pattern's fleet shares."""

    instance: str
    region: str | None = None
    nodes: int = Field(ge=1)
    workers_per_node: int = Field(default=1, ge=1)

    @field_validator("instance")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        provider, sep, instance_type = value.strip().partition(":")
        if not sep or provider not in PROVIDERS or not instance_type or " " in instance_type:
            raise problem(("", f"must be '<provider>:<instance_type>' with provider "
                               f"{' or '.join(PROVIDERS)} (got {value!r}); "
                               f"{instance_key_hint(value)}write e.g. aws:p5.48xlarge or "
                               "gcp:a3-highgpu-8g"))
        return f"{provider}:{instance_type}"

    @property
    def provider(self) -> str:
        """The cloud provider part of ``instance`` (``aws`` or ``gcp``)."""
        return self.instance.partition(":")[0]

    @property
    def instance_type(self) -> str:
        """The instance type part of ``instance``, e.g. ``p5.48xlarge``."""
        return self.instance.partition(":")[2]


class Fleet(NodeFleet):
    """The nodes that serve a design: a catalog instance key such as ``aws:p5.48xlarge``.

    ``nodes`` start serving at t = 0. ``max_nodes`` is the number of node slots (default:
    ``autoscaling.max_nodes``, else ``nodes``; see :attr:`n_node_slots`). With ``purchase:
    spot`` the first ``on_demand_base`` nodes are on-demand and never scaled in, the others spot,
    and ``spot`` says how they are interrupted. No autoscaling and no spot: a fixed fleet.
    """

    autoscaling_pattern: ClassVar[str] = "realtime"
    """Whose metrics ``autoscaling`` may track (:data:`AUTOSCALING_METRICS`)."""

    purchase: FleetPurchase = "on_demand"
    on_demand_base: int = Field(default=0, ge=0)
    max_nodes: int | None = Field(default=None, ge=1)
    autoscaling: Autoscaling | None = None
    provisioning: tuple[ProvisioningDelay, ...] = ()
    spot: Spot | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_metric(cls, data: Any) -> Any:
        found = autoscaling_metric_problem(data, cls.autoscaling_pattern)
        if found is not None:
            raise problem(found)
        return data

    @model_validator(mode="after")
    def _check_dynamics(self) -> Fleet:
        problems: list[tuple[str, str]] = []
        nodes, auto = self.nodes, self.autoscaling
        if self.max_nodes is not None and self.max_nodes < nodes:
            problems.append(("max_nodes", f"must be >= nodes (got {self.max_nodes} < {nodes}); "
                                          "raise max_nodes or lower nodes"))
        if auto is not None:
            if not auto.min_nodes <= nodes <= auto.max_nodes:
                problems.append(("nodes", f"must be within autoscaling.min_nodes.."
                                 f"autoscaling.max_nodes (got {nodes}, not in {auto.min_nodes}.."
                                 f"{auto.max_nodes}); start the fleet inside that range"))
            if self.max_nodes is not None and self.max_nodes < auto.max_nodes:
                problems.append(("max_nodes", f"must be >= autoscaling.max_nodes (got "
                                 f"{self.max_nodes} < {auto.max_nodes}); raise max_nodes, or "
                                 "remove it to default to autoscaling.max_nodes"))
        problems += spot_problems(self, "kind: rate or kind: trace")
        problems += provisioning_problems(self.provisioning)
        if problems:
            raise problem(*problems)
        return self

    @property
    def n_workers(self) -> int:
        """Workers at t = 0 (``nodes * workers_per_node``)."""
        return self.nodes * self.workers_per_node

    @property
    def n_node_slots(self) -> int:
        """Node slots: ``max_nodes``, else ``autoscaling.max_nodes``, else ``nodes``."""
        if self.max_nodes is not None:
            return self.max_nodes
        return self.autoscaling.max_nodes if self.autoscaling is not None else self.nodes

    @property
    def is_fixed(self) -> bool:
        """Whether the fleet never changes (no autoscaling, no spot nodes)."""
        return self.autoscaling is None and self.purchase != "spot"

    @property
    def spot_notice_s(self) -> float | None:
        """Warning before a spot node dies (s): ``spot.notice_s`` or the provider's default."""
        return spot_notice_s(self)


def instance_key_hint(value: str) -> str:
    """Return ``"did you mean aws:g5.xlarge?; "`` for a malformed instance key (a missing or
    wrong provider prefix), from the built-in price snapshot's keys; "" when none is close.

    The snapshot is packaged data, so the schema still reads no user file; the catalog in use
    (a refreshed cache) is checked later, with the scenario's own prices, by
    :func:`planner.inputs.instance_problem`.
    """
    from costmodels.catalog import did_you_mean, load_snapshot, suggest_instance_keys

    hint = did_you_mean(suggest_instance_keys(load_snapshot(), value))
    return f"{hint}; " if hint else ""


def spot_notice_s(fleet: Fleet | NodeFleet) -> float | None:
    """Warning before a spot node of ``fleet`` dies (s): ``fleet.spot.notice_s`` or the
    provider's default (None without spot)."""
    spot = getattr(fleet, "spot", None)
    if spot is None:
        return None
    return spot.notice_s if spot.notice_s is not None else SPOT_NOTICE_S[fleet.provider]


def spot_problems(fleet: Fleet | NodeFleet, other_kinds: str) -> list[tuple[str, str]]:
    """Return the problems of a fleet's ``purchase``, ``on_demand_base`` and ``spot`` together
    (the real-time and streaming fleets' rules); ``other_kinds`` is the fix offered to an
    advisor band outside AWS."""
    problems: list[tuple[str, str]] = []
    purchase, base, spot = fleet.purchase, fleet.on_demand_base, fleet.spot
    if base and purchase != "spot":
        problems.append(("on_demand_base", f"only applies with purchase: spot (got {base} with "
                         f"purchase: {purchase}); remove it or set purchase: spot"))
    elif base > fleet.nodes:
        problems.append(("on_demand_base", f"must be <= nodes (got {base} > {fleet.nodes}); "
                         "lower on_demand_base or raise nodes"))
    if purchase == "spot" and spot is None:
        example = "advisor" if fleet.provider == "aws" else "rate, per_node_hour: 0.01"
        problems.append(("spot", f"is required with purchase: spot (got none); add spot: "
                                 f"{{interruptions: {{kind: {example}}}}}"))
    elif purchase != "spot" and spot is not None:
        problems.append(("spot", f"only applies with purchase: spot (got spot: with purchase: "
                                 f"{purchase}); remove spot or set purchase: spot"))
    elif spot is not None and isinstance(spot.interruptions, AdvisorInterruptions) and \
            fleet.provider != "aws":
        problems.append(("spot.interruptions.kind", f"advisor bands cover AWS only (got "
                         f"advisor for {fleet.instance}); use {other_kinds}"))
    return problems


def provisioning_problems(provisioning: tuple[ProvisioningDelay, ...]) -> list[tuple[str, str]]:
    """Return a problem for each provisioning delay component whose name is already used."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, delay in enumerate(provisioning):
        if delay.name in seen:
            problems.append((f"provisioning[{i}].name", f"{delay.name!r} is already used; "
                             "give each delay component a unique name"))
        seen.add(delay.name)
    return problems
