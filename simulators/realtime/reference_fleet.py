"""SimPy reference model of real-time serving on a dynamic fleet (autoscaling, spot, delays).

The executable specification of ``docs/fleet-dynamics.md``: the serving rules of
:mod:`simulators.realtime.reference` (central FIFO queue, dynamic batching, longest-idle worker)
on node slots whose nodes are launched, provisioned, interrupted, drained and removed.  It is
slow and obvious on purpose; the Numba kernel must reproduce it request for request.

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

import bisect
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import URGENT

from domain.errors import SimulationError
from simulators.core.fleet import (
    CLASS_BASE,
    CLASS_FALLBACK,
    CLASS_SPOT,
    N_CLASSES,
    N_STATES,
    STATE_DRAINING,
    STATE_NOTICE,
    STATE_PROVISIONING,
    STATE_READY,
    FleetSpec,
)
from simulators.realtime.reference import _At, _check_inputs, _Environment

__all__ = ["FleetReferenceResult", "simulate_fleet_reference"]

PRIORITY_DEATH = 1
PRIORITY_READY = 2
PRIORITY_TRACE_TICK = 3
PRIORITY_INTERRUPT = 4
PRIORITY_LAUNCH = 5
PRIORITY_AUTOSCALE = 6
PRIORITY_DISPATCH = 7
_GONE = -1
_ROUNDING_S = 1e-9  # the autoscaler's allowance for float rounding (docs/fleet-dynamics.md)


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
class _Node:
    slot: int
    node_class: int
    seq: int  # launch order (initial nodes first, by slot)
    is_base: bool
    state: int
    since_s: float  # time of the last state change


@dataclass(eq=False)
class _Launch:
    """A pending spot launch, requested for ``request_s`` (order: request time, then seq)."""

    request_s: float
    seq: int

    def key(self) -> tuple[float, int]:
        return (self.request_s, self.seq)


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


class _FleetModel:
    """State and events of one reference run (see the module docstring for the rules)."""

    def __init__(self, arrivals_s: np.ndarray, service_s: Callable[[int], float],
                 fleet: FleetSpec, *, max_batch: int, max_wait_s: float, warmup_s: float,
                 horizon_s: float, rng: np.random.Generator) -> None:
        self.env = _Environment()
        self.arrivals_s = arrivals_s
        self.service_s = service_s
        self.fleet = fleet
        self.policy = fleet.autoscaling
        self.spot = fleet.spot
        self.trace = fleet.spot is not None and fleet.spot.replays_trace
        self.width = fleet.workers_per_node
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.rng = rng

        self.queue: deque[int] = deque()
        self.slots: list[_Node | None] = [None] * fleet.max_nodes
        self.worker_batch: list[_Batch | None] = [None] * fleet.max_workers
        self.worker_free_since_s = [0.0] * fleet.max_workers
        self.pending: list[_Launch] = []  # pending spot launches, by (request time, seq)
        self.wake = _Signal(self.env)
        self.n_node_seq = 0
        self.n_launch_seq = 0
        self.spot_capacity = int(fleet.spot.trace_capacity[0]) if self.trace else 0
        self.last_scale_s = -math.inf

        n = arrivals_s.size
        self.dispatch_s = np.full(n, np.nan)
        self.completion_s = np.full(n, np.nan)
        self.dropped_s = np.full(n, np.nan)
        self.n_in_system = 0
        self.outstanding_log: list[tuple[float, int]] = [(0.0, 0)]  # autoscaler window
        self.window_batches: list[_Batch] = []  # autoscaler window
        self.batches: list[_Batch] = []

        self.n_dropped = self.n_requeued = self.n_preemptions = self.n_preemption_events = 0
        self.n_scale_out = self.n_scale_in = 0
        self.n_launches = np.zeros(N_CLASSES, dtype=np.int64)
        self.node_s = np.zeros((N_CLASSES, N_STATES))
        self.node_s_window = np.zeros((N_CLASSES, N_STATES))
        self.busy_worker_s = np.zeros(N_CLASSES)
        self.busy_worker_s_window = np.zeros(N_CLASSES)
        self.n_alive = 0
        self.max_nodes_seen = 0
        self.events: list[tuple] = []

    # --- driver ------------------------------------------------------------------------------

    def run(self) -> None:
        """Start the fleet and the processes, run until no event is left, close the books."""
        fleet = self.fleet
        spot_started = 0
        for i in range(fleet.initial_nodes):
            is_base = i < fleet.on_demand_base
            node_class = CLASS_SPOT if fleet.extra_is_spot and not is_base else CLASS_BASE
            if node_class == CLASS_SPOT and self.trace and spot_started >= self.spot_capacity:
                self._request_launch(0.0)  # above K(t_0): waits for room (or falls back)
                continue
            spot_started += node_class == CLASS_SPOT
            node = self._new_node(node_class, is_base, STATE_READY)
            self._on_ready_state(node)
        self.env.process(self._arrival_process())
        self.env.process(self._dispatcher())
        if self.trace and float(self.spot.trace_times_s[0]) <= self.horizon_s:
            self._schedule(max(float(self.spot.trace_times_s[0]), 0.0), PRIORITY_TRACE_TICK,
                           self._on_tick, 0)
        if self.policy is not None and self.policy.interval_s <= self.horizon_s:
            self._schedule(self.policy.interval_s, PRIORITY_AUTOSCALE, self._on_autoscale, 1)
        if fleet.extra_is_spot:  # from the horizon on, pending launches go ahead
            self._schedule(self.horizon_s, PRIORITY_LAUNCH, self._try_launches)
        self.env.run()
        for node in self.slots:
            if node is not None:
                self._charge(node, self.horizon_s)

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
        size = min(len(self.queue), self.max_batch)
        members = [self.queue.popleft() for _ in range(size)]
        service_s = float(self.service_s(size))
        if not (math.isfinite(service_s) and service_s > 0.0):
            raise SimulationError(
                f"service_s({size}) must be a positive finite number of seconds "
                f"(got {service_s!r}); fix the service-time sampler")
        self.dispatch_s[members] = env.now
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

    # --- nodes -------------------------------------------------------------------------------

    def _workers(self, node: _Node) -> range:
        return range(node.slot * self.width, (node.slot + 1) * self.width)

    def _busy(self, node: _Node) -> bool:
        return any(self.worker_batch[k] is not None for k in self._workers(node))

    def _charge(self, node: _Node, until_s: float) -> None:
        """Add the node's time in its current state up to ``until_s`` to the node-seconds."""
        for table, lo in ((self.node_s, 0.0), (self.node_s_window, self.warmup_s)):
            span = min(until_s, self.horizon_s) - max(node.since_s, lo)
            if span > 0.0:
                table[node.node_class, node.state] += span

    def _set_state(self, node: _Node, state: int) -> None:
        self._charge(node, self.env.now)
        node.state = state
        node.since_s = self.env.now

    def _new_node(self, node_class: int, is_base: bool, state: int) -> _Node | None:
        """Put a node in the lowest free slot; return None if every slot is taken."""
        slot = next((k for k, node in enumerate(self.slots) if node is None), None)
        if slot is None:
            self._log("launch_dropped")
            return None
        node = _Node(slot, node_class, self.n_node_seq, is_base, state, self.env.now)
        self.n_node_seq += 1
        self.slots[slot] = node
        self.n_alive += 1
        if self.env.now <= self.horizon_s:
            self.max_nodes_seen = max(self.max_nodes_seen, self.n_alive)
        return node

    def _remove(self, node: _Node, kind: str) -> None:
        """Take the node away now (its slot becomes free)."""
        self._set_state(node, _GONE)
        self.slots[node.slot] = None
        self.n_alive -= 1
        self._log(kind, node.slot)

    def _on_ready_state(self, node: _Node) -> None:
        """A node became READY now: its workers are free since now; spot nodes draw a notice."""
        for k in self._workers(node):
            self.worker_free_since_s[k] = self.env.now
        spot = self.spot
        if node.node_class == CLASS_SPOT and not self.trace and spot.interruptions_per_hour > 0:
            gap_s = self.rng.exponential(3600.0 / spot.interruptions_per_hour)
            self._schedule(self.env.now + gap_s, PRIORITY_INTERRUPT, self._on_interrupt, node)

    def _on_ready(self, node: _Node) -> None:
        if node.state != STATE_PROVISIONING:
            return  # removed, or noticed, while provisioning
        self._set_state(node, STATE_READY)
        self._log("ready", node.slot)
        self._on_ready_state(node)
        self._notify()

    def _on_interrupt(self, node: _Node) -> None:
        if self.env.now <= self.horizon_s and node.state in (STATE_READY, STATE_DRAINING):
            self._give_notice(node)

    def _give_notice(self, node: _Node) -> None:
        """Spot notice: no new batch, death after ``notice_s``, replacement launch requested."""
        now = self.env.now
        self._set_state(node, STATE_NOTICE)
        self.n_preemptions += 1
        self._log("notice", node.slot)
        self._schedule(now + self.spot.notice_s, PRIORITY_DEATH, self._on_death, node)
        self._request_launch(now + self.spot.replacement_delay_s)

    def _on_death(self, node: _Node) -> None:
        """End of notice: batches in service are lost and requeued at the head."""
        lost = [self.worker_batch[k] for k in self._workers(node)
                if self.worker_batch[k] is not None]
        for batch in lost:
            batch.lost = True
            self._end_batch(batch)
        members = sorted(i for batch in lost for i in batch.members)  # arrival order
        self.dispatch_s[members] = np.nan  # dispatched again later (or dropped)
        self.queue.extendleft(reversed(members))
        self.n_requeued += len(members)
        if lost:
            self._log("requeue", node.slot)
        self._remove(node, "death")
        self._notify()

    # --- launches ----------------------------------------------------------------------------

    def _held_spot(self) -> list[_Node]:
        return [node for node in self.slots if node is not None and node.node_class == CLASS_SPOT
                and node.state in (STATE_PROVISIONING, STATE_READY)]

    def _request_launch(self, request_s: float) -> None:
        """Add a pending spot launch requested for ``request_s`` and look at it then."""
        launch = _Launch(request_s, self.n_launch_seq)
        self.n_launch_seq += 1
        bisect.insort(self.pending, launch, key=_Launch.key)
        self._schedule(request_s, PRIORITY_LAUNCH, self._try_launches)
        fallback_s = self.spot.fallback_to_on_demand_after_s
        if self.trace and fallback_s is not None:
            self._schedule(request_s + fallback_s, PRIORITY_LAUNCH, self._try_launches)

    def _try_launches(self) -> None:
        """Start the due pending launches, oldest first, as spot room or fallback allows."""
        now = self.env.now
        if not self.trace or now >= self.horizon_s:
            room = math.inf
        else:
            room = self.spot_capacity - len(self._held_spot())
        fallback_s = self.spot.fallback_to_on_demand_after_s
        while self.pending and self.pending[0].request_s <= now:
            launch = self.pending[0]
            if room > 0:
                room -= 1
                self._start(launch, CLASS_SPOT)
            elif fallback_s is not None and now >= launch.request_s + fallback_s:
                self._log("fallback")
                self._start(launch, CLASS_FALLBACK)
            else:
                break  # every later launch was requested later: it waits too

    def _start(self, launch: _Launch | None, node_class: int) -> None:
        """Give a launch a slot in PROVISIONING now (it is dropped if no slot is free)."""
        if launch is not None:
            self.pending.remove(launch)
        node = self._new_node(node_class, False, STATE_PROVISIONING)
        if node is None:
            return
        self.n_launches[node_class] += 1
        self._log("launch", node.slot)
        delay_s = 0.0
        for part in self.fleet.provisioning:
            if part.sigma == 0.0:
                delay_s += part.median_s
            else:
                delay_s += part.median_s * math.exp(part.sigma * self.rng.standard_normal())
        self._schedule(self.env.now + delay_s, PRIORITY_READY, self._on_ready, node)

    def _launch_new(self, n: int) -> None:
        if not self.fleet.extra_is_spot:
            for _ in range(n):
                self._start(None, CLASS_BASE)
            return
        for _ in range(n):
            self._request_launch(self.env.now)
        self._try_launches()

    # --- trace and autoscaler ----------------------------------------------------------------

    def _on_tick(self, index: int) -> None:
        """Capacity sample: notice the newest held spot nodes above it, then try launches."""
        spot = self.spot
        self.spot_capacity = int(spot.trace_capacity[index])
        held = self._held_spot()
        if len(held) > self.spot_capacity:
            self.n_preemption_events += 1
            held.sort(key=lambda node: node.seq, reverse=True)
            for node in held[: len(held) - self.spot_capacity]:
                self._give_notice(node)
        self._try_launches()
        if index + 1 < spot.trace_times_s.size:
            next_s = float(spot.trace_times_s[index + 1])
            if next_s <= self.horizon_s:
                self._schedule(next_s, PRIORITY_TRACE_TICK, self._on_tick, index + 1)

    def _on_autoscale(self, k: int) -> None:
        """Evaluation ``k`` at ``k * interval_s``: scale out or in towards the desired size."""
        policy = self.policy
        now = self.env.now
        start_s = max(0.0, now - policy.window_s)
        window_s = now - start_s
        if policy.metric == "utilization":
            load = self._busy_worker_s(start_s, now) / window_s
        else:
            load = self._outstanding_area(start_s, now) / window_s
        desired = math.ceil(load / (self.width * policy.target) - _ROUNDING_S)
        clock_hour = (self.fleet.start_hour + now / 3600.0) % 24.0
        low = max(policy.min_nodes, policy.scheduled_min(clock_hour), self.fleet.on_demand_base)
        desired = min(max(desired, low), policy.max_nodes)
        live = [node for node in self.slots if node is not None
                and node.state in (STATE_PROVISIONING, STATE_READY)]
        current = len(live) + len(self.pending)
        if desired > current:
            self.n_scale_out += 1
            self.last_scale_s = now
            self._log("scale_out")
            self._launch_new(desired - current)
        elif desired < current and now - self.last_scale_s >= policy.scale_in_cooldown_s:
            self.n_scale_in += 1
            self.last_scale_s = now
            self._log("scale_in")
            self._scale_in(current - desired, live)
        next_s = (k + 1) * policy.interval_s
        if next_s <= self.horizon_s:
            self._schedule(next_s, PRIORITY_AUTOSCALE, self._on_autoscale, k + 1)

    def _scale_in(self, n: int, live: list[_Node]) -> None:
        """Remove ``n`` nodes: pending launches, PROVISIONING, idle READY, then drain busy."""
        while n > 0 and self.pending:
            self.pending.pop()  # the latest requested
            self._log("cancel")
            n -= 1
        removable = [node for node in live if not node.is_base]
        provisioning = [x for x in removable if x.state == STATE_PROVISIONING]
        ready = [x for x in removable if x.state == STATE_READY]
        provisioning.sort(key=lambda x: -x.seq)
        ready.sort(key=lambda x: (x.node_class != CLASS_SPOT, -x.seq))
        idle = [x for x in ready if not self._busy(x)]
        busy = [x for x in ready if self._busy(x)]
        for node in (provisioning + idle)[:n]:
            self._remove(node, "remove")
        for node in busy[: max(n - len(provisioning) - len(idle), 0)]:
            self._set_state(node, STATE_DRAINING)
            self._log("drain", node.slot)

    def _busy_worker_s(self, start_s: float, end_s: float) -> float:
        """Busy worker-seconds of every batch (lost ones up to the death) inside the window."""
        self.window_batches = [b for b in self.window_batches if b.end_s is None
                               or b.end_s > start_s]
        total = 0.0
        for batch in self.window_batches:
            stop_s = end_s if batch.end_s is None else min(batch.end_s, end_s)
            total += max(stop_s - max(batch.start_s, start_s), 0.0)
        return total

    def _outstanding_area(self, start_s: float, end_s: float) -> float:
        """Integral of the requests in the system over the window, request-seconds."""
        log = self.outstanding_log
        first = max(j for j, (t, _) in enumerate(log) if t <= start_s)
        del log[:first]
        total = 0.0
        for j, (t, n) in enumerate(log):
            stop_s = log[j + 1][0] if j + 1 < len(log) else end_s
            total += n * max(min(stop_s, end_s) - max(t, start_s), 0.0)
        return total
