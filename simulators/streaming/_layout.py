"""Array layout of the streaming kernel: its statistics (``S_*``), timeline fields (``T_*``),
random streams, and the helper that spreads a quantity over timeline bins.

Private to ``simulators/streaming/``: the raw result's methods, its typed records and
``usage.py`` read these arrays; nothing outside the package does.
"""

from __future__ import annotations

from simulators.core.jit import jit

SERVICE_STREAM = 1 << 40  # offset of the service-time stream index from the replication index
SPOT_STREAM = 2 << 40  # offset of the spot interruption stream index

# stats layout (per replication)
S_N_ARRIVALS_TOTAL = 0  # records arrived in [0, horizon)
S_N_WINDOW = 1  # records arrived in [warmup, horizon): the measured records
S_N_PROCESSED_BY_HORIZON = 2  # records whose window's processing ended at or before the horizon
S_N_IN_SYSTEM_AT_HORIZON = 3  # records arrived but not processed by the horizon
S_N_COMPLETED_IN_WINDOW = 4  # records whose window's processing ended in [warmup, horizon]
S_SUM_LATENCY_S = 5  # over measured records
S_N_SLO_MET = 6  # measured records with latency <= SLO
S_BUSY_WORKER_S = 7  # busy worker-seconds inside [warmup, horizon]
S_BUSY_WORKER_S_HORIZON = 8  # busy worker-seconds inside [0, horizon]
S_NODE_S_HORIZON = 9  # node-seconds held inside [0, horizon]
S_NODE_S_WINDOW = 10  # node-seconds held inside [warmup, horizon]
S_N_WINDOWS_TOTAL = 11  # windows simulated (every k with k * window_s < horizon)
S_N_WINDOWS_PROCESSED = 12  # windows whose processing ended at or before the horizon
S_N_BATCHES = 13  # batches run, every window (lost ones included)
S_MAX_BACKLOG_WINDOWS = 14  # max over closes in [warmup, horizon] of windows waiting to start
S_MAX_BACKLOG_RECORDS = 15  # ... and of the records in them
S_BACKLOG_WINDOW_AREA = 16  # integral of waiting windows over [warmup, horizon], window-s
S_BACKLOG_RECORD_AREA = 17  # integral of records in waiting windows over [warmup, horizon]
S_IN_SYSTEM_AREA = 18  # integral of records arrived and not processed over [warmup, horizon]
S_LAG_AT_HORIZON_S = 19  # horizon - close of the newest window processed by the horizon
S_BACKLOG_WINDOWS_AT_HORIZON = 20  # windows closed by the horizon, not started by it
S_BACKLOG_RECORDS_AT_HORIZON = 21  # ... and the records in them
S_SUM_PROCESSING_S = 22  # sum of processing times (start to end) of non-empty windows
S_N_NONEMPTY_WINDOWS = 23
S_MAX_PROCESSING_S = 24
S_LAST_END_S = 25  # end of the last window's processing (the drain's end)
S_N_SCALE_OUT = 26  # autoscaler decisions that added nodes (or kept marked ones)
S_N_SCALE_IN = 27  # autoscaler decisions that cancelled launches or marked nodes for removal
S_MAX_NODES = 28  # most nodes held at once (provisioning and notice included) up to the horizon
S_N_NODES_LAUNCHED = 29  # launches after t = 0 up to the horizon (autoscaler and replacements)
S_NODE_S_SPOT_HORIZON = 30  # spot node-seconds held inside [0, horizon]
S_NODE_S_SPOT_WINDOW = 31  # ... inside [warmup, horizon]
S_BUSY_SPOT_WORKER_S = 32  # busy worker-seconds of spot nodes inside [warmup, horizon]
S_N_INTERRUPTIONS = 33  # spot interruption notices (all at or before the horizon)
S_N_REPLACEMENTS = 34  # replacement launches up to the horizon
S_N_LOST_SHARES = 35  # node shares of a pass lost to a node's death
S_N_REPROCESSED_RECORDS = 36  # records of the lost shares (processed again)
S_LOST_WORKER_S = 37  # busy worker-seconds of the lost shares, whenever
S_N_STRANDED = 38  # records never processed: no node was left to process their window
N_STATS = 39

# timeline layout (per replication and bin over [0, horizon))
T_ARRIVALS = 0  # records arriving in the bin
T_PROCESSED = 1  # records whose window's processing ended in the bin
T_NODE_S = 2  # node-seconds held in the bin
T_BUSY_WORKER_S = 3  # busy worker-seconds in the bin
T_BACKLOG_WINDOW_S = 4  # waiting-window-seconds in the bin
T_BACKLOG_RECORD_S = 5  # waiting-record-seconds in the bin
T_SPOT_NODE_S = 6  # spot node-seconds held in the bin
N_TIMELINE = 7


@jit
def spread(timeline, field, t0, t1, weight, bin_s, horizon_s):
    """Add ``weight`` x (time of ``[t0, t1)`` inside each bin) to ``timeline[:, field]``."""
    t1 = min(t1, horizon_s)
    t0 = max(t0, 0.0)
    if not t1 > t0:
        return
    n_bins = timeline.shape[0]
    b = int(t0 / bin_s)
    while t0 < t1 and b < n_bins:
        edge = (b + 1) * bin_s
        if edge <= t0:
            b += 1
            continue
        hi = min(edge, t1)
        timeline[b, field] += weight * (hi - t0)
        t0 = hi
        b += 1
