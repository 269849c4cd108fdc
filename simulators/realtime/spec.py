"""The real-time pattern's typed spec and its one entry point."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.core.arrivals import Arrivals
from simulators.core.fleet import FleetSpec
from simulators.core.service import ServiceTime
from simulators.core.spec import RunSpec
from simulators.core.usage import ProgressCallback
from simulators.realtime.api import RealtimeSimResult, simulate_realtime


@dataclass(frozen=True)
class RealtimeSpec:
    """A fleet serving a request stream from one queue with dynamic batching."""

    arrivals: Arrivals
    service: ServiceTime
    fleet: FleetSpec
    max_batch: int
    max_wait_s: float
    run: RunSpec
    slo_latency_s: float | None = None
    timeline_bin_s: float = 60.0


def simulate(spec: RealtimeSpec, *, progress: ProgressCallback | None = None
             ) -> RealtimeSimResult:
    """Simulate ``spec`` (:func:`simulators.realtime.api.simulate_realtime` checks it)."""
    r = spec.run
    return simulate_realtime(
        arrivals=spec.arrivals, service=spec.service, fleet=spec.fleet,
        max_batch=spec.max_batch, max_wait_s=spec.max_wait_s, horizon_s=r.horizon_s,
        warmup_s=r.warmup_s, n_replications=r.n_replications, seed=r.seed,
        slo_latency_s=spec.slo_latency_s, timeline_bin_s=spec.timeline_bin_s, progress=progress)
