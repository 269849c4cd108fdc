"""Scheduled batch jobs: records accumulate, a gang of nodes cold-starts and processes them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from domain.errors import ScenarioError
from domain.purchase import Purchase
from planner import schema
from planner.build import build_arrivals, build_service, describe_arrivals
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    SteadyStateCost,
    price_warnings,
    provisioning_of,
    purchases_with_fallback,
    slo_target,
    spot_interruptions,
    timeline_result,
    trace_warnings,
)
from planner.patterns.summary import PENDING_LIMIT
from planner.pricing import PricedQuote
from planner.result_parts import DesignWarning, FleetResult, ScheduleBatching
from simulators.batch.api import BatchSimResult, scheduled_starts_s
from simulators.batch.spec import BatchSpec, simulate
from simulators.batch.usage import batch_usage
from simulators.core.arrivals import DAY_S, Arrivals, DiurnalArrivals, TraceArrivals
from simulators.training.checkpoints import young_daly_interval_s


class BatchPattern:
    """Jobs on a schedule; freshness is a record's wait until the end of the job that took it."""

    name = "batch"
    metric = "freshness"
    assumption = ("batch: freshness runs from a record's arrival to the end of the job that "
                  "processed it; each job cold-starts its nodes (paid) and shuts them down; on "
                  "spot an interruption loses the work since the last checkpoint; steady state: "
                  "simulation time 0 is a job's cutoff, so every job takes a whole period of "
                  "records, and $/month = the horizon's cost per job x jobs per month")
    metric_names = ("jobs_per_replication", "mean_job_hours", "p95_job_hours",
                    "jobs_missing_deadline", "job_overruns", "interruptions", "lost_work_hours",
                    "records_pending_at_horizon", "records_arrived", "records_awaiting_next_job",
                    "records_unfinished_at_horizon", "jobs_paid_in_horizon",
                    "checkpoint_interval_s", "throughput_per_job_rps")

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
        origin = steady_origin(build_arrivals(workload, inputs), design.schedule)
        _check_horizon(context, origin)
        _check_checkpoints(context, float(service.mean_s[design.batching.max_batch]), interval)
        sim = simulate(BatchSpec(
            arrivals=origin.arrivals, service=service, nodes=f.nodes,
            workers_per_node=f.workers_per_node, max_batch=design.batching.max_batch,
            period_s=design.schedule.period_s, run=context.run_spec(),
            offset_s=origin.offset_s, at_s=origin.at_s,
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
        steady = SteadyStateCost(
            periods_in_horizon=metrics["jobs_paid_in_horizon"],
            periods_per_month=context.hours_per_month * 3600.0 / period,
            detail=f"a job every {period / 3600:g} h on average")
        warnings = _warnings(design, quotes, metrics, sim.n_jobs, inputs, workload)
        warnings += _steady_warnings(metrics, sim, origin, period)
        return PatternRun(
            usage=usage, fleet=fleet, batching=ScheduleBatching(period, design.batching.max_batch),
            service_time=service.description, arrivals=describe_arrivals(workload.arrivals),
            timeline=timeline_result(usage.timeline), slo=slo, pattern_metrics=metrics,
            warnings=tuple(warnings), steady_state=steady)


@dataclass(frozen=True)
class SteadyOrigin:
    """Where simulation time 0 sits: on a job's cutoff, so the first job takes a whole period.

    ``arrivals`` (a diurnal curve's ``start_hour`` moved with the origin), the schedule's
    ``offset_s`` and ``at_s`` in the moved time, and ``aligned`` (False for a replayed trace,
    whose times cannot move: its first job may take a partial period)."""

    arrivals: Arrivals
    offset_s: float
    at_s: tuple[float, ...] | None
    aligned: bool


def steady_origin(arrivals: Arrivals, schedule: schema.Schedule) -> SteadyOrigin:
    """Move time 0 onto a cutoff of ``schedule`` (the clock phase of jobs against a diurnal
    curve is unchanged: both move together). A job at time 0 has nothing to do and does not
    count, so the first job inside the horizon takes exactly one period of records, and so
    does every later one: the horizon holds whole periods, each record processed once."""
    at = schedule.at_s
    if isinstance(arrivals, TraceArrivals):
        return SteadyOrigin(arrivals, schedule.offset_s, at, aligned=False)
    clock0 = 3600.0 * arrivals.start_hour if isinstance(arrivals, DiurnalArrivals) else 0.0
    if at is None:
        assert schedule.period_s is not None
        shift = (schedule.offset_s - 0.0) % schedule.period_s
    else:
        shift = min((a - clock0) % DAY_S for a in at)
    if isinstance(arrivals, DiurnalArrivals):
        moved = dataclasses.replace(arrivals,
                                    start_hour=(arrivals.start_hour + shift / 3600.0) % 24.0)
        return SteadyOrigin(moved, 0.0, at, aligned=True)
    return SteadyOrigin(arrivals, 0.0, None if at is None
                        else tuple(sorted((a - shift) % DAY_S for a in at)), aligned=True)


def _checkpoint_interval(design: schema.BatchDesign, rate: float) -> float | None:
    ck = design.checkpoint
    if ck is None:
        return None
    if ck.interval_s != "young_daly":
        return ck.interval_s
    mtbf_s = 3600.0 / (design.fleet.nodes * rate) if rate > 0 else None
    return young_daly_interval_s(max(ck.cost_s, 1e-9), mtbf_s) if mtbf_s else None


MAX_CHECKPOINTS_PER_JOB = 10_000_000
"""Most checkpoints a job may expect: the kernel steps through each (a 1e-9 s interval, or a
service time of 1.7e10 ms per record with a 30 min interval, ran for hours)."""


def _check_checkpoints(context: DesignContext, batch_s: float, interval: float | None) -> None:
    """Refuse a checkpoint interval that splits a job's expected work (the records of its
    longest period at the gang's throughput; traces are not sized here) into more than
    :data:`MAX_CHECKPOINTS_PER_JOB` segments (input error)."""
    arrivals, design = context.workload.arrivals, context.design
    rate = getattr(arrivals, "rate_rps", None) or getattr(arrivals, "mean_rate_rps", None)
    if interval is None or rate is None:
        return
    sched, f = design.schedule, design.fleet
    if sched.period_s is not None:
        period = sched.period_s
    else:
        starts = sorted(sched.at_s or ())
        period = max(b - a for a, b in zip(starts, [*starts[1:], starts[0] + DAY_S], strict=True))
    throughput = f.nodes * f.workers_per_node * design.batching.max_batch / batch_s
    work_s = rate * period / throughput
    if work_s / interval <= MAX_CHECKPOINTS_PER_JOB:
        return
    index = context.scenario.designs.index(design)
    derived = design.checkpoint.interval_s == "young_daly"
    field = "checkpoint.cost_s" if derived else "checkpoint.interval_s"
    raise ScenarioError(
        f"designs[{index}].{field}: a job of about {work_s:,.3g} s of work ({rate * period:,.3g} "
        f"records at {throughput:,.3g} records/s) would write {work_s / interval:,.3g} "
        f"checkpoints, one every {interval:g} s (more than {MAX_CHECKPOINTS_PER_JOB:,}); "
        "lengthen the interval, or check the service time")


def _check_horizon(context: DesignContext, origin: SteadyOrigin) -> None:
    """Refuse a horizon that holds no job once time 0 sits on a cutoff (input error)."""
    sched, horizon = context.design.schedule, context.scenario.horizon_s
    start_hour = (origin.arrivals.start_hour if isinstance(origin.arrivals, DiurnalArrivals)
                  else 0.0)
    def starts(until: float):
        return scheduled_starts_s(until, sched.period_s, origin.offset_s, origin.at_s,
                                  start_hour)

    if starts(horizon).size == 0:
        index = context.scenario.designs.index(context.design)
        first = float(starts(horizon + 2 * 86400.0 + 2 * (sched.period_s or 0.0))[0])
        long_period = sched.period_s is not None and sched.period_s > horizon
        field = (f"designs[{index}].schedule.period_s: {sched.period_s:,.0f} s is longer than "
                 "horizon_s; " if long_period else "")
        raise ScenarioError(
            f"{field}horizon_s: {horizon:,.0f} s holds no job of designs[{index}] "
            f"({context.design.name}): the first job of the steady state runs {first:,.0f} s "
            "after a cutoff; shorten the period, or make horizon_s at least two periods "
            f"({2 * first:,.0f} s) so that every job takes a whole period of records")


def _jobs_paid(sim: BatchSimResult) -> float:
    """Jobs the horizon paid for, per replication: each job counts by the share of its nodes'
    time inside the horizon (a job cut by the horizon counts in part; none ran: 0)."""
    if sim.n_jobs == 0:
        return 0.0
    start, end = sim.job_column("start_s"), sim.job_column("end_s")
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.clip((np.minimum(end, sim.horizon_s) - start) / (end - start), 0.0, 1.0)
    inside = np.where(np.isfinite(end), inside, 1.0)
    return float(inside.sum(axis=1).mean())


def _metrics(sim: BatchSimResult, interval: float | None, interruptions: float) -> dict:
    durations = sim.job_durations_s()
    finite = durations[np.isfinite(durations)]
    arrived = sim.records_arrived("horizon")
    taken = sim.job_column("records").sum(axis=1)
    awaiting = arrived - taken
    return {
        "jobs_per_replication": float(sim.n_jobs),
        "mean_job_hours": float(finite.mean()) / 3600.0 if finite.size else None,
        "p95_job_hours": float(np.percentile(finite, 95)) / 3600.0 if finite.size else None,
        "jobs_missing_deadline": float(np.mean(sim.jobs_missing_deadline())),
        "job_overruns": float(np.mean(sim.overruns())),
        "interruptions": interruptions,
        "lost_work_hours": float(np.mean(sim.lost_work_s())) / 3600.0,
        "records_pending_at_horizon": float(np.mean(sim.records_pending("horizon"))),
        "records_awaiting_next_job": float(np.mean(awaiting)),
        "records_unfinished_at_horizon": float(np.mean(sim.records_pending("horizon")
                                                       - awaiting)),
        "records_arrived": float(np.mean(arrived)),
        "jobs_paid_in_horizon": _jobs_paid(sim),
        "checkpoint_interval_s": interval,
        "throughput_per_job_rps": sim.throughput_rps,
    }


def _steady_warnings(metrics: dict, sim: BatchSimResult, origin: SteadyOrigin,
                     period_s: float) -> list[DesignWarning]:
    """Flag work the horizon's jobs left unfinished, a horizon with no whole job, and a trace
    whose first job takes a partial period."""
    out = []
    arrived = metrics["records_arrived"]
    unfinished = metrics["records_unfinished_at_horizon"]
    if sim.n_jobs == 0 or metrics["jobs_paid_in_horizon"] < 1.0:
        out.append(DesignWarning(
            "work_pending", f"no whole job ran inside the {sim.horizon_s / 3600:g} h horizon "
            f"(a job every {period_s / 3600:g} h): the cost is not a steady-state figure; "
            "make the horizon at least two periods"))
    elif arrived > 0 and unfinished > PENDING_LIMIT * arrived:
        out.append(DesignWarning(
            "work_pending", f"{unfinished:,.0f} records ({unfinished / arrived:.1%} of "
            "arrivals) were taken by jobs still running at the horizon: their cost counts "
            "only in part and their freshness not at all; lengthen the horizon or make the "
            "jobs faster"))
    if not origin.aligned:
        out.append(DesignWarning(
            "partial_day", "a replayed trace cannot be moved onto the schedule, so the first "
            "job may take less than a whole period of records; the cost per job averages it in"))
    return out


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
