"""Numba kernel of a real-time GPU serving fleet: central FIFO queue, dynamic batching.

Semantics (identical to ``simulators/reference/realtime.py``, the SimPy specification):

* One central FIFO queue and ``n_workers`` identical workers (one per GPU).
* An idle worker facing a non-empty queue takes ``max_batch`` requests at once if that many are
  queued; otherwise it waits until the oldest queued request has waited ``max_wait_s`` or the
  queue reaches ``max_batch``, whichever comes first, then takes up to ``max_batch``.  With
  ``max_wait_s = 0`` it takes what is queued at once.  Arrivals at exactly the dispatch time are
  in the batch.  The batch goes to the worker idle the longest (ties: lowest index).
* Latency = completion - arrival; wait = dispatch - arrival.  Requests arriving before the
  warm-up are served but not counted.  Arrivals stop at the horizon; the queue then drains, so
  every arrival is served (no hidden truncation); the counts of requests completed by the
  horizon and still in the system at the horizon are reported separately.

How it runs: because the queue is FIFO and the workers identical, batches are contiguous runs of
requests in arrival order and leave in order of dispatch time.  With ``i`` the oldest queued
request and ``t_w`` the time the longest-idle worker is free (or ``A_i`` if later), the dispatch
time is ``D = max(t_w, min(A_i + max_wait_s, A_{i+max_batch-1}))``.  The kernel therefore sweeps
requests in arrival order, generating arrivals lazily into a ring buffer that holds only the
queued requests (O(queue) memory, never O(requests)), and keeps the workers' free times in a
binary heap keyed by (free time, worker index).  Latencies and waits go into log-bucket
histograms; a per-bin timeline accumulates arrivals, queue area, busy worker-seconds,
completions and batches.
"""

from __future__ import annotations

import math

from simulators._jit import jit
from simulators.kernels.fleet import N_CLASSES, N_STATES
from simulators.kernels.rng import exponential, standard_normal, uniform

ARRIVAL_POISSON = 0
ARRIVAL_SMOOTH = 1
ARRIVAL_PIECEWISE = 2
ARRIVAL_TRACE = 3

SERVICE_CONSTANT = 0
SERVICE_EXPONENTIAL = 1
SERVICE_LOGNORMAL = 2

# arrival_params layout
P_RATE = 0  # Poisson rate, or the thinning envelope (max rate) for diurnal arrivals, 1/s
P_AMPLITUDE = 1  # smooth diurnal relative amplitude a, rate = mean * (1 + a cos(...))
P_PEAK_S = 2  # time of the daily peak, s after midnight
P_PERIOD_S = 3  # diurnal period (86,400 s), or the trace's repeat period
P_REPEAT = 4  # 1.0 = loop the trace, 0.0 = stop at its end
P_MEAN_RATE = 5  # smooth diurnal mean rate, 1/s
P_START_S = 6  # clock time of day at simulation time 0, s after midnight
P_MEAN_GAP_S = 7  # 1 / Poisson rate (a multiplication is cheaper than a division)
P_SEGMENT_S = 8  # diurnal thinning-envelope segment length, s (divides an hour)
N_ARRIVAL_PARAMS = 9

# stats layout (per replication)
S_N_ARRIVALS_TOTAL = 0
S_N_WINDOW = 1
S_N_COMPLETED_BY_HORIZON = 2
S_N_IN_SYSTEM_AT_HORIZON = 3
S_SUM_LATENCY_S = 4
S_SUM_WAIT_S = 5
S_SUM_SERVICE_S = 6
S_N_SLO_MET = 7
S_BUSY_WORKER_S = 8
S_N_BATCHES = 9
S_SUM_BATCH_SIZE = 10
S_QUEUE_AREA = 11
S_LAST_COMPLETION_S = 12
S_N_BATCHES_TOTAL = 13
S_N_DISPATCHED_TOTAL = 14
S_N_COMPLETED_IN_WINDOW = 15
S_N_DROPPED = 16
S_N_DROPPED_WINDOW = 17
S_N_REQUEUED = 18
S_N_STRANDED = 19  # requests never served: no node could ever serve them again
S_N_PREEMPTIONS = 20
S_N_PREEMPTION_EVENTS = 21
S_N_SCALE_OUT = 22
S_N_SCALE_IN = 23
S_N_LAUNCH_BASE = 24
S_N_LAUNCH_SPOT = 25
S_N_LAUNCH_FALLBACK = 26
S_MAX_NODES = 27
S_N_LAUNCH_NO_SLOT = 28
N_STATS = 29

# timeline layout (per replication and bin).  Queue length, busy workers and node counts are
# integrated without per-request loops over bins: each bin keeps counts of the events in it and
# the sums of their offsets from the bin's start, from which ``simulators.realtime`` computes the
# exact area under each curve.  Every series has an "in" pair and an "out" pair.
T_ARRIVALS = 0  # requests arriving in the bin (queue in)
T_ARRIVAL_OFFSET_S = 1
T_DISPATCHED = 2  # requests leaving the queue for service (queue out)
T_DISPATCHED_OFFSET_S = 3
T_BATCHES = 4  # batches starting (busy workers in)
T_BATCH_OFFSET_S = 5
T_COMPLETIONS = 6  # requests completed in the bin
T_BATCHES_DONE = 7  # batches ending, completed or lost (busy workers out)
T_BATCH_DONE_OFFSET_S = 8
T_REQUEUED = 9  # requests put back in the queue by a node death (queue in)
T_REQUEUED_OFFSET_S = 10
T_DROPPED = 11  # requests dropped at their deadline (queue out)
T_DROPPED_OFFSET_S = 12
T_NODE_BASE = 13  # node series: 4 fields each, classes then states (see kernels.fleet)
N_TIMELINE = T_NODE_BASE + 4 * (N_CLASSES + N_STATES)

_TWO_PI = 2.0 * math.pi



@jit(inline="always")
def _next_arrival(kind, t, pos, rng, params, hourly_rates, trace, horizon_s):
    """Return the next arrival time after ``t`` (inf past the horizon) and the new position.

    Diurnal arrivals are a non-homogeneous Poisson process generated exactly by thinning
    against a piecewise-constant envelope: ``hourly_rates[0, k]`` bounds the rate from above
    over the ``k``-th clock segment (``P_SEGMENT_S`` long, 10 minutes) counted from midnight
    before simulation time 0, and
    ``hourly_rates[1, k]`` from below (the 24-hour pattern repeated over the horizon, so the
    kernel indexes it directly, without a modulo); ``hourly_rates[2, k]`` is ``1 / upper``.  Candidate gaps are drawn by
    inverting the envelope's integral across hour boundaries; a candidate is accepted at once
    when ``u * upper <= lower`` (the squeeze, almost always), otherwise by comparing with the
    exact rate.  For piecewise shapes upper = lower, so every candidate is accepted and the
    method is plain inversion.  ``pos`` carries the absolute clock-segment index of ``t`` (or the
    trace position for trace replay; -1 before the first arrival).
    """
    if kind == ARRIVAL_POISSON:
        t = t + exponential(rng) * params[P_MEAN_GAP_S]
    elif kind == ARRIVAL_SMOOTH or kind == ARRIVAL_PIECEWISE:
        start_s = params[P_START_S]
        if pos < 0:
            pos = int(math.floor((t + start_s) / params[P_SEGMENT_S]))
        while True:
            e = exponential(rng)
            while True:
                h = pos
                upper = hourly_rates[0, h]
                hour_end = (pos + 1) * params[P_SEGMENT_S] - start_s
                t_next = t + e * hourly_rates[2, h] if upper > 0.0 else math.inf  # 1 / upper
                if t_next < hour_end:
                    t = t_next
                    break
                e -= (hour_end - t) * upper
                t = hour_end
                pos += 1
                if t >= horizon_s:
                    return math.inf, pos
            if t >= horizon_s:
                return math.inf, pos
            u = uniform(rng) * upper
            if u <= hourly_rates[1, h]:
                break
            phase = _TWO_PI * (t + start_s - params[P_PEAK_S]) / params[P_PERIOD_S]
            rate = params[P_MEAN_RATE] * (1.0 + params[P_AMPLITUDE] * math.cos(phase))
            if u <= rate:
                break
    else:
        pos += 1
        n = trace.shape[0]
        if pos >= n and params[P_REPEAT] == 0.0:
            return math.inf, pos
        t = trace[pos % n] + (pos // n) * params[P_PERIOD_S]
    if t >= horizon_s:
        return math.inf, pos
    return t, pos


@jit(inline="always")
def _service_time(kind, n, mean_s, mu, sigma, rng):
    """Return the service time (s) of a batch of ``n`` requests."""
    if kind == SERVICE_CONSTANT:
        return mean_s[n]
    if kind == SERVICE_EXPONENTIAL:
        return mean_s[n] * exponential(rng)
    return math.exp(mu[n] + sigma[n] * standard_normal(rng))


@jit(inline="always")
def _count_event(timeline, count_field, offset_field, t_s, weight, bin_s, inv_bin, horizon_s):
    """Add ``weight`` events at ``t_s`` to their bin's count and offset sum (if before horizon)."""
    b = int(t_s * inv_bin)
    if t_s < horizon_s:
        timeline[b, count_field] += weight
        timeline[b, offset_field] += weight * (t_s - b * bin_s)


