"""Public API of the scheduled batch-job simulation (nightly or hourly scoring jobs).

Contract (the kernel ``simulators/batch/_kernel.py`` and the SimPy model
``simulators/batch/reference.py`` implement exactly this)
---------------------------------------------------------------------------------------------
* **Records** arrive in ``[0, horizon_s)`` by an arrival process of ``simulators.core.arrivals``.
* **Schedule.** Jobs are scheduled at ``offset_s + k * period_s`` (k = 0, 1, ...), or at the
  seconds-of-day ``at_s`` of every day (clock time: simulation time plus ``3600 * start_hour``
  of a ``DiurnalArrivals``, else simulation time); only times inside ``(0, horizon_s)`` count (a
  job at 0 would have nothing to do).  Job ``i`` takes every record that arrived in
  ``[cutoff_{i-1}, cutoff_i)``, where its cutoff is its *scheduled* start and ``cutoff_{-1} = 0``.
  Records after the last cutoff are taken by no job inside the horizon: they are pending.
* **Overruns.** Job ``i`` starts at ``max(scheduled_i, end_{i-1})``; a later start is an overrun.
* **A job**: provisions ``nodes`` nodes (the gang waits for the slowest; each node's delay is the
  sum of its ``DelayComponent`` draws), runs ``startup_s`` (model load), then processes its
  ``N`` records at the gang's throughput ``nodes * workers_per_node * max_batch /
  service.mean_s[max_batch]`` records/s, i.e. ``W = N / throughput`` seconds of work.  With
  ``checkpoint_s = tau`` the work is cut into ``ceil(W / tau)`` segments: all but the last are
  ``tau`` long and followed by a checkpoint of ``checkpoint_cost_s`` (no progress); the last
  has the rest and no checkpoint (the output is the final one).  Then the nodes shut down.
* **Spot.** While the gang processes or writes a checkpoint, it is interrupted at rate
  ``nodes * interruptions_per_node_hour / 3600`` per second (Poisson).  An interruption loses the
  current segment (work since the last completed checkpoint, or since processing began); the
  job waits ``replacement_delay_s`` (a replacement node is provisioned and loads the model and
  checkpoint: that delay is the whole restart) and retries the segment.  Provisioning, startup
  and replacement waits are never interrupted (Daly's model: restarts cannot fail).  With
  ``fallback_after = K``, from the end of the K-th replacement wait the job runs on on-demand
  nodes and is no longer interrupted.  A job interrupted a million times is abandoned
  (``end = inf``; its nodes stay paid to the horizon).
* **Billing.** ``nodes`` are paid, at the job's current purchase option, from its start to its
  end (provisioning, startup, processing, checkpoints), except that during a replacement wait
  the lost node is not paid (``nodes - 1``, at the option of the interrupted gang).  Busy
  worker-seconds count processing only (lost processing included, checkpoints excluded).
  Node- and busy-seconds are clipped to ``[0, horizon_s]`` and to ``[warmup_s, horizon_s]``.
* **Freshness** of a record = end of its job - its arrival.  A job misses its deadline when it
  ends after ``scheduled + deadline_s``.  Every job is simulated to its end, even past the
  horizon (per-job rows are complete), but records of a job ending after ``horizon_s`` are
  pending and left out of the histogram.  Histogram, mean and SLO attainment cover records that
  arrived in ``[warmup_s, horizon_s)`` and were processed by the horizon.
* **Conservation**: arrived = processed + pending (horizon and window alike).

How records are accounted (why a night of 500 million records costs microseconds)
---------------------------------------------------------------------------------------------
For Poisson and diurnal arrivals no record is generated.  A job's count is one exact Poisson
draw with mean ``integral of rate(t) dt`` over its cutoff interval (closed forms: linear,
cosine, or hour by hour).  Given the count, the records are independent with density
proportional to the rate, so the freshness histogram is filled with the count's *expected*
spread: bucket ``k`` gets the share of the rate's integral over the arrivals whose freshness
lands in it, rounded systematically so the buckets sum to the count exactly (each within one
record of its expectation).  What this leaves out is the multinomial noise of the shape inside
one job (relative size ``1 / sqrt(count per bucket)``: nothing at batch scale; in a tiny
scenario percentiles are slightly less noisy than a record-by-record simulation, with the same
expectation; the SimPy reference generates records one by one and the tests compare the two).
The sum of freshness uses the exact mean arrival time of the interval, and SLO attainment the
rate's integral over the arrivals with freshness <= the SLO.  The window's share of a job that
straddles ``warmup_s`` is the count times the rate's share, rounded.  Trace arrivals are counted
and histogrammed exactly, record by record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from domain.errors import SimulationError
from simulators.batch import _kernel as bk
from simulators.core.arrivals import (
    DAY_S,
    Arrivals,
    DiurnalArrivals,
    PoissonArrivals,
    check_arrivals,
)
from simulators.core.fleet import DelayComponent
from simulators.core.histogram import N_BUCKETS, bucket_bounds
from simulators.core.result import WindowedStats, columns_record, histogram_percentiles, ratio
from simulators.core.service import ServiceTime

__all__ = [
    "PURCHASE_OPTIONS",
    "BatchCounters",
    "BatchJobs",
    "BatchSimResult",
    "SimulationError",
    "scheduled_starts_s",
    "simulate_batch",
]

PURCHASE_OPTIONS = ("on_demand", "spot")
JOB_COLUMNS = ("scheduled_s", "start_s", "end_s", "records", "interruptions", "lost_s",
               "met_deadline", "work_s", "checkpoints", "provisioning_s", "fallback")


@dataclass(frozen=True)
class BatchCounters:
    """Per-replication counters of the batch kernel, float64[R] each.

    One field per column the kernel keeps; a field ``x`` is the kernel's ``S_X`` column.
    """

    n_arrived: np.ndarray
    n_processed: np.ndarray
    n_pending: np.ndarray
    n_window_arrived: np.ndarray
    n_window_processed: np.ndarray
    n_window_pending: np.ndarray
    sum_freshness_s: np.ndarray
    n_slo_met: np.ndarray
    n_interruptions: np.ndarray
    lost_s: np.ndarray
    n_jobs: np.ndarray
    n_jobs_done: np.ndarray
    n_overruns: np.ndarray
    n_missed_deadline: np.ndarray
    n_fallbacks: np.ndarray
    n_checkpoints: np.ndarray
    n_abandoned: np.ndarray

    @classmethod
    def from_stats(cls, array: np.ndarray) -> BatchCounters:
        """Return the record of a float64[R, N_STATS] kernel ``stats`` array (copies)."""
        return columns_record(cls, array, bk, "S_")


@dataclass(frozen=True)
class BatchJobs:
    """Per-job columns of the batch kernel, float64[R, n_jobs] each.

    One field per column the kernel keeps; a field ``x`` is the kernel's ``J_X`` column.
    """

    scheduled_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    records: np.ndarray
    interruptions: np.ndarray
    lost_s: np.ndarray
    met_deadline: np.ndarray
    work_s: np.ndarray
    checkpoints: np.ndarray
    provisioning_s: np.ndarray
    fallback: np.ndarray

    @classmethod
    def from_jobs(cls, array: np.ndarray) -> BatchJobs:
        """Return the record of a float64[R, n_jobs, N_JOB_COLS] kernel ``jobs`` array."""
        return columns_record(cls, array, bk, "J_")


@dataclass(frozen=True)
class BatchSimResult(WindowedStats):
    """Raw output of :func:`simulate_batch`, one row per replication.

    Attributes
    ----------
    scheduled_s : float64[n_jobs]
        Scheduled starts (= cutoffs) of the jobs, s.
    freshness_hist : int64[R, N_BUCKETS]
        Log-bucket histogram of freshness (s) of window records processed by the horizon.
    jobs : float64[R, n_jobs, N_JOB_COLS]
        Per-job rows, columns ``JOB_COLUMNS`` (``simulators.batch._kernel.J_*``); read them by
        name through :meth:`job_record`.
    stats : float64[R, N_STATS]
        Counters, indexed by ``simulators.batch._kernel.S_*``; read them by name through
        :meth:`counters`.
    acc : float64[R, 2, 3]
        ``[:, basis, 0]`` on-demand node-seconds, ``[:, basis, 1]`` spot node-seconds,
        ``[:, basis, 2]`` busy worker-seconds; basis 0 is ``[0, horizon_s]``, 1 the window.
    """

    nodes: int
    workers_per_node: int
    max_batch: int
    throughput_rps: float
    horizon_s: float
    warmup_s: float
    purchase: str
    deadline_s: float | None
    slo_freshness_s: float | None
    seed: int
    scheduled_s: np.ndarray = field(repr=False)
    freshness_hist: np.ndarray = field(repr=False)
    jobs: np.ndarray = field(repr=False)
    stats: np.ndarray = field(repr=False)
    acc: np.ndarray = field(repr=False)

    @property
    def n_jobs(self) -> int:
        """Return the number of jobs scheduled inside the horizon."""
        return int(self.scheduled_s.shape[0])

    def counters(self) -> BatchCounters:
        """Return the per-replication counters as a typed record (float64[R] fields)."""
        return BatchCounters.from_stats(self.stats)

    def job_record(self) -> BatchJobs:
        """Return the per-job columns as a typed record (float64[R, n_jobs] fields)."""
        return BatchJobs.from_jobs(self.jobs)

    def job_column(self, name: str) -> np.ndarray:
        """Return float64[R, n_jobs]: one per-job column (a name of ``JOB_COLUMNS``)."""
        if name not in JOB_COLUMNS:
            raise SimulationError(f"job column {name!r} is unknown; use one of {JOB_COLUMNS}")
        return self.jobs[:, :, JOB_COLUMNS.index(name)].copy()

    def job_durations_s(self) -> np.ndarray:
        """Return float64[R, n_jobs]: end - start of every job (s)."""
        return self.jobs[:, :, bk.J_END_S] - self.jobs[:, :, bk.J_START_S]

    def freshness_percentiles_s(self, quantiles: np.ndarray) -> np.ndarray:
        """Return float64[R, k] nearest-rank freshness quantiles (s) per replication."""
        return histogram_percentiles(self.freshness_hist, quantiles)

    def mean_freshness_s(self) -> np.ndarray:
        """Return float64[R]: mean freshness (s) of window records processed by the horizon."""
        return self._ratio(bk.S_SUM_FRESHNESS_S, bk.S_N_WINDOW_PROCESSED)

    def slo_attainment(self) -> np.ndarray | None:
        """Return float64[R]: share of processed window records with freshness <= the SLO.

        Pending records are left out (see :meth:`records_pending`); None without an SLO.
        """
        if self.slo_freshness_s is None:
            return None
        return self._ratio(bk.S_N_SLO_MET, bk.S_N_WINDOW_PROCESSED)

    def jobs_missing_deadline(self) -> np.ndarray:
        """Return float64[R]: jobs that ended after scheduled start + ``deadline_s``."""
        return self.stat(bk.S_N_MISSED_DEADLINE)

    def overruns(self) -> np.ndarray:
        """Return float64[R]: jobs that started late because the previous job was running."""
        return self.stat(bk.S_N_OVERRUNS)

    def interruptions(self) -> np.ndarray:
        """Return float64[R]: spot interruptions over all jobs."""
        return self.stat(bk.S_N_INTERRUPTIONS)

    def lost_work_s(self) -> np.ndarray:
        """Return float64[R]: gang wall-seconds of processing and checkpointing lost."""
        return self.stat(bk.S_LOST_S)

    def records_arrived(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: records arrived in the horizon or the window."""
        return self.stat(bk.S_N_ARRIVED if _basis(basis) == 0 else bk.S_N_WINDOW_ARRIVED)

    def records_processed(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: of those, records whose job ended by the horizon."""
        return self.stat(bk.S_N_PROCESSED if _basis(basis) == 0 else bk.S_N_WINDOW_PROCESSED)

    def records_pending(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: of those, records not processed by the horizon."""
        return self.stat(bk.S_N_PENDING if _basis(basis) == 0 else bk.S_N_WINDOW_PENDING)

    def node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R, 2]: node-seconds by purchase option (``PURCHASE_OPTIONS`` order).

        ``basis="horizon"`` counts ``[0, horizon_s]``; ``"window"`` counts ``[warmup_s,
        horizon_s]``.
        """
        return self.acc[:, _basis(basis), : bk.ACC_BUSY].copy()

    def busy_worker_s(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: busy worker-seconds (= busy GPU-seconds, processing only)."""
        return self.acc[:, _basis(basis), bk.ACC_BUSY].copy()

    def utilization(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: busy worker-seconds over paid worker-seconds."""
        paid = self.node_seconds(basis).sum(axis=1) * self.workers_per_node
        return ratio(self.busy_worker_s(basis), paid)


def _basis(basis: str) -> int:
    if basis not in ("horizon", "window"):
        raise SimulationError(f"basis must be 'horizon' or 'window' (got {basis!r})")
    return 0 if basis == "horizon" else 1


def _fail(name: str, value: object, need: str, fix: str) -> SimulationError:
    return SimulationError(f"simulate_batch: {name} must be {need} (got {value!r}); {fix}")


def _check_number(name: str, value: float, *, low: float = 0.0, strict: bool = False,
                  fix: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _fail(name, value, "a number", fix) from None
    ok = math.isfinite(x) and (x > low if strict else x >= low)
    if not ok:
        raise _fail(name, value, f"a finite number {'>' if strict else '>='} {low:g}", fix)
    return x


def _check_int(name: str, value: int, *, low: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise _fail(name, value, f"an integer >= {low}", fix)
    return int(value)


def scheduled_starts_s(horizon_s: float, period_s: float | None = None, offset_s: float = 0.0,
                       at_s: Sequence[float] | None = None, start_hour: float = 0.0
                       ) -> np.ndarray:
    """Return float64[n_jobs]: the scheduled starts inside ``(0, horizon_s)``, increasing.

    Either every ``period_s`` from ``offset_s``, or at the clock seconds-of-day ``at_s`` of every
    day (clock = simulation time + ``3600 * start_hour``).
    """
    if at_s is not None:
        at = np.unique(np.asarray(at_s, dtype=np.float64))
        shift = 3600.0 * start_hour
        days = np.arange(-1, math.ceil(horizon_s / DAY_S) + 2, dtype=np.float64)
        times = (days[:, None] * DAY_S + at[None, :] - shift).ravel()
    else:
        assert period_s is not None
        k = np.arange(0, math.floor((horizon_s - offset_s) / period_s) + 2)
        times = offset_s + k * period_s
    times = np.sort(times)
    return np.ascontiguousarray(times[(times > 0.0) & (times < horizon_s)])


def _provisioning_array(provisioning: float | DelayComponent | Sequence[DelayComponent]
                        ) -> tuple[np.ndarray, float]:
    if isinstance(provisioning, DelayComponent):
        parts: tuple[DelayComponent, ...] = (provisioning,)
    elif isinstance(provisioning, (int, float, np.floating, np.integer)):
        seconds = _check_number("provisioning", provisioning,
                                fix="give the cold-start delay in seconds")
        parts = (DelayComponent("provisioning", seconds),)
    else:
        parts = tuple(provisioning)
    for k, c in enumerate(parts):
        if not isinstance(c, DelayComponent):
            raise _fail(f"provisioning[{k}]", c, "a DelayComponent",
                        "pass seconds, a DelayComponent or a tuple of them")
        if not (math.isfinite(c.median_s) and c.median_s >= 0 and math.isfinite(c.sigma)
                and c.sigma >= 0):
            raise _fail(f"provisioning[{k}] ({c.name})", (c.median_s, c.sigma),
                        "a median_s >= 0 and sigma >= 0", "fix the delay component")
    arr = np.array([[c.median_s, c.sigma] for c in parts], dtype=np.float64).reshape(-1, 2)
    return np.ascontiguousarray(arr), float(sum(c.mean_s() for c in parts))


def _arrival_arrays(arrivals: Arrivals, horizon_s: float
                    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    ap = np.zeros(bk.N_ARRIVAL_PARAMS)
    hourly = np.zeros(24)
    trace = np.zeros(0)
    if isinstance(arrivals, PoissonArrivals):
        ap[bk.AP_RATE] = arrivals.rate_rps
        return bk.ARRIVAL_POISSON, ap, hourly, trace
    if isinstance(arrivals, DiurnalArrivals):
        ap[bk.AP_RATE] = arrivals.mean_rate_rps
        ap[bk.AP_AMPLITUDE] = arrivals.amplitude
        ap[bk.AP_PHASE_S] = 3600.0 * (arrivals.start_hour - arrivals.peak_hour)
        ap[bk.AP_START_S] = 3600.0 * arrivals.start_hour
        if arrivals.hourly_weights is not None:
            hourly = np.ascontiguousarray(arrivals.hourly_rates_rps())
            return bk.ARRIVAL_PIECEWISE, ap, hourly, trace
        return bk.ARRIVAL_SMOOTH, ap, hourly, trace
    t = np.asarray(arrivals.times_s, dtype=np.float64)
    if arrivals.repeat:
        period = arrivals.period_s()
        copies = math.ceil(horizon_s / period) + 1
        t = (t[None, :] + period * np.arange(copies)[:, None]).ravel()
    trace = np.ascontiguousarray(t[t < horizon_s])
    return bk.ARRIVAL_TRACE, ap, hourly, trace


def _check_gang(service: ServiceTime, nodes: int, workers_per_node: int, max_batch: int
                ) -> tuple[int, int, int, float]:
    """Check the gang shape; return it with one worker's mean service time at ``max_batch``."""
    nodes = _check_int("nodes", nodes, low=1, fix="give the gang at least one node")
    workers_per_node = _check_int("workers_per_node", workers_per_node, low=1,
                                  fix="use the GPUs per node, at least 1")
    max_batch = _check_int("max_batch", max_batch, low=1, fix="use a batch size of at least 1")
    if service.max_batch < max_batch:
        raise _fail("max_batch", max_batch, f"<= {service.max_batch}, the largest batch the "
                    "service time covers", "lower max_batch or extend the service table")
    per_worker_s = float(service.mean_s[max_batch])
    if not (per_worker_s > 0 and math.isfinite(per_worker_s)):
        raise _fail("service.mean_s[max_batch]", per_worker_s, "> 0",
                    "give a positive service time")
    return nodes, workers_per_node, max_batch, per_worker_s


def _check_run(horizon_s: float, warmup_s: float, n_replications: int, seed: int
               ) -> tuple[float, float, int, int]:
    """Check the horizon, warm-up, replication count and seed."""
    horizon_s = _check_number("horizon_s", horizon_s, strict=True,
                              fix="simulate at least one period")
    warmup_s = _check_number("warmup_s", warmup_s, fix="use 0 for no warm-up")
    if warmup_s >= horizon_s:
        raise _fail("warmup_s", warmup_s, f"< horizon_s ({horizon_s:g})",
                    "shorten the warm-up or lengthen the horizon")
    n_replications = _check_int("n_replications", n_replications, low=1,
                                fix="run at least one replication")
    seed = _check_int("seed", seed, low=0, fix="use a non-negative seed")
    return horizon_s, warmup_s, n_replications, seed


def _checked_schedule(arrivals: Arrivals, horizon_s: float, period_s: float | None,
                      offset_s: float, at_s: Sequence[float] | None) -> np.ndarray:
    """Check the schedule options; return the scheduled starts (at least one)."""
    start_hour = arrivals.start_hour if isinstance(arrivals, DiurnalArrivals) else 0.0
    if at_s is not None:
        if period_s is not None:
            raise _fail("period_s", period_s, "None when at_s is given",
                        "give either period_s or at_s")
        at = list(at_s)
        if not at:
            raise _fail("at_s", at_s, "a non-empty list", "give at least one start time")
        for k, a in enumerate(at):
            _check_number(f"at_s[{k}]", a, fix="give seconds of the day in [0, 86400)")
            if a >= DAY_S:
                raise _fail(f"at_s[{k}]", a, "< 86400", "give seconds of the day")
        scheduled = scheduled_starts_s(horizon_s, at_s=at, start_hour=start_hour)
    else:
        period_s = _check_number("period_s", period_s, strict=True,
                                 fix="give the time between job starts in seconds, or at_s")
        offset_s = _check_number("offset_s", offset_s, fix="give the first start in seconds")
        scheduled = scheduled_starts_s(horizon_s, period_s=period_s, offset_s=offset_s)
    if scheduled.size == 0:
        raise _fail("horizon_s", horizon_s, "long enough to schedule one job",
                    "lengthen the horizon or start the schedule earlier")
    return scheduled


def _job_params(nodes: int, workers_per_node: int, throughput: float,
                provisioning: float | DelayComponent | Sequence[DelayComponent],
                startup_s: float, checkpoint_s: float | None, checkpoint_cost_s: float,
                purchase: str, interruptions_per_node_hour: float,
                replacement_delay_s: float | None, fallback_after: int | None,
                deadline_s: float | None, slo_freshness_s: float | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Check the job options; return the kernel's job parameters and provisioning array."""
    prov, prov_mean_s = _provisioning_array(provisioning)
    startup_s = _check_number("startup_s", startup_s, fix="use 0 for no start-up")
    tau = math.inf
    if checkpoint_s is not None:
        tau = _check_number("checkpoint_s", checkpoint_s, strict=True,
                            fix="use None for no checkpoints")
    checkpoint_cost_s = _check_number("checkpoint_cost_s", checkpoint_cost_s,
                                      fix="use 0 for free checkpoints")
    if purchase not in PURCHASE_OPTIONS:
        raise _fail("purchase", purchase, f"one of {PURCHASE_OPTIONS}", "pick a purchase option")
    rate = _check_number("interruptions_per_node_hour", interruptions_per_node_hour,
                         fix="use 0 for no interruptions")
    if rate > 0 and purchase != "spot":
        raise _fail("interruptions_per_node_hour", rate, "0 for on-demand nodes",
                    "set purchase='spot' or drop the rate")
    if replacement_delay_s is None:
        replacement_delay_s = prov_mean_s + startup_s
    replacement_delay_s = _check_number("replacement_delay_s", replacement_delay_s,
                                        fix="give the restart delay in seconds")
    fallback = 0
    if fallback_after is not None:
        fallback = _check_int("fallback_after", fallback_after, low=1,
                              fix="use None for no fallback, or at least 1 interruption")
    deadline = math.inf
    if deadline_s is not None:
        deadline = _check_number("deadline_s", deadline_s, strict=True,
                                 fix="give the time from scheduled start to deadline in seconds")
    slo = math.inf
    if slo_freshness_s is not None:
        slo = _check_number("slo_freshness_s", slo_freshness_s, strict=True,
                            fix="give the freshness target in seconds")
    jp = np.zeros(bk.N_JOB_PARAMS)
    jp[bk.JP_NODES] = nodes
    jp[bk.JP_WORKERS_PER_NODE] = workers_per_node
    jp[bk.JP_THROUGHPUT_RPS] = throughput
    jp[bk.JP_STARTUP_S] = startup_s
    jp[bk.JP_CHECKPOINT_S] = tau
    jp[bk.JP_CHECKPOINT_COST_S] = checkpoint_cost_s
    jp[bk.JP_PURCHASE] = bk.OPT_SPOT if purchase == "spot" else bk.OPT_ON_DEMAND
    jp[bk.JP_GANG_RATE] = nodes * rate / 3600.0
    jp[bk.JP_REPLACEMENT_S] = replacement_delay_s
    jp[bk.JP_FALLBACK_AFTER] = fallback
    jp[bk.JP_DEADLINE_S] = deadline
    jp[bk.JP_SLO_S] = slo
    return jp, prov


def _run_batch_kernel(seed: int, arrivals: Arrivals, scheduled: np.ndarray, jp: np.ndarray,
                      prov: np.ndarray, horizon_s: float, warmup_s: float, n_replications: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Allocate the output arrays and run the kernel; return ``(hist, jobs, stats, acc)``."""
    kind, ap, hourly, trace = _arrival_arrays(arrivals, horizon_s)
    lower, upper = bucket_bounds()
    n_jobs = scheduled.size
    hist = np.zeros((n_replications, N_BUCKETS), dtype=np.int64)
    jobs = np.zeros((n_replications, n_jobs, bk.N_JOB_COLS))
    stats = np.zeros((n_replications, bk.N_STATS))
    acc = np.zeros((n_replications, 2, bk.N_ACC))
    bk.batch_kernel(seed, 0, kind, ap, hourly, trace, scheduled, jp, prov, horizon_s, warmup_s,
                    lower, upper, hist, jobs, stats, acc)
    return hist, jobs, stats, acc


def simulate_batch(
    arrivals: Arrivals, service: ServiceTime, nodes: int, workers_per_node: int,
    max_batch: int, period_s: float | None, horizon_s: float, warmup_s: float,
    n_replications: int, seed: int, *,
    offset_s: float = 0.0, at_s: Sequence[float] | None = None,
    provisioning: float | DelayComponent | Sequence[DelayComponent] = 0.0,
    startup_s: float = 0.0, checkpoint_s: float | None = None, checkpoint_cost_s: float = 0.0,
    purchase: str = "on_demand", interruptions_per_node_hour: float = 0.0,
    replacement_delay_s: float | None = None, fallback_after: int | None = None,
    deadline_s: float | None = None, slo_freshness_s: float | None = None,
) -> BatchSimResult:
    """Simulate scheduled batch jobs (cold-started gangs, optional spot), ``n_replications`` times.

    Parameters
    ----------
    arrivals : PoissonArrivals | DiurnalArrivals | TraceArrivals
        The record stream.
    service : ServiceTime
        Per-batch-size service time of one worker; its mean at ``max_batch`` sets throughput.
    nodes, workers_per_node : int
        Gang size (>= 1 each).
    max_batch : int
        Batch size the job runs at (>= 1, covered by ``service``).
    period_s : float or None
        Time between scheduled starts (s, > 0); None when ``at_s`` is given.
    horizon_s, warmup_s : float
        Records arrive in ``[0, horizon_s)``; statistics cover ``[warmup_s, horizon_s)``.
    n_replications : int
        Independent replications (parallel; replication ``k`` is seeded from ``(seed, k)``).
    seed : int
        Scenario seed, >= 0.
    offset_s : float
        First scheduled start (s) of the periodic schedule.
    at_s : sequence of float, optional
        Clock seconds-of-day of the starts, every day (instead of ``period_s``).
    provisioning : float | DelayComponent | sequence of DelayComponent
        One node's cold-start delay (s, or components summed); the gang waits for the slowest.
    startup_s : float
        Fixed start-up after provisioning (model load), s; paid, not interruptible.
    checkpoint_s : float, optional
        Processing seconds between checkpoints; None = no checkpoints.
    checkpoint_cost_s : float
        Duration of one checkpoint (s, paid, no progress).
    purchase : {"on_demand", "spot"}
        Purchase option of the gang.
    interruptions_per_node_hour : float
        Spot interruption rate per node (1/h).
    replacement_delay_s : float, optional
        Restart delay after an interruption (s); None = mean provisioning + ``startup_s``.
    fallback_after : int, optional
        After this many interruptions a job's rest runs on on-demand nodes.
    deadline_s : float, optional
        A job misses its deadline when it ends after scheduled start + this (s).
    slo_freshness_s : float, optional
        Freshness threshold (s) for SLO attainment.

    Returns
    -------
    BatchSimResult
    """
    check_arrivals(arrivals)
    nodes, workers_per_node, max_batch, per_worker_s = _check_gang(
        service, nodes, workers_per_node, max_batch)
    horizon_s, warmup_s, n_replications, seed = _check_run(horizon_s, warmup_s, n_replications,
                                                           seed)
    scheduled = _checked_schedule(arrivals, horizon_s, period_s, offset_s, at_s)
    throughput = nodes * workers_per_node * max_batch / per_worker_s
    jp, prov = _job_params(nodes, workers_per_node, throughput, provisioning, startup_s,
                           checkpoint_s, checkpoint_cost_s, purchase, interruptions_per_node_hour,
                           replacement_delay_s, fallback_after, deadline_s, slo_freshness_s)
    hist, jobs, stats, acc = _run_batch_kernel(seed, arrivals, scheduled, jp, prov, horizon_s,
                                               warmup_s, n_replications)
    return BatchSimResult(
        nodes=nodes, workers_per_node=workers_per_node, max_batch=max_batch,
        throughput_rps=float(throughput), horizon_s=horizon_s, warmup_s=warmup_s,
        purchase=purchase, deadline_s=None if deadline_s is None else float(deadline_s),
        slo_freshness_s=None if slo_freshness_s is None else float(slo_freshness_s),
        seed=seed, scheduled_s=scheduled, freshness_hist=hist, jobs=jobs, stats=stats, acc=acc,
    )

