"""Orchestration: a validated scenario in, one :class:`RunResult` out.

This is the only place that knows both the scenario schema and the simulator/cost APIs: it loads
the files a scenario points to, turns each design into plain simulator inputs, runs the kernel,
prices the simulated usage and summarises everything with confidence intervals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata

import numpy as np

from costmodels.catalog import InstanceQuote, PriceCatalog, load_snapshot, quote_instance
from costmodels.unit_costs import price_fixed_fleet
from planner import schema
from planner.errors import ScenarioError
from planner.inputs import ScenarioInputs, load_scenario_inputs
from planner.results import LATENCY_KEYS, CostResult, DesignResult, RunResult, SloResult
from planner.stats import estimate
from simulators import arrivals as sim_arrivals
from simulators import service as sim_service
from simulators.realtime import RealtimeSimResult, simulate_realtime

ProgressCallback = Callable[[str, int, int], None]
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


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
        Prices to use; the built-in dated snapshot by default.
    progress : callable, optional
        ``progress(design_name, replications_done, replications_total)``.

    Returns
    -------
    RunResult
    """
    started = time.perf_counter()
    catalog = catalog if catalog is not None else load_snapshot()
    inputs = load_scenario_inputs(scenario)
    hours_per_month = scenario.pricing.hours_per_month
    results = []
    for index, design in enumerate(scenario.designs):
        workload = scenario.workload(design.workload)
        quote = quote_instance(catalog, design.fleet.instance, purchase=design.fleet.purchase,
                               region=design.fleet.region)
        _check_fleet(design, quote, index)
        callback = None
        if progress is not None:
            def callback(done: int, total: int, _name: str = design.name) -> None:
                progress(_name, done, total)
        sim = simulate_realtime(
            arrivals=_arrivals(workload, inputs),
            service=_service(design, inputs),
            n_workers=design.fleet.n_workers,
            max_batch=design.batching.max_batch,
            max_wait_s=design.batching.max_wait_ms / 1000.0,
            horizon_s=scenario.horizon_s,
            warmup_s=scenario.warmup_s,
            n_replications=scenario.replications,
            seed=scenario.seed,
            slo_latency_s=None if workload.slo is None else workload.slo.latency_ms / 1000.0,
            progress=callback,
        )
        results.append(_summarise(scenario, design, workload, inputs, sim, quote, catalog,
                                  hours_per_month))
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
            "discounts": "none (list prices of the chosen purchase option)",
            "cost_basis": "allocated: every node-hour of the fleet is paid for; busy: only the "
                          "GPU-seconds spent serving batches, at the node price / GPUs per node",
            "unit_cost_basis": "$ per 1,000 requests = fleet cost per second / measured "
                               "throughput in the window after warm-up",
            "utilization_basis": "busy worker-seconds / (workers x window); one worker per GPU",
            "statistics": f"mean of {scenario.replications} replications with a Student-t 95% "
                          "confidence interval; requests arriving in the warm-up excluded",
            "percentiles": "nearest-rank, from log-bucket histograms (relative error <= 0.78%)",
        },
        planner_version=planner_version(),
        wall_s=time.perf_counter() - started,
    )


def _check_fleet(design: schema.RealtimeDesign, quote: InstanceQuote, index: int) -> None:
    gpus = quote.gpus
    if gpus is not None and design.fleet.workers_per_node > gpus:
        raise ScenarioError(
            f"designs[{index}].fleet.workers_per_node: {design.fleet.instance} has {gpus} "
            f"GPU(s) per node (got workers_per_node {design.fleet.workers_per_node}); use at most "
            f"{gpus} (one worker per GPU) or pick a larger instance"
        )


def _arrivals(workload: schema.InferenceWorkload, inputs: ScenarioInputs):
    spec = workload.arrivals
    if isinstance(spec, schema.PoissonArrivals):
        return sim_arrivals.PoissonArrivals(rate_rps=spec.rate_rps)
    if isinstance(spec, schema.DiurnalArrivals):
        weights = None
        if spec.shape == "piecewise":
            weights = tuple(float(x) for x in spec.hourly_rates_rps())
        return sim_arrivals.DiurnalArrivals(
            mean_rate_rps=spec.mean_rate_rps,
            peak_to_trough=spec.peak_to_trough,
            peak_hour=spec.peak_hour,
            hourly_weights=weights,
            start_hour=spec.start_hour,
        )
    trace = inputs.traces[workload.name]
    return sim_arrivals.TraceArrivals(times_s=trace.times_s, repeat=spec.repeat)


def _service(design: schema.RealtimeDesign, inputs: ScenarioInputs) -> sim_service.ServiceTime:
    spec = design.service_time
    max_batch = design.batching.max_batch
    if isinstance(spec, schema.ExponentialServiceTime):
        return sim_service.exponential_service(spec.mean_ms, max_batch)
    if isinstance(spec, schema.ConstantServiceTime):
        return sim_service.constant_service(spec.ms, max_batch)
    if isinstance(spec, schema.LinearServiceTime):
        return sim_service.linear_service(spec.base_ms, spec.per_item_ms, max_batch)
    table = inputs.service_tables[design.name]
    label = f"table {table.model or ''} {table.column}".replace("  ", " ").strip()
    if spec.jitter == "lognormal":
        label += " with lognormal jitter"
    return sim_service.table_service(
        table.batch_sizes, table.mean_ms, max_batch, p50_ms=table.p50_ms, p99_ms=table.p99_ms,
        jitter=spec.jitter, description=label,
    )


def _describe_arrivals(spec: object) -> str:
    if isinstance(spec, schema.PoissonArrivals):
        return f"Poisson {spec.rate_rps:g} req/s"
    if isinstance(spec, schema.DiurnalArrivals):
        return (f"diurnal ({spec.shape}) mean {spec.mean_rate_rps:g} req/s, "
                f"peak/trough {spec.peak_to_trough:g} at {spec.peak_hour:g}h")
    assert isinstance(spec, schema.TraceArrivals)
    return f"trace {spec.path} (time scale {spec.time_scale:g})"


def _summarise(
    scenario: schema.Scenario,
    design: schema.RealtimeDesign,
    workload: schema.InferenceWorkload,
    inputs: ScenarioInputs,
    sim: RealtimeSimResult,
    quote: InstanceQuote,
    catalog: PriceCatalog,
    hours_per_month: float,
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

    throughput = estimate(sim.throughput_rps())
    arrival_rate = estimate(sim.arrival_rate_rps())
    utilization = estimate(sim.utilization())
    busy_s = sim.busy_worker_s()
    window_s = sim.window_s
    n_nodes = design.fleet.nodes
    mean_queue = sim.mean_queue_length()
    lam_w = sim.arrival_rate_rps() * sim.mean_wait_s()
    with np.errstate(invalid="ignore", divide="ignore"):
        little = float(np.nanmean(np.abs(mean_queue - lam_w) / np.maximum(lam_w, 1e-12)))

    # Unit costs use steady-state rates measured in the window, applied to the whole horizon.
    served = float(np.nanmean(sim.throughput_rps())) * scenario.horizon_s
    busy_horizon = float(np.mean(busy_s)) / window_s * scenario.horizon_s
    fleet_cost = price_fixed_fleet(quote, n_nodes=n_nodes, window_s=scenario.horizon_s,
                                   hours_per_month=hours_per_month, served_requests=served,
                                   busy_gpu_seconds=busy_horizon)
    cost = CostResult(
        usd_per_hour=fleet_cost.usd_per_hour,
        total_usd=fleet_cost.total_usd,
        usd_per_month=fleet_cost.usd_per_month,
        usd_per_1k_requests=fleet_cost.usd_per_1k_requests,
        busy_usd=fleet_cost.busy_usd,
        usd_per_1k_requests_busy=fleet_cost.usd_per_1k_requests_busy,
        purchase=design.fleet.purchase,
        price_source=quote.source if quote.usd_per_hour is not None else None,
        price_as_of=quote.as_of if quote.usd_per_hour is not None else None,
        catalog=f"{catalog.label} ({catalog.as_of})",
        note=fleet_cost.note,
    )

    warnings = list(_warnings(design, quote, sim, throughput.mean, arrival_rate.mean))
    if workload.name in inputs.traces:
        warnings.extend(inputs.traces[workload.name].notes)

    tl = sim.timeline_mean()
    width = tl["width_s"]
    timeline = {
        "bin_s": sim.timeline_bin_s,
        "start_s": tl["start_s"].tolist(),
        "arrivals_per_s": (tl["arrivals"] / width).tolist(),
        "mean_queue": tl["mean_queue"].tolist(),
        "mean_busy_workers": tl["mean_busy_workers"].tolist(),
        "utilization": (tl["mean_busy_workers"] / sim.n_workers).tolist(),
    }
    gpus = quote.gpus
    return DesignResult(
        name=design.name,
        workload=workload.name,
        pattern=design.pattern,
        fleet={
            "instance": design.fleet.instance,
            "region": quote.region,
            "purchase": design.fleet.purchase,
            "nodes": n_nodes,
            "workers_per_node": design.fleet.workers_per_node,
            "workers": design.fleet.n_workers,
            "gpus_per_node": gpus,
            "gpu_model": quote.gpu_model,
        },
        batching={"max_batch": design.batching.max_batch,
                  "max_wait_ms": design.batching.max_wait_ms},
        service_time=_service(design, inputs).description,
        arrivals=_describe_arrivals(workload.arrivals),
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
            "completed_by_horizon_per_replication": float(np.mean(sim.stat(2))),
            "in_system_at_horizon_per_replication": float(np.mean(sim.stat(3))),
        },
        node_hours=n_nodes * scenario.horizon_s / 3600.0,
        gpu_hours=None if gpus is None else n_nodes * gpus * scenario.horizon_s / 3600.0,
        busy_gpu_hours=estimate(busy_s / window_s * scenario.horizon_s / 3600.0),
        cost=cost,
        timeline=timeline,
        warnings=tuple(warnings),
    )


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
