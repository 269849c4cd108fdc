"""Small array-backed data structures for the serving kernel: event heap, worker availability.

All state lives in numpy arrays owned by one replication; the functions are ``@jit`` helpers
inlined into the kernel.  Orderings are total and deterministic, matching the SimPy reference:
events by (time, priority, sequence number), workers by (free time, index).
"""

from __future__ import annotations

import math

import numpy as np

from simulators.core.jit import jit

# ----------------------------------------------------------------------------------------------
# Event heap: ev_t float64[cap], ev_key int64[cap] (priority << 40 | sequence),
# ev_kind int64[cap], ev_slot int64[cap], ev_gen int64[cap]; ev_meta int64[2] = (size, next seq)

_SEQ_BITS = 40


@jit(inline="always")
def _ev_less(ev_t, ev_key, i, j):
    return ev_t[i] < ev_t[j] or (ev_t[i] == ev_t[j] and ev_key[i] < ev_key[j])


@jit(inline="always")
def _ev_swap(ev_t, ev_key, ev_kind, ev_slot, ev_gen, i, j):
    ev_t[i], ev_t[j] = ev_t[j], ev_t[i]
    ev_key[i], ev_key[j] = ev_key[j], ev_key[i]
    ev_kind[i], ev_kind[j] = ev_kind[j], ev_kind[i]
    ev_slot[i], ev_slot[j] = ev_slot[j], ev_slot[i]
    ev_gen[i], ev_gen[j] = ev_gen[j], ev_gen[i]


@jit
def event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, t, priority, kind, slot, gen):
    """Add an event; the heap arrays must have room (callers size them for the fleet)."""
    i = ev_meta[0]
    if i >= ev_t.shape[0]:
        raise RuntimeError("event heap full")
    ev_t[i] = t
    ev_key[i] = (priority << _SEQ_BITS) | ev_meta[1]
    ev_kind[i] = kind
    ev_slot[i] = slot
    ev_gen[i] = gen
    ev_meta[0] = i + 1
    ev_meta[1] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _ev_less(ev_t, ev_key, i, parent):
            _ev_swap(ev_t, ev_key, ev_kind, ev_slot, ev_gen, i, parent)
            i = parent
        else:
            break


@jit
def event_pop(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """Remove the first event; return (time, kind, slot, generation)."""
    t = ev_t[0]
    kind = ev_kind[0]
    slot = ev_slot[0]
    gen = ev_gen[0]
    n = ev_meta[0] - 1
    ev_meta[0] = n
    if n > 0:
        _ev_swap(ev_t, ev_key, ev_kind, ev_slot, ev_gen, 0, n)
        i = 0
        while True:
            left = 2 * i + 1
            if left >= n:
                break
            child = left
            right = left + 1
            if right < n and _ev_less(ev_t, ev_key, right, left):
                child = right
            if _ev_less(ev_t, ev_key, child, i):
                _ev_swap(ev_t, ev_key, ev_kind, ev_slot, ev_gen, i, child)
                i = child
            else:
                break
    return t, kind, slot, gen


@jit(inline="always")
def event_next_time(ev_t, ev_meta):
    """Return the time of the first event, or +inf when there is none."""
    return ev_t[0] if ev_meta[0] > 0 else math.inf


# ----------------------------------------------------------------------------------------------
# Worker availability: the time each worker can start a batch (+inf when its node is not READY).
# Small fleets: a plain array scanned branch-free (av_t[w]); large fleets: an indexed binary heap
# (hk = keys by heap position, hw = worker at position, pos = position of worker).

SCAN_MAX_WORKERS = 40


@jit(inline="always")
def _h_less(hk, hw, i, j):
    return hk[i] < hk[j] or (hk[i] == hk[j] and hw[i] < hw[j])


@jit
def _heap_sift(hk, hw, pos, i):
    n = hk.shape[0]
    while i > 0:
        parent = (i - 1) >> 1
        if _h_less(hk, hw, i, parent):
            hk[i], hk[parent] = hk[parent], hk[i]
            hw[i], hw[parent] = hw[parent], hw[i]
            pos[hw[i]] = i
            pos[hw[parent]] = parent
            i = parent
        else:
            break
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        right = left + 1
        child = left
        if right < n and _h_less(hk, hw, right, left):
            child = right
        if _h_less(hk, hw, child, i):
            hk[i], hk[child] = hk[child], hk[i]
            hw[i], hw[child] = hw[child], hw[i]
            pos[hw[i]] = i
            pos[hw[child]] = child
            i = child
        else:
            break


@jit(inline="always")
def avail_set(use_heap, av_t, hk, hw, pos, w, t):
    """Set the time worker ``w`` can start its next batch (+inf: unavailable)."""
    av_t[w] = t
    if use_heap:
        i = pos[w]
        hk[i] = t
        _heap_sift(hk, hw, pos, i)


@jit(inline="always")
def heap_replace_root(hk, hw, pos, t_new):
    """Give the root worker the new time ``t_new`` (>= its old one) and sift it down.

    The hot path of the dispatch loop: the hole left by the root walks down along the smaller
    child, chosen with a select rather than a branch (a coin flip for the predictor).
    """
    n = hk.shape[0]
    w_new = hw[0]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        right = left + 1
        child = left
        if right < n:
            t_l = hk[left]
            t_r = hk[right]
            go_right = (t_r < t_l) | ((t_r == t_l) & (hw[right] < hw[left]))
            child = left + go_right
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


@jit(inline="always")
def tally_bin(timeline, count_field, t, weight, cur_bin, bin_start, bin_end, n_acc, off_acc,
           bin_s, inv_bin):
    """Add ``weight`` events at ``t`` (non-decreasing across calls) to a running bin.

    Events of one series arrive in time order, so their bin changes rarely: the counts and
    offset sums stay in registers and are written to the timeline when the bin changes (and by
    the final flush).  Returns the updated running state.
    """
    if t >= bin_end:
        if cur_bin >= 0 and cur_bin < timeline.shape[0]:
            timeline[cur_bin, count_field] += n_acc
            timeline[cur_bin, count_field + 1] += off_acc
        cur_bin = int(t * inv_bin)
        bin_start = cur_bin * bin_s
        bin_end = bin_start + bin_s
        n_acc = 0.0
        off_acc = 0.0
    return cur_bin, bin_start, bin_end, n_acc + weight, off_acc + weight * (t - bin_start)


@jit(inline="always")
def flush_bin(timeline, count_field, cur_bin, n_acc, off_acc):
    if cur_bin >= 0 and cur_bin < timeline.shape[0]:
        timeline[cur_bin, count_field] += n_acc
        timeline[cur_bin, count_field + 1] += off_acc


@jit(inline="always")
def overlap(start, end, lo, hi):
    a = max(lo, start)
    b = min(hi, end)
    return b - a if b > a else 0.0
