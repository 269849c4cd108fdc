"""Turn a validated scenario's parts into the simulators' plain inputs.

The only module besides :mod:`planner.run` that knows both the schema and the simulator API.
Everything here is a pure translation plus the price-catalog and Spot Advisor look-ups the
translation needs; files were read earlier by :mod:`planner.inputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costmodels.spot_advisor import rate_per_node_hour
from planner import schema
from domain.errors import ScenarioError
from planner.inputs import ScenarioInputs
from simulators.core import arrivals as sim_arrivals
from simulators.core import service as sim_service
from simulators.core.fleet import AutoscalingPolicy, DelayComponent, FleetSpec, SpotModel


@dataclass(frozen=True)
class SpotSource:
    """Where a design's spot interruption model came from (for reports)."""

    kind: str  # "rate", "advisor" or "trace"
    per_node_hour: float | None
    band: str | None
    detail: str


def build_arrivals(workload: schema.InferenceWorkload, inputs: ScenarioInputs):
    """Return the simulator arrival process of ``workload``."""
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


def build_service(design: schema.RealtimeDesign, inputs: ScenarioInputs, *,
                  gpu_model: str | None = None, gpu_memory_gib: float | None = None,
                  seed: int = 0) -> sim_service.ServiceTime:
    """Return the simulator service-time model of ``design``.

    ``gpu_model`` and ``gpu_memory_gib`` (the fleet instance's, from the catalog) choose the GPU
    a token service time with ``gpu: auto`` is derived for.
    """
    spec = design.service_time
    max_batch = design.batching.max_batch
    if isinstance(spec, schema.TokenServiceTime):
        return _token_service(design, inputs, gpu_model, gpu_memory_gib, seed)
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


def _token_service(design, inputs: ScenarioInputs, gpu_model: str | None,
                   gpu_memory_gib: float | None, seed: int) -> sim_service.ServiceTime:
    from simulators.core.tokens import (
        TokenProfileError,
        batch_service_table,
        gpu_key,
        scale_profile,
    )

    spec = design.service_time
    model = inputs.token_models[design.name]
    where = f"design {design.name!r} service_time"
    try:
        if spec.gpu == "auto":
            if gpu_model is None:
                raise ScenarioError(f"{where}: gpu: auto needs the GPU of {design.fleet.instance}, "
                                    "which the price catalog does not know; set gpu: to one of "
                                    "the known GPUs, e.g. H100-SXM-80GB")
            target = gpu_key(gpu_model, gpu_memory_gib)
        else:
            target = spec.gpu
        profile = scale_profile(model.profile, target)
        table = batch_service_table(profile, model.prompt_tokens, model.output_tokens,
                                    design.batching.max_batch, n_samples=spec.samples,
                                    seed=seed, prefill_rule=spec.prefill)
    except TokenProfileError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    label = table["description"] + f"; tokens from {model.tokens_source}"
    if spec.jitter == "lognormal":
        label += "; lognormal jitter fitted to the batch p50/p99"
    return sim_service.table_service(
        table["batch_sizes"], table["mean_ms"], design.batching.max_batch,
        p50_ms=table["p50_ms"], p99_ms=table["p99_ms"], jitter=spec.jitter, description=label)


def describe_arrivals(spec: object) -> str:
    """Return a one-line description of an arrival spec for reports."""
    if isinstance(spec, schema.PoissonArrivals):
        return f"Poisson {spec.rate_rps:g} req/s"
    if isinstance(spec, schema.DiurnalArrivals):
        return (f"diurnal ({spec.shape}) mean {spec.mean_rate_rps:g} req/s, "
                f"peak/trough {spec.peak_to_trough:g} at {spec.peak_hour:g}h")
    assert isinstance(spec, schema.TraceArrivals)
    return f"trace {spec.path} (time scale {spec.time_scale:g})"


def build_fleet(design: schema.RealtimeDesign, workload: schema.InferenceWorkload,
                inputs: ScenarioInputs, *, hours_per_month: float
                ) -> tuple[FleetSpec, SpotSource | None]:
    """Return the simulator fleet of ``design`` and where its spot model came from.

    A spot node under notice keeps its slot until it dies, so spot fleets get extra node slots
    (a quarter more, at least two) for replacements that start beside dying nodes; the
    autoscaler's bounds still count only provisioning and serving nodes.  A replacement that
    finds no slot is dropped and counted (``launches_without_slot``).
    """
    f = design.fleet
    a = f.autoscaling
    max_nodes = f.n_node_slots
    if f.purchase == "spot":
        max_nodes += max(2, math.ceil(f.n_node_slots / 4))
    policy = None
    if a is not None:
        policy = AutoscalingPolicy(
            metric=a.metric, target=a.target, min_nodes=a.min_nodes, max_nodes=a.max_nodes,
            interval_s=a.interval_s, window_s=a.window_s,
            scale_in_cooldown_s=a.scale_in_cooldown_s,
            schedule=tuple((s.start_hour, s.end_hour, s.min_nodes) for s in a.schedule),
        )
    provisioning = tuple(DelayComponent.from_p95(p.name, p.median_s, p.p95_s)
                         for p in f.provisioning)
    spot_model = None
    source = None
    is_spot = f.purchase == "spot"
    if is_spot:
        spot_model, source = _spot_model(design, inputs, hours_per_month=hours_per_month)
    start_hour = 0.0
    if isinstance(workload.arrivals, schema.DiurnalArrivals):
        start_hour = workload.arrivals.start_hour
    deadline_ms = design.queue.deadline_ms if design.queue is not None else None
    spec = FleetSpec(
        workers_per_node=f.workers_per_node,
        initial_nodes=f.nodes,
        max_nodes=max_nodes,
        on_demand_base=f.on_demand_base if is_spot else (f.nodes if a is None else 0),
        extra_is_spot=is_spot,
        autoscaling=policy,
        spot=spot_model,
        provisioning=provisioning,
        start_hour=start_hour,
        deadline_s=None if deadline_ms is None else deadline_ms / 1000.0,
    )
    return spec, source


def _spot_model(design: schema.RealtimeDesign, inputs: ScenarioInputs, *,
                hours_per_month: float) -> tuple[SpotModel, SpotSource]:
    f = design.fleet
    sp = f.spot
    assert sp is not None  # the schema requires it with purchase: spot
    common = dict(notice_s=f.spot_notice_s, replacement_delay_s=sp.replacement_delay_s,
                  fallback_to_on_demand_after_s=sp.fallback_to_on_demand_after_s)
    it = sp.interruptions
    if it.kind == "rate":
        return (SpotModel(interruptions_per_hour=it.per_node_hour, **common),
                SpotSource("rate", it.per_node_hour, None,
                           f"{it.per_node_hour:g} interruptions per node-hour (given)"))
    if it.kind == "advisor":
        band = it.band
        detail = f"AWS Spot Advisor band {band} (given)"
        if band is None:  # looked up (and checked) by planner.inputs
            advice = inputs.spot_advice[design.name]
            band = advice.band
            detail = (f"AWS Spot Advisor band {band} for {advice.instance_type} in "
                      f"{advice.region} (snapshot {advice.as_of})")
        rate = rate_per_node_hour(band, hours_per_month)
        return (SpotModel(interruptions_per_hour=rate, **common),
                SpotSource("advisor", rate, band, detail))
    trace = inputs.spot_traces[design.name]
    model = SpotModel(trace_times_s=np.asarray(trace.times_s, dtype=np.float64),
                      trace_capacity=np.asarray(trace.capacity, dtype=np.int64), **common)
    return model, SpotSource("trace", None, None,
                             f"capacity trace {trace.source_path} ({trace.n_drops} drops, "
                             f"tick {trace.gap_s:g} s)")
