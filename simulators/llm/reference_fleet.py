"""The engine and the SimPy model of the ``llm`` reference (:mod:`simulators.llm.reference`).

The module docstring of :mod:`simulators.llm.reference` states the rules this model adds to
``docs/llm-serving.md`` (event order, readings of the contract).  Here are one replica's engine
(requests, paged KV blocks, the scheduler of one step, the step time) and the model: routing at
arrival, a central queue while no replica is ``READY``, engine steps, notices that move waiting
requests, deaths that lose KV caches, drains that wait for the replicas to empty, the LLM
autoscaling metrics and the books.  The fleet side (node slots, provisioning, spot notices,
launches, trace ticks, the autoscaler and scale-in) is the real-time reference's
:class:`simulators.realtime.reference_fleet_dynamics._FleetDynamics`, reused as it is.

Every handler runs through :meth:`LlmModel._run`, which first integrates the time-averages up
to now (the state is constant between events) and afterwards records the new levels.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from domain.errors import SimulationError
from simulators.core.fleet import (
    LLM_AUTOSCALING_METRICS,
    N_CLASSES,
    STATE_DRAINING,
    STATE_NOTICE,
    STATE_READY,
)
from simulators.realtime.reference import _At, _Environment
from simulators.realtime.reference_fleet import _Signal
from simulators.realtime.reference_fleet_dynamics import _FleetDynamics, _Node

if TYPE_CHECKING:
    from simulators.llm.spec import EngineConfig

PRIORITY_STEP_END = -1  # before arrivals (0) and fleet events (1..6); step starts are 7
PRIORITY_ARRIVAL = 0
_SERVING = (STATE_READY, STATE_NOTICE, STATE_DRAINING)


# --- one replica's engine ----------------------------------------------------------------------


@dataclass(eq=False)
class Request:
    """One request and its progress (``k``, ``g``, ``P`` of the contract)."""

    index: int  # arrival order
    arrival_s: float
    prompt: int  # p
    output: int  # o
    computed: int = 0  # k: tokens of P computed
    emitted: int = 0  # g: output tokens emitted
    to_prefill: int = 0  # P: p, or p + g after a loss
    blocks: int = 0  # KV blocks of its own it holds
    holds_prefix: bool = False
    admitted: int = -1  # admission sequence number (global)
    ttft_s: float = math.nan
    e2e_s: float = math.nan
    n_preemptions: int = 0
    n_rerouted: int = 0
    n_recomputed: int = 0  # context lost at preemptions and node deaths, tokens
    replica: int = -1

    @property
    def context(self) -> int:
        """Tokens whose KV the request holds: ``k + g - (P - p)`` (module notes)."""
        return self.computed + self.emitted - (self.to_prefill - self.prompt)

    def lose_kv(self) -> int:
        """Forget the KV cache (preemption or node loss); return the lost context, tokens."""
        lost = self.context
        self.n_recomputed += lost
        self.computed = 0
        self.to_prefill = self.prompt + self.emitted
        self.blocks = 0
        self.holds_prefix = False
        return lost


@dataclass(eq=False)
class Step:
    """One engine step: what it schedules, when it runs."""

    chunks: list[tuple[Request, int]]  # (request, prefill tokens x)
    decodes: list[Request]
    decode_context: int  # C: the decode sequences' contexts before the step
    recomputed: int = 0  # context lost by the requests preempted while deciding it
    prefix_hit: int = 0  # prompt tokens the admitted requests found in the prefix cache
    completions: int = 0  # prefills it completes
    replica: int = -1
    kv_share: float = 0.0  # the replica's used / total blocks once the step is decided
    start_s: float = 0.0
    end_s: float = 0.0
    lost: bool = False  # its node died before its end

    @property
    def prefill_tokens(self) -> int:
        return sum(x for _, x in self.chunks)


@dataclass(eq=False)
class Replica:
    """One engine replica: FCFS waiting queue, running list (admission order), KV blocks."""

    index: int
    engine: EngineConfig
    waiting: deque[Request] = field(default_factory=deque)
    running: list[Request] = field(default_factory=list)
    prefix_holders: int = 0
    step: Step | None = None

    @property
    def total_blocks(self) -> int:
        return self.engine.kv_cache_tokens // self.engine.block_size

    @property
    def prefix_blocks(self) -> int:
        return -(-self.engine.prefix_tokens // self.engine.block_size)

    def own_blocks(self, req: Request, context: int) -> int:
        """Blocks of its own ``req`` needs to hold ``context`` tokens: all of them, less (with
        prefix caching) the ``ceil(min(N, p) / bs)`` blocks of its part of the prefix."""
        bs = self.engine.block_size
        shared = -(-min(self.engine.prefix_tokens, req.prompt) // bs)
        return max(0, -(-context // bs) - shared)

    def blocks_alone(self, req: Request) -> int:
        """Blocks ``req`` holds at its largest context ``p + o`` alone on the replica (with
        the prefix's blocks when prefix caching is on)."""
        return self.own_blocks(req, req.prompt + req.output) + self.prefix_blocks

    def used_blocks(self) -> int:
        shared = self.prefix_blocks if self.prefix_holders else 0
        return shared + sum(r.blocks for r in self.running)

    def n_outstanding(self) -> int:
        return len(self.waiting) + len(self.running)

    def release(self, req: Request) -> None:
        """Drop ``req``'s hold on the prefix (its own blocks are zeroed by the caller)."""
        if req.holds_prefix:
            self.prefix_holders -= 1

    def clear(self) -> list[Request]:
        """Empty the replica (node death); return its requests: running, then waiting."""
        out = list(self.running) + list(self.waiting)
        self.running.clear()
        self.waiting.clear()
        self.prefix_holders = 0
        return out


def _ask(req: Request, budget: int) -> tuple[int, bool]:
    """Tokens ``x`` the request asks for and whether they complete its prefill."""
    if req.computed < req.to_prefill:
        x = min(req.to_prefill - req.computed, budget)
        return x, req.computed + x == req.to_prefill
    return 1, False  # a decode token


def schedule_step(replica: Replica, next_admission: Any) -> tuple[Step, list[Request]]:
    """Decide one step of ``replica`` (the contract's three stages); return it and the requests
    preempted while deciding it (most recent first; already counted and reset).

    ``next_admission()`` returns the next global admission sequence number.  Blocks are
    allocated for the step's contexts ``c'`` now; the step's tokens are taken at its end
    (:func:`end_step`).
    """
    engine = replica.engine
    budget = engine.max_num_batched_tokens
    free = replica.total_blocks - replica.used_blocks()
    chunks: list[tuple[Request, int]] = []
    decodes: list[Request] = []
    preempted: list[Request] = []
    recomputed = prefix_hit = 0

    # 1. running requests, in admission order
    i = 0
    while i < len(replica.running) and budget > 0:
        req = replica.running[i]
        x, completes = _ask(req, budget)
        need = replica.own_blocks(req, req.context + x + completes) - req.blocks
        while need > free:  # preempt the most recently admitted request not yet scheduled
            victim = replica.running.pop()
            free += victim.blocks
            if victim.holds_prefix and replica.prefix_holders == 1:
                free += replica.prefix_blocks
            replica.release(victim)
            recomputed += victim.lose_kv()
            victim.n_preemptions += 1
            preempted.append(victim)
            if victim is req:
                break
        if preempted and preempted[-1] is req:
            break  # it was the last one: the step goes on without it
        req.blocks += need
        free -= need
        budget -= x
        if req.computed < req.to_prefill:
            chunks.append((req, x))
        else:
            decodes.append(req)
        i += 1
    for victim in preempted:  # most recent first: the earliest admitted ends at the head
        replica.waiting.appendleft(victim)

    # 2. waiting requests, FCFS
    n_prefix = engine.prefix_tokens
    while replica.waiting and len(replica.running) < engine.max_num_seqs and budget > 0:
        req = replica.waiting[0]
        hit = min(n_prefix, req.prompt, req.to_prefill - 1) if replica.prefix_holders else 0
        new_prefix = replica.prefix_blocks if n_prefix and not replica.prefix_holders else 0
        req.computed = hit  # tentatively (waiting requests have k = 0)
        x, completes = _ask(req, budget)
        own = replica.own_blocks(req, req.context + x + completes)
        if own + new_prefix > free:
            req.computed = 0
            break  # no admission past the head, no preemption to admit
        replica.waiting.popleft()
        prefix_hit += hit
        req.blocks = own
        req.holds_prefix = bool(n_prefix)
        replica.prefix_holders += req.holds_prefix
        req.admitted = next_admission()
        req.replica = replica.index
        replica.running.append(req)
        free -= own + new_prefix
        budget -= x
        if req.computed < req.to_prefill:
            chunks.append((req, x))
        else:
            decodes.append(req)
    step = Step(chunks, decodes, sum(r.context for r in decodes), recomputed=recomputed,
                prefix_hit=prefix_hit,
                completions=sum(r.computed + x == r.to_prefill for r, x in chunks))
    return step, preempted


def step_duration_s(step: Step, profile: Any) -> float:
    """Duration of a step (s): ``D(b, C/b)``, ``f(n)`` or ``D(b, C/b) + max(0, f(b + n) - f(b))``."""
    b, n = len(step.decodes), step.prefill_tokens
    if b == 0:
        return float(profile.prefill_ms(1, n)) / 1000.0
    decode_ms = float(profile.decode_step_ms(b, step.decode_context / b))
    if n == 0:
        return decode_ms / 1000.0
    extra_ms = max(0.0, float(profile.prefill_ms(1, b + n)) - float(profile.prefill_ms(1, b)))
    return (decode_ms + extra_ms) / 1000.0


def end_step(replica: Replica, step: Step, now_s: float) -> list[Request]:
    """Take the step's tokens at its end; return the requests that finished (freed)."""
    emitting = [req for req, x in step.chunks if req.computed + x == req.to_prefill]
    for req, x in step.chunks:
        req.computed += x
    finished = []
    for req in emitting + step.decodes:
        req.emitted += 1
        if math.isnan(req.ttft_s):
            req.ttft_s = now_s - req.arrival_s
        if req.emitted == req.output:
            req.e2e_s = now_s - req.arrival_s
            replica.running.remove(req)
            req.blocks = 0
            replica.release(req)
            finished.append(req)
    return finished


def run_model(spec: Any, requests: list[Request], rng: np.random.Generator) -> LlmModel:
    """Run the model on ``requests`` (arrival order); return it, finished."""
    spec.fleet.check(metrics=LLM_AUTOSCALING_METRICS)
    model = LlmModel(spec, requests, rng)
    model.run()
    return model


class LlmModel(_FleetDynamics):
    """One reference run: the fleet (:class:`_FleetDynamics`) with LLM replicas on its slots."""

    def __init__(self, spec: Any, requests: list[Request], rng: np.random.Generator) -> None:
        fleet = spec.fleet
        super().__init__(fleet, warmup_s=float(spec.run.warmup_s),
                         horizon_s=float(spec.run.horizon_s), rng=rng)
        self.env = _Environment()
        self.spec = spec
        self.engine = spec.engine
        self.profile = spec.profile
        self.requests = requests
        self.replicas = [Replica(i, spec.engine) for i in range(fleet.max_workers)]
        self.central: list[Request] = []  # waiting for a READY replica, arrival order
        self.last_chosen = -1  # round robin
        self.n_admissions = 0
        self.wake = _Signal(self.env)
        # what _FleetDynamics reads of a serving model
        self.worker_free_since_s = [0.0] * fleet.max_workers

        self.n_in_system = 0
        self.n_rejected = self.n_kv_preemptions = self.n_rerouted = self.n_moved_at_notice = 0
        self.recomputed_tokens = self.n_steps = self.decode_seqs = 0
        self.finished: list[bool] = [False] * len(requests)
        self.rejected: list[bool] = [False] * len(requests)
        self.busy_replica_s = np.zeros(N_CLASSES)
        self.busy_replica_s_window = np.zeros(N_CLASSES)
        self.events: list[tuple] = []
        self.steps: list[Step] = []  # every step started, in start order
        # time-averages over [warmup, horizon]: running, waiting, central, in flight, kv, replicas
        self.areas = np.zeros(6)
        self.levels = np.zeros(6)
        self.peak_kv = 0.0
        self.last_s = 0.0
        self.metric_log: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)]

    # --- driver ------------------------------------------------------------------------------

    def run(self) -> None:
        self._start_nodes()
        self._record()
        self.env.process(self._arrival_process())
        self.env.process(self._dispatcher())
        self._schedule_fleet_events()
        self.env.run()
        self._integrate(max(self.env.now, self.horizon_s))  # the levels hold to the horizon
        self._close_books()

    def _run(self, handler: Callable, *args) -> None:
        """Integrate the time-averages up to now, run ``handler``, record the new levels."""
        self._integrate()
        handler(*args)
        self._record()

    def _schedule(self, time_s: float, priority: int, handler: Callable, *args) -> None:
        """Run ``handler(*args)`` as a fleet event at ``time_s`` (skipped once drained)."""
        event = _At(self.env, time_s, priority)
        event.callbacks.append(
            lambda _event: None if self._stopped() else self._run(handler, *args))

    def _stopped(self) -> bool:
        return self.env.now > self.horizon_s and self.n_in_system == 0

    def _log(self, kind: str, slot: int = -1) -> None:
        self.events.append((self.env.now, kind, slot))

    def _notify(self) -> None:
        self.wake.fire()

    # --- requests ----------------------------------------------------------------------------

    def _arrival_process(self) -> Generator[simpy.events.Event, None, None]:
        replica = self.replicas[0]
        for req in self.requests:
            yield _At(self.env, req.arrival_s, PRIORITY_ARRIVAL)
            self._integrate()
            if replica.blocks_alone(req) > replica.total_blocks:
                self.rejected[req.index] = True
                self.n_rejected += 1
            else:
                self.n_in_system += 1
                self._route(req)
            self._record()

    def _ready_replicas(self) -> list[Replica]:
        return [self.replicas[k] for node in self.slots
                if node is not None and node.state == STATE_READY for k in self._workers(node)]

    def _route(self, req: Request) -> None:
        """Give ``req`` to a READY replica by the routing rule, else to the central queue."""
        ready = self._ready_replicas()
        if not ready:
            bisect.insort(self.central, req, key=lambda r: r.index)
            return
        if self.spec.router == "least_outstanding":
            chosen = min(ready, key=lambda r: (r.n_outstanding(), r.index))
        else:
            after = [r for r in ready if r.index > self.last_chosen]
            chosen = after[0] if after else ready[0]
        self.last_chosen = chosen.index
        chosen.waiting.append(req)
        self._notify()

    def _next_admission(self) -> int:
        self.n_admissions += 1
        return self.n_admissions - 1

    # --- steps -------------------------------------------------------------------------------

    def _dispatcher(self) -> Generator[simpy.events.Event, None, None]:
        """Start a step on every idle replica with work, after every other event at the time."""
        while True:
            yield self.wake
            self.wake = _Signal(self.env)
            self._run(self._start_steps)

    def _start_steps(self) -> None:
        for node in self.slots:
            if node is None or node.state not in _SERVING:
                continue
            for k in self._workers(node):
                replica = self.replicas[k]
                if replica.step is None and (replica.waiting or replica.running):
                    self._start_step(replica, node)

    def _start_step(self, replica: Replica, node: _Node) -> None:
        step, preempted = schedule_step(replica, self._next_admission)
        self.n_kv_preemptions += len(preempted)
        self.recomputed_tokens += step.recomputed
        if not (step.chunks or step.decodes):
            raise AssertionError(f"replica {replica.index} has work but scheduled nothing")
        duration_s = step_duration_s(step, self.profile)
        if not (math.isfinite(duration_s) and duration_s > 0.0):
            raise SimulationError(f"the token profile gives a step of {duration_s!r} s "
                                  f"(decode batch {len(step.decodes)}, "
                                  f"{step.prefill_tokens} prefill tokens); fix the profile")
        step.start_s = self.env.now
        step.end_s = self.env.now + duration_s
        step.replica = replica.index
        step.kv_share = replica.used_blocks() / replica.total_blocks
        replica.step = step
        self.steps.append(step)
        done = _At(self.env, step.end_s, PRIORITY_STEP_END)
        done.callbacks.append(lambda _event: self._run(self._end_step, replica, node, step))

    def _end_step(self, replica: Replica, node: _Node, step: Step) -> None:
        if step.lost:
            return
        now = self.env.now
        self._charge_busy(node, step, now)
        replica.step = None
        self.n_steps += 1
        self.decode_seqs += len(step.decodes)
        for req in end_step(replica, step, now):
            self.finished[req.index] = True
            self.n_in_system -= 1
        if node.state == STATE_DRAINING and not self._busy(node):
            self._remove(node, "leave")
        self._notify()

    def _charge_busy(self, node: _Node, step: Step, until_s: float) -> None:
        for table, lo in ((self.busy_replica_s, 0.0), (self.busy_replica_s_window,
                                                       self.warmup_s)):
            span = min(until_s, self.horizon_s) - max(step.start_s, lo)
            if span > 0.0:
                table[node.node_class] += span

    # --- the fleet's hooks -------------------------------------------------------------------

    def _busy(self, node: _Node) -> bool:
        return any(self.replicas[k].n_outstanding() for k in self._workers(node))

    def _on_ready(self, node: _Node) -> None:
        super()._on_ready(node)
        if node.state == STATE_READY and self.central:
            queued, self.central = self.central, []
            for req in queued:
                self._route(req)

    def _give_notice(self, node: _Node) -> None:
        """Spot notice: the node's waiting requests go elsewhere; running ones stay."""
        super()._give_notice(node)
        for k in self._workers(node):
            replica = self.replicas[k]
            moved = list(replica.waiting)
            replica.waiting.clear()
            self.n_moved_at_notice += len(moved)
            for req in moved:
                self._route(req)

    def _on_death(self, node: _Node) -> None:
        """End of notice: every request on the node's replicas loses its KV and is re-routed."""
        now = self.env.now
        lost: list[Request] = []
        for k in self._workers(node):
            replica = self.replicas[k]
            if replica.step is not None:
                replica.step.lost = True
                self._charge_busy(node, replica.step, now)
                replica.step = None
            lost.extend(replica.clear())
        if lost:
            self._log("reroute", node.slot)
        self._remove(node, "death")
        for req in lost:
            self.recomputed_tokens += req.lose_kv()
            req.n_rerouted += 1
            self.n_rerouted += 1
            self._route(req)
        self._notify()

    # --- time-averages and the autoscaler's metrics ------------------------------------------

    def _serving_replicas(self) -> list[Replica]:
        return [self.replicas[k] for node in self.slots
                if node is not None and node.state in _SERVING for k in self._workers(node)]

    def _record(self) -> None:
        """Record the levels that hold from now until the next event."""
        total = self.replicas[0].total_blocks
        serving = self._serving_replicas()
        running = sum(len(r.running) for r in self.replicas)
        waiting = sum(len(r.waiting) for r in self.replicas)
        used = [r.used_blocks() for r in self.replicas]
        if max(used) > total:
            raise AssertionError(f"a replica holds {max(used)} of its {total} KV blocks")
        kv = sum(used) / total
        central = len(self.central)
        in_flight = running + waiting + central
        if in_flight != self.n_in_system:
            raise AssertionError(f"{in_flight} requests held, {self.n_in_system} in the system")
        self.levels[:] = (running, waiting, central, in_flight, kv, len(serving))
        entry = (self.env.now, float(in_flight), float(waiting + central), kv)
        if self.metric_log[-1][0] == self.env.now:
            self.metric_log[-1] = entry
        else:
            self.metric_log.append(entry)

    def _integrate(self, now: float | None = None) -> None:
        """Add the levels held since the last event to the areas over [warmup, horizon]."""
        now = self.env.now if now is None else now
        span = min(now, self.horizon_s) - max(self.last_s, self.warmup_s)
        if span > 0.0:
            self.areas += self.levels * span
            if self.levels[5] > 0:
                self.peak_kv = max(self.peak_kv, self.levels[4] / self.levels[5])
        self.last_s = now

    def _metric_area(self, column: int, start_s: float, end_s: float) -> float:
        log = self.metric_log
        first = max(j for j, entry in enumerate(log) if entry[0] <= start_s)
        del log[:first]
        total = 0.0
        for j, entry in enumerate(log):
            stop_s = log[j + 1][0] if j + 1 < len(log) else end_s
            total += entry[column] * max(min(stop_s, end_s) - max(entry[0], start_s), 0.0)
        return total

    def _outstanding_area(self, start_s: float, end_s: float) -> float:
        """The window's area of the policy's metric (every LLM metric comes here)."""
        column = {"in_flight_per_replica": 1, "waiting_per_replica": 2, "kv_utilization": 3}
        return self._metric_area(column[self.policy.metric], start_s, end_s)
