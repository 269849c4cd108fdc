"""Turn a validated scenario's parts into the simulators' plain inputs.

The only module besides :mod:`planner.run` that knows both the schema and the simulator API.
Everything here is a pure translation plus the price-catalog and Spot Advisor look-ups the
translation needs; files were read earlier by :mod:`planner.inputs`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from domain.errors import ScenarioError, SimulationError
from planner import schema
from planner.inputs import ScenarioInputs
from planner.schema_serving import CALIBRATED_FROM
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
    service = _model_service(design, inputs, gpu_model, gpu_memory_gib, seed)
    if spec.overhead_ms == 0 and spec.scale == 1:
        if spec.calibrated_from:  # a table measured in the serving loop (planner calibrate)
            return dataclasses.replace(service, description=(
                f"{service.description}; {CALIBRATED_FROM} {', '.join(spec.calibrated_from)}: "
                "in-loop batch times (the table's source column says which sizes were "
                "measured)"))
        return service
    return correct_service(service, spec.overhead_ms, spec.scale,
                           calibrated_from=spec.calibrated_from)


def correct_service(service: sim_service.ServiceTime, overhead_ms: float, scale: float, *,
                    calibrated_from: tuple[str, ...] = ()) -> sim_service.ServiceTime:
    """Return ``service`` with every batch taking ``scale * t(n) + overhead_ms``.

    The mean of a batch of ``n`` becomes ``scale * mean(n) + overhead``. An exponential time
    keeps its shape (``overhead_ms`` must be 0: the schema refuses it); a lognormal one keeps
    the mean and variance of ``scale * t(n)`` with the overhead added, i.e. ``sigma(n)`` solves
    ``exp(sigma^2) - 1 = (scale mean(n))^2 (exp(sigma0(n)^2) - 1) / (new mean(n))^2``.

    Parameters
    ----------
    service : ServiceTime
        The model's service time (float64[max_batch + 1] arrays).
    overhead_ms : float
        Fixed time added to every batch (ms), >= 0.
    scale : float
        Factor on the model's batch time, > 0.
    calibrated_from : tuple of str
        The load tests the terms were fitted to; named in the description.
    """
    if overhead_ms < 0 or not scale > 0:
        raise SimulationError(f"service-time corrections need overhead_ms >= 0 and scale > 0 "
                              f"(got {overhead_ms!r}, {scale!r})")
    if service.distribution == "exponential" and overhead_ms:
        raise SimulationError("an exponential service time cannot carry a fixed overhead "
                              f"(got {overhead_ms!r} ms)")
    scaled = service.mean_s * scale
    mean = scaled + overhead_ms / 1000.0
    mean[0] = 0.0
    mu, sigma = service.log_mu, service.log_sigma
    if service.distribution == "lognormal":
        variance = scaled**2 * np.expm1(service.log_sigma**2)
        safe = np.where(mean > 0, mean, 1.0)
        sigma = np.where(mean > 0, np.sqrt(np.log1p(variance / safe**2)), 0.0)
        mu = np.where(mean > 0, np.log(safe) - 0.5 * sigma**2, 0.0)
    terms = f"{scale:.4g} x the model + {overhead_ms:.4g} ms per batch"
    if calibrated_from:
        terms = f"{CALIBRATED_FROM} {', '.join(calibrated_from)}: {terms}"
    return sim_service.ServiceTime(service.distribution, mean, mu, sigma,
                                   f"{service.description}; {terms}")


def _model_service(design: schema.RealtimeDesign, inputs: ScenarioInputs,
                   gpu_model: str | None, gpu_memory_gib: float | None,
                   seed: int) -> sim_service.ServiceTime:
    """The design's service time as its model gives it, before correction terms."""
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
