"""Turn a validated scenario's parts into the simulators' plain inputs.

The only module besides :mod:`planner.run` that knows both the schema and the simulator API.
Everything here is a pure translation plus the price-catalog and Spot Advisor look-ups the
translation needs; files were read earlier by :mod:`planner.inputs`.
"""

from __future__ import annotations

from domain.errors import ScenarioError, SimulationError
from planner import schema
from planner.inputs import ScenarioInputs
from simulators.core import arrivals as sim_arrivals
from simulators.core import service as sim_service


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
    from simulators.core.token_batches import batch_service_table
    from simulators.core.tokens import gpu_key, scale_profile

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
    except SimulationError as exc:
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
