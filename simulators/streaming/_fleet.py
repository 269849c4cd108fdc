"""The streaming fleet inside the kernel: nodes, target-tracking autoscaling and spot.

Semantics: the contract in ``simulators/streaming/api.py`` (module docstring) and the streaming
section of ``docs/fleet-dynamics.md``; ``simulators/streaming/reference_fleet.py`` is the SimPy
twin.  The autoscaler's target count is the shared rule
(:data:`simulators.core.fleet_autoscale.target_nodes`), the interruptions are drawn from the
shared generator (:func:`simulators.core.rng.exponential`).

The fleet travels as one named structure, :data:`StreamFleet`.  Nodes are the rows of a table in
launch order (so the newest node is the highest row); a row leaves the table when its node is
removed, or dies with no replacement launch pending.  The fleet moves forward only when the
window loop asks (:func:`advance`): fleet events (deaths, notices, replacement launches,
autoscaler evaluations) run in time order, and at equal times in the order of the ``EV_*``
values.  Every change of the held node count first accounts the node-seconds held since the
last change (:func:`flush`).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from simulators.core import fleet_autoscale as fa
from simulators.core.jit import jit
from simulators.core.rng import exponential
from simulators.core.structures import overlap
from simulators.streaming._layout import T_NODE_S, T_SPOT_NODE_S, spread

# parameters (float64[N_PARAMS])
P_AUTOSCALE = 0  # 1: target tracking on utilization
P_TARGET = 1
P_MIN_NODES = 2
P_MAX_NODES = 3
P_INTERVAL_S = 4  # evaluations at j * interval, j >= 1, up to the horizon
P_WINDOW_N = 5  # the measured window, in intervals
P_WINDOW_S = 6
P_COOLDOWN_S = 7  # scale-in waits this long after the last scale action
P_DELAY_S = 8  # provisioning delay (held, not processing)
P_SPOT = 9  # 1: nodes beyond the base are spot
P_BASE = 10  # the first P_BASE nodes at t = 0: on-demand, never removed
P_RATE = 11  # spot interruptions per node-second
P_NOTICE_S = 12
P_REPLACE_S = 13  # from a notice to its replacement launch
P_W = 14  # workers per node
P_BIN_S = 15
P_HORIZON_S = 16
P_WARMUP_S = 17
N_PARAMS = 18

# node table: float columns nt[:, NT_*], integer columns nk[:, NK_*]
NT_READY = 0
NT_NOTICE = 1  # inf: never interrupted (on-demand, or the draw fell after the horizon)
NT_DEATH = 2  # notice + notice_s
N_NT = 3
NK_SPOT = 0
NK_BASE = 1
NK_STATE = 2
NK_REPL = 3
N_NK = 4
LIVE = 0  # held, no notice yet (provisioning or ready)
NOTICED = 1  # held until its death; processes no new pass
DEAD = 2  # gone; the row stays while its replacement launch is pending
REPL_NONE = 0
REPL_PENDING = 1
REPL_DONE = 2  # launched or cancelled

# integer state (int64[N_INTS])
I_ROWS = 0
I_HELD = 1
I_HELD_SPOT = 2
I_MARKS = 3  # nodes marked for removal at the next pass start
I_NEXT_EVAL = 4
I_SCALE_OUT = 5
I_SCALE_IN = 6
I_MAX_HELD = 7
I_LAUNCHED = 8  # launches after t = 0 up to the horizon
I_INTERRUPTIONS = 9
I_REPLACEMENTS = 10  # replacement launches up to the horizon
I_LAUNCH_COUNT = 11  # every launch, whenever (the pass waiting for a node watches it)
N_INTS = 12

# float state (float64[N_FLOATS])
F_LAST_S = 0  # node-seconds are accounted up to here
F_NODE_S_H = 1
F_NODE_S_W = 2
F_SPOT_S_H = 3
F_SPOT_S_W = 4
F_LAST_SCALE_S = 5
F_NEXT_EVENT_S = 6  # no fleet event before this time (a lower bound; -inf: look again)
N_FLOATS = 7

# the autoscaler's per-interval table busy_iv[j, IV_*] (I = interval_s)
IV_BUSY = 0  # busy worker-seconds inside [j I, (j + 1) I) (measured)
IV_FLOOR = 1  # the clock schedule's floor at the evaluation at j I (given)
N_IV = 2

# event kinds, in their order at equal times
EV_NONE = -1
EV_DEATH = 0
EV_NOTICE = 1
EV_LAUNCH = 2
EV_EVAL = 3

StreamFleet = namedtuple("StreamFleet", ("p", "si", "sf", "nt", "nk", "rng", "busy_iv",
                                         "timeline"))
"""The streaming fleet: ``p`` float64[N_PARAMS] (``P_*``, read-only), ``si`` int64[N_INTS]
(``I_*``), ``sf`` float64[N_FLOATS] (``F_*``), the node table ``nt`` float64[cap, N_NT] and
``nk`` int64[cap, N_NK] (rows ``0 .. si[I_ROWS] - 1`` in use), ``rng`` the spot stream,
``busy_iv`` float64[n_intervals, N_IV] (per autoscaler interval: the busy worker-seconds, the
autoscaler's measurement, and the schedule's floor, ``IV_*``) and ``timeline`` float64[n_bins,
N_TIMELINE] (node series)."""


@jit
def _add_row(ready, spot, base, fl):
    """Append a node ready at ``ready`` (the table has room); draw its interruption if spot."""
    p, si, nt, nk = fl.p, fl.si, fl.nt, fl.nk
    r = si[I_ROWS]
    notice = math.inf
    if spot and p[P_RATE] > 0.0:
        notice = ready + exponential(fl.rng) / p[P_RATE]
        if notice > p[P_HORIZON_S]:
            notice = math.inf
    nt[r, NT_READY] = ready
    nt[r, NT_NOTICE] = notice
    nt[r, NT_DEATH] = notice + p[P_NOTICE_S]
    nk[r, NK_SPOT] = 1 if spot else 0
    nk[r, NK_BASE] = 1 if base else 0
    nk[r, NK_STATE] = LIVE
    nk[r, NK_REPL] = REPL_NONE
    si[I_ROWS] = r + 1
    si[I_HELD] += 1
    if spot:
        si[I_HELD_SPOT] += 1


@jit
def new_fleet(p, n_nodes, rng, busy_iv, timeline):
    """Return the fleet at t = 0: ``n_nodes`` ready nodes, the base first, then spot or not."""
    cap = max(8, 2 * n_nodes)
    si = np.zeros(N_INTS, dtype=np.int64)
    sf = np.zeros(N_FLOATS)
    sf[F_LAST_SCALE_S] = -math.inf
    sf[F_NEXT_EVENT_S] = -math.inf
    fl = StreamFleet(p, si, sf, np.empty((cap, N_NT)), np.zeros((cap, N_NK), dtype=np.int64),
                     rng, busy_iv, timeline)
    base = int(p[P_BASE])
    for k in range(n_nodes):
        _add_row(0.0, p[P_SPOT] != 0.0 and k >= base, k < base, fl)
    si[I_MAX_HELD] = n_nodes
    si[I_NEXT_EVAL] = 1
    return fl


@jit(inline="always")
def flush_held(t, p, si, sf, timeline):
    """Account the nodes held over ``[sf[F_LAST_S], t)``: node-seconds and the timeline.

    Takes the fleet's arrays rather than :data:`StreamFleet`, so that the kernel's loop over
    windows can call it without touching the structure's reference counts.
    """
    last = sf[F_LAST_S]
    if not t > last:
        return
    horizon_s = p[P_HORIZON_S]
    held = float(si[I_HELD])
    sf[F_NODE_S_H] += held * overlap(last, t, 0.0, horizon_s)
    sf[F_NODE_S_W] += held * overlap(last, t, p[P_WARMUP_S], horizon_s)
    spread(timeline, T_NODE_S, last, t, held, p[P_BIN_S], horizon_s)
    spot = float(si[I_HELD_SPOT])
    if spot > 0.0:
        sf[F_SPOT_S_H] += spot * overlap(last, t, 0.0, horizon_s)
        sf[F_SPOT_S_W] += spot * overlap(last, t, p[P_WARMUP_S], horizon_s)
        spread(timeline, T_SPOT_NODE_S, last, t, spot, p[P_BIN_S], horizon_s)
    sf[F_LAST_S] = t


@jit
def flush(t, fl):
    """:func:`flush_held` of the fleet ``fl``."""
    flush_held(t, fl.p, fl.si, fl.sf, fl.timeline)


@jit(inline="always")
def _copy_row(nt, nk, r, to_nt, to_nk, to_r):
    """Copy row ``r`` of the node table ``nt``, ``nk`` to row ``to_r`` of ``to_nt``, ``to_nk``
    (element by element: cheaper to compile than slices)."""
    for j in range(N_NT):
        to_nt[to_r, j] = nt[r, j]
    for j in range(N_NK):
        to_nk[to_r, j] = nk[r, j]


@jit
def _drop_row(r, fl):
    """Delete row ``r`` of the node table, keeping the others in launch order."""
    n = fl.si[I_ROWS]
    for i in range(r, n - 1):
        _copy_row(fl.nt, fl.nk, i + 1, fl.nt, fl.nk, i)
    fl.si[I_ROWS] = n - 1


@jit
def _unhold(r, fl):
    """Stop holding (and paying for) the node of row ``r``."""
    fl.si[I_HELD] -= 1
    if fl.nk[r, NK_SPOT] != 0:
        fl.si[I_HELD_SPOT] -= 1


@jit
def _launch(t, spot, fl):
    """Launch a node at ``t`` (held from now, ready after the provisioning delay)."""
    flush(t, fl)
    if fl.si[I_ROWS] == fl.nt.shape[0]:
        cap = 2 * fl.nt.shape[0]
        nt = np.empty((cap, N_NT))
        nk = np.zeros((cap, N_NK), dtype=np.int64)
        for r in range(fl.si[I_ROWS]):
            _copy_row(fl.nt, fl.nk, r, nt, nk, r)
        fl = StreamFleet(fl.p, fl.si, fl.sf, nt, nk, fl.rng, fl.busy_iv, fl.timeline)
    _add_row(t + fl.p[P_DELAY_S], spot, False, fl)
    si = fl.si
    si[I_LAUNCH_COUNT] += 1
    if t <= fl.p[P_HORIZON_S]:
        si[I_LAUNCHED] += 1
        si[I_MAX_HELD] = max(si[I_MAX_HELD], si[I_HELD])
    return fl


@jit
def next_event(fl):
    """Return ``(time, kind, row)`` of the next fleet event (``EV_NONE`` and inf: none)."""
    p, nt, nk = fl.p, fl.nt, fl.nk
    best_t = math.inf
    best_kind = EV_NONE
    best_row = -1
    for r in range(fl.si[I_ROWS]):
        state = nk[r, NK_STATE]
        t = math.inf
        kind = EV_NONE
        if state == NOTICED:
            t, kind = nt[r, NT_DEATH], EV_DEATH
        elif state == LIVE and nt[r, NT_NOTICE] < math.inf:
            t, kind = nt[r, NT_NOTICE], EV_NOTICE
        if kind != EV_NONE and (t < best_t or (t == best_t and kind < best_kind)):
            best_t, best_kind, best_row = t, kind, r
        if nk[r, NK_REPL] == REPL_PENDING:  # launches: by time, then request (notice) order
            t = nt[r, NT_NOTICE] + p[P_REPLACE_S]
            if t < best_t or (t == best_t and (best_kind > EV_LAUNCH or (
                    best_kind == EV_LAUNCH and nt[r, NT_NOTICE] < nt[best_row, NT_NOTICE]))):
                best_t, best_kind, best_row = t, EV_LAUNCH, r
    if p[P_AUTOSCALE] != 0.0:
        t = fl.si[I_NEXT_EVAL] * p[P_INTERVAL_S]
        if t <= p[P_HORIZON_S] and (t < best_t or (t == best_t and EV_EVAL < best_kind)):
            best_t, best_kind, best_row = t, EV_EVAL, -1
    return best_t, best_kind, best_row


@jit
def _current(fl):
    """Return the autoscaler's ``current``: live nodes + pending replacements - marked nodes."""
    n = 0
    for r in range(fl.si[I_ROWS]):
        if fl.nk[r, NK_STATE] == LIVE:
            n += 1
        if fl.nk[r, NK_REPL] == REPL_PENDING:
            n += 1
    return n - fl.si[I_MARKS]


@jit
def _cancel_latest(fl):
    """Cancel the latest requested pending replacement; return False if there is none."""
    nt, nk = fl.nt, fl.nk
    best = -1
    for r in range(fl.si[I_ROWS]):
        if nk[r, NK_REPL] == REPL_PENDING and (
                best < 0 or nt[r, NT_NOTICE] >= nt[best, NT_NOTICE]):
            best = r
    if best < 0:
        return False
    nk[best, NK_REPL] = REPL_DONE
    if nk[best, NK_STATE] == DEAD:
        _drop_row(best, fl)
    return True


@jit
def _evaluate(t, fl):
    """Autoscaler evaluation at ``t``: the shared target-tracking rule on the busy window."""
    p, si, sf = fl.p, fl.si, fl.sf
    flush(t, fl)
    j = si[I_NEXT_EVAL]
    si[I_NEXT_EVAL] = j + 1
    busy = 0.0
    for i in range(max(0, j - int(p[P_WINDOW_N])), j):
        busy += fl.busy_iv[i, IV_BUSY]
    window_len = t - max(0.0, t - p[P_WINDOW_S])
    desired = fa.target_nodes(busy / window_len, p[P_W], p[P_TARGET], int(p[P_MIN_NODES]),
                              int(fl.busy_iv[j, IV_FLOOR]), int(p[P_BASE]), int(p[P_MAX_NODES]))
    current = _current(fl)
    if desired > current:
        si[I_SCALE_OUT] += 1
        sf[F_LAST_SCALE_S] = t
        keep = min(desired - current, si[I_MARKS])  # unmark first
        si[I_MARKS] -= keep
        for _ in range(desired - current - keep):
            fl = _launch(t, p[P_SPOT] != 0.0, fl)
    elif desired < current and not t - sf[F_LAST_SCALE_S] < p[P_COOLDOWN_S]:
        si[I_SCALE_IN] += 1
        sf[F_LAST_SCALE_S] = t
        remove = current - desired
        while remove > 0 and _cancel_latest(fl):
            remove -= 1
        si[I_MARKS] += remove
    return fl


@jit
def do_event(t, kind, r, fl):
    """Run fleet event ``kind`` (of row ``r``) at ``t``."""
    nk, si = fl.nk, fl.si
    if kind == EV_DEATH:
        flush(t, fl)
        _unhold(r, fl)
        nk[r, NK_STATE] = DEAD
        if nk[r, NK_REPL] != REPL_PENDING:
            _drop_row(r, fl)
    elif kind == EV_NOTICE:
        nk[r, NK_STATE] = NOTICED
        nk[r, NK_REPL] = REPL_PENDING
        si[I_INTERRUPTIONS] += 1
    elif kind == EV_LAUNCH:
        nk[r, NK_REPL] = REPL_DONE
        if nk[r, NK_STATE] == DEAD:
            _drop_row(r, fl)
        if t <= fl.p[P_HORIZON_S]:
            si[I_REPLACEMENTS] += 1
        fl = _launch(t, True, fl)
    elif kind == EV_EVAL:
        fl = _evaluate(t, fl)
    return fl


@jit
def advance(t, fl):
    """Run every fleet event at or before ``t``, in order.

    Remembers when the next event comes (``F_NEXT_EVENT_S``): events are only added by
    events, which run here or in :func:`wait_for_node` (which forgets it), and removals at a
    pass start only make the next event later, so the remembered time stays a lower bound.
    """
    if fl.sf[F_NEXT_EVENT_S] > t:
        return fl
    while True:
        te, kind, r = next_event(fl)
        if kind == EV_NONE or te > t:
            fl.sf[F_NEXT_EVENT_S] = te
            return fl
        fl = do_event(te, kind, r, fl)


@jit
def _removable(phase, s, fl):
    """Return the newest live non-base row scale-in ``phase`` removes at ``s`` (-1: none).

    Phase 0: provisioning nodes; 1: ready spot nodes; 2: the other ready nodes.
    """
    for r in range(fl.si[I_ROWS] - 1, -1, -1):
        if fl.nk[r, NK_STATE] != LIVE or fl.nk[r, NK_BASE] != 0:
            continue
        provisioning = fl.nt[r, NT_READY] > s
        if phase == 0:
            ok = provisioning
        elif phase == 1:
            ok = not provisioning and fl.nk[r, NK_SPOT] != 0
        else:
            ok = not provisioning and fl.nk[r, NK_SPOT] == 0
        if ok:
            return r
    return -1


@jit
def start_pass(s, fl):
    """Bring the fleet to a pass start ``s``: events up to ``s``, then the marked nodes leave.

    Returns the fleet and the number of usable nodes (live and ready at ``s``).
    """
    fl = advance(s, fl)
    flush(s, fl)
    marks = fl.si[I_MARKS]
    for phase in range(3):
        while marks > 0:
            r = _removable(phase, s, fl)
            if r < 0:
                break
            _unhold(r, fl)
            _drop_row(r, fl)
            marks -= 1
    fl.si[I_MARKS] = 0
    return fl, usable_count(s, fl)


@jit(inline="always")
def begin_pass(s, fl):
    """:func:`start_pass`, with its common case inline: no event due and no node marked."""
    si, sf = fl.si, fl.sf
    if si[I_MARKS] != 0 or not sf[F_NEXT_EVENT_S] > s:
        return start_pass(s, fl)
    flush_held(s, fl.p, si, sf, fl.timeline)
    n = 0
    for r in range(si[I_ROWS]):
        if row_usable(r, s, fl.nt, fl.nk):
            n += 1
    return fl, n


@jit(inline="always")
def row_usable(r, s, nt, nk):
    """Return whether row ``r`` can take a pass starting at ``s`` (live and ready)."""
    return nk[r, NK_STATE] == LIVE and nt[r, NT_READY] <= s


@jit(inline="always")
def usable(r, s, fl):
    """:func:`row_usable` of the fleet ``fl``."""
    return row_usable(r, s, fl.nt, fl.nk)


@jit
def usable_count(s, fl):
    """Return the nodes a pass starting at ``s`` runs on."""
    n = 0
    for r in range(fl.si[I_ROWS]):
        if usable(r, s, fl):
            n += 1
    return n


@jit
def wait_for_node(s, fl):
    """No node is usable at ``s``: return the time the pass tries again (inf: never).

    The earliest ready time of a live provisioning node, unless a fleet event before it
    launches a node: then that event's time (the events before it run here).
    """
    while True:
        ready = math.inf
        for r in range(fl.si[I_ROWS]):
            if fl.nk[r, NK_STATE] == LIVE and fl.nt[r, NT_READY] > s:
                ready = min(ready, fl.nt[r, NT_READY])
        te, kind, r = next_event(fl)
        if ready <= te or kind == EV_NONE:
            return ready, fl
        launches = fl.si[I_LAUNCH_COUNT]
        fl = do_event(te, kind, r, fl)
        fl.sf[F_NEXT_EVENT_S] = -math.inf
        if fl.si[I_LAUNCH_COUNT] > launches:
            return te, fl
