"""Private layouts of the real-time kernel: the named structures it takes (its inputs and
outputs), per-replication statistics (``S_*``) and the per-bin timeline (``T_*``); read through
:class:`simulators.realtime.api.RealtimeSimResult`.
"""

from __future__ import annotations

from collections import namedtuple

from simulators.core.fleet_kernel import N_CLASSES, N_STATES
from simulators.core.jit import jit
from simulators.core.structures import keep_alive

# stats layout (per replication)
S_N_ARRIVALS_TOTAL = 0
S_N_WINDOW = 1
S_N_COMPLETED_BY_HORIZON = 2
S_N_IN_SYSTEM_AT_HORIZON = 3
S_SUM_LATENCY_S = 4
S_SUM_WAIT_S = 5
S_SUM_SERVICE_S = 6
S_N_SLO_MET = 7
S_BUSY_WORKER_S = 8
S_N_BATCHES = 9
S_SUM_BATCH_SIZE = 10
S_QUEUE_AREA = 11
S_LAST_COMPLETION_S = 12
S_N_BATCHES_TOTAL = 13
S_N_DISPATCHED_TOTAL = 14
S_N_COMPLETED_IN_WINDOW = 15
S_N_DROPPED = 16
S_N_DROPPED_WINDOW = 17
S_N_REQUEUED = 18
S_N_STRANDED = 19  # requests never served: no node could ever serve them again
S_N_PREEMPTIONS = 20
S_N_PREEMPTION_EVENTS = 21
S_N_SCALE_OUT = 22
S_N_SCALE_IN = 23
S_N_LAUNCH_BASE = 24
S_N_LAUNCH_SPOT = 25
S_N_LAUNCH_FALLBACK = 26
S_MAX_NODES = 27
S_N_LAUNCH_NO_SLOT = 28
N_STATS = 29

# timeline layout (per replication and bin).  Queue length, busy workers and node counts are
# integrated without per-request loops over bins: each bin keeps counts of the events in it and
# the sums of their offsets from the bin's start, from which ``simulators.realtime.api`` computes the
# exact area under each curve.  Every series has an "in" pair and an "out" pair.
T_ARRIVALS = 0  # requests arriving in the bin (queue in)
T_ARRIVAL_OFFSET_S = 1
T_DISPATCHED = 2  # requests leaving the queue for service (queue out)
T_DISPATCHED_OFFSET_S = 3
T_BATCHES = 4  # batches starting (busy workers in)
T_BATCH_OFFSET_S = 5
T_COMPLETIONS = 6  # requests completed in the bin
T_BATCHES_DONE = 7  # batches ending, completed or lost (busy workers out)
T_BATCH_DONE_OFFSET_S = 8
T_REQUEUED = 9  # requests put back in the queue by a node death (queue in)
T_REQUEUED_OFFSET_S = 10
T_DROPPED = 11  # requests dropped at their deadline (queue out)
T_DROPPED_OFFSET_S = 12
T_NODE_BASE = 13  # node series: 4 fields each, classes then states (see kernels.fleet)
N_TIMELINE = T_NODE_BASE + 4 * (N_CLASSES + N_STATES)


@jit(inline="always")
def _count_event(timeline, count_field, offset_field, t_s, weight, bin_s, inv_bin, horizon_s):
    """Add ``weight`` events at ``t_s`` to their bin's count and offset sum (if before horizon)."""
    b = int(t_s * inv_bin)
    if t_s < horizon_s:
        timeline[b, count_field] += weight
        timeline[b, offset_field] += weight * (t_s - b * bin_s)
    keep_alive(timeline)


# ----------------------------------------------------------------------------------------------
# What the kernel takes: a few namedtuples of arrays and scalars (Numba passes the arrays inside
# by reference; the fleet's configuration is :data:`simulators.core.fleet_kernel.FleetParams`)

ArrivalSource = namedtuple("ArrivalSource", ("kind", "params", "hourly_rates", "trace"))
"""The arrival process (``simulators.core.arrival_kernel``): ``kind`` (``ARRIVAL_*``),
``params`` float64[N_ARRIVAL_PARAMS] (``P_*``), ``hourly_rates`` float64[3, n] (diurnal thinning
envelopes) and ``trace`` float64[n] (trace arrival times, s)."""

ServiceModel = namedtuple("ServiceModel", ("kind", "mean_s", "mu", "sigma"))
"""Per-batch-size service time: ``kind`` (``simulators.core.service_kernel.SERVICE_*``) and
``mean_s``, ``mu``, ``sigma`` float64[max_batch + 1] each."""

Serving = namedtuple("Serving", ("max_batch", "max_wait_s", "horizon_s", "warmup_s", "slo_s",
                                 "bin_s"))
"""Scalars: largest batch; batching wait, arrival horizon, warm-up, SLO latency threshold and
timeline bin width (s)."""

Outputs = namedtuple("Outputs", ("lat_hist", "wait_hist", "stats", "timeline", "acc"))
"""Output arrays, one row per replication (or one replication's row): latency and wait
histograms int64[R, N_BUCKETS], ``stats`` float64[R, N_STATS], ``timeline`` float64[R, n_bins,
N_TIMELINE] and the fleet accounts ``acc`` float64[R, 2, N_CLASSES, N_STATES + 1]."""
