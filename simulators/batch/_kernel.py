"""The scheduled batch-job kernel: jobs in schedule order, records accounted by integration.

Semantics: the module docstring of ``simulators/batch/api.py`` (the contract) and the SimPy model in
``simulators/batch/reference.py``.  Records are never generated one by one: a job's record count
is one Poisson draw with mean ``integral of rate(t)`` over its cutoff interval, and its freshness
histogram is that count spread over the histogram buckets in proportion to the integral of the
rate over the arrival times that land in each bucket (systematic rounding, so the bucket counts
sum to the count exactly).  Memory is O(histogram + jobs) and the work per job is O(buckets its
freshness range spans + checkpoint segments + interruptions), whatever the number of records.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from simulators.core.arrival_kernel import (  # arrival kinds, re-exported
    ARRIVAL_PIECEWISE,  # noqa: F401 - diurnal hourly weights (used by the api)
    ARRIVAL_POISSON,
    ARRIVAL_SMOOTH,  # diurnal cosine
    ARRIVAL_TRACE,  # recorded times, counted exactly
)
from simulators.core.arrivals import DAY_S, HOUR_S
from simulators.core.fleet_kernel import provisioning_delay
from simulators.core.histogram import bucket_index
from simulators.core.jit import jit
from simulators.core.rng import _TWO_PI, exponential, seed_stream, uniform

# arrival parameters (float64[N_ARRIVAL_PARAMS])
AP_RATE = 0  # Poisson rate or diurnal mean rate (1/s)
AP_AMPLITUDE = 1  # smooth: relative amplitude a
AP_PHASE_S = 2  # smooth: rate(t) = m (1 + a cos(2 pi (t + phase) / day)); phase = start - peak
AP_START_S = 3  # piecewise: clock seconds at simulation time 0
N_ARRIVAL_PARAMS = 4

# purchase options (columns of the node-second accounts)
OPT_ON_DEMAND = 0
OPT_SPOT = 1
ACC_BUSY = 2  # busy worker-seconds column
N_ACC = 3

# job parameters (float64[N_JOB_PARAMS])
JP_NODES = 0
JP_WORKERS_PER_NODE = 1
JP_THROUGHPUT_RPS = 2  # records/s of the whole gang
JP_STARTUP_S = 3
JP_CHECKPOINT_S = 4  # inf = no checkpoints
JP_CHECKPOINT_COST_S = 5
JP_PURCHASE = 6  # OPT_*
JP_GANG_RATE = 7  # interruptions per second of the gang (nodes x per-node rate)
JP_REPLACEMENT_S = 8
JP_FALLBACK_AFTER = 9  # 0 = never
JP_DEADLINE_S = 10  # inf = none
JP_SLO_S = 11  # inf = none
N_JOB_PARAMS = 12

# per-job outputs (float64[n_jobs, N_JOB_COLS])
J_SCHEDULED_S = 0
J_START_S = 1
J_END_S = 2  # inf when abandoned
J_RECORDS = 3
J_INTERRUPTIONS = 4
J_LOST_S = 5  # wall seconds of processing and checkpoint writing lost to interruptions
J_MET_DEADLINE = 6  # 1 or 0 (1 when there is no deadline)
J_WORK_S = 7  # records / throughput
J_CHECKPOINTS = 8  # checkpoints completed
J_PROVISIONING_S = 9  # gang provisioning delay drawn for the job
J_FALLBACK = 10  # 1 when the job fell back to on-demand
N_JOB_COLS = 11

# per-replication statistics (float64[N_STATS])
S_N_ARRIVED = 0  # records arrived in [0, horizon)
S_N_PROCESSED = 1  # ... whose job completed by the horizon
S_N_PENDING = 2  # ... not (yet) processed at the horizon
S_N_WINDOW_ARRIVED = 3  # records arrived in [warmup, horizon)
S_N_WINDOW_PROCESSED = 4
S_N_WINDOW_PENDING = 5
S_SUM_FRESHNESS_S = 6  # over window-processed records
S_N_SLO_MET = 7  # window-processed records with freshness <= slo
S_N_INTERRUPTIONS = 8
S_LOST_S = 9
S_N_JOBS = 10
S_N_JOBS_DONE = 11  # jobs completed by the horizon
S_N_OVERRUNS = 12  # jobs that started after their scheduled start
S_N_MISSED_DEADLINE = 13
S_N_FALLBACKS = 14
S_N_CHECKPOINTS = 15
S_N_ABANDONED = 16
N_STATS = 17

MAX_INTERRUPTIONS_PER_JOB = 1_000_000  # a job past this is abandoned (end = inf)


# ---------------------------------------------------------------- arrival-rate integrals


@jit
def rate_integral(kind, ap, hourly, a, b, origin):
    """Return (integral of rate over [a, b), integral of (t - origin) rate(t) over [a, b)).

    ``kind`` is ``ARRIVAL_POISSON``, ``ARRIVAL_SMOOTH`` or ``ARRIVAL_PIECEWISE``; ``hourly`` is
    float64[24] (piecewise rates by clock hour).  Closed forms: for the cosine,
    ``int cos(w(t+p)) = sin(w(t+p))/w`` and ``int (t-o) cos(w(t+p)) = (t-o) sin/w + cos/w^2``.
    """
    if not b > a:
        return 0.0, 0.0
    if kind == ARRIVAL_POISSON:
        r = ap[AP_RATE]
        return r * (b - a), 0.5 * r * ((b - origin) ** 2 - (a - origin) ** 2)
    if kind == ARRIVAL_SMOOTH:
        m = ap[AP_RATE]
        amp = ap[AP_AMPLITUDE]
        w = _TWO_PI / DAY_S
        x = a + ap[AP_PHASE_S]
        pa = w * (x - DAY_S * math.floor(x / DAY_S))
        pb = pa + w * (b - a)
        sa = math.sin(pa)
        sb = math.sin(pb)
        mass = m * ((b - a) + amp * (sb - sa) / w)
        first = m * (0.5 * ((b - origin) ** 2 - (a - origin) ** 2)
                     + amp * ((b - origin) * sb / w + math.cos(pb) / (w * w)
                              - (a - origin) * sa / w - math.cos(pa) / (w * w)))
        return mass, first
    # piecewise hourly rates: walk the clock hours
    mass = 0.0
    first = 0.0
    start = ap[AP_START_S]
    t = a
    while t < b:
        clock = t + start
        hour_index = math.floor(clock / HOUR_S)
        nxt = (hour_index + 1.0) * HOUR_S - start
        if nxt <= t:  # rounding at an hour edge
            nxt = t + 1e-9 * HOUR_S
        e = min(nxt, b)
        r = hourly[int(hour_index) % 24]
        mass += r * (e - t)
        first += 0.5 * r * ((e - origin) ** 2 - (t - origin) ** 2)
        t = e
    return mass, first


# ---------------------------------------------------------------- random counts


@jit
def poisson_count(rng, mean):
    """Return a Poisson(``mean``) variate as a float (exact for any mean).

    Knuth's multiplication method below 10; Hormann's transformed rejection (PTRS, "The
    transformed rejection method for generating Poisson random variables", 1993) above, as in
    numpy, so a mean of 5e8 costs a couple of uniforms.
    """
    if not mean > 0.0:
        return 0.0
    if mean < 10.0:
        limit = math.exp(-mean)
        x = 0.0
        prod = uniform(rng)
        while prod > limit:
            x += 1.0
            prod *= uniform(rng)
        return x
    slam = math.sqrt(mean)
    loglam = math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(rng) - 0.5
        v = uniform(rng)
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                <= -mean + k * loglam - math.lgamma(k + 1.0)):
            return k


@jit
def gang_provisioning_s(prov, nodes, rng):
    """Return the gang's provisioning delay (s): the slowest of ``nodes`` independent nodes.

    Each node's delay is the sum of the components ``prov[k] = (median_s, sigma)``, constant when
    ``sigma == 0`` and lognormal otherwise (as ``simulators.core.fleet.DelayComponent``).
    """
    slowest = 0.0
    random = False
    for k in range(prov.shape[0]):
        if prov[k, 1] > 0.0:
            random = True
    n_draws = nodes if random else 1
    for _ in range(n_draws):
        slowest = max(slowest, provisioning_delay(prov, rng))
    return slowest


# ---------------------------------------------------------------- accounting


@jit
def _bill(acc, column, amount, t0, t1, horizon_s, warmup_s):
    """Add ``amount x |[t0, t1] & window|`` to ``acc[basis, column]`` for both windows."""
    if amount <= 0.0 or not t1 > t0:
        return
    hi = min(t1, horizon_s)
    lo = max(t0, 0.0)
    if hi > lo:
        acc[0, column] += amount * (hi - lo)
    lo = max(t0, warmup_s)
    if hi > lo:
        acc[1, column] += amount * (hi - lo)


@jit
def _fill_freshness(kind, ap, hourly, lo, hi, end, n, lower, upper, hist):
    """Spread ``n`` records arriving in [lo, hi) and done at ``end`` over the freshness buckets.

    Bucket ``k`` holds freshness ``[lower[k], upper[k])``, i.e. arrivals in
    ``(end - upper[k], end - lower[k]]``; its share is the rate's integral there over the whole
    integral.  Systematic rounding of the cumulative share (``floor(n x cum + 0.5)``) keeps every
    bucket within one record of ``n x share`` and the total exactly ``n``.
    """
    total, _ = rate_integral(kind, ap, hourly, lo, hi, lo)
    if n <= 0.0 or not total > 0.0:
        return
    first = bucket_index(end - hi)
    last = bucket_index(end - lo)
    cum = 0.0
    placed = 0.0
    for k in range(first, last + 1):
        a = max(lo, end - upper[k])
        b = min(hi, end - lower[k])
        if k == last:
            target = n
        else:
            mass, _ = rate_integral(kind, ap, hourly, a, b, a)
            cum += mass
            target = min(n, math.floor(n * (cum / total) + 0.5))
        if target > placed:
            hist[k] += np.int64(target - placed)
            placed = target


# ---------------------------------------------------------------- one replication


@jit
def _simulate_one(seed, replication, kind, ap, hourly, trace, scheduled, jp, prov, horizon_s,
                  warmup_s, lower, upper, hist, jobs, stats, acc):
    """Simulate one replication: every scheduled job in order, then the records left over."""
    rng = np.empty(4, dtype=np.uint64)
    seed_stream(seed, replication, rng)
    nodes = int(jp[JP_NODES])
    workers = nodes * jp[JP_WORKERS_PER_NODE]
    throughput = jp[JP_THROUGHPUT_RPS]
    startup = jp[JP_STARTUP_S]
    tau = jp[JP_CHECKPOINT_S]
    ckpt_cost = jp[JP_CHECKPOINT_COST_S]
    purchase = int(jp[JP_PURCHASE])
    gang_rate = jp[JP_GANG_RATE]
    replacement = jp[JP_REPLACEMENT_S]
    fallback_after = int(jp[JP_FALLBACK_AFTER])
    deadline = jp[JP_DEADLINE_S]
    slo = jp[JP_SLO_S]
    n_jobs = scheduled.shape[0]
    prev_end = -math.inf
    prev_cut = 0.0
    trace_pos = 0

    for j in range(n_jobs + 1):
        cut = scheduled[j] if j < n_jobs else horizon_s
        # ---- the records of the cutoff interval [prev_cut, cut)
        lo_w = max(prev_cut, warmup_s)
        if kind == ARRIVAL_TRACE:
            first_rec = trace_pos
            while trace_pos < trace.shape[0] and trace[trace_pos] < cut:
                trace_pos += 1
            n_rec = float(trace_pos - first_rec)
            n_post = 0.0
            for i in range(first_rec, trace_pos):
                if trace[i] >= warmup_s:
                    n_post += 1.0
            first_post = trace_pos - int(n_post)
        else:
            mass, _ = rate_integral(kind, ap, hourly, prev_cut, cut, prev_cut)
            n_rec = poisson_count(rng, mass)
            n_post = n_rec
            if lo_w > prev_cut:
                post_mass, _ = rate_integral(kind, ap, hourly, lo_w, cut, lo_w)
                n_post = math.floor(n_rec * (post_mass / mass) + 0.5) if mass > 0 else 0.0
            first_post = 0
        stats[S_N_ARRIVED] += n_rec
        stats[S_N_WINDOW_ARRIVED] += n_post
        if j == n_jobs:  # records after the last cutoff: no job takes them
            stats[S_N_PENDING] += n_rec
            stats[S_N_WINDOW_PENDING] += n_post
            break

        # ---- run the job
        sched = scheduled[j]
        start = max(sched, prev_end)
        job = jobs[j]
        job[J_SCHEDULED_S] = sched
        job[J_START_S] = start
        job[J_RECORDS] = n_rec
        if start > sched:
            stats[S_N_OVERRUNS] += 1.0
        option = purchase
        t = start
        prov_s = gang_provisioning_s(prov, nodes, rng)
        job[J_PROVISIONING_S] = prov_s
        _bill(acc, option, nodes, t, t + prov_s, horizon_s, warmup_s)
        t += prov_s
        _bill(acc, option, nodes, t, t + startup, horizon_s, warmup_s)
        t += startup
        work = n_rec / throughput
        job[J_WORK_S] = work
        n_seg = 0
        if work > 0.0:
            n_seg = 1 if not math.isfinite(tau) else math.ceil(work / tau)
        n_int = 0
        lost = 0.0
        n_ckpt = 0
        abandoned = False
        for seg in range(n_seg):
            seg_work = tau
            if seg == n_seg - 1:  # the rest (all of it without checkpoints)
                seg_work = work if n_seg == 1 else work - (n_seg - 1) * tau
            seg_len = seg_work + (ckpt_cost if seg < n_seg - 1 else 0.0)
            while True:
                ttf = math.inf
                if option == OPT_SPOT and gang_rate > 0.0:
                    ttf = exponential(rng) / gang_rate
                if ttf >= seg_len:
                    _bill(acc, option, nodes, t, t + seg_len, horizon_s, warmup_s)
                    _bill(acc, ACC_BUSY, workers, t, t + seg_work, horizon_s, warmup_s)
                    t += seg_len
                    if seg < n_seg - 1:
                        n_ckpt += 1
                    break
                # interrupted: lose the segment so far, wait for the replacement
                _bill(acc, option, nodes, t, t + ttf, horizon_s, warmup_s)
                _bill(acc, ACC_BUSY, workers, t, t + min(ttf, seg_work), horizon_s, warmup_s)
                t += ttf
                lost += ttf
                n_int += 1
                _bill(acc, option, nodes - 1, t, t + replacement, horizon_s, warmup_s)
                t += replacement
                if fallback_after > 0 and n_int >= fallback_after and option == OPT_SPOT:
                    option = OPT_ON_DEMAND
                    job[J_FALLBACK] = 1.0
                    stats[S_N_FALLBACKS] += 1.0
                if n_int >= MAX_INTERRUPTIONS_PER_JOB:
                    abandoned = True
                    break
            if abandoned:
                break
        if abandoned:
            _bill(acc, option, nodes, t, math.inf, horizon_s, warmup_s)
            t = math.inf
            stats[S_N_ABANDONED] += 1.0
        end = t
        job[J_END_S] = end
        job[J_INTERRUPTIONS] = n_int
        job[J_LOST_S] = lost
        job[J_CHECKPOINTS] = n_ckpt
        met = end <= sched + deadline
        job[J_MET_DEADLINE] = 1.0 if met else 0.0
        if not met:
            stats[S_N_MISSED_DEADLINE] += 1.0
        stats[S_N_JOBS] += 1.0
        stats[S_N_INTERRUPTIONS] += n_int
        stats[S_LOST_S] += lost
        stats[S_N_CHECKPOINTS] += n_ckpt

        # ---- account the job's records
        if end <= horizon_s:
            stats[S_N_JOBS_DONE] += 1.0
            stats[S_N_PROCESSED] += n_rec
            stats[S_N_WINDOW_PROCESSED] += n_post
            if n_post > 0.0:
                if kind == ARRIVAL_TRACE:
                    for i in range(first_post, trace_pos):
                        f = end - trace[i]
                        hist[bucket_index(f)] += 1
                        stats[S_SUM_FRESHNESS_S] += f
                        if f <= slo:
                            stats[S_N_SLO_MET] += 1.0
                else:
                    post_mass, post_first = rate_integral(kind, ap, hourly, lo_w, cut, lo_w)
                    mean_arrival = lo_w + post_first / post_mass
                    stats[S_SUM_FRESHNESS_S] += n_post * (end - mean_arrival)
                    _fill_freshness(kind, ap, hourly, lo_w, cut, end, n_post, lower, upper,
                                    hist)
                    if math.isfinite(slo):
                        met_mass, _ = rate_integral(kind, ap, hourly, max(lo_w, end - slo),
                                                    cut, lo_w)
                        stats[S_N_SLO_MET] += math.floor(n_post * (met_mass / post_mass) + 0.5)
        else:
            stats[S_N_PENDING] += n_rec
            stats[S_N_WINDOW_PENDING] += n_post
        prev_end = end
        prev_cut = cut


@jit(parallel=True)
def batch_kernel(seed, first_replication, kind, ap, hourly, trace, scheduled, jp, prov,
                 horizon_s, warmup_s, lower, upper, hist, jobs, stats, acc):
    """Run replications ``first_replication + r`` for every row ``r`` of the output arrays.

    Parameters
    ----------
    seed : int
        Scenario seed; replication ``k`` uses the stream seeded from ``(seed, k)``.
    first_replication : int
        Index of the replication written to row 0.
    kind : int
        ``ARRIVAL_*``.
    ap : float64[N_ARRIVAL_PARAMS]
        Arrival parameters (``AP_*``).
    hourly : float64[24]
        Piecewise hourly rates (1/s), by clock hour.
    trace : float64[n]
        Sorted arrival times (s) for ``ARRIVAL_TRACE`` (already looped to the horizon).
    scheduled : float64[n_jobs]
        Scheduled starts (= cutoffs), increasing, inside ``(0, horizon_s)``.
    jp : float64[N_JOB_PARAMS]
        Job parameters (``JP_*``).
    prov : float64[k, 2]
        Provisioning delay components of one node (median s, log-sd).
    horizon_s, warmup_s : float
        Records arrive in ``[0, horizon_s)``; the window is ``[warmup_s, horizon_s)``.
    lower, upper : float64[N_BUCKETS]
        Histogram bucket edges (s).
    hist : int64[R, N_BUCKETS]
        Output freshness histograms of window records processed by the horizon.
    jobs : float64[R, n_jobs, N_JOB_COLS]
        Output per-job rows (``J_*``).
    stats : float64[R, N_STATS]
        Output counters (``S_*``).
    acc : float64[R, 2, N_ACC]
        Output node-seconds by purchase option and busy worker-seconds; ``[:, 0]`` inside
        ``[0, horizon_s]``, ``[:, 1]`` inside ``[warmup_s, horizon_s]``.
    """
    for r in prange(hist.shape[0]):
        _simulate_one(seed, first_replication + r, kind, ap, hourly, trace, scheduled, jp, prov,
                      horizon_s, warmup_s, lower, upper, hist[r], jobs[r], stats[r], acc[r])
