"""Simulate and summarise the streaming, batch and training designs of a scenario.

Each ``run_*`` function turns one validated design into simulator inputs, runs its kernel and
returns a :class:`DesignResult` on the same axes as the real-time designs, so that every report
compares them side by side: the ``latency_ms`` distribution is the record latency (streaming),
the record freshness (batch) or the job's completion time (training), per
:attr:`DesignResult.metric`; costs go through the same discount layers
(:func:`planner.pricing.build_cost`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from costmodels.catalog import PriceCatalog
from costmodels.design_costs import PurchaseProfile, constant_profile, hourly_node_hours
from costmodels.spot_advisor import rate_per_node_hour
from planner import schema
from planner.build import build_arrivals, build_service, describe_arrivals
from planner.inputs import ScenarioInputs
from planner.pricing import PricedQuote, build_cost, quotes_for
from planner.results import DesignResult, SloResult
from planner.stats import Estimate, estimate
from simulators.batch.api import simulate_batch
from simulators.core.fleet import DelayComponent
from simulators.streaming.api import StreamingAutoscaling, simulate_streaming
from simulators.training.api import (
    predicted_waste_fraction,
    simulate_training,
    young_daly_interval_s,
)

NA = Estimate(None, None, None, 0)
_Q = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
DISTRIBUTION_QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98,
                          0.99, 0.995, 0.999)


def _latency(percentiles_s: Callable[[np.ndarray], np.ndarray], mean_s: np.ndarray
             ) -> tuple[dict[str, Estimate], dict[str, list]]:
    q = np.array(list(_Q.values()))
    p = percentiles_s(q) * 1000.0
    out = {"mean": estimate(mean_s * 1000.0)}
    for j, key in enumerate(_Q):
        out[key] = estimate(p[:, j])
    grid = np.array(DISTRIBUTION_QUANTILES)
    with np.errstate(invalid="ignore"):
        values = np.nanmean(percentiles_s(grid), axis=0) * 1000.0
    dist = {"quantiles": list(DISTRIBUTION_QUANTILES),
            "values": [float(v) if np.isfinite(v) else None for v in values]}
    return out, dist


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


def _slo(slo: schema.LatencySLO | None, percentiles_s, attainment: np.ndarray | None
         ) -> SloResult | None:
    if slo is None:
        return None
    achieved = estimate(percentiles_s(np.array([slo.percentile / 100.0]))[:, 0] * 1000.0)
    return SloResult(percentile=slo.percentile, latency_ms=slo.latency_ms, achieved_ms=achieved,
                     attainment=estimate(attainment) if attainment is not None else NA,
                     met=achieved.mean is not None and achieved.mean <= slo.latency_ms)


def _fleet_block(fleet, quote, *, purchase: str, nodes: int, workers_per_node: int,
                 node_hours: dict[str, float], mean_nodes: float, max_nodes: float,
                 summary: str, autoscaling: dict | None = None, **extra) -> dict:
    block = {
        "instance": fleet.instance, "region": quote.region, "purchase": purchase,
        "nodes": nodes, "workers_per_node": workers_per_node,
        "workers": nodes * workers_per_node, "gpus_per_node": quote.gpus,
        "gpu_model": quote.gpu_model, "autoscaling": autoscaling, "spot_interruptions": None,
        "node_hours": node_hours, "node_hours_split": {},
        "node_hours_by_state": {}, "provisioning_hours": 0.0,
        "preemptions": 0.0, "requeued_requests": 0.0, "dropped_requests": 0.0,
        "stranded_requests": 0.0, "launches_without_slot": 0.0,
        "scale_out_actions": 0.0, "scale_in_actions": 0.0,
        "mean_nodes": mean_nodes, "max_nodes": max_nodes, "summary": summary,
    }
    block.update(extra)
    return block


def _spot_rate(design, inputs: ScenarioInputs, hours_per_month: float
               ) -> tuple[float, dict | None]:
    sp = design.fleet.spot
    if sp is None:
        return 0.0, None
    it = sp.interruptions
    if it.kind == "rate":
        return it.per_node_hour, {"kind": "rate", "per_node_hour": it.per_node_hour,
                                  "band": None,
                                  "detail": f"{it.per_node_hour:g} interruptions per node-hour "
                                            "(given)"}
    band = it.band
    detail = f"AWS Spot Advisor band {band} (given)"
    if band is None:
        advice = inputs.spot_advice[design.name]
        band = advice.band
        detail = (f"AWS Spot Advisor band {band} for {advice.instance_type} in {advice.region} "
                  f"(snapshot {advice.as_of})")
    rate = rate_per_node_hour(band, hours_per_month)
    return rate, {"kind": "advisor", "per_node_hour": rate, "band": band, "detail": detail}


def _provisioning(fleet: schema.JobFleet) -> tuple[DelayComponent, ...]:
    return tuple(DelayComponent.from_p95(p.name, p.median_s, p.p95_s) for p in fleet.provisioning)


def _result(design, workload, *, metric, fleet, batching, service, arrivals, latency, dist,
            slo, throughput, arrival_rate, utilization, requests, node_hours, gpu_hours,
            busy_gpu_hours, cost, timeline, warnings, pattern_metrics) -> DesignResult:
    return DesignResult(
        name=design.name, workload=workload.name, pattern=design.pattern, fleet=fleet,
        batching=batching, service_time=service, arrivals=arrivals, latency_ms=latency,
        wait_ms={"mean": NA, "p50": NA, "p99": NA}, throughput_rps=throughput,
        arrival_rate_rps=arrival_rate, utilization=utilization, mean_batch_size=NA,
        mean_queue_length=NA, littles_law_relative_error=None, slo=slo, requests=requests,
        node_hours=node_hours, gpu_hours=gpu_hours, busy_gpu_hours=busy_gpu_hours, cost=cost,
        timeline=timeline, warnings=tuple(warnings), metric=metric,
        pattern_metrics=pattern_metrics, distribution_ms=dist)


def _price_warnings(quotes: dict[str, PricedQuote]) -> list[str]:
    return [f"price n/a: {q.quote.note}" for q in quotes.values()
            if q.quote.usd_per_hour is None and q.quote.note]


# ---------------------------------------------------------------------------------------------
# streaming


def run_streaming(scenario: schema.Scenario, design: schema.StreamingDesign,
                  inputs: ScenarioInputs, catalog: PriceCatalog, progress=None) -> DesignResult:
    """Simulate and price a streaming design."""
    workload = scenario.workload(design.workload)
    f = design.fleet
    quotes = quotes_for(catalog, scenario.pricing, f.instance, f.region, {f.purchase},
                        inputs.billing_rates)
    quote = quotes[f.purchase].quote
    a = f.autoscaling
    auto = None if a is None else StreamingAutoscaling(
        target_utilization=a.target_utilization, min_nodes=a.min_nodes, max_nodes=a.max_nodes,
        interval_s=a.interval_s, provisioning_delay_s=a.provisioning_delay_s)
    service = build_service(design, inputs, gpu_model=quote.gpu_model,
                            gpu_memory_gib=quote.gpu_memory_gib, seed=scenario.seed)
    slo = workload.slo
    sim = simulate_streaming(
        build_arrivals(workload, inputs), service, f.nodes, f.workers_per_node,
        design.window_s, design.batching.max_batch, scenario.horizon_s, scenario.warmup_s,
        scenario.replications, scenario.seed, overhead_s=design.overhead_s, autoscaling=auto,
        slo_latency_s=None if slo is None else slo.latency_ms / 1000.0,
        progress=None if progress is None else (lambda d, t: progress(design.name, d, t)))
    latency, dist = _latency(sim.latency_percentiles_s, sim.mean_latency_s())
    tl = sim.timeline_per_replication()
    hourly = hourly_node_hours(tl["start_s"], tl["width_s"], tl["nodes"], scenario.horizon_s)
    counts = sim.counts()
    measured = float(np.mean(counts["measured"]))
    profile = PurchaseProfile(quote, hourly, float(sim.node_seconds("window").mean()),
                              float(sim.busy_worker_s("window").mean()),
                              quotes[f.purchase].discountable)
    tokens = inputs.token_means.get(workload.name)
    cost = build_cost(profiles=[profile], quotes=quotes, main_purchase=f.purchase,
                      catalog=catalog, pricing=scenario.pricing, instance=f.instance,
                      region=quote.region, horizon_s=scenario.horizon_s,
                      window_s=scenario.horizon_s - scenario.warmup_s, served_window=measured,
                      tokens_per_unit=None if tokens is None else tokens.per_request)
    node_h = float(sim.node_seconds("horizon").mean()) / 3600.0
    scaling = sim.scaling_counts()
    mtl = sim.timeline_mean()
    summary = (f"{f.nodes}x {f.instance} ({f.workers_per_node} worker/node)\n{f.purchase}, "
               + ("fixed" if a is None else f"autoscaled {a.min_nodes}-{a.max_nodes} "
                  f"(utilization {a.target_utilization:g})")
               + f"\nwindow {design.window_s:g} s, batch ≤{design.batching.max_batch}")
    fleet = _fleet_block(
        f, quote, purchase=f.purchase, nodes=f.nodes, workers_per_node=f.workers_per_node,
        node_hours={f.purchase: node_h},
        mean_nodes=float(sim.node_seconds("horizon").mean()) / scenario.horizon_s,
        max_nodes=float(scaling["max_nodes"].max()), summary=summary,
        autoscaling=None if a is None else {"min_nodes": a.min_nodes, "max_nodes": a.max_nodes,
                                            "metric": "utilization",
                                            "target": a.target_utilization},
        scale_out_actions=float(scaling["scale_out"].mean()),
        scale_in_actions=float(scaling["scale_in"].mean()))
    warnings = _price_warnings(quotes)
    lag = sim.lag_at_horizon_s()
    if float(np.mean(lag)) > 2 * design.window_s:
        warnings.append(f"backlog: processing falls behind the windows (lag at the horizon "
                        f"{float(np.mean(lag)):,.0f} s); add workers or larger batches")
    if workload.name in inputs.traces:
        warnings.extend(inputs.traces[workload.name].notes)
    pm = {
        "window_s": design.window_s,
        "mean_processing_s": float(np.nanmean(sim.mean_processing_s())),
        "max_backlog_windows": float(np.mean(sim.max_backlog()["windows"])),
        "mean_backlog_records": float(np.mean(sim.mean_backlog()["records"])),
        "lag_at_horizon_s": float(np.mean(lag)),
    }
    if tokens is not None:
        pm["tokens_per_request"] = tokens.per_request
    return _result(
        design, workload, metric="latency", fleet=fleet,
        batching={"max_batch": design.batching.max_batch, "max_wait_ms": design.window_s * 1e3},
        service=service.description, arrivals=describe_arrivals(workload.arrivals),
        latency=latency, dist=dist, slo=_slo(slo, sim.latency_percentiles_s,
                                              sim.slo_attainment()),
        throughput=estimate(sim.throughput_rps()), arrival_rate=estimate(sim.arrival_rate_rps()),
        utilization=estimate(sim.utilization()),
        requests={"in_window_per_replication": measured,
                  "completed_by_horizon_per_replication": float(np.mean(
                      counts["processed_by_horizon"])),
                  "in_system_at_horizon_per_replication": float(np.mean(
                      counts["in_system_at_horizon"])),
                  "dropped_per_replication": 0.0},
        node_hours=node_h, gpu_hours=None if quote.gpus is None else node_h * quote.gpus,
        busy_gpu_hours=estimate(sim.busy_worker_s("horizon") / 3600.0), cost=cost,
        timeline={"bin_s": sim.timeline_bin_s, "start_s": mtl["start_s"].tolist(),
                  "arrivals_per_s": (mtl["arrivals"] / mtl["width_s"]).tolist(),
                  "nodes": mtl["nodes"].tolist(),
                  "mean_busy_workers": mtl["busy_workers"].tolist(),
                  "backlog_records": mtl["backlog_records"].tolist()},
        warnings=warnings, pattern_metrics=pm)


# ---------------------------------------------------------------------------------------------
# batch


def _job_profile(jobs_start: np.ndarray, jobs_end: np.ndarray, nodes: int, horizon_s: float,
                 node_s: np.ndarray) -> np.ndarray:
    """float64[R, H]: hourly node-hours shaped by the jobs' [start, end) and scaled so each
    replication's total equals its billed node-seconds."""
    n_hours = max(int(math.ceil(horizon_s / 3600.0 - 1e-9)), 1)
    out = np.zeros((jobs_start.shape[0], n_hours))
    edges = np.arange(n_hours + 1) * 3600.0
    for r in range(jobs_start.shape[0]):
        for s, e in zip(jobs_start[r], jobs_end[r]):
            e = min(e, horizon_s)
            if not np.isfinite(s) or e <= s:
                continue
            overlap = np.clip(np.minimum(e, edges[1:]) - np.maximum(s, edges[:-1]), 0, None)
            out[r] += overlap * nodes / 3600.0
        total = out[r].sum()
        out[r] = out[r] * (node_s[r] / 3600.0 / total) if total > 0 else \
            constant_profile(np.array([node_s[r]]), horizon_s)[0]
    return out


def run_batch(scenario: schema.Scenario, design: schema.BatchDesign, inputs: ScenarioInputs,
              catalog: PriceCatalog) -> DesignResult:
    """Simulate and price a scheduled batch design."""
    workload = scenario.workload(design.workload)
    f = design.fleet
    purchases = {f.purchase} | ({"on_demand"} if f.purchase == "spot" else set())
    quotes = quotes_for(catalog, scenario.pricing, f.instance, f.region, purchases,
                        inputs.billing_rates)
    quote = quotes[f.purchase].quote
    rate, spot_info = _spot_rate(design, inputs, scenario.pricing.hours_per_month)
    ck = design.checkpoint
    mtbf_s = 3600.0 / (f.nodes * rate) if rate > 0 else None
    interval = None
    if ck is not None:
        interval = ck.interval_s
        if interval == "young_daly":
            interval = young_daly_interval_s(max(ck.cost_s, 1e-9), mtbf_s) if mtbf_s else None
    provisioning = _provisioning(f)
    service = build_service(design, inputs, gpu_model=quote.gpu_model,
                            gpu_memory_gib=quote.gpu_memory_gib, seed=scenario.seed)
    slo = workload.slo
    sp = f.spot
    sim = simulate_batch(
        build_arrivals(workload, inputs), service, f.nodes, f.workers_per_node,
        design.batching.max_batch, design.schedule.period_s, scenario.horizon_s,
        scenario.warmup_s, scenario.replications, scenario.seed,
        offset_s=design.schedule.offset_s, at_s=design.schedule.at_s,
        provisioning=provisioning if provisioning else 0.0, startup_s=design.startup_s,
        checkpoint_s=interval, checkpoint_cost_s=0.0 if ck is None else ck.cost_s,
        purchase="spot" if f.purchase == "spot" else "on_demand",
        interruptions_per_node_hour=rate,
        replacement_delay_s=None if sp is None else sp.replacement_delay_s,
        fallback_after=None if sp is None else sp.fallback_after_interruptions,
        deadline_s=design.deadline_s,
        slo_freshness_s=None if slo is None else slo.latency_ms / 1000.0)
    latency, dist = _latency(sim.freshness_percentiles_s, sim.mean_freshness_s())
    node_s = sim.node_seconds("horizon")  # [R, 2]: on_demand, spot
    node_w = sim.node_seconds("window").mean(axis=0)
    busy_w = float(sim.busy_worker_s("window").mean())
    starts, ends = sim.job_column("start_s"), sim.job_column("end_s")
    names = ("on_demand", "spot")
    profiles, node_hours = [], {}
    held_w = float(node_w.sum())
    for k, name in enumerate(names):
        purchase = f.purchase if (name == "on_demand" and f.purchase != "spot") else name
        if purchase not in quotes or (node_s[:, k].sum() <= 0 and purchase != f.purchase):
            continue
        share = node_w[k] / held_w if held_w > 0 else 0.0
        profiles.append(PurchaseProfile(
            quotes[purchase].quote, _job_profile(starts, ends, f.nodes, scenario.horizon_s,
                                                 node_s[:, k]),
            float(node_w[k]), busy_w * share, quotes[purchase].discountable))
        node_hours[purchase] = float(node_s[:, k].mean()) / 3600.0
    processed_w = float(np.mean(sim.records_processed("window")))
    cost = build_cost(profiles=profiles, quotes=quotes, main_purchase=f.purchase,
                      catalog=catalog, pricing=scenario.pricing, instance=f.instance,
                      region=quote.region, horizon_s=scenario.horizon_s,
                      window_s=scenario.horizon_s - scenario.warmup_s,
                      served_window=processed_w)
    durations = sim.job_durations_s()
    finite = durations[np.isfinite(durations)]
    total_node_h = float(node_s.sum(axis=1).mean()) / 3600.0
    sched = design.schedule
    when = (f"every {sched.period_s:g} s" if sched.period_s is not None
            else "at " + ", ".join(sched.at))
    summary = (f"{f.nodes}x {f.instance} ({f.workers_per_node} worker/node)\n{f.purchase}, "
               f"cold start per job\njobs {when}, batch ≤{design.batching.max_batch}")
    n_jobs = sim.n_jobs
    interruptions = float(np.mean(sim.interruptions()))
    fleet = _fleet_block(
        f, quote, purchase=f.purchase, nodes=f.nodes, workers_per_node=f.workers_per_node,
        node_hours=node_hours, mean_nodes=total_node_h * 3600.0 / scenario.horizon_s,
        max_nodes=float(f.nodes), summary=summary, preemptions=interruptions,
        spot_interruptions=spot_info)
    pm = {
        "jobs_per_replication": float(n_jobs),
        "mean_job_hours": float(finite.mean()) / 3600.0 if finite.size else None,
        "p95_job_hours": float(np.percentile(finite, 95)) / 3600.0 if finite.size else None,
        "jobs_missing_deadline": float(np.mean(sim.jobs_missing_deadline())),
        "job_overruns": float(np.mean(sim.overruns())),
        "interruptions": interruptions,
        "lost_work_hours": float(np.mean(sim.lost_work_s())) / 3600.0,
        "records_pending_at_horizon": float(np.mean(sim.records_pending("horizon"))),
        "checkpoint_interval_s": interval,
        "throughput_per_job_rps": sim.throughput_rps,
    }
    warnings = _price_warnings(quotes)
    if design.deadline_s is not None and pm["jobs_missing_deadline"] > 0:
        warnings.append(f"{pm['jobs_missing_deadline']:.2f} of {n_jobs} jobs per replication "
                        f"miss the {design.deadline_s / 3600:g} h deadline")
    if pm["job_overruns"] > 0:
        warnings.append(f"{pm['job_overruns']:.2f} jobs per replication start late: the "
                        "previous job was still running")
    if workload.name in inputs.traces:
        warnings.extend(inputs.traces[workload.name].notes)
    period = sched.period_s if sched.period_s is not None else 86400.0 / len(sched.at)
    return _result(
        design, workload, metric="freshness", fleet=fleet,
        batching={"max_batch": design.batching.max_batch, "max_wait_ms": period * 1e3},
        service=service.description, arrivals=describe_arrivals(workload.arrivals),
        latency=latency, dist=dist,
        slo=_slo(slo, sim.freshness_percentiles_s, sim.slo_attainment()),
        throughput=estimate(sim.records_processed("window")
                            / (scenario.horizon_s - scenario.warmup_s)),
        arrival_rate=estimate(sim.records_arrived("window")
                              / (scenario.horizon_s - scenario.warmup_s)),
        utilization=estimate(sim.utilization("window")),
        requests={"in_window_per_replication": float(np.mean(sim.records_arrived("window"))),
                  "completed_by_horizon_per_replication": float(np.mean(
                      sim.records_processed("horizon"))),
                  "in_system_at_horizon_per_replication": pm["records_pending_at_horizon"],
                  "dropped_per_replication": 0.0},
        node_hours=total_node_h,
        gpu_hours=None if quote.gpus is None else total_node_h * quote.gpus,
        busy_gpu_hours=estimate(sim.busy_worker_s("horizon") / 3600.0), cost=cost,
        timeline=_job_timeline(starts, ends, f.nodes, scenario.horizon_s),
        warnings=warnings, pattern_metrics=pm)


def _job_timeline(starts: np.ndarray, ends: np.ndarray, nodes: int, horizon_s: float) -> dict:
    """Mean nodes held per bin (a gang holds its nodes from its job's start to its end)."""
    bin_s = max(60.0, math.ceil(horizon_s / 2000.0 / 60.0) * 60.0)
    n_bins = max(int(math.ceil(horizon_s / bin_s)), 1)
    edges = np.arange(n_bins + 1) * bin_s
    edges[-1] = min(edges[-1], horizon_s)
    held = np.zeros(n_bins)
    for s_, e_ in zip(starts.ravel(), ends.ravel()):
        if not np.isfinite(s_) or s_ >= horizon_s:
            continue
        e_ = min(e_, horizon_s)
        held += np.clip(np.minimum(e_, edges[1:]) - np.maximum(s_, edges[:-1]), 0, None)
    width = np.diff(edges)
    return {"bin_s": bin_s, "start_s": edges[:-1].tolist(),
            "nodes": (held * nodes / starts.shape[0] / width).tolist()}


# ---------------------------------------------------------------------------------------------
# training


TRAINING_REPLICATIONS_MIN = 2000
"""Training runs are cheap to simulate; at least this many replications give the completion
time's tail and the deadline probability with a tight interval."""


def run_training(scenario: schema.Scenario, design: schema.TrainingDesign,
                 inputs: ScenarioInputs, catalog: PriceCatalog) -> DesignResult:
    """Simulate and price a training design (one run per replication)."""
    workload = scenario.workload(design.workload)
    assert isinstance(workload, schema.TrainingWorkload)
    f = design.fleet
    purchases = {f.purchase} | ({"on_demand"} if f.purchase == "spot" else set())
    quotes = quotes_for(catalog, scenario.pricing, f.instance, f.region, purchases,
                        inputs.billing_rates)
    quote = quotes[f.purchase].quote
    gpus = quote.gpus
    warnings = _price_warnings(quotes)
    if gpus is None:
        gpus = 1
        warnings.append(f"GPUs per {f.instance} node unknown: the gang is taken as 1 GPU per "
                        "node")
    rate, spot_info = _spot_rate(design, inputs, scenario.pricing.hours_per_month)
    ck = design.checkpoint
    mtbf_s = 3600.0 / (f.nodes * rate) if rate > 0 else None
    interval = None
    young = None if (ck is None or mtbf_s is None or ck.cost_s <= 0) else \
        young_daly_interval_s(ck.cost_s, mtbf_s)
    if ck is not None:
        interval = young if ck.interval_s == "young_daly" else ck.interval_s
    reserved = f.purchase in schema.COMMITTED
    sp = f.spot
    deadline_s = None if workload.deadline_h is None else workload.deadline_h * 3600.0
    n_rep = max(scenario.replications, TRAINING_REPLICATIONS_MIN)
    sim = simulate_training(
        workload.gpu_hours, f.nodes, gpus,
        "reserved" if reserved else ("spot" if f.purchase == "spot" else "on_demand"),
        n_rep, scenario.seed, interruptions_per_node_hour=rate,
        checkpoint_interval_s=interval, checkpoint_cost_s=0.0 if ck is None else ck.cost_s,
        restart_overhead_s=design.restart_overhead_s,
        provisioning=_provisioning(f) or 0.0,
        replacement_delay_s=0.0 if sp is None else sp.replacement_delay_s,
        fallback_after_interruptions=None if sp is None else sp.fallback_after_interruptions,
        fallback_near_deadline=bool(sp is not None and sp.fallback_near_deadline
                                    and deadline_s is not None),
        fallback_margin_s=0.0 if sp is None else sp.fallback_margin_s,
        deadline_s=deadline_s, reserved_hours=design.reserved_hours)

    done = sim.completion_time_s()[:, 0]
    latency = {"mean": estimate(done * 1000.0)}
    for key, q in _Q.items():
        latency[key] = quantile_estimate(done * 1000.0, q)
    grid = np.array(DISTRIBUTION_QUANTILES)
    dist = {"quantiles": list(DISTRIBUTION_QUANTILES),
            "values": [float(v) * 1000.0 for v in sim.completion_time_percentiles_s(grid)]}
    slo = None
    if workload.slo is not None:
        achieved = quantile_estimate(done * 1000.0, workload.deadline_percentile / 100.0)
        met_runs = sim.deadline_met()[:, 0].astype(float)
        slo = SloResult(percentile=workload.deadline_percentile,
                        latency_ms=workload.slo.latency_ms, achieved_ms=achieved,
                        attainment=estimate(met_runs),
                        met=achieved.mean is not None and achieved.mean <= workload.slo.latency_ms)
    by = sim.node_seconds_by_purchase()  # on_demand, spot, reserved -> [R]
    horizon = float(done.max())
    mean_done = float(done.mean())
    busy = sim.busy_gpu_s()
    allocated = sim.allocated_gpu_s()
    profiles, node_hours = [], {}
    for name, values in by.items():
        if name == "reserved" and not reserved:
            continue
        purchase = f.purchase if name == "reserved" else name
        if purchase not in quotes or (values.sum() <= 0 and purchase != f.purchase):
            continue
        share = float(np.mean(values * gpus / allocated))
        profiles.append(PurchaseProfile(quotes[purchase].quote,
                                        constant_profile(values, horizon),
                                        float(values.mean()), float(busy.mean()) * share,
                                        quotes[purchase].discountable))
        node_hours[purchase] = float(values.mean()) / 3600.0
    cost = build_cost(profiles=profiles, quotes=quotes, main_purchase=f.purchase,
                      catalog=catalog, pricing=scenario.pricing, instance=f.instance,
                      region=quote.region, horizon_s=horizon, window_s=horizon,
                      served_window=1.0, runs=1.0)
    per_run = cost.total_usd
    run_costs = None  # each replication's run cost at the effective rate of each purchase
    if not cost.incomplete:
        rates = {p.purchase: (cost.by_purchase[p.purchase] or 0.0)
                 / max(float(p.hourly_node_hours.sum(axis=1).mean()), 1e-12) for p in profiles}
        run_costs = sum(p.hourly_node_hours.sum(axis=1) * rates[p.purchase] for p in profiles)
    cost = dataclasses.replace(
        cost, usd_per_run=per_run,
        usd_per_run_busy=cost.busy_usd,
        usd_per_month=None if per_run is None else per_run * workload.runs_per_month,
        usd_per_hour=None if per_run is None else per_run / (mean_done / 3600.0),
        usd_per_1k_requests=None, usd_per_1k_requests_busy=None)
    total_node_h = float(sum(v.mean() for v in by.values())) / 3600.0
    interruptions = float(sim.n_interruptions().mean())
    pm = {
        "gpu_hours": workload.gpu_hours,
        "gang_gpus": f.nodes * gpus,
        "ideal_hours": workload.gpu_hours / (f.nodes * gpus),
        "mean_completion_hours": mean_done / 3600.0,
        "deadline_probability": sim.deadline_probability(),
        "interruptions": interruptions,
        "fallback_share": float(sim.fell_back().mean()),
        "lost_compute_hours": float(sim.lost_compute_s().mean()) / 3600.0,
        "checkpoint_hours": float(sim.checkpoint_s().mean()) / 3600.0,
        "waste_fraction": float(np.mean(sim.waste_fraction())),
        "checkpoint_interval_s": interval,
        "young_daly_interval_s": young,
        "gang_mtbf_hours": None if mtbf_s is None else mtbf_s / 3600.0,
        "predicted_waste_fraction": None if (interval is None or mtbf_s is None or ck is None)
        else predicted_waste_fraction(interval, ck.cost_s, mtbf_s,
                                      (0.0 if sp is None else sp.replacement_delay_s)
                                      + design.restart_overhead_s),
        "replications": n_rep,
        "run_cost_p50_usd": None if run_costs is None else float(np.percentile(run_costs, 50)),
        "run_cost_p95_usd": None if run_costs is None else float(np.percentile(run_costs, 95)),
        "run_cost_max_usd": None if run_costs is None else float(np.max(run_costs)),
    }
    if interval is not None and young is not None and not 0.5 <= interval / young <= 2.0:
        warnings.append(f"checkpoint interval {interval:,.0f} s is far from Young/Daly's "
                        f"sqrt(2 x cost x MTBF) = {young:,.0f} s: expect more waste")
    if workload.slo is not None and slo is not None and not slo.met:
        warnings.append(f"the deadline of {workload.deadline_h:g} h is met in "
                        f"{(pm['deadline_probability'] or 0) * 100:.1f}% of runs, below "
                        f"{workload.deadline_percentile:g}%")
    summary = (f"{f.nodes}x {f.instance} ({f.nodes * gpus} GPUs)\n{f.purchase}"
               + ("" if interval is None else f", checkpoint every {interval / 60:,.0f} min"))
    fleet = _fleet_block(f, quote, purchase=f.purchase, nodes=f.nodes, workers_per_node=gpus,
                         node_hours=node_hours, mean_nodes=float(f.nodes),
                         max_nodes=float(f.nodes), summary=summary, preemptions=interruptions,
                         spot_interruptions=spot_info)
    return _result(
        design, workload, metric="completion_time", fleet=fleet,
        batching={"max_batch": None, "max_wait_ms": None},
        service=f"{workload.gpu_hours:g} GPU-hours on {f.nodes * gpus} GPUs",
        arrivals="one run per replication" + (f", {workload.runs_per_month:g} runs per month"),
        latency=latency, dist=dist, slo=slo, throughput=NA, arrival_rate=NA,
        utilization=estimate(sim.utilization()),
        requests={"in_window_per_replication": 1.0, "completed_by_horizon_per_replication": 1.0,
                  "in_system_at_horizon_per_replication": 0.0, "dropped_per_replication": 0.0},
        node_hours=total_node_h, gpu_hours=total_node_h * gpus,
        busy_gpu_hours=estimate(busy / 3600.0), cost=cost, timeline={}, warnings=warnings,
        pattern_metrics=pm)
