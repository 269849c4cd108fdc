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

The fleet (nodes, the shared target-tracking autoscaler, spot interruptions) is
``simulators/streaming/_fleet.py``: before each processing pass the kernel brings it to the
pass's start, and :func:`_account_pass` books the pass's busy time and the shares lost to node
deaths, which the next pass processes again (:func:`_process`).  The array layout (``S_*``,
``T_*``) is ``simulators/streaming/_layout.py``.
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
from simulators.streaming import _fleet as fs
from simulators.streaming._layout import (
    N_STATS,
    S_BACKLOG_RECORD_AREA,
    S_BACKLOG_RECORDS_AT_HORIZON,
    S_BACKLOG_WINDOW_AREA,
    S_BACKLOG_WINDOWS_AT_HORIZON,
    S_BUSY_SPOT_WORKER_S,
    S_BUSY_WORKER_S,
    S_BUSY_WORKER_S_HORIZON,
    S_IN_SYSTEM_AREA,
    S_LAG_AT_HORIZON_S,
    S_LAST_END_S,
    S_LOST_WORKER_S,
    S_MAX_BACKLOG_RECORDS,
    S_MAX_BACKLOG_WINDOWS,
    S_MAX_NODES,
    S_MAX_PROCESSING_S,
    S_N_ARRIVALS_TOTAL,
    S_N_BATCHES,
    S_N_COMPLETED_IN_WINDOW,
    S_N_IN_SYSTEM_AT_HORIZON,
    S_N_INTERRUPTIONS,
    S_N_LOST_SHARES,
    S_N_NODES_LAUNCHED,
    S_N_NONEMPTY_WINDOWS,
    S_N_PROCESSED_BY_HORIZON,
    S_N_REPLACEMENTS,
    S_N_REPROCESSED_RECORDS,
    S_N_SCALE_IN,
    S_N_SCALE_OUT,
    S_N_SLO_MET,
    S_N_STRANDED,
    S_N_WINDOW,
    S_N_WINDOWS_PROCESSED,
    S_N_WINDOWS_TOTAL,
    S_NODE_S_HORIZON,
    S_NODE_S_SPOT_HORIZON,
    S_NODE_S_SPOT_WINDOW,
    S_NODE_S_WINDOW,
    S_SUM_LATENCY_S,
    S_SUM_PROCESSING_S,
    SERVICE_STREAM,
    SPOT_STREAM,
    T_ARRIVALS,
    T_BACKLOG_RECORD_S,
    T_BACKLOG_WINDOW_S,
    T_BUSY_WORKER_S,
    T_PROCESSED,
    spread,
)

__all__ = ["N_STATS", "streaming_kernel", "window_processing_s"]

# per-replication sums of the passes (float64[N_ACC])
A_BUSY_W = 0  # busy worker-seconds inside [warmup, horizon]
A_BUSY_H = 1  # ... inside [0, horizon]
A_BUSY_SPOT_W = 2  # ... of spot nodes inside [warmup, horizon]
A_LOST_WS = 3  # busy worker-seconds of the shares lost to deaths
A_LOST_SHARES = 4
N_ACC = 5


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
def _worker_records(w, n_batches, n_workers, max_batch, last_size):
    """Return the records of the batches worker ``w`` runs (batch ``i`` on ``i mod n_workers``)."""
    count = (n_batches - 1 - w) // n_workers + 1
    records = count * max_batch
    if w == (n_batches - 1) % n_workers:
        records -= max_batch - last_size
    return records


@jit(inline="always")
def _book_busy(s, end_w, spot, p, acc, timeline):
    """Book a worker busy over ``[s, end_w)`` (a spot node's worker if ``spot``)."""
    horizon_s = p[fs.P_HORIZON_S]
    acc[A_BUSY_W] += overlap(s, end_w, p[fs.P_WARMUP_S], horizon_s)
    acc[A_BUSY_H] += overlap(s, end_w, 0.0, horizon_s)
    spread(timeline, T_BUSY_WORKER_S, s, end_w, 1.0, p[fs.P_BIN_S], horizon_s)
    if spot:
        acc[A_BUSY_SPOT_W] += overlap(s, end_w, p[fs.P_WARMUP_S], horizon_s)


@jit(inline="always")
def _account_pass(s, m, n_batches, max_batch, n_workers, worker_s, p, nt, nk, n_rows, busy_iv,
                  acc, timeline):
    """Account a pass of ``m`` records started at ``s`` (worker busy times ``worker_s``).

    Worker ``w`` belongs to the ``w // workers_per_node``-th usable node in launch order (the
    rows ``0 .. n_rows - 1`` of the node table ``nt``, ``nk``).  A node whose death comes
    before its last batch ends loses its share: its workers are busy up to the death, and its
    records are processed again.  Returns the lost records and when the next pass may start:
    the latest of the surviving nodes' last batch ends and the deaths.
    """
    w_per_node = int(p[fs.P_W])
    horizon_s = p[fs.P_HORIZON_S]
    autoscale = p[fs.P_AUTOSCALE] != 0.0
    used = min(n_workers, n_batches)
    last_size = m - (n_batches - 1) * max_batch
    lost = 0
    next_s = s
    u = 0
    for r in range(n_rows):
        if u * w_per_node >= used:
            break
        if not fs.row_usable(r, s, nt, nk):
            continue
        w0 = u * w_per_node
        w1 = min(w0 + w_per_node, used)
        finish = s
        for w in range(w0, w1):
            finish = max(finish, s + worker_s[w])
        death = nt[r, fs.NT_DEATH]
        dies = death < finish
        spot = nk[r, fs.NK_SPOT] != 0
        for w in range(w0, w1):
            end_w = s + worker_s[w]
            if dies:
                end_w = min(end_w, death)
            _book_busy(s, end_w, spot, p, acc, timeline)
            if autoscale:
                spread(busy_iv, fs.IV_BUSY, s, end_w, 1.0, p[fs.P_INTERVAL_S], horizon_s)
            if dies:
                acc[A_LOST_WS] += end_w - s
                lost += _worker_records(w, n_batches, n_workers, max_batch, last_size)
        if dies:
            acc[A_LOST_SHARES] += 1.0
            next_s = max(next_s, death)
        else:
            next_s = max(next_s, finish)
        u += 1
    return lost, next_s


@jit(inline="always")
def _process_static(start, n, fleet_arrays, svc, max_batch, overhead_s, srng, worker_s, acc,
                    timeline):
    """:func:`_process` for a fleet that never changes: one pass on every node.

    ``fleet_arrays`` = ``(p, si, sf, nk)`` of the fleet, unpacked once.
    """
    p, si, sf, nk = fleet_arrays
    kind, mean_s, mu, sigma = svc
    fs.flush_held(start, p, si, sf, timeline)
    if n == 0:
        return start, 0.0, 0
    n_rows = si[fs.I_ROWS]
    n_workers = n_rows * int(p[fs.P_W])
    proc, nb = window_processing_s(n, max_batch, n_workers, overhead_s, kind, mean_s, mu,
                                   sigma, srng, worker_s)
    w_per_node = int(p[fs.P_W])
    for w in range(min(n_workers, nb)):  # every node usable, none dies, no autoscaler
        _book_busy(start, start + worker_s[w], nk[w // w_per_node, fs.NK_SPOT] != 0, p, acc,
                   timeline)
    return start + proc, proc, nb


@jit(inline="always")
def _process(start, n, fl, static, svc, max_batch, overhead_s, srng, worker_s, acc, timeline):
    """Process a window of ``n`` records from ``start``, pass after pass; return its end.

    ``static``: the fleet never changes (no autoscaling, no interruptions), so every node is
    usable and only the node-seconds need bringing up to ``start``.  ``svc`` is the service
    model ``(kind, mean_s, mu, sigma)``.  Returns ``(end,
    processing_s, batches, reprocessed, fl, worker_s)``: the end (inf if no
    node is ever left), the processing time (the one pass's, or end - start), the batches run,
    the records processed again, and the fleet and scratch array (either may have grown).
    """
    kind, mean_s, mu, sigma = svc
    w_per_node = int(fl.p[fs.P_W])
    if static:
        fs.flush(start, fl)
        n_usable = fl.si[fs.I_ROWS]
    else:
        fl, n_usable = fs.begin_pass(start, fl)
    s = start
    m = n
    batches = 0
    reprocessed = 0
    while m > 0:
        if n_usable == 0:
            s, fl = fs.wait_for_node(s, fl)
            if s == math.inf:
                return math.inf, math.inf, batches, reprocessed, fl, worker_s
            fl, n_usable = fs.begin_pass(s, fl)
            continue
        n_workers = n_usable * w_per_node
        if n_workers > worker_s.shape[0]:
            worker_s = np.empty(2 * n_workers)
        proc, nb = window_processing_s(m, max_batch, n_workers, overhead_s, kind, mean_s, mu,
                                       sigma, srng, worker_s)
        batches += nb
        lost, next_s = _account_pass(s, m, nb, max_batch, n_workers, worker_s, fl.p, fl.nt,
                                     fl.nk, fl.si[fs.I_ROWS], fl.busy_iv, acc, timeline)
        if lost == 0:
            end = s + proc
            return end, proc if s == start else end - start, batches, reprocessed, fl, worker_s
        reprocessed += lost
        m = lost
        s = next_s
        fl, n_usable = fs.begin_pass(s, fl)
    return start, 0.0, batches, reprocessed, fl, worker_s


@jit
def _simulate_one(seed, replication, arrival_kind, arrival_params, hourly_rates, trace, svc,
                  max_batch, n_nodes, fp, floors, window_s, overhead_s, horizon_s, warmup_s, slo_s,
                  bin_s, lat_hist, stats, timeline):
    """Simulate one replication; write its histogram, stats and timeline."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    srng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + SERVICE_STREAM, srng)
    spot_rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + SPOT_STREAM, spot_rng)
    autoscale = fp[fs.P_AUTOSCALE] != 0.0
    static = not autoscale and not fp[fs.P_RATE] > 0.0
    per_iv = np.zeros((floors.shape[0], fs.N_IV))
    per_iv[:, fs.IV_FLOOR] = floors
    fl = fs.new_fleet(fp, n_nodes, spot_rng, per_iv, timeline)
    fleet_arrays = (fl.p, fl.si, fl.sf, fl.nk)  # a static fleet's, for good
    worker_s = np.zeros(max(n_nodes, int(fp[fs.P_MAX_NODES])) * int(fp[fs.P_W]))
    acc = np.zeros(N_ACC)
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
    n_reprocessed = 0
    n_stranded = 0

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

        # ---- the window's processing (fleet events up to its start come first)
        start = max(prev_end, close)
        if static:
            end, proc, nb = _process_static(start, n, fleet_arrays, svc, max_batch, overhead_s,
                                            srng, worker_s, acc, timeline)
            lost = 0
        else:
            end, proc, nb, lost, fl, worker_s = _process(start, n, fl, static, svc, max_batch,
                                                         overhead_s, srng, worker_s, acc,
                                                         timeline)
        prev_end = end
        n_windows += 1
        n_batches += nb
        n_reprocessed += lost
        if n > 0 and end < math.inf:
            n_nonempty += 1
            sum_proc += proc
            max_proc = max(max_proc, proc)
        elif n > 0:
            n_stranded += n

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
            finite = end < math.inf
            while t_arr < close:
                a = t_arr
                b = int(a * inv_bin)
                if b < n_bins:
                    timeline[b, T_ARRIVALS] += 1.0
                if a >= warmup_s and finite:
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

    fl = fs.advance(horizon_s, fl)  # fleet events after the last window's start, to the horizon
    fs.flush(horizon_s, fl)
    si, sf = fl.si, fl.sf
    stats[S_N_ARRIVALS_TOTAL] = n_total
    stats[S_N_WINDOW] = n_window
    stats[S_N_PROCESSED_BY_HORIZON] = n_by_h
    stats[S_N_IN_SYSTEM_AT_HORIZON] = n_in_sys_h
    stats[S_N_COMPLETED_IN_WINDOW] = n_done_in_window
    stats[S_SUM_LATENCY_S] = sum_lat
    stats[S_N_SLO_MET] = n_slo
    stats[S_BUSY_WORKER_S] = acc[A_BUSY_W]
    stats[S_BUSY_WORKER_S_HORIZON] = acc[A_BUSY_H]
    stats[S_NODE_S_HORIZON] = sf[fs.F_NODE_S_H]
    stats[S_NODE_S_WINDOW] = sf[fs.F_NODE_S_W]
    stats[S_N_SCALE_OUT] = si[fs.I_SCALE_OUT]
    stats[S_N_SCALE_IN] = si[fs.I_SCALE_IN]
    stats[S_MAX_NODES] = si[fs.I_MAX_HELD]
    stats[S_N_NODES_LAUNCHED] = si[fs.I_LAUNCHED]
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
    stats[S_NODE_S_SPOT_HORIZON] = sf[fs.F_SPOT_S_H]
    stats[S_NODE_S_SPOT_WINDOW] = sf[fs.F_SPOT_S_W]
    stats[S_BUSY_SPOT_WORKER_S] = acc[A_BUSY_SPOT_W]
    stats[S_N_INTERRUPTIONS] = si[fs.I_INTERRUPTIONS]
    stats[S_N_REPLACEMENTS] = si[fs.I_REPLACEMENTS]
    stats[S_N_LOST_SHARES] = acc[A_LOST_SHARES]
    stats[S_N_REPROCESSED_RECORDS] = n_reprocessed
    stats[S_LOST_WORKER_S] = acc[A_LOST_WS]
    stats[S_N_STRANDED] = n_stranded


@jit(parallel=True)
def streaming_kernel(seed, first_replication, arrival_kind, arrival_params, hourly_rates, trace,
                     service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                     n_nodes, fp, floors, window_s, overhead_s, horizon_s, warmup_s, slo_s, bin_s,
                     lat_hist, stats, timeline):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the streams seeded from ``(seed, k)`` (arrivals),
        ``(seed, k + SERVICE_STREAM)`` (batch durations) and ``(seed, k + SPOT_STREAM)`` (spot
        interruptions).
    first_replication : int
        Index of the replication written to row 0.
    arrival_kind, arrival_params, hourly_rates, trace
        The arrival process (see ``simulators.realtime._layout``).
    service_kind, service_mean_s, service_mu, service_sigma
        Per-batch-size service time (float64[max_batch + 1] each).
    max_batch, n_nodes : int
        Largest batch (records) and nodes at t = 0.
    fp : float64[N_PARAMS]
        The fleet's parameters (``simulators.streaming._fleet.P_*``): workers per node,
        autoscaling, provisioning delay, spot, and the horizon, warm-up and bin width again.
    floors : float64[n_intervals]
        The autoscaler's clock-schedule floor at each evaluation ``j * interval_s`` (index
        ``j``); its length is the per-interval table's (one row without autoscaling).
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
        svc = (service_kind, service_mean_s, service_mu, service_sigma)
        _simulate_one(seed, first_replication + r, arrival_kind, arrival_params, hourly_rates,
                      trace, svc, max_batch, n_nodes, fp, floors, window_s, overhead_s,
                      horizon_s, warmup_s, slo_s, bin_s, lat_hist[r], stats[r], timeline[r])
