"""Fleet dynamics inputs of the serving simulation: nodes, autoscaling, spot, provisioning.

Plain frozen values (no files, no YAML); ``docs/fleet-dynamics.md`` is the semantics both the
kernel and the SimPy reference implement.  A fleet with no autoscaling and no spot nodes never
changes, and the serving results equal the fixed-fleet ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from domain.errors import SimulationError

CLASS_BASE = 0  # on-demand or reserved capacity (the price layer decides which)
CLASS_SPOT = 1
CLASS_FALLBACK = 2  # on-demand launched because spot capacity stayed unavailable
N_CLASSES = 3
CLASS_NAMES = ("base", "spot", "on_demand_fallback")

STATE_PROVISIONING = 0
STATE_READY = 1
STATE_NOTICE = 2
STATE_DRAINING = 3
N_STATES = 4
STATE_NAMES = ("provisioning", "ready", "notice", "draining")

_Z95 = 1.6448536269514722

SERVING_AUTOSCALING_METRICS = ("utilization", "queue_per_worker")
"""Autoscaling metrics of the request-serving patterns (real time, streaming)."""
LLM_AUTOSCALING_METRICS = ("in_flight_per_replica", "waiting_per_replica", "kv_utilization")
"""Autoscaling metrics of the ``llm`` pattern (``docs/llm-serving.md``): its kernel feeds the
first two to the ``queue_per_worker`` rule and ``kv_utilization`` to the ``utilization`` rule."""


@dataclass(frozen=True)
class DelayComponent:
    """One part of a node's provisioning delay (cold start, image pull, model load...).

    ``sigma == 0`` is a constant ``median_s``; otherwise a lognormal with that median and
    log-standard-deviation ``sigma``.
    """

    name: str
    median_s: float
    sigma: float = 0.0

    @classmethod
    def from_p95(cls, name: str, median_s: float, p95_s: float | None) -> DelayComponent:
        """Return a lognormal component with the given median and 95th percentile (s)."""
        if p95_s is None or p95_s == median_s:
            return cls(name, median_s, 0.0)
        if not p95_s > median_s > 0:
            raise SimulationError(f"{name}: need p95_s > median_s > 0 (got {median_s}, {p95_s})")
        return cls(name, median_s, math.log(p95_s / median_s) / _Z95)

    def mean_s(self) -> float:
        """Return the component's mean (s)."""
        return self.median_s * math.exp(0.5 * self.sigma**2)


@dataclass(frozen=True)
class AutoscalingPolicy:
    """Target-tracking autoscaler (see ``docs/fleet-dynamics.md``)."""

    metric: str  # "utilization" or "queue_per_worker" (llm: LLM_AUTOSCALING_METRICS)
    target: float
    min_nodes: int
    max_nodes: int
    interval_s: float = 60.0
    window_s: float = 300.0
    scale_in_cooldown_s: float = 300.0
    schedule: tuple[tuple[float, float, int], ...] = ()  # (start_hour, end_hour, min_nodes)

    def scheduled_min(self, clock_hour: float) -> int:
        """Return the scheduled minimum at a clock hour in [0, 24) (0 when none applies)."""
        best = 0
        for start, end, n in self.schedule:
            inside = start <= clock_hour < end if start <= end else (
                clock_hour >= start or clock_hour < end)
            if inside:
                best = max(best, n)
        return best


@dataclass(frozen=True)
class SpotModel:
    """How spot nodes are interrupted.

    Attributes
    ----------
    interruptions_per_hour : float
        Poisson rate per spot node (ignored when a trace is given).
    notice_s : float
        Warning before the node dies (AWS 120 s, GCP 30 s).
    replacement_delay_s : float
        From the notice to the replacement launch.
    fallback_to_on_demand_after_s : float or None
        A spot launch that waited this long for capacity launches on-demand instead.
    trace_times_s, trace_capacity : float64[n], int64[n]
        Capacity series (spot nodes available) at tick times, for trace replay; empty = Poisson.
    """

    interruptions_per_hour: float = 0.0
    notice_s: float = 120.0
    replacement_delay_s: float = 0.0
    fallback_to_on_demand_after_s: float | None = None
    trace_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    trace_capacity: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @property
    def replays_trace(self) -> bool:
        """Return whether interruptions come from a capacity trace."""
        return self.trace_times_s.size > 0


@dataclass(frozen=True)
class FleetSpec:
    """A serving fleet: nodes of one instance type, their purchase classes and dynamics.

    Attributes
    ----------
    workers_per_node : int
        Workers (GPUs) per node.
    initial_nodes : int
        Nodes ``READY`` at t = 0.
    max_nodes : int
        Node slots (the fleet never exceeds this).
    on_demand_base : int
        The first nodes launched at t = 0 are class 0 and never scaled in.
    extra_is_spot : bool
        Whether nodes beyond the base are spot (class 1) or base capacity (class 0).
    autoscaling : AutoscalingPolicy or None
        None = the fleet size only changes by spot interruptions and replacements.
    spot : SpotModel or None
        Needed when ``extra_is_spot``.
    provisioning : tuple of DelayComponent
        The delay from launch to ``READY`` is the sum of these components (empty = 0 s).
    start_hour : float
        Clock hour at simulation time 0 (for scheduled minimums).
    deadline_s : float or None
        Queued requests older than this are dropped when a batch is formed.
    """

    workers_per_node: int
    initial_nodes: int
    max_nodes: int
    on_demand_base: int = 0
    extra_is_spot: bool = False
    autoscaling: AutoscalingPolicy | None = None
    spot: SpotModel | None = None
    provisioning: tuple[DelayComponent, ...] = ()
    start_hour: float = 0.0
    deadline_s: float | None = None

    @classmethod
    def fixed(cls, n_nodes: int, workers_per_node: int = 1) -> FleetSpec:
        """Return a fleet of ``n_nodes`` that never changes."""
        return cls(workers_per_node=workers_per_node, initial_nodes=n_nodes, max_nodes=n_nodes,
                   on_demand_base=n_nodes)

    @property
    def is_static(self) -> bool:
        """Return whether the fleet can never change (no autoscaling, no spot, no deadline)."""
        return self.autoscaling is None and not self.extra_is_spot

    @property
    def max_workers(self) -> int:
        """Return the most workers the fleet can have."""
        return self.max_nodes * self.workers_per_node

    def check(self, metrics: tuple[str, ...] = SERVING_AUTOSCALING_METRICS) -> None:
        """Raise :class:`SimulationError` for an inconsistent fleet.

        ``metrics`` are the autoscaling metrics the calling pattern measures (the ``llm``
        pattern passes :data:`LLM_AUTOSCALING_METRICS`).
        """
        if self.workers_per_node < 1 or self.max_nodes < 1:
            raise SimulationError("workers_per_node and max_nodes must be >= 1")
        if not 0 <= self.initial_nodes <= self.max_nodes:
            raise SimulationError(
                f"initial_nodes must be in [0, max_nodes] (got {self.initial_nodes}, "
                f"max {self.max_nodes})")
        if not 0 <= self.on_demand_base <= self.initial_nodes:
            raise SimulationError("on_demand_base must be in [0, initial_nodes]")
        if self.extra_is_spot and self.spot is None:
            raise SimulationError("a fleet with spot nodes needs a spot interruption model")
        a = self.autoscaling
        if a is not None:
            if a.metric not in metrics:
                raise SimulationError(f"unknown autoscaling metric {a.metric!r}; this pattern "
                                      f"measures {', '.join(metrics)}")
            if not a.target > 0 or not 0 <= a.min_nodes <= a.max_nodes <= self.max_nodes:
                raise SimulationError("autoscaling needs target > 0 and min <= max <= max_nodes")
            if not a.interval_s > 0 or a.window_s < a.interval_s:
                raise SimulationError("autoscaling needs interval_s > 0 and window_s >= interval")
            ratio = a.window_s / a.interval_s
            if abs(ratio - round(ratio)) > 1e-9:
                raise SimulationError(
                    f"autoscaling window_s must be a multiple of interval_s (got "
                    f"{a.window_s} and {a.interval_s})")
        s = self.spot
        if s is not None:
            if s.interruptions_per_hour < 0 or s.notice_s < 0 or s.replacement_delay_s < 0:
                raise SimulationError("spot rates and delays must be >= 0")
            if s.trace_times_s.size != s.trace_capacity.size:
                raise SimulationError("spot trace times and capacities differ in length")
            if s.trace_times_s.size and (np.diff(s.trace_times_s) <= 0).any():
                raise SimulationError("spot trace tick times must increase")
        for c in self.provisioning:
            if c.median_s < 0 or c.sigma < 0:
                raise SimulationError(f"provisioning component {c.name} must be >= 0")
