"""The batch simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np

from domain.purchase import Purchase
from simulators.batch.api import BatchSimResult
from simulators.core.hourly import job_profile
from simulators.core.usage import Distribution, PurchaseUsage, Timeline, Usage, Work

KERNEL_OPTIONS = (Purchase.ON_DEMAND, Purchase.SPOT)
"""The kernel's node-second columns: nodes bought on demand (or reserved), and spot nodes."""


def job_timeline(starts: np.ndarray, ends: np.ndarray, nodes: int, horizon_s: float) -> Timeline:
    """Mean nodes held per bin (a gang holds its nodes from its job's start to its end)."""
    bin_s = max(60.0, math.ceil(horizon_s / 2000.0 / 60.0) * 60.0)
    n_bins = max(int(math.ceil(horizon_s / bin_s)), 1)
    edges = np.arange(n_bins + 1) * bin_s
    edges[-1] = min(edges[-1], horizon_s)
    held = np.zeros(n_bins)
    for s_, e_ in zip(starts.ravel(), ends.ravel()):
        if not np.isfinite(s_) or s_ >= horizon_s:
            continue
        e_ = min(e_, horizon_s)
        held += np.clip(np.minimum(e_, edges[1:]) - np.maximum(s_, edges[:-1]), 0, None)
    width = np.diff(edges)
    return Timeline(bin_s, edges[:-1], {"nodes": held * nodes / starts.shape[0] / width})


def purchase_usage(sim: BatchSimResult, *, base_purchase: str, main_purchase: str,
                   priced: Collection[str]) -> tuple[PurchaseUsage, ...]:
    """Return the usage of each purchase option in ``priced`` that the jobs used (the main
    one always), with each job's node-hours in the hours it ran."""
    node_s = sim.node_seconds("horizon")  # [R, 2]
    node_w = sim.node_seconds("window").mean(axis=0)
    busy_w = float(sim.busy_worker_s("window").mean())
    starts, ends = sim.job_column("start_s"), sim.job_column("end_s")
    held_w = float(node_w.sum())
    out = []
    for k, name in enumerate(KERNEL_OPTIONS):
        purchase = base_purchase if name == Purchase.ON_DEMAND else name
        if purchase not in priced or (node_s[:, k].sum() <= 0 and purchase != main_purchase):
            continue
        share = node_w[k] / held_w if held_w > 0 else 0.0
        out.append(PurchaseUsage(
            purchase,  # type: ignore[arg-type]
            job_profile(starts, ends, sim.nodes, sim.horizon_s, node_s[:, k]),
            node_s[:, k], float(node_w[k]), busy_w * share))
    return tuple(out)


def batch_usage(sim: BatchSimResult, *, base_purchase: str, main_purchase: str,
                priced: Collection[str]) -> Usage:
    """Return the usage of a batch simulation.

    ``base_purchase`` is what non-spot nodes are bought as (on-demand or reserved),
    ``main_purchase`` the design's purchase option, ``priced`` the options it can be priced for.
    """
    window_s = sim.horizon_s - sim.warmup_s
    node_s = sim.node_seconds("horizon")
    return Usage(
        metric="freshness",
        distribution=Distribution(mean_s=sim.mean_freshness_s(), histograms=sim.freshness_hist,
                                  slo_attainment=sim.slo_attainment()),
        purchases=purchase_usage(sim, base_purchase=base_purchase, main_purchase=main_purchase,
                                 priced=priced),
        node_s_horizon=node_s.sum(axis=1),
        busy_gpu_s_horizon=sim.busy_worker_s("horizon"),
        utilization=sim.utilization("window"),
        throughput_rps=sim.records_processed("window") / window_s,
        arrival_rate_rps=sim.records_arrived("window") / window_s,
        work=Work(arrived_window=sim.records_arrived("window"),
                  completed_window=sim.records_processed("window"),
                  completed_by_horizon=sim.records_processed("horizon"),
                  in_system_at_horizon=sim.records_pending("horizon"),
                  dropped=np.zeros(sim.n_replications)),
        horizon_s=sim.horizon_s,
        window_s=window_s,
        timeline=job_timeline(sim.job_column("start_s"), sim.job_column("end_s"), sim.nodes,
                              sim.horizon_s),
        events={"interruptions": float(np.mean(sim.interruptions()))},
    )
