"""Public API of the real-time serving simulation: checks inputs, runs the kernel, wraps results."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from domain.errors import SimulationError
from simulators.core import arrival_kernel as ak
from simulators.core import fleet_kernel as fk
from simulators.core import service_kernel as svk
from simulators.core.arrivals import (
    DAY_S,
    Arrivals,
    DiurnalArrivals,
    PoissonArrivals,
    check_arrivals,
)
from simulators.core.fleet import FleetSpec
from simulators.core.histogram import N_BUCKETS, percentiles_from_counts
from simulators.core.result import WindowedStats, columns_record
from simulators.core.service import ServiceTime
from simulators.realtime import _layout as rk
from simulators.realtime._kernel import realtime_kernel

_SERVICE_KINDS = {
    "constant": svk.SERVICE_CONSTANT,
    "exponential": svk.SERVICE_EXPONENTIAL,
    "lognormal": svk.SERVICE_LOGNORMAL,
}


@dataclass(frozen=True)
class RealtimeCounters:
    """Per-replication counters and sums of the real-time kernel, float64[R] each.

    One field per statistic the kernel keeps; a field ``x`` is the kernel's ``S_X`` column.
    Counts and sums over requests arriving in ``[warmup_s, horizon_s)`` unless the name says
    ``total`` (all of ``[0, horizon_s)``) or ``at_horizon``.
    """

    n_arrivals_total: np.ndarray
    n_window: np.ndarray
    n_completed_by_horizon: np.ndarray
    n_in_system_at_horizon: np.ndarray
    sum_latency_s: np.ndarray
    sum_wait_s: np.ndarray
    sum_service_s: np.ndarray
    n_slo_met: np.ndarray
    busy_worker_s: np.ndarray
    n_batches: np.ndarray
    sum_batch_size: np.ndarray
    queue_area: np.ndarray
    last_completion_s: np.ndarray
    n_batches_total: np.ndarray
    n_dispatched_total: np.ndarray
    n_completed_in_window: np.ndarray
    n_dropped: np.ndarray
    n_dropped_window: np.ndarray
    n_requeued: np.ndarray
    n_stranded: np.ndarray
    n_preemptions: np.ndarray
    n_preemption_events: np.ndarray
    n_scale_out: np.ndarray
    n_scale_in: np.ndarray
    n_launch_base: np.ndarray
    n_launch_spot: np.ndarray
    n_launch_fallback: np.ndarray
    max_nodes: np.ndarray
    n_launch_no_slot: np.ndarray

    @classmethod
    def from_stats(cls, stats: np.ndarray) -> RealtimeCounters:
        """Return the record of a float64[R, N_STATS] kernel ``stats`` array (copies)."""
        return columns_record(cls, stats, rk, "S_")


@dataclass(frozen=True)
class RealtimeSimResult(WindowedStats):
    """Raw output of :func:`simulate_realtime`, one row per replication.

    Attributes
    ----------
    latency_hist, wait_hist : int64[R, N_BUCKETS]
        Log-bucket histograms (seconds) of requests that arrived in ``[warmup_s, horizon_s)``.
    stats : float64[R, N_STATS]
        Counters and sums, indexed by ``simulators.realtime._layout.S_*``; read them by
        name through :meth:`counters`.
    timeline : float64[R, n_bins, N_TIMELINE]
        Per-bin accumulators over ``[0, horizon_s)``, indexed by ``T_*``.
    fleet_acc : float64[R, 2, N_CLASSES, N_STATES + 1]
        Node-seconds by class and state, and busy worker-seconds by class (last index);
        ``[:, 0]`` inside ``[0, horizon_s]``, ``[:, 1]`` inside ``[warmup_s, horizon_s]``.
    """

    n_workers: int
    max_batch: int
    max_wait_s: float
    horizon_s: float
    warmup_s: float
    slo_latency_s: float | None
    seed: int
    timeline_bin_s: float
    latency_hist: np.ndarray = field(repr=False)
    wait_hist: np.ndarray = field(repr=False)
    stats: np.ndarray = field(repr=False)
    timeline: np.ndarray = field(repr=False)
    fleet_acc: np.ndarray = field(repr=False)
    fleet: FleetSpec | None = None

    def counters(self) -> RealtimeCounters:
        """Return the per-replication counters as a typed record (float64[R] fields)."""
        return RealtimeCounters.from_stats(self.stats)

    def n_requests(self) -> np.ndarray:
        """Return float64[R]: requests that arrived in the window (all are served)."""
        return self.stat(rk.S_N_WINDOW)

    def latency_percentiles_s(self, quantiles: np.ndarray) -> np.ndarray:
        """Return float64[R, k] nearest-rank latency quantiles (s) per replication."""
        return percentiles_from_counts(self.latency_hist, np.asarray(quantiles))

    def wait_percentiles_s(self, quantiles: np.ndarray) -> np.ndarray:
        """Return float64[R, k] nearest-rank wait quantiles (s) per replication."""
        return percentiles_from_counts(self.wait_hist, np.asarray(quantiles))

    def mean_latency_s(self) -> np.ndarray:
        """Return float64[R]: exact mean latency (s) per replication."""
        return self._ratio(rk.S_SUM_LATENCY_S, rk.S_N_WINDOW)

    def mean_wait_s(self) -> np.ndarray:
        """Return float64[R]: exact mean wait (s) per replication."""
        return self._ratio(rk.S_SUM_WAIT_S, rk.S_N_WINDOW)

    def mean_service_s(self) -> np.ndarray:
        """Return float64[R]: mean service time (s) seen by requests, per replication."""
        return self._ratio(rk.S_SUM_SERVICE_S, rk.S_N_WINDOW)

    def throughput_rps(self) -> np.ndarray:
        """Return float64[R]: requests completed inside the window per second."""
        return self.stats[:, rk.S_N_COMPLETED_IN_WINDOW] / self.window_s

    def arrival_rate_rps(self) -> np.ndarray:
        """Return float64[R]: requests that arrived in the window per second."""
        return self.stats[:, rk.S_N_WINDOW] / self.window_s

    def utilization(self) -> np.ndarray:
        """Return float64[R]: busy worker-seconds over serving worker-seconds in the window.

        Serving = nodes READY, under notice or draining (provisioning nodes serve nothing).  For
        a fixed fleet this is busy / (workers x window).
        """
        serving = self.fleet_acc[:, 1, :, fk.ST_READY:fk.ST_DRAINING + 1].sum(axis=(1, 2))
        w = 1 if self.fleet is None else self.fleet.workers_per_node
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.stats[:, rk.S_BUSY_WORKER_S] / (serving * w)

    def busy_worker_s(self) -> np.ndarray:
        """Return float64[R]: busy worker-seconds (= busy GPU-seconds) in the window."""
        return self.stat(rk.S_BUSY_WORKER_S)

    def slo_attainment(self) -> np.ndarray | None:
        """Return float64[R]: share of requests with latency <= the SLO, or None without SLO."""
        if self.slo_latency_s is None:
            return None
        return self._ratio(rk.S_N_SLO_MET, rk.S_N_WINDOW)

    def mean_batch_size(self) -> np.ndarray:
        """Return float64[R]: mean size of batches dispatched in the window."""
        return self._ratio(rk.S_SUM_BATCH_SIZE, rk.S_N_BATCHES)

    def mean_queue_length(self) -> np.ndarray:
        """Return float64[R]: time-average number of queued requests in the window."""
        return self.stats[:, rk.S_QUEUE_AREA] / self.window_s

    def timeline_per_replication(self) -> dict[str, np.ndarray]:
        """Return per-bin series, float64[R, n_bins] each, over ``[0, horizon_s)``.

        Keys: ``start_s`` (float64[n_bins]), ``width_s`` (float64[n_bins]), ``arrivals``,
        ``completions``, ``batches`` (counts in the bin), ``mean_queue`` (time-average queued
        requests) and ``mean_busy_workers`` (time-average busy workers).  The averages are exact:
        the kernel keeps, per bin, event counts and the sums of their offsets from the bin's
        start, from which the area under the queue-length and busy-worker curves follows.
        """
        tl = self.timeline
        b = self.timeline_bin_s
        n_bins = tl.shape[1]
        start = b * np.arange(n_bins)
        width = np.minimum(b, self.horizon_s - start)
        queue = self._areas(tl[:, :, rk.T_ARRIVALS] + tl[:, :, rk.T_REQUEUED],
                            tl[:, :, rk.T_ARRIVAL_OFFSET_S] + tl[:, :, rk.T_REQUEUED_OFFSET_S],
                            tl[:, :, rk.T_DISPATCHED] + tl[:, :, rk.T_DROPPED],
                            tl[:, :, rk.T_DISPATCHED_OFFSET_S] + tl[:, :, rk.T_DROPPED_OFFSET_S],
                            width)
        busy = self._areas(tl[:, :, rk.T_BATCHES], tl[:, :, rk.T_BATCH_OFFSET_S],
                           tl[:, :, rk.T_BATCHES_DONE], tl[:, :, rk.T_BATCH_DONE_OFFSET_S], width)
        nodes = {}
        for prefix, names, first in (("nodes_", fk_class_names(), fk.NODE_SERIES_CLASS),
                                     ("nodes_", fk_state_names(), fk.NODE_SERIES_STATE)):
            for k, name in enumerate(names):
                f = rk.T_NODE_BASE + 4 * (first + k)
                area = self._areas(tl[:, :, f], tl[:, :, f + 1], tl[:, :, f + 2], tl[:, :, f + 3],
                                   width)
                nodes[prefix + name] = area / width
        return {
            "start_s": start,
            "width_s": width,
            "arrivals": tl[:, :, rk.T_ARRIVALS].copy(),
            "completions": tl[:, :, rk.T_COMPLETIONS].copy(),
            "batches": tl[:, :, rk.T_BATCHES].copy(),
            "mean_queue": queue / width,
            "mean_busy_workers": busy / width,
            "requeued": tl[:, :, rk.T_REQUEUED].copy(),
            "dropped": tl[:, :, rk.T_DROPPED].copy(),
            **nodes,
        }

    def timeline_mean(self) -> dict[str, np.ndarray]:
        """Return the replication-mean of :meth:`timeline_per_replication` (float64[n_bins])."""
        per_rep = self.timeline_per_replication()
        return {k: (v if v.ndim == 1 else v.mean(axis=0)) for k, v in per_rep.items()}

    def node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R, N_CLASSES, N_STATES] node-seconds by class and state.

        ``basis="horizon"`` counts ``[0, horizon_s]`` (what the fleet costs for the horizon);
        ``"window"`` counts ``[warmup_s, horizon_s]`` (what the measured requests cost).
        """
        return self.fleet_acc[:, 0 if basis == "horizon" else 1, :, : fk.N_STATES].copy()

    def busy_worker_s_by_class(self, basis: str = "window") -> np.ndarray:
        """Return float64[R, N_CLASSES] busy worker-seconds by node class."""
        return self.fleet_acc[:, 0 if basis == "horizon" else 1, :, fk.ACC_BUSY].copy()

    @staticmethod
    def _areas(n_in, offset_in, n_out, offset_out, width):
        """Area under a count that rises at 'in' events and falls at 'out' events, per bin."""
        level_at_start = np.cumsum(n_in - n_out, axis=-1) - (n_in - n_out)
        return level_at_start * width + (n_in * width - offset_in) - (n_out * width - offset_out)



def fk_class_names() -> tuple[str, ...]:
    """Return the node class names in kernel order."""
    from simulators.core.fleet import CLASS_NAMES

    return CLASS_NAMES


def fk_state_names() -> tuple[str, ...]:
    """Return the node state names in kernel order."""
    from simulators.core.fleet import STATE_NAMES

    return STATE_NAMES


def _fleet_arrays(fleet: FleetSpec) -> fk.FleetParams:
    """Return the kernel's fleet configuration: parameters, schedule, provisioning, trace."""
    fp = np.zeros(fk.N_FLEET_PARAMS)
    fp[fk.FP_W] = fleet.workers_per_node
    fp[fk.FP_INITIAL] = fleet.initial_nodes
    fp[fk.FP_MAX_NODES] = fleet.max_nodes
    fp[fk.FP_BASE] = fleet.on_demand_base
    fp[fk.FP_EXTRA_SPOT] = 1.0 if fleet.extra_is_spot else 0.0
    fp[fk.FP_START_S] = 3600.0 * fleet.start_hour
    fp[fk.FP_START_HOUR] = fleet.start_hour
    fp[fk.FP_DEADLINE_S] = math.inf if fleet.deadline_s is None else fleet.deadline_s
    fp[fk.FP_FALLBACK_S] = math.inf
    fp[fk.FP_INTERVAL_S] = 1.0
    fp[fk.FP_WINDOW_S] = 1.0
    schedule = np.zeros((0, 3))
    a = fleet.autoscaling
    if a is not None:
        fp[fk.FP_AUTOSCALE] = 1.0
        fp[fk.FP_METRIC] = 0.0 if a.metric == "utilization" else 1.0
        fp[fk.FP_TARGET] = a.target
        fp[fk.FP_MIN_NODES] = a.min_nodes
        fp[fk.FP_AS_MAX_NODES] = a.max_nodes
        fp[fk.FP_INTERVAL_S] = a.interval_s
        fp[fk.FP_WINDOW_S] = a.window_s
        fp[fk.FP_COOLDOWN_S] = a.scale_in_cooldown_s
        if a.schedule:
            schedule = np.array(a.schedule, dtype=np.float64).reshape(-1, 3)
    trace_t = np.zeros(1)
    trace_k = np.zeros(1, dtype=np.int64)
    sp = fleet.spot
    if sp is not None:
        fp[fk.FP_INTERRUPT_RATE] = sp.interruptions_per_hour / 3600.0
        fp[fk.FP_NOTICE_S] = sp.notice_s
        fp[fk.FP_REPLACE_DELAY_S] = sp.replacement_delay_s
        if sp.fallback_to_on_demand_after_s is not None:
            fp[fk.FP_FALLBACK_S] = sp.fallback_to_on_demand_after_s
        if sp.replays_trace:
            fp[fk.FP_TRACE] = 1.0
            trace_t = np.ascontiguousarray(sp.trace_times_s, dtype=np.float64)
            trace_k = np.ascontiguousarray(sp.trace_capacity, dtype=np.int64)
    prov = np.array([[c.median_s, c.sigma] for c in fleet.provisioning],
                    dtype=np.float64).reshape(-1, 2)
    return fk.FleetParams(fp, schedule, prov, trace_t, trace_k)


ENVELOPE_SEGMENT_S = 600.0  # thinning envelope resolution: 10 minutes (divides an hour)


def _diurnal_envelopes(arrivals: DiurnalArrivals, horizon_s: float) -> np.ndarray:
    """Return float64[3, n]: bounds of the rate over each 10-minute clock segment, and 1/upper.

    Segment ``k`` is the ``k``-th 10 minutes from midnight before simulation time 0, for every
    segment up to the horizon.  Exact for the smooth curve: the extremes of a cosine over an
    interval are at its ends or at the peak / trough inside it.  For piecewise rates both rows
    are the hourly rate of the segment's hour.  Ten-minute segments keep the envelope within a
    few per mille of the rate, so thinning rejects almost nothing and the squeeze almost always
    decides without evaluating the cosine.
    """
    seg = ENVELOPE_SEGMENT_S
    per_day = int(round(86_400.0 / seg))
    n_seg = int(math.ceil((horizon_s + 3600.0 * arrivals.start_hour) / seg)) + 2
    days = n_seg // per_day + 1
    if arrivals.hourly_weights is not None:
        rates = np.repeat(arrivals.hourly_rates_rps(), int(round(3600.0 / seg)))
        bounds = np.stack([rates, rates])
        return _with_inverse(np.tile(bounds, days)[:, :n_seg])
    bounds = np.zeros((2, per_day))
    shift = 3600.0 * arrivals.start_hour  # rate_at takes simulation time
    for k in range(per_day):
        lo, hi = seg * k, seg * (k + 1)
        points = [lo, hi]
        for crit in (arrivals.peak_hour, (arrivals.peak_hour + 12.0) % 24.0):
            if lo <= 3600.0 * crit <= hi:
                points.append(3600.0 * crit)
        values = arrivals.rate_at(np.array(points) - shift)
        bounds[0, k] = values.max() * (1.0 + 1e-12)
        bounds[1, k] = values.min() * (1.0 - 1e-12)
    return _with_inverse(np.tile(bounds, days)[:, :n_seg])


def _with_inverse(bounds: np.ndarray) -> np.ndarray:
    """Append the row ``1 / upper`` (inf where the upper bound is 0) for the kernel."""
    with np.errstate(divide="ignore"):
        inverse = np.where(bounds[0] > 0, 1.0 / np.where(bounds[0] > 0, bounds[0], 1.0), np.inf)
    return np.ascontiguousarray(np.vstack([bounds, inverse[None, :]]))


def _arrival_arrays(arrivals: Arrivals, horizon_s: float
                    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    params = np.zeros(ak.N_ARRIVAL_PARAMS)
    hourly = np.zeros((3, 1))
    trace = np.zeros(0)
    params[ak.P_PERIOD_S] = DAY_S
    if isinstance(arrivals, PoissonArrivals):
        params[ak.P_RATE] = arrivals.rate_rps
        params[ak.P_MEAN_GAP_S] = 1.0 / arrivals.rate_rps
        return ak.ARRIVAL_POISSON, params, hourly, trace
    if isinstance(arrivals, DiurnalArrivals):
        params[ak.P_MEAN_RATE] = arrivals.mean_rate_rps
        params[ak.P_START_S] = 3600.0 * arrivals.start_hour
        params[ak.P_SEGMENT_S] = ENVELOPE_SEGMENT_S
        params[ak.P_AMPLITUDE] = arrivals.amplitude
        params[ak.P_PEAK_S] = 3600.0 * arrivals.peak_hour
        hourly = _diurnal_envelopes(arrivals, horizon_s)
        if arrivals.hourly_weights is not None:
            return ak.ARRIVAL_PIECEWISE, params, hourly, trace
        return ak.ARRIVAL_SMOOTH, params, hourly, trace
    # a writable copy: a read-only array is another Numba type, so the kernels would compile
    # a second time for it (a first run's compile is minutes)
    trace = np.array(arrivals.times_s, dtype=np.float64, order="C")
    params[ak.P_REPEAT] = 1.0 if arrivals.repeat else 0.0
    params[ak.P_PERIOD_S] = arrivals.period_s()
    return ak.ARRIVAL_TRACE, params, hourly, trace


def simulate_realtime(
    *,
    arrivals: Arrivals,
    service: ServiceTime,
    n_workers: int | None = None,
    max_batch: int,
    max_wait_s: float,
    horizon_s: float,
    warmup_s: float,
    n_replications: int,
    seed: int,
    slo_latency_s: float | None = None,
    timeline_bin_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
    fleet: FleetSpec | None = None,
) -> RealtimeSimResult:
    """Simulate a real-time serving fleet with dynamic batching, ``n_replications`` times.

    Parameters
    ----------
    arrivals : PoissonArrivals | DiurnalArrivals | TraceArrivals
        The request stream.
    service : ServiceTime
        Per-batch-size service time of one worker; must cover ``max_batch``.
    n_workers : int, optional
        Identical workers (GPUs), >= 1, for a fixed fleet of one-worker nodes; give ``fleet``
        instead for anything else.
    max_batch : int
        Largest batch, >= 1.
    max_wait_s : float
        Longest time the oldest queued request waits for a batch to fill (s), >= 0.
    horizon_s, warmup_s : float
        Arrivals stop at ``horizon_s``; statistics cover arrivals in ``[warmup_s, horizon_s)``.
    n_replications : int
        Independent replications (run in parallel; replication ``k`` is seeded from
        ``(seed, k)``, so results do not depend on the number of threads).
    seed : int
        Scenario seed, >= 0.
    slo_latency_s : float, optional
        Latency threshold (s) for SLO attainment.
    timeline_bin_s : float
        Width of the timeline bins (s).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk of replications.
    fleet : FleetSpec, optional
        Nodes, autoscaling and spot interruptions (``docs/fleet-dynamics.md``).

    Returns
    -------
    RealtimeSimResult
    """
    fleet, n_workers = _check_inputs(arrivals, service, n_workers, max_batch, max_wait_s,
                                     horizon_s, warmup_s, n_replications, seed, timeline_bin_s,
                                     fleet)
    source, model, serving, fleet_params = _kernel_inputs(
        arrivals, service, max_batch, max_wait_s, horizon_s, warmup_s, slo_latency_s,
        timeline_bin_s, fleet)
    lat_hist, wait_hist, stats, timeline, acc = _output_arrays(n_replications, horizon_s,
                                                               timeline_bin_s)

    chunk = max(1, numba.get_num_threads()) if progress is not None else n_replications
    for start in range(0, n_replications, chunk):
        stop = min(start + chunk, n_replications)
        out = rk.Outputs(lat_hist[start:stop], wait_hist[start:stop], stats[start:stop],
                         timeline[start:stop], acc[start:stop])
        realtime_kernel(int(seed), start, source, model, serving, fleet_params, out)
        if progress is not None:
            progress(stop, n_replications)

    return RealtimeSimResult(
        n_workers=int(n_workers), max_batch=int(max_batch), max_wait_s=float(max_wait_s),
        horizon_s=float(horizon_s), warmup_s=float(warmup_s),
        slo_latency_s=None if slo_latency_s is None else float(slo_latency_s),
        seed=int(seed), timeline_bin_s=float(timeline_bin_s),
        latency_hist=lat_hist, wait_hist=wait_hist, stats=stats, timeline=timeline,
        fleet_acc=acc, fleet=fleet,
    )


def _check_inputs(arrivals: Arrivals, service: ServiceTime, n_workers: int | None,
                  max_batch: int, max_wait_s: float, horizon_s: float, warmup_s: float,
                  n_replications: int, seed: int, timeline_bin_s: float,
                  fleet: FleetSpec | None) -> tuple[FleetSpec, int]:
    """Check the inputs of ``simulate_realtime``; return the fleet and its initial workers."""
    check_arrivals(arrivals)
    if fleet is None:
        if n_workers is None or n_workers < 1:
            raise SimulationError(f"n_workers must be >= 1 (got {n_workers})")
        fleet = FleetSpec.fixed(int(n_workers))
    fleet.check()
    n_workers = fleet.initial_nodes * fleet.workers_per_node
    if max_batch < 1:
        raise SimulationError(f"max_batch must be >= 1 (got {max_batch})")
    if service.max_batch < max_batch:
        raise SimulationError(
            f"service time covers batches up to {service.max_batch}, below max_batch {max_batch}"
        )
    if not max_wait_s >= 0:
        raise SimulationError(f"max_wait_s must be >= 0 (got {max_wait_s})")
    if not (0 <= warmup_s < horizon_s) or not math.isfinite(horizon_s):
        raise SimulationError(
            f"need 0 <= warmup_s < horizon_s (got warmup {warmup_s}, horizon {horizon_s})"
        )
    if n_replications < 1 or seed < 0:
        raise SimulationError("n_replications must be >= 1 and seed >= 0")
    if not timeline_bin_s > 0:
        raise SimulationError(f"timeline_bin_s must be > 0 (got {timeline_bin_s})")
    return fleet, n_workers


def _output_arrays(n_replications: int, horizon_s: float, timeline_bin_s: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return zeroed ``(latency hist, wait hist, stats, timeline, fleet acc)`` arrays."""
    n_bins = int(math.ceil(horizon_s / timeline_bin_s))
    lat_hist = np.zeros((n_replications, N_BUCKETS), dtype=np.int64)
    wait_hist = np.zeros((n_replications, N_BUCKETS), dtype=np.int64)
    stats = np.zeros((n_replications, rk.N_STATS))
    timeline = np.zeros((n_replications, n_bins, rk.N_TIMELINE))
    acc = np.zeros((n_replications, 2, fk.N_CLASSES, fk.N_STATES + 1))
    return lat_hist, wait_hist, stats, timeline, acc


def _kernel_inputs(arrivals: Arrivals, service: ServiceTime, max_batch: int, max_wait_s: float,
                   horizon_s: float, warmup_s: float, slo_latency_s: float | None,
                   timeline_bin_s: float, fleet: FleetSpec
                   ) -> tuple[rk.ArrivalSource, rk.ServiceModel, rk.Serving, fk.FleetParams]:
    """Return the kernel's ``(source, model, serving, fleet_params)`` arguments."""
    kind, params, hourly, trace = _arrival_arrays(arrivals, horizon_s)
    source = rk.ArrivalSource(kind, params, hourly, trace)
    model = rk.ServiceModel(_SERVICE_KINDS[service.distribution],
                            np.ascontiguousarray(service.mean_s[: max_batch + 1]),
                            np.ascontiguousarray(service.log_mu[: max_batch + 1]),
                            np.ascontiguousarray(service.log_sigma[: max_batch + 1]))
    serving = rk.Serving(int(max_batch), float(max_wait_s), float(horizon_s), float(warmup_s),
                         math.inf if slo_latency_s is None else float(slo_latency_s),
                         float(timeline_bin_s))
    fleet_params = _fleet_arrays(fleet)
    return source, model, serving, fleet_params
