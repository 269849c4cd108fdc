"""Linked lists and completion heaps of the llm kernel, on the request pool's rows.

A request is in at most one list at a time (a replica's waiting queue or running list, the
central queue, or the pool's free list), chained by ``Q_NXT`` / ``Q_PRV``; a list's head, tail and
length are columns of its replica's row of ``ri`` (the central queue is the extra last row).
Each replica's decoding requests are in a binary min-heap keyed by the step index at whose end
they emit their last token (``hk`` / ``hr`` rows, positions in ``Q_HPOS``).

The helpers are inlined and take single arrays (never a structure of them), so that the
compiled functions that use them stay leaves (``simulators/llm/_kernel.py``'s notes).
"""

from __future__ import annotations

import numpy as np

from simulators.core.jit import jit
from simulators.core.structures import keep_alive
from simulators.llm._layout import NQ, NQF, Q_HPOS, Q_NXT, Q_PRV, R_HN


@jit(inline="always")
def push_back(qi, ri, w, hcol, tcol, q):
    """Append request ``q`` to the list of row ``w`` whose head and tail are ``hcol``, ``tcol``."""
    t = ri[w, tcol]
    qi[q, Q_NXT] = -1
    qi[q, Q_PRV] = t
    if t >= 0:
        qi[t, Q_NXT] = q
    else:
        ri[w, hcol] = q
    ri[w, tcol] = q
    keep_alive(qi)
    keep_alive(ri)


@jit(inline="always")
def push_front(qi, ri, w, hcol, tcol, q):
    """Put request ``q`` at the head of the list of row ``w``."""
    h = ri[w, hcol]
    qi[q, Q_PRV] = -1
    qi[q, Q_NXT] = h
    if h >= 0:
        qi[h, Q_PRV] = q
    else:
        ri[w, tcol] = q
    ri[w, hcol] = q
    keep_alive(qi)
    keep_alive(ri)


@jit(inline="always")
def unlink(qi, ri, w, hcol, tcol, q):
    """Take request ``q`` out of the list of row ``w``."""
    p = qi[q, Q_PRV]
    n = qi[q, Q_NXT]
    if p >= 0:
        qi[p, Q_NXT] = n
    else:
        ri[w, hcol] = n
    if n >= 0:
        qi[n, Q_PRV] = p
    else:
        ri[w, tcol] = p
    keep_alive(qi)
    keep_alive(ri)


@jit(inline="always")
def heap_push(hk, hr, qi, ri, w, key, q):
    """Add decoding request ``q`` finishing at step ``key`` to replica ``w``'s heap."""
    i = ri[w, R_HN]
    ri[w, R_HN] = i + 1
    while i > 0:
        parent = (i - 1) >> 1
        if hk[w, parent] <= key:
            break
        hk[w, i] = hk[w, parent]
        hr[w, i] = hr[w, parent]
        qi[hr[w, i], Q_HPOS] = i
        i = parent
    hk[w, i] = key
    hr[w, i] = q
    qi[q, Q_HPOS] = i
    keep_alive(hk)
    keep_alive(hr)
    keep_alive(qi)
    keep_alive(ri)


@jit(inline="always")
def heap_remove(hk, hr, qi, ri, w, i):
    """Remove the entry at position ``i`` of replica ``w``'s heap."""
    n = ri[w, R_HN] - 1
    ri[w, R_HN] = n
    key = hk[w, n]
    q = hr[w, n]
    while i < n and i > 0:  # up (nothing moves when the last entry is the one removed)
        parent = (i - 1) >> 1
        if hk[w, parent] <= key:
            break
        hk[w, i] = hk[w, parent]
        hr[w, i] = hr[w, parent]
        qi[hr[w, i], Q_HPOS] = i
        i = parent
    while i < n:  # down
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and hk[w, child + 1] < hk[w, child]:
            child += 1
        if hk[w, child] >= key:
            break
        hk[w, i] = hk[w, child]
        hr[w, i] = hr[w, child]
        qi[hr[w, i], Q_HPOS] = i
        i = child
    if i < n:
        hk[w, i] = key
        hr[w, i] = q
        qi[q, Q_HPOS] = i
    keep_alive(hk)
    keep_alive(hr)
    keep_alive(qi)
    keep_alive(ri)


@jit
def new_pool(capacity):
    """Return ``(qi, qf, free head)``: ``capacity`` request slots, all free."""
    qi = np.zeros((capacity, NQ), dtype=np.int64)
    qf = np.zeros((capacity, NQF))
    for k in range(capacity):
        qi[k, Q_NXT] = k + 1 if k + 1 < capacity else -1
    return qi, qf, 0


@jit
def grow_pool(qi, qf):
    """Return the pool twice as large (the new slots free) and the head of its free list."""
    cap = qi.shape[0]
    qi2 = np.zeros((2 * cap, NQ), dtype=np.int64)
    qf2 = np.zeros((2 * cap, NQF))
    qi2[:cap] = qi
    qf2[:cap] = qf
    for k in range(cap, 2 * cap):
        qi2[k, Q_NXT] = k + 1 if k + 1 < 2 * cap else -1
    return qi2, qf2, cap


@jit(inline="always")
def set_step_end(av_t, hk, hw, pos, use_heap, w, t):
    """Set when replica ``w``'s step ends (+inf: none runs) in the step-end structure (a
    ``simulators.core.structures.WorkerAvail``: a plain array scanned by small fleets, an indexed
    heap for large ones); its sift is written out here so the callers stay leaves."""
    av_t[w] = t
    if use_heap:
        n = hk.shape[0]
        i = pos[w]
        while i > 0:  # up
            parent = (i - 1) >> 1
            if hk[parent] < t or (hk[parent] == t and hw[parent] < w):
                break
            hk[i] = hk[parent]
            hw[i] = hw[parent]
            pos[hw[i]] = i
            i = parent
        while True:  # down
            child = 2 * i + 1
            if child >= n:
                break
            right = child + 1
            if right < n and (hk[right] < hk[child] or (hk[right] == hk[child]
                                                        and hw[right] < hw[child])):
                child = right
            if hk[child] > t or (hk[child] == t and hw[child] > w):
                break
            hk[i] = hk[child]
            hw[i] = hw[child]
            pos[hw[i]] = i
            i = child
        hk[i] = t
        hw[i] = w
        pos[w] = i
    keep_alive(av_t)
    keep_alive(hk)
    keep_alive(hw)
    keep_alive(pos)

