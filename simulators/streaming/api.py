"""Public API of the streaming micro-batch simulation: checks inputs, runs the kernel, wraps it.

Semantics (the contract; ``simulators/streaming/_kernel.py`` implements it and
``simulators/streaming/reference.py`` is its SimPy specification)
-----------------------------------------------------------------------------------------------
* Records arrive by an arrival process (Poisson, diurnal or trace, ``simulators.core.arrivals``);
  arrivals stop at ``horizon_s``.
* A fleet of nodes with ``workers_per_node`` identical workers each (one per GPU) processes
  micro-batches; ``n_workers`` below is the workers of the nodes a pass runs on (see Passes; a
  fixed fleet without spot has one pass a window, on all ``n_nodes`` nodes).  Window ``k = 0, 1, ...`` covers ``[k W, (k + 1) W)`` (``W =
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
  ``end_k = start_k + processing_k``.  Records still unprocessed when no node can ever come
  again would be counted as *stranded* (it cannot happen: every notice brings a replacement and
  ``min_nodes >= 1``).  Processing continues after the horizon until every
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
* Fleet: ``n_nodes`` nodes ready at t = 0; the first ``on_demand_base`` are on-demand *base*
  nodes (never removed, never interrupted), the others are spot when ``spot`` is given, else
  on-demand.  A node is held (billed) from its launch until it is removed or dies, and ready
  from its launch + ``provisioning_delay_s``.  Node-seconds are counted over ``[0, horizon_s]``
  (or ``[warmup_s, horizon_s]``), spot ones also apart.  Busy worker-seconds are the workers'
  batch intervals clipped to ``[warmup_s, horizon_s]`` (or ``[0, horizon_s]``).
* Passes: a window is processed in one or more *passes*.  A pass starting at ``s`` first runs
  every fleet event at or before ``s`` (below), then the nodes marked for removal leave, then
  it runs on the *usable* nodes: ready by ``s`` and without an interruption notice.  Its
  records are split into batches over the usable nodes' workers as above (nodes in launch
  order, ``workers_per_node`` workers each).  A node's *share* is its workers' batches; it
  ends at ``f``, its last batch's end.  A node that dies at ``d < f`` loses its share (a share
  ending exactly at the death is kept): its workers are busy until ``d`` and the share's
  records are *reprocessed* in the next pass, which starts at the latest of the surviving
  shares' ends and the deaths, with freshly drawn durations.  A pass with no loss ends the
  window at its longest worker's busy time + ``overhead_s``; the processing time is
  ``end_k - start_k``.  Nodes that become ready, get a notice or are marked for removal while
  a pass runs change nothing until the next pass.  If no node is usable at ``s``, the pass
  waits for the earliest ready time of a node then provisioning, or for the next launch if one
  comes first, and starts again there.
* Autoscaling (optional, :class:`~simulators.core.fleet.AutoscalingPolicy`, metric
  ``utilization``; :func:`streaming_autoscaling` builds the usual one): at ``t_j = j *
  interval_s`` (``j >= 1``, ``t_j <= horizon_s``) the load is the busy worker-seconds inside
  ``[max(0, t_j - window_s), t_j]`` divided by that span, and ``desired`` is the shared
  target-tracking rule (:func:`simulators.core.autoscale_rule.target_nodes`, the real-time
  fleet's): ``ceil(load / (workers_per_node * target) - 1e-9)`` clipped to
  ``[max(min_nodes, scheduled_min, on_demand_base), max_nodes]``, where ``scheduled_min`` is
  the clock schedule's floor at ``t_j`` (``AutoscalingPolicy.scheduled_min`` of the clock hour
  ``(start_hour + t_j / 3600) % 24``; 0 without a schedule).  ``current`` = held nodes
  without a notice + pending replacement launches - nodes marked for removal.  Scale-out first unmarks marked
  nodes, then launches the rest at ``t_j`` (spot in a spot fleet).  Scale-in, if
  ``scale_in_cooldown_s`` has passed since the last scale action (none before the first),
  cancels pending replacement launches (latest requested first) and marks the rest; marked
  nodes leave at the next pass start: provisioning nodes first, then ready spot nodes, then
  ready on-demand ones, newest first within each; base nodes and nodes under notice are never
  removed (marks with no node left to take lapse).
* Spot (optional, :class:`~simulators.core.fleet.SpotModel`, Poisson only): a spot node gets
  its interruption notice an exponential time of rate ``interruptions_per_hour / 3600`` after
  it is ready, drawn when it launches (in launch order, from the replication's spot stream); a
  notice that would come after the horizon never comes.  Under notice the node takes no new
  pass but finishes its share; it dies ``notice_s`` later.  Every notice requests a
  replacement spot launch at ``notice + replacement_delay_s`` (pending until then).
* Order at equal times: deaths, notices, replacement launches, autoscaler evaluations, then
  the pass start.  After the horizon no evaluation runs and no notice comes; notices already
  given still end in a death and pending launches still launch, so the drain always has nodes.
* Randomness: replication ``r`` draws arrivals from ``seed_stream(seed, r)``, batch durations
  from ``seed_stream(seed, r + 2**40)`` and spot interruptions from ``seed_stream(seed, r +
  2**41)``; replications run in parallel, so results do not depend on the thread count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from domain.errors import SimulationError
from simulators.core.arrivals import Arrivals, check_arrivals
from simulators.core.fleet import AutoscalingPolicy, SpotModel
from simulators.core.histogram import N_BUCKETS
from simulators.core.result import ReplicatedStats, columns_record, histogram_percentiles
from simulators.core.service import ServiceTime
from simulators.realtime.api import _SERVICE_KINDS, _arrival_arrays
from simulators.streaming import _fleet as fs
from simulators.streaming import _layout as sk
from simulators.streaming._checks import check_basis, check_fleet, check_inputs
from simulators.streaming._kernel import streaming_kernel

__all__ = [
    "SimulationError",
    "StreamingCounters",
    "StreamingSimResult",
    "simulate_streaming",
    "streaming_autoscaling",
]


def streaming_autoscaling(target_utilization: float, min_nodes: int, max_nodes: int,
                          interval_s: float = 60.0) -> AutoscalingPolicy:
    """Return the streaming fleet's usual policy: utilization measured over the last interval.

    Target tracking on utilization (busy / held worker-seconds, in (0, 1]) every
    ``interval_s``, with no scale-in cooldown and no clock schedule; ``1 <= min_nodes <=
    max_nodes``.
    """
    return AutoscalingPolicy(metric="utilization", target=target_utilization,
                             min_nodes=min_nodes, max_nodes=max_nodes, interval_s=interval_s,
                             window_s=interval_s, scale_in_cooldown_s=0.0)


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
    node_s_spot_horizon: np.ndarray
    node_s_spot_window: np.ndarray
    busy_spot_worker_s: np.ndarray
    n_interruptions: np.ndarray
    n_replacements: np.ndarray
    n_lost_shares: np.ndarray
    n_reprocessed_records: np.ndarray
    lost_worker_s: np.ndarray
    n_stranded: np.ndarray

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
        Counters and sums, indexed by ``simulators.streaming._layout.S_*``; read them by
        name through :meth:`counters`.
    timeline : float64[R, n_bins, N_TIMELINE]
        Per-bin accumulators over ``[0, horizon_s)``, indexed by ``T_*``.
    """

    n_nodes: int
    workers_per_node: int
    autoscaling: AutoscalingPolicy | None
    start_hour: float
    window_s: float
    max_batch: int
    overhead_s: float
    horizon_s: float
    warmup_s: float
    slo_latency_s: float | None
    seed: int
    timeline_bin_s: float
    provisioning_delay_s: float
    spot: SpotModel | None
    on_demand_base: int
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
        check_basis(basis)
        return self.stat(sk.S_BUSY_WORKER_S if basis == "window" else sk.S_BUSY_WORKER_S_HORIZON)

    def node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: node-seconds held in ``[0, horizon_s]`` or ``[warmup_s, horizon_s]``.

        ``basis="horizon"`` is what the fleet costs for the horizon; ``"window"`` is what the
        measured records cost.
        """
        check_basis(basis)
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

    def spot_node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R]: the spot nodes' part of :meth:`node_seconds`."""
        check_basis(basis)
        return self.stat(sk.S_NODE_S_SPOT_HORIZON if basis == "horizon"
                         else sk.S_NODE_S_SPOT_WINDOW)

    def spot_counts(self) -> dict[str, np.ndarray]:
        """Return what spot cost in work per replication (float64[R] each).

        ``interruptions`` (notices), ``replacements`` (launches up to the horizon),
        ``lost_shares`` (node shares of a pass lost to a death), ``reprocessed_records``,
        ``lost_worker_s`` (busy worker-seconds thrown away) and ``busy_spot_worker_s`` (spot
        nodes' busy worker-seconds in the measured window).
        """
        return {"interruptions": self.stat(sk.S_N_INTERRUPTIONS),
                "replacements": self.stat(sk.S_N_REPLACEMENTS),
                "lost_shares": self.stat(sk.S_N_LOST_SHARES),
                "reprocessed_records": self.stat(sk.S_N_REPROCESSED_RECORDS),
                "lost_worker_s": self.stat(sk.S_LOST_WORKER_S),
                "busy_spot_worker_s": self.stat(sk.S_BUSY_SPOT_WORKER_S)}

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
        (records in the bin), ``nodes``, ``nodes_spot``, ``busy_workers``, ``backlog_windows``
        and ``backlog_records`` (time averages over the bin).
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
            "nodes_spot": tl[:, :, sk.T_SPOT_NODE_S] / width,
            "busy_workers": tl[:, :, sk.T_BUSY_WORKER_S] / width,
            "backlog_windows": tl[:, :, sk.T_BACKLOG_WINDOW_S] / width,
            "backlog_records": tl[:, :, sk.T_BACKLOG_RECORD_S] / width,
        }

    def timeline_mean(self) -> dict[str, np.ndarray]:
        """Return the replication mean of :meth:`timeline_per_replication` (float64[n_bins])."""
        per_rep = self.timeline_per_replication()
        return {k: (v if v.ndim == 1 else v.mean(axis=0)) for k, v in per_rep.items()}


def simulate_streaming(
    arrivals: Arrivals, service: ServiceTime, n_nodes: int, workers_per_node: int,
    window_s: float, max_batch: int, horizon_s: float, warmup_s: float,
    n_replications: int, seed: int, overhead_s: float = 0.0,
    autoscaling: AutoscalingPolicy | None = None, slo_latency_s: float | None = None,
    *,
    provisioning_delay_s: float = 0.0,
    spot: SpotModel | None = None,
    on_demand_base: int = 0,
    start_hour: float = 0.0,
    timeline_bin_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> StreamingSimResult:
    """Simulate a streaming micro-batch job on a (possibly autoscaled, spot) fleet.

    Parameters
    ----------
    arrivals : PoissonArrivals | DiurnalArrivals | TraceArrivals
        The record stream.
    service : ServiceTime
        Per-batch-size duration of one batch on one worker; must cover ``max_batch``.
    n_nodes, workers_per_node : int
        The fleet at t = 0: nodes, and workers (GPUs) per node, each >= 1.
    window_s, max_batch
        Micro-batch interval (s, > 0: a window closes every ``window_s``) and the largest
        batch one worker runs (records, >= 1).
    horizon_s, warmup_s : float
        Arrivals stop at ``horizon_s``; statistics cover arrivals in ``[warmup_s, horizon_s)``.
    n_replications, seed : int
        Independent replications (run in parallel; replication ``k`` is seeded from
        ``(seed, k)``) and the scenario seed, >= 0.
    overhead_s : float
        Fixed scheduling/commit time added to every non-empty window's processing (s), >= 0.
    autoscaling : AutoscalingPolicy, optional
        Target tracking on utilization (:func:`streaming_autoscaling`, or any policy with metric
        ``utilization``, a window that is a multiple of the interval, a cooldown and a clock
        schedule); None: the fleet changes only by spot interruptions and their replacements.
    slo_latency_s : float, optional
        Latency threshold (s) for SLO attainment; ``timeline_bin_s``: the timeline's bins (s).
    provisioning_delay_s, spot, on_demand_base
        Launch-to-ready time (s, >= 0, paid); Poisson interruptions (:class:`SpotModel`) of the
        nodes beyond the first ``on_demand_base`` (on-demand, never removed), then spot.
    start_hour : float
        Clock hour at t = 0, in [0, 24) (the autoscaler's schedule reads the clock).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk of replications.

    Returns
    -------
    StreamingSimResult
        Raises :class:`SimulationError` (a ``ValueError``) naming a bad parameter, its value
        and the fix.
    """
    check_arrivals(arrivals)
    check_inputs(service, n_nodes, workers_per_node, window_s, max_batch, horizon_s, warmup_s,
                 n_replications, seed, overhead_s, slo_latency_s, timeline_bin_s)
    check_fleet(n_nodes, autoscaling, provisioning_delay_s, spot, on_demand_base, start_hour)
    arrival, outputs, slo, model = _kernel_arrays(
        arrivals, service, max_batch, horizon_s, n_replications, slo_latency_s, timeline_bin_s)
    fp = fleet_params(workers_per_node, autoscaling, provisioning_delay_s, spot, on_demand_base,
                      horizon_s, warmup_s, timeline_bin_s)
    floors = scheduled_floors(autoscaling, horizon_s, start_hour)
    lat_hist, stats, timeline = outputs
    chunk = max(1, numba.get_num_threads()) if progress is not None else n_replications
    for start in range(0, n_replications, chunk):
        stop = min(start + chunk, n_replications)
        streaming_kernel(int(seed), start, *arrival, _SERVICE_KINDS[service.distribution],
                         *model, int(max_batch), int(n_nodes), fp, floors, float(window_s),
                         float(overhead_s), float(horizon_s), float(warmup_s), slo,
                         float(timeline_bin_s), lat_hist[start:stop], stats[start:stop],
                         timeline[start:stop])
        if progress is not None:
            progress(stop, n_replications)
    return StreamingSimResult(
        n_nodes=int(n_nodes), workers_per_node=int(workers_per_node), autoscaling=autoscaling,
        start_hour=float(start_hour),
        window_s=float(window_s), max_batch=int(max_batch), overhead_s=float(overhead_s),
        horizon_s=float(horizon_s), warmup_s=float(warmup_s),
        slo_latency_s=None if slo_latency_s is None else float(slo_latency_s),
        seed=int(seed), timeline_bin_s=float(timeline_bin_s),
        provisioning_delay_s=float(provisioning_delay_s), spot=spot,
        on_demand_base=int(on_demand_base),
        latency_hist=lat_hist, stats=stats, timeline=timeline,
    )


def fleet_params(workers_per_node: int, autoscaling: AutoscalingPolicy | None,
                 provisioning_delay_s: float, spot: SpotModel | None, on_demand_base: int,
                 horizon_s: float, warmup_s: float, timeline_bin_s: float) -> np.ndarray:
    """Return the kernel's fleet parameters (``simulators.streaming._fleet.P_*``)."""
    fp = np.zeros(fs.N_PARAMS)
    fp[fs.P_W] = workers_per_node
    fp[fs.P_INTERVAL_S] = 1.0
    fp[fs.P_DELAY_S] = provisioning_delay_s
    fp[fs.P_BASE] = on_demand_base
    fp[fs.P_HORIZON_S] = horizon_s
    fp[fs.P_WARMUP_S] = warmup_s
    fp[fs.P_BIN_S] = timeline_bin_s
    a = autoscaling
    if a is not None:
        fp[fs.P_AUTOSCALE] = 1.0
        fp[fs.P_TARGET] = a.target
        fp[fs.P_MIN_NODES] = a.min_nodes
        fp[fs.P_MAX_NODES] = a.max_nodes
        fp[fs.P_INTERVAL_S] = a.interval_s
        fp[fs.P_WINDOW_S] = a.window_s
        fp[fs.P_WINDOW_N] = round(a.window_s / a.interval_s)
        fp[fs.P_COOLDOWN_S] = a.scale_in_cooldown_s
    if spot is not None:
        fp[fs.P_SPOT] = 1.0
        fp[fs.P_RATE] = spot.interruptions_per_hour / 3600.0
        fp[fs.P_NOTICE_S] = spot.notice_s
        fp[fs.P_REPLACE_S] = spot.replacement_delay_s
    return fp


def scheduled_floors(autoscaling: AutoscalingPolicy | None, horizon_s: float,
                     start_hour: float) -> np.ndarray:
    """Return float64[n_intervals]: the clock schedule's floor at each evaluation ``j *
    interval_s`` (index ``j``, ``0 .. ceil(horizon_s / interval_s)``), the kernel's per-interval
    table length; one zero without autoscaling.  The reference computes the same expression."""
    a = autoscaling
    if a is None:
        return np.zeros(1)
    n_iv = math.ceil(horizon_s / a.interval_s) + 1
    if not a.schedule:
        return np.zeros(n_iv)
    return np.array([a.scheduled_min((start_hour + j * a.interval_s / 3600.0) % 24.0)
                     for j in range(n_iv)], dtype=np.float64)


def _kernel_arrays(arrivals: Arrivals, service: ServiceTime, max_batch: int, horizon_s: float,
                   n_replications: int, slo_latency_s: float | None,
                   timeline_bin_s: float) -> tuple:
    """Prepare the kernel's arrays.

    Returns ``(arrival, outputs, slo, model)``: the arrival arrays ``(kind, params, hourly,
    trace)``, the zeroed outputs ``(lat_hist, stats, timeline)``, the SLO threshold (s, inf for
    none) and the service arrays ``(mean_s, log_mu, log_sigma)`` up to ``max_batch``.
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
    return (kind, params, hourly, trace), (lat_hist, stats, timeline), slo, (mean_s, mu, sigma)
