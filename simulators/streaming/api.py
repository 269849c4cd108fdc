"""Public API of the streaming micro-batch simulation: checks inputs, runs the kernel, wraps it.

Semantics (the contract; ``simulators/streaming/_kernel.py`` implements it and
``simulators/streaming/reference.py`` is its SimPy specification)
-----------------------------------------------------------------------------------------------
* Records arrive by an arrival process (Poisson, diurnal or trace, ``simulators.core.arrivals``);
  arrivals stop at ``horizon_s``.
* A standing fleet of ``n_workers = n_nodes * workers_per_node`` identical workers (one per GPU)
  processes micro-batches.  Window ``k = 0, 1, ...`` covers ``[k W, (k + 1) W)`` (``W =
  window_s``; a record arriving exactly at ``(k + 1) W`` belongs to window ``k + 1``) and closes
  at ``close_k = (k + 1) W``.  Windows exist for every ``k`` with ``k W < horizon_s``; the last
  one may close after the horizon.
* A window of ``n`` records is split into ``ceil(n / max_batch)`` batches, all of
  ``max_batch`` records but the last, which holds the rest.  Batch ``i`` goes to worker
  ``i mod n_workers`` (round robin: worker loads differ by at most one batch); each worker runs
  its batches back to back from the window's start.  A batch of ``m`` records takes a duration
  drawn from the ``ServiceTime`` model for ``m`` (constant, exponential or lognormal, as in the
  real-time kernel), drawn in batch order.  The window's processing time is the longest
  worker's busy time plus ``overhead_s`` (scheduling and commit; the workers are not busy
  during it).  An empty window takes 0 and draws nothing.
* Windows are processed in order, one at a time: ``start_k = max(close_k, end_{k-1})`` and
  ``end_k = start_k + processing_k``.  Processing continues after the horizon until every
  window is done (the drain), so every record gets a latency; nothing is silently dropped.
* Latency of a record = ``end_k`` of its window - its arrival time.  Records arriving before
  ``warmup_s`` are processed but left out of the latency statistics.
* Backlog: a window *waits* over ``[close_k, start_k)``.  The backlog at time ``t`` is the
  number of waiting windows (and the records in them).  Its maximum is taken at the window
  closes in ``[warmup_s, horizon_s]`` (the only instants it can rise), its mean is the time
  average over ``[warmup_s, horizon_s]``.  The lag at the horizon is ``horizon_s`` minus the
  close of the newest window processed by the horizon (``horizon_s`` if none): every record
  older than the lag is processed.  Records *in the system* at ``t`` = arrived by ``t`` and in
  a window not processed by ``t`` (open, waiting or in processing).  Conservation: records
  arrived = processed by the horizon + in the system at the horizon.
* Fleet: ``n_nodes`` nodes at t = 0, held (billed) while they exist, counted over
  ``[0, horizon_s]`` (or ``[warmup_s, horizon_s]``).  A window runs on the nodes *ready* at its
  start; nodes that become ready, or are marked for removal, during its processing change
  nothing until the next window starts.  Busy worker-seconds are the workers' batch intervals
  clipped to ``[warmup_s, horizon_s]`` (or ``[0, horizon_s]``).
* Autoscaling (optional, :class:`StreamingAutoscaling`): target tracking on utilization.  At
  ``t_j = j * interval_s`` (``j >= 1``, ``t_j <= horizon_s``) the utilization ``u`` = busy
  worker-seconds / held worker-seconds over ``(t_j - interval_s, t_j]`` gives
  ``desired = clamp(ceil(N u / target_utilization), min_nodes, max_nodes)`` (``ceil`` with a
  1e-9 tolerance), with ``N`` the nodes held and not marked for removal.  Scale-out first
  unmarks nodes marked for removal, then launches nodes that are held (paid) from ``t_j`` and
  ready at ``t_j + provisioning_delay_s``.  Scale-in marks nodes for removal; they leave (and
  stop being paid) at the next window start, provisioning nodes first (newest first), then
  ready ones.  At a window start, nodes ready by then join first, then marked nodes leave.  An
  evaluation at the same time as a window start runs before it.  After the horizon the
  autoscaler stops and the fleet drains the remaining windows as it stands.
* Randomness: replication ``r`` draws arrivals from ``seed_stream(seed, r)`` and batch
  durations from ``seed_stream(seed, r + 2**40)``; replications run in parallel, so results do
  not depend on the thread count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from domain.errors import SimulationError
from simulators.core.arrivals import Arrivals, check_arrivals
from simulators.core.histogram import N_BUCKETS
from simulators.core.result import ReplicatedStats, columns_record, histogram_percentiles
from simulators.core.service import ServiceTime
from simulators.realtime.api import _SERVICE_KINDS, _arrival_arrays
from simulators.streaming import _kernel as sk
from simulators.streaming._kernel import streaming_kernel

__all__ = [
    "SimulationError",
    "StreamingAutoscaling",
    "StreamingCounters",
    "StreamingSimResult",
    "simulate_streaming",
]


@dataclass(frozen=True)
class StreamingAutoscaling:
    """Target-tracking autoscaling of the streaming fleet (see the module docstring).

    Attributes
    ----------
    target_utilization : float
        Busy / held worker-seconds the autoscaler steers toward, in (0, 1].
    min_nodes, max_nodes : int
        Bounds of the desired node count, ``1 <= min_nodes <= max_nodes``.
    interval_s : float
        Evaluation interval (s), > 0; the utilization is measured over the last interval.
    provisioning_delay_s : float
        Time (s) from launch to ready, >= 0; the node is paid meanwhile.
    """

    target_utilization: float
    min_nodes: int
    max_nodes: int
    interval_s: float = 60.0
    provisioning_delay_s: float = 120.0


@dataclass(frozen=True)
class StreamingCounters:
    """Per-replication counters and sums of the streaming kernel, float64[R] each.

    One field per column the kernel keeps; a field ``x`` is the kernel's ``S_X`` column.
    """

    n_arrivals_total: np.ndarray
    n_window: np.ndarray
    n_processed_by_horizon: np.ndarray
    n_in_system_at_horizon: np.ndarray
    n_completed_in_window: np.ndarray
    sum_latency_s: np.ndarray
    n_slo_met: np.ndarray
    busy_worker_s: np.ndarray
    busy_worker_s_horizon: np.ndarray
    node_s_horizon: np.ndarray
    node_s_window: np.ndarray
    n_windows_total: np.ndarray
    n_windows_processed: np.ndarray
    n_batches: np.ndarray
    max_backlog_windows: np.ndarray
    max_backlog_records: np.ndarray
    backlog_window_area: np.ndarray
    backlog_record_area: np.ndarray
    in_system_area: np.ndarray
    lag_at_horizon_s: np.ndarray
    backlog_windows_at_horizon: np.ndarray
    backlog_records_at_horizon: np.ndarray
    sum_processing_s: np.ndarray
    n_nonempty_windows: np.ndarray
    max_processing_s: np.ndarray
    last_end_s: np.ndarray
    n_scale_out: np.ndarray
    n_scale_in: np.ndarray
    max_nodes: np.ndarray
    n_nodes_launched: np.ndarray

    @classmethod
    def from_stats(cls, array: np.ndarray) -> StreamingCounters:
        """Return the record of a float64[R, N_STATS] kernel ``stats`` array (copies)."""
        return columns_record(cls, array, sk, "S_")


@dataclass(frozen=True)
class StreamingSimResult(ReplicatedStats):
    """Raw output of :func:`simulate_streaming`, one row per replication.

    Attributes
    ----------
    latency_hist : int64[R, N_BUCKETS]
        Log-bucket histogram (s) of the latencies of records arriving in ``[warmup_s,
        horizon_s)``.
    stats : float64[R, N_STATS]
        Counters and sums, indexed by ``simulators.streaming._kernel.S_*``; read them by
        name through :meth:`counters`.
    timeline : float64[R, n_bins, N_TIMELINE]
        Per-bin accumulators over ``[0, horizon_s)``, indexed by ``T_*``.
    """

    n_nodes: int
    workers_per_node: int
    autoscaling: StreamingAutoscaling | None
    window_s: float
    max_batch: int
    overhead_s: float
    horizon_s: float
    warmup_s: float
    slo_latency_s: float | None
    seed: int
    timeline_bin_s: float
    latency_hist: np.ndarray = field(repr=False)
    stats: np.ndarray = field(repr=False)
    timeline: np.ndarray = field(repr=False)

    @property
    def n_workers(self) -> int:
        """Return the number of workers (GPUs) of the fleet at t = 0."""
        return self.n_nodes * self.workers_per_node

    @property
    def measured_s(self) -> float:
        """Return the measured interval's length ``horizon_s - warmup_s`` (s)."""
        return self.horizon_s - self.warmup_s

    def counters(self) -> StreamingCounters:
        """Return the per-replication counters as a typed record (float64[R] fields)."""
        return StreamingCounters.from_stats(self.stats)

    def n_records(self) -> np.ndarray:
        """Return float64[R]: records that arrived in ``[warmup_s, horizon_s)``."""
        return self.stat(sk.S_N_WINDOW)

    def latency_percentiles_s(self, quantiles: np.ndarray) -> np.ndarray:
        """Return float64[R, k] nearest-rank latency quantiles (s) per replication."""
        return histogram_percentiles(self.latency_hist, quantiles)

    def mean_latency_s(self) -> np.ndarray:
        """Return float64[R]: exact mean latency (s) per replication."""
        return self._ratio(sk.S_SUM_LATENCY_S, sk.S_N_WINDOW)

    def throughput_rps(self) -> np.ndarray:
        """Return float64[R]: records whose window finished in the measured interval, per s."""
        return self.stats[:, sk.S_N_COMPLETED_IN_WINDOW] / self.measured_s

    def arrival_rate_rps(self) -> np.ndarray:
        """Return float64[R]: records that arrived in the measured interval, per s."""
        return self.stats[:, sk.S_N_WINDOW] / self.measured_s

    def utilization(self) -> np.ndarray:
        """Return float64[R]: busy worker-seconds / held worker-seconds in the measured interval."""
        held = self.stats[:, sk.S_NODE_S_WINDOW] * self.workers_per_node
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.stats[:, sk.S_BUSY_WORKER_S] / held

    def busy_worker_s(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: busy worker-seconds (= GPU-seconds), ``"window"`` or ``"horizon"``."""
        _check_basis(basis)
        return self.stat(sk.S_BUSY_WORKER_S if basis == "window" else sk.S_BUSY_WORKER_S_HORIZON)

    def node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: node-seconds held in ``[0, horizon_s]`` or ``[warmup_s, horizon_s]``.

        ``basis="horizon"`` is what the fleet costs for the horizon; ``"window"`` is what the
        measured records cost.
        """
        _check_basis(basis)
        return self.stat(sk.S_NODE_S_HORIZON if basis == "horizon" else sk.S_NODE_S_WINDOW)

    def slo_attainment(self) -> np.ndarray | None:
        """Return float64[R]: share of records with latency <= the SLO, or None without SLO."""
        if self.slo_latency_s is None:
            return None
        return self._ratio(sk.S_N_SLO_MET, sk.S_N_WINDOW)

    def mean_processing_s(self) -> np.ndarray:
        """Return float64[R]: mean processing time (s) of the non-empty windows."""
        return self._ratio(sk.S_SUM_PROCESSING_S, sk.S_N_NONEMPTY_WINDOWS)

    def mean_nodes(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: time-average nodes held (provisioning included)."""
        span = self.measured_s if basis == "window" else self.horizon_s
        return self.node_seconds(basis) / span

    def scaling_counts(self) -> dict[str, np.ndarray]:
        """Return autoscaler decisions and launches per replication (float64[R] each)."""
        return {"scale_out": self.stat(sk.S_N_SCALE_OUT), "scale_in": self.stat(sk.S_N_SCALE_IN),
                "launched": self.stat(sk.S_N_NODES_LAUNCHED),
                "max_nodes": self.stat(sk.S_MAX_NODES)}

    def windows_processed(self) -> np.ndarray:
        """Return float64[R]: windows whose processing ended by the horizon."""
        return self.stat(sk.S_N_WINDOWS_PROCESSED)

    def max_backlog(self) -> dict[str, np.ndarray]:
        """Return the max backlog over closes in ``[warmup_s, horizon_s]``: windows and records."""
        return {"windows": self.stat(sk.S_MAX_BACKLOG_WINDOWS),
                "records": self.stat(sk.S_MAX_BACKLOG_RECORDS)}

    def mean_backlog(self) -> dict[str, np.ndarray]:
        """Return the time-average backlog over ``[warmup_s, horizon_s]``: windows and records."""
        return {"windows": self.stats[:, sk.S_BACKLOG_WINDOW_AREA] / self.measured_s,
                "records": self.stats[:, sk.S_BACKLOG_RECORD_AREA] / self.measured_s}

    def mean_records_in_system(self) -> np.ndarray:
        """Return float64[R]: time-average records arrived and not yet processed (Little's L)."""
        return self.stats[:, sk.S_IN_SYSTEM_AREA] / self.measured_s

    def lag_at_horizon_s(self) -> np.ndarray:
        """Return float64[R]: horizon minus the close of the newest window processed by it (s)."""
        return self.stat(sk.S_LAG_AT_HORIZON_S)

    def counts(self) -> dict[str, np.ndarray]:
        """Return the record counts per replication (float64[R] each).

        ``arrived`` (all, in ``[0, horizon_s)``), ``measured`` (in ``[warmup_s, horizon_s)``),
        ``processed_by_horizon``, ``in_system_at_horizon`` (arrived = the two together),
        ``backlog_records_at_horizon`` and ``backlog_windows_at_horizon`` (closed, not started).
        """
        return {
            "arrived": self.stat(sk.S_N_ARRIVALS_TOTAL),
            "measured": self.stat(sk.S_N_WINDOW),
            "processed_by_horizon": self.stat(sk.S_N_PROCESSED_BY_HORIZON),
            "in_system_at_horizon": self.stat(sk.S_N_IN_SYSTEM_AT_HORIZON),
            "backlog_records_at_horizon": self.stat(sk.S_BACKLOG_RECORDS_AT_HORIZON),
            "backlog_windows_at_horizon": self.stat(sk.S_BACKLOG_WINDOWS_AT_HORIZON),
        }

    def timeline_per_replication(self) -> dict[str, np.ndarray]:
        """Return per-bin series, float64[R, n_bins] each, over ``[0, horizon_s)``.

        Keys: ``start_s`` and ``width_s`` (float64[n_bins]), ``arrivals`` and ``processed``
        (records in the bin), ``nodes``, ``busy_workers``, ``backlog_windows`` and
        ``backlog_records`` (time averages over the bin).
        """
        tl = self.timeline
        b = self.timeline_bin_s
        n_bins = tl.shape[1]
        start = b * np.arange(n_bins)
        width = np.minimum(b, self.horizon_s - start)
        return {
            "start_s": start,
            "width_s": width,
            "arrivals": tl[:, :, sk.T_ARRIVALS].copy(),
            "processed": tl[:, :, sk.T_PROCESSED].copy(),
            "nodes": tl[:, :, sk.T_NODE_S] / width,
            "busy_workers": tl[:, :, sk.T_BUSY_WORKER_S] / width,
            "backlog_windows": tl[:, :, sk.T_BACKLOG_WINDOW_S] / width,
            "backlog_records": tl[:, :, sk.T_BACKLOG_RECORD_S] / width,
        }

    def timeline_mean(self) -> dict[str, np.ndarray]:
        """Return the replication mean of :meth:`timeline_per_replication` (float64[n_bins])."""
        per_rep = self.timeline_per_replication()
        return {k: (v if v.ndim == 1 else v.mean(axis=0)) for k, v in per_rep.items()}


def _check_basis(basis: str) -> None:
    if basis not in ("horizon", "window"):
        raise SimulationError(
            f"basis must be 'horizon' or 'window' (got {basis!r}); pass one of those")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_inputs(service: ServiceTime, n_nodes: Any, workers_per_node: Any, window_s: Any,
                  max_batch: Any, horizon_s: Any, warmup_s: Any, n_replications: Any, seed: Any,
                  overhead_s: Any, autoscaling: Any, slo_latency_s: Any,
                  timeline_bin_s: Any) -> None:
    """Raise :class:`SimulationError` naming the parameter, the bad value and the fix."""
    def finite(x: Any) -> bool:
        return isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(x)

    if not (_is_int(n_nodes) and n_nodes >= 1):
        raise SimulationError(f"n_nodes must be an integer >= 1 (got {n_nodes!r}); "
                                  "give the standing fleet at least one node")
    if not (_is_int(workers_per_node) and workers_per_node >= 1):
        raise SimulationError(
            f"workers_per_node must be an integer >= 1 (got {workers_per_node!r}); "
            "use the node's GPU count")
    if not (finite(window_s) and window_s > 0):
        raise SimulationError(f"window_s must be a finite number > 0 (got {window_s!r}); "
                                  "give the micro-batch interval in seconds, e.g. 60")
    if not (_is_int(max_batch) and max_batch >= 1):
        raise SimulationError(f"max_batch must be an integer >= 1 (got {max_batch!r}); "
                                  "give the largest batch one worker runs")
    if service.max_batch < max_batch:
        raise SimulationError(
            f"max_batch {max_batch} exceeds the service time's largest batch size "
            f"{service.max_batch}; lower max_batch or extend the service-time table")
    if not (finite(horizon_s) and horizon_s > 0):
        raise SimulationError(f"horizon_s must be a finite number > 0 (got {horizon_s!r}); "
                                  "give the simulated time in seconds")
    if not (finite(warmup_s) and 0 <= warmup_s < horizon_s):
        raise SimulationError(
            f"warmup_s must be in [0, horizon_s) (got {warmup_s!r} with horizon_s "
            f"{horizon_s!r}); shorten the warm-up or lengthen the horizon")
    if not (_is_int(n_replications) and n_replications >= 1):
        raise SimulationError(
            f"n_replications must be an integer >= 1 (got {n_replications!r}); use e.g. 10")
    if not (_is_int(seed) and seed >= 0):
        raise SimulationError(f"seed must be an integer >= 0 (got {seed!r}); use e.g. 1")
    if not (finite(overhead_s) and overhead_s >= 0):
        raise SimulationError(f"overhead_s must be a finite number >= 0 (got {overhead_s!r});"
                                  " use 0 for no per-window overhead")
    if autoscaling is not None:
        _check_autoscaling(autoscaling, n_nodes)
    if slo_latency_s is not None and not (finite(slo_latency_s) and slo_latency_s > 0):
        raise SimulationError(
            f"slo_latency_s must be a finite number > 0 or None (got {slo_latency_s!r}); "
            "give the latency target in seconds or leave it out")
    if not (finite(timeline_bin_s) and timeline_bin_s > 0):
        raise SimulationError(
            f"timeline_bin_s must be a finite number > 0 (got {timeline_bin_s!r}); use 60")


def _check_autoscaling(a: Any, n_nodes: int) -> None:
    if not isinstance(a, StreamingAutoscaling):
        raise SimulationError(
            f"autoscaling must be a StreamingAutoscaling or None (got {a!r}); "
            "build one with StreamingAutoscaling(target_utilization=..., min_nodes=..., ...)")
    t = a.target_utilization
    if not (isinstance(t, (int, float)) and 0 < t <= 1):
        raise SimulationError(
            f"autoscaling.target_utilization must be in (0, 1] (got {t!r}); use e.g. 0.6")
    if not (_is_int(a.min_nodes) and _is_int(a.max_nodes) and 1 <= a.min_nodes <= a.max_nodes):
        raise SimulationError(
            f"autoscaling needs integers 1 <= min_nodes <= max_nodes (got min_nodes "
            f"{a.min_nodes!r}, max_nodes {a.max_nodes!r}); raise max_nodes or lower min_nodes")
    if not a.min_nodes <= n_nodes <= a.max_nodes:
        raise SimulationError(
            f"n_nodes must be within [autoscaling.min_nodes, autoscaling.max_nodes] (got "
            f"{n_nodes!r} outside [{a.min_nodes}, {a.max_nodes}]); start inside the bounds")
    if not (isinstance(a.interval_s, (int, float)) and math.isfinite(a.interval_s)
            and a.interval_s > 0):
        raise SimulationError(
            f"autoscaling.interval_s must be a finite number > 0 (got {a.interval_s!r}); use 60")
    d = a.provisioning_delay_s
    if not (isinstance(d, (int, float)) and math.isfinite(d) and d >= 0):
        raise SimulationError(
            f"autoscaling.provisioning_delay_s must be a finite number >= 0 (got {d!r}); "
            "use the node's boot time in seconds")


def _autoscaling_array(a: StreamingAutoscaling | None) -> np.ndarray:
    asp = np.zeros(sk.N_AS_PARAMS)
    asp[sk.AS_INTERVAL_S] = 1.0
    if a is not None:
        asp[sk.AS_ON] = 1.0
        asp[sk.AS_TARGET] = a.target_utilization
        asp[sk.AS_MIN_NODES] = a.min_nodes
        asp[sk.AS_MAX_NODES] = a.max_nodes
        asp[sk.AS_INTERVAL_S] = a.interval_s
        asp[sk.AS_DELAY_S] = a.provisioning_delay_s
    return asp


def simulate_streaming(
    arrivals: Arrivals, service: ServiceTime, n_nodes: int, workers_per_node: int,
    window_s: float, max_batch: int, horizon_s: float, warmup_s: float,
    n_replications: int, seed: int, overhead_s: float = 0.0,
    autoscaling: StreamingAutoscaling | None = None, slo_latency_s: float | None = None,
    *,
    timeline_bin_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> StreamingSimResult:
    """Simulate a streaming micro-batch job on a standing fleet, ``n_replications`` times.

    Parameters
    ----------
    arrivals : PoissonArrivals | DiurnalArrivals | TraceArrivals
        The record stream.
    service : ServiceTime
        Per-batch-size duration of one batch on one worker; must cover ``max_batch``.
    n_nodes, workers_per_node : int
        The standing fleet: nodes, and workers (GPUs) per node, each >= 1.
    window_s : float
        Micro-batch interval (s), > 0: a window closes every ``window_s``.
    max_batch : int
        Largest batch one worker runs (records), >= 1.
    horizon_s, warmup_s : float
        Arrivals stop at ``horizon_s``; statistics cover arrivals in ``[warmup_s, horizon_s)``.
    n_replications : int
        Independent replications (run in parallel; replication ``k`` is seeded from
        ``(seed, k)``).
    seed : int
        Scenario seed, >= 0.
    overhead_s : float
        Fixed scheduling/commit time added to every non-empty window's processing (s), >= 0.
    autoscaling : StreamingAutoscaling, optional
        Target-tracking autoscaling; None for a fixed fleet of ``n_nodes``.
    slo_latency_s : float, optional
        Latency threshold (s) for SLO attainment.
    timeline_bin_s : float
        Width of the timeline bins (s).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk of replications.

    Returns
    -------
    StreamingSimResult

    Raises
    ------
    SimulationError
        (a ``SimulationError`` and a ``ValueError``) when a parameter is out of range.
    """
    check_arrivals(arrivals)
    _check_inputs(service, n_nodes, workers_per_node, window_s, max_batch, horizon_s, warmup_s,
                  n_replications, seed, overhead_s, autoscaling, slo_latency_s, timeline_bin_s)
    arrival, outputs, slo, model, asp = _kernel_arrays(
        arrivals, service, max_batch, horizon_s, n_replications, slo_latency_s, timeline_bin_s,
        autoscaling)
    lat_hist, stats, timeline = outputs

    chunk = max(1, numba.get_num_threads()) if progress is not None else n_replications
    for start in range(0, n_replications, chunk):
        stop = min(start + chunk, n_replications)
        streaming_kernel(
            int(seed), start, *arrival,
            _SERVICE_KINDS[service.distribution], *model, int(max_batch), int(n_nodes),
            int(workers_per_node), asp, float(window_s), float(overhead_s), float(horizon_s),
            float(warmup_s), slo, float(timeline_bin_s), lat_hist[start:stop], stats[start:stop],
            timeline[start:stop],
        )
        if progress is not None:
            progress(stop, n_replications)

    return StreamingSimResult(
        n_nodes=int(n_nodes), workers_per_node=int(workers_per_node), autoscaling=autoscaling,
        window_s=float(window_s), max_batch=int(max_batch), overhead_s=float(overhead_s),
        horizon_s=float(horizon_s), warmup_s=float(warmup_s),
        slo_latency_s=None if slo_latency_s is None else float(slo_latency_s),
        seed=int(seed), timeline_bin_s=float(timeline_bin_s),
        latency_hist=lat_hist, stats=stats, timeline=timeline,
    )


def _kernel_arrays(arrivals: Arrivals, service: ServiceTime, max_batch: int, horizon_s: float,
                   n_replications: int, slo_latency_s: float | None, timeline_bin_s: float,
                   autoscaling: StreamingAutoscaling | None) -> tuple:
    """Prepare the kernel's arrays.

    Returns ``(arrival, outputs, slo, model, asp)``: the arrival arrays ``(kind, params, hourly,
    trace)``, the zeroed outputs ``(lat_hist, stats, timeline)``, the SLO threshold (s, inf for
    none), the service arrays ``(mean_s, log_mu, log_sigma)`` up to ``max_batch`` and the
    autoscaling parameters.
    """
    kind, params, hourly, trace = _arrival_arrays(arrivals, float(horizon_s))
    n_bins = math.ceil(horizon_s / timeline_bin_s)
    lat_hist = np.zeros((n_replications, N_BUCKETS), dtype=np.int64)
    stats = np.zeros((n_replications, sk.N_STATS))
    timeline = np.zeros((n_replications, n_bins, sk.N_TIMELINE))
    slo = math.inf if slo_latency_s is None else float(slo_latency_s)
    mean_s = np.ascontiguousarray(service.mean_s[: max_batch + 1], dtype=np.float64)
    mu = np.ascontiguousarray(service.log_mu[: max_batch + 1], dtype=np.float64)
    sigma = np.ascontiguousarray(service.log_sigma[: max_batch + 1], dtype=np.float64)
    asp = _autoscaling_array(autoscaling)
    return (kind, params, hourly, trace), (lat_hist, stats, timeline), slo, (mean_s, mu, sigma), asp
