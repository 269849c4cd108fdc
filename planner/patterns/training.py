"""Training: one gang-scheduled run per replication, with checkpoints, spot and fallbacks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from planner import schema
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    PerRunCost,
    SloTarget,
    price_warnings,
    provisioning_of,
    purchases_with_fallback,
    spot_interruptions,
)
from planner.patterns.summary import quantile_estimate
from planner.pricing import PricedQuote
from planner.result_parts import DesignWarning, FleetResult
from simulators.core.usage import Usage
from simulators.training.api import TrainingSimResult
from simulators.training.checkpoints import predicted_waste_fraction, young_daly_interval_s
from simulators.training.spec import TrainingSpec, simulate
from simulators.training.usage import training_usage

TRAINING_REPLICATIONS_MIN = 2000
"""Training runs are cheap to simulate; at least this many replications give the completion
time's tail and the deadline probability with a tight interval."""


class TrainingPattern:
    """A job of so many GPU-hours on a gang of nodes; its completion time is the metric."""

    name = "training"
    metric = "completion_time"
    assumption = ("training: one run per replication (at least 2,000 replications), completion "
                  "time from submission; $/month = $/run x runs_per_month; the scenario horizon "
                  "does not apply")
    metric_names = ("gpu_hours", "gang_gpus", "ideal_hours", "mean_completion_hours",
                    "deadline_probability", "interruptions", "fallback_share",
                    "lost_compute_hours", "checkpoint_hours", "waste_fraction",
                    "checkpoint_interval_s", "young_daly_interval_s", "gang_mtbf_hours",
                    "predicted_waste_fraction", "replications", "run_cost_p50_usd",
                    "run_cost_p95_usd", "run_cost_max_usd")

    def purchases(self, design: schema.TrainingDesign) -> set[str]:
        """The fleet's purchase option, plus on-demand for the fallback of spot."""
        return purchases_with_fallback(design)

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate one run of the job per replication."""
        design, workload, scenario = context.design, context.workload, context.scenario
        f = design.fleet
        quote = quotes[f.purchase].quote
        warnings = price_warnings(quotes)
        gpus = quote.gpus
        if gpus is None:
            gpus = 1
            warnings.append(DesignWarning(
                "gpus_unknown", f"GPUs per {f.instance} node unknown: the gang is taken as 1 "
                "GPU per node"))
        spot = spot_interruptions(design, context.inputs, context.hours_per_month)
        plan = _checkpoints(design, 0.0 if spot is None else spot.per_node_hour)
        reserved = f.purchase in schema.COMMITTED
        n_rep = max(scenario.replications, TRAINING_REPLICATIONS_MIN)
        if context.progress is not None:
            context.progress(design.name, 0, 1)
        sim = simulate(_spec(design, workload, gpus, plan, n_rep, scenario.seed))
        if context.progress is not None:
            context.progress(design.name, 1, 1)
        usage = training_usage(sim, reserved_as=f.purchase if reserved else None,
                               main_purchase=f.purchase, priced=quotes)
        slo = None if workload.slo is None else SloTarget(workload.deadline_percentile,
                                                          workload.slo.latency_ms)
        metrics = _metrics(design, workload, sim, usage, gpus, plan, n_rep)
        warnings.extend(_warnings(workload, sim, metrics, plan))
        summary = (f"{f.nodes}x {f.instance} ({f.nodes * gpus} GPUs)\n{f.purchase}"
                   + ("" if plan.interval_s is None
                      else f", checkpoint every {plan.interval_s / 60:,.0f} min"))
        fleet = FleetResult(
            instance=f.instance, region=quote.region, purchase=f.purchase, nodes=f.nodes,
            workers_per_node=gpus, gpus_per_node=quote.gpus, gpu_model=quote.gpu_model,
            autoscaling=None, spot_interruptions=spot,
            node_hours={p.purchase: float(p.node_s_horizon.mean()) / 3600.0
                        for p in usage.purchases},
            mean_nodes=float(f.nodes), max_nodes=float(f.nodes),
            preemptions=usage.events["interruptions"], summary=summary)
        return PatternRun(
            usage=usage, fleet=fleet, batching=None,
            service_time=f"{workload.gpu_hours:g} GPU-hours on {f.nodes * gpus} GPUs",
            arrivals=f"one run per replication, {workload.runs_per_month:g} "
                     f"run{'' if workload.runs_per_month == 1 else 's'} per month",
            timeline=None, slo=slo, pattern_metrics=metrics, warnings=tuple(warnings),
            per_run=PerRunCost(workload.runs_per_month))


@dataclass(frozen=True)
class _Checkpoints:
    """The gang's interruption rate and the checkpoint interval chosen against it."""

    rate_per_node_hour: float
    mtbf_s: float | None
    young_daly_s: float | None
    interval_s: float | None


def _checkpoints(design: schema.TrainingDesign, rate: float) -> _Checkpoints:
    ck = design.checkpoint
    mtbf_s = 3600.0 / (design.fleet.nodes * rate) if rate > 0 else None
    young = None if (ck is None or mtbf_s is None or ck.cost_s <= 0) else \
        young_daly_interval_s(ck.cost_s, mtbf_s)
    interval = None if ck is None else (young if ck.interval_s == "young_daly"
                                        else ck.interval_s)
    return _Checkpoints(rate, mtbf_s, young, interval)


def _spec(design: schema.TrainingDesign, workload: schema.TrainingWorkload, gpus: int,
          plan: _Checkpoints, n_rep: int, seed: int) -> TrainingSpec:
    f, ck, sp = design.fleet, design.checkpoint, design.fleet.spot
    reserved = f.purchase in schema.COMMITTED
    deadline_s = None if workload.deadline_h is None else workload.deadline_h * 3600.0
    return TrainingSpec(
        gpu_hours=workload.gpu_hours, nodes=f.nodes, gpus_per_node=gpus,
        purchase="reserved" if reserved else ("spot" if f.purchase == "spot" else "on_demand"),
        n_replications=n_rep, seed=seed, interruptions_per_node_hour=plan.rate_per_node_hour,
        checkpoint_interval_s=plan.interval_s,
        checkpoint_cost_s=0.0 if ck is None else ck.cost_s,
        restart_overhead_s=design.restart_overhead_s, provisioning=provisioning_of(f) or 0.0,
        replacement_delay_s=0.0 if sp is None else sp.replacement_delay_s,
        fallback_after_interruptions=None if sp is None else sp.fallback_after_interruptions,
        fallback_near_deadline=bool(sp is not None and sp.fallback_near_deadline
                                    and deadline_s is not None),
        fallback_margin_s=0.0 if sp is None else sp.fallback_margin_s,
        deadline_s=deadline_s, reserved_hours=design.reserved_hours)


def _metrics(design: schema.TrainingDesign, workload: schema.TrainingWorkload,
             sim: TrainingSimResult, usage: Usage, gpus: int, plan: _Checkpoints,
             n_rep: int) -> dict:
    f, ck, sp = design.fleet, design.checkpoint, design.fleet.spot
    interval, mtbf_s = plan.interval_s, plan.mtbf_s
    return {
        "gpu_hours": workload.gpu_hours,
        "gang_gpus": f.nodes * gpus,
        "ideal_hours": workload.gpu_hours / (f.nodes * gpus),
        "mean_completion_hours": float(usage.distribution.mean_s.mean()) / 3600.0,
        "deadline_probability": sim.deadline_probability(),
        "interruptions": usage.events["interruptions"],
        "fallback_share": float(sim.fell_back().mean()),
        "lost_compute_hours": float(sim.lost_compute_s().mean()) / 3600.0,
        "checkpoint_hours": float(sim.checkpoint_s().mean()) / 3600.0,
        "waste_fraction": float(np.mean(sim.waste_fraction())),
        "checkpoint_interval_s": interval,
        "young_daly_interval_s": plan.young_daly_s,
        "gang_mtbf_hours": None if mtbf_s is None else mtbf_s / 3600.0,
        "predicted_waste_fraction": None if (interval is None or mtbf_s is None or ck is None)
        else predicted_waste_fraction(interval, ck.cost_s, mtbf_s,
                                      (0.0 if sp is None else sp.replacement_delay_s)
                                      + design.restart_overhead_s),
        "replications": n_rep,
    }


def _warnings(workload: schema.TrainingWorkload, sim: TrainingSimResult, metrics: dict,
              plan: _Checkpoints) -> list[DesignWarning]:
    out = []
    interval, young = plan.interval_s, plan.young_daly_s
    if interval is not None and young is not None and not 0.5 <= interval / young <= 2.0:
        out.append(DesignWarning(
            "model", f"checkpoint interval {interval:,.0f} s is far from Young/Daly's "
            f"sqrt(2 x cost x MTBF) = {young:,.0f} s: expect more waste"))
    if workload.slo is not None:
        target = workload.deadline_percentile
        met = (metrics["deadline_probability"] or 0) * 100
        achieved = quantile_estimate(sim.completion_time_s()[:, 0] * 1000.0,
                                     target / 100.0).mean
        if achieved is None or achieved > workload.slo.latency_ms:
            out.append(DesignWarning(
                "deadline_missed", f"the deadline of {workload.deadline_h:g} h is met in "
                f"{met:.1f}% of runs, below {target:g}%"))
    return out
