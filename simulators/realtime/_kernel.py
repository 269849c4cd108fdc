"""The real-time serving kernel's main loop: requests in arrival order, fleet events in time order.

Semantics: ``simulators/realtime/_layout.py`` (serving) and ``docs/fleet-dynamics.md`` (fleet).
Batches are contiguous runs of the FIFO queue and leave in order of dispatch time, so the loop
computes the next dispatch analytically from the head of the queue and the earliest available
worker, and runs every fleet event that comes at or before it first.  Per-request statistics are
recorded at dispatch (the completion time is known then); when a spot node dies with a batch in
service, the loop takes those records back exactly and puts the batch's requests back at the
head of the queue.

State travels in a few named structures.  :data:`Replication` holds one replication's arrays
(inputs, outputs, fleet, workers, event heap); it is built once and never changes, but the
arrays inside do.  What changes on every request is kept in registers as immutable values that
the inlined helpers return anew: the queue's indices (:data:`Queue`), the arrival cursor
(:data:`Cursor`), the running timeline bins and the counters (:data:`Tally`).

Two rules keep the structures free on the hot path (Numba counts references to every array an
inlined helper takes; unpruned, those atomic counts cost the loop ten times its time): an
inlined helper that takes ``rep`` ends with ``keep_alive`` (see there) and calls no other
helper that takes ``rep`` in a branch, and the arrival block is refilled in the loop itself
(:func:`_refill`), not inside a helper.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulators.core import fleet_autoscale as fa
from simulators.core import fleet_kernel as fk
from simulators.core import service_kernel as svk
from simulators.core.arrival_kernel import ARRIVAL_BLOCK
from simulators.core.histogram import bucket_index
from simulators.core.jit import jit
from simulators.core.rng import seed_stream
from simulators.core.structures import (
    event_next_time,
    event_pop,
    event_push,
    flush_bin,
    grow_ring,
    new_event_heap,
    new_running_bin,
    new_worker_avail,
    overlap,
)
from simulators.realtime import _layout as rt
from simulators.realtime._queue import (
    D_DROPPED,
    D_DROPPED_WINDOW,
    D_REQUEUED,
    D_STRANDED,
    N_DROPS,
    Batches,
    Cursor,
    Queue,
    Replication,
    Tally,
    _admit,
    _admit_until,
    _batch_end,
    _batch_start,
    _count_drops,
    _dispatch,
    _drop_stale,
    _refill,
    _request_sums,
    _ring_capacity,
    _step,
)


@jit
def _strand(rep, q, cur):
    """No node will ever take a batch again: count the queue and the remaining arrivals as
    stranded (reported, never silently dropped); return the cursor at the end."""
    n_stranded = q.count
    while cur.t_next != math.inf:
        n_stranded += 1
        cur = _step(cur, rep.block)
        if cur.idx == ARRIVAL_BLOCK:
            cur = _refill(cur, rep.src, rep.sv.horizon_s, rep.rng, rep.block)
    rep.drops[D_STRANDED] = n_stranded
    return cur


@jit
def _unrecord_batch(t_e, w, rep, tally):
    """Take back the records of worker ``w``'s batch, lost at ``t_e`` before it completed."""
    sv = rep.sv
    out = rep.out
    warmup_s = sv.warmup_s
    horizon_s = sv.horizon_s
    c_w = rep.wk.free_t[w]
    nb = rep.batches.n[w]
    d_w = rep.batches.dispatch_t[w]
    counted = 0
    sum_lat, sum_wait, n_slo, queue_area, s_exit = _request_sums(tally)
    for k in range(nb):
        a = rep.batches.arrivals[w * sv.max_batch + k]
        if a >= warmup_s:
            counted += 1
            latency = c_w - a
            wait = d_w - a
            sum_lat -= latency
            sum_wait -= wait
            out.lat_hist[bucket_index(latency)] -= 1
            out.wait_hist[bucket_index(wait)] -= 1
            n_slo -= latency <= sv.slo_s
        queue_area -= overlap(d_w, t_e, warmup_s, horizon_s)
        s_exit -= c_w - a
    cls = rep.st.nd_class[w // rep.w_per_node]
    lost_busy_w = overlap(t_e, c_w, warmup_s, horizon_s)
    out.acc[0, cls, fk.ACC_BUSY] -= overlap(t_e, c_w, 0.0, horizon_s)
    out.acc[1, cls, fk.ACC_BUSY] -= lost_busy_w
    if c_w < horizon_s:
        b = int(c_w * rep.inv_bin)
        out.timeline[b, rt.T_COMPLETIONS] -= nb
        out.timeline[b, rt.T_BATCHES_DONE] -= 1.0
        out.timeline[b, rt.T_BATCH_DONE_OFFSET_S] -= c_w - b * sv.bin_s
    rt._count_event(out.timeline, rt.T_BATCHES_DONE, rt.T_BATCH_DONE_OFFSET_S, t_e, 1.0,
                    sv.bin_s, rep.inv_bin, horizon_s)
    done_by_h = c_w <= horizon_s
    started_in_window = d_w >= warmup_s and d_w < horizon_s
    return Tally(tally.n_window - counted,
                 tally.n_done_by_h - (nb if done_by_h else 0),
                 tally.n_done_in_window - (nb if done_by_h and c_w >= warmup_s else 0),
                 tally.n_in_system_h - (0 if done_by_h else nb),
                 n_slo,
                 tally.n_batches - (1 if started_in_window else 0),
                 tally.sum_batch - (nb if started_in_window else 0),
                 tally.n_batches_total - 1,
                 tally.n_dispatched - nb,
                 sum_lat, sum_wait, tally.sum_service - counted * (c_w - d_w),
                 tally.busy - lost_busy_w, queue_area, tally.last_completion, s_exit,
                 tally.s_busy - (c_w - t_e))


@jit
def _node_death(t_e, slot, rep, ring, q, tally):
    """A node dies: its batches in service are lost and their requests go back to the head
    of the queue (oldest first); the node goes.  Returns (ring, queue, tally)."""
    lost = rep.batches.lost
    lost_n = 0
    for w in range(slot * rep.w_per_node, (slot + 1) * rep.w_per_node):
        nb = rep.batches.n[w]
        if nb == 0 or rep.wk.free_t[w] <= t_e:
            continue
        tally = _unrecord_batch(t_e, w, rep, tally)
        for k in range(nb):  # collect the lost requests' arrival times
            lost[lost_n] = rep.batches.arrivals[w * rep.sv.max_batch + k]
            lost_n += 1
        rep.wk.free_t[w] = t_e
        rep.batches.n[w] = 0
    if lost_n > 0:
        ring, q = _requeue(np.sort(lost[:lost_n]), ring, q)
        rep.drops[D_REQUEUED] += lost_n
        rt._count_event(rep.out.timeline, rt.T_REQUEUED, rt.T_REQUEUED_OFFSET_S, t_e,
                        float(lost_n), rep.sv.bin_s, rep.inv_bin, rep.sv.horizon_s)
    fk.node_gone(t_e, slot, rep.par, rep.st, rep.books, rep.wk)
    return ring, q, tally


@jit
def _requeue(lost, ring, q):
    """Put the sorted arrival times ``lost`` back at the head of the queue."""
    head, count, ring_sum = q
    n = lost.shape[0]
    while count + n > ring.shape[0]:
        ring = grow_ring(ring, head, count)
        head = 0
    mask = ring.shape[0] - 1
    for k in range(n - 1, -1, -1):
        head = (head - 1) & mask
        ring[head] = lost[k]
        ring_sum += lost[k]
    return ring, Queue(head, count + n, ring_sum)


@jit
def _window_areas(t, rep, ring, q, tally):
    """Return the busy worker-seconds and the requests-in-system area up to ``t``."""
    busy_area = tally.s_busy
    sys_area = tally.s_exit + q.count * t - q.ring_sum
    free_t = rep.wk.free_t
    for w in range(free_t.shape[0]):
        if rep.batches.n[w] > 0 and free_t[w] > t:
            busy_area -= free_t[w] - t
            sys_area -= rep.batches.n[w] * (free_t[w] - t)
    mask = ring.shape[0] - 1
    k = q.count - 1
    while k >= 0 and ring[(q.head + k) & mask] > t:
        sys_area += ring[(q.head + k) & mask] - t
        k -= 1
    return busy_area, sys_area


@jit
def _autoscale(t, rep, busy_area, sys_area):
    """Run an autoscaler evaluation at ``t`` on the areas since the start of its window."""
    fp = rep.par.fp
    win = rep.win
    n_win = win.shape[1] - 1
    fi = rep.st.fi
    fi[fk.FI_EVALS] += 1
    e = fi[fk.FI_EVALS]
    win[0, e % (n_win + 1)] = busy_area
    win[1, e % (n_win + 1)] = sys_area
    e0 = e - n_win if e > n_win else 0
    start_busy = win[0, e0 % (n_win + 1)] if e0 > 0 else 0.0
    start_sys = win[1, e0 % (n_win + 1)] if e0 > 0 else 0.0
    window_len = t - e0 * fp[fk.FP_INTERVAL_S]
    desired = fa.desired_nodes(busy_area - start_busy, sys_area - start_sys, window_len,
                               rep.par, t)
    if desired >= 0:
        fa.apply_autoscale(t, desired, rep.par, rep.st, rep.books, rep.wk, rep.ev, rep.rng)
    t_next = (e + 1) * fp[fk.FP_INTERVAL_S]  # k * interval, as the contract says
    if t_next <= rep.sv.horizon_s:
        event_push(rep.ev, t_next, fk.EV_PRIORITY[fk.EV_AUTOSCALE], fk.EV_AUTOSCALE, -1, 0)


@jit
def _fleet_event(rep, ring, q, cur, tally, a_run, t_now):
    """Run the first fleet event.  Returns (ring, queue, cursor, tally, a_run, t_now)."""
    t_e, kind, slot, gen = event_pop(rep.ev)
    t_now = max(t_now, t_e)
    par, st, books, wk, ev = rep.par, rep.st, rep.books, rep.wk, rep.ev
    horizon_s = rep.sv.horizon_s
    if slot >= 0 and st.nd_gen[slot] != gen:
        return ring, q, cur, tally, a_run, t_now  # the node this event was for is gone
    if kind == fk.EV_DEATH:
        ring, q, tally = _node_death(t_e, slot, rep, ring, q, tally)
    elif kind == fk.EV_DRAINED:
        if st.nd_state[slot] == fk.ST_DRAINING:
            fk.node_gone(t_e, slot, par, st, books, wk)
    elif kind == fk.EV_READY:
        if st.nd_state[slot] == fk.ST_PROVISIONING:
            w_lo = slot * rep.w_per_node
            for w in range(w_lo, w_lo + rep.w_per_node):
                rep.batches.n[w] = 0
                wk.cls[w] = st.nd_class[slot]
            fk.node_ready(t_e, slot, par, st, books, wk, ev, rep.rng)
    elif kind == fk.EV_TRACE:
        if t_e <= horizon_s:
            fk.trace_tick(t_e, par, st, books, wk, ev, rep.rng)
    elif kind == fk.EV_INTERRUPT:
        state = st.nd_state[slot]
        if t_e <= horizon_s and (state == fk.ST_READY or state == fk.ST_DRAINING):
            fk.node_notice(t_e, slot, True, par, st, books, wk, ev)
    elif kind == fk.EV_LAUNCH:
        fk.try_launches(t_e, t_e >= horizon_s, par, st, books, ev, rep.rng)
    else:  # EV_AUTOSCALE
        ring, q, cur, a_run = _admit_until(t_e, rep, ring, q, cur, a_run)
        busy_area, sys_area = _window_areas(t_e, rep, ring, q, tally)
        _autoscale(t_e, rep, busy_area, sys_area)
    return ring, q, cur, tally, a_run, t_now


@jit
def _events_still_matter(rep):
    """With nothing left to serve: whether the next fleet event still runs.

    Fleet events up to the horizon run (they are billed and counted); after it only while a
    batch is in service (a death could still put it back in the queue).
    """
    t_next_ev = event_next_time(rep.ev)
    if rep.ev.meta[0] == 0:
        return False
    if t_next_ev <= rep.sv.horizon_s:
        return True
    free_t = rep.wk.free_t
    for w in range(free_t.shape[0]):
        if rep.batches.n[w] > 0 and free_t[w] > t_next_ev:
            return True
    return False


@jit
def _serve(rep):
    """Run one replication's serving loop; return its final cursor and tally.

    The inlined helpers take ``rep`` and end with ``keep_alive`` (see there), and none of them
    calls another that takes ``rep``: the structure costs the loop no reference counting.
    """
    sv = rep.sv
    max_batch = sv.max_batch
    src = rep.src
    rng = rep.rng
    block = rep.block
    ev = rep.ev
    kind, mean_s, mu, sigma = rep.service
    ring = np.empty(_ring_capacity(max_batch))
    q = Queue(0, 0, 0.0)
    cur = _refill(Cursor(ARRIVAL_BLOCK, 0.0, -1, 0.0, 0), src, sv.horizon_s, rng, block)
    tally = Tally(0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    # running bins of the time-ordered series (arrivals, dispatched requests, batch starts)
    a_run = new_running_bin()
    d_run = new_running_bin()
    b_run = new_running_bin()
    t_now = 0.0  # time of the latest fleet event run (no dispatch may come before it)
    while True:
        if q.count == 0:
            if cur.t_next == math.inf:
                if not _events_still_matter(rep):
                    break
            else:
                q, cur, a_run = _admit(rep, ring, q, cur, a_run)
                if cur.idx == ARRIVAL_BLOCK:
                    cur = _refill(cur, src, sv.horizon_s, rng, block)
        d_cand = math.inf
        n = 0
        worker = 0
        if q.count > 0:
            t_w, worker, trigger = _batch_start(rep, ring, q, t_now)
            # pull arrivals while they can still be part of this batch or trigger it
            limit = max(t_w, trigger)
            while q.count < max_batch and cur.t_next <= limit and cur.t_next < math.inf:
                q, cur, a_run = _admit(rep, ring, q, cur, a_run)
                if cur.idx == ARRIVAL_BLOCK:
                    cur = _refill(cur, src, sv.horizon_s, rng, block)
            d_cand, n = _batch_end(ring, q, max_batch, t_w, trigger)
        # fleet events at or before the next dispatch run first
        if ev.meta[0] > 0 and ev.t[0] <= d_cand:
            ring, q, cur, tally, a_run, t_now = _fleet_event(rep, ring, q, cur, tally, a_run,
                                                             t_now)
            continue
        if q.count == 0:
            continue
        if d_cand == math.inf:
            cur = _strand(rep, q, cur)
            break
        if rep.has_deadline and d_cand - ring[q.head] > rep.deadline_s:
            n_drop = 0
            while True:
                q, cur, tally, a_run, n_drop = _drop_stale(rep, ring, q, cur, tally, a_run,
                                                           d_cand, n_drop)
                if cur.idx < ARRIVAL_BLOCK:
                    break
                cur = _refill(cur, src, sv.horizon_s, rng, block)
            q = _count_drops(rep, q, n_drop, d_cand)
            continue
        service = svk._service_time(kind, n, mean_s, mu, sigma, rng)
        q, tally, d_run, b_run = _dispatch(rep, ring, q, n, worker, d_cand, service, tally,
                                           d_run, b_run)
    timeline = rep.out.timeline
    flush_bin(timeline, rt.T_ARRIVALS, a_run)
    flush_bin(timeline, rt.T_DISPATCHED, d_run)
    flush_bin(timeline, rt.T_BATCHES, b_run)
    return cur, tally


@jit
def _write_stats(stats, cur, tally, drops, fi):
    """Write one replication's counters to its ``S_*`` row."""
    stats[rt.S_N_ARRIVALS_TOTAL] = cur.n_taken
    stats[rt.S_N_WINDOW] = tally.n_window
    stats[rt.S_N_COMPLETED_BY_HORIZON] = tally.n_done_by_h
    stats[rt.S_N_IN_SYSTEM_AT_HORIZON] = tally.n_in_system_h + drops[D_STRANDED]
    stats[rt.S_SUM_LATENCY_S] = tally.sum_lat
    stats[rt.S_SUM_WAIT_S] = tally.sum_wait
    stats[rt.S_SUM_SERVICE_S] = tally.sum_service
    stats[rt.S_N_SLO_MET] = tally.n_slo
    stats[rt.S_BUSY_WORKER_S] = tally.busy
    stats[rt.S_N_BATCHES] = tally.n_batches
    stats[rt.S_SUM_BATCH_SIZE] = tally.sum_batch
    stats[rt.S_QUEUE_AREA] = tally.queue_area
    stats[rt.S_LAST_COMPLETION_S] = tally.last_completion
    stats[rt.S_N_BATCHES_TOTAL] = tally.n_batches_total
    stats[rt.S_N_DISPATCHED_TOTAL] = tally.n_dispatched
    stats[rt.S_N_COMPLETED_IN_WINDOW] = tally.n_done_in_window
    stats[rt.S_N_DROPPED] = drops[D_DROPPED]
    stats[rt.S_N_DROPPED_WINDOW] = drops[D_DROPPED_WINDOW]
    stats[rt.S_N_REQUEUED] = drops[D_REQUEUED]
    stats[rt.S_N_STRANDED] = drops[D_STRANDED]
    stats[rt.S_N_PREEMPTIONS] = fi[fk.FI_PREEMPTIONS]
    stats[rt.S_N_PREEMPTION_EVENTS] = fi[fk.FI_PREEMPTION_EVENTS]
    stats[rt.S_N_SCALE_OUT] = fi[fk.FI_SCALE_OUT]
    stats[rt.S_N_SCALE_IN] = fi[fk.FI_SCALE_IN]
    stats[rt.S_N_LAUNCH_BASE] = fi[fk.FI_LAUNCH_BASE + fk.CL_BASE]
    stats[rt.S_N_LAUNCH_SPOT] = fi[fk.FI_LAUNCH_BASE + fk.CL_SPOT]
    stats[rt.S_N_LAUNCH_FALLBACK] = fi[fk.FI_LAUNCH_BASE + fk.CL_FALLBACK]
    stats[rt.S_MAX_NODES] = fi[fk.FI_MAX_ALIVE]
    stats[rt.S_N_LAUNCH_NO_SLOT] = fi[fk.FI_LAUNCH_NO_SLOT]


@jit
def _new_replication(seed, replication, src, service, sv, par, out):
    """Return replication ``replication``'s structures, its stream seeded, its fleet empty."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    fp = par.fp
    w_per_node = int(fp[fk.FP_W])
    max_nodes = int(fp[fk.FP_MAX_NODES])
    max_workers = max_nodes * w_per_node
    autoscale = fp[fk.FP_AUTOSCALE] != 0.0
    n_win = int(round(fp[fk.FP_WINDOW_S] / fp[fk.FP_INTERVAL_S])) if autoscale else 1
    deadline_s = fp[fk.FP_DEADLINE_S]
    return Replication(
        src, service, sv, out, rng, np.empty(ARRIVAL_BLOCK), par, fk.new_fleet_state(max_nodes),
        fk.FleetAcc(out.acc, out.timeline, rt.T_NODE_BASE, sv.bin_s, sv.horizon_s, sv.warmup_s),
        fk.Workers(new_worker_avail(max_workers), np.zeros(max_workers),
                   np.zeros(max_workers, dtype=np.int64)),
        new_event_heap(8 * max_nodes + 64),
        Batches(np.zeros(max_workers, dtype=np.int64), np.zeros(max_workers),
                np.empty(max_workers * sv.max_batch), np.empty(w_per_node * sv.max_batch)),
        np.zeros((2, n_win + 1)), np.zeros(N_DROPS, dtype=np.int64), 1.0 / sv.bin_s, w_per_node,
        # per-request bookkeeping that only some fleets need (kept off the fixed fleet's hot
        # path): the arrival times of each batch in service (to requeue them when a spot node
        # dies) and the running sums behind the autoscaler's outstanding-requests area
        fp[fk.FP_EXTRA_SPOT] != 0.0, autoscale and fp[fk.FP_METRIC] == 1.0,
        math.isfinite(deadline_s), deadline_s)


@jit
def _simulate_one(seed, replication, src, service, sv, par, out):
    """Simulate one replication; write its histograms, stats, timeline and fleet accounts."""
    rep = _new_replication(seed, replication, src, service, sv, par, out)
    # the warm fleet at t = 0 and the first fleet events
    fk.start_fleet(par, rep.st, rep.books, rep.wk, rep.ev, rep.rng)
    cur, tally = _serve(rep)
    fk.close_accounts(rep.st, rep.books)
    _write_stats(out.stats, cur, tally, rep.drops, rep.st.fi)


@jit(parallel=True)
def realtime_kernel(seed, first_replication, src, service, sv, par, out):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the stream seeded from ``(seed, k)``.
    first_replication : int
        Index of the replication written to row 0 (lets callers run replications in chunks).
    src : rt.ArrivalSource
        The arrival process (see ``simulators.realtime._layout``).
    service : rt.ServiceModel
        Per-batch-size service time (float64[max_batch + 1] each).
    sv : rt.Serving
        Largest batch; batching wait, arrival horizon, warm-up, SLO latency threshold and
        timeline bin width (s).
    par : fk.FleetParams
        Fleet parameters (``simulators.core.fleet_kernel.FP_*``), scheduled minimums,
        provisioning delay components and spot capacity trace.
    out : rt.Outputs
        Output arrays with one row per replication: ``lat_hist``, ``wait_hist`` int64[R,
        N_BUCKETS] (latency and wait (s) of requests arriving in the window), ``stats``
        float64[R, N_STATS] (``S_*``), ``timeline`` float64[R, n_bins, N_TIMELINE] (``T_*``)
        and ``acc`` float64[R, 2, N_CLASSES, N_STATES + 1] (node-seconds by class and state,
        and busy worker-seconds by class; ``[:, 0]`` inside ``[0, horizon_s]``, ``[:, 1]``
        inside ``[warmup_s, horizon_s]``).
    """
    for r in prange(out.lat_hist.shape[0]):
        row = rt.Outputs(out.lat_hist[r], out.wait_hist[r], out.stats[r], out.timeline[r],
                         out.acc[r])
        _simulate_one(seed, first_replication + r, src, service, sv, par, row)
