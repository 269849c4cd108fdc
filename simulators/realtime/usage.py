"""The real-time simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from domain.purchase import Purchase
from simulators.core.fleet import CLASS_BASE, CLASS_FALLBACK, CLASS_SPOT
from simulators.core.hourly import hourly_node_hours
from simulators.core.usage import (
    Distribution,
    PurchaseUsage,
    QueueStats,
    Timeline,
    Usage,
    Work,
)
from simulators.realtime import _layout as rk
from simulators.realtime.api import RealtimeSimResult

CLASS_SERIES = {CLASS_BASE: "base", CLASS_SPOT: "spot", CLASS_FALLBACK: "on_demand_fallback"}
"""Node classes and the names of their timeline series (``nodes_<name>``)."""


def class_purchases(base_purchase: str) -> dict[int, str]:
    """Map node classes to purchase options: the base nodes are bought as ``base_purchase``
    (on-demand or reserved), spot nodes as spot, fallback nodes on demand."""
    return {CLASS_BASE: base_purchase, CLASS_SPOT: Purchase.SPOT,
            CLASS_FALLBACK: Purchase.ON_DEMAND}


def purchase_usage(sim: RealtimeSimResult, base_purchase: str, priced: Collection[str], *,
                   busy_gpu_s_by_class: np.ndarray | None = None) -> tuple[PurchaseUsage, ...]:
    """Return the node usage of each purchase option in ``priced``, in node-class order.

    ``sim`` is a real-time result or one with the same node accounts and timeline (the llm
    pattern's); ``busy_gpu_s_by_class`` float64[R, class] gives its busy GPU-seconds in the
    window (default: the real-time result's busy worker-seconds, one worker per GPU).
    """
    node_h = sim.node_seconds("horizon").sum(axis=2)  # [R, class]
    node_w = sim.node_seconds("window").mean(axis=0)
    busy = sim.busy_worker_s_by_class("window") if busy_gpu_s_by_class is None \
        else busy_gpu_s_by_class
    busy_w = busy.mean(axis=0)
    tl = sim.timeline_per_replication()
    sums: dict[str, list[float]] = {}
    hourly: dict[str, np.ndarray] = {}
    held: dict[str, np.ndarray] = {}
    for cls, purchase in class_purchases(base_purchase).items():
        acc = sums.setdefault(purchase, [0.0, 0.0])
        acc[0] += float(node_w[cls].sum())
        acc[1] += float(busy_w[cls])
        held[purchase] = held.get(purchase, 0.0) + node_h[:, cls]
        series = hourly_node_hours(tl["start_s"], tl["width_s"], tl[f"nodes_{CLASS_SERIES[cls]}"],
                                   sim.horizon_s)
        hourly[purchase] = hourly.get(purchase, 0.0) + series
    return tuple(PurchaseUsage(p, hourly[p], held[p], node_s, busy)  # type: ignore[arg-type]
                 for p, (node_s, busy) in sums.items() if p in priced)


def timeline(sim: RealtimeSimResult) -> Timeline:
    """Return the replication-mean timeline: arrivals, queue, busy workers, nodes, utilization."""
    tl = sim.timeline_mean()
    series = {
        "arrivals_per_s": tl["arrivals"] / tl["width_s"],
        "mean_queue": tl["mean_queue"],
        "mean_busy_workers": tl["mean_busy_workers"],
        "requeued": tl["requeued"],
        "dropped": tl["dropped"],
    }
    series.update({k: v for k, v in tl.items() if k.startswith("nodes_")})
    serving = tl["nodes_ready"] + tl["nodes_notice"] + tl["nodes_draining"]
    workers_per_node = 1 if sim.fleet is None else sim.fleet.workers_per_node
    with np.errstate(invalid="ignore", divide="ignore"):
        series["utilization"] = np.where(
            serving > 0, tl["mean_busy_workers"] / (serving * workers_per_node), np.nan)
    return Timeline(sim.timeline_bin_s, tl["start_s"], series)


def events(sim: RealtimeSimResult) -> dict[str, float]:
    """Return the fleet's event counts, means per replication."""
    stat = sim.stats.mean(axis=0)
    return {
        "preemptions": float(stat[rk.S_N_PREEMPTIONS]),
        "preemption_events": float(stat[rk.S_N_PREEMPTION_EVENTS]),
        "requeued_requests": float(stat[rk.S_N_REQUEUED]),
        "dropped_requests": float(stat[rk.S_N_DROPPED]),
        "stranded_requests": float(stat[rk.S_N_STRANDED]),
        "launches_base": float(stat[rk.S_N_LAUNCH_BASE]),
        "launches_spot": float(stat[rk.S_N_LAUNCH_SPOT]),
        "launches_on_demand_fallback": float(stat[rk.S_N_LAUNCH_FALLBACK]),
        "launches_without_slot": float(stat[rk.S_N_LAUNCH_NO_SLOT]),
        "scale_out_actions": float(stat[rk.S_N_SCALE_OUT]),
        "scale_in_actions": float(stat[rk.S_N_SCALE_IN]),
        "max_nodes": float(sim.stats[:, rk.S_MAX_NODES].max()),
    }


def realtime_usage(sim: RealtimeSimResult, *, base_purchase: str,
                   priced: Collection[str]) -> Usage:
    """Return the usage of a real-time simulation.

    ``base_purchase`` is what the base node class is bought as; ``priced`` the purchase options
    to report (those the design can be priced for).
    """
    mean_wait = sim.mean_wait_s()
    mean_queue = sim.mean_queue_length()
    lam_w = sim.arrival_rate_rps() * mean_wait
    with np.errstate(invalid="ignore", divide="ignore"):
        little = float(np.nanmean(np.abs(mean_queue - lam_w) / np.maximum(lam_w, 1e-12)))
    return Usage(
        metric="latency",
        distribution=Distribution(mean_s=sim.mean_latency_s(), histograms=sim.latency_hist,
                                  slo_attainment=sim.slo_attainment()),
        purchases=purchase_usage(sim, base_purchase, priced),
        node_s_horizon=sim.node_seconds("horizon").sum(axis=(1, 2)),
        busy_gpu_s_horizon=sim.busy_worker_s() / sim.window_s * sim.horizon_s,
        utilization=sim.utilization(),
        throughput_rps=sim.throughput_rps(),
        arrival_rate_rps=sim.arrival_rate_rps(),
        work=Work(arrived_window=sim.n_requests(),
                  completed_window=sim.stat(rk.S_N_COMPLETED_IN_WINDOW),
                  completed_by_horizon=sim.stat(rk.S_N_COMPLETED_BY_HORIZON),
                  in_system_at_horizon=sim.stat(rk.S_N_IN_SYSTEM_AT_HORIZON),
                  dropped=sim.stat(rk.S_N_DROPPED)),
        horizon_s=sim.horizon_s,
        window_s=sim.window_s,
        timeline=timeline(sim),
        queue=QueueStats(wait=Distribution(mean_s=mean_wait, histograms=sim.wait_hist),
                         mean_batch_size=sim.mean_batch_size(),
                         mean_queue_length=mean_queue,
                         littles_law_relative_error=little if np.isfinite(little) else None),
        events=events(sim),
    )
