"""Scheduled batch jobs: records accumulate, a gang of nodes cold-starts and processes them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from domain.purchase import Purchase
from planner import schema
from planner.build import build_arrivals, build_service, describe_arrivals
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    price_warnings,
    trace_warnings,
    provisioning_of,
    purchases_with_fallback,
    slo_target,
    spot_interruptions,
    timeline_result,
)
from planner.pricing import PricedQuote
from planner.result_parts import DesignWarning, FleetResult, ScheduleBatching
from simulators.batch.api import BatchSimResult
from simulators.batch.spec import BatchSpec, simulate
from simulators.batch.usage import batch_usage
from simulators.training.checkpoints import young_daly_interval_s


class BatchPattern:
    """Jobs on a schedule; freshness is a record's wait until the end of the job that took it."""

    name = "batch"
    metric = "freshness"
    assumption = ("batch: freshness runs from a record's arrival to the end of the job that "
                  "processed it; each job cold-starts its nodes (paid) and shuts them down; on "
                  "spot an interruption loses the work since the last checkpoint")
    metric_names = ("jobs_per_replication", "mean_job_hours", "p95_job_hours",
                    "jobs_missing_deadline", "job_overruns", "interruptions", "lost_work_hours",
                    "records_pending_at_horizon", "checkpoint_interval_s",
                    "throughput_per_job_rps")

    def purchases(self, design: schema.BatchDesign) -> set[str]:
        """The fleet's purchase option, plus on-demand for the fallback of spot."""
        return purchases_with_fallback(design)

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate the design's jobs over the scenario's horizon."""
        design, workload, inputs, scenario = (context.design, context.workload, context.inputs,
                                              context.scenario)
        f = design.fleet
        quote = quotes[f.purchase].quote
        spot = spot_interruptions(design, inputs, context.hours_per_month)
        rate = 0.0 if spot is None else spot.per_node_hour
        interval = _checkpoint_interval(design, rate)
        provisioning = provisioning_of(f)
        service = build_service(design, inputs, gpu_model=quote.gpu_model,
                                gpu_memory_gib=quote.gpu_memory_gib, seed=scenario.seed)
        slo = slo_target(workload)
        ck, sp = design.checkpoint, f.spot
        if context.progress is not None:
            context.progress(design.name, 0, 1)
        sim = simulate(BatchSpec(
            arrivals=build_arrivals(workload, inputs), service=service, nodes=f.nodes,
            workers_per_node=f.workers_per_node, max_batch=design.batching.max_batch,
            period_s=design.schedule.period_s, run=context.run_spec(),
            offset_s=design.schedule.offset_s, at_s=design.schedule.at_s,
            provisioning=provisioning if provisioning else 0.0, startup_s=design.startup_s,
            checkpoint_s=interval, checkpoint_cost_s=0.0 if ck is None else ck.cost_s,
            purchase=Purchase.SPOT if f.purchase == Purchase.SPOT else Purchase.ON_DEMAND,
            interruptions_per_node_hour=rate,
            replacement_delay_s=None if sp is None else sp.replacement_delay_s,
            fallback_after=None if sp is None else sp.fallback_after_interruptions,
            deadline_s=design.deadline_s,
            slo_freshness_s=None if slo is None else slo.latency_ms / 1000.0))
        if context.progress is not None:
            context.progress(design.name, 1, 1)
        base = f.purchase if f.purchase != Purchase.SPOT else Purchase.ON_DEMAND
        usage = batch_usage(sim, base_purchase=base, main_purchase=f.purchase, priced=quotes)
        sched = design.schedule
        period = sched.period_s if sched.period_s is not None else 86400.0 / len(sched.at)
        when = (f"every {sched.period_s:g} s" if sched.period_s is not None
                else "at " + ", ".join(sched.at))
        interruptions = usage.events["interruptions"]
        fleet = FleetResult(
            instance=f.instance, region=quote.region, purchase=f.purchase, nodes=f.nodes,
            workers_per_node=f.workers_per_node, gpus_per_node=quote.gpus,
            gpu_model=quote.gpu_model, autoscaling=None, spot_interruptions=spot,
            node_hours={p.purchase: float(p.node_s_horizon.mean()) / 3600.0
                        for p in usage.purchases},
            mean_nodes=usage.node_hours * 3600.0 / scenario.horizon_s,
            max_nodes=float(f.nodes), preemptions=interruptions,
            summary=(f"{f.nodes}x {f.instance} ({f.workers_per_node} worker/node)\n"
                     f"{f.purchase}, cold start per job\njobs {when}, "
                     f"batch ≤{design.batching.max_batch}"))
        metrics = _metrics(sim, interval, interruptions)
        return PatternRun(
            usage=usage, fleet=fleet, batching=ScheduleBatching(period, design.batching.max_batch),
            service_time=service.description, arrivals=describe_arrivals(workload.arrivals),
            timeline=timeline_result(usage.timeline), slo=slo, pattern_metrics=metrics,
            warnings=tuple(_warnings(design, quotes, metrics, sim.n_jobs, inputs, workload)))


def _checkpoint_interval(design: schema.BatchDesign, rate: float) -> float | None:
    ck = design.checkpoint
    if ck is None:
        return None
    if ck.interval_s != "young_daly":
        return ck.interval_s
    mtbf_s = 3600.0 / (design.fleet.nodes * rate) if rate > 0 else None
    return young_daly_interval_s(max(ck.cost_s, 1e-9), mtbf_s) if mtbf_s else None


def _metrics(sim: BatchSimResult, interval: float | None, interruptions: float) -> dict:
    durations = sim.job_durations_s()
    finite = durations[np.isfinite(durations)]
    return {
        "jobs_per_replication": float(sim.n_jobs),
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


def _warnings(design, quotes, metrics: dict, n_jobs: int, inputs, workload
              ) -> list[DesignWarning]:
    warnings = price_warnings(quotes)
    if design.deadline_s is not None and metrics["jobs_missing_deadline"] > 0:
        warnings.append(DesignWarning("deadline_missed", f"{metrics['jobs_missing_deadline']:.2f} of {n_jobs} jobs per "
                        f"replication miss the {design.deadline_s / 3600:g} h deadline"))
    if metrics["job_overruns"] > 0:
        warnings.append(DesignWarning(
            "job_overrun", f"{metrics['job_overruns']:.2f} jobs per replication start late: "
            "the previous job was still running"))
    return warnings + trace_warnings(inputs, workload.name)
