"""The contract every design pattern meets, and the parts patterns share.

A pattern is a registry entry (:data:`planner.patterns.PATTERNS`) with a :class:`Pattern`
object. The orchestrator (:mod:`planner.run`) does the same for every design:

1. resolve inputs (files were read by :mod:`planner.inputs`; quotes come from the catalog for
   the purchase options :meth:`Pattern.purchases` names);
2. ``run = PATTERNS[design.pattern].simulate(context, quotes)``: the pattern turns the design
   into its simulator's typed spec, runs ``simulators/<pattern>/`` and returns a
   :class:`PatternRun` (the usage record every pattern shares, plus what only this pattern
   reports);
3. price the usage (:func:`planner.patterns.summary.price_run`);
4. summarise (:func:`planner.patterns.summary.summarise`) into a :class:`DesignResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from costmodels.catalog import PriceCatalog
from costmodels.spot_advisor import rate_per_node_hour
from domain.purchase import Purchase
from planner import schema
from planner.inputs import ScenarioInputs
from planner.pricing import PricedQuote
from planner.result_llm import LlmResult
from planner.result_parts import (
    Batching,
    DesignWarning,
    FleetResult,
    SpotInterruptions,
    TimelineResult,
)
from simulators.core.fleet import AutoscalingPolicy, DelayComponent
from simulators.core.spec import RunSpec
from simulators.core.usage import Distribution, Timeline, Usage

ProgressCallback = Callable[[str, int, int], None]
"""``progress(design_name, done, total)``."""


@dataclass(frozen=True)
class DesignContext:
    """Everything a pattern needs to simulate one design of a scenario."""

    scenario: schema.Scenario
    design: Any
    workload: Any
    inputs: ScenarioInputs
    catalog: PriceCatalog
    progress: ProgressCallback | None = None

    @property
    def hours_per_month(self) -> float:
        """Hours in a month for monthly projections (the scenario's ``pricing``)."""
        return self.scenario.pricing.hours_per_month

    def run_spec(self) -> RunSpec:
        """Return the scenario's horizon, warm-up, replications and seed for a simulator spec."""
        s = self.scenario
        return RunSpec(horizon_s=s.horizon_s, warmup_s=s.warmup_s,
                       n_replications=s.replications, seed=s.seed)

    def progress_of_design(self) -> Callable[[int, int], None] | None:
        """Return ``progress(done, total)`` for this design, or None."""
        if self.progress is None:
            return None
        name, callback = self.design.name, self.progress
        return lambda done, total: callback(name, done, total)


@dataclass(frozen=True)
class SloTarget:
    """The SLO a design's distribution is judged against."""

    percentile: float
    latency_ms: float


@dataclass(frozen=True)
class PerRunCost:
    """Costing of patterns whose unit is a run (training): $/month = $/run x runs per month."""

    runs_per_month: float


@dataclass(frozen=True)
class SteadyStateCost:
    """Costing of patterns that work in whole periods (batch jobs): $/month = the horizon's
    cost / the periods it paid for x the periods in a month, so a horizon that ends between
    jobs (or mid-job) is neither under- nor over-counted."""

    periods_in_horizon: float
    periods_per_month: float
    detail: str


@dataclass(frozen=True)
class PatternRun:
    """What a pattern's simulation produced: the shared usage record and its own details."""

    usage: Usage
    fleet: FleetResult
    batching: Batching | None
    service_time: str
    arrivals: str
    timeline: TimelineResult | None
    slo: SloTarget | None
    pattern_metrics: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[DesignWarning, ...] = ()
    tokens_per_unit: float | None = None
    per_run: PerRunCost | None = None
    steady_state: SteadyStateCost | None = None
    token_split: tuple[float, float] | None = None
    """Measured input and output tokens per completed request (LLM designs), for $ per 1M
    input and output tokens."""
    extra_slos: tuple[tuple[str, Distribution, SloTarget], ...] = ()
    """Further SLO bounds on other distributions (name, distribution, target): LLM TTFT/TPOT."""
    llm: LlmResult | None = None
    """What only LLM designs report."""
    unjudged_slo: tuple[str, ...] = ()
    """Bounds of the workload's SLO the pattern cannot report (``ttft``, ``tpot``)."""


class Pattern(Protocol):
    """One design pattern: how its designs are simulated and described."""

    name: str
    """The ``pattern:`` value of its designs."""
    metric: str
    """What its distribution measures (:data:`simulators.core.usage.METRICS`)."""
    assumption: str | None
    """One line on what its figures rest on, printed with the run (None: the common ones)."""
    metric_names: tuple[str, ...]
    """Numeric :attr:`PatternRun.pattern_metrics` a guardrail may name."""

    def purchases(self, design: Any) -> set[str]:
        """Return the purchase options the design's nodes can be bought as."""
        ...

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate the design and return its usage and details."""
        ...


def purchases_with_fallback(design: Any) -> set[str]:
    """The design's purchase option, plus on-demand for spot fleets (base and fallback nodes)."""
    purchase = design.fleet.purchase
    return {purchase} | ({Purchase.ON_DEMAND} if purchase == Purchase.SPOT else set())


def price_warnings(quotes: Mapping[str, PricedQuote]) -> list[DesignWarning]:
    """Return a warning for each purchase option whose price is unknown."""
    return [DesignWarning("price_unknown", f"price n/a: {q.quote.note}") for q in quotes.values()
            if q.quote.usd_per_hour is None and q.quote.note]


def trace_warnings(inputs: ScenarioInputs, workload: str) -> list[DesignWarning]:
    """Return the notes of the workload's arrival trace, if it replays one."""
    trace = inputs.traces.get(workload)
    return [] if trace is None else [DesignWarning("trace", n) for n in trace.notes]


def autoscaling_policy(autoscaling: schema.Autoscaling | None) -> AutoscalingPolicy | None:
    """Return the simulators' policy of a fleet's ``autoscaling`` (the one schema of every
    autoscaled pattern), or None without autoscaling."""
    a = autoscaling
    return None if a is None else AutoscalingPolicy(
        metric=a.metric, target=a.target, min_nodes=a.min_nodes, max_nodes=a.max_nodes,
        interval_s=a.interval_s, window_s=a.window_s, scale_in_cooldown_s=a.scale_in_cooldown_s,
        schedule=tuple((s.start_hour, s.end_hour, s.min_nodes) for s in a.schedule))


def clock_start_hour(workload: Any) -> float:
    """Return the clock hour at t = 0 that an autoscaler's schedule reads: the diurnal
    arrivals' ``start_hour``, else 0."""
    arrivals = getattr(workload, "arrivals", None)
    return arrivals.start_hour if isinstance(arrivals, schema.DiurnalArrivals) else 0.0


def provisioning_of(fleet: Any) -> tuple[DelayComponent, ...]:
    """Return the fleet's provisioning delay components."""
    return tuple(DelayComponent.from_p95(p.name, p.median_s, p.p95_s) for p in fleet.provisioning)


def spot_interruptions(design: Any, inputs: ScenarioInputs, hours_per_month: float
                       ) -> SpotInterruptions | None:
    """Return where the design's spot interruption model comes from (None without spot).

    A given rate is used as it is; an advisor band (given, or looked up by
    :mod:`planner.inputs` for the instance and region) becomes a rate per node-hour; a capacity
    trace is replayed by the fleet kernel and has no single rate.
    """
    sp = design.fleet.spot
    if sp is None:
        return None
    it = sp.interruptions
    if it.kind == "rate":
        return SpotInterruptions("rate", it.per_node_hour, None,
                                 f"{it.per_node_hour:g} interruptions per node-hour (given)")
    if it.kind == "advisor":
        band = it.band
        detail = f"AWS Spot Advisor band {band} (given)"
        if band is None:
            advice = inputs.spot_advice[design.name]
            band = advice.band
            detail = (f"AWS Spot Advisor band {band} for {advice.instance_type} in "
                      f"{advice.region} (snapshot {advice.as_of})")
        return SpotInterruptions("advisor", rate_per_node_hour(band, hours_per_month), band,
                                 detail)
    trace = inputs.spot_traces[design.name]
    return SpotInterruptions("trace", None, None,
                             f"capacity trace {trace.source_path} ({trace.n_drops} drops, "
                             f"tick {trace.gap_s:g} s)")


def slo_target(workload: Any) -> SloTarget | None:
    """Return the workload's latency or freshness SLO, if it has one."""
    slo = workload.slo
    if slo is None or slo.latency_ms is None:
        return None
    return SloTarget(slo.percentile, slo.latency_ms)


def timeline_result(timeline: Timeline | None) -> TimelineResult | None:
    """Return the JSON-ready timeline of a usage record (None when the pattern has none)."""
    if timeline is None:
        return None
    return TimelineResult(
        bin_s=timeline.bin_s, start_s=tuple(timeline.start_s.tolist()),
        series={k: tuple(np.asarray(v).tolist()) for k, v in timeline.series.items()})
