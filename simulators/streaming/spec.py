"""The streaming pattern's typed spec and its one entry point."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.core.arrivals import Arrivals
from simulators.core.fleet import AutoscalingPolicy, SpotModel
from simulators.core.service import ServiceTime
from simulators.core.spec import RunSpec
from simulators.core.usage import ProgressCallback
from simulators.streaming.api import StreamingSimResult, simulate_streaming


@dataclass(frozen=True)
class StreamingSpec:
    """Records collected in windows of ``window_s``, each processed in batches when it closes,
    on a fleet that may autoscale (the shared target-tracking rule) and hold spot nodes."""

    arrivals: Arrivals
    service: ServiceTime
    n_nodes: int
    workers_per_node: int
    window_s: float
    max_batch: int
    run: RunSpec
    overhead_s: float = 0.0
    autoscaling: AutoscalingPolicy | None = None
    slo_latency_s: float | None = None
    timeline_bin_s: float = 60.0
    provisioning_delay_s: float = 0.0
    spot: SpotModel | None = None
    on_demand_base: int = 0
    start_hour: float = 0.0


def simulate(spec: StreamingSpec, *, progress: ProgressCallback | None = None
             ) -> StreamingSimResult:
    """Simulate ``spec`` (:func:`simulators.streaming.api.simulate_streaming` checks it)."""
    r = spec.run
    return simulate_streaming(
        spec.arrivals, spec.service, spec.n_nodes, spec.workers_per_node, spec.window_s,
        spec.max_batch, r.horizon_s, r.warmup_s, r.n_replications, r.seed,
        overhead_s=spec.overhead_s, autoscaling=spec.autoscaling,
        slo_latency_s=spec.slo_latency_s, provisioning_delay_s=spec.provisioning_delay_s,
        spot=spec.spot, on_demand_base=spec.on_demand_base, start_hour=spec.start_hour,
        timeline_bin_s=spec.timeline_bin_s,
        progress=progress)
