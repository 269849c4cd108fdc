"""The one results object of a run: immutable, serialisable, read by every report and the CLI.

``RunResult.to_dict()`` is the CLI's ``--format json`` output; tables and later reports render
from the same object, so what a CI check reads is what a person sees.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.result_llm import LlmResult
from planner.result_parts import (
    Batching,
    DesignWarning,
    DistributionResult,
    FleetResult,
    RequestCounts,
    TimelineResult,
    batching_dict,
    batching_from_dict,
)
from planner.result_read import (
    FIX,
    Node,
    ResultsFileError,
    check_results_kind,
    read_estimate,
    read_estimates,
)
from planner.stats import Estimate

SCHEMA_VERSION = 4
"""Version of the JSON results; 2: typed batching per pattern (streaming ``window_s``, batch
``period_s``, training none), every fleet key present for every pattern; 3: ``warnings`` are
``{code, message}`` objects, SLO bounds carry ``verdict`` (met / MISSED / inconclusive) and
``replications_to_settle``, costs carry ``usd_per_month_ci95``, the recommendation names its
``cost_ties``; 4: wall-clock timings only under ``timings`` (``timings.wall_s``, was the
top-level ``wall_s``), so that the rest is the same byte for byte for the same inputs and seed;
SLO bounds carry ``achieved_ms_n`` (the values the achieved estimate rests on) and ``wait_ms``
its p90 and p95 where the design has a request queue, so that a saved file reads back
(:meth:`RunResult.from_json`) to the same reports."""
LATENCY_KEYS = ("mean", "p50", "p90", "p95", "p99")
WAIT_KEYS = ("mean", "p50", "p99")

METRIC_LABELS = {"latency": "latency", "freshness": "freshness",
                 "completion_time": "completion time"}
"""What a design's ``latency_ms`` distribution measures, by pattern: request latency
(real-time, streaming), freshness (batch: arrival to completion of the job that processed the
record), completion time (training runs)."""


@dataclass(frozen=True)
class CostResult:
    """What a design costs, on the allocated and the busy-GPU basis; None = unknown price."""

    usd_per_hour: float | None
    total_usd: float | None
    usd_per_month: float | None
    usd_per_1k_requests: float | None
    busy_usd: float | None
    usd_per_1k_requests_busy: float | None
    purchase: str
    price_source: str | None
    price_as_of: str | None
    catalog: str
    note: str | None
    by_purchase: dict[str, float | None] = field(default_factory=dict)
    sources: tuple[tuple[str, str | None, str | None], ...] = ()
    usd_per_1m_tokens: float | None = None
    usd_per_1m_tokens_busy: float | None = None
    usd_per_1m_input_tokens: float | None = None
    usd_per_1m_input_tokens_busy: float | None = None
    usd_per_1m_output_tokens: float | None = None
    usd_per_1m_output_tokens_busy: float | None = None
    usd_per_run: float | None = None
    usd_per_run_busy: float | None = None
    layers: tuple[tuple[str, float | None], ...] = ()
    discounts: tuple[str, ...] = ()
    commitment: dict[str, Any] | None = None
    incomplete: bool = False
    usd_per_month_ci95: tuple[float, float] | None = None
    """95 % interval of the monthly cost across replications (None: unknown or one
    replication); two designs whose monthly costs differ by less than their intervals allow
    are a tie (:func:`cost_tie`)."""

    @property
    def usd_per_month_half_width(self) -> float | None:
        """Half-width of :attr:`usd_per_month_ci95` (None when unknown)."""
        ci = self.usd_per_month_ci95
        return None if ci is None else 0.5 * (ci[1] - ci[0])

    @property
    def known(self) -> bool:
        """Return whether the price is known."""
        return self.usd_per_hour is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of this cost."""
        return {
            "total_usd": self.total_usd,
            "usd_per_month": self.usd_per_month,
            "usd_per_month_ci95": None if self.usd_per_month_ci95 is None
            else list(self.usd_per_month_ci95),
            "usd_per_hour": self.usd_per_hour,
            "usd_per_1k_requests": self.usd_per_1k_requests,
            "busy_usd": self.busy_usd,
            "usd_per_1k_requests_busy": self.usd_per_1k_requests_busy,
            "usd_per_1m_tokens": self.usd_per_1m_tokens,
            "usd_per_1m_tokens_busy": self.usd_per_1m_tokens_busy,
            "usd_per_1m_input_tokens": self.usd_per_1m_input_tokens,
            "usd_per_1m_input_tokens_busy": self.usd_per_1m_input_tokens_busy,
            "usd_per_1m_output_tokens": self.usd_per_1m_output_tokens,
            "usd_per_1m_output_tokens_busy": self.usd_per_1m_output_tokens_busy,
            "usd_per_run": self.usd_per_run,
            "usd_per_run_busy": self.usd_per_run_busy,
            "incomplete": self.incomplete,
            "purchase": self.purchase,
            "price_source": self.price_source,
            "price_as_of": self.price_as_of,
            "catalog": self.catalog,
            "note": self.note,
            "usd_by_purchase": self.by_purchase,
            "price_sources": [{"purchase": p, "source": src, "as_of": d}
                              for p, src, d in self.sources],
            "discounts": list(self.discounts),
            "layers": [{"layer": name, "total_usd": usd} for name, usd in self.layers],
            "commitment": self.commitment,
        }

    @classmethod
    def from_dict(cls, node: Node) -> CostResult:
        """Read back :meth:`to_dict`."""
        ci = node["usd_per_month_ci95"]
        commitment = node["commitment"]
        if commitment.value is not None:
            for key in ("utilization_of_commitment", "committed_nodes", "unused_commitment_usd"):
                field_ = commitment.get(key)
                if field_ is not None:
                    field_.opt_num()
        return cls(
            **{k: node[k].opt_num() for k in COST_NUMBERS},
            incomplete=node["incomplete"].flag(), purchase=node["purchase"].text(),
            price_source=node["price_source"].opt_text(),
            price_as_of=node["price_as_of"].opt_text(), catalog=node["catalog"].text(),
            note=node["note"].opt_text(),
            by_purchase=node["usd_by_purchase"].num_map(nullable=True),
            sources=tuple((s["purchase"].text(), s["source"].opt_text(), s["as_of"].opt_text())
                          for s in node["price_sources"].items()),
            discounts=tuple(d.text() for d in node["discounts"].items()),
            layers=tuple((layer["layer"].text(), layer["total_usd"].opt_num())
                         for layer in node["layers"].items()),
            commitment=commitment.opt_obj(),
            usd_per_month_ci95=None if ci.value is None else ci.pair())  # type: ignore[arg-type]


COST_NUMBERS = ("total_usd", "usd_per_month", "usd_per_hour", "usd_per_1k_requests", "busy_usd",
                "usd_per_1k_requests_busy", "usd_per_1m_tokens", "usd_per_1m_tokens_busy",
                "usd_per_1m_input_tokens", "usd_per_1m_input_tokens_busy",
                "usd_per_1m_output_tokens", "usd_per_1m_output_tokens_busy", "usd_per_run",
                "usd_per_run_busy")
"""The numeric fields of a cost's JSON (each null when unknown)."""


SLO_MET, SLO_MISSED, SLO_INCONCLUSIVE = "met", "MISSED", "inconclusive"
"""An SLO bound's verdict: met or MISSED when the 95 % interval of the achieved value lies on
one side of the bound, inconclusive when it straddles it (more replications would settle it)."""


@dataclass(frozen=True)
class SloResult:
    """A latency SLO and how the design did against it.

    ``metric`` is what is bounded: ``latency`` (the design's own distribution: latency,
    freshness or completion time), or for LLM designs ``ttft`` or ``tpot``; ``latency_ms`` is
    the bound. :attr:`verdict` reads the achieved value's 95 % interval, not only its mean;
    :attr:`met` is True only for a verdict of met.
    """

    percentile: float
    latency_ms: float
    achieved_ms: Estimate
    attainment: Estimate
    metric: str = "latency"

    @property
    def verdict(self) -> str:
        """``met``, ``MISSED`` or ``inconclusive`` (the interval straddles the bound); with one
        replication (no interval) the mean decides; an unknown value is MISSED."""
        a = self.achieved_ms
        if a.mean is None:
            return SLO_MISSED
        if a.low is not None and a.high is not None and a.low <= self.latency_ms <= a.high \
                and a.low < a.high:
            return SLO_INCONCLUSIVE
        return SLO_MET if a.mean <= self.latency_ms else SLO_MISSED

    @property
    def met(self) -> bool:
        """Whether the bound is met with 95 % confidence."""
        return self.verdict == SLO_MET

    def replications_to_settle(self) -> int | None:
        """For an inconclusive verdict, about how many replications would shrink the interval
        off the bound (the half-width falls as 1/sqrt(n)); None when conclusive or unknown."""
        a = self.achieved_ms
        if self.verdict != SLO_INCONCLUSIVE or a.half_width is None or a.mean is None:
            return None
        gap = abs(a.mean - self.latency_ms)
        if gap <= 0:
            return None
        return max(int(math.ceil(a.n * (a.half_width / gap) ** 2)) + 1, a.n + 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"metric": self.metric, "percentile": self.percentile,
                "latency_ms": self.latency_ms, "achieved_ms": self.achieved_ms.mean,
                "achieved_ms_ci95": [self.achieved_ms.low, self.achieved_ms.high],
                "achieved_ms_n": self.achieved_ms.n,
                "attainment": self.attainment.mean, "met": self.met,
                "verdict": self.verdict,
                "replications_to_settle": self.replications_to_settle()}

    @classmethod
    def from_dict(cls, node: Node, attainment: Node, n: int) -> SloResult:
        """Read back :meth:`to_dict` (``met``, ``verdict`` and ``replications_to_settle`` are
        derived); ``attainment`` holds its mean, ``n`` the run's replications."""
        return cls(percentile=node["percentile"].num(), latency_ms=node["latency_ms"].num(),
                   achieved_ms=read_estimate(node["achieved_ms"], node["achieved_ms_ci95"],
                                             node["achieved_ms_n"].integer()),
                   attainment=read_estimate(attainment, None, n),
                   metric=node["metric"].text())


@dataclass(frozen=True)
class DesignResult:
    """Metrics of one design, summarised over its replications."""

    name: str
    workload: str
    pattern: str
    fleet: FleetResult
    batching: Batching | None
    service_time: str
    arrivals: str
    latency_ms: dict[str, Estimate]
    wait_ms: dict[str, Estimate]
    throughput_rps: Estimate
    arrival_rate_rps: Estimate
    utilization: Estimate
    mean_batch_size: Estimate
    mean_queue_length: Estimate
    littles_law_relative_error: float | None
    slo: SloResult | None
    requests: RequestCounts
    node_hours: float
    gpu_hours: float | None
    busy_gpu_hours: Estimate
    cost: CostResult
    timeline: TimelineResult | None = field(default=None, repr=False)
    warnings: tuple[DesignWarning, ...] = ()
    metric: str = "latency"
    pattern_metrics: dict[str, Any] = field(default_factory=dict)
    """Numbers (and labels) only this pattern reports, named in its registry entry."""
    distribution_ms: DistributionResult | None = field(default=None, repr=False)
    """The metric's distribution (mean over replications of each quantile), for charts."""
    more_slos: tuple[SloResult, ...] = ()
    """Further bounds of the SLO beyond :attr:`slo` (LLM designs: TTFT, TPOT); all must hold."""
    llm: LlmResult | None = None
    """What only LLM designs report: TTFT, TPOT, tokens, goodput, KV cache."""
    unjudged_slo: tuple[str, ...] = ()
    """Bounds of the workload's SLO this design cannot be judged on (a request-batching design
    has no first-token time: ``ttft``, ``tpot``); such a design is never recommended as
    meeting every SLO."""
    saturated: tuple[str, ...] = ()
    """Figures that lie in the latency histogram's overflow bucket (at or beyond 2^24 s) in
    some replication, as ``latency_ms.p99``, ``wait_ms.p50`` or ``slo.achieved_ms``: each is
    that bucket's lower edge, a lower bound (show it as "> 16,777,216,000 ms"), not an
    estimate."""

    @property
    def fully_meets_slo(self) -> bool | None:
        """Whether every bound of the workload's SLO is judged and met (None without an SLO);
        False when a bound cannot be judged."""
        if self.unjudged_slo:
            return False
        return self.meets_slo

    @property
    def slos(self) -> tuple[SloResult, ...]:
        """Every bound of the design's SLO (empty without one)."""
        return () if self.slo is None else (self.slo, *self.more_slos)

    @property
    def metric_label(self) -> str:
        """Return what ``latency_ms`` measures, for people: latency, freshness, completion time."""
        return METRIC_LABELS.get(self.metric, self.metric)

    def flat_metrics(self) -> dict[str, float | None]:
        """Return the scalar metrics a CI guardrail may test, by name (None = unknown).

        Names: ``mean_ms``, ``p50_ms`` ... ``p99_ms`` (latency, freshness or completion time,
        per :attr:`metric`), ``slo_attainment``, ``utilization``, ``throughput_rps``,
        ``node_hours``, ``total_usd``, ``usd_per_month``, ``usd_per_hour``,
        ``usd_per_1k_requests`` (and ``_busy``), ``usd_per_1m_tokens`` (and ``_busy``),
        ``usd_per_run`` (and ``_busy``), ``preemptions``, ``dropped_requests``, plus the
        numeric entries of :attr:`pattern_metrics`.
        """
        out: dict[str, float | None] = {f"{k}_ms": self.latency_ms[k].mean for k in LATENCY_KEYS}
        out["slo_attainment"] = None if self.slo is None else self.slo.attainment.mean
        if self.llm is not None:
            out.update(self.llm.flat_metrics())
        out["utilization"] = self.utilization.mean
        out["throughput_rps"] = self.throughput_rps.mean
        out["node_hours"] = self.node_hours
        c = self.cost
        for key in ("total_usd", "usd_per_month", "usd_per_hour", "usd_per_1k_requests",
                    "usd_per_1k_requests_busy", "usd_per_1m_tokens", "usd_per_1m_tokens_busy",
                    "usd_per_1m_input_tokens", "usd_per_1m_input_tokens_busy",
                    "usd_per_1m_output_tokens", "usd_per_1m_output_tokens_busy",
                    "usd_per_run", "usd_per_run_busy"):
            out[key] = getattr(c, key)
        out["preemptions"] = self.fleet.preemptions
        out["dropped_requests"] = self.fleet.dropped_requests
        for key, value in self.pattern_metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = float(value)
        return out

    @property
    def meets_slo(self) -> bool | None:
        """Return whether the design meets every bound of its SLO (None without an SLO)."""
        return None if self.slo is None else all(s.met for s in self.slos)

    def _wait_keys(self) -> tuple[str, ...]:
        """The wait percentiles the design has: :data:`WAIT_KEYS`, and p90 and p95 where it
        has a request queue."""
        return tuple(k for k in LATENCY_KEYS if k in self.wait_ms or k in WAIT_KEYS)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of this design's results."""
        cost = self.cost
        return {
            "name": self.name,
            "workload": self.workload,
            "pattern": self.pattern,
            "metric": self.metric,
            "fleet": self.fleet.to_dict(),
            "batching": batching_dict(self.batching),
            "service_time": self.service_time,
            "arrivals": self.arrivals,
            "latency_ms": {k: self.latency_ms[k].mean for k in LATENCY_KEYS},
            "latency_ms_ci95": {k: [self.latency_ms[k].low, self.latency_ms[k].high]
                                for k in LATENCY_KEYS},
            "wait_ms": {k: self.wait_ms[k].mean for k in self._wait_keys()},
            "wait_ms_ci95": {k: [self.wait_ms[k].low, self.wait_ms[k].high]
                             for k in self._wait_keys()},
            "throughput_rps": self.throughput_rps.mean,
            "arrival_rate_rps": self.arrival_rate_rps.mean,
            "utilization": self.utilization.mean,
            "utilization_ci95": [self.utilization.low, self.utilization.high],
            "slo_attainment": None if self.slo is None else self.slo.attainment.mean,
            "slo": None if self.slo is None else {
                k: v for k, v in self.slo.to_dict().items() if k != "attainment"},
            "mean_batch_size": self.mean_batch_size.mean,
            "mean_queue_length": self.mean_queue_length.mean,
            "littles_law_relative_error": self.littles_law_relative_error,
            "requests": self.requests.to_dict(),
            "node_hours": self.node_hours,
            "gpu_hours": self.gpu_hours,
            "busy_gpu_hours": self.busy_gpu_hours.mean,
            "cost": cost.to_dict(),
            "pattern_metrics": self.pattern_metrics,
            "distribution_ms": None if self.distribution_ms is None
            else self.distribution_ms.to_dict(),
            "timeline": {} if self.timeline is None else self.timeline.to_dict(),
            "warnings": [w.to_dict() for w in self.warnings],
            **({} if not self.more_slos else {"slos": [s.to_dict() for s in self.slos]}),
            **({} if self.llm is None else {"llm": self.llm.to_dict()}),
            **({} if not self.unjudged_slo else {"unjudged_slo": list(self.unjudged_slo)}),
            **({} if not self.saturated else {"saturated": list(self.saturated)}),
        }

    @classmethod
    def from_dict(cls, node: Node, n: int) -> DesignResult:
        """Read back :meth:`to_dict`; ``n``: the run's replications (what the estimates the
        JSON keeps without a count rest on)."""
        slo_node, slos = node["slo"], node.get("slos")
        slo = None if slo_node.value is None else SloResult.from_dict(
            slo_node, node["slo_attainment"], n)
        more: tuple[SloResult, ...] = ()
        if slos is not None:
            more = tuple(SloResult.from_dict(s, s["attainment"], n) for s in slos.items()[1:])
        distribution, llm = node["distribution_ms"], node.get("llm")
        unjudged, saturated = node.get("unjudged_slo"), node.get("saturated")
        return cls(
            name=node["name"].text(), workload=node["workload"].text(),
            pattern=node["pattern"].text(), metric=node["metric"].text(),
            fleet=FleetResult.from_dict(node["fleet"]),
            batching=batching_from_dict(node["batching"]),
            service_time=node["service_time"].text(), arrivals=node["arrivals"].text(),
            latency_ms=read_estimates(node["latency_ms"], node["latency_ms_ci95"],
                                      LATENCY_KEYS, n),
            wait_ms=read_estimates(node["wait_ms"], node["wait_ms_ci95"], tuple(
                k for k in LATENCY_KEYS if k in WAIT_KEYS or k in node["wait_ms"].obj()), n),
            throughput_rps=read_estimate(node["throughput_rps"], None, n),
            arrival_rate_rps=read_estimate(node["arrival_rate_rps"], None, n),
            utilization=read_estimate(node["utilization"], node["utilization_ci95"], n),
            mean_batch_size=read_estimate(node["mean_batch_size"], None, n),
            mean_queue_length=read_estimate(node["mean_queue_length"], None, n),
            littles_law_relative_error=node["littles_law_relative_error"].opt_num(),
            slo=slo, more_slos=more, requests=RequestCounts.from_dict(node["requests"]),
            node_hours=node["node_hours"].num(), gpu_hours=node["gpu_hours"].opt_num(),
            busy_gpu_hours=read_estimate(node["busy_gpu_hours"], None, n),
            cost=CostResult.from_dict(node["cost"]),
            pattern_metrics=node["pattern_metrics"].obj(),
            distribution_ms=None if distribution.value is None
            else DistributionResult.from_dict(distribution),
            timeline=TimelineResult.from_dict(node["timeline"]),
            warnings=tuple(DesignWarning.from_dict(w) for w in node["warnings"].items()),
            llm=None if llm is None else LlmResult.from_dict(llm, n),
            unjudged_slo=() if unjudged is None else tuple(u.text() for u in unjudged.items()),
            saturated=() if saturated is None else tuple(s.text() for s in saturated.items()))


def cost_tie(a: CostResult, b: CostResult) -> bool:
    """Whether two monthly costs are equal within the simulation's noise: both known, and their
    difference no larger than the combined 95 % half-widths ``sqrt(h_a^2 + h_b^2)`` (a cost
    with no interval has half-width 0, so deterministic costs tie only when equal)."""
    if a.usd_per_month is None or b.usd_per_month is None or a.incomplete or b.incomplete:
        return False
    ha = a.usd_per_month_half_width or 0.0
    hb = b.usd_per_month_half_width or 0.0
    return abs(a.usd_per_month - b.usd_per_month) <= math.hypot(ha, hb)


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced: per-design results plus what they rest on."""

    scenario: dict[str, Any]
    designs: tuple[DesignResult, ...]
    assumptions: dict[str, Any]
    planner_version: str
    wall_s: float

    def design(self, name: str) -> DesignResult:
        """Return the results of design ``name``."""
        for d in self.designs:
            if d.name == name:
                return d
        raise KeyError(name)

    def cheapest_meeting_slo(self) -> DesignResult | None:
        """Return the design with the lowest known monthly cost that meets its SLO, if any.

        Designs without an SLO count as meeting it; designs with an unknown or incomplete price
        are skipped (an unknown price is not cheap), and so are designs the SLO cannot be fully
        judged on (:attr:`DesignResult.unjudged_slo`).
        """
        ok = [d for d in self.designs
              if d.fully_meets_slo is not False and d.cost.usd_per_month is not None
              and not d.cost.incomplete]
        if not ok:
            return None
        return min(ok, key=lambda d: (d.cost.usd_per_month, d.name))

    def ties_with_best(self) -> tuple[DesignResult, ...]:
        """Other designs that meet every SLO and cost the same as the recommendation within the
        noise (:func:`cost_tie`): the recommendation is then a choice among equals on cost."""
        best = self.cheapest_meeting_slo()
        if best is None:
            return ()
        return tuple(d for d in self.designs if d.name != best.name
                     and d.fully_meets_slo is not False and cost_tie(d.cost, best.cost))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of the whole run."""
        best = self.cheapest_meeting_slo()
        return {
            "schema_version": SCHEMA_VERSION,
            "planner_version": self.planner_version,
            "scenario": self.scenario,
            "assumptions": self.assumptions,
            "designs": [d.to_dict() for d in self.designs],
            "recommendation": {
                "cheapest_meeting_slo": None if best is None else best.name,
                "usd_per_month": None if best is None else best.cost.usd_per_month,
                "usd_per_month_ci95": None if best is None or best.cost.usd_per_month_ci95
                is None else list(best.cost.usd_per_month_ci95),
                "cost_ties": [d.name for d in self.ties_with_best()],
            },
            "timings": self.timings,
        }

    @property
    def timings(self) -> dict[str, float]:
        """The run's wall-clock timings (the JSON's ``timings``): they differ from run to run,
        everything else is the same for the same inputs and seed."""
        return {"wall_s": self.wall_s}

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON (NaN and inf become null)."""
        return json.dumps(json_ready(self.to_dict()), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "results JSON") -> RunResult:
        """Read back :meth:`to_dict` (the recommendation is derived again).

        Raises :class:`planner.result_read.ResultsFileError` (a ``PlannerError``) naming
        ``source`` (the file), the field's JSON path and the fix when ``data`` is not a results
        JSON of this :data:`SCHEMA_VERSION` or a field is missing or mistyped.
        """
        node = Node(data, "", source)
        check_results_kind(node, SCHEMA_VERSION)
        scenario = node["scenario"]
        for key, read in SCENARIO_FIELDS.items():
            read(scenario[key])
        n = scenario["replications"].integer()
        assumptions = node["assumptions"]
        for key in ASSUMPTION_TEXTS:
            assumptions[key].text()
        assumptions["hours_per_month"].num()
        assumptions["price_catalog_as_of"].opt_text()
        designs = tuple(DesignResult.from_dict(d, n) for d in node["designs"].items())
        timings = node["timings"]
        return cls(scenario=scenario.obj(), designs=designs, assumptions=assumptions.obj(),
                   planner_version=node["planner_version"].text(),
                   wall_s=timings["wall_s"].num())

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "results JSON") -> RunResult:
        """Read back :meth:`to_json`; ``source`` names the file in errors (see
        :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultsFileError(f"{source}: not JSON ({exc}); {FIX}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunResult:
        """Read a results JSON file (see :meth:`from_dict`); an unreadable file is a
        :class:`planner.result_read.ResultsFileError` too."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            problem = "file not found" if isinstance(exc, FileNotFoundError) \
                else f"cannot read it ({exc.strerror})"
            raise ResultsFileError(f"{path}: {problem}; pass a results JSON, as "
                                   "`planner run SCENARIO --format json -o FILE` writes") from None
        return cls.from_json(raw, source=str(path))


SCENARIO_FIELDS = {"name": Node.text, "description": Node.opt_text, "path": Node.opt_text,
                   "horizon_s": Node.num, "warmup_s": Node.num, "replications": Node.integer,
                   "seed": Node.integer}
"""The fields of the JSON's ``scenario`` and how each reads."""
ASSUMPTION_TEXTS = ("price_catalog", "discounts", "cost_basis", "unit_cost_basis",
                    "monthly_projection", "utilization_basis", "fleet", "statistics",
                    "percentiles")
"""The assumptions every report prints, as text."""


def json_ready(value: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
