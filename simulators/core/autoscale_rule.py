"""The target-tracking rule every fleet's autoscaler applies (``docs/fleet-dynamics.md``).

One source for both kinds of simulator: the SimPy references call :func:`target_nodes` as plain
Python, and the kernels call the same function compiled by :mod:`simulators.core.fleet_autoscale`
(``fa.target_nodes``).  The real-time and streaming fleets both scale with it.

kernel source: the kernels compile this module's function, so its text keys the kernel cache
(``simulators/core/jit.py``).
"""

from __future__ import annotations

import math

TOLERANCE = 1e-9
"""``ceil(x - TOLERANCE)``: a ratio equal to an integer up to float rounding stays that integer."""


def target_nodes(load, workers_per_node, target, min_nodes, scheduled_min, base, max_nodes):
    """Return the node count that runs ``load`` at ``target`` per worker, clamped.

    Parameters
    ----------
    load : float
        The measured load per second over the autoscaler's window: busy worker-seconds per
        second (metric ``utilization``) or requests in the system (``queue_per_worker``).
    workers_per_node : int or float
        Workers per node.
    target : float
        Target utilization, or target outstanding requests per worker.
    min_nodes, scheduled_min, base, max_nodes : int
        The policy's floor, the clock schedule's floor now, the never-removed on-demand base,
        and the ceiling.

    Returns
    -------
    int
        ``ceil(load / (workers_per_node * target) - 1e-9)`` clipped to
        ``[max(min_nodes, scheduled_min, base), max_nodes]``.
    """
    desired = math.ceil(load / (workers_per_node * target) - TOLERANCE)
    low = max(max(min_nodes, scheduled_min), base)
    desired = max(desired, low)
    return min(desired, max_nodes)
