"""Numba kernel of the streaming micro-batch design: windows of records on a standing fleet.

Semantics: the contract in ``simulators/streaming/api.py`` (module docstring), mirrored by the SimPy
specification ``simulators/streaming/reference.py``.

How it runs: windows are processed in order, one at a time, so the kernel walks the windows
``k = 0, 1, ...`` (while ``k * window_s < horizon_s``) and, for each, needs its record count
``n`` before it can draw the processing time, and the processing end before it can record the
records' latencies.  Rather than buffer a window's arrival times (O(records per window)), it
reads the window's arrivals twice: a counting pass, then, after a snapshot of the arrival
generator is restored, a recording pass that regenerates the very same times.  Memory stays
O(histogram + timeline + workers + backlog windows).  Arrival times come from the arrival stream
``seed_stream(seed, replication)`` (block-generated exactly as in the real-time kernel);
batch durations come from a second stream ``seed_stream(seed, replication + SERVICE_STREAM)``,
so the two passes never disturb the service draws.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulators.core import service_kernel as svk
from simulators.core.arrival_kernel import ARRIVAL_BLOCK, fill_arrivals
from simulators.core.histogram import bucket_index
from simulators.core.jit import jit
from simulators.core.rng import seed_stream
from simulators.core.structures import overlap

SERVICE_STREAM = 1 << 40  # offset of the service-time stream index from the replication index

# stats layout (per replication)
S_N_ARRIVALS_TOTAL = 0  # records arrived in [0, horizon)
S_N_WINDOW = 1  # records arrived in [warmup, horizon): the measured records
S_N_PROCESSED_BY_HORIZON = 2  # records whose window's processing ended at or before the horizon
S_N_IN_SYSTEM_AT_HORIZON = 3  # records arrived but not processed by the horizon
S_N_COMPLETED_IN_WINDOW = 4  # records whose window's processing ended in [warmup, horizon]
S_SUM_LATENCY_S = 5  # over measured records
S_N_SLO_MET = 6  # measured records with latency <= SLO
S_BUSY_WORKER_S = 7  # busy worker-seconds inside [warmup, horizon]
S_BUSY_WORKER_S_HORIZON = 8  # busy worker-seconds inside [0, horizon]
S_NODE_S_HORIZON = 9  # node-seconds held inside [0, horizon]
S_NODE_S_WINDOW = 10  # node-seconds held inside [warmup, horizon]
S_N_WINDOWS_TOTAL = 11  # windows simulated (every k with k * window_s < horizon)
S_N_WINDOWS_PROCESSED = 12  # windows whose processing ended at or before the horizon
S_N_BATCHES = 13  # batches run, every window
S_MAX_BACKLOG_WINDOWS = 14  # max over closes in [warmup, horizon] of windows waiting to start
S_MAX_BACKLOG_RECORDS = 15  # ... and of the records in them
S_BACKLOG_WINDOW_AREA = 16  # integral of waiting windows over [warmup, horizon], window-s
S_BACKLOG_RECORD_AREA = 17  # integral of records in waiting windows over [warmup, horizon]
S_IN_SYSTEM_AREA = 18  # integral of records arrived and not processed over [warmup, horizon]
S_LAG_AT_HORIZON_S = 19  # horizon - close of the newest window processed by the horizon
S_BACKLOG_WINDOWS_AT_HORIZON = 20  # windows closed by the horizon, not started by it
S_BACKLOG_RECORDS_AT_HORIZON = 21  # ... and the records in them
S_SUM_PROCESSING_S = 22  # sum of processing times of non-empty windows
S_N_NONEMPTY_WINDOWS = 23
S_MAX_PROCESSING_S = 24
S_LAST_END_S = 25  # end of the last window's processing (the drain's end)
S_N_SCALE_OUT = 26  # autoscaler decisions that launched nodes
S_N_SCALE_IN = 27  # autoscaler decisions that marked nodes for removal
S_MAX_NODES = 28  # most nodes held at once (provisioning included) up to the horizon
S_N_NODES_LAUNCHED = 29
N_STATS = 30

# autoscaling parameters (float64[N_AS_PARAMS]; AS_ON = 0 for a fixed fleet)
AS_ON = 0
AS_TARGET = 1  # target utilization, busy / held worker-seconds
AS_MIN_NODES = 2
AS_MAX_NODES = 3
AS_INTERVAL_S = 4  # evaluations at j * interval, j >= 1, up to the horizon
AS_DELAY_S = 5  # provisioning delay (held, not processing)
N_AS_PARAMS = 6

# fleet state (int64 and float64 arrays, so the helpers below can update it in place)
FL_READY = 0  # nodes that can process
FL_PROV = 1  # nodes provisioning (their ready times in a FIFO ring)
FL_PROV_HEAD = 2
FL_PENDING = 3  # nodes marked for removal at the next window start
FL_SCALE_OUT = 4
FL_SCALE_IN = 5
FL_MAX_HELD = 6
FL_LAUNCHED = 7
N_FL = 8
FF_LAST_S = 0  # time up to which held node-seconds are accounted
FF_NODE_S_H = 1
FF_NODE_S_W = 2
N_FF = 3
AS_EPS = 1e-9  # ceil(x - eps): a ratio equal to an integer up to rounding stays that integer

# timeline layout (per replication and bin over [0, horizon))
T_ARRIVALS = 0  # records arriving in the bin
T_PROCESSED = 1  # records whose window's processing ended in the bin
T_NODE_S = 2  # node-seconds held in the bin
T_BUSY_WORKER_S = 3  # busy worker-seconds in the bin
T_BACKLOG_WINDOW_S = 4  # waiting-window-seconds in the bin
T_BACKLOG_RECORD_S = 5  # waiting-record-seconds in the bin
N_TIMELINE = 6


@jit
def spread(timeline, field, t0, t1, weight, bin_s, horizon_s):
    """Add ``weight`` x (time of ``[t0, t1)`` inside each bin) to ``timeline[:, field]``."""
    t1 = min(t1, horizon_s)
    t0 = max(t0, 0.0)
    if not t1 > t0:
        return
    n_bins = timeline.shape[0]
    b = int(t0 / bin_s)
    while t0 < t1 and b < n_bins:
        edge = (b + 1) * bin_s
        if edge <= t0:
            b += 1
            continue
        hi = min(edge, t1)
        timeline[b, field] += weight * (hi - t0)
        t0 = hi
        b += 1


@jit
def window_processing_s(n, max_batch, n_workers, overhead_s, service_kind, mean_s, mu, sigma,
                        rng, worker_s):
    """Return the processing time (s) of a window of ``n`` records and its batch count.

    Batches: ``ceil(n / max_batch)``, all full but the last, which holds the rest; batch ``i``
    goes to worker ``i mod n_workers`` (round robin), each worker runs its batches back to back
    and ``worker_s[w]`` receives its busy time (s).  Durations are drawn in batch order.  The
    window takes the longest worker's time plus ``overhead_s``; an empty window takes 0.
    """
    if n == 0:
        return 0.0, 0
    n_batches = (n + max_batch - 1) // max_batch
    used = min(n_workers, n_batches)
    for w in range(used):
        worker_s[w] = 0.0
    for i in range(n_batches):
        size = max_batch if i < n_batches - 1 else n - (n_batches - 1) * max_batch
        worker_s[i % n_workers] += svk._service_time(service_kind, size, mean_s, mu, sigma, rng)
    longest = 0.0
    for w in range(used):
        longest = max(longest, worker_s[w])
    return longest + overhead_s, n_batches


@jit
def _flush_held(t, fl, ff, held_iv, timeline, asp, bin_s, horizon_s, warmup_s):
    """Account the nodes held over ``[ff[FF_LAST_S], t)`` (node-seconds, timeline, intervals)."""
    last = ff[FF_LAST_S]
    if not t > last:
        return
    held = float(fl[FL_READY] + fl[FL_PROV])
    ff[FF_NODE_S_H] += held * overlap(last, t, 0.0, horizon_s)
    ff[FF_NODE_S_W] += held * overlap(last, t, warmup_s, horizon_s)
    spread(timeline, T_NODE_S, last, t, held, bin_s, horizon_s)
    if asp[AS_ON] != 0.0:
        spread(held_iv, 0, last, t, held, asp[AS_INTERVAL_S], horizon_s)
    ff[FF_LAST_S] = t


@jit
def _evaluate(j, fl, ff, prov_ready, busy_iv, held_iv, timeline, asp, workers_per_node, bin_s,
              horizon_s, warmup_s):
    """Run the autoscaler's evaluation ``j`` at ``t = j * interval`` (target tracking)."""
    interval = asp[AS_INTERVAL_S]
    t = j * interval
    _flush_held(t, fl, ff, held_iv, timeline, asp, bin_s, horizon_s, warmup_s)
    held_ws = held_iv[j - 1, 0] * workers_per_node
    u = busy_iv[j - 1, 0] / held_ws if held_ws > 0.0 else 0.0
    current = fl[FL_READY] + fl[FL_PROV] - fl[FL_PENDING]
    desired = math.ceil(current * u / asp[AS_TARGET] - AS_EPS)
    lo = int(asp[AS_MIN_NODES])
    hi = int(asp[AS_MAX_NODES])
    desired = lo if desired < lo else (min(desired, hi))
    if desired > current:
        fl[FL_SCALE_OUT] += 1
        keep = desired - current
        keep = min(keep, fl[FL_PENDING])
        fl[FL_PENDING] -= keep
        cap = prov_ready.shape[0]
        for _ in range(desired - current - keep):
            prov_ready[(fl[FL_PROV_HEAD] + fl[FL_PROV]) % cap] = t + asp[AS_DELAY_S]
            fl[FL_PROV] += 1
            fl[FL_LAUNCHED] += 1
        held = fl[FL_READY] + fl[FL_PROV]
        fl[FL_MAX_HELD] = max(fl[FL_MAX_HELD], held)
    elif desired < current:
        fl[FL_SCALE_IN] += 1
        fl[FL_PENDING] += current - desired


@jit
def _window_start(t, fl, ff, prov_ready, held_iv, timeline, asp, bin_s, horizon_s, warmup_s):
    """Apply the fleet changes due at a window start ``t``; return the ready nodes."""
    cap = prov_ready.shape[0]
    _flush_held(t, fl, ff, held_iv, timeline, asp, bin_s, horizon_s, warmup_s)
    while fl[FL_PROV] > 0 and prov_ready[fl[FL_PROV_HEAD]] <= t:  # ready by now
        fl[FL_PROV_HEAD] = (fl[FL_PROV_HEAD] + 1) % cap
        fl[FL_PROV] -= 1
        fl[FL_READY] += 1
    while fl[FL_PENDING] > 0:  # scale-in: provisioning nodes first (newest first), then ready
        if fl[FL_PROV] > 0:
            fl[FL_PROV] -= 1
        else:
            fl[FL_READY] -= 1
        fl[FL_PENDING] -= 1
    return fl[FL_READY]


@jit
def _simulate_one(seed, replication, arrival_kind, arrival_params, hourly_rates, trace,
                  service_kind, service_mean_s, service_mu, service_sigma, max_batch, n_nodes,
                  workers_per_node, asp, window_s, overhead_s, horizon_s, warmup_s, slo_s, bin_s,
                  lat_hist, stats, timeline):
    """Simulate one replication; write its histogram, stats and timeline."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    srng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + SERVICE_STREAM, srng)
    autoscale = asp[AS_ON] != 0.0
    max_nodes = int(asp[AS_MAX_NODES]) if autoscale else n_nodes
    worker_s = np.zeros(max_nodes * workers_per_node)
    fl = np.zeros(N_FL, dtype=np.int64)
    ff = np.zeros(N_FF)
    fl[FL_READY] = n_nodes
    fl[FL_MAX_HELD] = n_nodes
    prov_ready = np.empty(max_nodes + 1)
    n_iv = math.ceil(horizon_s / asp[AS_INTERVAL_S]) + 1 if autoscale else 1
    busy_iv = np.zeros((n_iv, 1))
    held_iv = np.zeros((n_iv, 1))
    j_eval = 1  # next autoscaler evaluation
    inv_bin = 1.0 / bin_s
    n_bins = timeline.shape[0]

    # arrival generator and its snapshot (taken before each window's counting pass)
    ablock = np.empty(ARRIVAL_BLOCK)
    block_snap = np.empty(ARRIVAL_BLOCK)
    rng_snap = np.empty(4, dtype=np.uint64)
    pos_arr = -1
    t_gen, pos_arr = fill_arrivals(arrival_kind, 0.0, pos_arr, rng, arrival_params,
                                   hourly_rates, trace, horizon_s, ablock)
    a_idx = 0
    t_arr = ablock[0]

    # windows that have closed but not started: a FIFO of (start time, records)
    cap = 64
    pend_start = np.empty(cap)
    pend_n = np.empty(cap, dtype=np.int64)
    p_head = 0
    p_tail = 0
    p_records = 0

    n_total = 0
    n_window = 0
    n_by_h = 0
    n_in_sys_h = 0
    n_done_in_window = 0
    sum_lat = 0.0
    n_slo = 0
    busy_w = 0.0
    busy_h = 0.0
    n_windows = 0
    n_windows_done = 0
    n_batches = 0
    max_bw = 0
    max_br = 0
    bw_area = 0.0
    br_area = 0.0
    sys_area = 0.0
    last_close_done = 0.0
    bw_h = 0
    br_h = 0
    sum_proc = 0.0
    n_nonempty = 0
    max_proc = 0.0
    prev_end = 0.0

    k = 0
    while k * window_s < horizon_s:
        close = (k + 1) * window_s
        # ---- counting pass
        for j in range(4):
            rng_snap[j] = rng[j]
        t_gen_snap = t_gen
        pos_snap = pos_arr
        a_idx_snap = a_idx
        refilled = False
        n = 0
        while t_arr < close:
            n += 1
            a_idx += 1
            if a_idx == ARRIVAL_BLOCK:
                if not refilled:
                    block_snap[:] = ablock
                    refilled = True
                t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                               arrival_params, hourly_rates, trace, horizon_s,
                                               ablock)
                a_idx = 0
            t_arr = ablock[a_idx]

        # ---- the window's processing
        start = max(prev_end, close)
        if autoscale:  # evaluations at or before the window's start come first
            t_eval = j_eval * asp[AS_INTERVAL_S]
            while t_eval <= start and t_eval <= horizon_s:
                _evaluate(j_eval, fl, ff, prov_ready, busy_iv, held_iv, timeline, asp,
                          workers_per_node, bin_s, horizon_s, warmup_s)
                j_eval += 1
                t_eval = j_eval * asp[AS_INTERVAL_S]
        n_workers = _window_start(start, fl, ff, prov_ready, held_iv, timeline, asp, bin_s,
                                  horizon_s, warmup_s) * workers_per_node
        proc, nb = window_processing_s(n, max_batch, n_workers, overhead_s, service_kind,
                                       service_mean_s, service_mu, service_sigma, srng, worker_s)
        end = start + proc
        prev_end = end
        n_windows += 1
        n_batches += nb
        if n > 0:
            n_nonempty += 1
            sum_proc += proc
            max_proc = max(max_proc, proc)
            used = min(n_workers, nb)
            for w in range(used):
                busy_w += overlap(start, start + worker_s[w], warmup_s, horizon_s)
                busy_h += overlap(start, start + worker_s[w], 0.0, horizon_s)
                spread(timeline, T_BUSY_WORKER_S, start, start + worker_s[w], 1.0, bin_s,
                       horizon_s)
                if autoscale:
                    spread(busy_iv, 0, start, start + worker_s[w], 1.0, asp[AS_INTERVAL_S],
                           horizon_s)

        # ---- recording pass: regenerate the same arrivals from the snapshot
        if n > 0:
            for j in range(4):
                rng[j] = rng_snap[j]
            t_gen = t_gen_snap
            pos_arr = pos_snap
            a_idx = a_idx_snap
            if refilled:
                ablock[:] = block_snap
            t_arr = ablock[a_idx]
            while t_arr < close:
                a = t_arr
                b = int(a * inv_bin)
                if b < n_bins:
                    timeline[b, T_ARRIVALS] += 1.0
                if a >= warmup_s:
                    latency = end - a
                    sum_lat += latency
                    lat_hist[bucket_index(latency)] += 1
                    if latency <= slo_s:
                        n_slo += 1
                    n_window += 1
                sys_area += overlap(a, end, warmup_s, horizon_s)
                a_idx += 1
                if a_idx == ARRIVAL_BLOCK:
                    t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                   arrival_params, hourly_rates, trace,
                                                   horizon_s, ablock)
                    a_idx = 0
                t_arr = ablock[a_idx]
        n_total += n
        if end <= horizon_s:
            n_by_h += n
            n_windows_done += 1
            last_close_done = close
            if end >= warmup_s:
                n_done_in_window += n
            b = int(end * inv_bin)
            if b < n_bins:
                timeline[b, T_PROCESSED] += n
        else:
            n_in_sys_h += n

        # ---- backlog: the window waits in [close, start)
        if start > close:
            bw_area += overlap(close, start, warmup_s, horizon_s)
            br_area += n * overlap(close, start, warmup_s, horizon_s)
            spread(timeline, T_BACKLOG_WINDOW_S, close, start, 1.0, bin_s, horizon_s)
            spread(timeline, T_BACKLOG_RECORD_S, close, start, float(n), bin_s, horizon_s)
            if close <= horizon_s and start > horizon_s:
                bw_h += 1
                br_h += n
        while p_head < p_tail and pend_start[p_head] <= close:
            p_records -= pend_n[p_head]
            p_head += 1
        if start > close:
            if p_tail == cap:
                live = p_tail - p_head
                if p_head == 0:
                    cap *= 2
                    ns = np.empty(cap)
                    nn = np.empty(cap, dtype=np.int64)
                    ns[:live] = pend_start[:live]
                    nn[:live] = pend_n[:live]
                    pend_start = ns
                    pend_n = nn
                else:
                    pend_start[:live] = pend_start[p_head:p_tail]
                    pend_n[:live] = pend_n[p_head:p_tail]
                p_head = 0
                p_tail = live
            pend_start[p_tail] = start
            pend_n[p_tail] = n
            p_tail += 1
            p_records += n
        if close >= warmup_s and close <= horizon_s:
            max_bw = max(max_bw, p_tail - p_head)
            max_br = max(max_br, p_records)
        k += 1

    if autoscale:  # evaluations after the last window's start, up to the horizon
        while j_eval * asp[AS_INTERVAL_S] <= horizon_s:
            _evaluate(j_eval, fl, ff, prov_ready, busy_iv, held_iv, timeline, asp,
                      workers_per_node, bin_s, horizon_s, warmup_s)
            j_eval += 1
    _flush_held(horizon_s, fl, ff, held_iv, timeline, asp, bin_s, horizon_s, warmup_s)
    stats[S_N_ARRIVALS_TOTAL] = n_total
    stats[S_N_WINDOW] = n_window
    stats[S_N_PROCESSED_BY_HORIZON] = n_by_h
    stats[S_N_IN_SYSTEM_AT_HORIZON] = n_in_sys_h
    stats[S_N_COMPLETED_IN_WINDOW] = n_done_in_window
    stats[S_SUM_LATENCY_S] = sum_lat
    stats[S_N_SLO_MET] = n_slo
    stats[S_BUSY_WORKER_S] = busy_w
    stats[S_BUSY_WORKER_S_HORIZON] = busy_h
    stats[S_NODE_S_HORIZON] = ff[FF_NODE_S_H]
    stats[S_NODE_S_WINDOW] = ff[FF_NODE_S_W]
    stats[S_N_SCALE_OUT] = fl[FL_SCALE_OUT]
    stats[S_N_SCALE_IN] = fl[FL_SCALE_IN]
    stats[S_MAX_NODES] = fl[FL_MAX_HELD]
    stats[S_N_NODES_LAUNCHED] = fl[FL_LAUNCHED]
    stats[S_N_WINDOWS_TOTAL] = n_windows
    stats[S_N_WINDOWS_PROCESSED] = n_windows_done
    stats[S_N_BATCHES] = n_batches
    stats[S_MAX_BACKLOG_WINDOWS] = max_bw
    stats[S_MAX_BACKLOG_RECORDS] = max_br
    stats[S_BACKLOG_WINDOW_AREA] = bw_area
    stats[S_BACKLOG_RECORD_AREA] = br_area
    stats[S_IN_SYSTEM_AREA] = sys_area
    stats[S_LAG_AT_HORIZON_S] = horizon_s - last_close_done
    stats[S_BACKLOG_WINDOWS_AT_HORIZON] = bw_h
    stats[S_BACKLOG_RECORDS_AT_HORIZON] = br_h
    stats[S_SUM_PROCESSING_S] = sum_proc
    stats[S_N_NONEMPTY_WINDOWS] = n_nonempty
    stats[S_MAX_PROCESSING_S] = max_proc
    stats[S_LAST_END_S] = prev_end


@jit(parallel=True)
def streaming_kernel(seed, first_replication, arrival_kind, arrival_params, hourly_rates, trace,
                     service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                     n_nodes, workers_per_node, asp, window_s, overhead_s, horizon_s, warmup_s,
                     slo_s, bin_s, lat_hist, stats, timeline):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the streams seeded from ``(seed, k)`` and
        ``(seed, k + SERVICE_STREAM)``.
    first_replication : int
        Index of the replication written to row 0.
    arrival_kind, arrival_params, hourly_rates, trace
        The arrival process (see ``simulators.realtime._layout``).
    service_kind, service_mean_s, service_mu, service_sigma
        Per-batch-size service time (float64[max_batch + 1] each).
    max_batch, n_nodes, workers_per_node : int
        Largest batch (records); nodes at t = 0 and workers (GPUs) per node.
    asp : float64[N_AS_PARAMS]
        Autoscaling parameters (``AS_*``); ``asp[AS_ON] == 0`` for a fixed fleet.
    window_s, overhead_s, horizon_s, warmup_s, slo_s, bin_s : float
        Window length, per-window overhead, arrival horizon, warm-up, SLO latency threshold and
        timeline bin width (s).
    lat_hist : int64[R, N_BUCKETS]
        Output histogram of the latencies (s) of records arriving in ``[warmup_s, horizon_s)``.
    stats : float64[R, N_STATS]
        Output counters and sums (``S_*``).
    timeline : float64[R, n_bins, N_TIMELINE]
        Output per-bin accumulators (``T_*``).
    """
    for r in prange(lat_hist.shape[0]):
        _simulate_one(seed, first_replication + r, arrival_kind, arrival_params, hourly_rates,
                      trace, service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                      n_nodes, workers_per_node, asp, window_s, overhead_s, horizon_s, warmup_s,
                      slo_s, bin_s, lat_hist[r], stats[r], timeline[r])
