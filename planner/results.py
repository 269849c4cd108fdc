"""The one results object of a run: immutable, serialisable, read by every report and the CLI.

``RunResult.to_dict()`` is the CLI's ``--format json`` output; tables and later reports render
from the same object, so what a CI check reads is what a person sees.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from planner.stats import Estimate

SCHEMA_VERSION = 1
LATENCY_KEYS = ("mean", "p50", "p90", "p95", "p99")
WAIT_KEYS = ("mean", "p50", "p99")


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

    @property
    def known(self) -> bool:
        """Return whether the price is known."""
        return self.usd_per_hour is not None


@dataclass(frozen=True)
class SloResult:
    """A latency SLO and how the design did against it."""

    percentile: float
    latency_ms: float
    achieved_ms: Estimate
    attainment: Estimate
    met: bool


@dataclass(frozen=True)
class DesignResult:
    """Metrics of one design, summarised over its replications."""

    name: str
    workload: str
    pattern: str
    fleet: dict[str, Any]
    batching: dict[str, Any]
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
    requests: dict[str, float]
    node_hours: float
    gpu_hours: float | None
    busy_gpu_hours: Estimate
    cost: CostResult
    timeline: dict[str, list[float]] = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def meets_slo(self) -> bool | None:
        """Return whether the design meets its SLO (None when the workload has none)."""
        return None if self.slo is None else self.slo.met

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of this design's results."""
        cost = self.cost
        return {
            "name": self.name,
            "workload": self.workload,
            "pattern": self.pattern,
            "fleet": self.fleet,
            "batching": self.batching,
            "service_time": self.service_time,
            "arrivals": self.arrivals,
            "latency_ms": {k: self.latency_ms[k].mean for k in LATENCY_KEYS},
            "latency_ms_ci95": {k: [self.latency_ms[k].low, self.latency_ms[k].high]
                                for k in LATENCY_KEYS},
            "wait_ms": {k: self.wait_ms[k].mean for k in WAIT_KEYS},
            "wait_ms_ci95": {k: [self.wait_ms[k].low, self.wait_ms[k].high] for k in WAIT_KEYS},
            "throughput_rps": self.throughput_rps.mean,
            "arrival_rate_rps": self.arrival_rate_rps.mean,
            "utilization": self.utilization.mean,
            "utilization_ci95": [self.utilization.low, self.utilization.high],
            "slo_attainment": None if self.slo is None else self.slo.attainment.mean,
            "slo": None if self.slo is None else {
                "percentile": self.slo.percentile,
                "latency_ms": self.slo.latency_ms,
                "achieved_ms": self.slo.achieved_ms.mean,
                "achieved_ms_ci95": [self.slo.achieved_ms.low, self.slo.achieved_ms.high],
                "met": self.slo.met,
            },
            "mean_batch_size": self.mean_batch_size.mean,
            "mean_queue_length": self.mean_queue_length.mean,
            "littles_law_relative_error": self.littles_law_relative_error,
            "requests": self.requests,
            "node_hours": self.node_hours,
            "gpu_hours": self.gpu_hours,
            "busy_gpu_hours": self.busy_gpu_hours.mean,
            "cost": {
                "total_usd": cost.total_usd,
                "usd_per_month": cost.usd_per_month,
                "usd_per_hour": cost.usd_per_hour,
                "usd_per_1k_requests": cost.usd_per_1k_requests,
                "busy_usd": cost.busy_usd,
                "usd_per_1k_requests_busy": cost.usd_per_1k_requests_busy,
                "purchase": cost.purchase,
                "price_source": cost.price_source,
                "price_as_of": cost.price_as_of,
                "catalog": cost.catalog,
                "note": cost.note,
                "usd_by_purchase": cost.by_purchase,
                "price_sources": [{"purchase": p, "source": src, "as_of": d}
                                  for p, src, d in cost.sources],
            },
            "timeline": self.timeline,
            "warnings": list(self.warnings),
        }


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

        Designs without an SLO count as meeting it; designs with an unknown price are skipped
        (an unknown price is not cheap).
        """
        ok = [d for d in self.designs
              if d.meets_slo is not False and d.cost.usd_per_month is not None]
        if not ok:
            return None
        return min(ok, key=lambda d: (d.cost.usd_per_month, d.name))

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
            },
            "wall_s": self.wall_s,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON (NaN and inf become null)."""
        return json.dumps(_finite(self.to_dict()), indent=indent, sort_keys=False)


def _finite(value: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
