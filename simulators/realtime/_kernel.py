"""The real-time serving kernel's main loop: requests in arrival order, fleet events in time order.

Semantics: ``simulators/realtime/_layout.py`` (serving) and ``docs/fleet-dynamics.md`` (fleet).
Batches are contiguous runs of the FIFO queue and leave in order of dispatch time, so the loop
computes the next dispatch analytically from the head of the queue and the earliest available
worker, and runs every fleet event that comes at or before it first.  Per-request statistics are
recorded at dispatch (the completion time is known then); when a spot node dies with a batch in
service, the loop takes those records back exactly and puts the batch's requests back at the
head of the queue.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulators.core.jit import jit
from simulators.core import fleet_kernel as fk
from simulators.core import service_kernel as svk
from simulators.realtime import _layout as rt
from simulators.core.arrival_kernel import ARRIVAL_BLOCK, fill_arrivals
from simulators.core.histogram import bucket_index
from simulators.core.rng import seed_stream
from simulators.core.structures import (
    SCAN_MAX_WORKERS,
    event_next_time,
    event_pop,
    event_push,
    flush_bin,
    grow_ring,
    heap_replace_root,
    overlap,
    tally_bin,
)


@jit
def _simulate_one(seed, replication, arrival_kind, arrival_params, hourly_rates, trace,
                  service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                  max_wait_s, horizon_s, warmup_s, slo_s, bin_s, fp, schedule, prov,
                  spot_trace_t, spot_trace_k, lat_hist, wait_hist, stats, timeline, acc):
    """Simulate one replication; write its histograms, stats, timeline and fleet accounts."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    inv_bin = 1.0 / bin_s
    timeline.shape[0]
    tl_node = rt.T_NODE_BASE
    w_per_node = int(fp[fk.FP_W])
    max_nodes = int(fp[fk.FP_MAX_NODES])
    max_workers = max_nodes * w_per_node
    deadline_s = fp[fk.FP_DEADLINE_S]
    has_deadline = math.isfinite(deadline_s)

    # queue: a ring of arrival times (oldest at head)
    ring = np.empty(1024, dtype=np.float64)
    mask = ring.shape[0] - 1
    head = 0
    count = 0
    ring_sum = 0.0  # sum of the arrival times in the ring (autoscaler's outstanding area)

    # workers: availability structure, free times, the batch each one runs
    use_heap = max_workers > SCAN_MAX_WORKERS
    av_t = np.full(max_workers, math.inf)
    hk = np.full(max_workers, math.inf)
    hw = np.arange(max_workers)
    pos = np.arange(max_workers)
    w_free = np.zeros(max_workers)
    w_last_n = np.zeros(max_workers, dtype=np.int64)
    w_last_d = np.zeros(max_workers)
    inbuf = np.empty(max_workers * max_batch)
    lost_buf = np.empty(w_per_node * max_batch)

    # nodes and fleet state
    nd_state = np.full(max_nodes, -1, dtype=np.int64)
    nd_class = np.zeros(max_nodes, dtype=np.int64)
    nd_gen = np.zeros(max_nodes, dtype=np.int64)
    nd_seq = np.zeros(max_nodes, dtype=np.int64)
    nd_base = np.zeros(max_nodes, dtype=np.int64)
    nd_since = np.zeros(max_nodes)
    fi = np.zeros(fk.N_FLEET_INTS, dtype=np.int64)
    ff = np.zeros(fk.N_FLEET_FLOATS)
    ff[fk.FF_LAST_SCALE_S] = -math.inf
    ff[fk.FF_FALLBACK_CHECK_S] = -1.0
    pend_t = np.empty(4 * max_nodes + 16)
    ev_cap = 8 * max_nodes + 64
    ev_t = np.empty(ev_cap)
    ev_key = np.empty(ev_cap, dtype=np.int64)
    ev_kind = np.empty(ev_cap, dtype=np.int64)
    ev_slot = np.empty(ev_cap, dtype=np.int64)
    ev_gen = np.empty(ev_cap, dtype=np.int64)
    ev_meta = np.zeros(2, dtype=np.int64)
    extra_spot = fp[fk.FP_EXTRA_SPOT] != 0.0
    autoscale = fp[fk.FP_AUTOSCALE] != 0.0
    n_win = int(round(fp[fk.FP_WINDOW_S] / fp[fk.FP_INTERVAL_S])) if autoscale else 1
    # per-request bookkeeping that only some fleets need (kept off the fixed fleet's hot path):
    # the arrival times of each batch in service (to requeue them when a spot node dies) and
    # the running sums behind the autoscaler's outstanding-requests area
    keep_batches = extra_spot
    track_outstanding = autoscale and fp[fk.FP_METRIC] == 1.0
    w_class = np.zeros(max_workers, dtype=np.int64)
    win_busy = np.zeros(n_win + 1)
    win_sys = np.zeros(n_win + 1)

    # the warm fleet at t = 0 and the first fleet events
    fk.start_fleet(fp, fi, nd_state, nd_class, nd_gen, nd_seq, nd_base, nd_since, w_class, acc,
                   timeline, tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos,
                   w_free, rng, pend_t, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta,
                   spot_trace_t, spot_trace_k)

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
    n_dropped = 0
    n_dropped_window = 0
    n_requeued = 0
    n_stranded = 0
    sum_lat = 0.0
    sum_wait = 0.0
    sum_service = 0.0
    busy = 0.0
    queue_area = 0.0
    last_completion = 0.0
    s_exit = 0.0  # sum over requests that left of (exit - arrival)
    t_now = 0.0  # time of the latest fleet event run (no dispatch may come before it)
    s_busy = 0.0  # sum over batches of (end - start)

    # running bins of the time-ordered series (arrivals, dispatched requests, batch starts)
    a_bin, a_start, a_end, a_n, a_off = -1, 0.0, -math.inf, 0.0, 0.0
    d_bin, d_start, d_end, d_n, d_off = -1, 0.0, -math.inf, 0.0, 0.0
    b_bin, b_start, b_end, b_n, b_off = -1, 0.0, -math.inf, 0.0, 0.0

    pos_arr = -1
    ablock = np.empty(ARRIVAL_BLOCK)
    t_gen = 0.0
    t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng, arrival_params,
                                    hourly_rates, trace, horizon_s, ablock)
    a_idx = 0
    t_arr = ablock[0]

    while True:
        d_cand = math.inf
        if count == 0:
            if t_arr == math.inf:
                # nothing left to serve: run the remaining fleet events up to the horizon (they
                # are billed and counted) and any later one that may still lose a batch
                t_next_ev = event_next_time(ev_t, ev_meta)
                if ev_meta[0] == 0:
                    break
                if t_next_ev > horizon_s:
                    # after the horizon, fleet events run only while a batch is in service
                    # (a death could still put it back in the queue)
                    in_service = False
                    for w in range(max_workers):
                        if w_last_n[w] > 0 and w_free[w] > t_next_ev:
                            in_service = True
                            break
                    if not in_service:
                        break
            else:
                # An arrival enters the queue here, in the pull loop below and at an autoscaler
                # evaluation.  The three copies are deliberate: a shared inline helper returning
                # the 15-value queue state measured 12 % slower on the month benchmark.
                ring[(head + count) & mask] = t_arr
                count += 1
                if track_outstanding:
                    ring_sum += t_arr
                n_total += 1
                a_bin, a_start, a_end, a_n, a_off = tally_bin(
                    timeline, rt.T_ARRIVALS, t_arr, 1.0, a_bin, a_start, a_end, a_n, a_off, bin_s,
                    inv_bin)
                a_idx += 1
                if a_idx == ARRIVAL_BLOCK:
                    t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                    arrival_params, hourly_rates, trace,
                                                    horizon_s, ablock)
                    a_idx = 0
                t_arr = ablock[a_idx]

        n = 0
        worker = 0
        if count > 0:
            a_first = ring[head]
            if use_heap:
                t_free = hk[0]
                worker = hw[0]
            else:  # branch-free scan for the longest-idle worker (ties: lowest index), over
                # the slots nodes have used so far (new nodes take the lowest free slot)
                t_free = av_t[0]
                worker = 0
                for k in range(1, fi[fk.FI_SLOT_HI] * w_per_node):
                    f = av_t[k]
                    earlier = f < t_free
                    t_free = f if earlier else t_free
                    worker = k if earlier else worker
            t_w = max(a_first, t_free)
            if t_w < t_now:  # never dispatch before the last fleet event that ran
                t_w = t_now
            # D = max(t_w, min(A_i + max_wait, A_{i+B-1})): pull arrivals while they can still
            # be part of this batch or trigger it
            trigger = a_first + max_wait_s
            if count < max_batch:
                limit = max(t_w, trigger)
                while count < max_batch and t_arr <= limit and t_arr < math.inf:
                    if count == ring.shape[0]:
                        ring = grow_ring(ring, head, count)
                        mask = ring.shape[0] - 1
                        head = 0
                    ring[(head + count) & mask] = t_arr
                    count += 1
                    if track_outstanding:
                        ring_sum += t_arr
                    n_total += 1
                    a_bin, a_start, a_end, a_n, a_off = tally_bin(
                        timeline, rt.T_ARRIVALS, t_arr, 1.0, a_bin, a_start, a_end, a_n, a_off,
                        bin_s, inv_bin)
                    a_idx += 1
                    if a_idx == ARRIVAL_BLOCK:
                        t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                        arrival_params, hourly_rates, trace,
                                                        horizon_s, ablock)
                        a_idx = 0
                    t_arr = ablock[a_idx]
            if count >= max_batch:
                a_last = ring[(head + max_batch - 1) & mask]
                trigger = min(trigger, a_last)
            d_cand = max(t_w, trigger)
            # the batch: queued requests that arrived by the dispatch, at most max_batch (after
            # a fleet event the queue can hold requests that arrive later than the dispatch)
            n = min(max_batch, count)
            if ring[(head + n - 1) & mask] > d_cand:
                n = 0
                while n < count and n < max_batch and ring[(head + n) & mask] <= d_cand:
                    n += 1

        # ---- fleet events at or before the next dispatch run first
        if ev_meta[0] > 0 and ev_t[0] <= d_cand:
            t_e, kind, slot, gen = event_pop(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
            t_now = max(t_now, t_e)
            if slot >= 0 and nd_gen[slot] != gen:
                continue  # the node this event was for is gone
            if kind == fk.EV_DEATH:
                lost_n = 0
                for w in range(slot * w_per_node, (slot + 1) * w_per_node):
                    c_w = w_free[w]
                    nb = w_last_n[w]
                    if nb == 0 or c_w <= t_e:
                        continue
                    d_w = w_last_d[w]
                    service = c_w - d_w
                    counted = 0
                    for k in range(nb):
                        a = inbuf[w * max_batch + k]
                        if a >= warmup_s:
                            counted += 1
                            latency = c_w - a
                            wait = d_w - a
                            sum_lat -= latency
                            sum_wait -= wait
                            lat_hist[bucket_index(latency)] -= 1
                            wait_hist[bucket_index(wait)] -= 1
                            n_slo -= latency <= slo_s
                        queue_area -= overlap(d_w, t_e, warmup_s, horizon_s)
                        s_exit -= c_w - a
                    n_window -= counted
                    sum_service -= counted * service
                    if c_w <= horizon_s:
                        n_done_by_h -= nb
                        if c_w >= warmup_s:
                            n_done_in_window -= nb
                    else:
                        n_in_system_h -= nb
                    cls = nd_class[slot]
                    lost_busy_w = overlap(t_e, c_w, warmup_s, horizon_s)
                    busy -= lost_busy_w
                    acc[0, cls, fk.ACC_BUSY] -= overlap(t_e, c_w, 0.0, horizon_s)
                    acc[1, cls, fk.ACC_BUSY] -= lost_busy_w
                    s_busy -= c_w - t_e
                    if c_w < horizon_s:
                        b = int(c_w * inv_bin)
                        timeline[b, rt.T_COMPLETIONS] -= nb
                        timeline[b, rt.T_BATCHES_DONE] -= 1.0
                        timeline[b, rt.T_BATCH_DONE_OFFSET_S] -= c_w - b * bin_s
                    rt._count_event(timeline, rt.T_BATCHES_DONE, rt.T_BATCH_DONE_OFFSET_S, t_e,
                                    1.0, bin_s, inv_bin, horizon_s)
                    if d_w >= warmup_s and d_w < horizon_s:
                        n_batches -= 1
                        sum_batch -= nb
                    n_batches_total -= 1
                    n_dispatched -= nb
                    for k in range(nb):  # collect the lost requests' arrival times
                        lost_buf[lost_n] = inbuf[w * max_batch + k]
                        lost_n += 1
                    w_free[w] = t_e
                    w_last_n[w] = 0
                if lost_n > 0:
                    lost = np.sort(lost_buf[:lost_n])
                    while count + lost_n > ring.shape[0]:
                        ring = grow_ring(ring, head, count)
                        mask = ring.shape[0] - 1
                        head = 0
                    for k in range(lost_n - 1, -1, -1):
                        head = (head - 1) & mask
                        ring[head] = lost[k]
                        ring_sum += lost[k]
                    count += lost_n
                    n_requeued += lost_n
                    rt._count_event(timeline, rt.T_REQUEUED, rt.T_REQUEUED_OFFSET_S, t_e,
                                    float(lost_n), bin_s, inv_bin, horizon_s)
                fk.node_gone(t_e, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc,
                             timeline, tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t, hk,
                             hw, pos)
            elif kind == fk.EV_DRAINED:
                if nd_state[slot] == fk.ST_DRAINING:
                    fk.node_gone(t_e, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc,
                                 timeline, tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t,
                                 hk, hw, pos)
            elif kind == fk.EV_READY:
                if nd_state[slot] == fk.ST_PROVISIONING:
                    w_lo = slot * w_per_node
                    for w in range(w_lo, w_lo + w_per_node):
                        w_last_n[w] = 0
                        w_class[w] = nd_class[slot]
                    fk.node_ready(t_e, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc,
                                  timeline, tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t,
                                  hk, hw, pos, w_free, rng, ev_t, ev_key, ev_kind, ev_slot,
                                  ev_gen, ev_meta)
            elif kind == fk.EV_TRACE:
                if t_e <= horizon_s:
                    fk.trace_tick(t_e, spot_trace_k, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen,
                                  nd_seq, nd_base, nd_since, acc, timeline, tl_node, bin_s,
                                  horizon_s, warmup_s, prov, rng, use_heap, av_t, hk, hw, pos,
                                  ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, spot_trace_t)
            elif kind == fk.EV_INTERRUPT:
                state = nd_state[slot]
                if t_e <= horizon_s and (state == fk.ST_READY or state == fk.ST_DRAINING):
                    fk.node_notice(t_e, slot, True, fp, fi, nd_state, nd_class,
                                   nd_gen, nd_since, acc, timeline, tl_node, bin_s, horizon_s,
                                   warmup_s, use_heap, av_t, hk, hw, pos, pend_t, ev_t, ev_key,
                                   ev_kind, ev_slot, ev_gen, ev_meta)
            elif kind == fk.EV_LAUNCH:
                fk.try_launches(t_e, t_e >= horizon_s, fp, ff, fi, pend_t, nd_state, nd_class,
                                nd_gen, nd_seq, nd_base, nd_since, acc, timeline, tl_node,
                                bin_s, horizon_s, warmup_s, prov, rng, ev_t, ev_key, ev_kind,
                                ev_slot, ev_gen, ev_meta)
            else:  # EV_AUTOSCALE
                while t_arr <= t_e:
                    if count == ring.shape[0]:
                        ring = grow_ring(ring, head, count)
                        mask = ring.shape[0] - 1
                        head = 0
                    ring[(head + count) & mask] = t_arr
                    count += 1
                    if track_outstanding:
                        ring_sum += t_arr
                    n_total += 1
                    a_bin, a_start, a_end, a_n, a_off = tally_bin(
                        timeline, rt.T_ARRIVALS, t_arr, 1.0, a_bin, a_start, a_end, a_n, a_off, bin_s,
                        inv_bin)
                    a_idx += 1
                    if a_idx == ARRIVAL_BLOCK:
                        t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                        arrival_params, hourly_rates, trace,
                                                        horizon_s, ablock)
                        a_idx = 0
                    t_arr = ablock[a_idx]
                busy_area = s_busy
                sys_area = s_exit + count * t_e - ring_sum
                for w in range(max_workers):
                    if w_last_n[w] > 0 and w_free[w] > t_e:
                        busy_area -= w_free[w] - t_e
                        sys_area -= w_last_n[w] * (w_free[w] - t_e)
                k = count - 1
                while k >= 0 and ring[(head + k) & mask] > t_e:
                    sys_area += ring[(head + k) & mask] - t_e
                    k -= 1
                fi[fk.FI_EVALS] += 1
                e = fi[fk.FI_EVALS]
                win_busy[e % (n_win + 1)] = busy_area
                win_sys[e % (n_win + 1)] = sys_area
                e0 = e - n_win if e > n_win else 0
                start_busy = win_busy[e0 % (n_win + 1)] if e0 > 0 else 0.0
                start_sys = win_sys[e0 % (n_win + 1)] if e0 > 0 else 0.0
                window_len = t_e - e0 * fp[fk.FP_INTERVAL_S]
                desired = fk.desired_nodes(busy_area - start_busy, sys_area - start_sys,
                                           window_len, fp, t_e, schedule)
                if desired >= 0:
                    fk.apply_autoscale(t_e, desired, fp, ff, fi, pend_t, nd_state, nd_class,
                                       nd_gen, nd_seq, nd_base, nd_since, acc, timeline,
                                       tl_node, bin_s, horizon_s, warmup_s, prov, rng, use_heap,
                                       av_t, hk, hw, pos, w_free, ev_t, ev_key, ev_kind,
                                       ev_slot, ev_gen, ev_meta)
                t_next = (e + 1) * fp[fk.FP_INTERVAL_S]  # k * interval, as the contract says
                if t_next <= horizon_s:
                    event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, t_next,
                               fk.EV_PRIORITY[fk.EV_AUTOSCALE], fk.EV_AUTOSCALE, -1, 0)
            continue

        if count == 0:
            continue
        if d_cand == math.inf:
            # no node will ever take a batch again: the queue and the rest of the arrivals are
            # stranded (reported, never silently dropped)
            n_stranded = count
            while t_arr != math.inf:
                n_stranded += 1
                n_total += 1
                a_idx += 1
                if a_idx == ARRIVAL_BLOCK:
                    t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                    arrival_params, hourly_rates, trace,
                                                    horizon_s, ablock)
                    a_idx = 0
                t_arr = ablock[a_idx]
            n_in_system_h += n_stranded
            break

        dispatch = d_cand
        if has_deadline and dispatch - ring[head] > deadline_s:
            # drop every queued request that has waited past its deadline (those already in
            # the ring, then later arrivals that are stale too), then re-form the batch
            n_drop = 0
            while True:
                if count > 0:
                    a = ring[head]
                    if not dispatch - a > deadline_s:
                        break
                    head = (head + 1) & mask
                    count -= 1
                    ring_sum -= a
                elif t_arr < math.inf and dispatch - t_arr > deadline_s:
                    a = t_arr  # arrives, waits and is dropped without entering the ring
                    n_total += 1
                    a_bin, a_start, a_end, a_n, a_off = tally_bin(
                        timeline, rt.T_ARRIVALS, a, 1.0, a_bin, a_start, a_end, a_n, a_off,
                        bin_s, inv_bin)
                    a_idx += 1
                    if a_idx == ARRIVAL_BLOCK:
                        t_gen, pos_arr = fill_arrivals(arrival_kind, t_gen, pos_arr, rng,
                                                        arrival_params, hourly_rates, trace,
                                                        horizon_s, ablock)
                        a_idx = 0
                    t_arr = ablock[a_idx]
                else:
                    break
                n_drop += 1
                if a >= warmup_s:
                    n_dropped_window += 1
                queue_area += overlap(a, dispatch, warmup_s, horizon_s)
                s_exit += dispatch - a
                if dispatch > horizon_s:
                    n_in_system_h += 1
            n_dropped += n_drop
            rt._count_event(timeline, rt.T_DROPPED, rt.T_DROPPED_OFFSET_S, dispatch,
                            float(n_drop), bin_s, inv_bin, horizon_s)
            if count == 0:
                ring_sum = 0.0
            continue

        service = svk._service_time(service_kind, n, service_mean_s, service_mu, service_sigma,
                                   rng)
        completion = dispatch + service
        n_counted = 0
        base = worker * max_batch
        for k in range(n):
            a = ring[head]
            head = (head + 1) & mask
            if keep_batches:
                inbuf[base + k] = a
            if track_outstanding:
                ring_sum -= a
                s_exit += completion - a
            if a >= warmup_s:
                latency = completion - a
                wait = dispatch - a
                n_counted += 1
                sum_lat += latency
                sum_wait += wait
                lat_hist[bucket_index(latency)] += 1
                wait_hist[bucket_index(wait)] += 1
                n_slo += latency <= slo_s
            lo = max(warmup_s, a)
            hi = min(horizon_s, dispatch)
            queue_area += max(hi - lo, 0.0)
        count -= n
        if count == 0:
            ring_sum = 0.0  # resynchronise: no rounding drift across a month
        n_window += n_counted
        sum_service += n_counted * service
        w_last_n[worker] = n
        w_last_d[worker] = dispatch
        w_free[worker] = completion
        av_t[worker] = completion
        if use_heap:
            heap_replace_root(hk, hw, pos, completion)
        s_busy += service

        if completion <= horizon_s:
            n_done_by_h += n
            if completion >= warmup_s:
                n_done_in_window += n
        else:
            n_in_system_h += n
        if dispatch < horizon_s:
            d_bin, d_start, d_end, d_n, d_off = tally_bin(
                timeline, rt.T_DISPATCHED, dispatch, float(n), d_bin, d_start, d_end, d_n, d_off,
                bin_s, inv_bin)
            b_bin, b_start, b_end, b_n, b_off = tally_bin(
                timeline, rt.T_BATCHES, dispatch, 1.0, b_bin, b_start, b_end, b_n, b_off, bin_s,
                inv_bin)
        if completion < horizon_s:
            b = int(completion * inv_bin)
            timeline[b, rt.T_COMPLETIONS] += n
            timeline[b, rt.T_BATCHES_DONE] += 1.0
            timeline[b, rt.T_BATCH_DONE_OFFSET_S] += completion - b * bin_s
        busy_w = overlap(dispatch, completion, warmup_s, horizon_s)
        busy += busy_w
        cls = w_class[worker]
        acc[0, cls, fk.ACC_BUSY] += overlap(dispatch, completion, 0.0, horizon_s)
        acc[1, cls, fk.ACC_BUSY] += busy_w
        if dispatch >= warmup_s and dispatch < horizon_s:
            n_batches += 1
            sum_batch += n
        n_batches_total += 1
        n_dispatched += n
        last_completion = max(last_completion, completion)

    flush_bin(timeline, rt.T_ARRIVALS, a_bin, a_n, a_off)
    flush_bin(timeline, rt.T_DISPATCHED, d_bin, d_n, d_off)
    flush_bin(timeline, rt.T_BATCHES, b_bin, b_n, b_off)
    fk.close_accounts(nd_state, nd_class, nd_since, acc, horizon_s, warmup_s)
    stats[rt.S_N_ARRIVALS_TOTAL] = n_total
    stats[rt.S_N_WINDOW] = n_window
    stats[rt.S_N_COMPLETED_BY_HORIZON] = n_done_by_h
    stats[rt.S_N_IN_SYSTEM_AT_HORIZON] = n_in_system_h
    stats[rt.S_SUM_LATENCY_S] = sum_lat
    stats[rt.S_SUM_WAIT_S] = sum_wait
    stats[rt.S_SUM_SERVICE_S] = sum_service
    stats[rt.S_N_SLO_MET] = n_slo
    stats[rt.S_BUSY_WORKER_S] = busy
    stats[rt.S_N_BATCHES] = n_batches
    stats[rt.S_SUM_BATCH_SIZE] = sum_batch
    stats[rt.S_QUEUE_AREA] = queue_area
    stats[rt.S_LAST_COMPLETION_S] = last_completion
    stats[rt.S_N_BATCHES_TOTAL] = n_batches_total
    stats[rt.S_N_DISPATCHED_TOTAL] = n_dispatched
    stats[rt.S_N_COMPLETED_IN_WINDOW] = n_done_in_window
    stats[rt.S_N_DROPPED] = n_dropped
    stats[rt.S_N_DROPPED_WINDOW] = n_dropped_window
    stats[rt.S_N_REQUEUED] = n_requeued
    stats[rt.S_N_STRANDED] = n_stranded
    stats[rt.S_N_PREEMPTIONS] = fi[fk.FI_PREEMPTIONS]
    stats[rt.S_N_PREEMPTION_EVENTS] = fi[fk.FI_PREEMPTION_EVENTS]
    stats[rt.S_N_SCALE_OUT] = fi[fk.FI_SCALE_OUT]
    stats[rt.S_N_SCALE_IN] = fi[fk.FI_SCALE_IN]
    stats[rt.S_N_LAUNCH_BASE] = fi[fk.FI_LAUNCH_BASE + fk.CL_BASE]
    stats[rt.S_N_LAUNCH_SPOT] = fi[fk.FI_LAUNCH_BASE + fk.CL_SPOT]
    stats[rt.S_N_LAUNCH_FALLBACK] = fi[fk.FI_LAUNCH_BASE + fk.CL_FALLBACK]
    stats[rt.S_MAX_NODES] = fi[fk.FI_MAX_ALIVE]
    stats[rt.S_N_LAUNCH_NO_SLOT] = fi[fk.FI_LAUNCH_NO_SLOT]


@jit(parallel=True)
def realtime_kernel(seed, first_replication, arrival_kind, arrival_params, hourly_rates, trace,
                    service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                    max_wait_s, horizon_s, warmup_s, slo_s, bin_s, fp, schedule, prov,
                    spot_trace_t, spot_trace_k, lat_hist, wait_hist, stats, timeline, acc):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the stream seeded from ``(seed, k)``.
    first_replication : int
        Index of the replication written to row 0 (lets callers run replications in chunks).
    arrival_kind, arrival_params, hourly_rates, trace
        The arrival process (see ``simulators.realtime._layout``).
    service_kind, service_mean_s, service_mu, service_sigma
        Per-batch-size service time (float64[max_batch + 1] each).
    max_batch : int
        Largest batch.
    max_wait_s, horizon_s, warmup_s, slo_s, bin_s : float
        Batching wait, arrival horizon, warm-up, SLO latency threshold, timeline bin width (s).
    fp : float64[N_FLEET_PARAMS]
        Fleet parameters (``simulators.core.fleet_kernel.FP_*``).
    schedule : float64[k, 3]
        Scheduled minimums (start hour, end hour, nodes).
    prov : float64[k, 2]
        Provisioning delay components (median s, log-sd).
    spot_trace_t, spot_trace_k : float64[n], int64[n]
        Spot capacity trace (tick times, nodes available); used when ``fp[FP_TRACE]``.
    lat_hist, wait_hist : int64[R, N_BUCKETS]
        Output histograms of latency and wait (s) of requests arriving in the window.
    stats : float64[R, N_STATS]
        Output counters and sums (``simulators.realtime._layout.S_*``).
    timeline : float64[R, n_bins, N_TIMELINE]
        Output per-bin accumulators (``T_*``).
    acc : float64[R, 2, N_CLASSES, N_STATES + 1]
        Output node-seconds by class and state, and busy worker-seconds by class
        (``[:, 0]``: inside ``[0, horizon_s]``; ``[:, 1]``: inside ``[warmup_s, horizon_s]``).
    """
    for r in prange(lat_hist.shape[0]):
        _simulate_one(seed, first_replication + r, arrival_kind, arrival_params, hourly_rates,
                      trace, service_kind, service_mean_s, service_mu, service_sigma, max_batch,
                      max_wait_s, horizon_s, warmup_s, slo_s, bin_s, fp, schedule, prov,
                      spot_trace_t, spot_trace_k, lat_hist[r], wait_hist[r], stats[r],
                      timeline[r], acc[r])
