"""SimPy reference model of real-time serving on a dynamic fleet (autoscaling, spot, delays).

The executable specification of ``docs/fleet-dynamics.md``: the serving rules of
:mod:`simulators.realtime.reference` (central FIFO queue, dynamic batching, longest-idle worker)
on node slots whose nodes are launched, provisioned, interrupted, drained and removed.  It is
slow and obvious on purpose; the Numba kernel must reproduce it request for request.
This module holds the requests (queue, dispatcher, batches) and the result; the fleet's side
(node slots, notices, deaths, launches, trace ticks, autoscaler) is
:mod:`simulators.realtime.reference_fleet_dynamics`.

Event order
-----------
SimPy orders events by (time, priority, sequence number).  Arrivals and batch completions have
priority ``URGENT`` (0); fleet events have priorities 1..6 in the order of the contract
(``DEATH``, ``READY``, ``TRACE_TICK``, ``INTERRUPT``, ``LAUNCH``, ``AUTOSCALE``); every
dispatcher wake-up (state change or max-wait timer) has priority 7, so a dispatch at ``D`` sees
every arrival, completion and fleet event at ``<= D``.  An event created while another runs at
the same time (a zero provisioning delay, a zero notice) still runs before the dispatcher.
Fleet events are scheduled at exact absolute times, as in the fixed-fleet model.

Readings of the contract
------------------------
Where the contract leaves a choice, the reference follows the kernel
(``simulators/core/fleet_kernel.py``, ``simulators/realtime/_kernel.py``); each such reading is
marked *(kernel)*.

* **Deadline drops.**  When the dispatcher decides to dispatch at ``D``, it first drops every
  queued request with ``D - arrival > deadline_s`` (anywhere in the queue).  If it dropped any,
  the batch is formed again from the new head by the usual rule: the dispatcher dispatches at
  once only if the queue holds ``max_batch`` requests or the new head's max-wait has run out,
  otherwise it waits (so the dispatch can come after ``D``, and the new head can be dropped in
  turn).  Dropped requests have NaN wait and latency (a requeued request forgets its lost
  dispatch).
* **Requeue order.**  The lost batches of one dying node go back to the head of the queue in the
  requests' arrival order (ties: arrival index) *(kernel)*.  Deaths at the same time run in
  sequence, so the last one processed ends up at the head.
* **Pending launches** are spot launches requested but not yet given a slot: a replacement is
  requested *for* ``notice + replacement_delay_s`` (its request time), an autoscaler launch for
  the evaluation time, an initial spot node above ``K(t_0)`` for 0.  They count in the
  autoscaler's ``current`` from the moment they are requested.  They are kept in order of request
  time (ties: order of request) *(kernel)*: launches take the oldest first, and scale-in cancels
  the latest first.
* **Launch attempts** *(kernel)*.  At a launch's request time, at every trace tick (after its
  notices), at every autoscaler scale-out, at every fallback time and at ``horizon_s``, the due
  pending launches (request time ``<= now``) are tried oldest first: while spot room remains
  (always under the Poisson model and from ``horizon_s`` on; ``K - H`` under a trace) the
  launch starts as spot; otherwise, if ``fallback_to_on_demand_after_s`` is set and
  ``now >= request time + fallback``, it starts as class 2; otherwise it and every later one
  wait.  Each spot attempt uses one unit of room, even one dropped for want of a slot ("up to
  ``K - H`` of them launch").
* **Autoscaler.**  ``desired = ceil(x - 1e-9)``; the signals are computed over the window
  directly: busy worker-time of every batch (in service, completed, or lost up to the death)
  and the step function of requests in the system, both integrated over
  ``[max(0, T - window_s), T]``.  Evaluations run at ``k * interval_s <= horizon_s``.
* **No free slot.**  A launch that gets capacity but finds every slot taken is dropped
  (``launch_dropped``).  A ``NOTICE`` node keeps its slot until it dies, so in a fleet at
  ``max_nodes`` a replacement launched before the death is dropped.
* **Scale-in order**: pending launches (latest request first), then ``PROVISIONING`` nodes
  (newest first, any class), then idle ``READY`` nodes, spot (class 1) first, then the other
  classes, newest (latest launch) first within each group; then busy ``READY`` nodes drain in the
  same order.  Base nodes are never removed.
* **Trace ticks.**  A tick at ``t_i <= horizon_s`` sets ``K``; if ``H > K`` the ``H - K`` newest
  held spot nodes (``PROVISIONING`` or ``READY``) get their notice.  Initial spot nodes above
  ``K(t_0)`` are pending launches requested at 0.
* **Poisson notices** are drawn when a spot node becomes ``READY`` and reach ``READY`` and
  ``DRAINING`` nodes (a draining spot node can still be interrupted; it then follows the
  ``NOTICE`` rules).  Every notice schedules a replacement.
* **Cooldown.**  Before the first scale action no cooldown applies.
* **Provisioning draws.**  Drawn at launch; only components with ``sigma > 0`` consume a normal
  draw.
* **After the horizon** no request arrives, and no autoscaler evaluation, trace tick or Poisson
  notice runs at ``t > horizon_s``; notices already given still end in a death, launched nodes
  still become ``READY``, and pending spot launches start at ``horizon_s`` (or at their request
  time, if later) whatever the capacity.  The run ends when the system is empty: a fleet event at
  ``t > horizon_s`` runs only while requests remain (queued or in service) *(kernel)*.
  Requests that can never be served (no node, nothing pending) are *stranded*: NaN latency,
  counted in ``n_stranded`` and ``n_in_system_at_horizon``.
* Fleet counters count events whenever they run (during the drain too); node-seconds and
  ``max_nodes_seen`` stop at ``horizon_s``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import URGENT

from domain.errors import SimulationError
from simulators.core.fleet import N_CLASSES, STATE_DRAINING, STATE_READY, FleetSpec
from simulators.realtime.reference import _At, _check_inputs, _Environment, _take_batch
from simulators.realtime.reference_fleet_dynamics import PRIORITY_DISPATCH, _FleetDynamics, _Node

__all__ = ["FleetReferenceResult", "simulate_fleet_reference"]


@dataclass(frozen=True)
class FleetReferenceResult:
    """Everything the tests need from one run of the dynamic-fleet reference model.

    Attributes
    ----------
    arrival_s, wait_s, latency_s : float64[n]
        Post-warm-up requests in arrival order, s; wait and latency are NaN for dropped (and
        never served) requests.  Wait and latency count from the original arrival.
    dropped_s : float64[n]
        Time each of those requests was dropped at its deadline, s (NaN if it was not).
    batch_size, batch_start_s, batch_worker : int64[m], float64[m], int64[m]
        Every batch that completed (lost batches excluded), in dispatch order.
    lost_batch_start_s, lost_batch_end_s : float64[k]
        Dispatch time and planned completion time of every batch lost to a node death.
    drop_times_s : float64[j]
        Time of every deadline drop (pre-warm-up requests included), sorted.
    n_arrivals_total, n_dropped, n_requeued, n_stranded : int
        Requests simulated; deadline drops (all); requests put back by node deaths; requests
        never served nor dropped (no node could ever serve them).
    n_preemptions, n_preemption_events : int
        Nodes that got a spot notice; trace ticks with at least one notice.
    n_launches : int64[N_CLASSES]
        Launches that got a slot, by class (initial nodes not counted).
    n_scale_out, n_scale_in : int
        Autoscaler evaluations that launched or removed nodes.
    node_s, node_s_window : float64[N_CLASSES, N_STATES]
        Node-seconds by class and state inside ``[0, horizon_s]`` and ``[warmup_s, horizon_s]``.
    busy_worker_s, busy_worker_s_window : float64[N_CLASSES]
        Busy worker-seconds by node class inside ``[0, horizon_s]`` and ``[warmup_s,
        horizon_s]`` (lost batches up to the death).
    max_nodes_seen : int
        Most nodes alive at once in ``[0, horizon_s]``.
    n_in_system_at_horizon : int
        Requests queued or in service at ``horizon_s`` (stranded ones included).
    events : list of (float, str, int)
        Fleet log ``(time_s, kind, slot)``; slot is -1 for events without a node.  Kinds:
        launch, launch_dropped, ready, notice, death, requeue, drain, leave, remove, cancel,
        fallback, scale_out, scale_in.
    """

    arrival_s: np.ndarray
    wait_s: np.ndarray
    latency_s: np.ndarray
    dropped_s: np.ndarray
    batch_size: np.ndarray
    batch_start_s: np.ndarray
    batch_worker: np.ndarray
    lost_batch_start_s: np.ndarray
    lost_batch_end_s: np.ndarray
    drop_times_s: np.ndarray
    n_arrivals_total: int
    n_dropped: int
    n_requeued: int
    n_stranded: int
    n_preemptions: int
    n_preemption_events: int
    n_launches: np.ndarray
    n_scale_out: int
    n_scale_in: int
    node_s: np.ndarray
    node_s_window: np.ndarray
    busy_worker_s: np.ndarray
    busy_worker_s_window: np.ndarray
    max_nodes_seen: int
    n_in_system_at_horizon: int
    events: list[tuple]


def simulate_fleet_reference(
    arrival_times_s: np.ndarray,
    service_s: Callable[[int], float],
    fleet: FleetSpec,
    *,
    max_batch: int,
    max_wait_s: float,
    warmup_s: float,
    horizon_s: float,
    rng: np.random.Generator,
) -> FleetReferenceResult:
    """Simulate dynamically batched serving on a fleet whose nodes come and go.

    Parameters
    ----------
    arrival_times_s : float64[n]
        Request arrival times, s: finite, ``>= 0``, sorted and ``< horizon_s``.
    service_s : callable(int) -> float
        Service time of a batch of the given size, s; called once per dispatched batch (lost
        batches included), in dispatch order.
    fleet : FleetSpec
        Nodes, classes, autoscaling, spot model, provisioning delay and request deadline.
    max_batch, max_wait_s, warmup_s, horizon_s
        As in :func:`simulators.realtime.reference.simulate_realtime_reference`.
    rng : numpy.random.Generator
        Draws, in event order, one exponential per spot node becoming ``READY`` (Poisson
        model) and one standard normal per lognormal provisioning component per launch.

    Returns
    -------
    FleetReferenceResult

    Raises
    ------
    SimulationError
        If an argument is out of range or ``service_s`` returns a bad value.
    """
    arrivals = _check_inputs(arrival_times_s, n_workers=fleet.max_workers, max_batch=max_batch,
                             max_wait_s=max_wait_s, warmup_s=warmup_s, horizon_s=horizon_s)
    fleet.check()
    if fleet.deadline_s is not None and not fleet.deadline_s >= 0.0:
        raise SimulationError(f"fleet.deadline_s must be >= 0 (got {fleet.deadline_s!r})")
    model = _FleetModel(arrivals, service_s, fleet, max_batch=max_batch, max_wait_s=max_wait_s,
                        warmup_s=warmup_s, horizon_s=horizon_s, rng=rng)
    model.run()

    done = [b for b in model.batches if not b.lost]
    lost = [b for b in model.batches if b.lost]
    post = arrivals >= warmup_s
    gone_s = np.fmin(model.completion_s, model.dropped_s)  # NaN only if never served
    return FleetReferenceResult(
        arrival_s=arrivals[post].copy(),
        wait_s=(model.dispatch_s - arrivals)[post],
        latency_s=(model.completion_s - arrivals)[post],
        dropped_s=model.dropped_s[post].copy(),
        batch_size=np.array([len(b.members) for b in done], dtype=np.int64),
        batch_start_s=np.array([b.start_s for b in done], dtype=np.float64),
        batch_worker=np.array([b.worker for b in done], dtype=np.int64),
        lost_batch_start_s=np.array([b.start_s for b in lost], dtype=np.float64),
        lost_batch_end_s=np.array([b.planned_end_s for b in lost], dtype=np.float64),
        drop_times_s=np.sort(model.dropped_s[~np.isnan(model.dropped_s)]),
        n_arrivals_total=int(arrivals.size),
        n_dropped=model.n_dropped,
        n_requeued=model.n_requeued,
        n_stranded=int(np.count_nonzero(np.isnan(gone_s))),
        n_preemptions=model.n_preemptions,
        n_preemption_events=model.n_preemption_events,
        n_launches=model.n_launches,
        n_scale_out=model.n_scale_out,
        n_scale_in=model.n_scale_in,
        node_s=model.node_s,
        node_s_window=model.node_s_window,
        busy_worker_s=model.busy_worker_s,
        busy_worker_s_window=model.busy_worker_s_window,
        max_nodes_seen=model.max_nodes_seen,
        n_in_system_at_horizon=int(np.count_nonzero(~(gone_s <= horizon_s))),
        events=model.events,
    )


class _Signal(simpy.events.Event):
    """Wakes the dispatcher: fired at most once, at the current time, priority DISPATCH."""

    def fire(self) -> None:
        if not self.triggered:
            self._ok = True
            self._value = None
            self.env.schedule_at(self, self.env.now, PRIORITY_DISPATCH)


@dataclass(eq=False)
class _Batch:
    index: int  # dispatch order
    members: list[int]
    worker: int
    node: _Node
    start_s: float
    planned_end_s: float
    end_s: float | None = None  # completion or death
    lost: bool = False


class _FleetModel(_FleetDynamics):
    """One reference run: the fleet (:class:`_FleetDynamics`) serving the requests."""

    def __init__(self, arrivals_s: np.ndarray, service_s: Callable[[int], float],
                 fleet: FleetSpec, *, max_batch: int, max_wait_s: float, warmup_s: float,
                 horizon_s: float, rng: np.random.Generator) -> None:
        super().__init__(fleet, warmup_s=warmup_s, horizon_s=horizon_s, rng=rng)
        self.env = _Environment()
        self.arrivals_s = arrivals_s
        self.service_s = service_s
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s

        self.queue: deque[int] = deque()
        self.worker_batch: list[_Batch | None] = [None] * fleet.max_workers
        self.worker_free_since_s = [0.0] * fleet.max_workers
        self.wake = _Signal(self.env)

        n = arrivals_s.size
        self.dispatch_s = np.full(n, np.nan)
        self.completion_s = np.full(n, np.nan)
        self.dropped_s = np.full(n, np.nan)
        self.n_in_system = 0
        self.outstanding_log: list[tuple[float, int]] = [(0.0, 0)]  # autoscaler window
        self.window_batches: list[_Batch] = []  # autoscaler window
        self.batches: list[_Batch] = []

        self.n_dropped = self.n_requeued = 0
        self.busy_worker_s = np.zeros(N_CLASSES)
        self.busy_worker_s_window = np.zeros(N_CLASSES)
        self.events: list[tuple] = []

    # --- driver ------------------------------------------------------------------------------

    def run(self) -> None:
        """Start the fleet and the processes, run until no event is left, close the books."""
        self._start_nodes()
        self.env.process(self._arrival_process())
        self.env.process(self._dispatcher())
        self._schedule_fleet_events()
        self.env.run()
        self._close_books()

    def _schedule(self, time_s: float, priority: int, handler: Callable, *args) -> None:
        """Run ``handler(*args)`` as a fleet event at ``time_s`` (skipped once drained)."""
        event = _At(self.env, time_s, priority)
        event.callbacks.append(lambda _event: None if self._stopped() else handler(*args))

    def _stopped(self) -> bool:
        """Return whether fleet events no longer run (past the horizon with nothing to serve)."""
        return self.env.now > self.horizon_s and self.n_in_system == 0

    def _log(self, kind: str, slot: int = -1) -> None:
        self.events.append((self.env.now, kind, slot))

    def _notify(self) -> None:
        self.wake.fire()

    # --- requests ----------------------------------------------------------------------------

    def _arrival_process(self) -> Generator[simpy.events.Event, None, None]:
        """Put each request in the queue at its arrival time (priority URGENT)."""
        for index, arrival_s in enumerate(self.arrivals_s):
            yield _At(self.env, float(arrival_s), URGENT)
            self.queue.append(index)
            self._count_in_system(+1)
            self._notify()

    def _count_in_system(self, delta: int) -> None:
        self.n_in_system += delta
        if self.policy is not None:
            self.outstanding_log.append((self.env.now, self.n_in_system))

    def _dispatcher(self) -> Generator[simpy.events.Event, None, None]:
        """Form batches and hand them to the longest-idle worker of a READY node."""
        env = self.env
        while True:
            idle = self._idle_workers()
            timer_s = None
            if idle and self.queue:
                timer_s = float(self.arrivals_s[self.queue[0]]) + self.max_wait_s
                if len(self.queue) >= self.max_batch or env.now >= timer_s:
                    if not self._drop_stale():
                        worker = min(idle, key=lambda w: (self.worker_free_since_s[w], w))
                        self._dispatch(worker)
                    continue  # after drops: the batch is formed again from the new head
            self.wake = _Signal(env)
            if timer_s is not None:
                timer = _At(env, timer_s, PRIORITY_DISPATCH)
                timer.callbacks.append(lambda _event, wake=self.wake: wake.fire())
            yield self.wake

    def _idle_workers(self) -> list[int]:
        return [k for node in self.slots if node is not None and node.state == STATE_READY
                for k in self._workers(node) if self.worker_batch[k] is None]

    def _drop_stale(self) -> bool:
        """Drop every queued request older than the deadline now; return whether any was."""
        deadline_s = self.fleet.deadline_s
        if deadline_s is None:
            return False
        now = self.env.now
        stale = [i for i in self.queue if now - self.arrivals_s[i] > deadline_s]
        if not stale:
            return False
        self.queue = deque(i for i in self.queue if not now - self.arrivals_s[i] > deadline_s)
        self.dropped_s[stale] = now
        self.n_dropped += len(stale)
        self._count_in_system(-len(stale))
        return True

    def _dispatch(self, worker: int) -> None:
        """Start a batch of the oldest queued requests (at most ``max_batch``) on ``worker``."""
        env = self.env
        members, service_s = _take_batch(self)
        batch = _Batch(len(self.batches), members, worker, self.slots[worker // self.width],
                       env.now, env.now + service_s)
        self.worker_batch[worker] = batch
        self.batches.append(batch)
        if self.policy is not None:
            self.window_batches.append(batch)
        done = _At(env, batch.planned_end_s, URGENT)
        done.callbacks.append(lambda _event: self._complete(batch))

    def _complete(self, batch: _Batch) -> None:
        """Free the batch's worker at its completion (priority URGENT) unless it was lost."""
        if batch.lost:
            return
        now = self.env.now
        self._end_batch(batch)
        self.completion_s[batch.members] = now
        self.worker_free_since_s[batch.worker] = now
        self._count_in_system(-len(batch.members))
        node = batch.node
        if node.state == STATE_DRAINING and not self._busy(node):
            self._remove(node, "leave")
        self._notify()

    def _end_batch(self, batch: _Batch) -> None:
        batch.end_s = self.env.now
        self.worker_batch[batch.worker] = None
        for table, lo in ((self.busy_worker_s, 0.0), (self.busy_worker_s_window, self.warmup_s)):
            busy_s = min(batch.end_s, self.horizon_s) - max(batch.start_s, lo)
            table[batch.node.node_class] += max(busy_s, 0.0)
