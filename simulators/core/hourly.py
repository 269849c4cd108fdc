"""Hourly node usage: the shape of a design's node-hours over the horizon, for pricing.

Commitments are applied hour by hour, so every pattern reports its node-hours per hour of the
horizon (float64[R, H]; the last hour may be partial).
"""

from __future__ import annotations

import math

import numpy as np

SECONDS_PER_HOUR = 3600.0


def hourly_node_hours(start_s: np.ndarray, width_s: np.ndarray, nodes: np.ndarray,
                      horizon_s: float) -> np.ndarray:
    """Return node-hours per hour of the horizon from a timeline of mean node counts.

    Parameters
    ----------
    start_s, width_s : float64[B]
        Start and width of each timeline bin, s.
    nodes : float64[R, B] or float64[B]
        Time-average nodes held in each bin.
    horizon_s : float
        Horizon, s; gives ``H = ceil(horizon_s / 3600)`` hours.

    Returns
    -------
    float64[R, H]
        A bin that straddles an hour boundary is split in proportion to its overlap.
    """
    nodes2 = np.atleast_2d(np.asarray(nodes, dtype=np.float64))
    n_hours = max(int(math.ceil(horizon_s / SECONDS_PER_HOUR - 1e-9)), 1)
    out = np.zeros((nodes2.shape[0], n_hours))
    start = np.asarray(start_s, dtype=np.float64)
    end = start + np.asarray(width_s, dtype=np.float64)
    for h in range(n_hours):
        lo, hi = h * SECONDS_PER_HOUR, (h + 1) * SECONDS_PER_HOUR
        overlap = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)
        out[:, h] = nodes2 @ overlap / SECONDS_PER_HOUR
    return out


def constant_profile(node_s: np.ndarray, horizon_s: float) -> np.ndarray:
    """Return float64[R, H] spreading each replication's node-seconds evenly over the horizon.

    For usage whose hourly shape does not matter (no commitment applies to it).
    """
    node_s = np.atleast_1d(np.asarray(node_s, dtype=np.float64))
    n_hours = max(int(math.ceil(horizon_s / SECONDS_PER_HOUR - 1e-9)), 1)
    widths = np.minimum(SECONDS_PER_HOUR, horizon_s - SECONDS_PER_HOUR * np.arange(n_hours))
    return node_s[:, None] / SECONDS_PER_HOUR * (widths / horizon_s)[None, :]


def job_profile(jobs_start: np.ndarray, jobs_end: np.ndarray, nodes: int, horizon_s: float,
                 node_s: np.ndarray) -> np.ndarray:
    """float64[R, H]: hourly node-hours shaped by the jobs' [start, end) and scaled so each
    replication's total equals its billed node-seconds."""
    n_hours = max(int(math.ceil(horizon_s / 3600.0 - 1e-9)), 1)
    out = np.zeros((jobs_start.shape[0], n_hours))
    edges = np.arange(n_hours + 1) * 3600.0
    for r in range(jobs_start.shape[0]):
        for s, e in zip(jobs_start[r], jobs_end[r]):
            e = min(e, horizon_s)
            if not np.isfinite(s) or e <= s:
                continue
            overlap = np.clip(np.minimum(e, edges[1:]) - np.maximum(s, edges[:-1]), 0, None)
            out[r] += overlap * nodes / 3600.0
        total = out[r].sum()
        out[r] = out[r] * (node_s[r] / 3600.0 / total) if total > 0 else \
            constant_profile(np.array([node_s[r]]), horizon_s)[0]
    return out
