"""The batch pattern's typed spec and its one entry point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulators.batch.api import BatchSimResult, simulate_batch
from simulators.core.arrivals import Arrivals
from simulators.core.fleet import DelayComponent
from simulators.core.service import ServiceTime
from simulators.core.spec import RunSpec


@dataclass(frozen=True)
class BatchSpec:
    """Scheduled jobs on a gang of ``nodes``; see :func:`simulators.batch.api.simulate_batch`."""

    arrivals: Arrivals
    service: ServiceTime
    nodes: int
    workers_per_node: int
    max_batch: int
    period_s: float | None
    run: RunSpec
    offset_s: float = 0.0
    at_s: Sequence[float] | None = None
    provisioning: float | Sequence[DelayComponent] = 0.0
    startup_s: float = 0.0
    checkpoint_s: float | None = None
    checkpoint_cost_s: float = 0.0
    purchase: str = "on_demand"
    interruptions_per_node_hour: float = 0.0
    replacement_delay_s: float | None = None
    fallback_after: int | None = None
    deadline_s: float | None = None
    slo_freshness_s: float | None = None


def simulate(spec: BatchSpec) -> BatchSimResult:
    """Simulate ``spec`` (:func:`simulators.batch.api.simulate_batch` checks it)."""
    r = spec.run
    return simulate_batch(
        spec.arrivals, spec.service, spec.nodes, spec.workers_per_node, spec.max_batch,
        spec.period_s, r.horizon_s, r.warmup_s, r.n_replications, r.seed,
        offset_s=spec.offset_s, at_s=spec.at_s, provisioning=spec.provisioning,
        startup_s=spec.startup_s, checkpoint_s=spec.checkpoint_s,
        checkpoint_cost_s=spec.checkpoint_cost_s, purchase=spec.purchase,
        interruptions_per_node_hour=spec.interruptions_per_node_hour,
        replacement_delay_s=spec.replacement_delay_s, fallback_after=spec.fallback_after,
        deadline_s=spec.deadline_s, slo_freshness_s=spec.slo_freshness_s)
