"""The llm simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from simulators.core.usage import Timeline, Usage, Work
from simulators.llm.api import LlmSimResult
from simulators.realtime.usage import purchase_usage


def timeline(sim: LlmSimResult) -> Timeline:
    """Return the replication-mean timeline: arrivals, finished, running, waiting, KV, nodes."""
    tl = sim.timeline_mean()
    series = {
        "arrivals_per_s": tl["arrivals"] / tl["width_s"],
        "finished_per_s": tl["finished"] / tl["width_s"],
        "mean_running": tl["running"],
        "mean_waiting": tl["waiting"],
        "mean_busy_workers": tl["busy_replicas"],
        "kv_utilization": tl["kv_utilization"],
        "preemptions": tl["preemptions"],
        "rerouted": tl["rerouted"],
        "rejected": tl["rejected"],
    }
    series.update({k: v for k, v in tl.items() if k.startswith("nodes_")})
    serving = (tl["nodes_ready"] + tl["nodes_notice"] + tl["nodes_draining"]) * \
        sim.fleet.workers_per_node
    with np.errstate(invalid="ignore", divide="ignore"):
        series["utilization"] = np.where(serving > 0, tl["busy_replicas"] / serving, np.nan)
    return Timeline(sim.timeline_bin_s, tl["start_s"], series)


def events(sim: LlmSimResult) -> dict[str, float]:
    """Return the run's event counts, means per replication."""
    c = sim.counters()
    names = ("preemptions", "rerouted", "rejected", "stranded", "spot_preemptions",
             "spot_preemption_events", "scale_out", "scale_in", "launches_base",
             "launches_spot", "launches_on_demand_fallback", "launches_without_slot")
    out = {name: float(getattr(c, name).mean()) for name in names}
    out["kv_preemptions"] = out.pop("preemptions")
    out["rerouted_requests"] = out.pop("rerouted")
    out["rejected_requests"] = out.pop("rejected")
    out["stranded_requests"] = out.pop("stranded")
    out["preemptions"] = out.pop("spot_preemptions")
    out["preemption_events"] = out.pop("spot_preemption_events")
    out["scale_out_actions"] = out.pop("scale_out")
    out["scale_in_actions"] = out.pop("scale_in")
    out["max_nodes"] = float(c.max_nodes.max())
    return out


def llm_usage(sim: LlmSimResult, *, base_purchase: str, priced: Collection[str]) -> Usage:
    """Return the usage of an llm simulation.

    The metric is the end-to-end latency; work is requests (rejected ones are reported as
    dropped); utilisation is busy replica-seconds over serving replica-seconds in the window;
    busy GPU-seconds are busy replica-seconds times the engine's tensor parallelism.
    ``base_purchase`` is what the base node class is bought as; ``priced`` the purchase
    options to report.
    """
    c = sim.counters()
    tp = sim.engine.tensor_parallel
    return Usage(
        metric="latency",
        distribution=sim.e2e,
        purchases=purchase_usage(
            sim, base_purchase, priced,
            busy_gpu_s_by_class=sim.busy_replica_s_by_class("window") * tp),
        node_s_horizon=sim.node_seconds("horizon").sum(axis=(1, 2)),
        busy_gpu_s_horizon=sim.busy_replica_s("horizon") * tp,
        utilization=sim.utilization(),
        throughput_rps=sim.throughput_rps(),
        arrival_rate_rps=sim.arrival_rate_rps(),
        work=Work(arrived_window=c.arrived, completed_window=c.finished_by_horizon,
                  completed_by_horizon=c.finished_by_horizon,
                  in_system_at_horizon=c.in_system_at_horizon, dropped=c.rejected),
        horizon_s=sim.horizon_s,
        window_s=sim.window_s,
        timeline=timeline(sim),
        queue=None,
        events=events(sim),
    )
