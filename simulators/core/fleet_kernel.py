"""Fleet-event helpers of the serving kernel: node lifecycle, launches, spot, autoscaling.

Semantics: ``docs/fleet-dynamics.md``.  The serving loop in ``simulators.realtime._layout``
owns the queue and the per-request statistics; it calls these helpers for every fleet event and
handles the two events that touch the queue itself (a node death losing batches, and the
autoscaler's metrics) before delegating the fleet part here.  Everything is arrays and scalars.
"""

from __future__ import annotations

import math

from simulators.core.jit import jit
from simulators.core.rng import exponential, standard_normal
from simulators.core.structures import avail_set, event_push

# event kinds and their priorities at equal times (lower runs first)
EV_DEATH = 0
EV_DRAINED = 1
EV_READY = 2
EV_TRACE = 3
EV_INTERRUPT = 4
EV_LAUNCH = 5
EV_AUTOSCALE = 6
EV_PRIORITY = (0, 0, 1, 2, 3, 4, 5)

# fleet parameters (float64 array)
FP_W = 0
FP_INITIAL = 1
FP_MAX_NODES = 2
FP_BASE = 3
FP_EXTRA_SPOT = 4
FP_AUTOSCALE = 5
FP_METRIC = 6  # 0 utilization, 1 queue_per_worker
FP_TARGET = 7
FP_MIN_NODES = 8
FP_AS_MAX_NODES = 9
FP_INTERVAL_S = 10
FP_WINDOW_S = 11
FP_COOLDOWN_S = 12
FP_INTERRUPT_RATE = 13  # per node-second
FP_NOTICE_S = 14
FP_REPLACE_DELAY_S = 15
FP_FALLBACK_S = 16  # inf = never
FP_START_S = 17  # clock time of day at t = 0, s
FP_DEADLINE_S = 18  # inf = none
FP_TRACE = 19  # 1 = spot capacity trace replay
FP_START_HOUR = 20  # clock hour at t = 0 (the same as FP_START_S, in hours)
N_FLEET_PARAMS = 21

# fleet integer state (int64 array)
FI_N_PROV = 0
FI_N_READY = 1
FI_N_ALIVE = 2  # nodes in any state
FI_HELD_SPOT = 3  # spot nodes PROVISIONING or READY
FI_NEXT_SEQ = 4
FI_PEND_N = 5
FI_TRACE_POS = 6  # index of the next trace tick
FI_CAPACITY = 7  # current spot capacity under a trace
FI_PREEMPTIONS = 8
FI_PREEMPTION_EVENTS = 9
FI_SCALE_OUT = 10
FI_SCALE_IN = 11
FI_LAUNCH_BASE = 12  # launches by class: +0 base, +1 spot, +2 fallback
FI_MAX_ALIVE = 15
FI_LAUNCH_NO_SLOT = 16
FI_EVALS = 17
FI_SLOT_HI = 18  # 1 + the highest slot a node has ever used (workers above it never serve)
N_FLEET_INTS = 19

# fleet float state
FF_LAST_SCALE_S = 0
FF_FALLBACK_CHECK_S = 1  # time of the scheduled fallback check (-1: none)
N_FLEET_FLOATS = 2

# node arrays: nd_state (-1 = empty slot), nd_class, nd_gen, nd_seq, nd_base; nd_since (float)
ST_PROVISIONING = 0
ST_READY = 1
ST_NOTICE = 2
ST_DRAINING = 3
N_STATES = 4
N_CLASSES = 3
CL_BASE = 0
CL_SPOT = 1
CL_FALLBACK = 2
ACC_BUSY = N_STATES  # acc[basis, class, ACC_BUSY] = busy worker-seconds

# timeline fields for nodes: 4 per series (count in, offset in, count out, offset out); the
# serving fields of ``realtime`` come first, these start at ``tl_node_base``.
NODE_SERIES_CLASS = 0  # + class
NODE_SERIES_STATE = N_CLASSES  # + state
N_NODE_SERIES = N_CLASSES + N_STATES


@jit(inline="always")
def _overlap(start, end, lo, hi):
    a = max(lo, start)
    b = min(hi, end)
    return b - a if b > a else 0.0


@jit(inline="always")
def _tl_event(timeline, field, t, weight, bin_s, inv_bin, horizon_s):
    if t < horizon_s:
        b = int(t * inv_bin)
        timeline[b, field] += weight
        timeline[b, field + 1] += weight * (t - b * bin_s)


@jit
def node_transition(slot, new_state, t, nd_state, nd_class, nd_since, acc, timeline,
                    tl_node_base, bin_s, horizon_s, warmup_s):
    """Move node ``slot`` to ``new_state`` (-1 = gone) at ``t``, accounting the old state."""
    inv_bin = 1.0 / bin_s
    old = nd_state[slot]
    cls = nd_class[slot]
    if old >= 0:
        since = nd_since[slot]
        acc[0, cls, old] += _overlap(since, t, 0.0, horizon_s)
        acc[1, cls, old] += _overlap(since, t, warmup_s, horizon_s)
        _tl_event(timeline, tl_node_base + 4 * (NODE_SERIES_STATE + old) + 2, t, 1.0, bin_s,
                  inv_bin, horizon_s)
        if new_state < 0:
            _tl_event(timeline, tl_node_base + 4 * (NODE_SERIES_CLASS + cls) + 2, t, 1.0,
                      bin_s, inv_bin, horizon_s)
    if new_state >= 0:
        _tl_event(timeline, tl_node_base + 4 * (NODE_SERIES_STATE + new_state), t, 1.0, bin_s,
                  inv_bin, horizon_s)
        if old < 0:
            _tl_event(timeline, tl_node_base + 4 * (NODE_SERIES_CLASS + cls), t, 1.0, bin_s,
                      inv_bin, horizon_s)
    nd_state[slot] = new_state
    nd_since[slot] = t


@jit
def close_accounts(nd_state, nd_class, nd_since, acc, horizon_s, warmup_s):
    """Charge every node still alive for its current state up to the horizon."""
    for slot in range(nd_state.shape[0]):
        s = nd_state[slot]
        if s >= 0:
            c = nd_class[slot]
            acc[0, c, s] += _overlap(nd_since[slot], horizon_s, 0.0, horizon_s)
            acc[1, c, s] += _overlap(nd_since[slot], horizon_s, warmup_s, horizon_s)


@jit
def set_node_workers(slot, t_avail, w_per_node, use_heap, av_t, hk, hw, pos):
    """Set the availability time of every worker of node ``slot`` (+inf: takes no batch)."""
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        avail_set(use_heap, av_t, hk, hw, pos, w, t_avail)


@jit
def provisioning_delay(prov, rng):
    """Return one node's provisioning delay (s): the sum of its components' draws."""
    total = 0.0
    for k in range(prov.shape[0]):
        if prov[k, 1] > 0.0:
            total += prov[k, 0] * math.exp(prov[k, 1] * standard_normal(rng))
        else:
            total += prov[k, 0]
    return total


@jit
def launch_node(t, cls, fp, fi, nd_state, nd_class, nd_gen, nd_seq, nd_base, nd_since, acc,
                timeline, tl_node_base, bin_s, horizon_s, warmup_s, prov, rng,
                ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """Start a node of class ``cls`` in the lowest free slot; return the slot or -1."""
    slot = -1
    for k in range(nd_state.shape[0]):
        if nd_state[k] < 0:
            slot = k
            break
    if slot < 0:
        fi[FI_LAUNCH_NO_SLOT] += 1
        return -1
    nd_class[slot] = cls
    nd_gen[slot] += 1
    fi[FI_SLOT_HI] = max(fi[FI_SLOT_HI], slot + 1)
    nd_seq[slot] = fi[FI_NEXT_SEQ]
    fi[FI_NEXT_SEQ] += 1
    nd_base[slot] = 0
    node_transition(slot, ST_PROVISIONING, t, nd_state, nd_class, nd_since, acc, timeline,
                    tl_node_base, bin_s, horizon_s, warmup_s)
    fi[FI_N_PROV] += 1
    fi[FI_N_ALIVE] += 1
    if fi[FI_N_ALIVE] > fi[FI_MAX_ALIVE] and t <= horizon_s:
        fi[FI_MAX_ALIVE] = fi[FI_N_ALIVE]
    if cls == CL_SPOT:
        fi[FI_HELD_SPOT] += 1
    fi[FI_LAUNCH_BASE + cls] += 1
    delay = provisioning_delay(prov, rng)
    event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, t + delay,
               EV_PRIORITY[EV_READY], EV_READY, slot, nd_gen[slot])
    return slot


@jit
def node_ready(t, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc, timeline,
               tl_node_base, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos, w_free,
               rng, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """A node finishes provisioning: its workers become available; spot gets its hazard."""
    node_transition(slot, ST_READY, t, nd_state, nd_class, nd_since, acc, timeline,
                    tl_node_base, bin_s, horizon_s, warmup_s)
    fi[FI_N_PROV] -= 1
    fi[FI_N_READY] += 1
    w_per_node = int(fp[FP_W])
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        w_free[w] = t
    set_node_workers(slot, t, w_per_node, use_heap, av_t, hk, hw, pos)
    schedule_interrupt(t, slot, fp, nd_class, nd_gen, rng, ev_t, ev_key, ev_kind, ev_slot,
                       ev_gen, ev_meta)


@jit
def schedule_interrupt(t, slot, fp, nd_class, nd_gen, rng, ev_t, ev_key, ev_kind, ev_slot,
                       ev_gen, ev_meta):
    """Draw the Poisson interruption time of a spot node that just became READY."""
    rate = fp[FP_INTERRUPT_RATE]
    if nd_class[slot] == CL_SPOT and rate > 0.0 and fp[FP_TRACE] == 0.0:
        when = t + exponential(rng) / rate
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, when,
                   EV_PRIORITY[EV_INTERRUPT], EV_INTERRUPT, slot, nd_gen[slot])


@jit
def node_notice(t, slot, replace, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc, timeline,
                tl_node_base, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos,
                pend_t, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """A spot node gets its interruption notice: no new batches; death after the notice."""
    old = nd_state[slot]
    if old == ST_PROVISIONING:
        fi[FI_N_PROV] -= 1
    elif old == ST_READY:
        fi[FI_N_READY] -= 1
    if old == ST_PROVISIONING or old == ST_READY:
        fi[FI_HELD_SPOT] -= 1
    node_transition(slot, ST_NOTICE, t, nd_state, nd_class, nd_since, acc, timeline,
                    tl_node_base, bin_s, horizon_s, warmup_s)
    set_node_workers(slot, math.inf, int(fp[FP_W]), use_heap, av_t, hk, hw, pos)
    fi[FI_PREEMPTIONS] += 1
    event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, t + fp[FP_NOTICE_S],
               EV_PRIORITY[EV_DEATH], EV_DEATH, slot, nd_gen[slot])
    if replace:
        when = t + fp[FP_REPLACE_DELAY_S]
        add_pending(when, fi, pend_t)
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, when,
                   EV_PRIORITY[EV_LAUNCH], EV_LAUNCH, -1, 0)


@jit
def node_gone(t, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc, timeline,
              tl_node_base, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos):
    """Remove node ``slot`` (death, drain complete or scale-in of an idle node)."""
    old = nd_state[slot]
    if old == ST_PROVISIONING:
        fi[FI_N_PROV] -= 1
    elif old == ST_READY:
        fi[FI_N_READY] -= 1
    if nd_class[slot] == CL_SPOT and (old == ST_PROVISIONING or old == ST_READY):
        fi[FI_HELD_SPOT] -= 1
    node_transition(slot, -1, t, nd_state, nd_class, nd_since, acc, timeline, tl_node_base,
                    bin_s, horizon_s, warmup_s)
    nd_gen[slot] += 1
    fi[FI_N_ALIVE] -= 1
    set_node_workers(slot, math.inf, int(fp[FP_W]), use_heap, av_t, hk, hw, pos)


@jit
def add_pending(when, fi, pend_t):
    """Queue a spot launch requested at ``when``, keeping the queue sorted by request time."""
    n = fi[FI_PEND_N]
    if n >= pend_t.shape[0]:
        return
    i = n
    while i > 0 and pend_t[i - 1] > when:
        pend_t[i] = pend_t[i - 1]
        i -= 1
    pend_t[i] = when
    fi[FI_PEND_N] = n + 1


@jit
def try_launches(t, force, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen, nd_seq, nd_base,
                 nd_since, acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s, prov, rng,
                 ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """Launch pending spot requests that are due and have capacity (or fall back).

    Under a capacity trace at most ``K - H`` due requests are tried (oldest first; one that
    finds no free slot is dropped and still uses its turn).  A request that has waited
    ``fallback_to_on_demand_after_s`` launches on-demand.  ``force`` (after the horizon, when
    the capacity limit ends) launches every due request as spot.
    """
    fallback = fp[FP_FALLBACK_S]
    is_trace = fp[FP_TRACE] != 0.0
    room = fi[FI_CAPACITY] - fi[FI_HELD_SPOT]
    while fi[FI_PEND_N] > 0 and pend_t[0] <= t:
        if force or not is_trace:
            cls = CL_SPOT
        elif room > 0:
            cls = CL_SPOT
            room -= 1
        elif t >= pend_t[0] + fallback:
            cls = CL_FALLBACK
        else:
            break
        n = fi[FI_PEND_N] - 1
        for k in range(n):
            pend_t[k] = pend_t[k + 1]
        fi[FI_PEND_N] = n
        launch_node(t, cls, fp, fi, nd_state, nd_class, nd_gen, nd_seq, nd_base, nd_since,
                    acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s, prov, rng,
                    ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
    # a waiting request falls back at its deadline: make sure someone looks then (once)
    if fi[FI_PEND_N] > 0 and math.isfinite(fallback) and pend_t[0] <= t:
        when = pend_t[0] + fallback
        if ff[FF_FALLBACK_CHECK_S] != when:
            ff[FF_FALLBACK_CHECK_S] = when
            event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, when,
                       EV_PRIORITY[EV_LAUNCH], EV_LAUNCH, -1, 0)


@jit
def newest(nd_state, nd_class, nd_seq, nd_base, state, want_class):
    """Return the slot of the newest non-base node in ``state`` of ``want_class`` (-1: none)."""
    best = -1
    best_seq = -1
    for k in range(nd_state.shape[0]):
        if (nd_state[k] == state and nd_class[k] == want_class and nd_base[k] == 0
                and nd_seq[k] > best_seq):
            best = k
            best_seq = nd_seq[k]
    return best


@jit
def clock_minimum(t, fp, schedule):
    """Return the scheduled minimum node count at simulation time ``t``."""
    hours = fp[FP_START_HOUR] + t / 3600.0
    hour = hours - 24.0 * math.floor(hours / 24.0)
    best = 0
    for k in range(schedule.shape[0]):
        start = schedule[k, 0]
        end = schedule[k, 1]
        if start <= end:
            inside = start <= hour < end
        else:
            inside = hour >= start or hour < end
        if inside and schedule[k, 2] > best:
            best = int(schedule[k, 2])
    return best


@jit
def desired_nodes(busy_ws, outstanding_rs, window_len, fp, t, schedule):
    """Return the autoscaler's target node count from the window's busy and outstanding areas."""
    w_per_node = fp[FP_W]
    if window_len <= 0.0:
        return -1
    if fp[FP_METRIC] == 0.0:
        raw = busy_ws / window_len / (w_per_node * fp[FP_TARGET])
    else:
        raw = outstanding_rs / window_len / (w_per_node * fp[FP_TARGET])
    desired = int(math.ceil(raw - 1e-9))
    low = int(fp[FP_MIN_NODES])
    sched = clock_minimum(t, fp, schedule)
    low = max(low, sched)
    low = max(low, int(fp[FP_BASE]))
    high = int(fp[FP_AS_MAX_NODES])
    desired = max(desired, low)
    desired = min(desired, high)
    return desired


@jit
def _node_idle(slot, t, w_per_node, w_free):
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        if w_free[w] > t:
            return False
    return True


@jit
def apply_autoscale(t, desired, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen, nd_seq,
                    nd_base, nd_since, acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s,
                    prov, rng, use_heap, av_t, hk, hw, pos, w_free,
                    ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta):
    """Scale the fleet towards ``desired`` nodes (see docs/fleet-dynamics.md)."""
    current = fi[FI_N_PROV] + fi[FI_N_READY] + fi[FI_PEND_N]
    w_per_node = int(fp[FP_W])
    if desired > current:
        for _ in range(desired - current):
            if fp[FP_EXTRA_SPOT] != 0.0:
                add_pending(t, fi, pend_t)
            else:
                launch_node(t, CL_BASE, fp, fi, nd_state, nd_class, nd_gen, nd_seq, nd_base,
                            nd_since, acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s,
                            prov, rng, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
        if fp[FP_EXTRA_SPOT] != 0.0:
            try_launches(t, t >= horizon_s, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen, nd_seq,
                         nd_base, nd_since, acc, timeline, tl_node_base, bin_s, horizon_s,
                         warmup_s, prov, rng, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
        fi[FI_SCALE_OUT] += 1
        ff[FF_LAST_SCALE_S] = t
        return
    if desired >= current or t - ff[FF_LAST_SCALE_S] < fp[FP_COOLDOWN_S]:
        return
    remove = current - desired
    removed = 0
    while removed < remove and fi[FI_PEND_N] > 0:  # newest pending request first
        fi[FI_PEND_N] -= 1
        removed += 1
    # PROVISIONING nodes, newest first whatever their class; then idle READY nodes, spot first,
    # newest first; then busy READY nodes (spot first, newest first) drain
    for phase in range(4):
        while removed < remove:
            slot = -1
            best_seq = -1
            for k in range(nd_state.shape[0]):
                if nd_base[k] != 0 or nd_seq[k] <= best_seq:
                    continue
                st = nd_state[k]
                if phase == 0:
                    ok = st == ST_PROVISIONING
                elif phase == 1:
                    ok = (st == ST_READY and nd_class[k] == CL_SPOT
                          and _node_idle(k, t, w_per_node, w_free))
                elif phase == 2:
                    ok = (st == ST_READY and nd_class[k] != CL_SPOT
                          and _node_idle(k, t, w_per_node, w_free))
                else:
                    ok = st == ST_READY
                if ok:
                    slot = k
                    best_seq = nd_seq[k]
            if slot < 0:
                break
            if phase < 3:
                node_gone(t, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc,
                          timeline, tl_node_base, bin_s, horizon_s, warmup_s, use_heap, av_t,
                          hk, hw, pos)
                removed += 1
                continue
            # busy: drain (spot first among the busy ones)
            spot_slot = newest(nd_state, nd_class, nd_seq, nd_base, ST_READY, CL_SPOT)
            if spot_slot >= 0:
                slot = spot_slot
            cls = nd_class[slot]
            fi[FI_N_READY] -= 1
            if cls == CL_SPOT:
                fi[FI_HELD_SPOT] -= 1
            node_transition(slot, ST_DRAINING, t, nd_state, nd_class, nd_since, acc,
                            timeline, tl_node_base, bin_s, horizon_s, warmup_s)
            set_node_workers(slot, math.inf, w_per_node, use_heap, av_t, hk, hw, pos)
            last = t
            for w in range(slot * w_per_node, (slot + 1) * w_per_node):
                last = max(last, w_free[w])
            event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, last,
                       EV_PRIORITY[EV_DRAINED], EV_DRAINED, slot, nd_gen[slot])
            removed += 1
    if removed > 0:
        fi[FI_SCALE_IN] += 1
        ff[FF_LAST_SCALE_S] = t


@jit
def trace_tick(t, trace_k, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen, nd_seq, nd_base,
               nd_since, acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s, prov, rng,
               use_heap, av_t, hk, hw, pos, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta,
               trace_t):
    """Apply the spot capacity of the current trace tick: preempt the excess, launch into room."""
    i = fi[FI_TRACE_POS]
    fi[FI_CAPACITY] = trace_k[i]
    excess = fi[FI_HELD_SPOT] - fi[FI_CAPACITY]
    if excess > 0:
        fi[FI_PREEMPTION_EVENTS] += 1
        for _ in range(excess):
            slot = -1
            best_seq = -1
            for k in range(nd_state.shape[0]):
                if (nd_class[k] == CL_SPOT and nd_seq[k] > best_seq
                        and (nd_state[k] == ST_PROVISIONING or nd_state[k] == ST_READY)):
                    slot = k
                    best_seq = nd_seq[k]
            if slot < 0:
                break
            node_notice(t, slot, True, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc,
                        timeline, tl_node_base, bin_s, horizon_s, warmup_s, use_heap, av_t, hk,
                        hw, pos, pend_t, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
    try_launches(t, t >= horizon_s, fp, ff, fi, pend_t, nd_state, nd_class, nd_gen, nd_seq,
                 nd_base, nd_since, acc, timeline, tl_node_base, bin_s, horizon_s, warmup_s, prov,
                 rng, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
    fi[FI_TRACE_POS] = i + 1
    if i + 1 < trace_t.shape[0] and trace_t[i + 1] <= horizon_s:
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, trace_t[i + 1],
                   EV_PRIORITY[EV_TRACE], EV_TRACE, -1, 0)


@jit
def start_fleet(fp, fi, nd_state, nd_class, nd_gen, nd_seq, nd_base, nd_since, w_class, acc,
                timeline, tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos,
                w_free, rng, pend_t, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta,
                spot_trace_t, spot_trace_k):
    """Start the warm fleet at t = 0 (READY nodes) and schedule the first fleet events."""
    w_per_node = int(fp[FP_W])
    max_nodes = nd_state.shape[0]
    is_trace = fp[FP_TRACE] != 0.0
    extra_spot = fp[FP_EXTRA_SPOT] != 0.0
    autoscale = fp[FP_AUTOSCALE] != 0.0
    n_base = int(fp[FP_BASE])
    if is_trace:
        fi[FI_CAPACITY] = spot_trace_k[0]
    spot_started = 0
    for k in range(int(fp[FP_INITIAL])):
        cls = CL_SPOT if (k >= n_base and extra_spot) else CL_BASE
        if cls == CL_SPOT and is_trace and spot_started >= fi[FI_CAPACITY]:
            add_pending(0.0, fi, pend_t)
            continue
        slot = fi[FI_N_ALIVE]
        fi[FI_SLOT_HI] = slot + 1
        nd_class[slot] = cls
        nd_gen[slot] = 1
        nd_seq[slot] = fi[FI_NEXT_SEQ]
        fi[FI_NEXT_SEQ] += 1
        nd_base[slot] = 1 if k < n_base else 0
        fi[FI_N_ALIVE] += 1
        fi[FI_N_PROV] += 1  # node_ready moves it to READY
        if cls == CL_SPOT:
            fi[FI_HELD_SPOT] += 1
            spot_started += 1
        nd_state[slot] = ST_PROVISIONING
        for w in range(slot * w_per_node, (slot + 1) * w_per_node):
            w_class[w] = cls
        node_ready(0.0, slot, fp, fi, nd_state, nd_class, nd_gen, nd_since, acc, timeline,
                      tl_node, bin_s, horizon_s, warmup_s, use_heap, av_t, hk, hw, pos, w_free,
                      rng, ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta)
    # node_ready counted a transition out of PROVISIONING at t = 0 (zero time); undo its
    # timeline in/out pair so the node series start at the initial fleet
    for k in range(N_STATES):
        for f in range(4):
            timeline[0, tl_node + 4 * (NODE_SERIES_STATE + k) + f] = 0.0
    for slot in range(max_nodes):
        if nd_state[slot] >= 0:
            timeline[0, tl_node + 4 * (NODE_SERIES_STATE + ST_READY)] += 1.0
            timeline[0, tl_node + 4 * (NODE_SERIES_CLASS + nd_class[slot])] += 1.0
    fi[FI_MAX_ALIVE] = fi[FI_N_ALIVE]
    if fi[FI_PEND_N] > 0:  # initial spot nodes waiting for capacity
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, 0.0,
                   EV_PRIORITY[EV_LAUNCH], EV_LAUNCH, -1, 0)
    if is_trace and spot_trace_t[0] <= horizon_s:
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, max(spot_trace_t[0], 0.0),
                   EV_PRIORITY[EV_TRACE], EV_TRACE, -1, 0)
    if autoscale and fp[FP_INTERVAL_S] <= horizon_s:
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, fp[FP_INTERVAL_S],
                   EV_PRIORITY[EV_AUTOSCALE], EV_AUTOSCALE, -1, 0)
    if extra_spot:  # after the horizon pending launches go ahead whatever the capacity
        event_push(ev_t, ev_key, ev_kind, ev_slot, ev_gen, ev_meta, horizon_s,
                   EV_PRIORITY[EV_LAUNCH], EV_LAUNCH, -1, 0)
