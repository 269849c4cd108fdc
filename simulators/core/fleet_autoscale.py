"""The fleet's autoscaler inside the kernels: the target node count from the measured
window (target tracking, with the clock schedule's minimum and the on-demand base) and the
scale-out and scale-in that move the fleet towards it (``docs/fleet-dynamics.md``).

:data:`target_nodes` is the one target-tracking rule (:mod:`simulators.core.autoscale_rule`
compiled): the real-time fleet calls it through :func:`desired_nodes`, the streaming fleet
(``simulators/streaming/_fleet.py``) directly."""

from __future__ import annotations

import math

from simulators.core import autoscale_rule

# event kinds and their priorities at equal times (lower runs first)
from simulators.core.fleet_kernel import (
    CL_BASE,
    CL_SPOT,
    EV_DRAINED,
    FF_LAST_SCALE_S,
    FI_HELD_SPOT,
    FI_N_PROV,
    FI_N_READY,
    FI_PEND_N,
    FI_SCALE_IN,
    FI_SCALE_OUT,
    FP_AS_MAX_NODES,
    FP_BASE,
    FP_COOLDOWN_S,
    FP_EXTRA_SPOT,
    FP_METRIC,
    FP_MIN_NODES,
    FP_START_HOUR,
    FP_TARGET,
    FP_W,
    ST_DRAINING,
    ST_PROVISIONING,
    ST_READY,
    _push,
    add_pending,
    launch_node,
    newest,
    node_gone,
    node_transition,
    set_node_workers,
    try_launches,
)
from simulators.core.jit import jit


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


target_nodes = jit(autoscale_rule.target_nodes)
"""``target_nodes(load, workers_per_node, target, min_nodes, scheduled_min, base, max_nodes)``:
the target-tracking rule, compiled (see :func:`simulators.core.autoscale_rule.target_nodes`)."""


@jit
def desired_nodes(busy_ws, outstanding_rs, window_len, par, t):
    """Return the autoscaler's target node count from the window's busy and outstanding areas."""
    fp = par.fp
    if window_len <= 0.0:
        return -1
    if fp[FP_METRIC] == 0.0:
        load = busy_ws / window_len
    else:
        load = outstanding_rs / window_len
    return target_nodes(load, fp[FP_W], fp[FP_TARGET], int(fp[FP_MIN_NODES]),
                        clock_minimum(t, fp, par.schedule), int(fp[FP_BASE]),
                        int(fp[FP_AS_MAX_NODES]))


@jit
def _node_idle(slot, t, w_per_node, free_t):
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        if free_t[w] > t:
            return False
    return True


@jit
def _scale_out(t, n_add, par, st, books, ev, rng):
    """Add ``n_add`` nodes: spot requests (launched when they can) or base nodes at once."""
    extra_spot = par.fp[FP_EXTRA_SPOT] != 0.0
    for _ in range(n_add):
        if extra_spot:
            add_pending(t, st)
        else:
            launch_node(t, CL_BASE, par, st, books, ev, rng)
    if extra_spot:
        try_launches(t, t >= books.horizon_s, par, st, books, ev, rng)
    st.fi[FI_SCALE_OUT] += 1
    st.ff[FF_LAST_SCALE_S] = t


@jit
def _removal_candidate(phase, t, w_per_node, st, wk):
    """Return the newest non-base node that scale-in ``phase`` removes (-1: none).

    Phase 0: PROVISIONING nodes, whatever their class; 1: idle READY spot nodes; 2: idle READY
    nodes of the other classes; 3: busy READY nodes (they drain).
    """
    slot = -1
    best_seq = -1
    for k in range(st.nd_state.shape[0]):
        if st.nd_base[k] != 0 or st.nd_seq[k] <= best_seq:
            continue
        state = st.nd_state[k]
        if phase == 0:
            ok = state == ST_PROVISIONING
        elif phase == 1:
            ok = (state == ST_READY and st.nd_class[k] == CL_SPOT
                  and _node_idle(k, t, w_per_node, wk.free_t))
        elif phase == 2:
            ok = (state == ST_READY and st.nd_class[k] != CL_SPOT
                  and _node_idle(k, t, w_per_node, wk.free_t))
        else:
            ok = state == ST_READY
        if ok:
            slot = k
            best_seq = st.nd_seq[k]
    return slot


@jit
def _drain_node(t, slot, w_per_node, st, books, wk, ev):
    """Stop giving node ``slot`` batches; it goes when its last batch ends."""
    fi = st.fi
    fi[FI_N_READY] -= 1
    if st.nd_class[slot] == CL_SPOT:
        fi[FI_HELD_SPOT] -= 1
    node_transition(slot, ST_DRAINING, t, st, books)
    set_node_workers(slot, math.inf, w_per_node, wk)
    last = t
    for w in range(slot * w_per_node, (slot + 1) * w_per_node):
        last = max(last, wk.free_t[w])
    _push(ev, last, EV_DRAINED, slot, st.nd_gen[slot])


@jit
def _scale_in(t, remove, par, st, books, wk, ev):
    """Remove ``remove`` nodes: pending requests (newest first), then nodes phase by phase."""
    fi = st.fi
    w_per_node = int(par.fp[FP_W])
    removed = 0
    while removed < remove and fi[FI_PEND_N] > 0:  # newest pending request first
        fi[FI_PEND_N] -= 1
        removed += 1
    for phase in range(4):
        while removed < remove:
            slot = _removal_candidate(phase, t, w_per_node, st, wk)
            if slot < 0:
                break
            if phase < 3:
                node_gone(t, slot, par, st, books, wk)
            else:  # busy: drain (spot first among the busy ones)
                spot_slot = newest(st, ST_READY, CL_SPOT)
                _drain_node(t, spot_slot if spot_slot >= 0 else slot, w_per_node, st, books,
                            wk, ev)
            removed += 1
    if removed > 0:
        fi[FI_SCALE_IN] += 1
        st.ff[FF_LAST_SCALE_S] = t


@jit
def apply_autoscale(t, desired, par, st, books, wk, ev, rng):
    """Scale the fleet towards ``desired`` nodes (see docs/fleet-dynamics.md)."""
    fi = st.fi
    current = fi[FI_N_PROV] + fi[FI_N_READY] + fi[FI_PEND_N]
    if desired > current:
        _scale_out(t, desired - current, par, st, books, ev, rng)
    elif desired < current and not t - st.ff[FF_LAST_SCALE_S] < par.fp[FP_COOLDOWN_S]:
        _scale_in(t, current - desired, par, st, books, wk, ev)
