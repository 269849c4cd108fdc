"""Routing and the fleet side of the llm kernel: where a request goes, what a node's notice,
death or arrival changes, the autoscaler's measurements, the time integrals of the levels.

Semantics: ``docs/llm-serving.md`` (routing, nodes that go, autoscaling) on the shared fleet
(``docs/fleet-dynamics.md``, ``simulators.core.fleet_kernel``) with workers = replicas.  The
fleet helpers change node states; :func:`sync_nodes` then compares every node with the state
it was last seen in and moves the requests: a node gone (death) loses its replicas' requests to
the routing rule, a node under notice re-routes its replicas' waiting queues, a node that
became ``READY`` takes the central queue.
"""

from __future__ import annotations

import math

from simulators.core import fleet_autoscale as fa
from simulators.core import fleet_kernel as fk
from simulators.core.jit import jit
from simulators.core.structures import avail_set, event_pop, event_push, keep_alive
from simulators.llm._layout import (
    AS_IN_FLIGHT,
    AS_KV,
    LV_RUN,
    LV_USED,
    LV_WAIT,
    MF_T_LAST,
    MI_RR_LAST,
    N_LV,
    PR_ROUTED,
    Q_NXT,
    Q_PRV,
    Q_WIN,
    QF_ARRIVAL,
    R_CSUM,
    R_FIRST,
    R_HN,
    R_MODE,
    R_ND,
    R_NRUN,
    R_NWAIT,
    R_PF,
    R_PREFIX,
    R_RHEAD,
    R_RTAIL,
    R_USED,
    R_WHEAD,
    R_WTAIL,
    S_RECOMPUTED_TOKENS,
    S_REROUTED,
    T_REROUTED,
    T_RUNNING_AREA,
)
from simulators.llm._lists import push_back, unlink
from simulators.llm._preempt import lose_context
from simulators.llm._replica import account_busy, count_at, mark_pending


@jit(inline="always")
def bin_areas(timeline, lv, t0, t1, bin_s, inv_bin):
    """Add the levels' integrals over ``[t0, t1)`` to the timeline bins it crosses."""
    n_bins = timeline.shape[0]
    b = min(int(t0 * inv_bin), n_bins - 1)
    start = t0
    while start < t1 and b < n_bins:
        end = t1 if b == n_bins - 1 else min((b + 1) * bin_s, t1)
        for i in range(N_LV):
            timeline[b, T_RUNNING_AREA + i] += lv[i] * (end - start)
        start = end
        b += 1
    keep_alive(timeline)
    keep_alive(lv)


@jit
def advance(rep, t):
    """Integrate the levels (running, waiting, used blocks, busy replicas) up to ``t``.  A
    leaf (``_replica.py``'s notes)."""
    mf = rep.mf
    lv = rep.lv
    area = rep.area
    area_w = rep.area_w
    timeline = rep.out.timeline
    en = rep.en
    inv_bin = rep.inv_bin
    t0 = mf[MF_T_LAST]
    if t > t0:
        dt = t - t0
        lo = max(t0, en.warmup_s)
        hi = min(t, en.horizon_s)
        for i in range(N_LV):
            area[i] += lv[i] * dt
            if hi > lo:
                area_w[i] += lv[i] * (hi - lo)
        if t0 < en.horizon_s:
            bin_areas(timeline, lv, t0, hi, en.bin_s, inv_bin)
        mf[MF_T_LAST] = t
    keep_alive(mf)
    keep_alive(lv)
    keep_alive(area)
    keep_alive(area_w)
    keep_alive(timeline)
    keep_alive(rep)


@jit(inline="always")
def choose_replica(nd_state, n_slots, ri, mi, w_node, round_robin):
    """Return the replica a request goes to (the routing rule), or -1 when none is READY."""
    best = -1
    if round_robin:
        n = n_slots * w_node
        last = mi[MI_RR_LAST]
        for k in range(1, n + 1):
            w = (last + k) % n
            if nd_state[w // w_node] == fk.ST_READY:
                best = w
                break
        if best >= 0:
            mi[MI_RR_LAST] = best
    else:
        best_n = 1 << 62
        for slot in range(n_slots):
            if nd_state[slot] == fk.ST_READY:
                for w in range(slot * w_node, (slot + 1) * w_node):
                    o = ri[w, R_NWAIT] + ri[w, R_NRUN]
                    if o < best_n:
                        best_n = o
                        best = w
    keep_alive(nd_state)
    keep_alive(ri)
    keep_alive(mi)
    return best


@jit(inline="always")
def route_to_replica(qi, ri, lv, pend, mi, mf, free_t, per_rep, nd_state, n_slots, w_node,
                     round_robin, q, t):
    """Put request ``q`` (in no list) in the waiting queue of the replica the routing rule
    picks at ``t``.  Returns False (and does nothing) when no replica is READY."""
    w = choose_replica(nd_state, n_slots, ri, mi, w_node, round_robin)
    routed = w >= 0
    if routed:
        push_back(qi, ri, w, R_WHEAD, R_WTAIL, q)
        ri[w, R_NWAIT] += 1
        lv[LV_WAIT] += 1.0
        per_rep[w, PR_ROUTED] += 1.0
        if ri[w, R_MODE] == 0:
            mark_pending(pend, mi, mf, ri, free_t, w, t)
    keep_alive(qi)
    keep_alive(ri)
    keep_alive(lv)
    keep_alive(pend)
    keep_alive(mi)
    keep_alive(mf)
    keep_alive(free_t)
    keep_alive(per_rep)
    keep_alive(nd_state)
    return routed


@jit
def to_central(rep, qi, qf, q):
    """Put request ``q`` in the central queue, in arrival order."""
    ri = rep.ri
    cq = ri.shape[0] - 1
    a = qf[q, QF_ARRIVAL]
    after = ri[cq, R_WTAIL]
    while after >= 0 and qf[after, QF_ARRIVAL] > a:
        after = qi[after, Q_PRV]
    if after < 0:
        nxt = ri[cq, R_WHEAD]
        qi[q, Q_PRV] = -1
        qi[q, Q_NXT] = nxt
        ri[cq, R_WHEAD] = q
    else:
        nxt = qi[after, Q_NXT]
        qi[q, Q_PRV] = after
        qi[q, Q_NXT] = nxt
        qi[after, Q_NXT] = q
    if nxt >= 0:
        qi[nxt, Q_PRV] = q
    else:
        ri[cq, R_WTAIL] = q
    ri[cq, R_NWAIT] += 1
    rep.lv[LV_WAIT] += 1.0


@jit
def route(rep, qi, qf, q, t):
    """Route request ``q`` (in no list) at ``t``: to a READY replica's waiting queue, or to the
    central queue when there is none."""
    if not route_to_replica(qi, rep.ri, rep.lv, rep.pend, rep.mi, rep.mf, rep.wk.free_t,
                            rep.out.per_replica, rep.st.nd_state, rep.st.fi[fk.FI_SLOT_HI], rep.w_per_node,
                            rep.en.round_robin, q, t):
        to_central(rep, qi, qf, q)


@jit
def route_chain(rep, qi, qf, q, t):
    """Route the requests chained from ``q`` by ``Q_NXT``, in order."""
    while q >= 0:
        nxt = qi[q, Q_NXT]
        route(rep, qi, qf, q, t)
        q = nxt


@jit
def evict(rep, qi, w, t):
    """Replica ``w``'s node is gone: every request on it loses its KV cache.  Returns the head
    of the chain of its requests (running in admission order, then waiting), reset to prefill
    ``p + g`` tokens from 0, and leaves the replica empty."""
    ri = rep.ri
    stats = rep.out.stats
    head = -1
    tail = -1
    for part in range(2):
        q = ri[w, R_RHEAD] if part == 0 else ri[w, R_WHEAD]
        while q >= 0:
            nxt = qi[q, Q_NXT]
            if part == 0:
                _, c = lose_context(rep, qi, w, q)
            else:
                c = 0
            if qi[q, Q_WIN] != 0:
                stats[S_REROUTED] += 1.0
                stats[S_RECOMPUTED_TOKENS] += c
            count_at(rep.out.timeline, T_REROUTED, t, rep.en.horizon_s, rep.inv_bin)
            if tail >= 0:
                qi[tail, Q_NXT] = q
            else:
                head = q
            qi[q, Q_NXT] = -1
            tail = q
            q = nxt
    rep.lv[LV_RUN] -= ri[w, R_NRUN]
    rep.lv[LV_WAIT] -= ri[w, R_NWAIT]
    rep.lv[LV_USED] -= ri[w, R_USED]
    if ri[w, R_MODE] == 1:
        account_busy(rep.rf, rep.out.acc, rep.out.stats, rep.lv, rep.out.per_replica,
                     rep.wk.cls[w], rep.en, w, t)
        avail_set(rep.steps, w, math.inf)
    reset_replica(rep, w)
    return head


@jit
def reset_replica(rep, w):
    """Make replica ``w`` empty and idle."""
    ri = rep.ri
    for col in (R_WHEAD, R_WTAIL, R_RHEAD, R_RTAIL, R_PF, R_FIRST):
        ri[w, col] = -1
    for col in (R_NWAIT, R_NRUN, R_ND, R_CSUM, R_USED, R_PREFIX, R_MODE, R_HN):
        ri[w, col] = 0
    rep.cnt[w, :] = 0


@jit
def node_empty(rep, slot):
    """Return whether no replica of node ``slot`` holds a request or runs a step."""
    ri = rep.ri
    for w in range(slot * rep.w_per_node, (slot + 1) * rep.w_per_node):
        if ri[w, R_NRUN] + ri[w, R_NWAIT] > 0 or ri[w, R_MODE] != 0:
            return False
    return True


@jit
def drain_central(rep, qi, qf, t):
    """Route the central queue's requests (arrival order) while a replica is READY."""
    ri = rep.ri
    cq = ri.shape[0] - 1
    while ri[cq, R_NWAIT] > 0:
        if rep.st.fi[fk.FI_N_READY] == 0:
            break
        q = ri[cq, R_WHEAD]
        unlink(qi, ri, cq, R_WHEAD, R_WTAIL, q)
        ri[cq, R_NWAIT] -= 1
        rep.lv[LV_WAIT] -= 1.0
        route(rep, qi, qf, q, t)


@jit
def sync_nodes(t, rep, qi, qf):
    """Move requests after a fleet event changed nodes (see the module notes)."""
    st = rep.st
    seen = rep.seen
    ri = rep.ri
    w_node = rep.w_per_node
    became_ready = False
    for slot in range(st.nd_state.shape[0]):
        state = st.nd_state[slot]
        gen = st.nd_gen[slot]
        old = seen[0, slot]
        same_node = gen == seen[1, slot]
        if state == old and same_node:
            continue
        if old >= 0 and (state < 0 or not same_node):  # the node seen before is gone
            for w in range(slot * w_node, (slot + 1) * w_node):
                head = evict(rep, qi, w, t)
                route_chain(rep, qi, qf, head, t)
        elif state == fk.ST_NOTICE:  # its waiting requests go elsewhere
            for w in range(slot * w_node, (slot + 1) * w_node):
                head = ri[w, R_WHEAD]
                rep.lv[LV_WAIT] -= ri[w, R_NWAIT]
                ri[w, R_WHEAD] = -1
                ri[w, R_WTAIL] = -1
                ri[w, R_NWAIT] = 0
                route_chain(rep, qi, qf, head, t)
        if state == fk.ST_READY:
            became_ready = True
        seen[0, slot] = state
        seen[1, slot] = gen
    if became_ready:
        drain_central(rep, qi, qf, t)


@jit
def autoscale(t, rep):
    """Run an autoscaler evaluation at ``t`` on the window's measured load."""
    fp = rep.par.fp
    en = rep.en
    win = rep.win
    n_win = win.shape[1] - 1
    fi = rep.st.fi
    busy_area = 0.0
    sys_area = 0.0
    if en.as_metric == AS_KV:
        busy_area = rep.area[LV_USED] / en.total_blocks
    elif en.as_metric == AS_IN_FLIGHT:
        sys_area = rep.area[LV_RUN] + rep.area[LV_WAIT]
    else:
        sys_area = rep.area[LV_WAIT]
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
    t_next = (e + 1) * fp[fk.FP_INTERVAL_S]
    if t_next <= en.horizon_s:
        event_push(rep.ev, t_next, fk.EV_PRIORITY[fk.EV_AUTOSCALE], fk.EV_AUTOSCALE, -1, 0)


@jit
def fleet_event(rep, qi, qf):
    """Run the first fleet event, then move the requests it concerns."""
    t_e, kind, slot, gen = event_pop(rep.ev)
    advance(rep, t_e)
    par, st, books, wk, ev = rep.par, rep.st, rep.books, rep.wk, rep.ev
    horizon_s = rep.en.horizon_s
    if slot >= 0 and st.nd_gen[slot] != gen:
        return  # the node this event was for is gone
    if kind == fk.EV_DEATH:
        fk.node_gone(t_e, slot, par, st, books, wk)
    elif kind == fk.EV_DRAINED:
        if st.nd_state[slot] == fk.ST_DRAINING and node_empty(rep, slot):
            fk.node_gone(t_e, slot, par, st, books, wk)
    elif kind == fk.EV_READY:
        if st.nd_state[slot] == fk.ST_PROVISIONING:
            for w in range(slot * rep.w_per_node, (slot + 1) * rep.w_per_node):
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
    else:
        autoscale(t_e, rep)
    sync_nodes(t_e, rep, qi, qf)
