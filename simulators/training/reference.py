"""SimPy reference model of a gang-scheduled training job (the executable specification).

Same semantics as ``simulators/training/api.py`` (see its module docstring, the contract): a job of
``W`` seconds of gang compute, cut into segments that each end with a checkpoint, started after
a provisioning delay and a restart overhead, interrupted by a Poisson process while on its
submitted purchase option, recovering after a replacement delay and a restart, and optionally
falling back to on-demand.  It is slow and obvious on purpose: one SimPy process is the job, a
second one is the interruption source, and an interruption is a ``simpy.Interrupt`` thrown into
whatever the job is doing.  Random draws come from a numpy ``Generator``, so the kernel and this
model agree in distribution, not draw for draw; the tests compare them statistically.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from simulators.core.fleet import DelayComponent

__all__ = ["ReferenceRun", "simulate_training_reference", "simulate_training_reference_runs"]


@dataclass(frozen=True)
class ReferenceRun:
    """What one simulated run produced (seconds unless named otherwise)."""

    completion_s: float
    node_s_on_demand: float
    node_s_spot: float
    node_s_reserved: float
    productive_s: float
    checkpoint_s: float
    lost_s: float
    restart_s: float
    n_interruptions: int
    fell_back: bool


class _TrainingJob:
    """One run: the job process, its interruption source and its bookkeeping."""

    def __init__(self, env: simpy.Environment, rng: np.random.Generator, *, work_s: float,
                 nodes: int, purchase: str, rate_per_s: float, interval_s: float | None,
                 checkpoint_cost_s: float, restart_s: float, replacement_s: float,
                 provisioning: Sequence[DelayComponent], fallback_after: int | None,
                 fallback_near_deadline: bool, margin_s: float, deadline_s: float | None):
        self.env = env
        self.rng = rng
        self.nodes = nodes
        self.purchase = purchase
        self.mode = purchase
        self.rate_per_s = 0.0 if purchase == "reserved" else rate_per_s
        self.restart = restart_s
        self.replacement = replacement_s
        self.provisioning = tuple(provisioning)
        self.fallback_after = fallback_after
        self.near_deadline = fallback_near_deadline
        self.margin = margin_s
        self.deadline = math.inf if deadline_s is None else deadline_s
        # Segments: full intervals, the last one shorter; each ends with a checkpoint.
        if interval_s is None:
            self.segments = [work_s]
            self.checkpoint = 0.0
        else:
            n = round(work_s / interval_s)
            if abs(work_s / interval_s - n) > 1e-9 * max(1.0, work_s / interval_s):
                n = math.ceil(work_s / interval_s)
            n = max(n, 1)
            last = work_s - (n - 1) * interval_s
            self.segments = [interval_s] * (n - 1) + [last if last > 0 else interval_s]
            self.checkpoint = checkpoint_cost_s
        self.committed = 0  # segments whose checkpoint is written
        self.billing: list[tuple[str, float]] = [(purchase, 0.0)]  # (mode, since)
        self.n_interruptions = 0
        self.fell_back = False
        self.productive = self.ckpt = self.lost = self.restart_time = 0.0
        self.process = env.process(self.run())
        if self.rate_per_s > 0:
            env.process(self.interruptions())

    # -- random parts
    def draw_provisioning(self) -> float:
        """One provisioning delay: the sum of its parts (lognormal around their medians)."""
        return sum(c.median_s * math.exp(c.sigma * self.rng.standard_normal()) if c.sigma > 0
                   else c.median_s for c in self.provisioning)

    def mean_provisioning(self) -> float:
        return sum(c.mean_s() for c in self.provisioning)

    def interruptions(self) -> Generator:
        """Poisson interruptions of the gang while it is on its submitted purchase option."""
        while True:
            yield self.env.timeout(self.rng.exponential(1.0 / self.rate_per_s))
            if self.fell_back or not self.process.is_alive:
                return
            self.process.interrupt("node interrupted")

    # -- decisions
    def on_demand_finish_would_be_late(self) -> bool:
        """Near-deadline rule: finishing on fresh on-demand nodes would reach the deadline."""
        left = self.segments[self.committed:]
        remaining = sum(left) + len(left) * self.checkpoint
        return (self.env.now + self.mean_provisioning() + self.restart + remaining + self.margin
                >= self.deadline)

    def fall_back(self) -> float:
        """Move to on-demand now; return the start-up time of the new gang."""
        self.billing.append(("on_demand", self.env.now))
        self.mode = "on_demand"
        self.fell_back = True
        return self.draw_provisioning() + self.restart

    def after_interruption(self) -> float:
        """Count an interruption; return the length of the next start-up or recovery."""
        self.n_interruptions += 1
        if self.mode == "spot":
            if self.fallback_after is not None and self.n_interruptions >= self.fallback_after:
                return self.fall_back()
            if self.near_deadline and self.on_demand_finish_would_be_late():
                return self.fall_back()
        return self.replacement + self.restart

    # -- the job
    def run(self) -> Generator:
        env = self.env
        startup = self.draw_provisioning() + self.restart
        while self.committed < len(self.segments):
            start = env.now
            try:
                yield env.timeout(startup)
            except simpy.Interrupt:
                self.restart_time += env.now - start
                startup = self.after_interruption()
                continue
            self.restart_time += startup
            try:
                while self.committed < len(self.segments):
                    seg = self.segments[self.committed]
                    start = env.now
                    yield env.timeout(seg)
                    yield env.timeout(self.checkpoint)
                    self.productive += seg
                    self.ckpt += self.checkpoint
                    self.committed += 1
                    if (self.committed < len(self.segments) and self.mode == "spot"
                            and self.near_deadline and self.on_demand_finish_would_be_late()):
                        startup = self.fall_back()
                        break
            except simpy.Interrupt:
                elapsed = env.now - start
                self.lost += min(elapsed, seg)
                self.ckpt += elapsed - min(elapsed, seg)
                startup = self.after_interruption()

    def result(self, reserved_s: float | None) -> ReferenceRun:
        end = self.env.now
        node_s = {"on_demand": 0.0, "spot": 0.0, "reserved": 0.0}
        for (mode, since), (_, until) in zip(self.billing, self.billing[1:] + [("", end)]):
            node_s[mode] += self.nodes * (until - since)
        if self.purchase == "reserved":
            window = end if reserved_s is None else reserved_s
            node_s["on_demand"] += max(0.0, node_s["reserved"] - self.nodes * window)
            node_s["reserved"] = self.nodes * window
        return ReferenceRun(end, node_s["on_demand"], node_s["spot"], node_s["reserved"],
                            self.productive, self.ckpt, self.lost, self.restart_time,
                            self.n_interruptions, self.fell_back)


def simulate_training_reference(
        rng: np.random.Generator, gpu_hours: float, nodes: int, gpus_per_node: int,
        purchase: str, *, interruptions_per_node_hour: float = 0.0,
        checkpoint_interval_s: float | None = None, checkpoint_cost_s: float = 0.0,
        restart_overhead_s: float = 0.0,
        provisioning: float | DelayComponent | Sequence[DelayComponent] = 0.0,
        replacement_delay_s: float = 0.0, fallback_after_interruptions: int | None = None,
        fallback_near_deadline: bool = False, fallback_margin_s: float = 0.0,
        deadline_s: float | None = None, reserved_hours: float | None = None) -> ReferenceRun:
    """Simulate one run of the job (arguments as in ``simulators.training.api.simulate_training``).

    Inputs are trusted (the public API validates them); the random draws come from ``rng``.
    """
    if isinstance(provisioning, DelayComponent):
        provisioning = (provisioning,)
    elif isinstance(provisioning, (int, float)):
        provisioning = (DelayComponent("provisioning", float(provisioning)),)
    env = simpy.Environment()
    job = _TrainingJob(
        env, rng, work_s=3600.0 * gpu_hours / (nodes * gpus_per_node), nodes=nodes,
        purchase=purchase, rate_per_s=nodes * interruptions_per_node_hour / 3600.0,
        interval_s=checkpoint_interval_s, checkpoint_cost_s=checkpoint_cost_s,
        restart_s=restart_overhead_s, replacement_s=replacement_delay_s,
        provisioning=provisioning, fallback_after=fallback_after_interruptions,
        fallback_near_deadline=fallback_near_deadline, margin_s=fallback_margin_s,
        deadline_s=deadline_s)
    env.run(until=job.process)
    return job.result(None if reserved_hours is None else 3600.0 * reserved_hours)


def simulate_training_reference_runs(n: int, seed: int, *args, **kwargs) -> dict[str, np.ndarray]:
    """Simulate ``n`` independent runs; return ``ReferenceRun`` field -> float64[n]."""
    rng = np.random.default_rng(seed)
    runs = [simulate_training_reference(rng, *args, **kwargs) for _ in range(n)]
    return {name: np.array([getattr(r, name) for r in runs], dtype=np.float64)
            for name in ReferenceRun.__dataclass_fields__}
