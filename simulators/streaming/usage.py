"""The streaming simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

import numpy as np

from domain.purchase import Purchase
from simulators.core.hourly import hourly_node_hours
from simulators.core.usage import Distribution, PurchaseUsage, Timeline, Usage, Work
from simulators.streaming.api import StreamingSimResult


def purchase_usage(sim: StreamingSimResult, base_purchase: str) -> tuple[PurchaseUsage, ...]:
    """Return the node usage by purchase option: the on-demand or committed nodes as
    ``base_purchase`` (left out when a spot fleet has no on-demand base), then spot nodes."""
    tl = sim.timeline_per_replication()
    spot = sim.spot is not None
    spot_s = sim.spot_node_seconds("horizon")
    spot_busy = sim.spot_counts()["busy_spot_worker_s"]
    nodes = tl["nodes"] - tl["nodes_spot"] if spot else tl["nodes"]
    out = []
    if not spot or sim.on_demand_base > 0:
        out.append(PurchaseUsage(
            base_purchase,  # type: ignore[arg-type]
            hourly_node_hours(tl["start_s"], tl["width_s"], nodes, sim.horizon_s),
            sim.node_seconds("horizon") - spot_s,
            float((sim.node_seconds("window") - sim.spot_node_seconds("window")).mean()),
            float((sim.busy_worker_s("window") - spot_busy).mean())))
    if spot:
        out.append(PurchaseUsage(
            Purchase.SPOT, hourly_node_hours(tl["start_s"], tl["width_s"], tl["nodes_spot"],
                                             sim.horizon_s),
            spot_s, float(sim.spot_node_seconds("window").mean()), float(spot_busy.mean())))
    return tuple(out)


def streaming_usage(sim: StreamingSimResult, *, purchase: str) -> Usage:
    """Return the usage of a streaming simulation whose nodes are bought as ``purchase``.

    With ``purchase`` spot, the spot nodes are priced as spot and the on-demand base (if any) as
    on-demand.  Unit costs divide the window's cost by the records that arrived in the window
    (each is processed once its window closes; the queue of windows drains after the horizon).
    """
    counts = sim.counts()
    mtl = sim.timeline_mean()
    scaling = sim.scaling_counts()
    spot = sim.spot_counts()
    series = {"arrivals_per_s": mtl["arrivals"] / mtl["width_s"], "nodes": mtl["nodes"],
              "mean_busy_workers": mtl["busy_workers"],
              "backlog_records": mtl["backlog_records"]}
    if sim.spot is not None:
        series["nodes_spot"] = mtl["nodes_spot"]
    return Usage(
        metric="latency",
        distribution=Distribution(mean_s=sim.mean_latency_s(), histograms=sim.latency_hist,
                                  slo_attainment=sim.slo_attainment()),
        purchases=purchase_usage(
            sim, Purchase.ON_DEMAND if purchase == Purchase.SPOT else purchase),
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
        timeline=Timeline(sim.timeline_bin_s, mtl["start_s"], series),
        events={"scale_out_actions": float(scaling["scale_out"].mean()),
                "scale_in_actions": float(scaling["scale_in"].mean()),
                "max_nodes": float(scaling["max_nodes"].max()),
                "interruptions": float(spot["interruptions"].mean()),
                "reprocessed_records": float(spot["reprocessed_records"].mean())},
    )
