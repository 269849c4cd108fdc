"""Orchestration: a validated scenario in, one :class:`RunResult` out.

This is the only place that knows both the scenario schema and the simulator/cost APIs: it loads
the files a scenario points to, turns each design into plain simulator inputs, runs the kernel,
prices the simulated usage and summarises everything with confidence intervals.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from importlib import metadata

import numpy as np

from costmodels.catalog import InstanceQuote, PriceCatalog
from costmodels.design_costs import PurchaseProfile, hourly_node_hours
from costmodels.price_cache import default_catalog
from planner import run_patterns, schema
from planner.build import (
    SpotSource,
    build_arrivals,
    build_fleet,
    build_service,
    describe_arrivals,
)
from domain.errors import ScenarioError
from planner.inputs import ScenarioInputs, load_scenario_inputs
from planner.pricing import PricedQuote, build_cost, describe_discounts, quotes_for
from planner.results import LATENCY_KEYS, DesignResult, RunResult, SloResult
from planner.stats import estimate
from simulators.core.fleet import CLASS_BASE, CLASS_FALLBACK, CLASS_SPOT, STATE_NAMES
from simulators.realtime import _layout as rk
from simulators.realtime.api import RealtimeSimResult, simulate_realtime

ProgressCallback = Callable[[str, int, int], None]
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
DISTRIBUTION_QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98,
                          0.99, 0.995, 0.999)
"""Quantiles of each design's ``distribution_ms`` (for charts)."""


def planner_version() -> str:
    """Return the installed package version (``0+unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("gpu-planner")
    except metadata.PackageNotFoundError:  # pragma: no cover - only outside an install
        return "0+unknown"


def run_scenario(
    scenario: schema.Scenario,
    *,
    catalog: PriceCatalog | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Simulate and price every design of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`planner.schema.load_scenario`).
    catalog : PriceCatalog, optional
        Prices to use; by default the newest local price cache merged with the built-in
        snapshot, else the snapshot (:func:`costmodels.price_cache.default_catalog`).
    progress : callable, optional
        ``progress(design_name, replications_done, replications_total)``.

    Returns
    -------
    RunResult
    """
    started = time.perf_counter()
    catalog = catalog if catalog is not None else default_catalog()
    inputs = load_scenario_inputs(scenario)
    hours_per_month = scenario.pricing.hours_per_month
    results = []
    for index, design in enumerate(scenario.designs):
        if design.pattern != "realtime":
            results.append(_run_other(scenario, design, inputs, catalog, progress))
            continue
        workload = scenario.workload(design.workload)
        quotes = _quotes(catalog, scenario.pricing, design, inputs)
        _check_fleet(design, quotes[design.fleet.purchase].quote, index)
        fleet, spot_source = build_fleet(design, workload, inputs,
                                         hours_per_month=hours_per_month)
        callback = None if progress is None else functools.partial(progress, design.name)
        main_quote = quotes[design.fleet.purchase].quote
        service = build_service(design, inputs, gpu_model=main_quote.gpu_model,
                                gpu_memory_gib=main_quote.gpu_memory_gib, seed=scenario.seed)
        sim = simulate_realtime(
            arrivals=build_arrivals(workload, inputs),
            service=service,
            fleet=fleet,
            max_batch=design.batching.max_batch,
            max_wait_s=design.batching.max_wait_ms / 1000.0,
            horizon_s=scenario.horizon_s,
            warmup_s=scenario.warmup_s,
            n_replications=scenario.replications,
            seed=scenario.seed,
            slo_latency_s=None if workload.slo is None else workload.slo.latency_ms / 1000.0,
            progress=callback,
        )
        results.append(_summarise(scenario, design, workload, inputs, sim, quotes, catalog,
                                  hours_per_month, spot_source, service))
    return RunResult(
        scenario={
            "name": scenario.name,
            "description": scenario.description,
            "path": scenario.source_path,
            "horizon_s": scenario.horizon_s,
            "warmup_s": scenario.warmup_s,
            "replications": scenario.replications,
            "seed": scenario.seed,
        },
        designs=tuple(results),
        assumptions={
            "hours_per_month": hours_per_month,
            "price_catalog": catalog.label,
            "price_catalog_as_of": catalog.as_of,
            "discounts": describe_discounts(scenario.pricing, inputs.billing_rates),
            "cost_basis": "allocated: every node-hour of the fleet is paid for; busy: only the "
                          "GPU-seconds spent serving batches, at the node price / GPUs per node",
            "unit_cost_basis": "$ per 1,000 requests = cost of the nodes during the window after "
                               "warm-up / requests completed in it",
            "monthly_projection": "cost of the simulated horizon scaled to hours_per_month",
            "utilization_basis": "busy worker-seconds / serving worker-seconds (nodes ready, "
                                 "under notice or draining); one worker per GPU",
            "fleet": "provisioning nodes are paid; a spot node under notice runs beside its "
                     "replacement until it dies; its batch in service is lost and re-queued",
            "statistics": f"mean of {scenario.replications} replications with a Student-t 95% "
                          "confidence interval; requests arriving in the warm-up excluded",
            "percentiles": "nearest-rank, from log-bucket histograms (relative error <= 0.78%)",
            **_pattern_assumptions(scenario),
        },
        planner_version=planner_version(),
        wall_s=time.perf_counter() - started,
    )


PATTERN_ASSUMPTIONS = {
    "streaming": "streaming: a record's latency runs from its arrival to the end of the "
                 "processing of its window; windows are processed one at a time, in order",
    "batch": "batch: freshness runs from a record's arrival to the end of the job that "
             "processed it; each job cold-starts its nodes (paid) and shuts them down; on spot "
             "an interruption loses the work since the last checkpoint",
    "training": "training: one run per replication (at least 2,000 replications), completion "
                "time from submission; $/month = $/run x runs_per_month; the scenario horizon "
                "does not apply",
}


def _pattern_assumptions(scenario: schema.Scenario) -> dict[str, str]:
    present = {d.pattern for d in scenario.designs}
    return {f"pattern_{p}": text for p, text in PATTERN_ASSUMPTIONS.items() if p in present}


def _run_other(scenario: schema.Scenario, design, inputs: ScenarioInputs,
               catalog: PriceCatalog, progress: ProgressCallback | None) -> DesignResult:
    """Run a streaming, batch or training design (:mod:`planner.run_patterns`)."""
    if design.pattern == "streaming":
        return run_patterns.run_streaming(scenario, design, inputs, catalog, progress)
    if progress is not None:
        progress(design.name, 0, 1)
    if design.pattern == "batch":
        out = run_patterns.run_batch(scenario, design, inputs, catalog)
    else:
        out = run_patterns.run_training(scenario, design, inputs, catalog)
    if progress is not None:
        progress(design.name, 1, 1)
    return out


def _check_fleet(design: schema.RealtimeDesign, quote: InstanceQuote, index: int) -> None:
    gpus = quote.gpus
    if gpus is not None and design.fleet.workers_per_node > gpus:
        raise ScenarioError(
            f"designs[{index}].fleet.workers_per_node: {design.fleet.instance} has {gpus} "
            f"GPU(s) per node (got workers_per_node {design.fleet.workers_per_node}); use at most "
            f"{gpus} (one worker per GPU) or pick a larger instance"
        )


def _quotes(catalog: PriceCatalog, pricing: schema.Pricing, design: schema.RealtimeDesign,
            inputs: ScenarioInputs) -> dict[str, PricedQuote]:
    """Return the quotes of every purchase option the design's nodes can have."""
    f = design.fleet
    options = {f.purchase}
    if f.purchase == "spot":
        options.add("on_demand")  # the on-demand base and fallback nodes
    return quotes_for(catalog, pricing, f.instance, f.region, options, inputs.billing_rates)


def _class_purchase(design: schema.RealtimeDesign) -> dict[int, str]:
    """Map kernel node classes to purchase options."""
    base = design.fleet.purchase if design.fleet.purchase != "spot" else "on_demand"
    return {CLASS_BASE: base, CLASS_SPOT: "spot", CLASS_FALLBACK: "on_demand"}


def _fleet_usage(design: schema.RealtimeDesign, sim: RealtimeSimResult,
                 quotes: dict[str, PricedQuote]) -> tuple[dict, list[PurchaseProfile]]:
    """Return the JSON ``fleet`` usage block and the usage to price, per purchase option."""
    node_h = sim.node_seconds("horizon").mean(axis=0)  # [class, state]
    node_w = sim.node_seconds("window").mean(axis=0)
    busy_w = sim.busy_worker_s_by_class("window").mean(axis=0)
    purchase_of = _class_purchase(design)
    by_purchase: dict[str, list[float]] = {}
    for cls, purchase in purchase_of.items():
        acc = by_purchase.setdefault(purchase, [0.0, 0.0, 0.0])
        acc[0] += float(node_h[cls].sum())
        acc[1] += float(node_w[cls].sum())
        acc[2] += float(busy_w[cls])
    tl = sim.timeline_per_replication()
    class_names = {cls: name for cls, name in zip(purchase_of, ("base", "spot",
                                                                "on_demand_fallback"))}
    hourly: dict[str, np.ndarray] = {}
    for cls, purchase in purchase_of.items():
        series = hourly_node_hours(tl["start_s"], tl["width_s"], tl[f"nodes_{class_names[cls]}"],
                                   sim.horizon_s)
        hourly[purchase] = hourly.get(purchase, 0.0) + series
    usages = [PurchaseProfile(quotes[p].quote, hourly[p], vals[1], vals[2],
                              quotes[p].discountable)
              for p, vals in by_purchase.items() if p in quotes]
    horizon_s = sim.horizon_s
    stat = sim.stats.mean(axis=0)
    state_hours = node_h.sum(axis=0) / 3600.0
    busy_node_h = float(busy_w.sum()) / design.fleet.workers_per_node / 3600.0
    serving_h = float(node_w[:, 1:].sum()) / 3600.0
    busy_h_cls = sim.busy_worker_s_by_class("horizon").mean(axis=0) / \
        design.fleet.workers_per_node / 3600.0
    detail: dict[str, dict[str, float]] = {}
    for cls, purchase in purchase_of.items():
        hours = node_h[cls] / 3600.0
        if hours.sum() <= 0 and purchase != design.fleet.purchase:
            continue
        d = detail.setdefault(purchase, {"provisioning": 0.0, "busy": 0.0, "idle": 0.0})
        d["provisioning"] += float(hours[0])
        d["busy"] += float(busy_h_cls[cls])
        d["idle"] += max(float(hours[1:].sum() - busy_h_cls[cls]), 0.0)
    usage = {
        "node_hours": {p: v[0] / 3600.0 for p, v in by_purchase.items() if v[0] > 0
                       or p == design.fleet.purchase},
        "node_hours_split": detail,
        "node_hours_by_state": {name: float(state_hours[k])
                                for k, name in enumerate(STATE_NAMES)},
        "provisioning_hours": float(state_hours[0]),
        "busy_node_hours_window": busy_node_h,
        "idle_node_hours_window": max(serving_h - busy_node_h, 0.0),
        "preemptions": float(stat[rk.S_N_PREEMPTIONS]),
        "preemption_events": float(stat[rk.S_N_PREEMPTION_EVENTS]),
        "requeued_requests": float(stat[rk.S_N_REQUEUED]),
        "dropped_requests": float(stat[rk.S_N_DROPPED]),
        "stranded_requests": float(stat[rk.S_N_STRANDED]),
        "launches": {"base": float(stat[rk.S_N_LAUNCH_BASE]),
                     "spot": float(stat[rk.S_N_LAUNCH_SPOT]),
                     "on_demand_fallback": float(stat[rk.S_N_LAUNCH_FALLBACK])},
        "launches_without_slot": float(stat[rk.S_N_LAUNCH_NO_SLOT]),
        "scale_out_actions": float(stat[rk.S_N_SCALE_OUT]),
        "scale_in_actions": float(stat[rk.S_N_SCALE_IN]),
        "mean_nodes": float(node_h.sum()) / horizon_s,
        "max_nodes": float(sim.stats[:, rk.S_MAX_NODES].max()),
        "gpu_busy_hours_window": float(busy_w.sum()) / 3600.0,
        "per_replication_means": True,
    }
    return usage, usages


def _summarise(
    scenario: schema.Scenario,
    design: schema.RealtimeDesign,
    workload: schema.InferenceWorkload,
    inputs: ScenarioInputs,
    sim: RealtimeSimResult,
    quotes: dict[str, PricedQuote],
    catalog: PriceCatalog,
    hours_per_month: float,
    spot_source: SpotSource | None,
    service,
) -> DesignResult:
    q = np.array(list(_QUANTILES.values()))
    lat_p = sim.latency_percentiles_s(q) * 1000.0
    wait_p = sim.wait_percentiles_s(q) * 1000.0
    latency = {"mean": estimate(sim.mean_latency_s() * 1000.0)}
    wait = {"mean": estimate(sim.mean_wait_s() * 1000.0)}
    for j, key in enumerate(_QUANTILES):
        latency[key] = estimate(lat_p[:, j])
        wait[key] = estimate(wait_p[:, j])
    assert set(latency) == set(LATENCY_KEYS)

    slo = None
    if workload.slo is not None:
        achieved = estimate(sim.latency_percentiles_s(
            np.array([workload.slo.percentile / 100.0]))[:, 0] * 1000.0)
        attainment = estimate(sim.slo_attainment())
        slo = SloResult(
            percentile=workload.slo.percentile,
            latency_ms=workload.slo.latency_ms,
            achieved_ms=achieved,
            attainment=attainment,
            met=achieved.mean is not None and achieved.mean <= workload.slo.latency_ms,
        )

    quote = quotes[design.fleet.purchase].quote
    throughput = estimate(sim.throughput_rps())
    arrival_rate = estimate(sim.arrival_rate_rps())
    utilization = estimate(sim.utilization())
    busy_s = sim.busy_worker_s()
    window_s = sim.window_s
    mean_queue = sim.mean_queue_length()
    lam_w = sim.arrival_rate_rps() * sim.mean_wait_s()
    with np.errstate(invalid="ignore", divide="ignore"):
        little = float(np.nanmean(np.abs(mean_queue - lam_w) / np.maximum(lam_w, 1e-12)))

    gpus = quote.gpus
    usage, profiles = _fleet_usage(design, sim, quotes)
    served = float(np.mean(sim.stat(rk.S_N_COMPLETED_IN_WINDOW)))
    tokens = inputs.token_means.get(workload.name)
    cost = build_cost(profiles=profiles, quotes=quotes, main_purchase=design.fleet.purchase,
                      catalog=catalog, pricing=scenario.pricing, instance=design.fleet.instance,
                      region=quote.region, horizon_s=scenario.horizon_s, window_s=window_s,
                      served_window=served,
                      tokens_per_unit=None if tokens is None else tokens.per_request)

    warnings = list(_warnings(design, quote, sim, throughput.mean, arrival_rate.mean))
    if workload.name in inputs.traces:
        warnings.extend(inputs.traces[workload.name].notes)
    if usage["launches_without_slot"] > 0:
        warnings.append(f"{usage['launches_without_slot']:.1f} launches per replication found "
                        "every node slot taken (nodes under notice hold theirs); raise "
                        "fleet.max_nodes to leave room for replacements")
    if usage["stranded_requests"] > 0:
        warnings.append(f"{usage['stranded_requests']:.0f} requests per replication were "
                        "stranded: no node was left to serve them")

    tl = sim.timeline_mean()
    width = tl["width_s"]
    timeline = {
        "bin_s": sim.timeline_bin_s,
        "start_s": tl["start_s"].tolist(),
        "arrivals_per_s": (tl["arrivals"] / width).tolist(),
        "mean_queue": tl["mean_queue"].tolist(),
        "mean_busy_workers": tl["mean_busy_workers"].tolist(),
        "requeued": tl["requeued"].tolist(),
        "dropped": tl["dropped"].tolist(),
    }
    for key in tl:
        if key.startswith("nodes_"):
            timeline[key] = tl[key].tolist()
    serving_nodes = tl["nodes_ready"] + tl["nodes_notice"] + tl["nodes_draining"]
    with np.errstate(invalid="ignore", divide="ignore"):
        timeline["utilization"] = np.where(
            serving_nodes > 0,
            tl["mean_busy_workers"] / (serving_nodes * design.fleet.workers_per_node),
            np.nan).tolist()
    fleet_info = {
        "instance": design.fleet.instance,
        "region": quote.region,
        "purchase": design.fleet.purchase,
        "nodes": design.fleet.nodes,
        "workers_per_node": design.fleet.workers_per_node,
        "workers": design.fleet.n_workers,
        "gpus_per_node": gpus,
        "gpu_model": quote.gpu_model,
        "autoscaling": None if design.fleet.autoscaling is None
        else design.fleet.autoscaling.model_dump(),
        "spot_interruptions": None if spot_source is None else {
            "kind": spot_source.kind, "per_node_hour": spot_source.per_node_hour,
            "band": spot_source.band, "detail": spot_source.detail},
        **usage,
    }
    return DesignResult(
        name=design.name,
        workload=workload.name,
        pattern=design.pattern,
        fleet=fleet_info,
        batching={"max_batch": design.batching.max_batch,
                  "max_wait_ms": design.batching.max_wait_ms},
        service_time=service.description,
        arrivals=describe_arrivals(workload.arrivals),
        latency_ms=latency,
        wait_ms=wait,
        throughput_rps=throughput,
        arrival_rate_rps=arrival_rate,
        utilization=utilization,
        mean_batch_size=estimate(sim.mean_batch_size()),
        mean_queue_length=estimate(mean_queue),
        littles_law_relative_error=little if np.isfinite(little) else None,
        slo=slo,
        requests={
            "in_window_per_replication": float(np.mean(sim.n_requests())),
            "completed_by_horizon_per_replication": float(np.mean(
                sim.stat(rk.S_N_COMPLETED_BY_HORIZON))),
            "in_system_at_horizon_per_replication": float(np.mean(
                sim.stat(rk.S_N_IN_SYSTEM_AT_HORIZON))),
            "dropped_per_replication": float(np.mean(sim.stat(rk.S_N_DROPPED))),
        },
        node_hours=float(sim.node_seconds("horizon").sum(axis=(1, 2)).mean()) / 3600.0,
        gpu_hours=None if gpus is None else float(
            sim.node_seconds("horizon").sum(axis=(1, 2)).mean()) * gpus / 3600.0,
        busy_gpu_hours=estimate(busy_s / window_s * scenario.horizon_s / 3600.0),
        cost=cost,
        timeline=timeline,
        warnings=tuple(warnings),
        distribution_ms=_distribution(sim.latency_percentiles_s),
        pattern_metrics={} if tokens is None else {
            "tokens_per_request": tokens.per_request, "prompt_tokens": tokens.prompt_tokens,
            "output_tokens": tokens.output_tokens, "tokens_source": tokens.source},
    )


def _distribution(percentiles_s: Callable[[np.ndarray], np.ndarray]) -> dict[str, list[float]]:
    """Return the mean over replications of each of :data:`DISTRIBUTION_QUANTILES`, in ms."""
    q = np.array(DISTRIBUTION_QUANTILES)
    with np.errstate(invalid="ignore"):
        values = np.nanmean(percentiles_s(q), axis=0) * 1000.0
    return {"quantiles": list(DISTRIBUTION_QUANTILES),
            "values": [float(v) if np.isfinite(v) else None for v in values]}


def _warnings(design: schema.RealtimeDesign, quote: InstanceQuote, sim: RealtimeSimResult,
              throughput: float | None, arrival_rate: float | None) -> list[str]:
    out = []
    gpus = quote.gpus
    if gpus is not None and design.fleet.workers_per_node < gpus:
        idle = gpus - design.fleet.workers_per_node
        out.append(f"{idle} of {gpus} GPUs per {quote.instance_type} node run no worker but "
                   "are paid for (allocated cost counts them; busy cost does not)")
    if quote.usd_per_hour is None and quote.note:
        out.append(f"price n/a: {quote.note}")
    if throughput is not None and arrival_rate and throughput < 0.98 * arrival_rate:
        out.append(f"overloaded: throughput {throughput:.1f} req/s is below the arrival rate "
                   f"{arrival_rate:.1f} req/s, so the queue grows without bound and latency "
                   "depends on the horizon; add workers or allow larger batches")
    return out
