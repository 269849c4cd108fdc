"""Real-time serving: a central queue with dynamic batching on an autoscaled, spot-aware fleet."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from domain.errors import ScenarioError
from domain.purchase import Purchase
from planner import schema
from planner.build import build_arrivals, build_service, describe_arrivals
from planner.inputs import ScenarioInputs
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    autoscaling_policy,
    clock_start_hour,
    provisioning_of,
    purchases_with_fallback,
    slo_target,
    spot_interruptions,
    timeline_result,
    trace_warnings,
)
from planner.pricing import PricedQuote
from planner.result_parts import (
    DesignWarning,
    FleetResult,
    Launches,
    RequestBatching,
    ServingSplit,
    SpotInterruptions,
)
from simulators.core.fleet import STATE_NAMES, FleetSpec, SpotModel
from simulators.core.usage import Usage
from simulators.realtime.spec import RealtimeSpec, simulate
from simulators.realtime.usage import class_purchases, realtime_usage


class RealtimePattern:
    """Requests served one batch at a time by the fleet's workers, one worker per GPU."""

    name = "realtime"
    metric = "latency"
    assumption = None
    metric_names = ("tokens_per_request", "prompt_tokens", "output_tokens", "offered_load")

    def purchases(self, design: schema.RealtimeDesign) -> set[str]:
        """The fleet's purchase option, plus on-demand for the base and fallback of spot."""
        return purchases_with_fallback(design)

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate the design's fleet serving its workload."""
        design, workload, inputs = context.design, context.workload, context.inputs
        scenario = context.scenario
        quote = quotes[design.fleet.purchase].quote
        _check_workers(design, quote.gpus, scenario.designs.index(design))
        spot = spot_interruptions(design, inputs, context.hours_per_month)
        service = build_service(design, inputs, gpu_model=quote.gpu_model,
                                gpu_memory_gib=quote.gpu_memory_gib, seed=scenario.seed)
        slo = slo_target(workload)
        sim = simulate(RealtimeSpec(
            arrivals=build_arrivals(workload, inputs), service=service,
            fleet=fleet_spec(design, workload, inputs, spot),
            max_batch=design.batching.max_batch,
            max_wait_s=design.batching.max_wait_ms / 1000.0, run=context.run_spec(),
            slo_latency_s=None if slo is None else slo.latency_ms / 1000.0),
            progress=context.progress_of_design())
        usage = realtime_usage(sim, base_purchase=_base_purchase(design), priced=quotes)
        fleet = fleet_result(design, quote, sim, usage, spot)
        tokens = inputs.token_means.get(workload.name)
        load = offered_load(design, service, float(np.mean(usage.arrival_rate_rps)))
        metrics: dict = {} if tokens is None else {
            "tokens_per_request": tokens.per_request, "prompt_tokens": tokens.prompt_tokens,
            "output_tokens": tokens.output_tokens, "tokens_source": tokens.source}
        metrics["offered_load"] = load
        return PatternRun(
            usage=usage, fleet=fleet,
            batching=RequestBatching(design.batching.max_batch, design.batching.max_wait_ms),
            service_time=service.description, arrivals=describe_arrivals(workload.arrivals),
            timeline=timeline_result(usage.timeline), slo=slo,
            pattern_metrics=metrics,
            warnings=tuple(_warnings(design, quote, usage, fleet, inputs, workload.name, load)
                           + list(_token_slo_note(workload))),
            unjudged_slo=_unjudged(workload),
            tokens_per_unit=None if tokens is None else tokens.per_request)


def _unjudged(workload: schema.InferenceWorkload) -> tuple[str, ...]:
    slo = workload.slo
    if slo is None:
        return ()
    return tuple(name for name, bound in (("ttft", slo.ttft_ms), ("tpot", slo.tpot_ms))
                 if bound is not None)


def offered_load(design: schema.RealtimeDesign, service, arrival_rate_rps: float) -> float:
    """Return the offered load rho: the arrival rate over the fleet's most throughput, every
    worker of its largest size running full batches (``max_batch / mean service time of a
    full batch`` each). rho >= 1 means no batching policy can keep up: the queue grows
    without bound."""
    f = design.fleet
    a = f.autoscaling
    nodes = f.nodes if a is None else max(a.max_nodes, f.nodes)
    b = design.batching.max_batch
    capacity = nodes * f.workers_per_node * b / float(service.mean_s[b])
    return arrival_rate_rps / capacity if capacity > 0 else math.inf


def _token_slo_note(workload: schema.InferenceWorkload) -> tuple[DesignWarning, ...]:
    if not _unjudged(workload):
        return ()
    return (DesignWarning("model", "SLO judged on end-to-end latency only: a request-batching design has no "
            "first-token time, so the ttft_ms/tpot_ms bounds cannot be checked and it is not "
            "recommended as meeting every SLO (llm designs are judged on them)"),)


def _base_purchase(design: schema.RealtimeDesign) -> str:
    return design.fleet.purchase if design.fleet.purchase != Purchase.SPOT else Purchase.ON_DEMAND


def _check_workers(design: schema.RealtimeDesign, gpus: int | None, index: int) -> None:
    if gpus is not None and design.fleet.workers_per_node > gpus:
        raise ScenarioError(
            f"designs[{index}].fleet.workers_per_node: {design.fleet.instance} has {gpus} "
            f"GPU(s) per node (got workers_per_node {design.fleet.workers_per_node}); use at most "
            f"{gpus} (one worker per GPU) or pick a larger instance")


def fleet_spec(design: schema.RealtimeDesign | schema.LlmDesign,
               workload: schema.InferenceWorkload, inputs: ScenarioInputs,
               spot: SpotInterruptions | None, *, workers_per_node: int | None = None
               ) -> FleetSpec:
    """Return the simulator fleet of ``design`` (``workers_per_node`` overrides the fleet's:
    an LLM node's workers are its replicas).

    A spot node under notice keeps its slot until it dies, so spot fleets get extra node slots
    (a quarter more, at least two) for replacements that start beside dying nodes; the
    autoscaler's bounds still count only provisioning and serving nodes. A replacement that
    finds no slot is dropped and counted (``launches_without_slot``).
    """
    f = design.fleet
    a = f.autoscaling
    is_spot = f.purchase == Purchase.SPOT
    max_nodes = f.n_node_slots + (max(2, math.ceil(f.n_node_slots / 4)) if is_spot else 0)
    policy = autoscaling_policy(a)
    start_hour = clock_start_hour(workload)
    queue = getattr(design, "queue", None)
    deadline_ms = queue.deadline_ms if queue is not None else None
    return FleetSpec(
        workers_per_node=f.workers_per_node if workers_per_node is None else workers_per_node,
        initial_nodes=f.nodes, max_nodes=max_nodes,
        on_demand_base=f.on_demand_base if is_spot else (f.nodes if a is None else 0),
        extra_is_spot=is_spot, autoscaling=policy,
        spot=_spot_model(design, inputs, spot) if is_spot else None,
        provisioning=provisioning_of(f), start_hour=start_hour,
        deadline_s=None if deadline_ms is None else deadline_ms / 1000.0)


def _spot_model(design: schema.RealtimeDesign, inputs: ScenarioInputs,
                spot: SpotInterruptions | None) -> SpotModel:
    f = design.fleet
    sp = f.spot
    assert sp is not None and spot is not None  # the schema requires it with purchase: spot
    common = dict(notice_s=f.spot_notice_s, replacement_delay_s=sp.replacement_delay_s,
                  fallback_to_on_demand_after_s=sp.fallback_to_on_demand_after_s)
    if spot.kind != "trace":
        return SpotModel(interruptions_per_hour=spot.per_node_hour, **common)
    trace = inputs.spot_traces[design.name]
    return SpotModel(trace_times_s=np.asarray(trace.times_s, dtype=np.float64),
                     trace_capacity=np.asarray(trace.capacity, dtype=np.int64), **common)


def fleet_result(design: schema.RealtimeDesign | schema.LlmDesign, quote, sim, usage: Usage,
                 spot: SpotInterruptions | None, *, workers_per_node: int | None = None,
                 busy_by_class: Callable[[str], np.ndarray] | None = None) -> FleetResult:
    """Return the fleet block: node-hours by purchase option, state and use, and events.

    ``sim`` is a :class:`RealtimeSimResult` or any result with the same node accounts;
    ``busy_by_class(basis)`` gives its busy worker-seconds by node class (default: the real-time
    result's), ``workers_per_node`` its workers (LLM: replicas) per node. Requests the pattern
    reroutes or rejects are reported as requeued and dropped.
    """
    f = design.fleet
    w_per_node = f.workers_per_node if workers_per_node is None else workers_per_node
    busy_of = sim.busy_worker_s_by_class if busy_by_class is None else busy_by_class
    node_h = sim.node_seconds("horizon").mean(axis=0)  # [class, state]
    node_w = sim.node_seconds("window").mean(axis=0)
    busy_w = busy_of("window").mean(axis=0)
    busy_h = busy_of("horizon").mean(axis=0) / w_per_node / 3600.0
    by_purchase: dict[str, float] = {}
    split: dict[str, dict[str, float]] = {}
    for cls, purchase in class_purchases(_base_purchase(design)).items():
        by_purchase[purchase] = by_purchase.get(purchase, 0.0) + float(node_h[cls].sum())
        hours = node_h[cls] / 3600.0
        if hours.sum() <= 0 and purchase != f.purchase:
            continue
        d = split.setdefault(purchase, {"provisioning": 0.0, "busy": 0.0, "idle": 0.0})
        d["provisioning"] += float(hours[0])
        d["busy"] += float(busy_h[cls])
        d["idle"] += max(float(hours[1:].sum() - busy_h[cls]), 0.0)
    state_hours = node_h.sum(axis=0) / 3600.0
    busy_node_h = float(busy_w.sum()) / w_per_node / 3600.0
    serving_h = float(node_w[:, 1:].sum()) / 3600.0
    ev = dict(usage.events)
    ev.setdefault("requeued_requests", ev.get("rerouted_requests", 0.0))
    ev.setdefault("dropped_requests", ev.get("rejected_requests", 0.0))
    return FleetResult(
        instance=f.instance, region=quote.region, purchase=f.purchase, nodes=f.nodes,
        workers_per_node=w_per_node, gpus_per_node=quote.gpus,
        gpu_model=quote.gpu_model,
        autoscaling=None if f.autoscaling is None else f.autoscaling.model_dump(),
        spot_interruptions=spot,
        node_hours={p: s / 3600.0 for p, s in by_purchase.items()
                    if s > 0 or p == f.purchase},
        node_hours_split=split,
        node_hours_by_state={name: float(state_hours[k]) for k, name in enumerate(STATE_NAMES)},
        provisioning_hours=float(state_hours[0]),
        preemptions=ev["preemptions"], requeued_requests=ev["requeued_requests"],
        dropped_requests=ev["dropped_requests"], stranded_requests=ev["stranded_requests"],
        launches_without_slot=ev["launches_without_slot"],
        scale_out_actions=ev["scale_out_actions"], scale_in_actions=ev["scale_in_actions"],
        mean_nodes=float(node_h.sum()) / sim.horizon_s, max_nodes=ev["max_nodes"],
        serving=ServingSplit(
            busy_node_hours_window=busy_node_h,
            idle_node_hours_window=max(serving_h - busy_node_h, 0.0),
            gpu_busy_hours_window=float(busy_w.sum()) / 3600.0,
            preemption_events=ev["preemption_events"],
            launches=Launches(ev["launches_base"], ev["launches_spot"],
                              ev["launches_on_demand_fallback"])))


def _warnings(design: schema.RealtimeDesign, quote, usage: Usage, fleet: FleetResult,
              inputs: ScenarioInputs, workload: str, load: float) -> list[DesignWarning]:
    out = []
    gpus = quote.gpus
    if gpus is not None and design.fleet.workers_per_node < gpus:
        idle = gpus - design.fleet.workers_per_node
        out.append(DesignWarning(
            "model", f"{idle} of {gpus} GPUs per {quote.instance_type} node run no worker but "
            "are paid for (allocated cost counts them; busy cost does not)"))
    if quote.usd_per_hour is None and quote.note:
        out.append(DesignWarning("price_unknown", f"price n/a: {quote.note}"))
    throughput = float(np.mean(usage.throughput_rps))
    arrival_rate = float(np.mean(usage.arrival_rate_rps))
    if load >= 1.0 or throughput < 0.98 * arrival_rate:
        out.append(DesignWarning(
            "overload", f"overloaded: the offered load is {load:.2f}x the fleet's capacity "
            f"(arrivals {arrival_rate:,.1f} req/s, served {throughput:,.1f} req/s): the queue "
            "grows without bound, so latency and cost per request depend on the horizon and "
            "are not steady-state figures; add workers or allow larger batches"))
    out += trace_warnings(inputs, workload)
    if fleet.launches_without_slot > 0:
        out.append(DesignWarning(
            "model", f"{fleet.launches_without_slot:.1f} launches per replication found "
            "every node slot taken (nodes under notice hold theirs); raise "
            "fleet.max_nodes to leave room for replacements"))
    if fleet.stranded_requests > 0:
        out.append(DesignWarning(
            "model", f"{fleet.stranded_requests:.0f} requests per replication were "
            "stranded: no node was left to serve them"))
    return out
