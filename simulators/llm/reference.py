"""SimPy reference model of LLM serving with continuous batching (the ``llm`` pattern).

The executable specification of ``docs/llm-serving.md``: per-request objects, one scheduler
call per engine step, slow and obvious on purpose.  This module holds the inputs (arrivals and
token draws), the checks, the entry point and the result; one replica's engine (requests,
paged KV blocks, the scheduler of one step, the step time) and the SimPy model (events,
routing, nodes that come and go, autoscaling, the books) are in
:mod:`simulators.llm.reference_fleet`, on the fleet side of the real-time reference
(:mod:`simulators.realtime.reference_fleet_dynamics`).

Random streams
--------------
* **Arrivals.**  A trace is replayed as the shared generator does (rows at or after the horizon
  dropped; with ``repeat`` copy ``j`` shifted by ``j * period_s``).  Poisson and diurnal
  arrivals come from :mod:`simulators.core.reference_arrivals` on a numpy ``Generator`` seeded
  with ``(seed, replication)``, independent of the kernel's stream (so a comparison with the
  kernel is statistical), or, with ``arrivals_like_kernel=True`` and Poisson arrivals, from
  the kernel's own generator (``seed_stream(seed, replication)`` and
  :func:`simulators.core.arrival_kernel.fill_arrivals`): the same times as a kernel that draws
  nothing else from that stream.  ``arrival_times_s`` overrides both.
* **Tokens.**  ``order="sequential"``: request ``i`` (0-based, in arrival order, rejected ones
  included) uses sample ``i mod n``.  ``order="random"``: request ``i`` uses sample
  ``min(floor(u_i * n), n - 1)`` where ``u_i`` is the ``i``-th uniform (``(0, 1]``,
  :func:`simulators.core.rng.uniform`) of a stream of its own,
  ``seed_stream(seed, replication + TOKEN_STREAM)`` with ``TOKEN_STREAM = 2**32``: one draw per
  arrival, in arrival order, nothing else drawn from it (so the token of request ``i`` does not
  depend on the arrival process, the fleet or the block size of the arrival generator).  The
  ``min`` guards ``u = 1``.  One sample = one ``(prompt, output)`` pair.
* **Fleet.**  Spot interruptions and lognormal provisioning delays draw from a numpy
  ``Generator`` (``rng``, default seeded with ``(seed, replication, 1)``), in event order, as
  in the real-time reference: statistical agreement only.

Readings of the contract
------------------------
The first four are stated by ``docs/llm-serving.md`` since its clarifications (they were this
model's readings first; the kernel took the same); the rest are this model's readings where the
contract leaves a choice.

* **Context.**  A request holds ``c = k + g - g0`` tokens of KV, ``g0 = P - p`` (the outputs
  prefilled again after a loss): 0 right after a loss and ``p + g + 1`` when the recomputation
  ends, as it would have been without the loss.
* **Prefix caching** (``N = prefix_tokens > 0``, ``nb = ceil(N / block_size)``).  Every
  request admitted on a replica holds the prefix (a reference to it) while it runs; the
  prefix's ``nb`` blocks are allocated once, at the admission of the first holder (who
  computes its whole prompt; requests admitted after it, in the same step too, skip the
  prefix), and freed when the last holder finishes, is preempted or is lost.  A request
  admitted while the replica holds the prefix starts with ``k = min(N, p, P - 1)`` (a fresh
  prompt inside the prefix still computes its last token, as vLLM does).  A holder's own blocks
  are ``max(0, ceil(c / bs) - ceil(min(N, p) / bs))``.  ``ceil(N / bs)`` must be smaller than
  the replica's blocks.
* **Rejection.**  A request is rejected at arrival when it cannot fit alone in a replica's KV
  cache at its largest context ``p + o``: ``ceil((p + o) / bs) > total_blocks``, and with
  prefix caching ``nb + max(0, ceil((p + o) / bs) - ceil(min(N, p) / bs))`` blocks (more for a
  prompt shorter than the prefix).  So a replica with work always runs a step.
* **Event order** at one time: step ends (priority -1), arrivals (0), fleet events (1..6:
  death, ready, trace tick, interrupt, launch, autoscale), then step starts (7).  So a request
  finishing at ``t`` has left before an arrival at ``t`` is routed, an arrival at ``t`` is in
  the waiting queue of a step starting at ``t``, and a step ending exactly at a node's death
  keeps its tokens.
* **Step times** in seconds are the profile's ms ``/ 1000`` (the contract's words), then added
  to the step's start: ``end = start + ms / 1000``.
* **Preemption** frees the request's blocks at once; the preempted requests go to the head of
  the waiting queue before step 2 runs, so step 2 may admit one of them again in the same step
  if the blocks allow (the contract lists no exception; vLLM V1 skips the waiting queue in a
  step that preempted).  Recomputed tokens count the lost context ``c`` at each preemption and
  each node loss.
* **Notice.**  The waiting requests of the node's replicas are routed again at once (counted in
  ``n_moved_at_notice``, not in ``rerouted``); a running request preempted on a ``NOTICE``
  replica stays in that replica's waiting queue and may be admitted there again.  At the death,
  per replica in index order, the running requests (admission order) then the waiting ones
  (queue order) lose their KV (``k = 0``, ``P = p + g``), are counted as rerouted and are routed
  again; the step in progress is lost (its tokens are not taken; its time counts as busy up to
  the death).
* **Central queue** (no ``READY`` replica): kept in arrival order (a request moved there at a
  notice or a death takes its place by arrival index); emptied, in that order, when a node
  becomes ``READY``.
* **round_robin**: the ``READY`` replica with the smallest index above the last chosen one,
  else the smallest ``READY`` index.
* **Autoscaling metrics** (integrated over the window, then the shared rule): in-flight = every
  request in the system (central queue, waiting, running); waiting = the central queue plus every
  replica's waiting queue; kv = the sum over replicas of used / total blocks (an idle or dead
  replica adds 0).
* **What is measured.**  Steps, decode batches and tokens count every completed step and every
  finished request of the run.  Time-averages (running, waiting, central queue, in-flight, KV
  utilisation, serving replicas) integrate over ``[warmup_s, horizon_s]``; per replica they are
  divided by the serving replica-seconds (replicas of ``READY``, ``NOTICE`` or ``DRAINING``
  nodes); the KV utilisation at an instant is the used blocks over the blocks of the serving
  replicas, and its peak is the largest value held for a positive time inside the window.
  ``mean_decode_batch`` is the decode sequences over the completed steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from domain.errors import SimulationError
from simulators.core import arrival_kernel as ak
from simulators.core.arrivals import DAY_S, DiurnalArrivals, PoissonArrivals, TraceArrivals
from simulators.core.reference_arrivals import diurnal_arrivals, poisson_arrivals
from simulators.core.rng import seed_stream, uniform
from simulators.llm.reference_fleet import (
    LlmModel,
    Replica,
    Request,
    end_step,
    run_model,
    schedule_step,
    step_duration_s,
)

if TYPE_CHECKING:  # the spec types live beside the kernel
    from simulators.llm.spec import LlmSpec

__all__ = ["TOKEN_STREAM", "LlmReferenceRun", "Replica", "Request", "arrival_times",
           "end_step", "schedule_step", "simulate_reference", "step_duration_s",
           "token_indices"]

TOKEN_STREAM = 2**32  # token draws of replication r: seed_stream(seed, r + TOKEN_STREAM)
ROUTERS = ("least_outstanding", "round_robin")


# --- inputs ------------------------------------------------------------------------------------


def arrival_times(spec: LlmSpec, replication: int = 0, *, like_kernel: bool = False
                  ) -> np.ndarray:
    """Return the arrival times (s, sorted, ``< horizon_s``) of one replication of ``spec``.

    See the module notes (Random streams): a trace is replayed exactly; Poisson arrivals come
    from the kernel's generator when ``like_kernel``, else (and diurnal ones always) from
    :mod:`simulators.core.reference_arrivals` seeded with ``(seed, replication)``.
    """
    arrivals, horizon_s = spec.arrivals, float(spec.run.horizon_s)
    if isinstance(arrivals, TraceArrivals):
        times = np.asarray(arrivals.times_s, dtype=np.float64)
        out: list[float] = []
        period_s = arrivals.period_s()
        for row in range(10**9):
            if row >= times.size and not arrivals.repeat:
                break
            t = float(times[row % times.size]) + (row // times.size) * period_s
            if t >= horizon_s:
                break
            out.append(t)
        return np.asarray(out, dtype=np.float64)
    if like_kernel:
        if not isinstance(arrivals, PoissonArrivals):
            raise SimulationError("like_kernel reproduces the kernel's Poisson and trace arrivals "
                                  f"only (got {type(arrivals).__name__})")
        return _kernel_poisson(arrivals.rate_rps, horizon_s, spec.run.seed, replication)
    rng = np.random.default_rng([spec.run.seed, replication])
    if isinstance(arrivals, PoissonArrivals):
        return poisson_arrivals(rng, arrivals.rate_rps, horizon_s)
    if isinstance(arrivals, DiurnalArrivals):
        # reference_arrivals puts midnight at t = 0: generate on the clock, shift back
        shift_s = 3600.0 * arrivals.start_hour
        weights = None if arrivals.hourly_weights is None else np.asarray(arrivals.hourly_weights)
        clock = diurnal_arrivals(rng, arrivals.mean_rate_rps, arrivals.peak_to_trough,
                                 arrivals.peak_hour, horizon_s + shift_s, weights)
        return clock[clock >= shift_s] - shift_s
    raise SimulationError(f"unknown arrival process {arrivals!r}")


def _kernel_poisson(rate_rps: float, horizon_s: float, seed: int, replication: int
                    ) -> np.ndarray:
    """Poisson arrivals drawn exactly as the kernels draw them (block generation)."""
    params = np.zeros(ak.N_ARRIVAL_PARAMS)
    params[ak.P_PERIOD_S] = DAY_S
    params[ak.P_RATE] = rate_rps
    params[ak.P_MEAN_GAP_S] = 1.0 / rate_rps
    state = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, state)
    block = np.empty(ak.ARRIVAL_BLOCK)
    t_gen, pos, out = 0.0, -1, []
    while True:
        t_gen, pos = ak.fill_arrivals(ak.ARRIVAL_POISSON, t_gen, pos, state, params,
                                      np.zeros((3, 1)), np.zeros(0), horizon_s, block)
        out.extend(t for t in block if t != math.inf)
        if t_gen == math.inf:
            return np.asarray(out, dtype=np.float64)


def token_indices(n_requests: int, n_samples: int, order: str, seed: int, replication: int
                  ) -> np.ndarray:
    """Return the token sample index of each of ``n_requests`` requests (module notes)."""
    if order == "sequential":
        return np.arange(n_requests, dtype=np.int64) % n_samples
    if order != "random":
        raise SimulationError(f"tokens.order must be 'random' or 'sequential' (got {order!r})")
    state = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + TOKEN_STREAM, state)
    out = np.empty(n_requests, dtype=np.int64)
    for i in range(n_requests):
        out[i] = min(math.floor(uniform(state) * n_samples), n_samples - 1)
    return out


# --- the result --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LlmReferenceRun:
    """One replication of the reference model.

    Per request (every arrival, in arrival order): ``arrival_s``, ``prompt``, ``output``,
    ``ttft_s``, ``e2e_s``, ``tpot_s`` (NaN when ``output == 1`` or unfinished), ``preemptions``,
    ``rerouted`` (node losses), ``recomputed`` (context lost, tokens), ``replica`` (the last one it was admitted on, -1 if none),
    ``finished``, ``rejected``, ``measured`` (arrival in ``[warmup_s, horizon_s)``).

    Totals over the run: ``n_arrived``, ``n_finished``, ``n_rejected``, ``n_stranded`` (never
    served: no node could take them), ``n_preemptions``, ``n_rerouted``, ``n_moved_at_notice``,
    ``input_tokens`` and ``output_tokens`` (finished requests), ``recomputed_tokens``,
    ``n_steps``, ``decode_seqs`` (sum of ``b`` over steps), ``mean_decode_batch``.

    Over ``[warmup_s, horizon_s]``: ``replica_s`` (serving replica-seconds) and the areas
    (request-seconds) ``running_area``, ``waiting_area`` (replica queues), ``central_area``,
    ``in_flight_area``, ``kv_area`` (sum of per-replica used / total blocks, replica-seconds);
    ``mean_running_per_replica``, ``mean_waiting_per_replica`` (central queue included),
    ``mean_kv_utilization``, ``peak_kv_utilization``.

    Per step started (start order): ``step_start_s``, ``step_end_s``, ``step_replica``,
    ``step_decode_batch`` (``b``), ``step_prefill_tokens`` (``n``), ``step_kv_share`` (the
    replica's used / total blocks once the step is decided), ``step_completions`` (prefills
    it completes), ``step_prefix_hit`` (prompt tokens its admissions found cached),
    ``step_lost`` (its node died).

    Fleet: ``node_s``, ``node_s_window`` (float64[3, 4], class x state, ``[0, horizon_s]`` and
    ``[warmup_s, horizon_s]``), ``busy_replica_s``, ``busy_replica_s_window`` (float64[3], by
    class), ``n_launches`` (int64[3]), ``n_spot_notices``, ``n_preemption_events``,
    ``n_scale_out``, ``n_scale_in``, ``max_nodes_seen``, ``events`` (``(time_s, kind, slot)``).
    """

    arrival_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    ttft_s: np.ndarray
    e2e_s: np.ndarray
    tpot_s: np.ndarray
    preemptions: np.ndarray
    rerouted: np.ndarray
    recomputed: np.ndarray
    replica: np.ndarray
    finished: np.ndarray
    rejected: np.ndarray
    measured: np.ndarray
    n_arrived: int
    n_finished: int
    n_rejected: int
    n_stranded: int
    n_preemptions: int
    n_rerouted: int
    n_moved_at_notice: int
    input_tokens: int
    output_tokens: int
    recomputed_tokens: int
    n_steps: int
    decode_seqs: int
    replica_s: float
    running_area: float
    waiting_area: float
    central_area: float
    in_flight_area: float
    kv_area: float
    peak_kv_utilization: float
    step_start_s: np.ndarray
    step_end_s: np.ndarray
    step_replica: np.ndarray
    step_decode_batch: np.ndarray
    step_prefill_tokens: np.ndarray
    step_kv_share: np.ndarray
    step_completions: np.ndarray
    step_prefix_hit: np.ndarray
    step_lost: np.ndarray
    node_s: np.ndarray
    node_s_window: np.ndarray
    busy_replica_s: np.ndarray
    busy_replica_s_window: np.ndarray
    n_launches: np.ndarray
    n_spot_notices: int
    n_preemption_events: int
    n_scale_out: int
    n_scale_in: int
    max_nodes_seen: int
    events: list[tuple]

    @property
    def mean_decode_batch(self) -> float:
        return self.decode_seqs / self.n_steps if self.n_steps else math.nan

    @property
    def mean_running_per_replica(self) -> float:
        return self.running_area / self.replica_s if self.replica_s else math.nan

    @property
    def mean_waiting_per_replica(self) -> float:
        area = self.waiting_area + self.central_area
        return area / self.replica_s if self.replica_s else math.nan

    @property
    def mean_kv_utilization(self) -> float:
        return self.kv_area / self.replica_s if self.replica_s else math.nan

    def done(self) -> np.ndarray:
        """Mask of the measured requests that finished."""
        return self.measured & self.finished

    def slo_attainment(self, metric: str, threshold_s: float) -> float:
        """Share of the measured finished requests with ``metric`` (ttft, tpot, e2e) at or
        under ``threshold_s`` (requests without a TPOT count as meeting a TPOT SLO)."""
        values = getattr(self, f"{metric}_s")[self.done()]
        ok = (values <= threshold_s) | np.isnan(values) if metric == "tpot" else \
            values <= threshold_s
        return float(np.mean(ok)) if values.size else math.nan

    def goodput_rps(self, slo: Any, window_s: float) -> float:
        """Measured requests meeting every SLO of ``slo`` (ttft_s, tpot_s, e2e_s; None = not
        set) per second of the window."""
        ok = self.done().copy()
        for metric in ("ttft", "tpot", "e2e"):
            bound = getattr(slo, f"{metric}_s", None)
            if bound is not None:
                values = getattr(self, f"{metric}_s")
                ok &= (values <= bound) | (np.isnan(values) if metric == "tpot" else False)
        return float(np.count_nonzero(ok)) / window_s


# --- the entry point ---------------------------------------------------------------------------


def simulate_reference(spec: LlmSpec, replication: int = 0, *,
                       arrival_times_s: np.ndarray | None = None,
                       arrivals_like_kernel: bool = False,
                       rng: np.random.Generator | None = None) -> LlmReferenceRun:
    """Simulate one replication of ``spec`` with the reference model.

    Parameters
    ----------
    spec : LlmSpec
        The scenario (``simulators.llm.spec``); ``spec.run.n_replications`` is not used.
    replication : int
        Which replication's random streams to use (arrivals, token draws, fleet draws).
    arrival_times_s : float64[n], optional
        Arrival times to use instead of ``spec.arrivals`` (sorted, ``>= 0``, ``< horizon_s``).
    arrivals_like_kernel : bool
        Draw Poisson arrivals with the kernel's generator (module notes).
    rng : numpy.random.Generator, optional
        The fleet's draws (spot interruptions, lognormal provisioning).

    Returns
    -------
    LlmReferenceRun
    """
    check_spec(spec)
    if arrival_times_s is None:
        times = arrival_times(spec, replication, like_kernel=arrivals_like_kernel)
    else:
        times = np.asarray(arrival_times_s, dtype=np.float64)
        if times.ndim != 1 or (times.size and (np.any(np.diff(times) < 0) or times[0] < 0
                                               or times[-1] >= spec.run.horizon_s)):
            raise SimulationError("arrival_times_s must be sorted, >= 0 and < horizon_s")
    tokens = spec.tokens
    prompts = np.asarray(tokens.prompt, dtype=np.int64)
    outputs = np.asarray(tokens.output, dtype=np.int64)
    pick = token_indices(times.size, prompts.size, tokens.order, spec.run.seed, replication)
    if rng is None:
        rng = np.random.default_rng([spec.run.seed, replication, 1])
    requests = [Request(i, float(t), int(prompts[j]), int(outputs[j]), to_prefill=int(prompts[j]))
                for i, (t, j) in enumerate(zip(times, pick, strict=True))]
    return _result(run_model(spec, requests, rng))


def _result(model: LlmModel) -> LlmReferenceRun:
    reqs = model.requests
    arrival = np.array([r.arrival_s for r in reqs], dtype=np.float64)
    prompt = np.array([r.prompt for r in reqs], dtype=np.int64)
    output = np.array([r.output for r in reqs], dtype=np.int64)
    ttft = np.array([r.ttft_s for r in reqs], dtype=np.float64)
    e2e = np.array([r.e2e_s for r in reqs], dtype=np.float64)
    finished = np.array(model.finished, dtype=bool)
    rejected = np.array(model.rejected, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output > 1, (e2e - ttft) / (output - 1), np.nan)
    run = model.spec.run
    running, waiting, central, in_flight, kv, replica_s = (float(x) for x in model.areas)
    steps = model.steps

    def per_step(name: str, dtype: type) -> np.ndarray:
        return np.array([getattr(s, name) for s in steps], dtype=dtype)

    return LlmReferenceRun(
        arrival_s=arrival, prompt=prompt, output=output, ttft_s=ttft, e2e_s=e2e, tpot_s=tpot,
        preemptions=np.array([q.n_preemptions for q in reqs], dtype=np.int64),
        rerouted=np.array([q.n_rerouted for q in reqs], dtype=np.int64),
        recomputed=np.array([q.n_recomputed for q in reqs], dtype=np.int64),
        replica=np.array([q.replica for q in reqs], dtype=np.int64),
        finished=finished, rejected=rejected,
        measured=(arrival >= run.warmup_s) & (arrival < run.horizon_s),
        n_arrived=len(reqs), n_finished=int(finished.sum()), n_rejected=model.n_rejected,
        n_stranded=int(np.count_nonzero(~finished & ~rejected)),
        n_preemptions=model.n_kv_preemptions, n_rerouted=model.n_rerouted,
        n_moved_at_notice=model.n_moved_at_notice,
        input_tokens=int(prompt[finished].sum()), output_tokens=int(output[finished].sum()),
        recomputed_tokens=model.recomputed_tokens, n_steps=model.n_steps,
        decode_seqs=model.decode_seqs, replica_s=replica_s, running_area=running,
        waiting_area=waiting, central_area=central, in_flight_area=in_flight, kv_area=kv,
        peak_kv_utilization=model.peak_kv,
        step_start_s=per_step("start_s", np.float64), step_end_s=per_step("end_s", np.float64),
        step_replica=per_step("replica", np.int64),
        step_decode_batch=np.array([len(s.decodes) for s in steps], dtype=np.int64),
        step_prefill_tokens=np.array([s.prefill_tokens for s in steps], dtype=np.int64),
        step_kv_share=per_step("kv_share", np.float64),
        step_completions=per_step("completions", np.int64),
        step_prefix_hit=per_step("prefix_hit", np.int64), step_lost=per_step("lost", bool),
        node_s=model.node_s, node_s_window=model.node_s_window,
        busy_replica_s=model.busy_replica_s, busy_replica_s_window=model.busy_replica_s_window,
        n_launches=model.n_launches, n_spot_notices=model.n_preemptions,  # the fleet's name
        n_preemption_events=model.n_preemption_events, n_scale_out=model.n_scale_out,
        n_scale_in=model.n_scale_in, max_nodes_seen=model.max_nodes_seen, events=model.events)


def check_spec(spec: LlmSpec) -> None:
    """Raise :class:`SimulationError` for inputs the reference cannot simulate."""
    e = spec.engine
    for name in ("kv_cache_tokens", "max_num_seqs", "max_num_batched_tokens", "block_size"):
        value = getattr(e, name)
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise SimulationError(f"engine.{name} must be an integer >= 1 (got {value!r})")
    blocks = e.kv_cache_tokens // e.block_size
    if blocks < 1:
        raise SimulationError(f"engine.kv_cache_tokens={e.kv_cache_tokens} holds no block of "
                              f"{e.block_size} tokens; raise it or lower block_size")
    if not (isinstance(e.prefix_tokens, (int, np.integer)) and e.prefix_tokens >= 0):
        raise SimulationError(f"engine.prefix_tokens must be an integer >= 0 "
                              f"(got {e.prefix_tokens!r})")
    if -(-e.prefix_tokens // e.block_size) >= blocks:
        raise SimulationError(f"engine.prefix_tokens={e.prefix_tokens} leaves no room in the KV "
                              f"cache ({blocks} blocks); lower it or raise the cache")
    prompts, outputs = np.asarray(spec.tokens.prompt), np.asarray(spec.tokens.output)
    if prompts.ndim != 1 or prompts.size < 1 or prompts.shape != outputs.shape:
        raise SimulationError("tokens.prompt and tokens.output must be 1-D arrays of one length "
                              f">= 1 (got shapes {prompts.shape} and {outputs.shape})")
    if prompts.min() < 1 or outputs.min() < 1:
        raise SimulationError("every prompt and output token count must be >= 1")
    if spec.router not in ROUTERS:
        raise SimulationError(f"router must be one of {ROUTERS} (got {spec.router!r})")
    r = spec.run
    if not (0.0 <= r.warmup_s < r.horizon_s and math.isfinite(r.horizon_s)):
        raise SimulationError(f"need 0 <= warmup_s < horizon_s (got {r.warmup_s}, {r.horizon_s})")
