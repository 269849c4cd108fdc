"""Numba kernel of the training-job simulation (gang-scheduled GPU training).

Array in, array out: :func:`training_kernel` takes numbers and small arrays and fills one
``float64[R, n_runs, N_OUT]`` buffer; the semantics are the contract in the docstring of
``simulators/training/api.py`` and the SimPy model ``simulators/training/reference.py``.  One run is
a short scalar event loop (phases of known length raced against the next interruption), so a
replication costs O(segments + interruptions) and no memory beyond its output row.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simulators.core.fleet_kernel import provisioning_delay
from simulators.core.jit import jit
from simulators.core.rng import exponential, seed_stream

# Purchase options (also the mode of the gang while it runs).
PURCHASE_ON_DEMAND = 0
PURCHASE_SPOT = 1
PURCHASE_RESERVED = 2
N_PURCHASES = 3
PURCHASE_NAMES = ("on_demand", "spot", "reserved")

# Output columns, one row per (replication, run).
O_COMPLETION_S = 0  # submission to the last checkpoint written (s)
O_NODE_S_ON_DEMAND = 1  # node-seconds billed at on-demand rates
O_NODE_S_SPOT = 2
O_NODE_S_RESERVED = 3
O_PRODUCTIVE_S = 4  # wall seconds of compute that counted (= work_s for a finished run)
O_CHECKPOINT_S = 5  # wall seconds writing checkpoints (finished or cut short)
O_LOST_S = 6  # wall seconds of compute thrown away by interruptions (re-done later)
O_RESTART_S = 7  # wall seconds in provisioning, replacement and restart overhead
O_N_INTERRUPTIONS = 8
O_FELL_BACK = 9  # 1.0 when the run moved to on-demand
O_FALLBACK_AT_S = 10  # time of the fallback (nan when none)
O_COMPLETED = 11  # 0.0 when the run hit the interruption cap (outputs are then partial)
N_OUT = 12

MAX_INTERRUPTIONS_PER_RUN = 1_000_000


@jit
def _next_interruption(rng, t, rate_per_s):
    """Return the time of the next interruption after ``t`` (inf when the rate is 0)."""
    if rate_per_s > 0.0:
        return t + exponential(rng) / rate_per_s
    return math.inf


@jit
def _on_demand_remaining_s(k, n_seg, segment_s, last_segment_s, checkpoint_s, restart_s,
                           mean_provisioning_s):
    """Return the expected time to finish on fresh on-demand nodes after ``k`` segments (s)."""
    remaining = 0.0
    if k < n_seg:
        remaining = (n_seg - 1 - k) * (segment_s + checkpoint_s) + last_segment_s + checkpoint_s
    return mean_provisioning_s + restart_s + remaining


@jit
def _simulate_run(rng, out, purchase, nodes, rate_per_s, n_seg, segment_s, last_segment_s,
                  checkpoint_s, restart_s, replacement_s, prov, mean_provisioning_s,
                  fallback_after, fallback_near_deadline, margin_s, deadline_s, reserved_s):
    """Simulate one run from submission (t = 0) to its last checkpoint; fill ``out[N_OUT]``."""
    t = 0.0
    mode = purchase
    mode_since = 0.0
    spot_s = 0.0  # wall seconds held on each purchase option (times nodes at the end)
    on_demand_s = 0.0
    rate = rate_per_s if purchase != PURCHASE_RESERVED else 0.0
    k = 0  # segments committed (checkpointed)
    n_int = 0
    fell_back = 0.0
    fallback_at = math.nan
    productive = 0.0
    ckpt = 0.0
    lost = 0.0
    restart_acc = 0.0
    completed = 1.0
    next_fail = _next_interruption(rng, t, rate)
    startup = provisioning_delay(prov, rng) + restart_s
    while k < n_seg:
        # Start-up or recovery: needs ``startup`` seconds without an interruption.
        if next_fail < t + startup:
            restart_acc += next_fail - t
            t = next_fail
            interrupted = True
        else:
            restart_acc += startup
            t += startup
            interrupted = False
            # Compute: segments of work, each followed by a checkpoint.
            while k < n_seg:
                seg = segment_s if k < n_seg - 1 else last_segment_s
                length = seg + checkpoint_s
                if next_fail < t + length:
                    elapsed = next_fail - t
                    done_compute = min(elapsed, seg)
                    lost += done_compute
                    ckpt += elapsed - done_compute
                    t = next_fail
                    interrupted = True
                    break
                t += length
                productive += seg
                ckpt += checkpoint_s
                k += 1
                if (k < n_seg and mode == PURCHASE_SPOT and fallback_near_deadline
                        and t + _on_demand_remaining_s(k, n_seg, segment_s, last_segment_s,
                                                       checkpoint_s, restart_s,
                                                       mean_provisioning_s)
                        + margin_s >= deadline_s):
                    break  # fall back below, at a checkpoint: nothing is lost
        if k >= n_seg:
            break
        fallback = False
        if interrupted:
            n_int += 1
            if n_int >= MAX_INTERRUPTIONS_PER_RUN:
                completed = 0.0
                break
            if mode == PURCHASE_SPOT:
                too_many = fallback_after > 0 and n_int >= fallback_after
                too_late = fallback_near_deadline and (
                    t + _on_demand_remaining_s(k, n_seg, segment_s, last_segment_s,
                                               checkpoint_s, restart_s, mean_provisioning_s)
                    + margin_s >= deadline_s)
                fallback = too_many or too_late
        else:
            fallback = True  # the compute loop stopped at a checkpoint for the deadline rule
        if fallback:
            if mode == PURCHASE_SPOT:  # only spot falls back
                spot_s += t - mode_since
            mode = PURCHASE_ON_DEMAND
            mode_since = t
            fell_back = 1.0
            fallback_at = t
            rate = 0.0
            next_fail = math.inf
            startup = provisioning_delay(prov, rng) + restart_s
        else:
            next_fail = _next_interruption(rng, t, rate)
            startup = replacement_s + restart_s
    reserved_window_s = 0.0
    if mode == PURCHASE_SPOT:
        spot_s += t - mode_since
    elif mode == PURCHASE_ON_DEMAND:
        on_demand_s += t - mode_since
    else:  # reserved: the window is paid whatever the run used; an overrun is on-demand
        reserved_window_s = t if reserved_s < 0.0 else reserved_s
        on_demand_s += max(0.0, t - reserved_window_s)
    out[O_COMPLETION_S] = t
    out[O_NODE_S_ON_DEMAND] = nodes * on_demand_s
    out[O_NODE_S_SPOT] = nodes * spot_s
    out[O_NODE_S_RESERVED] = nodes * reserved_window_s
    out[O_PRODUCTIVE_S] = productive
    out[O_CHECKPOINT_S] = ckpt
    out[O_LOST_S] = lost
    out[O_RESTART_S] = restart_acc
    out[O_N_INTERRUPTIONS] = n_int
    out[O_FELL_BACK] = fell_back
    out[O_FALLBACK_AT_S] = fallback_at
    out[O_COMPLETED] = completed


@jit(parallel=True)
def training_kernel(purchase, nodes, rate_per_s, n_seg, segment_s, last_segment_s, checkpoint_s,
                    restart_s, replacement_s, prov, mean_provisioning_s, fallback_after,
                    fallback_near_deadline, margin_s, deadline_s, reserved_s, n_runs,
                    n_replications, seed):
    """Simulate ``n_runs`` independent runs in each of ``n_replications`` replications.

    Parameters
    ----------
    purchase : int
        ``PURCHASE_*`` of the gang at submission.
    nodes : int
        Nodes in the gang.
    rate_per_s : float
        Gang interruption rate (nodes x per-node rate) while on the submitted purchase option, 1/s
        (ignored for reserved capacity).
    n_seg : int
        Segments of work; each ends with a checkpoint (``>= 1``).
    segment_s, last_segment_s : float
        Compute per segment and in the last one (s).
    checkpoint_s : float
        Time to write one checkpoint (s); 0 when the job never checkpoints.
    restart_s, replacement_s : float
        Restart overhead and replacement delay (s).
    prov : float64[m, 2]
        Provisioning components (median_s, lognormal sigma); the delay is their sum.
    mean_provisioning_s : float
        Mean of the provisioning delay (s), for the near-deadline rule.
    fallback_after : int
        Fall back to on-demand at this spot interruption (0 = never).
    fallback_near_deadline : bool
        Fall back when the expected on-demand finish plus ``margin_s`` reaches ``deadline_s``.
    margin_s, deadline_s : float
        Safety margin and deadline from submission (s; ``inf`` = no deadline).
    reserved_s : float
        Reserved window per run (s); ``< 0`` = the run's own wall time.
    n_runs, n_replications, seed : int
        Runs per replication, replications, scenario seed.

    Returns
    -------
    float64[n_replications, n_runs, N_OUT]
        Per-run outputs, indexed by ``O_*``.
    """
    out = np.zeros((n_replications, n_runs, N_OUT))
    for r in numba.prange(n_replications):
        rng = np.zeros(4, dtype=np.uint64)
        seed_stream(seed, r, rng)
        for j in range(n_runs):
            _simulate_run(rng, out[r, j], purchase, nodes, rate_per_s, n_seg, segment_s,
                          last_segment_s, checkpoint_s, restart_s, replacement_s, prov,
                          mean_provisioning_s, fallback_after, fallback_near_deadline, margin_s,
                          deadline_s, reserved_s)
    return out
