"""SimPy reference model of the streaming micro-batch design (the executable specification).

The contract is the module docstring of ``simulators/streaming/api.py``; this model implements it
in the most obvious way, with one SimPy process per role, and is never on the product's hot
path.  Fed the same arrival times and a service sampler that depends only on the batch size,
the Numba kernel (``simulators/streaming/_kernel.py``) must reproduce it record for record.

Processes
---------
* ``arrivals``: puts each record in the open window at its arrival time.
* ``closer``: at ``close_k = (k + 1) * window_s`` seals window ``k`` (every record that arrived
  in ``[k W, (k + 1) W)``), hands it to the processor and opens window ``k + 1``, while
  ``k * window_s < horizon_s``.  It runs with priority ``URGENT`` and arrivals with ``NORMAL``,
  so a record arriving exactly at ``close_k`` goes to window ``k + 1`` (SimPy orders events by
  time, then priority, then sequence number).
* ``processor``: takes sealed windows in order from a ``Store`` (so window ``k`` starts at
  ``max(close_k, end_{k-1})``) and processes each in passes.  A pass at ``s`` waits until the
  fleet events at ``s`` have run (priority ``PRIORITY_PASS``), lets the marked nodes leave and
  takes the usable nodes (:meth:`StreamingFleetModel.start_pass`); it splits its records into
  batches of ``max_batch`` records (the last one holds the rest), gives batch ``i`` to worker
  ``i mod n_workers`` (worker ``w`` on the ``w // workers_per_node``-th usable node), calls
  ``service_s(size)`` once per batch in batch order.  A node whose death comes before its
  share's end loses the share: its records go to the next pass, at the latest of the surviving
  shares' ends and the deaths.  The last pass ends at its longest worker's sum plus
  ``overhead_s`` (an empty window takes 0 and calls nothing); then every record of the window
  completes.  With no usable node the pass waits (:meth:`StreamingFleetModel.wait_for_node`).
* the fleet (:mod:`simulators.streaming.reference_fleet`): spot notices, deaths, replacement
  launches and the autoscaler, at priorities that run before a pass starting at the same time.

Times are exact float64 values: events are scheduled at absolute times (``start + processing``)
so a kernel doing the same arithmetic gets bit-identical latencies.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from domain.errors import SimulationError
from simulators.core.fleet import AutoscalingPolicy, SpotModel
from simulators.streaming.reference_fleet import PRIORITY_PASS, RefNode, StreamingFleetModel

__all__ = ["ReferenceFleet", "StreamingReferenceResult", "simulate_streaming_reference"]


@dataclass(frozen=True)
class StreamingReferenceResult:
    """Everything the tests need from one run of the reference model.

    Attributes
    ----------
    arrival_s, latency_s : float64[n]
        Arrival times and latencies (s) of the records arriving in ``[warmup_s, horizon_s)``.
    window_close_s, window_start_s, window_end_s : float64[K]
        Close, processing start and processing end (s) of every window.
    window_n : int64[K]
        Records in every window.
    batch_size : int64[m]
        Size of every batch, in window then batch order.
    nodes_at_start : int64[K]
        Ready nodes each window ran on.
    node_s_horizon, node_s_window : float
        Node-seconds held (provisioning included) inside ``[0, horizon_s]`` and
        ``[warmup_s, horizon_s]``.
    n_scale_out, n_scale_in, n_launched, max_nodes : int
        Autoscaler decisions, nodes launched after t = 0 up to the horizon, and the most nodes
        held at once.
    node_s_spot_horizon, node_s_spot_window, busy_spot_worker_s : float
        The spot nodes' part of the node-seconds, and their busy worker-seconds inside
        ``[warmup_s, horizon_s]``.
    n_interruptions, n_replacements, n_lost_shares, n_reprocessed_records : int
        Spot notices, replacement launches up to the horizon, node shares lost to a death and
        the records in them.
    lost_worker_s : float
        Busy worker-seconds of the lost shares.
    busy_worker_s, busy_worker_s_horizon : float
        Workers' batch intervals clipped to ``[warmup_s, horizon_s]`` and ``[0, horizon_s]``.
    n_arrivals_total, n_processed_by_horizon, n_in_system_at_horizon : int
        Record counts (arrived = processed by the horizon + in the system at the horizon).
    max_backlog_windows, max_backlog_records : int
        Largest number of waiting windows (closed, not started), and records in them, seen at
        the closes in ``[warmup_s, horizon_s]``.
    backlog_window_area, backlog_record_area, in_system_area : float
        Integrals over ``[warmup_s, horizon_s]`` of waiting windows, records in waiting windows,
        and records in the system.
    lag_at_horizon_s : float
        ``horizon_s`` minus the close of the newest window processed by the horizon.
    backlog_windows_at_horizon, backlog_records_at_horizon : int
        Windows closed by the horizon and not started by it, and their records.
    """

    arrival_s: np.ndarray
    latency_s: np.ndarray
    window_close_s: np.ndarray
    window_start_s: np.ndarray
    window_end_s: np.ndarray
    window_n: np.ndarray
    batch_size: np.ndarray
    nodes_at_start: np.ndarray
    node_s_horizon: float
    node_s_window: float
    n_scale_out: int
    n_scale_in: int
    n_launched: int
    max_nodes: int
    node_s_spot_horizon: float
    node_s_spot_window: float
    busy_spot_worker_s: float
    n_interruptions: int
    n_replacements: int
    n_lost_shares: int
    n_reprocessed_records: int
    lost_worker_s: float
    busy_worker_s: float
    busy_worker_s_horizon: float
    n_arrivals_total: int
    n_processed_by_horizon: int
    n_in_system_at_horizon: int
    max_backlog_windows: int
    max_backlog_records: int
    backlog_window_area: float
    backlog_record_area: float
    in_system_area: float
    lag_at_horizon_s: float
    backlog_windows_at_horizon: int
    backlog_records_at_horizon: int


class _Environment(simpy.Environment):
    """A SimPy environment that can schedule an event at an exact absolute time."""

    def schedule_at(self, event: simpy.events.Event, time_s: float, priority: int) -> None:
        if not time_s >= self.now:
            raise ValueError(f"cannot schedule at {time_s!r}, before now={self.now!r}")
        heapq.heappush(self._queue, (time_s, priority, next(self._eid), event))


class _At(simpy.events.Event):
    """An event that succeeds at the absolute time ``time_s`` with the given priority."""

    def __init__(self, env: _Environment, time_s: float, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule_at(self, time_s, priority)


def _check_inputs(arrivals: np.ndarray, *, n_workers: int, window_s: float, max_batch: int,
                  horizon_s: float, warmup_s: float, overhead_s: float) -> None:
    """Raise SimulationError on parameters or arrival times the model does not accept."""
    if not (window_s > 0 and math.isfinite(window_s)):
        raise SimulationError(f"window_s must be finite and > 0 (got {window_s!r})")
    if n_workers < 1 or max_batch < 1 or overhead_s < 0:
        raise SimulationError("n_workers and max_batch must be >= 1 and overhead_s >= 0")
    if not 0 <= warmup_s < horizon_s:
        raise SimulationError(f"need 0 <= warmup_s < horizon_s (got {warmup_s}, {horizon_s})")
    if arrivals.size and (np.any(np.diff(arrivals) < 0) or arrivals[0] < 0
                          or arrivals[-1] >= horizon_s):
        raise SimulationError("arrival_times_s must be sorted, >= 0 and < horizon_s")


@dataclass(frozen=True)
class ReferenceFleet:
    """The fleet of :func:`simulate_streaming_reference` (see ``simulate_streaming``)."""

    autoscaling: AutoscalingPolicy | None = None
    provisioning_delay_s: float = 0.0
    spot: SpotModel | None = None
    on_demand_base: int = 0
    start_hour: float = 0.0  # clock hour at t = 0, read by the autoscaler's schedule


class _StreamingModel:
    """The SimPy processes of one run (see the module docstring) and the records they keep."""

    def __init__(self, arrivals: np.ndarray, service_s: Callable[[int], float], *,
                 n_workers: int, window_s: float, max_batch: int, horizon_s: float,
                 overhead_s: float, workers_per_node: int, fleet: ReferenceFleet,
                 interruption_gap_s: Callable[[], float]) -> None:
        self.arrivals = arrivals
        self.service_s = service_s
        self.window_s = window_s
        self.max_batch = max_batch
        self.horizon_s = horizon_s
        self.overhead_s = overhead_s
        self.workers_per_node = workers_per_node
        self.env = _Environment()
        self.windows = simpy.Store(self.env)
        self.open_window: list[float] = []
        self.close_s: list[float] = []
        self.start_s: list[float] = []
        self.end_s: list[float] = []
        self.sizes: list[int] = []
        self.batch_sizes: list[int] = []
        self.worker_intervals: list[tuple[float, float]] = []
        self.spot_intervals: list[tuple[float, float]] = []
        self.record_arrival: list[float] = []
        self.record_end: list[float] = []
        self.nodes_at_start: list[int] = []
        self.lost = {"shares": 0, "records": 0, "worker_s": 0.0}
        self.fleet = StreamingFleetModel(
            self.env, lambda t, priority: _At(self.env, t, priority),
            n_nodes=n_workers // workers_per_node, workers_per_node=workers_per_node,
            autoscaling=fleet.autoscaling, provisioning_delay_s=fleet.provisioning_delay_s,
            spot=fleet.spot, on_demand_base=fleet.on_demand_base, horizon_s=horizon_s,
            busy_between=self.busy_between, interruption_gap_s=interruption_gap_s,
            start_hour=fleet.start_hour)

    def busy_between(self, lo: float, hi: float) -> float:
        """Busy worker-seconds inside ``[lo, hi]`` (lost batches up to their node's death)."""
        return sum(max(min(e, hi) - max(s0, lo), 0.0) for s0, e in self.worker_intervals)

    def arrival_process(self) -> Generator[simpy.events.Event, None, None]:
        for a in self.arrivals:
            yield _At(self.env, float(a), NORMAL)
            self.open_window.append(float(a))

    def closer(self) -> Generator[simpy.events.Event, None, None]:
        k = 0
        while k * self.window_s < self.horizon_s:
            close = (k + 1) * self.window_s
            yield _At(self.env, close, URGENT)
            sealed = list(self.open_window)
            self.open_window.clear()
            self.close_s.append(close)
            self.windows.put(sealed)
            k += 1

    def run_pass(self, m: int, s: float, nodes: list[RefNode]) -> tuple[int, float, float]:
        """Run a pass of ``m`` records at ``s`` on ``nodes``; return (lost records, next pass
        start, longest worker's busy time)."""
        max_batch, width = self.max_batch, self.workers_per_node
        n_workers = len(nodes) * width
        n_batches = -(-m // max_batch)
        busy = [0.0] * min(n_batches, n_workers)
        records = [0] * len(busy)
        for i in range(n_batches):
            size = max_batch if i < n_batches - 1 else m - (n_batches - 1) * max_batch
            duration = float(self.service_s(size))
            if not (duration > 0 and math.isfinite(duration)):
                raise SimulationError(
                    f"service_s({size}) must be a positive finite number of seconds "
                    f"(got {duration!r}); fix the service-time sampler")
            busy[i % n_workers] += duration
            records[i % n_workers] += size
            self.batch_sizes.append(size)
        lost, next_s = 0, s
        for u, node in enumerate(nodes):
            mine = range(u * width, min((u + 1) * width, len(busy)))
            if not mine:
                break
            finish = max(s + busy[w] for w in mine)
            death = self.fleet.death_s(node)
            dies = death < finish
            for w in mine:
                interval = (s, min(s + busy[w], death) if dies else s + busy[w])
                self.worker_intervals.append(interval)
                if node.spot:
                    self.spot_intervals.append(interval)
                if dies:
                    self.lost["worker_s"] += interval[1] - s
                    lost += records[w]
            self.lost["shares"] += dies
            next_s = max(next_s, death if dies else finish)
        self.lost["records"] += lost
        return lost, next_s, max(busy)

    def processor(self) -> Generator[simpy.events.Event, None, None]:
        env, fleet = self.env, self.fleet
        while True:
            records = yield self.windows.get()
            start = s = env.now
            yield _At(env, s, PRIORITY_PASS)
            nodes = fleet.start_pass(s)
            self.nodes_at_start.append(len(nodes))
            m, end = len(records), start
            while m > 0:
                if not nodes:
                    s = yield from fleet.wait_for_node(s)
                else:
                    lost, next_s, longest = self.run_pass(m, s, nodes)
                    if lost == 0:
                        end = s + (longest + self.overhead_s)
                        break
                    m, s = lost, next_s
                yield _At(env, s, PRIORITY_PASS)
                nodes = fleet.start_pass(s)
            if end > env.now:
                yield _At(env, end, NORMAL)
            self.start_s.append(start)
            self.end_s.append(end)
            self.sizes.append(len(records))
            self.record_arrival.extend(records)
            self.record_end.extend([end] * len(records))

    def run(self) -> None:
        """Start the processes (arrivals, closer, processor; the fleet's own) and run to the end."""
        env = self.env
        env.process(self.arrival_process())
        env.process(self.closer())
        env.process(self.processor())
        env.run()
        if len(self.end_s) != len(self.close_s) or self.open_window:
            raise AssertionError("reference model stopped with windows left unprocessed")

    def result(self, warmup_s: float) -> StreamingReferenceResult:
        """The run's records and metrics, node-seconds and fleet counts included."""
        horizon_s, fleet, counts = self.horizon_s, self.fleet, self.fleet.counts
        base = _summarise(np.array(self.record_arrival), np.array(self.record_end),
                          np.array(self.close_s), np.array(self.start_s), np.array(self.end_s),
                          np.array(self.sizes, dtype=np.int64),
                          np.array(self.batch_sizes, dtype=np.int64), self.worker_intervals,
                          horizon_s, warmup_s)
        spot = np.array(self.spot_intervals, dtype=np.float64).reshape(-1, 2)
        return dataclasses.replace(
            base,
            nodes_at_start=np.array(self.nodes_at_start, dtype=np.int64),
            node_s_horizon=fleet.node_seconds(0.0, horizon_s),
            node_s_window=fleet.node_seconds(warmup_s, horizon_s),
            n_scale_out=counts["scale_out"], n_scale_in=counts["scale_in"],
            n_launched=counts["launched"], max_nodes=counts["max_nodes"],
            node_s_spot_horizon=fleet.node_seconds(0.0, horizon_s, spot_only=True),
            node_s_spot_window=fleet.node_seconds(warmup_s, horizon_s, spot_only=True),
            busy_spot_worker_s=float(_clip(spot[:, 0], spot[:, 1], warmup_s, horizon_s).sum()),
            n_interruptions=counts["interruptions"], n_replacements=counts["replacements"],
            n_lost_shares=self.lost["shares"], n_reprocessed_records=self.lost["records"],
            lost_worker_s=self.lost["worker_s"])


def simulate_streaming_reference(
    arrival_times_s: np.ndarray,
    service_s: Callable[[int], float],
    *,
    n_workers: int,
    window_s: float,
    max_batch: int,
    horizon_s: float,
    warmup_s: float,
    overhead_s: float = 0.0,
    workers_per_node: int = 1,
    fleet: ReferenceFleet | None = None,
    interruption_gap_s: Callable[[], float] | None = None,
) -> StreamingReferenceResult:
    """Simulate a streaming micro-batch job on given arrival times.

    Parameters
    ----------
    arrival_times_s : float64[n]
        Record arrival times (s): finite, ``>= 0``, sorted, ``< horizon_s``.
    service_s : callable(int) -> float
        Duration (s, > 0) of a batch of the given size; called once per batch, in window order,
        pass order, then batch order.
    n_workers : int
        Workers (GPUs) of the fleet at t = 0, a multiple of ``workers_per_node``.
    window_s : float
        Window length (s), > 0.
    max_batch : int
        Largest batch (records), >= 1.
    horizon_s, warmup_s : float
        End of arrivals; records arriving before ``warmup_s`` are left out of the latencies.
    overhead_s : float
        Fixed time added to every non-empty window's processing (s), >= 0.
    workers_per_node : int
        Workers per node (nodes at t = 0: ``n_workers / workers_per_node``).
    fleet : ReferenceFleet, optional
        Autoscaling, provisioning delay, spot, on-demand base and clock hour (contract in
        ``simulators/streaming/api.py``); None: a fixed on-demand fleet.
    interruption_gap_s : callable() -> float, optional
        Time (s) from a spot node's ready to its notice; called once per spot node at its
        launch, in launch order.  Needed when ``fleet.spot`` has a rate > 0.

    Returns
    -------
    StreamingReferenceResult
    """
    arrivals = np.asarray(arrival_times_s, dtype=np.float64)
    _check_inputs(arrivals, n_workers=n_workers, window_s=window_s, max_batch=max_batch,
                  horizon_s=horizon_s, warmup_s=warmup_s, overhead_s=overhead_s)
    fleet = fleet if fleet is not None else ReferenceFleet()
    if fleet.spot is not None and fleet.spot.interruptions_per_hour > 0 and \
            interruption_gap_s is None:
        raise SimulationError("a spot fleet with interruptions needs interruption_gap_s; pass "
                              "a sampler of the time from ready to notice")
    model = _StreamingModel(arrivals, service_s, n_workers=n_workers, window_s=window_s,
                            max_batch=max_batch, horizon_s=horizon_s, overhead_s=overhead_s,
                            workers_per_node=workers_per_node, fleet=fleet,
                            interruption_gap_s=interruption_gap_s or (lambda: math.inf))
    model.run()
    return model.result(warmup_s)


def _clip(lo: np.ndarray, hi: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.maximum(np.minimum(hi, b) - np.maximum(lo, a), 0.0)


def _summarise(arr: np.ndarray, rec_end: np.ndarray, close: np.ndarray, start: np.ndarray,
               end: np.ndarray, n: np.ndarray, batch_sizes: np.ndarray,
               worker_intervals: list[tuple[float, float]], horizon_s: float,
               warmup_s: float) -> StreamingReferenceResult:
    """Derive the reported metrics from the per-record and per-window records."""
    measured = arr >= warmup_s
    iv = np.array(worker_intervals, dtype=np.float64).reshape(-1, 2)
    waiting = start > close
    # backlog at each close in [warmup, horizon]: windows j closed by then and not started
    max_bw = 0
    max_br = 0
    for t in close[(close >= warmup_s) & (close <= horizon_s)]:
        w = (close <= t) & (start > t)
        max_bw = max(max_bw, int(w.sum()))
        max_br = max(max_br, int(n[w].sum()))
    at_h = (close <= horizon_s) & (start > horizon_s)
    done = end <= horizon_s
    wait_clip = _clip(close, start, warmup_s, horizon_s) * waiting
    return StreamingReferenceResult(
        arrival_s=arr[measured],
        latency_s=(rec_end - arr)[measured],
        window_close_s=close,
        window_start_s=start,
        window_end_s=end,
        window_n=n,
        batch_size=batch_sizes,
        nodes_at_start=np.zeros(0, dtype=np.int64),
        node_s_horizon=0.0,
        node_s_window=0.0,
        n_scale_out=0,
        n_scale_in=0,
        n_launched=0,
        max_nodes=0,
        node_s_spot_horizon=0.0,
        node_s_spot_window=0.0,
        busy_spot_worker_s=0.0,
        n_interruptions=0,
        n_replacements=0,
        n_lost_shares=0,
        n_reprocessed_records=0,
        lost_worker_s=0.0,
        busy_worker_s=float(_clip(iv[:, 0], iv[:, 1], warmup_s, horizon_s).sum()),
        busy_worker_s_horizon=float(_clip(iv[:, 0], iv[:, 1], 0.0, horizon_s).sum()),
        n_arrivals_total=int(arr.size),
        n_processed_by_horizon=int(n[done].sum()),
        n_in_system_at_horizon=int(np.count_nonzero(rec_end > horizon_s)),
        max_backlog_windows=max_bw,
        max_backlog_records=max_br,
        backlog_window_area=float(wait_clip.sum()),
        backlog_record_area=float((wait_clip * n).sum()),
        in_system_area=float(_clip(arr, rec_end, warmup_s, horizon_s).sum()),
        lag_at_horizon_s=float(horizon_s - (close[done].max() if done.any() else 0.0)),
        backlog_windows_at_horizon=int(at_h.sum()),
        backlog_records_at_horizon=int(n[at_h].sum()),
    )
