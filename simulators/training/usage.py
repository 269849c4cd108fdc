"""The training simulation's raw output as the shared :class:`~simulators.core.usage.Usage`."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from simulators.core.hourly import constant_profile
from simulators.core.usage import Distribution, PurchaseUsage, Usage, Work
from simulators.training.api import TrainingSimResult


def training_usage(sim: TrainingSimResult, *, reserved_as: str | None, main_purchase: str,
                   priced: Collection[str]) -> Usage:
    """Return the usage of a training simulation: one run per replication.

    ``reserved_as`` is what the kernel's reserved node-hours are bought as (a ``reserved_*`` or
    ``savings_plan_*`` option; None for fleets without reserved capacity); ``main_purchase``
    the design's purchase option; ``priced`` the options it can be priced for. The horizon is
    the longest run, so each run's node-hours are spread evenly over it.
    """
    done = sim.completion_time_s()[:, 0]
    met = sim.deadline_met()
    horizon = float(done.max())
    busy = sim.busy_gpu_s()
    allocated = sim.allocated_gpu_s()
    by = sim.node_seconds_by_purchase()  # on_demand, spot, reserved -> [R]
    purchases = []
    for name, values in by.items():
        if name == "reserved" and reserved_as is None:
            continue
        purchase = reserved_as if name == "reserved" else name
        if purchase not in priced or (values.sum() <= 0 and purchase != main_purchase):
            continue
        share = float(np.mean(values * sim.gpus_per_node / allocated))
        purchases.append(PurchaseUsage(purchase, constant_profile(values, horizon),  # type: ignore[arg-type]
                                       values, float(values.mean()), float(busy.mean()) * share))
    ones = np.ones_like(done)
    return Usage(
        metric="completion_time",
        distribution=Distribution(mean_s=done, runs_s=done,
                                  slo_attainment=None if met is None
                                  else met[:, 0].astype(float)),
        purchases=tuple(purchases),
        node_s_horizon=sum(by.values()),
        busy_gpu_s_horizon=busy,
        utilization=sim.utilization(),
        throughput_rps=None,
        arrival_rate_rps=None,
        work=Work(arrived_window=ones, completed_window=ones, completed_by_horizon=ones,
                  in_system_at_horizon=np.zeros_like(done), dropped=np.zeros_like(done)),
        horizon_s=horizon,
        window_s=horizon,
        events={"interruptions": float(sim.n_interruptions().mean())},
        mean_node_s=float(sum(v.mean() for v in by.values())),
    )
