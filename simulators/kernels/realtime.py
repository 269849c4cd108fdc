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

import numpy as np
from numba import prange

from simulators._jit import jit
from simulators.kernels.histogram import bucket_index
from simulators.kernels.rng import exponential, seed_stream, standard_normal, uniform

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
N_ARRIVAL_PARAMS = 7

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
N_STATS = 16

# timeline layout (per replication and bin).  Queue length and busy workers are integrated
# without per-request loops over bins: each bin keeps counts of the events in it and the sums of
# their offsets from the bin's start; ``simulators.realtime`` turns them into exact areas.
T_ARRIVALS = 0  # requests arriving in the bin
T_ARRIVAL_OFFSET_S = 1  # sum over those of (arrival - bin start)
T_DISPATCHED = 2  # requests dispatched in the bin
T_DISPATCHED_OFFSET_S = 3  # sum over those of (dispatch - bin start)
T_BATCHES = 4  # batches dispatched in the bin
T_BATCH_OFFSET_S = 5  # sum over those of (dispatch - bin start)
T_COMPLETIONS = 6  # requests completed in the bin
T_BATCHES_DONE = 7  # batches completed in the bin
T_BATCH_DONE_OFFSET_S = 8  # sum over those of (completion - bin start)
N_TIMELINE = 9

_TWO_PI = 2.0 * math.pi

# Up to this many workers the longest-idle worker is found by a branch-free linear scan of their
# free times (index = worker); above it, by a binary heap.  The crossover was measured with
# ``benchmarks/bench_kernels.py`` (scan 28 M vs heap 19 M requests/s at 16 workers, heap ahead
# from about 48 workers).
SCAN_MAX_WORKERS = 40


@jit(inline="always")
def _next_arrival(kind, t, pos, rng, params, hourly_rates, trace, horizon_s):
    """Return the next arrival time after ``t`` (inf past the horizon) and the trace position."""
    if kind == ARRIVAL_POISSON:
        t = t + exponential(rng) / params[P_RATE]
    elif kind == ARRIVAL_SMOOTH:
        envelope = params[P_RATE]
        amplitude = params[P_AMPLITUDE]
        while True:
            t = t + exponential(rng) / envelope
            if t >= horizon_s:
                return math.inf, pos
            phase = _TWO_PI * (t + params[P_START_S] - params[P_PEAK_S]) / params[P_PERIOD_S]
            rate = params[P_MEAN_RATE] * (1.0 + amplitude * math.cos(phase))
            if uniform(rng) * envelope <= rate:
                break
    elif kind == ARRIVAL_PIECEWISE:
        envelope = params[P_RATE]
        while True:
            t = t + exponential(rng) / envelope
            if t >= horizon_s:
                return math.inf, pos
            hour = int((t + params[P_START_S]) / 3600.0) % 24
            if uniform(rng) * envelope <= hourly_rates[hour]:
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


@jit(inline="always")
def _heap_replace_top(heap_t, heap_w, n, t_new, w_new):
    """Replace the smallest (time, worker) entry of a binary heap of ``n`` and restore order.

    The arrays hold ``2 n + 2`` slots; slots ``n..`` are padding of (+inf, n) so that both
    children of any real node exist and the smaller child is chosen without a branch (the
    choice is a coin flip for the CPU's predictor, so a select beats a jump).
    """
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        right = left + 1
        t_l = heap_t[left]
        t_r = heap_t[right]
        go_right = (t_r < t_l) | ((t_r == t_l) & (heap_w[right] < heap_w[left]))
        child = left + go_right
        t_c = heap_t[child]
        if t_c < t_new or (t_c == t_new and heap_w[child] < w_new):
            heap_t[i] = t_c
            heap_w[i] = heap_w[child]
            i = child
        else:
            break
    heap_t[i] = t_new
    heap_w[i] = w_new


@jit
def _simulate_one(
    seed,
    replication,
    arrival_kind,
    arrival_params,
    hourly_rates,
    trace,
    service_kind,
    service_mean_s,
    service_mu,
    service_sigma,
    n_workers,
    max_batch,
    max_wait_s,
    horizon_s,
    warmup_s,
    slo_s,
    bin_s,
    lat_hist,
    wait_hist,
    stats,
    timeline,
):
    """Simulate one replication; write its histograms, stats and timeline in place."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    inv_bin = 1.0 / bin_s

    cap = 1024
    ring = np.empty(cap, dtype=np.float64)
    mask = cap - 1
    head = 0
    count = 0

    # workers' free times: a plain array indexed by worker (scan) or a binary heap of
    # (free time, worker) with +inf padding (see _heap_replace_top)
    heap_t = np.full(2 * n_workers + 2, math.inf)
    heap_w = np.full(2 * n_workers + 2, n_workers)
    for k in range(n_workers):
        heap_t[k] = 0.0
        heap_w[k] = k

    n_total = 0
    n_window = 0
    n_done_by_h = 0
    n_done_in_window = 0
    n_in_system_h = 0
    n_slo = 0
    n_batches = 0
    sum_batch = 0
    n_batches_total = 0
    n_dispatched = 0
    sum_lat = 0.0
    sum_wait = 0.0
    sum_service = 0.0
    busy = 0.0
    queue_area = 0.0
    last_completion = 0.0

    pos = -1
    t_arr, pos = _next_arrival(
        arrival_kind, 0.0, pos, rng, arrival_params, hourly_rates, trace, horizon_s
    )

    while True:
        if count == 0:
            if t_arr == math.inf:
                break
            # push t_arr (ring cannot be full when empty)
            ring[(head + count) & mask] = t_arr
            count += 1
            n_total += 1
            _count_event(timeline, T_ARRIVALS, T_ARRIVAL_OFFSET_S, t_arr, 1.0, bin_s, inv_bin, horizon_s)
            t_arr, pos = _next_arrival(
                arrival_kind, t_arr, pos, rng, arrival_params, hourly_rates, trace, horizon_s
            )

        a_first = ring[head]
        if n_workers <= SCAN_MAX_WORKERS:
            t_free = heap_t[0]
            worker = 0
            for k in range(1, n_workers):
                f = heap_t[k]
                earlier = f < t_free  # strict: ties keep the lower index
                t_free = f if earlier else t_free
                worker = k if earlier else worker
        else:
            t_free = heap_t[0]
            worker = heap_w[0]
        t_w = t_free if t_free > a_first else a_first
        if count >= max_batch:
            a_last = ring[(head + max_batch - 1) & mask]
            dispatch = t_w if t_w > a_last else a_last
            n = max_batch
        else:
            limit = a_first + max_wait_s
            if t_w > limit:
                limit = t_w
            while count < max_batch and t_arr <= limit:
                if count == cap:
                    # grow the ring, unwrapping it so the oldest request sits at index 0
                    new_ring = np.empty(2 * cap, dtype=np.float64)
                    for k in range(count):
                        new_ring[k] = ring[(head + k) & mask]
                    ring = new_ring
                    cap *= 2
                    mask = cap - 1
                    head = 0
                ring[(head + count) & mask] = t_arr
                count += 1
                n_total += 1
                _count_event(timeline, T_ARRIVALS, T_ARRIVAL_OFFSET_S, t_arr, 1.0, bin_s, inv_bin, horizon_s)
                t_arr, pos = _next_arrival(
                    arrival_kind, t_arr, pos, rng, arrival_params, hourly_rates, trace, horizon_s
                )
            if count >= max_batch:
                a_last = ring[(head + max_batch - 1) & mask]
                dispatch = t_w if t_w > a_last else a_last
                n = max_batch
            else:
                dispatch = limit
                n = count

        service = _service_time(
            service_kind, n, service_mean_s, service_mu, service_sigma, rng
        )
        completion = dispatch + service

        n_counted = 0
        for _ in range(n):
            a = ring[head]
            head = (head + 1) & mask
            if a >= warmup_s:
                latency = completion - a
                wait = dispatch - a
                n_counted += 1
                sum_lat += latency
                sum_wait += wait
                lat_hist[bucket_index(latency)] += 1
                wait_hist[bucket_index(wait)] += 1
                n_slo += latency <= slo_s
            # queue area inside the window, branch-free
            lo = a if a > warmup_s else warmup_s
            hi = dispatch if dispatch < horizon_s else horizon_s
            queue_area += max(hi - lo, 0.0)
        count -= n
        n_window += n_counted
        sum_service += n_counted * service

        if completion <= horizon_s:
            n_done_by_h += n
            if completion >= warmup_s:
                n_done_in_window += n
        else:
            n_in_system_h += n
        _count_event(timeline, T_DISPATCHED, T_DISPATCHED_OFFSET_S, dispatch, n, bin_s, inv_bin, horizon_s)
        _count_event(timeline, T_BATCHES, T_BATCH_OFFSET_S, dispatch, 1.0, bin_s, inv_bin, horizon_s)
        b = int(completion * inv_bin)
        if completion < horizon_s:
            timeline[b, T_COMPLETIONS] += n
            timeline[b, T_BATCHES_DONE] += 1.0
            timeline[b, T_BATCH_DONE_OFFSET_S] += completion - b * bin_s
        lo = dispatch if dispatch > warmup_s else warmup_s
        hi = completion if completion < horizon_s else horizon_s
        busy += max(hi - lo, 0.0)
        if dispatch >= warmup_s and dispatch < horizon_s:
            n_batches += 1
            sum_batch += n
        n_batches_total += 1
        n_dispatched += n
        if completion > last_completion:
            last_completion = completion
        if n_workers <= SCAN_MAX_WORKERS:
            heap_t[worker] = completion
        else:
            _heap_replace_top(heap_t, heap_w, n_workers, completion, worker)

    stats[S_N_ARRIVALS_TOTAL] = n_total
    stats[S_N_WINDOW] = n_window
    stats[S_N_COMPLETED_BY_HORIZON] = n_done_by_h
    stats[S_N_IN_SYSTEM_AT_HORIZON] = n_in_system_h
    stats[S_SUM_LATENCY_S] = sum_lat
    stats[S_SUM_WAIT_S] = sum_wait
    stats[S_SUM_SERVICE_S] = sum_service
    stats[S_N_SLO_MET] = n_slo
    stats[S_BUSY_WORKER_S] = busy
    stats[S_N_BATCHES] = n_batches
    stats[S_SUM_BATCH_SIZE] = sum_batch
    stats[S_QUEUE_AREA] = queue_area
    stats[S_LAST_COMPLETION_S] = last_completion
    stats[S_N_BATCHES_TOTAL] = n_batches_total
    stats[S_N_DISPATCHED_TOTAL] = n_dispatched
    stats[S_N_COMPLETED_IN_WINDOW] = n_done_in_window


@jit(parallel=True)
def _realtime_kernel(
    seed,
    first_replication,
    arrival_kind,
    arrival_params,
    hourly_rates,
    trace,
    service_kind,
    service_mean_s,
    service_mu,
    service_sigma,
    n_workers,
    max_batch,
    max_wait_s,
    horizon_s,
    warmup_s,
    slo_s,
    bin_s,
    lat_hist,
    wait_hist,
    stats,
    timeline,
):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the stream seeded from ``(seed, k)``.
    first_replication : int
        Index of the replication written to row 0 (lets callers run replications in chunks).
    arrival_kind : int
        ``ARRIVAL_POISSON``, ``ARRIVAL_SMOOTH``, ``ARRIVAL_PIECEWISE`` or ``ARRIVAL_TRACE``.
    arrival_params : float64[N_ARRIVAL_PARAMS]
        See the ``P_*`` constants.
    hourly_rates : float64[24]
        Piecewise diurnal rates (1/s) per hour of the day.
    trace : float64[n]
        Sorted trace arrival times (s) for ``ARRIVAL_TRACE``; may be empty otherwise.
    service_kind : int
        ``SERVICE_CONSTANT``, ``SERVICE_EXPONENTIAL`` or ``SERVICE_LOGNORMAL``.
    service_mean_s, service_mu, service_sigma : float64[max_batch + 1]
        Per batch size: mean service time (s); log-mean and log-sd for lognormal service.
    n_workers, max_batch : int
        Workers (GPUs) and the largest batch.
    max_wait_s, horizon_s, warmup_s, slo_s, bin_s : float
        Batching wait, arrival horizon, warm-up, SLO latency threshold, timeline bin width (s).
    lat_hist, wait_hist : int64[R, N_BUCKETS]
        Output histograms of latency and wait (s) of requests arriving in the window.
    stats : float64[R, N_STATS]
        Output counters and sums (see the ``S_*`` constants).
    timeline : float64[R, n_bins, N_TIMELINE]
        Output per-bin accumulators (see the ``T_*`` constants).
    """
    for r in prange(lat_hist.shape[0]):
        _simulate_one(
            seed,
            first_replication + r,
            arrival_kind,
            arrival_params,
            hourly_rates,
            trace,
            service_kind,
            service_mean_s,
            service_mu,
            service_sigma,
            n_workers,
            max_batch,
            max_wait_s,
            horizon_s,
            warmup_s,
            slo_s,
            bin_s,
            lat_hist[r],
            wait_hist[r],
            stats[r],
            timeline[r],
        )
