"""The streaming simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

import numpy as np

from simulators.core.hourly import hourly_node_hours
from simulators.core.usage import Distribution, PurchaseUsage, Timeline, Usage, Work
from simulators.streaming.api import StreamingSimResult


def streaming_usage(sim: StreamingSimResult, *, purchase: str) -> Usage:
    """Return the usage of a streaming simulation whose nodes are bought as ``purchase``.

    Unit costs divide the window's cost by the records that arrived in the window (each is
    processed once its window closes; the queue of windows drains after the horizon).
    """
    tl = sim.timeline_per_replication()
    counts = sim.counts()
    mtl = sim.timeline_mean()
    scaling = sim.scaling_counts()
    return Usage(
        metric="latency",
        distribution=Distribution(mean_s=sim.mean_latency_s(), histograms=sim.latency_hist,
                                  slo_attainment=sim.slo_attainment()),
        purchases=(PurchaseUsage(
            purchase,  # type: ignore[arg-type]
            hourly_node_hours(tl["start_s"], tl["width_s"], tl["nodes"], sim.horizon_s),
            sim.node_seconds("horizon"),
            float(sim.node_seconds("window").mean()),
            float(sim.busy_worker_s("window").mean())),),
        node_s_horizon=sim.node_seconds("horizon"),
        busy_gpu_s_horizon=sim.busy_worker_s("horizon"),
        utilization=sim.utilization(),
        throughput_rps=sim.throughput_rps(),
        arrival_rate_rps=sim.arrival_rate_rps(),
        work=Work(arrived_window=counts["measured"], completed_window=counts["measured"],
                  completed_by_horizon=counts["processed_by_horizon"],
                  in_system_at_horizon=counts["in_system_at_horizon"],
                  dropped=np.zeros_like(counts["measured"])),
        horizon_s=sim.horizon_s,
        window_s=sim.measured_s,
        timeline=Timeline(sim.timeline_bin_s, mtl["start_s"], {
            "arrivals_per_s": mtl["arrivals"] / mtl["width_s"],
            "nodes": mtl["nodes"],
            "mean_busy_workers": mtl["busy_workers"],
            "backlog_records": mtl["backlog_records"]}),
        events={"scale_out_actions": float(scaling["scale_out"].mean()),
                "scale_in_actions": float(scaling["scale_in"].mean()),
                "max_nodes": float(scaling["max_nodes"].max())},
    )
