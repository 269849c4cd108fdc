"""Price a pattern's usage and summarise it into a :class:`DesignResult`, the same for all.

Statistics over replications use a Student-t 95 % interval (:func:`planner.stats.estimate`);
per-run distributions (one i.i.d. run per replication) use the order statistics of the runs
(:func:`quantile_estimate`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from costmodels.design_costs import PurchaseProfile
from planner.patterns.base import DesignContext, PatternRun, SloTarget, SteadyStateCost
from planner.patterns.commitment_term import price_term, term_warnings
from planner.pricing import PricedQuote, build_cost
from planner.result_parts import (
    DesignWarning,
    DistributionResult,
    RequestCounts,
    ScheduleBatching,
)
from planner.results import SLO_INCONCLUSIVE, CostResult, DesignResult, SloResult
from planner.stats import Estimate, estimate
from simulators.core.histogram import MAX_EXP
from simulators.core.usage import Distribution, Usage

NA = Estimate(None, None, None, 0)
QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
DISTRIBUTION_QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98,
                          0.99, 0.995, 0.999)
"""Quantiles of each design's ``distribution_ms`` (for charts)."""


def quantile_estimate(samples: np.ndarray, q: float) -> Estimate:
    """Return the nearest-rank ``q`` quantile of i.i.d. ``samples`` with a distribution-free 95 %
    interval from the order statistics (binomial normal approximation)."""
    x = np.sort(np.asarray(samples, dtype=np.float64)[np.isfinite(samples)])
    n = x.size
    if n == 0:
        return NA
    k = min(max(int(math.ceil(q * n)) - 1, 0), n - 1)
    half = 1.959964 * math.sqrt(n * q * (1 - q))
    lo = min(max(int(math.floor(q * n - half)) - 1, 0), n - 1)
    hi = min(max(int(math.ceil(q * n + half)) - 1, 0), n - 1)
    return Estimate(float(x[k]), float(x[lo]), float(x[hi]), n)


def summarise_distribution(dist: Distribution) -> tuple[dict[str, Estimate], DistributionResult]:
    """Return the mean and percentile estimates (ms) of ``dist`` and its chart quantiles."""
    grid = np.array(DISTRIBUTION_QUANTILES)
    out = {"mean": estimate(dist.mean_s * 1000.0)}
    if dist.per_run:
        runs_ms = dist.runs_s * 1000.0
        for key, q in QUANTILES.items():
            out[key] = quantile_estimate(runs_ms, q)
        pooled = np.quantile(dist.runs_s.ravel(), grid, method="inverted_cdf")
        values = tuple(float(v) * 1000.0 for v in pooled)
        return out, DistributionResult(DISTRIBUTION_QUANTILES, values)
    p = dist.percentiles_s(np.array(list(QUANTILES.values()))) * 1000.0
    for j, key in enumerate(QUANTILES):
        out[key] = estimate(p[:, j])
    with np.errstate(invalid="ignore"):
        means = np.nanmean(dist.percentiles_s(grid), axis=0) * 1000.0
    return out, DistributionResult(DISTRIBUTION_QUANTILES,
                                   tuple(float(v) if np.isfinite(v) else None for v in means))


def saturated_figures(name: str, dist: Distribution | None,
                      slo: SloTarget | None = None) -> tuple[str, ...]:
    """Return the figures of ``dist`` (``<name>.p50`` ... and ``slo.achieved_ms`` for the SLO's
    percentile) that lie in the histogram's overflow bucket in some replication."""
    if dist is None:
        return ()
    keys = [f"{name}.{key}" for key in QUANTILES]
    quantiles = list(QUANTILES.values())
    if slo is not None:
        keys.append("slo.achieved_ms")
        quantiles.append(slo.percentile / 100.0)
    hit = dist.saturated(np.array(quantiles)).any(axis=0)
    return tuple(key for key, flag in zip(keys, hit, strict=True) if flag)


def saturation_warning(saturated: tuple[str, ...]) -> DesignWarning:
    """Say which figures are lower bounds at the histogram's ceiling, for people."""
    ceiling_ms = 2.0**MAX_EXP * 1000.0
    return DesignWarning(
        "histogram_saturated", f"{', '.join(saturated)} reached the latency histogram's last "
        f"bucket (2^{MAX_EXP} s, 194 days) in some replication: each is reported as "
        f"{ceiling_ms:,.0f} ms but the true value is larger (> {ceiling_ms:,.0f} ms); the "
        "service times, waits or load are far beyond what the fleet can serve")


def slo_result(dist: Distribution, target: SloTarget | None, metric: str = "latency"
               ) -> SloResult | None:
    """Return how ``dist`` did against ``target`` (None without an SLO); ``metric`` names what
    ``dist`` measures."""
    if target is None:
        return None
    q = target.percentile / 100.0
    if dist.per_run:
        achieved = quantile_estimate(dist.runs_s * 1000.0, q)
    else:
        achieved = estimate(dist.percentiles_s(np.array([q]))[:, 0] * 1000.0)
    attainment = NA if dist.slo_attainment is None else estimate(dist.slo_attainment)
    return SloResult(percentile=target.percentile, latency_ms=target.latency_ms,
                     achieved_ms=achieved, attainment=attainment, metric=metric)


def price_run(context: DesignContext, run: PatternRun,
              quotes: Mapping[str, PricedQuote]) -> CostResult:
    """Price the run's usage through every discount layer (:func:`planner.pricing.build_cost`).

    Per-run patterns are priced over their longest run and expressed per run: $/month =
    $/run x runs per month, $/hour over the mean run.
    """
    usage, fleet = run.usage, context.design.fleet
    main = quotes[fleet.purchase].quote
    profiles = [PurchaseProfile(quotes[p.purchase].quote, p.hourly_node_hours, p.node_s_window,
                                p.busy_gpu_s_window, quotes[p.purchase].discountable)
                for p in usage.purchases]
    served = float(np.mean(usage.work.completed_window))
    cost = build_cost(profiles=profiles, quotes=dict(quotes), main_purchase=fleet.purchase,
                      catalog=context.catalog, pricing=context.scenario.pricing,
                      instance=fleet.instance, region=main.region, horizon_s=usage.horizon_s,
                      window_s=usage.window_s, served_window=served,
                      tokens_per_unit=run.tokens_per_unit, token_split=run.token_split,
                      runs=None if run.per_run is None else 1.0)
    if run.steady_state is not None:
        return price_term(context, run, _steady_state_cost(context, cost, run.steady_state))
    if run.per_run is None:
        return price_term(context, run, cost)
    per_run = cost.total_usd
    mean_run_h = float(usage.distribution.mean_s.mean()) / 3600.0
    return price_term(context, run, dataclasses.replace(
        cost, usd_per_run=per_run, usd_per_run_busy=cost.busy_usd,
        usd_per_month=None if per_run is None else per_run * run.per_run.runs_per_month,
        usd_per_month_ci95=_scaled_ci(cost.usd_per_month_ci95, cost.usd_per_month,
                                      per_run, run.per_run.runs_per_month),
        usd_per_hour=None if per_run is None else per_run / mean_run_h,
        usd_per_1k_requests=None, usd_per_1k_requests_busy=None))


def _steady_state_cost(context: DesignContext, cost: CostResult, steady: SteadyStateCost
                       ) -> CostResult:
    """Re-express the monthly cost per whole period (:class:`SteadyStateCost`)."""
    if cost.total_usd is None or steady.periods_in_horizon <= 0:
        return cost
    per_month = cost.total_usd / steady.periods_in_horizon * steady.periods_per_month
    return dataclasses.replace(
        cost, usd_per_month=per_month, usd_per_hour=per_month / context.hours_per_month,
        usd_per_month_ci95=_scaled_ci(cost.usd_per_month_ci95, cost.usd_per_month,
                                      cost.total_usd,
                                      steady.periods_per_month / steady.periods_in_horizon))


def _scaled_ci(ci: tuple[float, float] | None, monthly: float | None, total: float | None,
               units_per_month: float) -> tuple[float, float] | None:
    """Re-scale a monthly interval computed from the horizon's cost to ``total x
    units_per_month`` (the same per-replication values, another factor)."""
    if ci is None or not monthly or total is None:
        return None
    factor = total * units_per_month / monthly
    return (ci[0] * factor, ci[1] * factor)


def run_cost_metrics(run: PatternRun, cost: CostResult) -> dict[str, float | None]:
    """Return the distribution of one run's cost (p50, p95, max) at each option's effective rate."""
    names = ("run_cost_p50_usd", "run_cost_p95_usd", "run_cost_max_usd")
    if cost.incomplete:
        return dict.fromkeys(names)
    purchases = run.usage.purchases
    rates = {p.purchase: (cost.by_purchase[p.purchase] or 0.0)
             / max(float(p.hourly_node_hours.sum(axis=1).mean()), 1e-12) for p in purchases}
    run_costs = sum(p.hourly_node_hours.sum(axis=1) * rates[p.purchase] for p in purchases)
    return dict(zip(names, (float(np.percentile(run_costs, 50)),
                            float(np.percentile(run_costs, 95)), float(np.max(run_costs)))))


PENDING_LIMIT = 0.01
"""Unfinished work at the horizon above this share of the arrivals is flagged."""


def _generic_warnings(run: PatternRun, slos: list[SloResult]) -> list[DesignWarning]:
    """Flags every pattern shares: inconclusive SLO bounds; work left in the system at the
    horizon (queues, not a batch's next period, which the batch pattern judges itself)."""
    out = []
    for s in slos:
        if s.verdict != SLO_INCONCLUSIVE:
            continue
        a = s.achieved_ms
        settle = s.replications_to_settle()
        scale, unit = (1.0, "ms") if s.latency_ms < 10_000 else (1000.0, "s")
        out.append(DesignWarning(
            "slo_inconclusive", f"SLO {s.metric} p{s.percentile:g} <= "
            f"{s.latency_ms / scale:,.6g} {unit} is inconclusive: {a.mean / scale:,.2f} {unit} "
            f"with a 95% interval of {a.low / scale:,.2f} to {a.high / scale:,.2f} {unit} over "
            f"{a.n} replications straddles the bound"
            + ("" if settle is None else f"; about {settle:,} replications would settle it")))
    codes = {w.code for w in run.warnings}
    w = run.usage.work
    pending = float(np.mean(w.in_system_at_horizon))
    arrived = float(np.mean(w.completed_by_horizon)) + pending + float(np.mean(w.dropped))
    judged_here = run.per_run is None and not isinstance(run.batching, ScheduleBatching)
    if judged_here and "overload" not in codes and pending > PENDING_LIMIT * arrived > 0:
        out.append(DesignWarning(
            "work_pending", f"{pending:,.0f} of {arrived:,.0f} units of work per replication "
            f"({pending / arrived:.1%}) are unfinished at the horizon: the cost covers only "
            "what ran; lengthen the horizon or add capacity"))
    return out


def _clock(hour: float) -> str:
    minutes = int(round(hour * 60.0)) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def partial_day_warning(context: DesignContext, run: PatternRun) -> DesignWarning | None:
    """Flag a daily traffic curve simulated over a horizon that is not a whole number of days:
    the monthly cost and the unit costs then extrapolate the hours simulated (the trough, from
    ``start_hour`` 0) to the whole month. The message gives the simulated hours' share of the
    day's mean traffic (the rate integrated over the horizon, against the daily mean)."""
    arrivals = getattr(context.workload, "arrivals", None)
    horizon = context.scenario.horizon_s
    if run.per_run is not None or getattr(arrivals, "kind", None) != "diurnal":
        return None
    days = horizon / 86400.0
    if abs(days - round(days)) < 1e-9 and days >= 1:
        return None
    midpoints = (np.arange(4096) + 0.5) * (horizon / 4096)
    share = float(np.mean(arrivals.rate_rps_at(midpoints))) / arrivals.mean_rate_rps
    start = arrivals.start_hour
    end = (start + horizon / 3600.0) % 24.0
    fixed = (getattr(context.design.fleet, "autoscaling", None) is None
             and context.design.pattern != "batch")
    what = ("the fleet is fixed, so its monthly cost holds, but the unit costs and latencies "
            "are those of these hours" if fixed else
            "the monthly cost and the unit costs extrapolate these hours")
    return DesignWarning(
        "partial_day", f"daily traffic simulated for {horizon / 3600:g} h (clock "
        f"{_clock(start)} to {_clock(end)}, arrivals.start_hour {start:g}), which carries "
        f"{share:.2f}x the day's mean traffic: {what} to the month; simulate whole days "
        "(horizon_s a multiple of 86,400) for monthly figures")


def summarise(context: DesignContext, run: PatternRun, cost: CostResult) -> DesignResult:
    """Return the design's results: statistics of its usage, its cost and its details."""
    usage: Usage = run.usage
    latency, dist = summarise_distribution(usage.distribution)
    queue = usage.queue
    if queue is None:
        wait = {"mean": NA, "p50": NA, "p99": NA}
        batch_size = queue_length = NA
        little = None
    else:
        wait_all, _ = summarise_distribution(queue.wait)
        wait = {k: wait_all[k] for k in ("mean", "p50", "p90", "p95", "p99")}
        batch_size = estimate(queue.mean_batch_size)
        queue_length = estimate(queue.mean_queue_length)
        little = queue.littles_law_relative_error
    metrics = dict(run.pattern_metrics)
    if run.per_run is not None:
        metrics.update(run_cost_metrics(run, cost))
    gpus = run.fleet.gpus_per_node
    node_hours = usage.node_hours
    w = usage.work
    slos = [s for s in [slo_result(usage.distribution, run.slo)] if s is not None]
    slos += [slo_result(d, target, name) for name, d, target in run.extra_slos]
    warnings = list(run.warnings) + _generic_warnings(run, slos)
    saturated = saturated_figures("latency_ms", usage.distribution, run.slo)
    saturated += tuple(f for f in saturated_figures("wait_ms", getattr(queue, "wait", None))
                       if f.rsplit(".", 1)[-1] in wait)
    if saturated:
        warnings.append(saturation_warning(saturated))
    warnings += term_warnings(context, cost)
    partial = partial_day_warning(context, run)
    if partial is not None:
        warnings.append(partial)
    return DesignResult(
        name=context.design.name, workload=context.workload.name,
        pattern=context.design.pattern, metric=usage.metric, fleet=run.fleet,
        batching=run.batching, service_time=run.service_time, arrivals=run.arrivals,
        latency_ms=latency, wait_ms=wait,
        throughput_rps=NA if usage.throughput_rps is None else estimate(usage.throughput_rps),
        arrival_rate_rps=NA if usage.arrival_rate_rps is None
        else estimate(usage.arrival_rate_rps),
        utilization=estimate(usage.utilization), mean_batch_size=batch_size,
        mean_queue_length=queue_length, littles_law_relative_error=little,
        slo=slos[0] if slos else None, more_slos=tuple(slos[1:]), llm=run.llm,
        unjudged_slo=run.unjudged_slo,
        requests=RequestCounts(
            in_window_per_replication=float(np.mean(w.arrived_window)),
            completed_by_horizon_per_replication=float(np.mean(w.completed_by_horizon)),
            in_system_at_horizon_per_replication=float(np.mean(w.in_system_at_horizon)),
            dropped_per_replication=float(np.mean(w.dropped))),
        node_hours=node_hours, gpu_hours=None if gpus is None else node_hours * gpus,
        busy_gpu_hours=estimate(usage.busy_gpu_s_horizon / 3600.0), cost=cost,
        timeline=run.timeline, warnings=tuple(warnings), pattern_metrics=metrics,
        distribution_ms=dist, saturated=saturated)
