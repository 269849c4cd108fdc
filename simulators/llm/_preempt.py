"""The llm kernel's rare replica paths: preemption when the KV cache is full (recompute) and
the loss of a request's KV cache (``docs/llm-serving.md``).  Plain compiled functions: they run
only when blocks run short or a node goes, so they need not be leaves (``_replica.py``)."""

from __future__ import annotations

from simulators.core.jit import jit
from simulators.llm._layout import (
    LV_RUN,
    LV_USED,
    LV_WAIT,
    Q_G,
    Q_HPOS,
    Q_K,
    Q_NXT,
    Q_P,
    Q_PP,
    Q_PRV,
    Q_S0,
    Q_WIN,
    Q_X,
    R_NRUN,
    R_NWAIT,
    R_PF,
    R_RHEAD,
    R_RTAIL,
    R_STEP,
    R_USED,
    R_WHEAD,
    R_WTAIL,
    S_PREEMPTIONS,
    S_PREEMPTIONS_TOTAL,
    S_RECOMPUTED_TOKENS,
    T_PREEMPTIONS,
)
from simulators.llm._lists import heap_remove, push_front, unlink
from simulators.llm._replica import count_at, decoder_out, own_blocks, release_prefix


@jit
def lose_context(rep, qi, w, q):
    """Take the KV cache of request ``q`` on replica ``w`` (running or waiting) away: its
    prefill starts again from 0 over ``p + g`` tokens.  Returns (its blocks, its context)."""
    ri = rep.ri
    p = qi[q, Q_P]
    c = qi[q, Q_K]
    if qi[q, Q_PP] > 0 and qi[q, Q_K] == qi[q, Q_PP]:  # decoding
        heap_remove(rep.hk, rep.hr, qi, ri, w, qi[q, Q_HPOS])
        g = decoder_out(rep.cnt, ri, qi, rep.en.block_size, w, q, ri[w, R_STEP])
        qi[q, Q_G] = g
        c = p + g
    elif ri[w, R_PF] == q:
        ri[w, R_PF] = -1
    qi[q, Q_K] = 0
    qi[q, Q_PP] = p + qi[q, Q_G]
    return own_blocks(rep.en, p, c), c


@jit
def preempt(rep, qi, w, q, t):
    """Preempt running request ``q`` of replica ``w`` (recompute): free its blocks, put it at
    the head of the waiting queue.  Returns the blocks freed (the prefix's too, if it went)."""
    stats = rep.out.stats
    ri = rep.ri
    lv = rep.lv
    freed, c = lose_context(rep, qi, w, q)
    ri[w, R_USED] -= freed
    lv[LV_USED] -= freed
    unlink(qi, ri, w, R_RHEAD, R_RTAIL, q)
    ri[w, R_NRUN] -= 1
    lv[LV_RUN] -= 1.0
    push_front(qi, ri, w, R_WHEAD, R_WTAIL, q)
    ri[w, R_NWAIT] += 1
    lv[LV_WAIT] += 1.0
    stats[S_PREEMPTIONS_TOTAL] += 1.0
    if qi[q, Q_WIN] != 0:
        stats[S_PREEMPTIONS] += 1.0
        stats[S_RECOMPUTED_TOKENS] += c
    count_at(rep.out.timeline, T_PREEMPTIONS, t, rep.en.horizon_s, rep.inv_bin)
    return freed + release_prefix(ri, lv, rep.en.prefix_blocks, w)


@jit
def preempt_walk(rep, qi, w, t):
    """Schedule replica ``w``'s running requests in admission order, preempting the most
    recently admitted ones while blocks are short.  Returns (free blocks, prefill tokens
    scheduled, first request scheduled a chunk or -1, token budget left)."""
    en = rep.en
    ri = rep.ri
    bs = en.block_size
    s = ri[w, R_STEP]
    free = en.total_blocks - ri[w, R_USED]
    b_left = en.max_tokens
    n_pref = 0
    first = -1
    i = ri[w, R_RHEAD]
    last = ri[w, R_RTAIL]
    while i >= 0:
        p = qi[i, Q_P]
        decoding = qi[i, Q_K] == qi[i, Q_PP]
        x = 0
        if decoding:
            need = 1 if (p + qi[i, Q_G] + s - qi[i, Q_S0]) % bs == 0 else 0
        else:
            k = qi[i, Q_K]
            x = min(qi[i, Q_PP] - k, b_left)
            done = 1 if k + x == qi[i, Q_PP] else 0
            need = own_blocks(en, p, k + x + done) - own_blocks(en, p, k)
        gone = False
        while need > free:
            victim = last
            last = qi[victim, Q_PRV]  # read before the victim leaves the list
            free += preempt(rep, qi, w, victim, t)
            if victim == i:
                gone = True
                break
        if gone:
            break
        free -= need
        ri[w, R_USED] += need
        rep.lv[LV_USED] += need
        if decoding:
            b_left -= 1
        else:
            qi[i, Q_X] = x
            n_pref += x
            b_left -= x
            first = i
        if i == last:
            break
        i = qi[i, Q_NXT]
    return free, n_pref, first, b_left
