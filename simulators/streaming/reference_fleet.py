"""SimPy reference of the streaming fleet: nodes, target-tracking autoscaling and spot.

The executable specification of the fleet part of the contract in
``simulators/streaming/api.py`` (and the streaming section of ``docs/fleet-dynamics.md``), used
by the window model of :mod:`simulators.streaming.reference`.  Slow and obvious on purpose: every
node ever launched is kept in a list, and each question ("which nodes are held at t?") is
answered by scanning it.

Processes and priorities
------------------------
Fleet events are SimPy events at exact absolute times; at equal times they run in the order of
their priorities: :data:`PRIORITY_DEATH`, :data:`PRIORITY_NOTICE`, :data:`PRIORITY_LAUNCH`,
:data:`PRIORITY_EVAL`, and the window model starts a pass with :data:`PRIORITY_PASS`, after them
all.  Events of one priority at one time run in the order they were scheduled (SimPy's sequence
number): notices in launch order, replacement launches in request order.

* Each spot node with a notice before the horizon has a process: at its notice it requests a
  replacement (a process that launches it ``replacement_delay_s`` later unless scale-in
  cancelled it), then it dies ``notice_s`` later.
* The autoscaler evaluates at ``j * interval_s <= horizon_s`` with the shared rule,
  :func:`simulators.core.autoscale_rule.target_nodes`, its floor raised by the clock schedule
  (``AutoscalingPolicy.scheduled_min`` of the clock hour ``(start_hour + t / 3600) % 24``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from simulators.core.autoscale_rule import target_nodes
from simulators.core.fleet import AutoscalingPolicy, SpotModel

# SimPy priorities at equal times, after the window model's URGENT (0) and NORMAL (1) events
PRIORITY_DEATH, PRIORITY_NOTICE, PRIORITY_LAUNCH, PRIORITY_EVAL, PRIORITY_PASS = range(2, 7)


@dataclass(eq=False)
class RefNode:
    """One node: held over ``[launch_s, gone_s)``, ready from ``ready_s``."""

    launch_s: float
    ready_s: float
    spot: bool
    base: bool
    notice_s: float = math.inf
    gone_s: float = math.inf
    noticed: bool = False

    def held(self, t: float) -> bool:
        """Whether the node is held (paid) at ``t``."""
        return self.launch_s <= t < self.gone_s

    def death_s(self, notice_s: float) -> float:
        """When the node dies (inf: never interrupted)."""
        return self.notice_s + notice_s


@dataclass(eq=False)
class _Request:
    """A pending replacement launch, requested at a notice."""

    notice_s: float


class StreamingFleetModel:
    """The fleet's processes and records (see the module docstring).

    ``at(time_s, priority)`` returns a SimPy event at an exact absolute time;
    ``busy_between(lo, hi)`` the busy worker-seconds inside ``[lo, hi]`` (the window model's
    records); ``interruption_gap_s()`` the time from a spot node's ready to its notice (one
    call per spot node, at its launch, in launch order).
    """

    def __init__(self, env: simpy.Environment, at: Callable[[float, int], simpy.events.Event],
                 *, n_nodes: int, workers_per_node: int, autoscaling: AutoscalingPolicy | None,
                 provisioning_delay_s: float, spot: SpotModel | None, on_demand_base: int,
                 horizon_s: float, busy_between: Callable[[float, float], float],
                 interruption_gap_s: Callable[[], float], start_hour: float = 0.0) -> None:
        self.env, self.at = env, at
        self.workers_per_node = workers_per_node
        self.policy, self.spot = autoscaling, spot
        self.delay_s, self.base, self.horizon_s = provisioning_delay_s, on_demand_base, horizon_s
        self.busy_between, self.gap_s = busy_between, interruption_gap_s
        self.start_hour = start_hour
        self.nodes: list[RefNode] = []
        self.pending: list[_Request] = []
        self.marks = 0
        self.last_scale_s = -math.inf
        self.counts = {"scale_out": 0, "scale_in": 0, "launched": 0, "max_nodes": n_nodes,
                       "interruptions": 0, "replacements": 0}
        self.launched = env.event()
        for k in range(n_nodes):
            self._add(0.0, 0.0, spot=spot is not None and k >= on_demand_base,
                      base=k < on_demand_base)
        if autoscaling is not None:
            env.process(self._autoscaler())

    def _add(self, launch_s: float, ready_s: float, *, spot: bool, base: bool) -> None:
        node = RefNode(launch_s, ready_s, spot, base)
        if spot and self.spot is not None and self.spot.interruptions_per_hour > 0:
            notice_s = ready_s + self.gap_s()
            if notice_s <= self.horizon_s:
                node.notice_s = notice_s
                self.env.process(self._spot_life(node))
        self.nodes.append(node)

    def _launch(self, spot: bool) -> None:
        now = self.env.now
        self._add(now, now + self.delay_s, spot=spot, base=False)
        if now <= self.horizon_s:
            self.counts["launched"] += 1
            self.counts["max_nodes"] = max(self.counts["max_nodes"],
                                           sum(nd.held(now) for nd in self.nodes))
        self.launched.succeed()
        self.launched = self.env.event()

    def _spot_life(self, node: RefNode) -> Generator[simpy.events.Event, None, None]:
        yield self.at(node.notice_s, PRIORITY_NOTICE)
        if node.gone_s < math.inf:  # removed by scale-in before its notice
            return
        node.noticed = True
        self.counts["interruptions"] += 1
        request = _Request(node.notice_s)
        self.pending.append(request)
        self.env.process(self._replacement(request))
        yield self.at(node.death_s(self.spot.notice_s), PRIORITY_DEATH)
        node.gone_s = self.env.now

    def _replacement(self, request: _Request) -> Generator[simpy.events.Event, None, None]:
        yield self.at(request.notice_s + self.spot.replacement_delay_s, PRIORITY_LAUNCH)
        if any(r is request for r in self.pending):
            self.pending = [r for r in self.pending if r is not request]
            if self.env.now <= self.horizon_s:
                self.counts["replacements"] += 1
            self._launch(spot=True)

    def _autoscaler(self) -> Generator[simpy.events.Event, None, None]:
        a, counts = self.policy, self.counts
        j = 1
        while j * a.interval_s <= self.horizon_s:
            yield self.at(j * a.interval_s, PRIORITY_EVAL)
            t = self.env.now
            lo = max(0.0, t - a.window_s)
            scheduled = a.scheduled_min((self.start_hour + t / 3600.0) % 24.0)
            desired = target_nodes(self.busy_between(lo, t) / (t - lo), self.workers_per_node,
                                   a.target, a.min_nodes, scheduled, self.base, a.max_nodes)
            live = [nd for nd in self.nodes if nd.held(t) and not nd.noticed]
            current = len(live) + len(self.pending) - self.marks
            if desired > current:
                counts["scale_out"] += 1
                self.last_scale_s = t
                keep = min(desired - current, self.marks)
                self.marks -= keep
                for _ in range(desired - current - keep):
                    self._launch(spot=self.spot is not None)
            elif desired < current and t - self.last_scale_s >= a.scale_in_cooldown_s:
                counts["scale_in"] += 1
                self.last_scale_s = t
                remove = current - desired
                while remove > 0 and self.pending:
                    self.pending.pop()  # the latest requested
                    remove -= 1
                self.marks += remove
            j += 1

    def start_pass(self, s: float) -> list[RefNode]:
        """The marked nodes leave; return the usable nodes (live, ready by ``s``) in launch order."""
        removable = [nd for nd in self.nodes if nd.held(s) and not nd.noticed and not nd.base]
        order = ([nd for nd in removable if nd.ready_s > s][::-1]
                 + [nd for nd in removable if nd.ready_s <= s and nd.spot][::-1]
                 + [nd for nd in removable if nd.ready_s <= s and not nd.spot][::-1])
        for nd in order[: self.marks]:
            nd.gone_s = s
        self.marks = 0
        return [nd for nd in self.nodes if nd.held(s) and not nd.noticed and nd.ready_s <= s]

    def wait_for_node(self, s: float) -> Generator[simpy.events.Event, None, float]:
        """No node is usable at ``s``: wait for a provisioning node's ready or a launch."""
        ready = [nd.ready_s for nd in self.nodes
                 if nd.held(s) and not nd.noticed and nd.ready_s > s]
        events = [self.launched]
        if ready:
            events.append(self.at(min(ready), PRIORITY_PASS))
        yield simpy.AnyOf(self.env, events)
        return self.env.now

    def death_s(self, node: RefNode) -> float:
        """When ``node`` dies (inf: never)."""
        return node.death_s(self.spot.notice_s) if self.spot is not None else math.inf

    def node_seconds(self, lo: float, hi: float, *, spot_only: bool = False) -> float:
        """Node-seconds held inside ``[lo, hi]`` (of spot nodes only, if asked)."""
        return sum(max(min(nd.gone_s, hi) - max(nd.launch_s, lo), 0.0) for nd in self.nodes
                   if nd.spot or not spot_only)
