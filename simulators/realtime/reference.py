"""SimPy reference model of real-time GPU serving with dynamic batching.

This module is the executable specification of the ``realtime`` design pattern: a Numba kernel
must reproduce it request for request when both are fed the same arrival times and the same
sequence of batch service times.  It is deliberately slow and obvious; it is never on the
product's hot path.

Semantics
---------
* One central FIFO queue and ``n_workers`` identical workers (one per GPU).
* A dispatcher forms batches.  Whenever at least one worker is idle and the queue is non-empty:
  if the queue holds ``>= max_batch`` requests, a batch of ``max_batch`` is dispatched at once;
  otherwise the dispatch happens when the oldest queued request has waited ``max_wait_s`` or the
  queue reaches ``max_batch``, whichever comes first.  The batch takes up to ``max_batch``
  requests, oldest first.  With ``max_wait_s == 0`` it takes what is queued at once.
  Equivalently, with ``i`` the oldest queued request and ``A`` the arrival times,
  ``t_w = max(time the first worker becomes idle, A[i])`` and the dispatch time is
  ``D = max(t_w, min(A[i] + max_wait_s, A[i + max_batch - 1]))`` (``+inf`` when that request
  never arrives); the batch is every queued request with arrival ``<= D``, capped at
  ``max_batch``.
* Ties at equal simulated times: state changes (arrivals and batch completions) are processed
  before the dispatcher decides.  A request that arrives exactly at the dispatch time is in the
  batch, and a worker whose batch completes exactly at the dispatch time is idle.  In SimPy
  terms, arrivals and completions are scheduled with priority ``URGENT`` and every dispatcher
  event (wake-ups, the max-wait timer) with priority ``NORMAL``; SimPy orders events by
  (time, priority, sequence number).
* A batch goes to the idle worker that has been idle the longest (smallest time it became free;
  ties go to the lowest worker index; at t = 0 every worker is free, so worker 0 comes first).
* The service time of a batch is ``service_s(batch_size)``, called once per batch, in dispatch
  order, at the dispatch time.
* Latency = completion - arrival; wait = dispatch - arrival.  Requests arriving before
  ``warmup_s`` are served but left out of the per-request statistics.  Every request arriving
  before ``horizon_s`` is served: arrivals stop at the horizon and the queue drains after it.

Simulated times are exact float64 values: an arrival happens at ``A[k]``, a max-wait deadline
at ``A[i] + max_wait_s`` and a completion at ``D + service`` (events are scheduled at absolute
times, not as delays added to ``now``), so ties in the inputs stay ties and a kernel doing the
same float arithmetic gets bit-identical times.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from domain.errors import SimulationError

__all__ = ["ReferenceResult", "simulate_realtime_reference"]


@dataclass(frozen=True)
class ReferenceResult:
    """Everything the tests need from one run of the reference model.

    Attributes
    ----------
    arrival_s : float64[n]
        Arrival times of the post-warm-up requests (arrival ``>= warmup_s``), in arrival order, s.
    wait_s : float64[n]
        Dispatch time minus arrival time of the same requests, s.
    latency_s : float64[n]
        Completion time minus arrival time of the same requests, s.
    batch_size : int64[m]
        Size of every batch (pre-warm-up ones included), in dispatch order.
    batch_start_s : float64[m]
        Dispatch (service start) time of every batch, s.
    batch_worker : int64[m]
        Index of the worker that served every batch.
    busy_worker_s : float
        Busy worker-seconds inside ``[warmup_s, horizon_s]``: each batch's service interval is
        clipped to that window, worker-s.
    n_in_system_at_horizon : int
        Requests queued or in service at ``horizon_s`` (a batch completing exactly at
        ``horizon_s`` has left).
    n_arrivals_total : int
        Every request simulated, pre-warm-up ones included.
    """

    arrival_s: np.ndarray
    wait_s: np.ndarray
    latency_s: np.ndarray
    batch_size: np.ndarray
    batch_start_s: np.ndarray
    batch_worker: np.ndarray
    busy_worker_s: float
    n_in_system_at_horizon: int
    n_arrivals_total: int


def simulate_realtime_reference(
    arrival_times_s: np.ndarray,
    service_s: Callable[[int], float],
    *,
    n_workers: int,
    max_batch: int,
    max_wait_s: float,
    warmup_s: float,
    horizon_s: float,
) -> ReferenceResult:
    """Simulate a dynamically batched GPU serving fleet on given arrival times.

    Parameters
    ----------
    arrival_times_s : float64[n]
        Request arrival times, s: finite, ``>= 0``, sorted (ties allowed) and ``< horizon_s``.
    service_s : callable(int) -> float
        Service time of a batch of the given size, s (``> 0`` and finite).  It is called once
        per batch, in dispatch order, so a sampler that draws from a numpy ``Generator``
        consumes its stream in a reproducible order.
    n_workers : int
        Identical workers (GPUs), ``>= 1``.
    max_batch : int
        Largest batch, requests, ``>= 1``.
    max_wait_s : float
        Longest time the oldest queued request waits for a batch to fill while a worker is
        idle, s, ``>= 0``.
    warmup_s : float
        Requests arriving before this time are served but excluded from the per-request
        statistics, s, ``0 <= warmup_s < horizon_s``.
    horizon_s : float
        End of the arrival window, s.  The queue drains after it.

    Returns
    -------
    ReferenceResult
        Per-request and per-batch records and the bookkeeping the tests use.

    Raises
    ------
    SimulationError
        If an argument is out of range, or ``service_s`` returns a value that is not positive
        and finite.
    """
    arrivals = _check_inputs(
        arrival_times_s,
        n_workers=n_workers,
        max_batch=max_batch,
        max_wait_s=max_wait_s,
        warmup_s=warmup_s,
        horizon_s=horizon_s,
    )
    model = _RealtimeModel(
        arrivals, service_s, n_workers=n_workers, max_batch=max_batch, max_wait_s=max_wait_s
    )
    model.run()

    completion_s = model.completion_s
    post_warmup = arrivals >= warmup_s
    batch_start = np.asarray(model.batch_start_s, dtype=np.float64)
    batch_end = np.asarray(model.batch_end_s, dtype=np.float64)
    clipped = np.minimum(batch_end, horizon_s) - np.maximum(batch_start, warmup_s)
    return ReferenceResult(
        arrival_s=arrivals[post_warmup].copy(),
        wait_s=(model.dispatch_s - arrivals)[post_warmup],
        latency_s=(completion_s - arrivals)[post_warmup],
        batch_size=np.asarray(model.batch_size, dtype=np.int64),
        batch_start_s=batch_start,
        batch_worker=np.asarray(model.batch_worker, dtype=np.int64),
        busy_worker_s=float(np.sum(np.maximum(clipped, 0.0))),
        n_in_system_at_horizon=int(np.count_nonzero(completion_s > horizon_s)),
        n_arrivals_total=int(arrivals.size),
    )


class _Environment(simpy.Environment):
    """A SimPy environment that can also schedule an event at an absolute time.

    ``Environment.schedule`` puts an event at ``now + delay``, and ``now + (t - now)`` is not
    always ``t`` in float64 (``0.001 + (0.014 - 0.001) == 0.013999999999999999``), which would
    turn a tie in the inputs into an ordering.  ``schedule_at`` pushes the same
    ``(time, priority, sequence number, event)`` entry as ``Environment.schedule`` (SimPy 4),
    with the time given exactly.
    """

    def schedule_at(self, event: simpy.events.Event, time_s: float, priority: int) -> None:
        if not time_s >= self.now:
            raise ValueError(f"cannot schedule at {time_s!r}, before now={self.now!r}")
        heapq.heappush(self._queue, (time_s, priority, next(self._eid), event))


class _At(simpy.events.Event):
    """An event that succeeds at the absolute time ``time_s`` with the given priority.

    Like ``simpy.events.Timeout`` (an event that is already successful and only waits for its
    time), but placed at an absolute time and with a chosen priority.
    """

    def __init__(self, env: _Environment, time_s: float, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule_at(self, time_s, priority)


def _take_batch(model: Any) -> tuple[list[int], float]:
    """Take the oldest queued requests (at most ``max_batch``) of ``model``, stamp their dispatch
    time and draw the batch's service time; return the requests and the service time (s)."""
    size = min(len(model.queue), model.max_batch)
    members = [model.queue.popleft() for _ in range(size)]
    service_s = float(model.service_s(size))
    if not (math.isfinite(service_s) and service_s > 0.0):
        raise SimulationError(
            f"service_s({size}) must be a positive finite number of seconds "
            f"(got {service_s!r}); fix the service-time sampler"
        )
    model.dispatch_s[members] = model.env.now
    return members, service_s


class _RealtimeModel:
    """State and processes of one reference run (see the module docstring for the rules)."""

    def __init__(
        self,
        arrivals_s: np.ndarray,
        service_s: Callable[[int], float],
        *,
        n_workers: int,
        max_batch: int,
        max_wait_s: float,
    ) -> None:
        self.env = _Environment()
        self.arrivals_s = arrivals_s
        self.service_s = service_s
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s

        self.queue: deque[int] = deque()  # indices of queued requests, oldest first
        self.worker_busy = [False] * n_workers
        self.worker_free_since_s = [0.0] * n_workers
        self.wake = self.env.event()  # succeeded whenever the queue or a worker changes

        n = arrivals_s.size
        self.dispatch_s = np.full(n, np.nan)
        self.completion_s = np.full(n, np.nan)
        self.batch_size: list[int] = []
        self.batch_start_s: list[float] = []
        self.batch_end_s: list[float] = []
        self.batch_worker: list[int] = []

    def run(self) -> None:
        """Run until every request has completed (no event is left)."""
        self.env.process(self._arrival_process())
        self.env.process(self._dispatcher())
        self.env.run()
        if self.queue or np.isnan(self.completion_s).any():
            raise AssertionError("reference model stopped with requests left unserved")

    def _notify(self) -> None:
        """Wake the dispatcher (at the current time, after every URGENT state change)."""
        if not self.wake.triggered:
            self.wake.succeed()

    def _arrival_process(self) -> Generator[simpy.events.Event, None, None]:
        """Put each request in the queue at its arrival time (priority URGENT)."""
        env = self.env
        for index, arrival_s in enumerate(self.arrivals_s):
            yield _At(env, float(arrival_s), URGENT)
            self.queue.append(index)
            self._notify()

    def _dispatcher(self) -> Generator[simpy.events.Event, None, None]:
        """Form batches and hand them to the longest-idle worker."""
        env = self.env
        while True:
            idle = [w for w, busy in enumerate(self.worker_busy) if not busy]
            if not (idle and self.queue):
                yield self.wake
                self.wake = env.event()
                continue
            oldest_arrival_s = float(self.arrivals_s[self.queue[0]])
            deadline_s = oldest_arrival_s + self.max_wait_s
            if len(self.queue) >= self.max_batch or env.now >= deadline_s:
                worker = min(idle, key=lambda w: (self.worker_free_since_s[w], w))
                self._dispatch(worker)
                continue  # another idle worker may take the rest of the queue now
            timer = _At(env, deadline_s, NORMAL)
            yield self.wake | timer
            if self.wake.triggered:
                self.wake = env.event()

    def _dispatch(self, worker: int) -> None:
        """Start a batch of the oldest queued requests (at most ``max_batch``) on ``worker``."""
        env = self.env
        members, service_s = _take_batch(self)
        self.worker_busy[worker] = True
        self.batch_size.append(len(members))
        self.batch_start_s.append(env.now)
        self.batch_worker.append(worker)
        self.batch_end_s.append(np.nan)  # filled in at completion
        env.process(self._serve(worker, members, service_s, len(self.batch_end_s) - 1))

    def _serve(
        self, worker: int, members: list[int], service_s: float, batch_index: int
    ) -> Generator[simpy.events.Event, None, None]:
        """Hold ``worker`` for ``service_s`` seconds, then free it (priority URGENT)."""
        yield _At(self.env, self.env.now + service_s, URGENT)
        now = self.env.now
        self.completion_s[members] = now
        self.batch_end_s[batch_index] = now
        self.worker_busy[worker] = False
        self.worker_free_since_s[worker] = now
        self._notify()


def _check_inputs(
    arrival_times_s: np.ndarray,
    *,
    n_workers: int,
    max_batch: int,
    max_wait_s: float,
    warmup_s: float,
    horizon_s: float,
) -> np.ndarray:
    """Validate the arguments of :func:`simulate_realtime_reference`; return float64 arrivals."""
    arrivals = np.asarray(arrival_times_s, dtype=np.float64)
    if arrivals.ndim != 1:
        raise SimulationError(
            f"arrival_times_s must be one-dimensional (got shape {arrivals.shape}); "
            "pass a flat array of times in seconds"
        )
    if not (isinstance(n_workers, (int, np.integer)) and n_workers >= 1):
        raise SimulationError(f"n_workers must be an integer >= 1 (got {n_workers!r})")
    if not (isinstance(max_batch, (int, np.integer)) and max_batch >= 1):
        raise SimulationError(f"max_batch must be an integer >= 1 (got {max_batch!r})")
    if not (math.isfinite(max_wait_s) and max_wait_s >= 0.0):
        raise SimulationError(f"max_wait_s must be finite and >= 0 (got {max_wait_s!r})")
    if not (math.isfinite(horizon_s) and horizon_s > 0.0):
        raise SimulationError(f"horizon_s must be finite and > 0 (got {horizon_s!r})")
    if not (math.isfinite(warmup_s) and 0.0 <= warmup_s < horizon_s):
        raise SimulationError(
            f"warmup_s must be in [0, horizon_s) (got {warmup_s!r} with horizon_s={horizon_s!r}); "
            "shorten the warm-up or lengthen the horizon"
        )
    if arrivals.size:
        if not np.all(np.isfinite(arrivals)):
            bad = int(np.argmin(np.isfinite(arrivals)))
            raise SimulationError(
                f"arrival_times_s must be finite (got arrival_times_s[{bad}]={arrivals[bad]!r}); "
                "drop or fix that arrival"
            )
        if arrivals.min() < 0.0:
            raise SimulationError(
                f"arrival_times_s must be >= 0 (got min {arrivals.min()!r}); "
                "shift the times so the run starts at 0"
            )
        if np.any(np.diff(arrivals) < 0.0):
            first = int(np.argmax(np.diff(arrivals) < 0.0))
            raise SimulationError(
                f"arrival_times_s must be sorted (arrival_times_s[{first + 1}]="
                f"{arrivals[first + 1]!r} < arrival_times_s[{first}]={arrivals[first]!r}); "
                "sort the times"
            )
        if arrivals[-1] >= horizon_s:
            raise SimulationError(
                f"arrival_times_s must all be < horizon_s={horizon_s!r} "
                f"(got {arrivals[-1]!r}); drop arrivals at or after the horizon"
            )
    return arrivals
