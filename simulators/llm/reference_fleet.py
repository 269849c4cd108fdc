"""The SimPy model of the ``llm`` reference: events, routing, nodes that come and go, the books.

Part of :mod:`simulators.llm.reference`, whose module docstring states the rules this model
adds to ``docs/llm-serving.md`` (event order, readings of the contract).  The fleet side (node
slots, provisioning, spot notices, launches, trace ticks, the autoscaler and scale-in) is the
real-time reference's :class:`simulators.realtime.reference_fleet_dynamics._FleetDynamics`,
reused as it is; this module adds what changes with replicas: routing at arrival, a central
queue while no replica is ``READY``, engine steps, notices that move waiting requests, deaths
that lose KV caches, drains that wait for the replicas to empty, and the LLM autoscaling metrics.

Every handler runs through :meth:`_LlmModel._run`, which first integrates the time-averages up
to now (the state is constant between events) and afterwards records the new levels.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Generator
from typing import Any

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
from simulators.llm.reference import (
    LlmReferenceRun,
    Replica,
    Request,
    Step,
    end_step,
    schedule_step,
    step_duration_s,
)
from simulators.realtime.reference import _At, _Environment
from simulators.realtime.reference_fleet import _Signal
from simulators.realtime.reference_fleet_dynamics import _FleetDynamics, _Node

PRIORITY_STEP_END = -1  # before arrivals (0) and fleet events (1..6); step starts are 7
PRIORITY_ARRIVAL = 0
_SERVING = (STATE_READY, STATE_NOTICE, STATE_DRAINING)


def run_model(spec: Any, requests: list[Request], rng: np.random.Generator) -> LlmReferenceRun:
    """Run the model on ``requests`` (arrival order) and return the result."""
    spec.fleet.check(metrics=LLM_AUTOSCALING_METRICS)
    model = _LlmModel(spec, requests, rng)
    model.run()
    return model.result()


class _LlmModel(_FleetDynamics):
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
        blocks = self.replicas[0].total_blocks
        bs = self.engine.block_size
        for req in self.requests:
            yield _At(self.env, req.arrival_s, PRIORITY_ARRIVAL)
            self._integrate()
            if -(-(req.prompt + req.output) // bs) > blocks:
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
        replica.step = step
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

    # --- the result --------------------------------------------------------------------------

    def result(self) -> LlmReferenceRun:
        reqs = self.requests
        arrival = np.array([r.arrival_s for r in reqs], dtype=np.float64)
        prompt = np.array([r.prompt for r in reqs], dtype=np.int64)
        output = np.array([r.output for r in reqs], dtype=np.int64)
        ttft = np.array([r.ttft_s for r in reqs], dtype=np.float64)
        e2e = np.array([r.e2e_s for r in reqs], dtype=np.float64)
        finished = np.array(self.finished, dtype=bool)
        rejected = np.array(self.rejected, dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = np.where(output > 1, (e2e - ttft) / (output - 1), np.nan)
        r = self.spec.run
        running, waiting, central, in_flight, kv, replica_s = (float(x) for x in self.areas)
        return LlmReferenceRun(
            arrival_s=arrival, prompt=prompt, output=output, ttft_s=ttft, e2e_s=e2e,
            tpot_s=tpot,
            preemptions=np.array([q.n_preemptions for q in reqs], dtype=np.int64),
            rerouted=np.array([q.n_rerouted for q in reqs], dtype=np.int64),
            replica=np.array([q.replica for q in reqs], dtype=np.int64),
            finished=finished, rejected=rejected,
            measured=(arrival >= r.warmup_s) & (arrival < r.horizon_s),
            n_arrived=len(reqs), n_finished=int(finished.sum()), n_rejected=self.n_rejected,
            n_stranded=int(np.count_nonzero(~finished & ~rejected)),
            n_preemptions=self.n_kv_preemptions, n_rerouted=self.n_rerouted,
            n_moved_at_notice=self.n_moved_at_notice,
            input_tokens=int(prompt[finished].sum()), output_tokens=int(output[finished].sum()),
            recomputed_tokens=self.recomputed_tokens, n_steps=self.n_steps,
            decode_seqs=self.decode_seqs, replica_s=replica_s, running_area=running,
            waiting_area=waiting, central_area=central, in_flight_area=in_flight, kv_area=kv,
            peak_kv_utilization=self.peak_kv,
            node_s=self.node_s, node_s_window=self.node_s_window,
            busy_replica_s=self.busy_replica_s, busy_replica_s_window=self.busy_replica_s_window,
            n_launches=self.n_launches, n_spot_notices=self.n_preemptions,  # nodes noticed (the fleet's name)
            n_preemption_events=self.n_preemption_events, n_scale_out=self.n_scale_out,
            n_scale_in=self.n_scale_in, max_nodes_seen=self.max_nodes_seen, events=self.events)
