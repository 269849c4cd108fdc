"""Input checks of :func:`simulators.streaming.api.simulate_streaming`.

Every check raises :class:`~domain.errors.SimulationError` naming the parameter, the bad value
and the fix (after a semicolon).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from domain.errors import SimulationError
from simulators.core.fleet import AutoscalingPolicy, SpotModel
from simulators.core.service import ServiceTime


def check_basis(basis: str) -> None:
    """Raise unless ``basis`` is ``"horizon"`` or ``"window"``."""
    if basis not in ("horizon", "window"):
        raise SimulationError(
            f"basis must be 'horizon' or 'window' (got {basis!r}); pass one of those")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(x)


def check_inputs(service: ServiceTime, n_nodes: Any, workers_per_node: Any, window_s: Any,
                 max_batch: Any, horizon_s: Any, warmup_s: Any, n_replications: Any, seed: Any,
                 overhead_s: Any, slo_latency_s: Any, timeline_bin_s: Any) -> None:
    """Check the window, batching, run and output parameters."""
    if not (_is_int(n_nodes) and n_nodes >= 1):
        raise SimulationError(f"n_nodes must be an integer >= 1 (got {n_nodes!r}); "
                              "give the standing fleet at least one node")
    if not (_is_int(workers_per_node) and workers_per_node >= 1):
        raise SimulationError(
            f"workers_per_node must be an integer >= 1 (got {workers_per_node!r}); "
            "use the node's GPU count")
    if not (_finite(window_s) and window_s > 0):
        raise SimulationError(f"window_s must be a finite number > 0 (got {window_s!r}); "
                              "give the micro-batch interval in seconds, e.g. 60")
    if not (_is_int(max_batch) and max_batch >= 1):
        raise SimulationError(f"max_batch must be an integer >= 1 (got {max_batch!r}); "
                              "give the largest batch one worker runs")
    if service.max_batch < max_batch:
        raise SimulationError(
            f"max_batch {max_batch} exceeds the service time's largest batch size "
            f"{service.max_batch}; lower max_batch or extend the service-time table")
    if not (_finite(horizon_s) and horizon_s > 0):
        raise SimulationError(f"horizon_s must be a finite number > 0 (got {horizon_s!r}); "
                              "give the simulated time in seconds")
    if not (_finite(warmup_s) and 0 <= warmup_s < horizon_s):
        raise SimulationError(
            f"warmup_s must be in [0, horizon_s) (got {warmup_s!r} with horizon_s "
            f"{horizon_s!r}); shorten the warm-up or lengthen the horizon")
    if not (_is_int(n_replications) and n_replications >= 1):
        raise SimulationError(
            f"n_replications must be an integer >= 1 (got {n_replications!r}); use e.g. 10")
    if not (_is_int(seed) and seed >= 0):
        raise SimulationError(f"seed must be an integer >= 0 (got {seed!r}); use e.g. 1")
    if not (_finite(overhead_s) and overhead_s >= 0):
        raise SimulationError(f"overhead_s must be a finite number >= 0 (got {overhead_s!r});"
                              " use 0 for no per-window overhead")
    if slo_latency_s is not None and not (_finite(slo_latency_s) and slo_latency_s > 0):
        raise SimulationError(
            f"slo_latency_s must be a finite number > 0 or None (got {slo_latency_s!r}); "
            "give the latency target in seconds or leave it out")
    if not (_finite(timeline_bin_s) and timeline_bin_s > 0):
        raise SimulationError(
            f"timeline_bin_s must be a finite number > 0 (got {timeline_bin_s!r}); use 60")


def check_fleet(n_nodes: int, autoscaling: Any, provisioning_delay_s: Any, spot: Any,
                on_demand_base: Any, start_hour: Any = 0.0) -> None:
    """Check the fleet's dynamics: autoscaling (and the clock hour its schedule reads),
    provisioning delay, spot and on-demand base."""
    if not (_finite(start_hour) and 0 <= start_hour < 24):
        raise SimulationError(
            f"start_hour must be a clock hour in [0, 24) (got {start_hour!r}); use e.g. 0 for "
            "midnight")
    if autoscaling is not None:
        _check_autoscaling(autoscaling, n_nodes)
    d = provisioning_delay_s
    if not (_finite(d) and d >= 0):
        raise SimulationError(
            f"provisioning_delay_s must be a finite number >= 0 (got {d!r}); use the node's "
            "boot time in seconds")
    if not (_is_int(on_demand_base) and 0 <= on_demand_base <= n_nodes):
        raise SimulationError(
            f"on_demand_base must be an integer in [0, n_nodes] (got {on_demand_base!r} with "
            f"n_nodes {n_nodes}); keep at most n_nodes nodes on demand")
    if spot is not None:
        _check_spot(spot)


def _check_autoscaling(a: Any, n_nodes: int) -> None:
    if not isinstance(a, AutoscalingPolicy):
        raise SimulationError(
            f"autoscaling must be an AutoscalingPolicy or None (got {a!r}); build one with "
            "streaming_autoscaling(target_utilization, min_nodes, max_nodes, interval_s)")
    if a.metric != "utilization":
        raise SimulationError(
            f"autoscaling.metric must be 'utilization' for a streaming fleet (got {a.metric!r});"
            " streaming has no request queue to track")
    t = a.target
    if not (isinstance(t, (int, float)) and 0 < t <= 1):
        raise SimulationError(
            f"autoscaling.target (utilization) must be in (0, 1] (got {t!r}); use e.g. 0.6")
    if not (_is_int(a.min_nodes) and _is_int(a.max_nodes) and 1 <= a.min_nodes <= a.max_nodes):
        raise SimulationError(
            f"autoscaling needs integers 1 <= min_nodes <= max_nodes (got min_nodes "
            f"{a.min_nodes!r}, max_nodes {a.max_nodes!r}); raise max_nodes or lower min_nodes")
    if not a.min_nodes <= n_nodes <= a.max_nodes:
        raise SimulationError(
            f"n_nodes must be within [autoscaling.min_nodes, autoscaling.max_nodes] (got "
            f"{n_nodes!r} outside [{a.min_nodes}, {a.max_nodes}]); start inside the bounds")
    if not (_finite(a.interval_s) and a.interval_s > 0):
        raise SimulationError(
            f"autoscaling.interval_s must be a finite number > 0 (got {a.interval_s!r}); use 60")
    ratio = a.window_s / a.interval_s if _finite(a.window_s) else math.nan
    if not (ratio >= 1 - 1e-9 and abs(ratio - round(ratio)) <= 1e-9):
        raise SimulationError(
            f"autoscaling.window_s must be a multiple of interval_s (got {a.window_s!r} with "
            f"interval_s {a.interval_s!r}); use window_s = interval_s to measure one interval")
    if not (_finite(a.scale_in_cooldown_s) and a.scale_in_cooldown_s >= 0):
        raise SimulationError(
            f"autoscaling.scale_in_cooldown_s must be a finite number >= 0 (got "
            f"{a.scale_in_cooldown_s!r}); use 0 for none")
    for i, entry in enumerate(a.schedule):
        ok = len(entry) == 3 and _finite(entry[0]) and _finite(entry[1])
        if not (ok and 0 <= entry[0] < 24 and 0 <= entry[1] <= 24 and _is_int(entry[2])
                and 0 <= entry[2] <= a.max_nodes):
            raise SimulationError(
                f"autoscaling.schedule[{i}] must be (start_hour in [0, 24), end_hour in [0, 24], "
                f"min_nodes in [0, max_nodes]) (got {entry!r}); e.g. (8.0, 20.0, 2)")


def _check_spot(s: Any) -> None:
    if not isinstance(s, SpotModel):
        raise SimulationError(
            f"spot must be a SpotModel or None (got {s!r}); build one with "
            "SpotModel(interruptions_per_hour=..., notice_s=..., replacement_delay_s=...)")
    for name in ("interruptions_per_hour", "notice_s", "replacement_delay_s"):
        value = getattr(s, name)
        if not (_finite(value) and value >= 0):
            raise SimulationError(f"spot.{name} must be a finite number >= 0 (got {value!r}); "
                                  "give a rate per node-hour or a time in seconds")
    if s.replays_trace:
        raise SimulationError(
            f"spot capacity traces are not modelled for a streaming fleet (got a trace of "
            f"{s.trace_times_s.size} ticks); give interruptions_per_hour instead")
    if s.fallback_to_on_demand_after_s is not None:
        raise SimulationError(
            f"spot.fallback_to_on_demand_after_s has no effect without a capacity trace (got "
            f"{s.fallback_to_on_demand_after_s!r}); leave it None")
