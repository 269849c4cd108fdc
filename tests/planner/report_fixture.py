"""A hand-built RunResult for fast report tests: five designs covering the awkward cases.

- ``fast-rt``: meets its SLO, $1,000/month, has $/1M tokens, spot + on-demand, a timeline.
- ``cheap-spot``: cheaper ($500) but misses the SLO; spot with preemptions.
- ``slow-expensive``: meets the SLO but dominated by fast-rt (slower and dearer).
- ``partial``: meets the SLO, cost incomplete (a $300 lower bound), discount layers.
- ``mystery<&>``: unknown price (n/a everywhere), no SLO, freshness metric, no charts data.
"""

from __future__ import annotations

from planner.result_parts import (
    DesignWarning,
    DistributionResult,
    FleetResult,
    RequestBatching,
    RequestCounts,
    TimelineResult,
)
from planner.results import CostResult, DesignResult, RunResult, SloResult
from planner.stats import Estimate

HOSTILE = "<script>alert('x')</script> | *bold* & co"


def est(value: float | None, half: float = 0.1) -> Estimate:
    """Return an estimate of ``value`` ± ``half`` over 3 replications (None = unknown)."""
    if value is None:
        return Estimate(None, None, None, 0)
    return Estimate(value, value - half, value + half, 3)


def cost(month: float | None, **kw) -> CostResult:
    """Return a cost of ``month`` USD per month (730 h) with a 1-hour horizon."""
    known = month is not None
    base = {
        "usd_per_hour": month / 730 if known else None,
        "total_usd": month / 730 if known else None,
        "usd_per_month": month,
        "usd_per_1k_requests": month / 1e5 if known else None,
        "busy_usd": month / 730 / 4 if known else None,
        "usd_per_1k_requests_busy": month / 4e5 if known else None,
        "purchase": "on_demand",
        "price_source": "vantage @0123456789abcdef0123456789abcdef01234567" if known else None,
        "price_as_of": "2026-01-21" if known else None,
        "catalog": "built-in snapshot (2026-07-30)",
        "note": None if known else "unknown instance aws:p9.mega; did you mean aws:p5.48xlarge?",
        "by_purchase": {"on_demand": month / 730} if known else {},
        "sources": (("on_demand", "vantage @0123456789abcdef0123456789abcdef01234567",
                  "2026-01-21"),) if known else (),
    }
    base.update(kw)
    return CostResult(**base)


def design(name: str, *, p99: float | None, slo_ms: float | None, month: float | None,
           metric: str = "latency", util: float | None = 0.5, fleet: dict | None = None,
           timeline: TimelineResult | None = None, distribution: DistributionResult | None = None,
           warnings: tuple[str, ...] = (), **cost_kw) -> DesignResult:
    """Return a design whose percentiles are p99 scaled (p50 = p99 / 3, ...); ``fleet`` holds
    :class:`FleetResult` fields that replace the defaults."""
    lat = {k: est(None if p99 is None else p99 * f)
           for k, f in (("mean", 0.3), ("p50", 1 / 3), ("p90", 0.6), ("p95", 0.8), ("p99", 1.0))}
    slo = None
    if slo_ms is not None:
        met = p99 is not None and p99 <= slo_ms
        slo = SloResult(percentile=99.0, latency_ms=slo_ms, achieved_ms=lat["p99"],
                        attainment=est(0.999 if met else 0.97, 0.001))
    spec = {"instance": "aws:g5.xlarge", "region": "us-east-1", "purchase": "on_demand",
            "nodes": 2, "workers_per_node": 1, "gpus_per_node": 1, "gpu_model": "NVIDIA A10G",
            "autoscaling": None, "spot_interruptions": None, "node_hours": {"on_demand": 2.0},
            "mean_nodes": 2.0, "max_nodes": 2.0, "preemptions": 0.0, "dropped_requests": 0.0,
            "requeued_requests": 0.0}
    spec.update(fleet or {})
    f = FleetResult(**spec)
    return DesignResult(
        name=name, workload="w", pattern="realtime", fleet=f,
        batching=RequestBatching(max_batch=8, max_wait_ms=2.0),
        service_time="linear 3 + 0.5/item ms",
        arrivals="Poisson 200 req/s", latency_ms=lat,
        wait_ms={k: est(None if p99 is None else p99 / 10) for k in ("mean", "p50", "p99")},
        throughput_rps=est(200.0), arrival_rate_rps=est(200.0), utilization=est(util, 0.01),
        mean_batch_size=est(1.5), mean_queue_length=est(0.2), littles_law_relative_error=0.001,
        slo=slo, requests=RequestCounts(in_window_per_replication=700000.0,
                                        completed_by_horizon_per_replication=699999.0,
                                        in_system_at_horizon_per_replication=1.0,
                                        dropped_per_replication=0.0),
        node_hours=sum(f.node_hours.values()), gpu_hours=2.0, busy_gpu_hours=est(1.0),
        cost=cost(month, **cost_kw), timeline=timeline, warnings=warnings, metric=metric,
        distribution_ms=distribution,
    )


def run_result() -> RunResult:
    """Return the five-design run described in the module docstring."""
    timeline = TimelineResult(
        bin_s=60.0, start_s=(0.0, 60.0, 120.0),
        series={"nodes_base": (1.0, 1.0, 1.0), "nodes_spot": (1.0, 2.0, 1.0),
                "nodes_on_demand_fallback": (0.0, 0.0, 1.0), "nodes_ready": (2.0, 3.0, 3.0)})
    dist = DistributionResult(quantiles=(0.5, 0.9, 0.99), values=(10.0, 20.0, 30.0))
    designs = (
        design("fast-rt", p99=30.0, slo_ms=50.0, month=1000.0, timeline=timeline,
               distribution=dist, usd_per_1m_tokens=0.5, usd_per_1m_tokens_busy=0.125,
               fleet={"node_hours": {"on_demand": 1.0, "spot": 1.5}, "preemptions": 1.0}),
        design("cheap-spot", p99=60.0, slo_ms=50.0, month=500.0, distribution=dist,
               fleet={"purchase": "spot", "node_hours": {"spot": 2.0}, "preemptions": 2.0},
               warnings=(DesignWarning("overload", "overloaded at peak"),)),
        design("slow-expensive", p99=45.0, slo_ms=50.0, month=2000.0, util=0.9),
        design("partial", p99=20.0, slo_ms=50.0, month=300.0, incomplete=True,
               layers=(("list", 0.5), ("negotiated -10%", 0.45)),
               discounts=("negotiated 10% on compute",),
               commitment={"kind": "savings_plan", "coverage": 0.5}),
        design("mystery<&>", p99=100.0, slo_ms=None, month=None, metric="freshness", util=None),
    )
    return RunResult(
        scenario={"name": "fixture", "description": HOSTILE, "path": "/somewhere/fixture.yaml",
                  "horizon_s": 3600.0, "warmup_s": 60.0, "replications": 3, "seed": 11},
        designs=designs,
        assumptions={"hours_per_month": 730.0, "price_catalog": "built-in snapshot",
                     "price_catalog_as_of": "2026-07-30",
                     "discounts": "none (list prices of the chosen purchase option)",
                     "cost_basis": "allocated and busy", "unit_cost_basis": "window",
                     "monthly_projection": "horizon scaled to 730 h", "fleet": "as simulated",
                     "utilization_basis": "busy / serving", "percentiles": "nearest-rank",
                     "statistics": "mean of 3 replications"},
        planner_version="9.9.9-test",
        wall_s=12.3456789,
    )
