"""The real-time kernel's request side: the queue ring, the arrival cursor, batches and
their dispatch, deadline drops, and the per-request tallies (private to
``simulators.realtime``; the serving loop and fleet events are in ``_kernel.py``)."""

from __future__ import annotations

import math
from collections import namedtuple

from simulators.core import fleet_kernel as fk
from simulators.core.arrival_kernel import ARRIVAL_BLOCK, fill_arrivals
from simulators.core.histogram import bucket_index
from simulators.core.jit import jit
from simulators.core.structures import (
    grow_ring,
    heap_replace_root,
    keep_alive,
    overlap,
    tally_bin,
)
from simulators.realtime import _layout as rt

Replication = namedtuple("Replication", (
    "src", "service", "sv", "out", "rng", "block", "par", "st", "books", "wk", "ev", "batches",
    "win", "drops", "inv_bin", "w_per_node", "keep_batches", "track_outstanding", "has_deadline",
    "deadline_s"))
"""One replication's structures: the inputs (``rt.ArrivalSource``, ``rt.ServiceModel``,
``rt.Serving``), its ``rt.Outputs`` rows, the random stream, the current block of arrival times,
the fleet (``fk.FleetParams``, ``fk.FleetState``, ``fk.FleetAcc``, ``fk.Workers``, the event
heap), the batches in service (:data:`Batches`), the autoscaler's window of areas float64[2,
n_win + 1], the rare counters int64[N_DROPS] (``D_*``) and derived scalars."""

Batches = namedtuple("Batches", ("n", "dispatch_t", "arrivals", "lost"))
"""The last batch of each worker: size int64[W], dispatch time float64[W] and arrival times
float64[W * max_batch] (kept only when a node can die), and room for one node's lost requests."""

Queue = namedtuple("Queue", ("head", "count", "ring_sum"))
"""The FIFO queue's indices into its ring of arrival times (a power of two long, oldest at
``head``), and the sum of the queued arrival times (the autoscaler's outstanding area)."""

Cursor = namedtuple("Cursor", ("idx", "t_gen", "pos", "t_next", "n_taken"))
"""The arrival stream: index of the next arrival in the block, the generator's state
(``fill_arrivals``), the next arrival time (+inf: none left) and the arrivals taken so far."""

Tally = namedtuple("Tally", (
    "n_window", "n_done_by_h", "n_done_in_window", "n_in_system_h", "n_slo", "n_batches",
    "sum_batch", "n_batches_total", "n_dispatched", "sum_lat", "sum_wait", "sum_service", "busy",
    "queue_area", "last_completion", "s_exit", "s_busy"))
"""The counters that dispatches update (``S_*`` of the same names), plus ``s_exit`` (sum over
requests that left of exit - arrival) and ``s_busy`` (sum over batches of end - start)."""

# rare counters (int64 array, off the dispatch path)
D_DROPPED = 0
D_DROPPED_WINDOW = 1
D_REQUEUED = 2
D_STRANDED = 3
N_DROPS = 4


@jit(inline="always")
def _ring_capacity(max_batch):
    """Return the first ring length: a power of two that holds a full batch."""
    size = 1024
    while size < max_batch:
        size *= 2
    return size


@jit
def _refill(cur, src, horizon_s, rng, block):
    """Generate the next block of arrival times; return the cursor at its first.

    The serving loop calls it where it finds the block used up (``cur.idx == ARRIVAL_BLOCK``),
    at once, before any other random draw.
    """
    t_gen, pos = fill_arrivals(src.kind, cur.t_gen, cur.pos, rng, src.params, src.hourly_rates,
                               src.trace, horizon_s, block)
    return Cursor(0, t_gen, pos, block[0], cur.n_taken)


@jit(inline="always")
def _step(cur, block):
    """Count the current arrival as taken and move to the next one in the block.

    At the end of the block (``idx == ARRIVAL_BLOCK``) ``t_next`` is not valid until the
    caller refills it (:func:`_refill`).  Refills stay out of the inlined helpers that take
    the replication's structures: see :func:`simulators.core.structures.keep_alive`.
    """
    idx = cur.idx + 1
    return Cursor(idx, cur.t_gen, cur.pos, block[idx & (ARRIVAL_BLOCK - 1)], cur.n_taken + 1)


@jit(inline="always")
def _admit(rep, ring, q, cur, a_run):
    """Put the next arrival at the tail of the queue (the ring has room for it)."""
    a = cur.t_next
    ring[(q.head + q.count) & (ring.shape[0] - 1)] = a
    ring_sum = q.ring_sum + a if rep.track_outstanding else q.ring_sum
    a_run = tally_bin(rep.out.timeline, rt.T_ARRIVALS, a, 1.0, a_run, rep.sv.bin_s, rep.inv_bin)
    cur = _step(cur, rep.block)
    keep_alive(rep)
    keep_alive(ring)
    return Queue(q.head, q.count + 1, ring_sum), cur, a_run


@jit
def _admit_until(t, rep, ring, q, cur, a_run):
    """Queue every arrival up to ``t``, growing the ring as needed."""
    while cur.t_next <= t:
        if q.count == ring.shape[0]:
            ring = grow_ring(ring, q.head, q.count)
            q = Queue(0, q.count, q.ring_sum)
        q, cur, a_run = _admit(rep, ring, q, cur, a_run)
        if cur.idx == ARRIVAL_BLOCK:
            cur = _refill(cur, rep.src, rep.sv.horizon_s, rep.rng, rep.block)
    return ring, q, cur, a_run


@jit(inline="always")
def _batch_start(rep, ring, q, t_now):
    """Return (t_w, worker, trigger) for the batch at the head of the (non-empty) queue.

    ``worker`` is the longest-idle worker (ties: lowest index), ``t_w`` the earliest time it
    and the head request are both there (never before the last fleet event ``t_now``), and
    ``trigger`` the head's wait deadline A_i + max_wait.
    """
    avail = rep.wk.avail
    if avail.use_heap:
        t_free = avail.hk[0]
        worker = avail.hw[0]
    else:  # branch-free scan over the slots nodes have used so far (new nodes take the lowest
        # free slot)
        t_free = avail.av_t[0]
        worker = 0
        for k in range(1, rep.st.fi[fk.FI_SLOT_HI] * rep.w_per_node):
            f = avail.av_t[k]
            earlier = f < t_free
            t_free = f if earlier else t_free
            worker = k if earlier else worker
    a_first = ring[q.head]
    t_w = max(a_first, t_free)
    if t_w < t_now:  # never dispatch before the last fleet event that ran
        t_w = t_now
    trigger = a_first + rep.sv.max_wait_s
    keep_alive(avail)
    keep_alive(rep)
    keep_alive(ring)
    return t_w, worker, trigger


@jit(inline="always")
def _batch_end(ring, q, max_batch, t_w, trigger):
    """Return (dispatch, n): D = max(t_w, min(A_i + max_wait, A_{i+B-1})) and the batch size.

    The batch is the queued requests that arrived by the dispatch, at most ``max_batch``
    (after a fleet event the queue can hold requests that arrive later than the dispatch).
    """
    mask = ring.shape[0] - 1
    if q.count >= max_batch:
        trigger = min(trigger, ring[(q.head + max_batch - 1) & mask])
    dispatch = max(t_w, trigger)
    n = min(max_batch, q.count)
    if ring[(q.head + n - 1) & mask] > dispatch:
        n = 0
        while n < q.count and n < max_batch and ring[(q.head + n) & mask] <= dispatch:
            n += 1
    keep_alive(ring)
    return dispatch, n


@jit(inline="always")
def _request_sums(tally):
    """Return the tally's sums over requests: (sum_lat, sum_wait, n_slo, queue_area, s_exit)."""
    return tally.sum_lat, tally.sum_wait, tally.n_slo, tally.queue_area, tally.s_exit


@jit(inline="always")
def _take_batch(rep, ring, q, n, worker, dispatch, completion, tally):
    """Take the ``n`` oldest requests off the queue into ``worker``'s batch, served from
    ``dispatch`` to ``completion``, and record each one.

    Returns the queue and the per-request sums carried on from ``tally``: (queue, requests in
    the window, sum_lat, sum_wait, n_slo, queue_area, s_exit).
    """
    sv = rep.sv
    head, count, ring_sum = q
    mask = ring.shape[0] - 1
    n_counted = 0
    sum_lat, sum_wait, n_slo, queue_area, s_exit = _request_sums(tally)
    base = worker * sv.max_batch
    for k in range(n):
        a = ring[head]
        head = (head + 1) & mask
        if rep.keep_batches:
            rep.batches.arrivals[base + k] = a
        if rep.track_outstanding:
            ring_sum -= a
            s_exit += completion - a
        if a >= sv.warmup_s:
            latency = completion - a
            wait = dispatch - a
            n_counted += 1
            sum_lat += latency
            sum_wait += wait
            rep.out.lat_hist[bucket_index(latency)] += 1
            rep.out.wait_hist[bucket_index(wait)] += 1
            n_slo += latency <= sv.slo_s
        lo = max(sv.warmup_s, a)
        hi = min(sv.horizon_s, dispatch)
        queue_area += max(hi - lo, 0.0)
    count -= n
    if count == 0:
        ring_sum = 0.0  # resynchronise: no rounding drift across a month
    keep_alive(rep)
    keep_alive(ring)
    return (Queue(head, count, ring_sum), n_counted, sum_lat, sum_wait, n_slo, queue_area,
            s_exit)


@jit(inline="always")
def _dispatch(rep, ring, q, n, worker, dispatch, service, tally, d_run, b_run):
    """Start the ``n`` oldest queued requests on ``worker`` at ``dispatch`` for ``service``
    seconds; record them.  Returns the queue, the tally and the dispatched and batch-start
    running bins.
    """
    sv = rep.sv
    warmup_s = sv.warmup_s
    horizon_s = sv.horizon_s
    timeline = rep.out.timeline
    completion = dispatch + service
    q, n_counted, sum_lat, sum_wait, n_slo, queue_area, s_exit = _take_batch(
        rep, ring, q, n, worker, dispatch, completion, tally)
    rep.batches.n[worker] = n
    rep.batches.dispatch_t[worker] = dispatch
    rep.wk.free_t[worker] = completion
    avail = rep.wk.avail
    avail.av_t[worker] = completion
    if avail.use_heap:
        heap_replace_root(avail.hk, avail.hw, avail.pos, completion)
    if dispatch < horizon_s:
        d_run = tally_bin(timeline, rt.T_DISPATCHED, dispatch, float(n), d_run, sv.bin_s,
                          rep.inv_bin)
        b_run = tally_bin(timeline, rt.T_BATCHES, dispatch, 1.0, b_run, sv.bin_s, rep.inv_bin)
    if completion < horizon_s:
        b = int(completion * rep.inv_bin)
        timeline[b, rt.T_COMPLETIONS] += n
        timeline[b, rt.T_BATCHES_DONE] += 1.0
        timeline[b, rt.T_BATCH_DONE_OFFSET_S] += completion - b * sv.bin_s
    busy_w = overlap(dispatch, completion, warmup_s, horizon_s)
    cls = rep.wk.cls[worker]
    rep.out.acc[0, cls, fk.ACC_BUSY] += overlap(dispatch, completion, 0.0, horizon_s)
    rep.out.acc[1, cls, fk.ACC_BUSY] += busy_w
    done_by_h = completion <= horizon_s
    started_in_window = dispatch >= warmup_s and dispatch < horizon_s
    keep_alive(avail)
    keep_alive(timeline)
    keep_alive(rep)
    keep_alive(ring)
    return (q,
            Tally(tally.n_window + n_counted,
                  tally.n_done_by_h + (n if done_by_h else 0),
                  tally.n_done_in_window + (n if done_by_h and completion >= warmup_s else 0),
                  tally.n_in_system_h + (0 if done_by_h else n),
                  n_slo,
                  tally.n_batches + (1 if started_in_window else 0),
                  tally.sum_batch + (n if started_in_window else 0),
                  tally.n_batches_total + 1,
                  tally.n_dispatched + n,
                  sum_lat, sum_wait, tally.sum_service + n_counted * service,
                  tally.busy + busy_w, queue_area, max(tally.last_completion, completion),
                  s_exit, tally.s_busy + service),
            d_run, b_run)


@jit(inline="always")
def _drop_stale(rep, ring, q, cur, tally, a_run, dispatch, n_drop):
    """Drop every queued request that has waited past its deadline at ``dispatch``.

    Those already in the ring go first, then later arrivals that are stale too (they arrive,
    wait and are dropped without entering the ring).  Stops early at the end of the block of
    arrivals: the caller refills it and calls again.  Returns (queue, cursor, tally, a_run,
    the number dropped so far).
    """
    head, count, ring_sum = q
    n_in_system_h = tally.n_in_system_h
    queue_area = tally.queue_area
    s_exit = tally.s_exit
    sv = rep.sv
    while True:
        if count > 0:
            a = ring[head]
            if not dispatch - a > rep.deadline_s:
                break
            head = (head + 1) & (ring.shape[0] - 1)
            count -= 1
            ring_sum -= a
        elif (cur.idx < ARRIVAL_BLOCK and cur.t_next < math.inf
              and dispatch - cur.t_next > rep.deadline_s):
            a = cur.t_next
            a_run = tally_bin(rep.out.timeline, rt.T_ARRIVALS, a, 1.0, a_run, sv.bin_s,
                              rep.inv_bin)
            cur = _step(cur, rep.block)
        else:
            break
        n_drop += 1
        if a >= sv.warmup_s:
            rep.drops[D_DROPPED_WINDOW] += 1
        queue_area += overlap(a, dispatch, sv.warmup_s, sv.horizon_s)
        s_exit += dispatch - a
        if dispatch > sv.horizon_s:
            n_in_system_h += 1
    keep_alive(rep)
    keep_alive(ring)
    return (Queue(head, count, ring_sum), cur,
            Tally(tally.n_window, tally.n_done_by_h, tally.n_done_in_window, n_in_system_h,
                  tally.n_slo, tally.n_batches, tally.sum_batch, tally.n_batches_total,
                  tally.n_dispatched, tally.sum_lat, tally.sum_wait, tally.sum_service,
                  tally.busy, queue_area, tally.last_completion, s_exit, tally.s_busy),
            a_run, n_drop)


@jit(inline="always")
def _count_drops(rep, q, n_drop, dispatch):
    """Count the ``n_drop`` requests dropped at ``dispatch``; return the queue."""
    sv = rep.sv
    rep.drops[D_DROPPED] += n_drop
    rt._count_event(rep.out.timeline, rt.T_DROPPED, rt.T_DROPPED_OFFSET_S, dispatch,
                    float(n_drop), sv.bin_s, rep.inv_bin, sv.horizon_s)
    keep_alive(rep)
    return q if q.count > 0 else Queue(q.head, 0, 0.0)
