"""The llm kernel's main loop: arrivals, step ends and fleet events in time order.

Semantics: ``docs/llm-serving.md``; the replica's iteration is ``_replica.py``, routing and the
fleet ``_fleet.py``.  At equal times a step end runs first (its tokens are out before anything
else at that time), then arrivals, then fleet events, and last the steps that start then
(``R_MODE`` 2, "pending"): a replica that gets work or ends a step with work left starts its
next step once every event at that time ran, so simultaneous arrivals share a step and a node
that dies at a step's end loses nothing of it.

State travels in a few named structures (:data:`simulators.llm._layout.Replication` and the
request pool's two arrays).  The per-event functions the loop calls are *leaves* (see
``_replica.py``): they bind the arrays they use to locals first, use only inlined helpers that
take single arrays, and end with ``keep_alive`` of each; Numba can then drop the reference
counting of the structures they take.  The arrival block is refilled in the loop itself.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulators.core import fleet_kernel as fk
from simulators.core.arrival_kernel import ARRIVAL_BLOCK, fill_arrivals
from simulators.core.jit import jit
from simulators.core.rng import seed_stream, uniform
from simulators.core.structures import keep_alive, new_event_heap, new_worker_avail
from simulators.llm import _layout as lk
from simulators.llm._fleet import (
    advance,
    fleet_event,
    node_empty,
    reset_replica,
    route_to_replica,
    to_central,
)
from simulators.llm._layout import (
    LV_RUN,
    LV_USED,
    LV_WAIT,
    MF_T_LAST,
    MF_T_PEND,
    MI_FREE,
    MI_IN_SYSTEM,
    MI_NPEND,
    MI_PASSED_HORIZON,
    MI_RR_LAST,
    MI_WIN_IN_SYSTEM,
    Q_G,
    Q_K,
    Q_NXT,
    Q_O,
    Q_P,
    Q_PP,
    Q_WIN,
    QF_ARRIVAL,
    QF_TTFT,
    R_MODE,
    R_NRUN,
    R_NWAIT,
    Cursor,
)
from simulators.llm._lists import grow_pool, new_pool
from simulators.llm._preempt import preempt_walk
from simulators.llm._replica import (
    admit_and_launch,
    count_at,
    end_step,
    schedule_running,
)
from simulators.llm._steptime import step_tables

TOKEN_STREAM = 1 << 32
"""Token draws use stream ``replication + TOKEN_STREAM`` of the scenario seed, so the arrival
times (and the fleet's draws) are those of the real-time pattern for the same seed."""


@jit
def _refill(cur, src, horizon_s, rng, block):
    """Generate the next block of arrival times; return the cursor at its first."""
    t_gen, pos = fill_arrivals(src.kind, cur.t_gen, cur.pos, rng, src.params, src.hourly_rates,
                               src.trace, horizon_s, block)
    return Cursor(0, t_gen, pos, block[0], cur.n_taken)


@jit(inline="always")
def _step(cur, block):
    """Take the current arrival and move to the next one in the block."""
    idx = cur.idx + 1
    return Cursor(idx, cur.t_gen, cur.pos, block[idx & (ARRIVAL_BLOCK - 1)], cur.n_taken + 1)


@jit(inline="always")
def alone_blocks(en, p, o):
    """Return the KV blocks a request needs at its largest with nothing else on its replica."""
    bs = en.block_size
    nb = (p + o + bs - 1) // bs
    if en.prefix_tokens > 0:
        shared = (min(en.prefix_tokens, p) + bs - 1) // bs
        if en.prefix_blocks > shared:
            nb += en.prefix_blocks - shared
    return nb


@jit
def _arrive(rep, qi, qf, cur):
    """Take the next arrival (the levels are integrated up to it, the pool has a free slot):
    draw its tokens, reject it or route it.  Returns (cursor, the request when it must go to
    the central queue, else -1).  A leaf (``_replica.py``'s notes)."""
    en = rep.en
    prompt = rep.tok.prompt
    output = rep.tok.output
    sequential = rep.tok.sequential
    rng_tok = rep.rng_tok
    stats = rep.out.stats
    timeline = rep.out.timeline
    block = rep.block
    ri = rep.ri
    lv = rep.lv
    pend = rep.pend
    mi = rep.mi
    mf = rep.mf
    free_t = rep.wk.free_t
    per_rep = rep.out.per_replica
    nd_state = rep.st.nd_state
    n_slots = rep.st.fi[fk.FI_SLOT_HI]
    w_node = rep.w_per_node
    inv_bin = rep.inv_bin
    t = cur.t_next
    i = cur.n_taken
    cur = _step(cur, block)
    n = prompt.shape[0]
    u = uniform(rng_tok)  # drawn in both orders: the token stream is the tokens' own
    j = i % n if sequential else min(int(u * n), n - 1)
    p = prompt[j]
    o = output[j]
    win = t >= en.warmup_s
    stats[lk.S_ARRIVED_TOTAL] += 1.0
    stats[lk.S_ARRIVED] += win
    count_at(timeline, lk.T_ARRIVALS, t, en.horizon_s, inv_bin)
    central = -1
    if alone_blocks(en, p, o) > en.total_blocks:  # can never fit: rejected, counted
        stats[lk.S_REJECTED] += win
        timeline[min(int(t * inv_bin), timeline.shape[0] - 1), lk.T_REJECTED] += 1.0
    else:
        q = mi[MI_FREE]
        mi[MI_FREE] = qi[q, Q_NXT]
        qi[q, Q_P] = p
        qi[q, Q_O] = o
        qi[q, Q_K] = 0
        qi[q, Q_PP] = p
        qi[q, Q_G] = 0
        qi[q, Q_WIN] = 1 if win else 0
        qf[q, QF_ARRIVAL] = t
        qf[q, QF_TTFT] = -1.0
        mi[MI_IN_SYSTEM] += 1
        mi[MI_WIN_IN_SYSTEM] += 1 if win else 0
        if not route_to_replica(qi, ri, lv, pend, mi, mf, free_t, per_rep, nd_state, n_slots,
                                w_node, en.round_robin, q, t):
            central = q
    keep_alive(prompt)
    keep_alive(output)
    keep_alive(rng_tok)
    keep_alive(stats)
    keep_alive(timeline)
    keep_alive(block)
    keep_alive(ri)
    keep_alive(lv)
    keep_alive(pend)
    keep_alive(mi)
    keep_alive(mf)
    keep_alive(free_t)
    keep_alive(per_rep)
    keep_alive(nd_state)
    keep_alive(rep)
    keep_alive(qi)
    keep_alive(qf)
    return cur, central


@jit
def _next_step_end(rep):
    """Return (time, replica) of the first step to end (+inf, -1: none runs).  A leaf."""
    steps = rep.steps
    av_t = steps.av_t
    hk = steps.hk
    hw = steps.hw
    n = rep.st.fi[fk.FI_SLOT_HI] * rep.w_per_node
    t = math.inf
    w = -1
    if steps.use_heap:
        t = hk[0]
        w = hw[0]
    else:
        for k in range(n):
            f = av_t[k]
            earlier = f < t
            t = f if earlier else t
            w = k if earlier else w
    keep_alive(av_t)
    keep_alive(hk)
    keep_alive(hw)
    keep_alive(rep)
    return t, w


@jit
def _went_idle(rep, w, t):
    """Replica ``w`` emptied at ``t`` on a draining node: the node goes when all are empty."""
    slot = w // rep.w_per_node
    if node_empty(rep, slot):
        fk.node_gone(t, slot, rep.par, rep.st, rep.books, rep.wk)
        rep.seen[0, slot] = -1
        rep.seen[1, slot] = rep.st.nd_gen[slot]


@jit
def _run(rep, qi, qf, cur):
    """Run the loop until the end, or until an arrival finds no free request slot.  Returns
    (cursor, finished)."""
    mi = rep.mi
    mf = rep.mf
    ri = rep.ri
    pend = rep.pend
    free_t = rep.wk.free_t
    nd_state = rep.st.nd_state
    w_node = rep.w_per_node
    horizon_s = rep.en.horizon_s
    src = rep.src
    rng = rep.rng
    block = rep.block
    ev_t = rep.ev.t
    ev_meta = rep.ev.meta
    done = True
    while True:
        t_s, w = _next_step_end(rep)
        t_a = cur.t_next
        t_f = ev_t[0] if ev_meta[0] > 0 else math.inf
        t_min = min(t_s, min(t_a, t_f))
        if mi[MI_NPEND] > 0 and t_min > mf[MF_T_PEND]:
            t_p = mf[MF_T_PEND]
            advance(rep, t_p)
            n_pend = mi[MI_NPEND]
            mi[MI_NPEND] = 0
            for k in range(n_pend):  # start the steps of the replicas that got work at t_p
                w = pend[k]
                if ri[w, R_MODE] != 2:
                    continue
                if ri[w, R_NRUN] + ri[w, R_NWAIT] == 0:
                    ri[w, R_MODE] = 0
                    free_t[w] = t_p
                    continue
                ok, free, n_pref, first, b_left = schedule_running(rep, qi, w)
                if not ok:
                    free, n_pref, first, b_left = preempt_walk(rep, qi, w, t_p)
                admit_and_launch(rep, qi, w, t_p, free, n_pref, first, b_left)
            continue
        if t_min > horizon_s and mi[MI_PASSED_HORIZON] == 0:
            _pass_horizon(rep)
        if t_s <= t_a and t_s <= t_f:
            if t_s == math.inf:
                break  # nothing runs, arrives or happens any more
            advance(rep, t_s)
            idle = end_step(rep, qi, qf, w, t_s)
            if idle and nd_state[w // w_node] == fk.ST_DRAINING:
                _went_idle(rep, w, t_s)
        elif t_a <= t_f:
            if mi[MI_FREE] < 0:
                done = False
                break
            advance(rep, t_a)
            cur, central = _arrive(rep, qi, qf, cur)
            if central >= 0:
                to_central(rep, qi, qf, central)
            if cur.idx == ARRIVAL_BLOCK:
                cur = _refill(cur, src, horizon_s, rng, block)
        else:
            if t_f > horizon_s and mi[MI_IN_SYSTEM] == 0:
                break  # after the horizon fleet events matter only while requests remain
            fleet_event(rep, qi, qf)
    keep_alive(mi)
    keep_alive(mf)
    keep_alive(ri)
    keep_alive(pend)
    keep_alive(free_t)
    keep_alive(nd_state)
    keep_alive(src)
    keep_alive(rng)
    keep_alive(block)
    keep_alive(ev_t)
    keep_alive(ev_meta)
    keep_alive(rep)
    keep_alive(qi)
    keep_alive(qf)
    return cur, done


@jit
def _serve(rep):
    """Run one replication's loop (growing the request pool when it is full); return the
    arrivals taken."""
    qi, qf, free = new_pool(1024)
    rep.mi[MI_FREE] = free
    cur = _refill(Cursor(ARRIVAL_BLOCK, 0.0, -1, 0.0, 0), rep.src, rep.en.horizon_s, rep.rng,
                  rep.block)
    while True:
        cur, done = _run(rep, qi, qf, cur)
        if done:
            break
        qi, qf, rep.mi[MI_FREE] = grow_pool(qi, qf)
    if rep.mf[MF_T_LAST] < rep.en.horizon_s:
        advance(rep, rep.en.horizon_s)
    if rep.mi[MI_PASSED_HORIZON] == 0:
        _pass_horizon(rep)
    return cur.n_taken


@jit
def _pass_horizon(rep):
    """Record what the horizon sees (every event at or before it has run)."""
    rep.mi[MI_PASSED_HORIZON] = 1
    rep.out.stats[lk.S_IN_SYSTEM_AT_HORIZON] = rep.mi[MI_WIN_IN_SYSTEM]


@jit
def _write_stats(rep):
    """Write the replication's integrals and fleet counters to its ``S_*`` row."""
    stats = rep.out.stats
    fi = rep.st.fi
    stats[lk.S_RUNNING_AREA] = rep.area_w[LV_RUN]
    stats[lk.S_WAITING_AREA] = rep.area_w[LV_WAIT]
    stats[lk.S_KV_AREA] = rep.area_w[LV_USED] / rep.en.total_blocks
    stats[lk.S_STRANDED] = rep.mi[MI_WIN_IN_SYSTEM]
    stats[lk.S_SPOT_PREEMPTIONS] = fi[fk.FI_PREEMPTIONS]
    stats[lk.S_SPOT_PREEMPTION_EVENTS] = fi[fk.FI_PREEMPTION_EVENTS]
    stats[lk.S_SCALE_OUT] = fi[fk.FI_SCALE_OUT]
    stats[lk.S_SCALE_IN] = fi[fk.FI_SCALE_IN]
    stats[lk.S_LAUNCH_BASE] = fi[fk.FI_LAUNCH_BASE + fk.CL_BASE]
    stats[lk.S_LAUNCH_SPOT] = fi[fk.FI_LAUNCH_BASE + fk.CL_SPOT]
    stats[lk.S_LAUNCH_FALLBACK] = fi[fk.FI_LAUNCH_BASE + fk.CL_FALLBACK]
    stats[lk.S_MAX_NODES] = fi[fk.FI_MAX_ALIVE]
    stats[lk.S_LAUNCH_NO_SLOT] = fi[fk.FI_LAUNCH_NO_SLOT]


@jit
def _new_replication(seed, replication, src, tok, en, prof, par, out):
    """Return replication ``replication``'s structures, its streams seeded, its fleet empty."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    rng_tok = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication + TOKEN_STREAM, rng_tok)
    fp = par.fp
    w_per_node = int(fp[fk.FP_W])
    max_nodes = int(fp[fk.FP_MAX_NODES])
    n = max_nodes * w_per_node
    autoscale = fp[fk.FP_AUTOSCALE] != 0.0
    n_win = round(fp[fk.FP_WINDOW_S] / fp[fk.FP_INTERVAL_S]) if autoscale else 1
    ri = np.zeros((n + 1, lk.NR), dtype=np.int64)  # the last row is the central queue
    rep = lk.Replication(
        src, tok, en, step_tables(prof, en.max_tokens, en.max_seqs), out, rng, rng_tok,
        np.empty(ARRIVAL_BLOCK), par, fk.new_fleet_state(max_nodes),
        fk.FleetAcc(out.acc, out.timeline, lk.T_NODE_BASE, en.bin_s, en.horizon_s,
                    en.warmup_s),
        fk.Workers(new_worker_avail(n), np.zeros(n), np.zeros(n, dtype=np.int64)),
        new_event_heap(8 * max_nodes + 64), new_worker_avail(n), ri, np.zeros((n, lk.NRF)),
        np.zeros((n, en.block_size), dtype=np.int64),
        np.zeros((n, en.max_seqs), dtype=np.int64), np.zeros((n, en.max_seqs), dtype=np.int64),
        np.zeros(n, dtype=np.int64), np.zeros(lk.N_MI, dtype=np.int64), np.zeros(lk.N_MF),
        np.zeros(lk.N_LV), np.zeros(lk.N_LV), np.zeros(lk.N_LV), np.zeros((2, n_win + 1)),
        np.full((2, max_nodes), -1, dtype=np.int64), w_per_node, 1.0 / en.bin_s)
    for w in range(n):
        reset_replica(rep, w)
    for col in (lk.R_WHEAD, lk.R_WTAIL, lk.R_RHEAD, lk.R_RTAIL, lk.R_PF, lk.R_FIRST):
        ri[n, col] = -1
    rep.mi[MI_RR_LAST] = -1
    return rep


@jit
def _simulate_one(seed, replication, src, tok, en, prof, par, out):
    """Simulate one replication; write its histograms, stats, timeline and fleet accounts."""
    rep = _new_replication(seed, replication, src, tok, en, prof, par, out)
    fk.start_fleet(par, rep.st, rep.books, rep.wk, rep.ev, rep.rng)
    for slot in range(rep.seen.shape[1]):
        rep.seen[0, slot] = rep.st.nd_state[slot]
        rep.seen[1, slot] = rep.st.nd_gen[slot]
        if rep.st.nd_state[slot] >= 0:
            for w in range(slot * rep.w_per_node, (slot + 1) * rep.w_per_node):
                rep.wk.cls[w] = rep.st.nd_class[slot]
    _serve(rep)
    fk.close_accounts(rep.st, rep.books)
    _write_stats(rep)


@jit(parallel=True)
def llm_kernel(seed, first_replication, src, tok, en, prof, par, out):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the streams seeded from ``(seed, k)`` (arrivals
        and fleet) and ``(seed, k + TOKEN_STREAM)`` (token draws).
    first_replication : int
        Index of the replication written to row 0.
    src, tok, en : lk.ArrivalSource, lk.Tokens, lk.Engine
        Arrivals, token samples, engine scalars (``simulators.llm._layout``).
    prof : simulators.llm._steptime.Profile
        The token profile's arrays.
    par : fk.FleetParams
        The fleet (workers = replicas).
    out : lk.Outputs
        Output arrays with one row per replication.
    """
    for r in prange(out.stats.shape[0]):
        row = lk.Outputs(out.hist[r], out.stats[r], out.timeline[r], out.acc[r],
                         out.per_replica[r])
        _simulate_one(seed, first_replication + r, src, tok, en, prof, par, row)
