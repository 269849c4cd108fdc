"""The fleet side of the SimPy dynamic-fleet reference: nodes, notices, launches, trace, autoscaler.

Part of :mod:`simulators.realtime.reference_fleet`, whose module docstring is the contract
(event order and the readings of ``docs/fleet-dynamics.md``).  :class:`_FleetDynamics` holds the
node slots and everything that changes them: initial nodes, provisioning, spot notices (Poisson
or trace), deaths that requeue lost batches, pending spot launches and the on-demand fallback,
the autoscaler and scale-in, and the node-seconds books.  The serving model
(:class:`simulators.realtime.reference_fleet._FleetModel`) extends it with the queue, the
dispatcher and the batches.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from simulators.core.autoscale_rule import target_nodes
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

PRIORITY_DEATH = 1
PRIORITY_READY = 2
PRIORITY_TRACE_TICK = 3
PRIORITY_INTERRUPT = 4
PRIORITY_LAUNCH = 5
PRIORITY_AUTOSCALE = 6
PRIORITY_DISPATCH = 7
_GONE = -1


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


class _FleetDynamics:
    """Node slots and the fleet events of one reference run (rules: the contract).

    A subclass provides the clock and the request side it reads and changes: ``env``;
    ``_schedule(time_s, priority, handler, *args)``, ``_log(kind, slot)`` and ``_notify()``;
    ``queue``, ``worker_batch``, ``worker_free_since_s``, ``dispatch_s``, ``n_requeued``,
    ``window_batches``, ``outstanding_log`` and ``_end_batch(batch)``.
    """

    def __init__(self, fleet: FleetSpec, *, warmup_s: float, horizon_s: float,
                 rng: np.random.Generator) -> None:
        self.fleet = fleet
        self.policy = fleet.autoscaling
        self.spot = fleet.spot
        self.trace = fleet.spot is not None and fleet.spot.replays_trace
        self.width = fleet.workers_per_node
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.rng = rng

        self.slots: list[_Node | None] = [None] * fleet.max_nodes
        self.pending: list[_Launch] = []  # pending spot launches, by (request time, seq)
        self.n_node_seq = 0
        self.n_launch_seq = 0
        self.spot_capacity = int(fleet.spot.trace_capacity[0]) if self.trace else 0
        self.last_scale_s = -math.inf

        self.n_preemptions = self.n_preemption_events = 0
        self.n_scale_out = self.n_scale_in = 0
        self.n_launches = np.zeros(N_CLASSES, dtype=np.int64)
        self.node_s = np.zeros((N_CLASSES, N_STATES))
        self.node_s_window = np.zeros((N_CLASSES, N_STATES))
        self.n_alive = 0
        self.max_nodes_seen = 0

    # --- start and end -----------------------------------------------------------------------

    def _start_nodes(self) -> None:
        """Put the initial nodes in READY (spot ones above ``K(t_0)`` wait as pending launches)."""
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

    def _schedule_fleet_events(self) -> None:
        """Schedule the first trace tick, the first autoscaler evaluation and the horizon's
        launch attempt."""
        if self.trace and float(self.spot.trace_times_s[0]) <= self.horizon_s:
            self._schedule(max(float(self.spot.trace_times_s[0]), 0.0), PRIORITY_TRACE_TICK,
                           self._on_tick, 0)
        if self.policy is not None and self.policy.interval_s <= self.horizon_s:
            self._schedule(self.policy.interval_s, PRIORITY_AUTOSCALE, self._on_autoscale, 1)
        if self.fleet.extra_is_spot:  # from the horizon on, pending launches go ahead
            self._schedule(self.horizon_s, PRIORITY_LAUNCH, self._try_launches)

    def _close_books(self) -> None:
        """Charge every node still alive up to the horizon."""
        for node in self.slots:
            if node is not None:
                self._charge(node, self.horizon_s)

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
        clock_hour = (self.fleet.start_hour + now / 3600.0) % 24.0
        desired = target_nodes(load, self.width, policy.target, policy.min_nodes,
                               policy.scheduled_min(clock_hour), self.fleet.on_demand_base,
                               policy.max_nodes)
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
