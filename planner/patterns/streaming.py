"""Streaming: records collected in fixed windows, each window processed in batches when it closes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from planner import schema
from planner.build import build_arrivals, build_service, describe_arrivals
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    autoscaling_policy,
    clock_start_hour,
    price_warnings,
    purchases_with_fallback,
    slo_target,
    spot_interruptions,
    timeline_result,
    trace_warnings,
)
from planner.pricing import PricedQuote
from planner.result_parts import DesignWarning, FleetResult, SpotInterruptions, WindowBatching
from simulators.core.fleet import SpotModel
from simulators.core.usage import Usage
from simulators.streaming.spec import StreamingSpec, simulate
from simulators.streaming.usage import streaming_usage


class StreamingPattern:
    """Windows of records processed one at a time, in order, by a (possibly autoscaled, spot)
    fleet."""

    name = "streaming"
    metric = "latency"
    assumption = ("streaming: a record's latency runs from its arrival to the end of the "
                  "processing of its window; windows are processed one at a time, in order")
    metric_names = ("window_s", "mean_processing_s", "max_backlog_windows",
                    "mean_backlog_records", "lag_at_horizon_s", "tokens_per_request",
                    "interruptions", "reprocessed_records")

    def purchases(self, design: schema.StreamingDesign) -> set[str]:
        """The fleet's purchase option, plus on-demand for the base of a spot fleet."""
        return purchases_with_fallback(design)

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate the design's windows over the scenario's horizon."""
        design, workload, inputs, scenario = (context.design, context.workload, context.inputs,
                                              context.scenario)
        f = design.fleet
        quote = quotes[f.purchase].quote
        spot = spot_interruptions(design, inputs, context.hours_per_month)
        service = build_service(design, inputs, gpu_model=quote.gpu_model,
                                gpu_memory_gib=quote.gpu_memory_gib, seed=scenario.seed)
        slo = slo_target(workload)
        sim = simulate(StreamingSpec(
            arrivals=build_arrivals(workload, inputs), service=service, n_nodes=f.nodes,
            workers_per_node=f.workers_per_node, window_s=design.window_s,
            max_batch=design.batching.max_batch, run=context.run_spec(),
            overhead_s=design.overhead_s,
            autoscaling=autoscaling_policy(f.autoscaling),
            provisioning_delay_s=f.provisioning_delay_s, start_hour=clock_start_hour(workload),
            spot=None if spot is None else SpotModel(
                interruptions_per_hour=spot.per_node_hour, notice_s=f.spot_notice_s,
                replacement_delay_s=f.spot.replacement_delay_s),
            on_demand_base=f.on_demand_base,
            slo_latency_s=None if slo is None else slo.latency_ms / 1000.0),
            progress=context.progress_of_design())
        usage = streaming_usage(sim, purchase=f.purchase)
        warnings = price_warnings(quotes)
        lag = float(np.mean(sim.lag_at_horizon_s()))
        if lag > 2 * design.window_s:
            warnings.append(DesignWarning(
                "backlog", f"backlog: processing falls behind the windows (lag at the horizon "
                f"{lag:,.0f} s); add workers or larger batches"))
        warnings += trace_warnings(inputs, workload.name)
        tokens = inputs.token_means.get(workload.name)
        metrics = {
            "window_s": design.window_s,
            "mean_processing_s": float(np.nanmean(sim.mean_processing_s())),
            "max_backlog_windows": float(np.mean(sim.max_backlog()["windows"])),
            "mean_backlog_records": float(np.mean(sim.mean_backlog()["records"])),
            "lag_at_horizon_s": lag,
        }
        if spot is not None:
            metrics["interruptions"] = usage.events["interruptions"]
            metrics["reprocessed_records"] = usage.events["reprocessed_records"]
        if tokens is not None:
            metrics["tokens_per_request"] = tokens.per_request
        return PatternRun(
            usage=usage, fleet=_fleet_result(design, quote, usage, spot, scenario.horizon_s),
            batching=WindowBatching(design.window_s, design.batching.max_batch),
            service_time=service.description, arrivals=describe_arrivals(workload.arrivals),
            timeline=timeline_result(usage.timeline), slo=slo, pattern_metrics=metrics,
            warnings=tuple(warnings),
            tokens_per_unit=None if tokens is None else tokens.per_request)


def _fleet_result(design: schema.StreamingDesign, quote, usage: Usage,
                  spot: SpotInterruptions | None, horizon_s: float) -> FleetResult:
    """The fleet block: node-hours by purchase option, interruptions (as preemptions) and the
    records they made the fleet process again (as requeued)."""
    f = design.fleet
    a = f.autoscaling
    summary = (f"{f.nodes}x {f.instance} ({f.workers_per_node} worker/node)\n{f.purchase}"
               + ("" if spot is None else f" (on-demand base {f.on_demand_base})") + ", "
               + ("fixed" if a is None else f"autoscaled {a.min_nodes}-{a.max_nodes} "
                  f"({a.metric} {a.target:g})")
               + f"\nwindow {design.window_s:g} s, batch ≤{design.batching.max_batch}")
    node_hours = {str(p.purchase): float(p.node_s_horizon.mean()) / 3600.0
                  for p in usage.purchases}
    return FleetResult(
        instance=f.instance, region=quote.region, purchase=f.purchase, nodes=f.nodes,
        workers_per_node=f.workers_per_node, gpus_per_node=quote.gpus, gpu_model=quote.gpu_model,
        autoscaling=None if a is None else a.model_dump(),
        spot_interruptions=spot,
        node_hours=node_hours if spot is not None else {f.purchase: usage.node_hours},
        mean_nodes=float(usage.node_s_horizon.mean()) / horizon_s,
        max_nodes=usage.events["max_nodes"], summary=summary,
        preemptions=usage.events["interruptions"],
        requeued_requests=usage.events["reprocessed_records"],
        scale_out_actions=usage.events["scale_out_actions"],
        scale_in_actions=usage.events["scale_in_actions"])

