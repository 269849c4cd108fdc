"""One replica's iteration in the llm kernel: scheduling a step and ending it (preemption and
the loss of a KV cache are ``_preempt.py``).

Semantics: ``docs/llm-serving.md``.  A step costs O(1) amortised, whatever the batch:

* the decoding requests of a replica are not visited per step.  It keeps their number
  ``R_ND`` and the sum of their contexts ``R_CSUM`` (every one gains a token per step); a
  decoding request that started decoding at replica step ``s0`` with ``g0`` tokens emitted has
  context ``p + g0 + (s - s0)`` at step ``s`` and ends at step ``s0 + o - g0 - 1``, the key of
  the replica's completion heap;
* it needs a new KV block at step ``s`` iff its context is a multiple of the block size, i.e.
  iff ``s = s0 - p - g0`` (mod ``block_size``): ``cnt[w, r]`` counts decoding requests by that
  residue, so ``cnt[w, s % block_size]`` is the step's demand for new decode blocks;
* at most one running request is still prefilling, the most recently admitted (``R_PF``): a
  chunk that does not finish its prompt uses the rest of the token budget, so nothing is
  admitted behind it, and ``max_num_batched_tokens >= max_num_seqs`` means every decoding
  request always has budget;
* the running list is walked only when blocks run short (``_preempt.preempt_walk``) or a node is
  lost; the requests scheduled a prefill chunk are the running list's tail from ``R_FIRST``.

The per-step functions (:func:`end_step`, :func:`schedule_running`, :func:`admit_and_launch`)
are *leaves*: they call no other compiled function, only inlined helpers that take single
arrays.  A call out of a function gives it an error-return path, and Numba then keeps the
reference counts of every array of the structures the function took (about 60 atomic
increments and decrements a call: most of the run time before this layout).
"""

from __future__ import annotations

import math

from simulators.core import fleet_kernel as fk
from simulators.core.histogram import bucket_index
from simulators.core.jit import jit
from simulators.core.structures import keep_alive, overlap
from simulators.llm._layout import (
    H_E2E,
    H_TPOT,
    H_TTFT,
    LV_BUSY,
    LV_RUN,
    LV_USED,
    LV_WAIT,
    MF_T_PEND,
    MI_FREE,
    MI_IN_SYSTEM,
    MI_NPEND,
    MI_WIN_IN_SYSTEM,
    PR_BUSY_S,
    Q_G,
    Q_K,
    Q_NXT,
    Q_O,
    Q_P,
    Q_PP,
    Q_S0,
    Q_WIN,
    Q_X,
    QF_ARRIVAL,
    QF_TTFT,
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
    R_STEP,
    R_USED,
    R_WHEAD,
    R_WTAIL,
    RF_START,
    S_BUSY_REPLICA_S,
    S_DECODE_STEPS,
    S_DECODE_TOKENS,
    S_E2E_MET,
    S_FINISHED,
    S_FINISHED_BY_HORIZON,
    S_GOODPUT_REQUESTS,
    S_INPUT_TOKENS,
    S_LAST_FINISH_S,
    S_N_TPOT,
    S_OUTPUT_TOKENS,
    S_PEAK_KV,
    S_PEAK_RUNNING,
    S_PREFILL_DONE,
    S_PREFILL_TOKENS,
    S_PREFIX_HIT_TOKENS,
    S_STALLS,
    S_STEPS,
    S_STEPS_TOTAL,
    S_SUM_DECODE_BATCH,
    S_SUM_E2E,
    S_SUM_TPOT,
    S_SUM_TTFT,
    S_TPOT_MET,
    S_TTFT_MET,
    T_FINISHED,
)
from simulators.llm._lists import (
    heap_push,
    heap_remove,
    push_back,
    set_step_end,
    unlink,
)
from simulators.llm._steptime import step_ms


@jit(inline="always")
def own_blocks(en, p, c):
    """Return the KV blocks a request of prompt ``p`` holds at context ``c``, the shared
    prefix's aside (its shared part is ``min(N, p)``)."""
    bs = en.block_size
    nb = (c + bs - 1) // bs
    if en.prefix_tokens > 0:
        m = min(en.prefix_tokens, p)
        nb = max(nb - (m + bs - 1) // bs, 0)
    return nb


@jit(inline="always")
def count_at(timeline, field, t, horizon_s, inv_bin):
    """Count one event at ``t`` in its timeline bin (if before the horizon)."""
    if t < horizon_s:
        timeline[int(t * inv_bin), field] += 1.0
    keep_alive(timeline)


@jit(inline="always")
def mark_pending(pend, mi, mf, ri, free_t, w, t):
    """Replica ``w`` (idle) got work at ``t``: its step starts once every event at ``t`` ran."""
    pend[mi[MI_NPEND]] = w
    mi[MI_NPEND] += 1
    mf[MF_T_PEND] = t
    ri[w, R_MODE] = 2
    free_t[w] = math.inf  # busy for the scale-in's idle test
    keep_alive(pend)
    keep_alive(mi)
    keep_alive(mf)
    keep_alive(ri)
    keep_alive(free_t)


@jit(inline="always")
def decoder_in(cnt, ri, hk, hr, qi, bs, w, q, s0):
    """Enter request ``q`` (prefill done, ``g < o``) in replica ``w``'s decode structures; its
    first decode step is ``s0``."""
    p = qi[q, Q_P]
    g = qi[q, Q_G]
    c = p + g
    qi[q, Q_S0] = s0
    cnt[w, (s0 - c) % bs] += 1
    ri[w, R_ND] += 1
    ri[w, R_CSUM] += c
    heap_push(hk, hr, qi, ri, w, s0 + qi[q, Q_O] - g - 1, q)
    keep_alive(cnt)
    keep_alive(ri)
    keep_alive(hk)
    keep_alive(hr)
    keep_alive(qi)


@jit(inline="always")
def decoder_out(cnt, ri, qi, bs, w, q, s):
    """Take decoding request ``q`` out of replica ``w``'s decode counts at step index ``s``
    (before that step runs); return its output tokens emitted by then."""
    p = qi[q, Q_P]
    g0 = qi[q, Q_G]
    s0 = qi[q, Q_S0]
    cnt[w, (s0 - p - g0) % bs] -= 1
    g = g0 + (s - s0)
    ri[w, R_ND] -= 1
    ri[w, R_CSUM] -= p + g
    keep_alive(cnt)
    keep_alive(ri)
    keep_alive(qi)
    return g


@jit(inline="always")
def release_prefix(ri, lv, prefix_blocks, w):
    """Free the shared prefix's blocks when replica ``w`` runs nothing; return them."""
    freed = 0
    if ri[w, R_NRUN] == 0 and ri[w, R_PREFIX] != 0:
        freed = prefix_blocks
        ri[w, R_PREFIX] = 0
        ri[w, R_USED] -= freed
        lv[LV_USED] -= freed
    keep_alive(ri)
    keep_alive(lv)
    return freed


@jit(inline="always")
def finish(qi, qf, ri, lv, mi, stats, hist, timeline, en, inv_bin, w, q, t):
    """Request ``q`` emits its last output token at ``t`` on replica ``w``: record it, free its
    blocks and its slot."""
    p = qi[q, Q_P]
    o = qi[q, Q_O]
    nb = own_blocks(en, p, p + o)
    ri[w, R_USED] -= nb
    lv[LV_USED] -= nb
    unlink(qi, ri, w, R_RHEAD, R_RTAIL, q)
    ri[w, R_NRUN] -= 1
    lv[LV_RUN] -= 1.0
    release_prefix(ri, lv, en.prefix_blocks, w)
    mi[MI_IN_SYSTEM] -= 1
    win = qi[q, Q_WIN] != 0
    mi[MI_WIN_IN_SYSTEM] -= 1 if win else 0
    e2e = t - qf[q, QF_ARRIVAL]
    ttft = qf[q, QF_TTFT]
    tpot = (e2e - ttft) / (o - 1) if o > 1 else 0.0
    ok_ttft = ttft <= en.slo_ttft_s
    ok_e2e = e2e <= en.slo_e2e_s
    ok_tpot = o == 1 or tpot <= en.slo_tpot_s
    if win:
        hist[H_E2E, bucket_index(e2e)] += 1
        hist[H_TTFT, bucket_index(ttft)] += 1
        if o > 1:
            hist[H_TPOT, bucket_index(tpot)] += 1
        stats[S_FINISHED] += 1.0
        stats[S_FINISHED_BY_HORIZON] += t <= en.horizon_s
        stats[S_INPUT_TOKENS] += p
        stats[S_OUTPUT_TOKENS] += o
        stats[S_SUM_E2E] += e2e
        stats[S_SUM_TTFT] += ttft
        stats[S_N_TPOT] += o > 1
        stats[S_SUM_TPOT] += tpot
        stats[S_TPOT_MET] += o > 1 and ok_tpot
        stats[S_TTFT_MET] += ok_ttft
        stats[S_E2E_MET] += ok_e2e
        stats[S_GOODPUT_REQUESTS] += ok_ttft and ok_tpot and ok_e2e
    stats[S_LAST_FINISH_S] = max(stats[S_LAST_FINISH_S], t)
    count_at(timeline, T_FINISHED, t, en.horizon_s, inv_bin)
    qi[q, Q_NXT] = mi[MI_FREE]
    mi[MI_FREE] = q
    keep_alive(qi)
    keep_alive(qf)
    keep_alive(ri)
    keep_alive(lv)
    keep_alive(mi)
    keep_alive(stats)
    keep_alive(hist)
    keep_alive(timeline)


@jit(inline="always")
def account_busy(rf, acc, stats, lv, per_rep, cls, en, w, t):
    """Account replica ``w``'s step from its start to ``t`` as busy (it ended or was lost)."""
    start = rf[w, RF_START]
    acc[0, cls, fk.ACC_BUSY] += overlap(start, t, 0.0, en.horizon_s)
    in_window = overlap(start, t, en.warmup_s, en.horizon_s)
    acc[1, cls, fk.ACC_BUSY] += in_window
    stats[S_BUSY_REPLICA_S] += in_window
    per_rep[w, PR_BUSY_S] += in_window
    lv[LV_BUSY] -= 1.0
    keep_alive(per_rep)
    keep_alive(rf)
    keep_alive(acc)
    keep_alive(stats)
    keep_alive(lv)


@jit
def end_step(rep, qi, qf, w, t):
    """Replica ``w``'s step ends at ``t``: tokens are emitted, finished requests leave; the next
    step is made pending if work is left.  Returns whether the replica went idle.  A leaf."""
    en = rep.en
    inv_bin = rep.inv_bin
    ri = rep.ri
    rf = rep.rf
    lv = rep.lv
    mi = rep.mi
    mf = rep.mf
    cnt = rep.cnt
    hk = rep.hk
    hr = rep.hr
    pend = rep.pend
    av_t = rep.steps.av_t
    av_hk = rep.steps.hk
    av_hw = rep.steps.hw
    av_pos = rep.steps.pos
    use_heap = rep.steps.use_heap
    free_t = rep.wk.free_t
    cls = rep.wk.cls[w]
    stats = rep.out.stats
    hist = rep.out.hist
    timeline = rep.out.timeline
    acc = rep.out.acc
    per_rep = rep.out.per_replica
    bs = en.block_size
    s = ri[w, R_STEP]
    nd = ri[w, R_ND]
    ri[w, R_CSUM] += nd
    stats[S_DECODE_TOKENS] += nd
    s1 = s + 1
    ri[w, R_STEP] = s1
    while ri[w, R_HN] > 0 and hk[w, 0] == s:
        q = hr[w, 0]
        heap_remove(hk, hr, qi, ri, w, 0)
        decoder_out(cnt, ri, qi, bs, w, q, s1)
        finish(qi, qf, ri, lv, mi, stats, hist, timeline, en, inv_bin, w, q, t)
    q = ri[w, R_FIRST]
    ri[w, R_FIRST] = -1
    ri[w, R_PF] = -1
    while q >= 0:
        nxt = qi[q, Q_NXT]
        x = qi[q, Q_X]
        k = qi[q, Q_K] + x
        qi[q, Q_K] = k
        stats[S_PREFILL_TOKENS] += x
        if k < qi[q, Q_PP]:
            ri[w, R_PF] = q
        else:
            g = qi[q, Q_G] + 1
            qi[q, Q_G] = g
            stats[S_PREFILL_DONE] += 1.0
            if qf[q, QF_TTFT] < 0.0:
                qf[q, QF_TTFT] = t - qf[q, QF_ARRIVAL]
            if g < qi[q, Q_O]:
                decoder_in(cnt, ri, hk, hr, qi, bs, w, q, s1)
            else:
                finish(qi, qf, ri, lv, mi, stats, hist, timeline, en, inv_bin, w, q, t)
        q = nxt
    account_busy(rf, acc, stats, lv, per_rep, cls, en, w, t)
    set_step_end(av_t, av_hk, av_hw, av_pos, use_heap, w, math.inf)
    idle = ri[w, R_NRUN] + ri[w, R_NWAIT] == 0
    ri[w, R_MODE] = 0
    free_t[w] = t
    if not idle:
        mark_pending(pend, mi, mf, ri, free_t, w, t)
    keep_alive(ri)
    keep_alive(rf)
    keep_alive(lv)
    keep_alive(mi)
    keep_alive(mf)
    keep_alive(cnt)
    keep_alive(hk)
    keep_alive(hr)
    keep_alive(pend)
    keep_alive(av_t)
    keep_alive(av_hk)
    keep_alive(av_hw)
    keep_alive(av_pos)
    keep_alive(free_t)
    keep_alive(stats)
    keep_alive(hist)
    keep_alive(timeline)
    keep_alive(acc)
    keep_alive(per_rep)
    keep_alive(rep)
    keep_alive(qi)
    keep_alive(qf)
    return idle


@jit
def schedule_running(rep, qi, w):
    """Schedule replica ``w``'s running requests for its next step when the free blocks cover
    them (the usual case: no preemption).  Returns (scheduled, free blocks, prefill tokens,
    first request with a chunk or -1, token budget left); nothing changes when not
    ``scheduled`` (then ``_preempt.preempt_walk`` schedules them).  A leaf."""
    en = rep.en
    ri = rep.ri
    lv = rep.lv
    cnt = rep.cnt
    s = ri[w, R_STEP]
    free = en.total_blocks - ri[w, R_USED]
    need = cnt[w, s % en.block_size]
    b_left = en.max_tokens - ri[w, R_ND]
    pf = ri[w, R_PF]
    n_pref = 0
    first = -1
    x = 0
    if pf >= 0:
        p = qi[pf, Q_P]
        k = qi[pf, Q_K]
        x = min(qi[pf, Q_PP] - k, b_left)
        done = 1 if k + x == qi[pf, Q_PP] else 0
        need += own_blocks(en, p, k + x + done) - own_blocks(en, p, k)
    ok = need <= free
    if ok:
        free -= need
        ri[w, R_USED] += need
        lv[LV_USED] += need
        if pf >= 0:
            qi[pf, Q_X] = x
            n_pref = x
            first = pf
            b_left -= x
    keep_alive(ri)
    keep_alive(lv)
    keep_alive(cnt)
    keep_alive(rep)
    keep_alive(qi)
    return ok, free, n_pref, first, b_left


@jit
def admit_and_launch(rep, qi, w, t, free, n_pref, first, b_left):
    """Admit waiting requests (FCFS) while ``max_num_seqs``, the token budget and the free
    blocks allow, then start replica ``w``'s step at ``t``.  A leaf."""
    en = rep.en
    ri = rep.ri
    rf = rep.rf
    lv = rep.lv
    av_t = rep.steps.av_t
    av_hk = rep.steps.hk
    av_hw = rep.steps.hw
    av_pos = rep.steps.pos
    use_heap = rep.steps.use_heap
    free_t = rep.wk.free_t
    stats = rep.out.stats
    tab = rep.tab
    pre_ms = tab.prefill_ms
    rows = tab.decode_rows
    contexts = tab.contexts
    floor_ms = tab.floor_ms
    while ri[w, R_NWAIT] > 0 and ri[w, R_NRUN] < en.max_seqs and b_left > 0:
        q = ri[w, R_WHEAD]
        p = qi[q, Q_P]
        big_p = qi[q, Q_PP]
        k0 = 0
        need = 0
        if en.prefix_tokens > 0:
            if ri[w, R_PREFIX] != 0:
                k0 = min(en.prefix_tokens, p, big_p - 1)
            else:
                need = en.prefix_blocks
        x = min(big_p - k0, b_left)
        done = 1 if k0 + x == big_p else 0
        need += own_blocks(en, p, k0 + x + done)
        if need > free:
            break
        unlink(qi, ri, w, R_WHEAD, R_WTAIL, q)
        ri[w, R_NWAIT] -= 1
        lv[LV_WAIT] -= 1.0
        push_back(qi, ri, w, R_RHEAD, R_RTAIL, q)
        ri[w, R_NRUN] += 1
        lv[LV_RUN] += 1.0
        ri[w, R_PREFIX] = 1 if en.prefix_tokens > 0 else 0
        stats[S_PREFIX_HIT_TOKENS] += k0
        qi[q, Q_K] = k0
        qi[q, Q_X] = x
        free -= need
        ri[w, R_USED] += need
        lv[LV_USED] += need
        b_left -= x
        n_pref += x
        first = q if first < 0 else first
        if done == 0:
            ri[w, R_PF] = q
    nd = ri[w, R_ND]
    ri[w, R_FIRST] = first
    stall = nd == 0 and n_pref == 0  # nothing could be scheduled: never happens (tests)
    t_end = math.inf if stall else t + step_ms(pre_ms, rows, contexts, floor_ms, nd,
                                               ri[w, R_CSUM], n_pref) / 1000.0
    rf[w, RF_START] = t
    ri[w, R_MODE] = 0 if stall else 1
    set_step_end(av_t, av_hk, av_hw, av_pos, use_heap, w, t_end)
    free_t[w] = t if stall else t_end
    lv[LV_BUSY] += 0.0 if stall else 1.0
    stats[S_STALLS] += stall
    stats[S_STEPS_TOTAL] += 1.0
    if t >= en.warmup_s and t < en.horizon_s:
        stats[S_STEPS] += 1.0
        stats[S_DECODE_STEPS] += nd > 0
        stats[S_SUM_DECODE_BATCH] += nd
        stats[S_PEAK_KV] = max(stats[S_PEAK_KV], ri[w, R_USED] / en.total_blocks)
        stats[S_PEAK_RUNNING] = max(stats[S_PEAK_RUNNING], ri[w, R_NRUN])
    keep_alive(ri)
    keep_alive(rf)
    keep_alive(lv)
    keep_alive(av_t)
    keep_alive(av_hk)
    keep_alive(av_hw)
    keep_alive(av_pos)
    keep_alive(free_t)
    keep_alive(stats)
    keep_alive(pre_ms)
    keep_alive(rows)
    keep_alive(contexts)
    keep_alive(rep)
    keep_alive(qi)
