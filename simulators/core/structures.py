"""Small array-backed data structures for the serving kernel: event heap, worker availability.

All state lives in numpy arrays owned by one replication; the functions are ``@jit`` helpers
inlined into the kernel.  Orderings are total and deterministic, matching the SimPy reference:
events by (time, priority, sequence number), workers by (free time, index).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from simulators.core.jit import jit

@jit(inline="always")
def keep_alive(value):
    """Use ``value`` here and do nothing with it.

    Numba counts references to the arrays (or tuples of arrays) an inlined helper takes, and
    drops them after their last use.  When that use is inside a branch, LLVM's pruning of
    reference counts cannot pair them and every call pays atomic increments and decrements
    (about ten times the serving loop's time when the helpers take a structure of arrays).  A
    helper that ends with ``keep_alive(arg)`` ends ``arg``'s lifetime on one path, and the
    counts are pruned away.
    """
    return None


# ----------------------------------------------------------------------------------------------
# Event heap, ordered by (time, priority, sequence number)

_SEQ_BITS = 40

EventHeap = namedtuple("EventHeap", ("t", "key", "kind", "slot", "gen", "meta"))
"""The event heap's arrays (one replication's, mutable; the tuple itself is not).

t : float64[cap]
    Event times (s).
key : int64[cap]
    ``priority << 40 | sequence``: breaks ties of equal times.
kind, slot, gen : int64[cap]
    Event kind, node slot (-1: none) and the node's generation when the event was scheduled.
meta : int64[2]
    (number of events in the heap, next sequence number).
"""


@jit
def new_event_heap(capacity):
    """Return an empty :data:`EventHeap` with room for ``capacity`` events."""
    return EventHeap(np.empty(capacity), np.empty(capacity, dtype=np.int64),
                     np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64),
                     np.empty(capacity, dtype=np.int64), np.zeros(2, dtype=np.int64))


@jit(inline="always")
def _ev_less(ev, i, j):
    return ev.t[i] < ev.t[j] or (ev.t[i] == ev.t[j] and ev.key[i] < ev.key[j])


@jit(inline="always")
def _ev_swap(ev, i, j):
    ev.t[i], ev.t[j] = ev.t[j], ev.t[i]
    ev.key[i], ev.key[j] = ev.key[j], ev.key[i]
    ev.kind[i], ev.kind[j] = ev.kind[j], ev.kind[i]
    ev.slot[i], ev.slot[j] = ev.slot[j], ev.slot[i]
    ev.gen[i], ev.gen[j] = ev.gen[j], ev.gen[i]


@jit
def event_push(ev, t, priority, kind, slot, gen):
    """Add an event; the heap arrays must have room (callers size them for the fleet)."""
    i = ev.meta[0]
    if i >= ev.t.shape[0]:
        raise RuntimeError("event heap full")
    ev.t[i] = t
    ev.key[i] = (priority << _SEQ_BITS) | ev.meta[1]
    ev.kind[i] = kind
    ev.slot[i] = slot
    ev.gen[i] = gen
    ev.meta[0] = i + 1
    ev.meta[1] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _ev_less(ev, i, parent):
            _ev_swap(ev, i, parent)
            i = parent
        else:
            break


@jit
def event_pop(ev):
    """Remove the first event; return (time, kind, slot, generation)."""
    t = ev.t[0]
    kind = ev.kind[0]
    slot = ev.slot[0]
    gen = ev.gen[0]
    n = ev.meta[0] - 1
    ev.meta[0] = n
    if n > 0:
        _ev_swap(ev, 0, n)
        i = 0
        while True:
            left = 2 * i + 1
            if left >= n:
                break
            child = left
            right = left + 1
            if right < n and _ev_less(ev, right, left):
                child = right
            if _ev_less(ev, child, i):
                _ev_swap(ev, i, child)
                i = child
            else:
                break
    return t, kind, slot, gen


@jit(inline="always")
def event_next_time(ev):
    """Return the time of the first event, or +inf when there is none."""
    t = ev.t[0] if ev.meta[0] > 0 else math.inf
    keep_alive(ev)
    return t


# ----------------------------------------------------------------------------------------------
# Worker availability: the time each worker can start a batch (+inf when its node is not READY).
# Small fleets: a plain array scanned branch-free (av_t[w]); large fleets: an indexed binary heap
# (hk = keys by heap position, hw = worker at position, pos = position of worker).

SCAN_MAX_WORKERS = 40

WorkerAvail = namedtuple("WorkerAvail", ("use_heap", "av_t", "hk", "hw", "pos"))
"""Worker availability: ``use_heap`` (bool: more than ``SCAN_MAX_WORKERS`` workers), ``av_t``
float64[W] (the time each worker can start a batch), and the heap ``hk`` float64[W], ``hw``
int64[W], ``pos`` int64[W] (kept only when ``use_heap``)."""


@jit
def new_worker_avail(n_workers):
    """Return the availability of ``n_workers`` workers, every one unavailable (+inf)."""
    return WorkerAvail(n_workers > SCAN_MAX_WORKERS, np.full(n_workers, math.inf),
                       np.full(n_workers, math.inf), np.arange(n_workers),
                       np.arange(n_workers))


@jit(inline="always")
def _h_less(hk, hw, i, j):
    return hk[i] < hk[j] or (hk[i] == hk[j] and hw[i] < hw[j])


@jit(inline="always")
def _h_swap(hk, hw, pos, i, j):
    hk[i], hk[j] = hk[j], hk[i]
    hw[i], hw[j] = hw[j], hw[i]
    pos[hw[i]] = i
    pos[hw[j]] = j


@jit(inline="always")
def _smaller_child(hk, hw, i, n):
    """Return the child of heap position ``i`` that comes first (-1: ``i`` is a leaf).

    Chosen with a select rather than a branch: on the dispatch path it is a coin flip for the
    predictor.
    """
    child = -1
    left = 2 * i + 1
    if left < n:
        child = left
        right = left + 1
        if right < n:
            t_l = hk[left]
            t_r = hk[right]
            go_right = (t_r < t_l) | ((t_r == t_l) & (hw[right] < hw[left]))
            child = left + go_right
    keep_alive(hk)
    keep_alive(hw)
    return child


@jit
def _heap_sift(hk, hw, pos, i):
    n = hk.shape[0]
    while i > 0:
        parent = (i - 1) >> 1
        if _h_less(hk, hw, i, parent):
            _h_swap(hk, hw, pos, i, parent)
            i = parent
        else:
            break
    while True:
        child = _smaller_child(hk, hw, i, n)
        if child < 0 or not _h_less(hk, hw, child, i):
            break
        _h_swap(hk, hw, pos, i, child)
        i = child


@jit(inline="always")
def avail_set(avail, w, t):
    """Set the time worker ``w`` can start its next batch (+inf: unavailable)."""
    avail.av_t[w] = t
    if avail.use_heap:
        i = avail.pos[w]
        avail.hk[i] = t
        _heap_sift(avail.hk, avail.hw, avail.pos, i)
    keep_alive(avail)


@jit(inline="always")
def heap_replace_root(hk, hw, pos, t_new):
    """Give the root worker the new time ``t_new`` (>= its old one) and sift it down.

    The hot path of the dispatch loop: the hole left by the root walks down along the smaller
    child.
    """
    n = hk.shape[0]
    w_new = hw[0]
    i = 0
    while True:
        child = _smaller_child(hk, hw, i, n)
        if child < 0:
            break
        t_c = hk[child]
        if t_c < t_new or (t_c == t_new and hw[child] < w_new):
            hk[i] = t_c
            hw[i] = hw[child]
            pos[hw[i]] = i
            i = child
        else:
            break
    hk[i] = t_new
    hw[i] = w_new
    pos[w_new] = i


# ----------------------------------------------------------------------------------------------
# Queue ring, running timeline bins, interval overlap


@jit
def grow_ring(ring, head, count):
    """Return a ring twice as large holding the same ``count`` entries from index 0."""
    mask = ring.shape[0] - 1
    bigger = np.empty(2 * ring.shape[0], dtype=np.float64)
    for k in range(count):
        bigger[k] = ring[(head + k) & mask]
    return bigger


RunningBin = namedtuple("RunningBin", ("index", "start", "end", "n", "offset"))
"""The open bin of a time-ordered timeline series (a value, kept in registers): its index
(-1: none yet), start and end (s), and the event count and offset sum not yet written."""


@jit(inline="always")
def new_running_bin():
    """Return the running bin of a series before its first event."""
    return RunningBin(-1, 0.0, -math.inf, 0.0, 0.0)


@jit(inline="always")
def tally_bin(timeline, count_field, t, weight, run, bin_s, inv_bin):
    """Add ``weight`` events at ``t`` (non-decreasing across calls) to a running bin.

    Events of one series arrive in time order, so their bin changes rarely: the counts and
    offset sums stay in registers and are written to the timeline when the bin changes (and by
    the final flush).  Returns the updated :data:`RunningBin`.
    """
    cur_bin, bin_start, bin_end, n_acc, off_acc = run
    if t >= bin_end:
        if cur_bin >= 0 and cur_bin < timeline.shape[0]:
            timeline[cur_bin, count_field] += n_acc
            timeline[cur_bin, count_field + 1] += off_acc
        cur_bin = int(t * inv_bin)
        bin_start = cur_bin * bin_s
        bin_end = bin_start + bin_s
        n_acc = 0.0
        off_acc = 0.0
    keep_alive(timeline)
    return RunningBin(cur_bin, bin_start, bin_end, n_acc + weight,
                      off_acc + weight * (t - bin_start))


@jit(inline="always")
def flush_bin(timeline, count_field, run):
    """Write the running bin's pending count and offset sum to the timeline."""
    if run.index >= 0 and run.index < timeline.shape[0]:
        timeline[run.index, count_field] += run.n
        timeline[run.index, count_field + 1] += run.offset
    keep_alive(timeline)


@jit(inline="always")
def overlap(start, end, lo, hi):
    a = max(lo, start)
    b = min(hi, end)
    return b - a if b > a else 0.0
