"""The training pattern's typed spec and its one entry point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulators.core.fleet import DelayComponent
from simulators.training.api import TrainingSimResult, simulate_training


@dataclass(frozen=True)
class TrainingSpec:
    """A job of ``gpu_hours`` on a gang; see :func:`simulators.training.api.simulate_training`.

    Training simulates one run per replication from submission to completion, so it has no
    horizon or warm-up of its own.
    """

    gpu_hours: float
    nodes: int
    gpus_per_node: int
    purchase: str
    n_replications: int
    seed: int
    interruptions_per_node_hour: float = 0.0
    checkpoint_interval_s: float | None = None
    checkpoint_cost_s: float = 0.0
    restart_overhead_s: float = 0.0
    provisioning: float | Sequence[DelayComponent] = 0.0
    replacement_delay_s: float = 0.0
    fallback_after_interruptions: int | None = None
    fallback_near_deadline: bool = False
    fallback_margin_s: float = 0.0
    deadline_s: float | None = None
    reserved_hours: float | None = None


def simulate(spec: TrainingSpec) -> TrainingSimResult:
    """Simulate ``spec`` (:func:`simulators.training.api.simulate_training` checks it)."""
    return simulate_training(
        spec.gpu_hours, spec.nodes, spec.gpus_per_node, spec.purchase, spec.n_replications,
        spec.seed, interruptions_per_node_hour=spec.interruptions_per_node_hour,
        checkpoint_interval_s=spec.checkpoint_interval_s,
        checkpoint_cost_s=spec.checkpoint_cost_s, restart_overhead_s=spec.restart_overhead_s,
        provisioning=spec.provisioning, replacement_delay_s=spec.replacement_delay_s,
        fallback_after_interruptions=spec.fallback_after_interruptions,
        fallback_near_deadline=spec.fallback_near_deadline,
        fallback_margin_s=spec.fallback_margin_s, deadline_s=spec.deadline_s,
        reserved_hours=spec.reserved_hours)
