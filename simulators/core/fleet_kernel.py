"""Fleet-event helpers of the serving kernel: node lifecycle, launches, spot, autoscaling.

Semantics: ``docs/fleet-dynamics.md``.  The serving loop in ``simulators.realtime._layout``
owns the queue and the per-request statistics; it calls these helpers for every fleet event and
handles the two events that touch the queue itself (a node death losing batches, and the
autoscaler's metrics) before delegating the fleet part here.

The fleet travels as a few named structures (namedtuples of arrays, passed by reference; the
arrays inside are mutable): :data:`FleetParams` (read-only configuration), :data:`FleetState`
(counters and node slots), :data:`FleetAcc` (node-second accounts and the timeline),
:data:`Workers` (per-worker availability), plus the event heap
(:data:`simulators.core.structures.EventHeap`) and the random stream ``rng``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from simulators.core.jit import jit
from simulators.core.rng import exponential, standard_normal
from simulators.core.structures import avail_set, event_push, overlap

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


FleetParams = namedtuple("FleetParams", ("fp", "schedule", "prov", "trace_t", "trace_k"))
"""The fleet's configuration (read-only).

fp : float64[N_FLEET_PARAMS]
    Scalar parameters (``FP_*``).
schedule : float64[k, 3]
    Scheduled minimums (start hour, end hour, nodes).
prov : float64[k, 2]
    Provisioning delay components (median s, log-sd).
trace_t, trace_k : float64[n], int64[n]
    Spot capacity trace (tick times, nodes available); used when ``fp[FP_TRACE]``.
"""

FleetState = namedtuple("FleetState", ("fi", "ff", "pend_t", "nd_state", "nd_class", "nd_gen",
                                       "nd_seq", "nd_base", "nd_since"))
"""The fleet's mutable state: ``fi`` int64[N_FLEET_INTS] (``FI_*``), ``ff``
float64[N_FLEET_FLOATS] (``FF_*``), ``pend_t`` float64[k] (request times of the pending spot
launches, oldest first), and per node slot ``nd_state`` (-1: empty), ``nd_class``, ``nd_gen``
(bumped when a node starts or goes, so stale events are skipped), ``nd_seq`` (launch order),
``nd_base`` (1: never scaled in), all int64[max_nodes], and ``nd_since`` float64[max_nodes] (time
of the last state change)."""

FleetAcc = namedtuple("FleetAcc", ("acc", "timeline", "tl_base", "bin_s", "horizon_s",
                                   "warmup_s"))
"""Where the fleet is accounted: ``acc`` float64[2, N_CLASSES, N_STATES + 1] (node-seconds by
class and state, busy worker-seconds last; ``[0]`` over ``[0, horizon_s]``, ``[1]`` over
``[warmup_s, horizon_s]``), ``timeline`` float64[n_bins, n_fields] whose node series start at
field ``tl_base``, and the bin width, horizon and warm-up (s)."""

Workers = namedtuple("Workers", ("avail", "free_t", "cls"))
"""Per-worker state the fleet touches: ``avail`` (:data:`WorkerAvail`: when each worker can
start a batch), ``free_t`` float64[W] (when its current batch ends) and ``cls`` int64[W] (the
class of its node).  Node ``slot`` owns workers ``slot * w .. slot * w + w - 1``."""


@jit
def new_fleet_state(max_nodes):
    """Return the state of an empty fleet of ``max_nodes`` slots."""
    ff = np.zeros(N_FLEET_FLOATS)
    ff[FF_LAST_SCALE_S] = -math.inf
    ff[FF_FALLBACK_CHECK_S] = -1.0
    return FleetState(np.zeros(N_FLEET_INTS, dtype=np.int64), ff, np.empty(4 * max_nodes + 16),
                      np.full(max_nodes, -1, dtype=np.int64), np.zeros(max_nodes, dtype=np.int64),
                      np.zeros(max_nodes, dtype=np.int64), np.zeros(max_nodes, dtype=np.int64),
                      np.zeros(max_nodes, dtype=np.int64), np.zeros(max_nodes))


@jit(inline="always")
def _tl_event(timeline, field, t, weight, bin_s, inv_bin, horizon_s):
    if t < horizon_s:
        b = int(t * inv_bin)
        timeline[b, field] += weight
        timeline[b, field + 1] += weight * (t - b * bin_s)


@jit(inline="always")
def _node_event(books, series, out, t):
    """Count one node entering (``out`` 0) or leaving (2) a node series at ``t``."""
    _tl_event(books.timeline, books.tl_base + 4 * series + out, t, 1.0, books.bin_s,
              1.0 / books.bin_s, books.horizon_s)


@jit
def node_transition(slot, new_state, t, st, books):
    """Move node ``slot`` to ``new_state`` (-1 = gone) at ``t``, accounting the old state."""
    old = st.nd_state[slot]
    cls = st.nd_class[slot]
    if old >= 0:
        since = st.nd_since[slot]
        books.acc[0, cls, old] += overlap(since, t, 0.0, books.horizon_s)
        books.acc[1, cls, old] += overlap(since, t, books.warmup_s, books.horizon_s)
        _node_event(books, NODE_SERIES_STATE + old, 2, t)
        if new_state < 0:
            _node_event(books, NODE_SERIES_CLASS + cls, 2, t)
    if new_state >= 0:
        _node_event(books, NODE_SERIES_STATE + new_state, 0, t)
        if old < 0:
            _node_event(books, NODE_SERIES_CLASS + cls, 0, t)
    st.nd_state[slot] = new_state
    st.nd_since[slot] = t


@jit
def close_accounts(st, books):
    """Charge every node still alive for its current state up to the horizon."""
    horizon_s = books.horizon_s
    for slot in range(st.nd_state.shape[0]):
        s = st.nd_state[slot]
        if s >= 0:
            c = st.nd_class[slot]
            books.acc[0, c, s] += overlap(st.nd_since[slot], horizon_s, 0.0, horizon_s)
            books.acc[1, c, s] += overlap(st.nd_since[slot], horizon_s, books.warmup_s,
                                          horizon_s)


@jit
def set_node_workers(slot, t_avail, w_per_node, wk):
    """Set the availability time of every worker of node ``slot`` (+inf: takes no batch)."""
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        avail_set(wk.avail, w, t_avail)


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


@jit(inline="always")
def _push(ev, t, kind, slot, gen):
    """Schedule a fleet event of ``kind`` at ``t`` with its priority."""
    event_push(ev, t, EV_PRIORITY[kind], kind, slot, gen)


@jit
def launch_node(t, cls, par, st, books, ev, rng):
    """Start a node of class ``cls`` in the lowest free slot; return the slot or -1."""
    fi = st.fi
    slot = -1
    for k in range(st.nd_state.shape[0]):
        if st.nd_state[k] < 0:
            slot = k
            break
    if slot < 0:
        fi[FI_LAUNCH_NO_SLOT] += 1
        return -1
    st.nd_class[slot] = cls
    st.nd_gen[slot] += 1
    fi[FI_SLOT_HI] = max(fi[FI_SLOT_HI], slot + 1)
    st.nd_seq[slot] = fi[FI_NEXT_SEQ]
    fi[FI_NEXT_SEQ] += 1
    st.nd_base[slot] = 0
    node_transition(slot, ST_PROVISIONING, t, st, books)
    fi[FI_N_PROV] += 1
    fi[FI_N_ALIVE] += 1
    if fi[FI_N_ALIVE] > fi[FI_MAX_ALIVE] and t <= books.horizon_s:
        fi[FI_MAX_ALIVE] = fi[FI_N_ALIVE]
    if cls == CL_SPOT:
        fi[FI_HELD_SPOT] += 1
    fi[FI_LAUNCH_BASE + cls] += 1
    delay = provisioning_delay(par.prov, rng)
    _push(ev, t + delay, EV_READY, slot, st.nd_gen[slot])
    return slot


@jit
def node_ready(t, slot, par, st, books, wk, ev, rng):
    """A node finishes provisioning: its workers become available; spot gets its hazard."""
    node_transition(slot, ST_READY, t, st, books)
    st.fi[FI_N_PROV] -= 1
    st.fi[FI_N_READY] += 1
    w_per_node = int(par.fp[FP_W])
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        wk.free_t[w] = t
    set_node_workers(slot, t, w_per_node, wk)
    schedule_interrupt(t, slot, par, st, ev, rng)


@jit
def schedule_interrupt(t, slot, par, st, ev, rng):
    """Draw the Poisson interruption time of a spot node that just became READY."""
    rate = par.fp[FP_INTERRUPT_RATE]
    if st.nd_class[slot] == CL_SPOT and rate > 0.0 and par.fp[FP_TRACE] == 0.0:
        when = t + exponential(rng) / rate
        _push(ev, when, EV_INTERRUPT, slot, st.nd_gen[slot])


@jit(inline="always")
def _leave_serving(slot, st):
    """Uncount node ``slot`` from the PROVISIONING / READY (and held spot) counts it is in."""
    old = st.nd_state[slot]
    if old == ST_PROVISIONING:
        st.fi[FI_N_PROV] -= 1
    elif old == ST_READY:
        st.fi[FI_N_READY] -= 1
    if st.nd_class[slot] == CL_SPOT and (old == ST_PROVISIONING or old == ST_READY):
        st.fi[FI_HELD_SPOT] -= 1


@jit
def node_notice(t, slot, replace, par, st, books, wk, ev):
    """A spot node gets its interruption notice: no new batches; death after the notice."""
    fp = par.fp
    _leave_serving(slot, st)
    node_transition(slot, ST_NOTICE, t, st, books)
    set_node_workers(slot, math.inf, int(fp[FP_W]), wk)
    st.fi[FI_PREEMPTIONS] += 1
    _push(ev, t + fp[FP_NOTICE_S], EV_DEATH, slot, st.nd_gen[slot])
    if replace:
        when = t + fp[FP_REPLACE_DELAY_S]
        add_pending(when, st)
        _push(ev, when, EV_LAUNCH, -1, 0)


@jit
def node_gone(t, slot, par, st, books, wk):
    """Remove node ``slot`` (death, drain complete or scale-in of an idle node)."""
    _leave_serving(slot, st)
    node_transition(slot, -1, t, st, books)
    st.nd_gen[slot] += 1
    st.fi[FI_N_ALIVE] -= 1
    set_node_workers(slot, math.inf, int(par.fp[FP_W]), wk)


@jit
def add_pending(when, st):
    """Queue a spot launch requested at ``when``, keeping the queue sorted by request time."""
    pend_t = st.pend_t
    n = st.fi[FI_PEND_N]
    if n >= pend_t.shape[0]:
        return
    i = n
    while i > 0 and pend_t[i - 1] > when:
        pend_t[i] = pend_t[i - 1]
        i -= 1
    pend_t[i] = when
    st.fi[FI_PEND_N] = n + 1


@jit
def try_launches(t, force, par, st, books, ev, rng):
    """Launch pending spot requests that are due and have capacity (or fall back).

    Under a capacity trace at most ``K - H`` due requests are tried (oldest first; one that
    finds no free slot is dropped and still uses its turn).  A request that has waited
    ``fallback_to_on_demand_after_s`` launches on-demand.  ``force`` (after the horizon, when
    the capacity limit ends) launches every due request as spot.
    """
    fi = st.fi
    ff = st.ff
    pend_t = st.pend_t
    fallback = par.fp[FP_FALLBACK_S]
    is_trace = par.fp[FP_TRACE] != 0.0
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
        launch_node(t, cls, par, st, books, ev, rng)
    # a waiting request falls back at its deadline: make sure someone looks then (once)
    if fi[FI_PEND_N] > 0 and math.isfinite(fallback) and pend_t[0] <= t:
        when = pend_t[0] + fallback
        if ff[FF_FALLBACK_CHECK_S] != when:
            ff[FF_FALLBACK_CHECK_S] = when
            _push(ev, when, EV_LAUNCH, -1, 0)


@jit
def newest(st, state, want_class):
    """Return the slot of the newest non-base node in ``state`` of ``want_class`` (-1: none)."""
    best = -1
    best_seq = -1
    for k in range(st.nd_state.shape[0]):
        if (st.nd_state[k] == state and st.nd_class[k] == want_class and st.nd_base[k] == 0
                and st.nd_seq[k] > best_seq):
            best = k
            best_seq = st.nd_seq[k]
    return best


@jit
def trace_tick(t, par, st, books, wk, ev, rng):
    """Apply the spot capacity of the current trace tick: preempt the excess, launch into room."""
    fi = st.fi
    i = fi[FI_TRACE_POS]
    fi[FI_CAPACITY] = par.trace_k[i]
    excess = fi[FI_HELD_SPOT] - fi[FI_CAPACITY]
    if excess > 0:
        fi[FI_PREEMPTION_EVENTS] += 1
        for _ in range(excess):
            slot = -1
            best_seq = -1
            for k in range(st.nd_state.shape[0]):
                if (st.nd_class[k] == CL_SPOT and st.nd_seq[k] > best_seq
                        and (st.nd_state[k] == ST_PROVISIONING or st.nd_state[k] == ST_READY)):
                    slot = k
                    best_seq = st.nd_seq[k]
            if slot < 0:
                break
            node_notice(t, slot, True, par, st, books, wk, ev)
    try_launches(t, t >= books.horizon_s, par, st, books, ev, rng)
    fi[FI_TRACE_POS] = i + 1
    if i + 1 < par.trace_t.shape[0] and par.trace_t[i + 1] <= books.horizon_s:
        _push(ev, par.trace_t[i + 1], EV_TRACE, -1, 0)


@jit
def _start_node(k, cls, par, st, books, wk, ev, rng):
    """Start initial node ``k`` of class ``cls`` READY at t = 0 in the next slot."""
    fi = st.fi
    w_per_node = int(par.fp[FP_W])
    slot = fi[FI_N_ALIVE]
    fi[FI_SLOT_HI] = slot + 1
    st.nd_class[slot] = cls
    st.nd_gen[slot] = 1
    st.nd_seq[slot] = fi[FI_NEXT_SEQ]
    fi[FI_NEXT_SEQ] += 1
    st.nd_base[slot] = 1 if k < int(par.fp[FP_BASE]) else 0
    fi[FI_N_ALIVE] += 1
    fi[FI_N_PROV] += 1  # node_ready moves it to READY
    if cls == CL_SPOT:
        fi[FI_HELD_SPOT] += 1
    st.nd_state[slot] = ST_PROVISIONING
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        wk.cls[w] = cls
    node_ready(0.0, slot, par, st, books, wk, ev, rng)


@jit
def start_fleet(par, st, books, wk, ev, rng):
    """Start the warm fleet at t = 0 (READY nodes) and schedule the first fleet events."""
    fp = par.fp
    fi = st.fi
    timeline = books.timeline
    tl_node = books.tl_base
    horizon_s = books.horizon_s
    is_trace = fp[FP_TRACE] != 0.0
    extra_spot = fp[FP_EXTRA_SPOT] != 0.0
    n_base = int(fp[FP_BASE])
    if is_trace:
        fi[FI_CAPACITY] = par.trace_k[0]
    spot_started = 0
    for k in range(int(fp[FP_INITIAL])):
        cls = CL_SPOT if (k >= n_base and extra_spot) else CL_BASE
        if cls == CL_SPOT and is_trace and spot_started >= fi[FI_CAPACITY]:
            add_pending(0.0, st)
            continue
        if cls == CL_SPOT:
            spot_started += 1
        _start_node(k, cls, par, st, books, wk, ev, rng)
    # node_ready counted a transition out of PROVISIONING at t = 0 (zero time); undo its
    # timeline in/out pair so the node series start at the initial fleet
    for k in range(N_STATES):
        for f in range(4):
            timeline[0, tl_node + 4 * (NODE_SERIES_STATE + k) + f] = 0.0
    for slot in range(st.nd_state.shape[0]):
        if st.nd_state[slot] >= 0:
            timeline[0, tl_node + 4 * (NODE_SERIES_STATE + ST_READY)] += 1.0
            timeline[0, tl_node + 4 * (NODE_SERIES_CLASS + st.nd_class[slot])] += 1.0
    fi[FI_MAX_ALIVE] = fi[FI_N_ALIVE]
    if fi[FI_PEND_N] > 0:  # initial spot nodes waiting for capacity
        _push(ev, 0.0, EV_LAUNCH, -1, 0)
    if is_trace and par.trace_t[0] <= horizon_s:
        _push(ev, max(par.trace_t[0], 0.0), EV_TRACE, -1, 0)
    if fp[FP_AUTOSCALE] != 0.0 and fp[FP_INTERVAL_S] <= horizon_s:
        _push(ev, fp[FP_INTERVAL_S], EV_AUTOSCALE, -1, 0)
    if extra_spot:  # after the horizon pending launches go ahead whatever the capacity
        _push(ev, horizon_s, EV_LAUNCH, -1, 0)
