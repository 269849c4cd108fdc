"""SimPy reference model of scheduled batch jobs (the executable specification).

The semantics are the contract in the docstring of ``simulators/batch/api.py``; this model follows it
step by step with one SimPy process per job and one record per arrival, so it is slow and
obvious and never on the product's hot path.  Unlike the kernel, it is fed explicit arrival times
(``simulators/core/reference_arrivals.py`` draws them) and computes every record's freshness
exactly; the differential tests compare the two statistically.

Ties: a segment that would end exactly when an interruption strikes completes (the kernel's
``time_to_failure >= segment`` rule); both happen with probability zero for continuous draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from simulators.core.fleet import DelayComponent
from simulators.core.histogram import histogram_of

__all__ = ["BatchReferenceResult", "simulate_batch_reference"]

ON_DEMAND = "on_demand"
SPOT = "spot"


@dataclass(frozen=True)
class BatchReferenceResult:
    """Everything the tests need from one run of the reference model.

    Attributes
    ----------
    freshness_s : float64[n]
        Freshness (s) of every record that arrived in ``[warmup_s, horizon_s)`` and whose job
        ended by ``horizon_s``, in arrival order.
    jobs : float64[n_jobs, 11]
        Per-job rows in the kernel's column order (``simulators.batch.api.JOB_COLUMNS``).
    node_s : dict
        ``node_s[(basis, option)]``: node-seconds, basis ``"horizon"`` or ``"window"``, option
        ``"on_demand"`` or ``"spot"``.
    busy_worker_s : dict
        ``busy_worker_s[basis]``: processing worker-seconds.
    counts : dict
        ``arrived``, ``processed``, ``pending`` and ``window_arrived``, ``window_processed``,
        ``window_pending`` records; ``interruptions``; ``lost_s``; ``overruns``;
        ``missed_deadline``; ``slo_met`` (window records processed with freshness <= SLO).
    """

    freshness_s: np.ndarray = field(repr=False)
    jobs: np.ndarray = field(repr=False)
    node_s: dict
    busy_worker_s: dict
    counts: dict

    def freshness_hist(self) -> np.ndarray:
        """Return int64[N_BUCKETS]: the freshness histogram, bucketed as the kernel does."""
        return histogram_of(self.freshness_s)


class _Ledger:
    """Paid node intervals and busy intervals, clipped to the horizon and the window at the end."""

    def __init__(self, horizon_s: float, warmup_s: float) -> None:
        self.windows = {"horizon": (0.0, horizon_s), "window": (warmup_s, horizon_s)}
        self.node_s = {(b, o): 0.0 for b in self.windows for o in (ON_DEMAND, SPOT)}
        self.busy_worker_s = {b: 0.0 for b in self.windows}

    def _clip(self, basis: str, t0: float, t1: float) -> float:
        lo, hi = self.windows[basis]
        return max(0.0, min(t1, hi) - max(t0, lo))

    def pay(self, option: str, n_nodes: int, t0: float, t1: float) -> None:
        for basis in self.windows:
            self.node_s[(basis, option)] += n_nodes * self._clip(basis, t0, t1)

    def busy(self, n_workers: int, t0: float, t1: float) -> None:
        for basis in self.windows:
            self.busy_worker_s[basis] += n_workers * self._clip(basis, t0, t1)


def _segments(work: float, checkpoint_s: float | None,
              checkpoint_cost_s: float) -> list[tuple[float, float]]:
    """A job's work split at its checkpoints: (work, checkpoint cost) per segment."""
    if work <= 0:
        return []
    if checkpoint_s is None:
        return [(work, 0.0)]
    n_seg = math.ceil(work / checkpoint_s)
    segments = [(checkpoint_s, checkpoint_cost_s)] * (n_seg - 1)
    segments.append((work - (n_seg - 1) * checkpoint_s, 0.0))
    return segments


class _BatchModel:
    """One SimPy process per job, run one after another by a scheduler, and what they paid."""

    def __init__(self, scheduled_s: np.ndarray, *, horizon_s: float, warmup_s: float,
                 nodes: int, workers_per_node: int, throughput_rps: float,
                 rng: np.random.Generator, provisioning: Sequence[DelayComponent],
                 startup_s: float, checkpoint_s: float | None, checkpoint_cost_s: float,
                 purchase: str, interruptions_per_node_hour: float, replacement_delay_s: float,
                 fallback_after: int | None, deadline_s: float | None) -> None:
        self.scheduled_s = scheduled_s
        self.nodes = nodes
        self.throughput_rps = throughput_rps
        self.rng = rng
        self.provisioning = provisioning
        self.startup_s = startup_s
        self.checkpoint_s = checkpoint_s
        self.checkpoint_cost_s = checkpoint_cost_s
        self.purchase = purchase
        self.replacement_delay_s = replacement_delay_s
        self.fallback_after = fallback_after
        self.deadline_s = deadline_s
        self.env = simpy.Environment()
        self.ledger = _Ledger(horizon_s, warmup_s)
        self.jobs = np.zeros((len(scheduled_s), 11))
        self.gang_rate_per_s = nodes * interruptions_per_node_hour / 3600.0
        self.n_workers = nodes * workers_per_node

    def provisioning_delay(self) -> float:
        """The gang is ready when its slowest node is: max over nodes of summed components."""
        provisioning, rng = self.provisioning, self.rng

        def one_node() -> float:
            return sum(c.median_s * math.exp(c.sigma * rng.standard_normal()) if c.sigma > 0
                       else c.median_s for c in provisioning)
        if not any(c.sigma > 0 for c in provisioning):
            return one_node()
        return max(one_node() for _ in range(self.nodes))

    def run_job(self, i: int, n_records: int):
        env, ledger, nodes = self.env, self.ledger, self.nodes
        row = self.jobs[i]
        row[0], row[1], row[3] = self.scheduled_s[i], env.now, n_records
        option = self.purchase
        t = env.now
        delay = self.provisioning_delay()
        row[9] = delay
        yield env.timeout(delay)
        ledger.pay(option, nodes, t, env.now)
        t = env.now
        yield env.timeout(self.startup_s)
        ledger.pay(option, nodes, t, env.now)
        work = n_records / self.throughput_rps
        row[7] = work
        for seg_work, seg_ckpt in _segments(work, self.checkpoint_s, self.checkpoint_cost_s):
            option = yield from self.run_segment(row, option, seg_work, seg_ckpt)
        row[2] = env.now
        row[6] = 1.0 if self.deadline_s is None or \
            env.now <= self.scheduled_s[i] + self.deadline_s else 0.0

    def run_segment(self, row: np.ndarray, option: str, seg_work: float, seg_ckpt: float):
        """Attempt a segment until it completes; return the purchase option it ended on."""
        env, ledger, nodes = self.env, self.ledger, self.nodes
        while True:  # attempts at this segment
            t = env.now
            done = env.timeout(seg_work + seg_ckpt)
            if option == SPOT and self.gang_rate_per_s > 0:
                strike = env.timeout(self.rng.exponential(1.0 / self.gang_rate_per_s))
                fired = yield done | strike
                interrupted = done not in fired
            else:
                yield done
                interrupted = False
            if not interrupted:
                ledger.pay(option, nodes, t, env.now)
                ledger.busy(self.n_workers, t, t + seg_work)
                row[8] += 1 if seg_ckpt > 0 else 0
                return option
            # the segment's progress is lost; the lost node is not paid while replaced
            ledger.pay(option, nodes, t, env.now)
            ledger.busy(self.n_workers, t, min(env.now, t + seg_work))
            row[4] += 1
            row[5] += env.now - t
            t = env.now
            yield env.timeout(self.replacement_delay_s)
            ledger.pay(option, nodes - 1, t, env.now)
            if self.fallback_after is not None and row[4] >= self.fallback_after \
                    and option == SPOT:
                option = ON_DEMAND
                row[10] = 1.0

    def scheduler(self, cut_index: np.ndarray):
        env = self.env
        previous = 0
        for i, sched in enumerate(self.scheduled_s):
            if env.now < sched:
                yield env.timeout(sched - env.now)
            yield env.process(self.run_job(i, int(cut_index[i] - previous)))
            previous = int(cut_index[i])


def _record_counts(arrivals: np.ndarray, cut_index: np.ndarray, jobs: np.ndarray,
                   horizon_s: float, warmup_s: float,
                   slo_freshness_s: float | None) -> tuple[np.ndarray, dict]:
    """Freshness of the processed records (the rest pending), record and job counts."""
    counts = {"arrived": 0, "processed": 0, "pending": 0, "window_arrived": 0,
              "window_processed": 0, "window_pending": 0}
    freshness = []
    bounds = np.concatenate([[0], cut_index, [arrivals.size]])
    ends = np.concatenate([jobs[:, 2], [math.inf]])  # the tail is taken by no job
    for k in range(len(ends)):
        recs = arrivals[bounds[k]:bounds[k + 1]]
        in_window = recs[recs >= warmup_s]
        done = ends[k] <= horizon_s
        counts["arrived"] += recs.size
        counts["window_arrived"] += in_window.size
        counts["processed" if done else "pending"] += recs.size
        counts["window_processed" if done else "window_pending"] += in_window.size
        if done:
            freshness.append(ends[k] - in_window)
    fresh = np.concatenate(freshness) if freshness else np.zeros(0)
    starts_late = jobs[:, 1] > jobs[:, 0]
    counts.update(
        interruptions=float(jobs[:, 4].sum()),
        lost_s=float(jobs[:, 5].sum()),
        overruns=int(starts_late.sum()),
        missed_deadline=int((jobs[:, 6] == 0).sum()),
        slo_met=int((fresh <= (math.inf if slo_freshness_s is None else slo_freshness_s)).sum()),
    )
    return fresh, counts


def simulate_batch_reference(
    arrival_times_s: np.ndarray,
    scheduled_s: np.ndarray,
    *,
    horizon_s: float,
    warmup_s: float,
    nodes: int,
    workers_per_node: int,
    throughput_rps: float,
    rng: np.random.Generator,
    provisioning: Sequence[DelayComponent] = (),
    startup_s: float = 0.0,
    checkpoint_s: float | None = None,
    checkpoint_cost_s: float = 0.0,
    purchase: str = ON_DEMAND,
    interruptions_per_node_hour: float = 0.0,
    replacement_delay_s: float = 0.0,
    fallback_after: int | None = None,
    deadline_s: float | None = None,
    slo_freshness_s: float | None = None,
) -> BatchReferenceResult:
    """Run the batch-job model once on explicit arrival times.

    Parameters
    ----------
    arrival_times_s : float64[n]
        Sorted record arrival times in ``[0, horizon_s)``.
    scheduled_s : float64[n_jobs]
        Scheduled starts (= cutoffs), increasing, inside ``(0, horizon_s)``
        (``simulators.batch.api.scheduled_starts_s``).
    throughput_rps : float
        Records per second of the whole gang.
    rng : numpy.random.Generator
        Source of the provisioning and interruption draws.
    Other parameters
        As :func:`simulators.batch.api.simulate_batch` (``replacement_delay_s`` explicit).
    """
    arrivals = np.asarray(arrival_times_s, dtype=np.float64)
    model = _BatchModel(
        scheduled_s, horizon_s=horizon_s, warmup_s=warmup_s, nodes=nodes,
        workers_per_node=workers_per_node, throughput_rps=throughput_rps, rng=rng,
        provisioning=provisioning, startup_s=startup_s, checkpoint_s=checkpoint_s,
        checkpoint_cost_s=checkpoint_cost_s, purchase=purchase,
        interruptions_per_node_hour=interruptions_per_node_hour,
        replacement_delay_s=replacement_delay_s, fallback_after=fallback_after,
        deadline_s=deadline_s)
    cut_index = np.searchsorted(arrivals, np.asarray(scheduled_s), side="left")
    model.env.process(model.scheduler(cut_index))
    model.env.run()
    fresh, counts = _record_counts(arrivals, cut_index, model.jobs, horizon_s, warmup_s,
                                   slo_freshness_s)
    return BatchReferenceResult(fresh, model.jobs, model.ledger.node_s,
                                model.ledger.busy_worker_s, counts)
