"""Public API of the LLM serving simulation (continuous batching): checks inputs, runs the
kernel, wraps the results.

Contract (the full text, which the kernel and the SimPy reference both implement, is
``docs/llm-serving.md``):

* **Requests** arrive from the shared arrival generator; request ``i`` takes its prompt and
  output token counts from paired samples, drawn (``order="random"``, index ``floor(u n)``) or
  replayed in arrival order (``"sequential"``).  A request whose ``ceil((p + o) / block_size)``
  blocks exceed one replica's KV cache is rejected at arrival and counted.
* **Routing** at arrival to a replica of a ``READY`` node: fewest outstanding (waiting +
  running) requests, ties to the lowest index (``least_outstanding``), or the next ``READY``
  replica in index order (``round_robin``); with none ``READY``, a central queue in arrival order.
* **A replica's step** (vLLM V1's scheduler): running requests in admission order take a
  prefill chunk (at most the step's token budget left) or one decode token, preempting the
  most recently admitted running requests (recompute: their KV blocks are freed and they go
  back to the head of the waiting queue to prefill ``p + g`` tokens) while KV blocks are short;
  then waiting requests are admitted FCFS while ``max_num_seqs``, the token budget and the free
  blocks allow.  A step of ``b`` decode sequences with contexts summing to ``C`` and ``n``
  prefill tokens lasts ``D(b, C / b) + max(0, f(b + n) - f(b))`` (``f(n)`` alone when ``b = 0``) on
  the token profile.  TTFT is the end of the step emitting the first output token, E2E the end
  of the step emitting the last, TPOT ``(E2E - TTFT) / (o - 1)``.  Prefix caching shares the
  first ``min(prefix_tokens, p)`` prompt tokens of every request while a running request holds
  them.
* **Fleet** (``docs/fleet-dynamics.md``, workers = replicas): at a spot notice a node's
  waiting requests are re-routed and its running ones served until the death; at the death the
  requests left lose their KV cache and are re-routed; scale-in drains.  Autoscaling tracks
  ``in_flight_per_replica``, ``waiting_per_replica`` or ``kv_utilization``.
* **Measured**: requests arriving in ``[warmup_s, horizon_s)``; the replicas run on until every
  admitted request finishes; node time over ``[0, horizon_s]``.

Errors in the inputs raise :class:`domain.errors.SimulationError` naming the argument, the
value and the fix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from domain.errors import SimulationError
from simulators.core import fleet_kernel as fk
from simulators.core.arrivals import Arrivals, check_arrivals
from simulators.core.fleet import CLASS_NAMES, LLM_AUTOSCALING_METRICS, STATE_NAMES, FleetSpec
from simulators.core.histogram import N_BUCKETS
from simulators.core.result import WindowedStats, ratio
from simulators.core.tokens import TokenProfile
from simulators.core.usage import Distribution
from simulators.llm import _layout as lk
from simulators.llm._kernel import llm_kernel
from simulators.llm._steptime import profile_arrays
from simulators.llm.spec import EngineConfig, LlmSlo, TokenSamples
from simulators.realtime.api import _arrival_arrays, _fleet_arrays

ROUTERS = ("least_outstanding", "round_robin")
TOKEN_ORDERS = ("random", "sequential")
MAX_BATCHED_TOKENS = 1 << 20
_AS_METRICS = {"kv_utilization": lk.AS_KV, "in_flight_per_replica": lk.AS_IN_FLIGHT,
               "waiting_per_replica": lk.AS_WAITING}


@dataclass(frozen=True)
class LlmCounters:
    """Per-replication counters of the llm kernel, float64[R] each.

    Request counts and token sums are over requests arriving in ``[warmup_s, horizon_s)``
    (*window requests*), time-averages over ``[warmup_s, horizon_s]``; a name with ``total``
    counts every request.  ``mean_running`` / ``mean_waiting`` are per serving replica
    (``READY``, notice or draining; the central queue counts as waiting), ``mean_kv_utilization``
    is used over total KV blocks of serving replicas, ``peak_kv_utilization`` the largest used
    share of one replica at a step start.  ``mean_decode_batch`` is over steps with at least
    one decode sequence.  ``recomputed_tokens`` is the context lost at preemptions and node
    deaths; ``prefill_tokens``, ``decode_tokens``, ``prefill_completions`` and
    ``prefix_hit_tokens`` count every request's work in completed steps.
    """

    arrived: np.ndarray
    finished: np.ndarray
    rejected: np.ndarray
    preemptions: np.ndarray
    rerouted: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    recomputed_tokens: np.ndarray
    goodput_requests: np.ndarray
    steps: np.ndarray
    mean_decode_batch: np.ndarray
    mean_running: np.ndarray
    mean_waiting: np.ndarray
    mean_kv_utilization: np.ndarray
    peak_kv_utilization: np.ndarray
    finished_by_horizon: np.ndarray
    in_system_at_horizon: np.ndarray
    stranded: np.ndarray
    arrived_total: np.ndarray
    preemptions_total: np.ndarray
    decode_steps: np.ndarray
    busy_replica_s: np.ndarray
    prefill_tokens: np.ndarray
    decode_tokens: np.ndarray
    prefill_completions: np.ndarray
    prefix_hit_tokens: np.ndarray
    last_finish_s: np.ndarray
    spot_preemptions: np.ndarray
    spot_preemption_events: np.ndarray
    scale_out: np.ndarray
    scale_in: np.ndarray
    launches_base: np.ndarray
    launches_spot: np.ndarray
    launches_on_demand_fallback: np.ndarray
    launches_without_slot: np.ndarray
    max_nodes: np.ndarray
    stalls: np.ndarray
    peak_running: np.ndarray


_DIRECT = {
    "arrived": lk.S_ARRIVED, "finished": lk.S_FINISHED, "rejected": lk.S_REJECTED,
    "preemptions": lk.S_PREEMPTIONS, "rerouted": lk.S_REROUTED,
    "input_tokens": lk.S_INPUT_TOKENS, "output_tokens": lk.S_OUTPUT_TOKENS,
    "recomputed_tokens": lk.S_RECOMPUTED_TOKENS, "goodput_requests": lk.S_GOODPUT_REQUESTS,
    "steps": lk.S_STEPS, "peak_kv_utilization": lk.S_PEAK_KV,
    "finished_by_horizon": lk.S_FINISHED_BY_HORIZON,
    "in_system_at_horizon": lk.S_IN_SYSTEM_AT_HORIZON, "stranded": lk.S_STRANDED,
    "arrived_total": lk.S_ARRIVED_TOTAL, "preemptions_total": lk.S_PREEMPTIONS_TOTAL,
    "decode_steps": lk.S_DECODE_STEPS, "busy_replica_s": lk.S_BUSY_REPLICA_S,
    "prefill_tokens": lk.S_PREFILL_TOKENS, "decode_tokens": lk.S_DECODE_TOKENS,
    "prefill_completions": lk.S_PREFILL_DONE, "prefix_hit_tokens": lk.S_PREFIX_HIT_TOKENS,
    "last_finish_s": lk.S_LAST_FINISH_S, "spot_preemptions": lk.S_SPOT_PREEMPTIONS,
    "spot_preemption_events": lk.S_SPOT_PREEMPTION_EVENTS, "scale_out": lk.S_SCALE_OUT,
    "scale_in": lk.S_SCALE_IN, "launches_base": lk.S_LAUNCH_BASE,
    "launches_spot": lk.S_LAUNCH_SPOT, "launches_on_demand_fallback": lk.S_LAUNCH_FALLBACK,
    "launches_without_slot": lk.S_LAUNCH_NO_SLOT, "max_nodes": lk.S_MAX_NODES,
    "stalls": lk.S_STALLS, "peak_running": lk.S_PEAK_RUNNING,
}


@dataclass(frozen=True)
class LlmSimResult(WindowedStats):
    """Raw output of :func:`simulate_llm`, one row per replication.

    Attributes
    ----------
    hist : int64[R, 3, N_BUCKETS]
        Log-bucket histograms (s) of TTFT, TPOT and E2E of finished window requests.
    stats : float64[R, N_STATS]
        Counters and sums (``simulators.llm._layout.S_*``); read them through :meth:`counters`.
    timeline : float64[R, n_bins, N_TIMELINE]
        Per-bin counts and integrals over ``[0, horizon_s)`` (``T_*``); read them through
        :meth:`timeline_per_replication`.
    fleet_acc : float64[R, 2, N_CLASSES, N_STATES + 1]
        Node-seconds by class and state and busy replica-seconds by class (last index);
        ``[:, 0]`` over ``[0, horizon_s]``, ``[:, 1]`` over ``[warmup_s, horizon_s]``.
    per_replica : float64[R, max_nodes * workers_per_node, N_PR]
        Per replica slot (``PR_*``); read through :meth:`replica_busy_s`, :meth:`replica_routed`.
    """

    engine: EngineConfig
    router: str
    horizon_s: float
    warmup_s: float
    seed: int
    timeline_bin_s: float
    slo: LlmSlo
    fleet: FleetSpec
    hist: np.ndarray = field(repr=False)
    stats: np.ndarray = field(repr=False)
    timeline: np.ndarray = field(repr=False)
    fleet_acc: np.ndarray = field(repr=False)
    per_replica: np.ndarray = field(repr=False)

    @property
    def kv_cache_tokens(self) -> int:
        """KV cache capacity per replica (tokens)."""
        return int(self.engine.kv_cache_tokens)

    @property
    def total_blocks(self) -> int:
        """KV blocks per replica."""
        return self.engine.total_blocks

    def _distribution(self, h: int, total: int, count: int, met: int,
                      slo: float | None) -> Distribution:
        s = self.stats
        return Distribution(mean_s=ratio(s[:, total], s[:, count]),
                            histograms=self.hist[:, h].copy(),
                            slo_attainment=None if slo is None else ratio(s[:, met],
                                                                          s[:, count]))

    @property
    def ttft(self) -> Distribution:
        """Time to first token (s) of finished window requests."""
        return self._distribution(lk.H_TTFT, lk.S_SUM_TTFT, lk.S_FINISHED, lk.S_TTFT_MET,
                                  self.slo.ttft_s)

    @property
    def tpot(self) -> Distribution:
        """Time per output token (s) of finished window requests with more than one."""
        return self._distribution(lk.H_TPOT, lk.S_SUM_TPOT, lk.S_N_TPOT, lk.S_TPOT_MET,
                                  self.slo.tpot_s)

    @property
    def e2e(self) -> Distribution:
        """End-to-end latency (s) of finished window requests."""
        return self._distribution(lk.H_E2E, lk.S_SUM_E2E, lk.S_FINISHED, lk.S_E2E_MET,
                                  self.slo.e2e_s)

    def counters(self) -> LlmCounters:
        """Return the per-replication counters as a typed record (float64[R] fields)."""
        s = self.stats
        serving = self.serving_replica_s("window")
        values = {name: s[:, col].copy() for name, col in _DIRECT.items()}
        values["mean_decode_batch"] = ratio(s[:, lk.S_SUM_DECODE_BATCH], s[:, lk.S_DECODE_STEPS])
        values["mean_running"] = ratio(s[:, lk.S_RUNNING_AREA], serving)
        values["mean_waiting"] = ratio(s[:, lk.S_WAITING_AREA], serving)
        values["mean_kv_utilization"] = ratio(s[:, lk.S_KV_AREA], serving)
        return LlmCounters(**values)

    def goodput_rps(self) -> np.ndarray:
        """Return float64[R]: window requests meeting every given SLO, per second of window."""
        return self.stats[:, lk.S_GOODPUT_REQUESTS] / self.window_s

    def throughput_rps(self) -> np.ndarray:
        """Return float64[R]: window requests finished by the horizon, per second of window."""
        return self.stats[:, lk.S_FINISHED_BY_HORIZON] / self.window_s

    def arrival_rate_rps(self) -> np.ndarray:
        """Return float64[R]: requests arriving in the window per second."""
        return self.stats[:, lk.S_ARRIVED] / self.window_s

    def node_seconds(self, basis: str = "horizon") -> np.ndarray:
        """Return float64[R, N_CLASSES, N_STATES] node-seconds by class and state over
        ``[0, horizon_s]`` (``"horizon"``) or ``[warmup_s, horizon_s]`` (``"window"``)."""
        return self.fleet_acc[:, _basis(basis), :, : fk.N_STATES].copy()

    def busy_replica_s_by_class(self, basis: str = "window") -> np.ndarray:
        """Return float64[R, N_CLASSES]: replica-seconds with a step running, by node class."""
        return self.fleet_acc[:, _basis(basis), :, fk.ACC_BUSY].copy()

    def busy_replica_s(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: replica-seconds with a step running."""
        return self.busy_replica_s_by_class(basis).sum(axis=1)

    def replica_busy_s(self) -> np.ndarray:
        """Return float64[R, n]: each replica slot's busy seconds in the window (slot ``k`` is
        replica ``k % workers_per_node`` of node slot ``k // workers_per_node``)."""
        return self.per_replica[:, :, lk.PR_BUSY_S].copy()

    def replica_routed(self) -> np.ndarray:
        """Return float64[R, n]: requests routed to each replica slot (every arrival, and again
        at a re-route), whatever their arrival time."""
        return self.per_replica[:, :, lk.PR_ROUTED].copy()

    def serving_replica_s(self, basis: str = "window") -> np.ndarray:
        """Return float64[R]: replica-seconds of nodes READY, under notice or draining."""
        acc = self.fleet_acc[:, _basis(basis), :, fk.ST_READY:fk.ST_DRAINING + 1]
        return acc.sum(axis=(1, 2)) * self.fleet.workers_per_node

    def utilization(self) -> np.ndarray:
        """Return float64[R]: busy replica-seconds over serving replica-seconds in the window."""
        return ratio(self.busy_replica_s("window"), self.serving_replica_s("window"))

    def timeline_per_replication(self) -> dict[str, np.ndarray]:
        """Return per-bin series over ``[0, horizon_s)``, float64[R, n_bins] each.

        Keys: ``start_s``, ``width_s`` (float64[n_bins]); counts in the bin ``arrivals``,
        ``finished``, ``rejected``, ``preemptions``, ``rerouted``; time-averages ``running``,
        ``waiting`` (requests, all replicas and the central queue), ``busy_replicas``,
        ``kv_utilization`` (used over total blocks of serving replicas; nan without one) and
        ``nodes_<class>``, ``nodes_<state>``.
        """
        tl = self.timeline
        n_bins = tl.shape[1]
        start = self.timeline_bin_s * np.arange(n_bins)
        width = np.minimum(self.timeline_bin_s, self.horizon_s - start)
        out = {"start_s": start, "width_s": width}
        for name, f in (("arrivals", lk.T_ARRIVALS), ("finished", lk.T_FINISHED),
                        ("rejected", lk.T_REJECTED), ("preemptions", lk.T_PREEMPTIONS),
                        ("rerouted", lk.T_REROUTED)):
            out[name] = tl[:, :, f].copy()
        out["running"] = tl[:, :, lk.T_RUNNING_AREA] / width
        out["waiting"] = tl[:, :, lk.T_WAITING_AREA] / width
        out["busy_replicas"] = tl[:, :, lk.T_BUSY_AREA] / width
        for names, first in ((CLASS_NAMES, fk.NODE_SERIES_CLASS),
                             (STATE_NAMES, fk.NODE_SERIES_STATE)):
            for k, name in enumerate(names):
                f = lk.T_NODE_BASE + 4 * (first + k)
                area = _areas(tl[:, :, f], tl[:, :, f + 1], tl[:, :, f + 2], tl[:, :, f + 3],
                              width)
                out["nodes_" + name] = area / width
        serving = (out["nodes_ready"] + out["nodes_notice"] + out["nodes_draining"]) * \
            self.fleet.workers_per_node
        out["kv_utilization"] = ratio(tl[:, :, lk.T_KV_AREA] / self.total_blocks / width,
                                      serving)
        return out

    def timeline_mean(self) -> dict[str, np.ndarray]:
        """Return the replication-mean of :meth:`timeline_per_replication`."""
        per_rep = self.timeline_per_replication()
        with warnings.catch_warnings():  # a bin without a serving replica in any replication
            warnings.simplefilter("ignore", RuntimeWarning)
            return {k: (v if v.ndim == 1 else np.nanmean(v, axis=0)) for k, v in per_rep.items()}


def _basis(basis: str) -> int:
    if basis not in ("horizon", "window"):
        raise SimulationError(f"basis must be 'horizon' or 'window' (got {basis!r})")
    return 0 if basis == "horizon" else 1


def _areas(n_in, offset_in, n_out, offset_out, width):
    """Area under a count that rises at 'in' events and falls at 'out' events, per bin."""
    level_at_start = np.cumsum(n_in - n_out, axis=-1) - (n_in - n_out)
    return level_at_start * width + (n_in * width - offset_in) - (n_out * width - offset_out)


def simulate_llm(*, arrivals: Arrivals, tokens: TokenSamples, profile: TokenProfile,
                 engine: EngineConfig, fleet: FleetSpec, horizon_s: float, warmup_s: float,
                 n_replications: int, seed: int, router: str = "least_outstanding",
                 slo: LlmSlo | None = None, timeline_bin_s: float = 60.0,
                 progress: Callable[[int, int], None] | None = None) -> LlmSimResult:
    """Simulate replicas of an LLM engine with continuous batching, ``n_replications`` times.

    Parameters
    ----------
    arrivals : PoissonArrivals | DiurnalArrivals | TraceArrivals
        The request stream.
    tokens : TokenSamples
        Prompt and output token counts (>= 1 each, paired).
    profile : TokenProfile
        Prefill and decode-step times of one replica.
    engine : EngineConfig
        KV cache, ``max_num_seqs``, ``max_num_batched_tokens``, block size, prefix caching.
    fleet : FleetSpec
        Nodes of ``workers_per_node`` replicas; autoscaling metric one of
        ``LLM_AUTOSCALING_METRICS``.
    horizon_s, warmup_s : float
        Arrivals stop at ``horizon_s``; statistics cover arrivals in ``[warmup_s, horizon_s)``.
    n_replications, seed : int
        Replication ``k`` is seeded from ``(seed, k)``: results do not depend on the threads.
    router : str
        ``"least_outstanding"`` or ``"round_robin"``.
    slo : LlmSlo, optional
        TTFT, TPOT and E2E thresholds (s) for attainment and goodput (None: no SLO).
    timeline_bin_s : float
        Width of the timeline bins (s).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk of replications.
    """
    slo = LlmSlo() if slo is None else slo
    _check_inputs(arrivals, tokens, profile, engine, fleet, horizon_s, warmup_s,
                  n_replications, seed, router, slo, timeline_bin_s)
    src, tok, en, prof, par = _kernel_inputs(arrivals, tokens, profile, engine, fleet,
                                             horizon_s, warmup_s, router, slo, timeline_bin_s)
    n_bins = math.ceil(horizon_s / timeline_bin_s)
    hist = np.zeros((n_replications, 3, N_BUCKETS), dtype=np.int64)
    stats = np.zeros((n_replications, lk.N_STATS))
    timeline = np.zeros((n_replications, n_bins, lk.N_TIMELINE))
    acc = np.zeros((n_replications, 2, fk.N_CLASSES, fk.N_STATES + 1))
    per_rep = np.zeros((n_replications, fleet.max_nodes * fleet.workers_per_node, lk.N_PR))
    chunk = max(1, numba.get_num_threads()) if progress is not None else n_replications
    for start in range(0, n_replications, chunk):
        stop = min(start + chunk, n_replications)
        out = lk.Outputs(hist[start:stop], stats[start:stop], timeline[start:stop],
                         acc[start:stop], per_rep[start:stop])
        llm_kernel(int(seed), start, src, tok, en, prof, par, out)
        if progress is not None:
            progress(stop, n_replications)
    return LlmSimResult(engine=engine, router=router, horizon_s=float(horizon_s),
                        warmup_s=float(warmup_s), seed=int(seed),
                        timeline_bin_s=float(timeline_bin_s), slo=slo, fleet=fleet, hist=hist,
                        stats=stats, timeline=timeline, fleet_acc=acc, per_replica=per_rep)


def _kernel_inputs(arrivals, tokens, profile, engine, fleet, horizon_s, warmup_s, router, slo,
                   timeline_bin_s):
    """Return the kernel's ``(src, tok, en, prof, par)`` arguments."""
    kind, params, hourly, trace = _arrival_arrays(arrivals, float(horizon_s))
    src = lk.ArrivalSource(kind, params, hourly, trace)
    tok = lk.Tokens(np.ascontiguousarray(tokens.prompt, dtype=np.int64),
                    np.ascontiguousarray(tokens.output, dtype=np.int64),
                    tokens.order == "sequential")
    bs = int(engine.block_size)
    prefix = int(engine.prefix_tokens)
    metric = fleet.autoscaling.metric if fleet.autoscaling is not None else "kv_utilization"
    en = lk.Engine(engine.total_blocks, bs, int(engine.max_num_seqs),
                   int(engine.max_num_batched_tokens), prefix, -(-prefix // bs),
                   router == "round_robin", float(horizon_s), float(warmup_s),
                   float(timeline_bin_s), _threshold(slo.ttft_s), _threshold(slo.tpot_s),
                   _threshold(slo.e2e_s), _AS_METRICS[metric])
    par = _fleet_arrays(fleet)
    par.fp[fk.FP_METRIC] = 0.0 if metric == "kv_utilization" else 1.0
    return src, tok, en, profile_arrays(profile), par


def _threshold(value: float | None) -> float:
    return math.inf if value is None else float(value)


def _check_inputs(arrivals, tokens, profile, engine, fleet, horizon_s, warmup_s,
                  n_replications, seed, router, slo, timeline_bin_s) -> None:
    """Raise :class:`SimulationError` for inputs ``simulate_llm`` cannot simulate."""
    check_arrivals(arrivals)
    for name, value, cls in (("tokens", tokens, TokenSamples), ("profile", profile, TokenProfile),
                             ("engine", engine, EngineConfig), ("fleet", fleet, FleetSpec),
                             ("slo", slo, LlmSlo)):
        if not isinstance(value, cls):
            raise SimulationError(f"{name} must be a {cls.__name__} (got {type(value).__name__})")
    _check_engine(engine)
    _check_tokens(tokens)
    fleet.check(metrics=LLM_AUTOSCALING_METRICS)
    if router not in ROUTERS:
        raise SimulationError(f"router must be one of {', '.join(ROUTERS)} (got {router!r})")
    for name in ("ttft_s", "tpot_s", "e2e_s"):
        value = getattr(slo, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise SimulationError(f"slo.{name} must be a finite number > 0 or None (got "
                                  f"{value!r}); give the latency objective in seconds")
    if not (0 <= warmup_s < horizon_s) or not math.isfinite(horizon_s):
        raise SimulationError(f"need 0 <= warmup_s < horizon_s (got warmup_s={warmup_s!r}, "
                              f"horizon_s={horizon_s!r}); shorten the warm-up")
    if n_replications < 1 or seed < 0:
        raise SimulationError(f"n_replications must be >= 1 and seed >= 0 (got "
                              f"{n_replications!r}, {seed!r})")
    if not timeline_bin_s > 0:
        raise SimulationError(f"timeline_bin_s must be > 0 (got {timeline_bin_s!r})")


def _check_engine(engine: EngineConfig) -> None:
    """Raise :class:`SimulationError` for an engine the kernel cannot run."""
    for name in ("kv_cache_tokens", "max_num_seqs", "max_num_batched_tokens", "block_size",
                 "prefix_tokens", "tensor_parallel"):
        value = getattr(engine, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise SimulationError(f"engine.{name} must be an integer (got {value!r})")
    e = engine
    if e.block_size < 1:
        raise SimulationError(f"engine.block_size must be >= 1 (got {e.block_size}); vLLM uses "
                              f"16")
    if e.kv_cache_tokens < e.block_size:
        raise SimulationError(
            f"engine.kv_cache_tokens={e.kv_cache_tokens} holds no KV block of block_size="
            f"{e.block_size} tokens; give at least one block's worth")
    if e.max_num_seqs < 1:
        raise SimulationError(f"engine.max_num_seqs must be >= 1 (got {e.max_num_seqs})")
    if not e.max_num_seqs <= e.max_num_batched_tokens <= MAX_BATCHED_TOKENS:
        raise SimulationError(
            f"engine.max_num_batched_tokens={e.max_num_batched_tokens} must be between "
            f"max_num_seqs={e.max_num_seqs} (vLLM requires max_num_batched_tokens >= "
            f"max_num_seqs) and {MAX_BATCHED_TOKENS}; raise it or lower max_num_seqs")
    if e.tensor_parallel < 1:
        raise SimulationError(f"engine.tensor_parallel must be >= 1 (got {e.tensor_parallel})")
    prefix_blocks = -(-e.prefix_tokens // e.block_size)
    if e.prefix_tokens < 0 or prefix_blocks >= e.total_blocks:
        raise SimulationError(
            f"engine.prefix_tokens={e.prefix_tokens} must be >= 0 and leave room in the KV "
            f"cache ({e.total_blocks} blocks of {e.block_size} tokens); use 0 for no prefix "
            f"caching")


def _check_tokens(tokens: TokenSamples) -> None:
    """Raise :class:`SimulationError` for token samples the kernel cannot draw from."""
    if tokens.order not in TOKEN_ORDERS:
        raise SimulationError(f"tokens.order must be one of {', '.join(TOKEN_ORDERS)} (got "
                              f"{tokens.order!r})")
    arrays = {}
    for name in ("prompt", "output"):
        arr = np.asarray(getattr(tokens, name))
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
            raise SimulationError(f"tokens.{name} must be a non-empty 1-D array of token counts "
                                  f"(got shape {arr.shape}, dtype {arr.dtype})")
        bad = ~(np.isfinite(arr) & (arr >= 1) & (np.floor(arr) == arr))
        if bad.any():
            i = int(np.argmax(bad))
            raise SimulationError(f"tokens.{name}[{i}]={arr[i]!r} must be a whole number >= 1; "
                                  f"drop or fix that sample")
        arrays[name] = arr
    if arrays["prompt"].size != arrays["output"].size:
        raise SimulationError(
            f"tokens.prompt has {arrays['prompt'].size} samples but tokens.output has "
            f"{arrays['output'].size}; pass one output count per prompt (paired samples)")
