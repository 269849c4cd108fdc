"""Private layouts of the llm kernel: the named structures it takes and keeps, the columns of
its per-request and per-replica state, its per-replication statistics (``S_*``) and its
per-bin timeline (``T_*``).  Read through :class:`simulators.llm.api.LlmSimResult`.
"""

from __future__ import annotations

from collections import namedtuple

from simulators.core.fleet_kernel import N_CLASSES, N_STATES

# ----------------------------------------------------------------------------------------------
# stats layout (per replication).  Request counts and sums are over requests arriving in
# [warmup_s, horizon_s) ("window requests") unless the name says total; time integrals are
# over [warmup_s, horizon_s].
S_ARRIVED = 0
S_ARRIVED_TOTAL = 1
S_FINISHED = 2
S_REJECTED = 3
S_PREEMPTIONS = 4  # recompute preemptions (KV cache full) of window requests
S_REROUTED = 5  # window requests re-routed when their node died
S_INPUT_TOKENS = 6  # prompt tokens of finished window requests
S_OUTPUT_TOKENS = 7
S_RECOMPUTED_TOKENS = 8  # context lost by window requests at a preemption or a node death
S_GOODPUT_REQUESTS = 9  # finished window requests meeting every given SLO
S_STEPS = 10  # steps starting in the window (all replicas)
S_DECODE_STEPS = 11  # ... of them with at least one decode sequence
S_SUM_DECODE_BATCH = 12  # sum of their decode batch sizes
S_RUNNING_AREA = 13  # integral of running requests (all replicas), request-s
S_WAITING_AREA = 14  # integral of waiting requests (replicas and central queue), request-s
S_KV_AREA = 15  # integral of used / total KV blocks summed over replicas, replica-s
S_PEAK_KV = 16  # largest used / total blocks of one replica at a step start in the window
S_FINISHED_BY_HORIZON = 17
S_IN_SYSTEM_AT_HORIZON = 18
S_STRANDED = 19  # window requests never finished (no node could ever serve them)
S_SUM_TTFT = 20
S_SUM_TPOT = 21
S_N_TPOT = 22  # finished window requests with output_tokens > 1
S_SUM_E2E = 23
S_TTFT_MET = 24
S_TPOT_MET = 25  # of those with a TPOT
S_E2E_MET = 26
S_BUSY_REPLICA_S = 27  # replica-seconds with a step running, in the window
S_PREFIX_HIT_TOKENS = 28  # prompt tokens not computed thanks to the prefix cache (all requests)
S_PREFILL_TOKENS = 29  # prefill tokens computed by completed steps (all requests)
S_DECODE_TOKENS = 30  # decode tokens computed by completed steps (all requests)
S_PREFILL_DONE = 31  # prefills completed (each emits an output token; all requests)
S_LAST_FINISH_S = 32
S_SPOT_PREEMPTIONS = 33  # spot nodes that got a notice
S_SPOT_PREEMPTION_EVENTS = 34
S_SCALE_OUT = 35
S_SCALE_IN = 36
S_LAUNCH_BASE = 37
S_LAUNCH_SPOT = 38
S_LAUNCH_FALLBACK = 39
S_MAX_NODES = 40
S_LAUNCH_NO_SLOT = 41
S_STEPS_TOTAL = 42
S_STALLS = 43  # replicas left with requests and no step (a kernel bug if ever > 0)
S_PREEMPTIONS_TOTAL = 44
S_PEAK_RUNNING = 45  # most requests running on one replica at a step start in the window
N_STATS = 46

# timeline layout (per replication and bin, over [0, horizon_s)): counts of events in the bin
# and integrals over the bin (divide by its width for time-averages)
T_ARRIVALS = 0
T_FINISHED = 1
T_REJECTED = 2
T_PREEMPTIONS = 3
T_REROUTED = 4
T_RUNNING_AREA = 5
T_WAITING_AREA = 6
T_KV_AREA = 7  # used blocks summed over replicas x s (divide by total blocks)
T_BUSY_AREA = 8  # replicas with a step running x s
T_NODE_BASE = 9  # node series: 4 fields each, classes then states (simulators.core.fleet_kernel)
N_TIMELINE = T_NODE_BASE + 4 * (N_CLASSES + N_STATES)

# levels integrated over time (rep.lv, rep.area, rep.area_w; timeline fields T_RUNNING_AREA + i)
LV_RUN = 0
LV_WAIT = 1
LV_USED = 2
LV_BUSY = 3
N_LV = 4

# ----------------------------------------------------------------------------------------------
# per-request state: int64[cap, NQ] and float64[cap, NQF] rows of a slot pool
Q_P = 0  # prompt tokens
Q_O = 1  # output tokens
Q_K = 2  # prompt (prefill) tokens computed; Q_K == Q_PP: decoding
Q_PP = 3  # tokens to prefill: p, or p + g after a preemption or a node loss
Q_G = 4  # output tokens emitted (a decoding request: at its step Q_S0)
Q_S0 = 5  # replica step index of a decoding request's first decode step
Q_X = 6  # prefill tokens scheduled in the step in progress
Q_NXT = 7  # next in its list (waiting, running, central queue or free list); -1: none
Q_PRV = 8  # previous in its list
Q_HPOS = 9  # position in the replica's completion heap (decoding requests)
Q_WIN = 10  # 1: arrived in [warmup_s, horizon_s)
NQ = 11
QF_ARRIVAL = 0
QF_TTFT = 1  # -1 until the first output token
NQF = 2

# per-replica state: int64[n_replicas, NR]
R_WHEAD = 0  # waiting queue (FCFS)
R_WTAIL = 1
R_NWAIT = 2
R_RHEAD = 3  # running list (admission order)
R_RTAIL = 4
R_NRUN = 5
R_ND = 6  # decoding requests
R_CSUM = 7  # sum of their contexts (before the next step)
R_STEP = 8  # index of the step in progress (or the next one)
R_USED = 9  # KV blocks held (prefix included)
R_PF = 10  # the running request still prefilling (-1: none; it is the most recent)
R_FIRST = 11  # first request scheduled a prefill chunk in the step in progress (-1: none)
R_PREFIX = 12  # 1: the shared prefix's blocks are held
R_MODE = 13  # 0 idle, 1 a step runs, 2 a step starts once the current time's events ran
R_HN = 14  # completion heap size
NR = 15
RF_START = 0  # start of the step in progress
NRF = 1

# misc ints and floats of a replication
MI_NPEND = 0
MI_RR_LAST = 1
MI_WIN_IN_SYSTEM = 2  # window requests in the system
MI_PASSED_HORIZON = 3
MI_CQ_HEAD = 4  # central queue (no replica READY), arrival order
MI_CQ_TAIL = 5
MI_CQ_N = 6
MI_FREE = 7  # head of the free list of request slots
MI_IN_SYSTEM = 8  # requests in the system (all)
MI_EVALS = 9
N_MI = 10
MF_T_LAST = 0  # time the levels were integrated to
MF_T_PEND = 1  # time of the pending step starts
N_MF = 2

# ----------------------------------------------------------------------------------------------
# What the kernel takes

ArrivalSource = namedtuple("ArrivalSource", ("kind", "params", "hourly_rates", "trace"))
"""The arrival process (``simulators.core.arrival_kernel``), as the real-time kernel takes it."""

Tokens = namedtuple("Tokens", ("prompt", "output", "sequential"))
"""Token samples int64[n] each and whether they are replayed in order (else drawn)."""

Engine = namedtuple("Engine", (
    "total_blocks", "block_size", "max_seqs", "max_tokens", "prefix_tokens", "prefix_blocks",
    "round_robin", "horizon_s", "warmup_s", "bin_s", "slo_ttft_s", "slo_tpot_s", "slo_e2e_s",
    "as_metric"))
"""Scalars: KV blocks per replica, block size, ``max_num_seqs``, ``max_num_batched_tokens``,
shared prefix tokens and blocks, the router (True: round robin), horizon, warm-up, timeline bin
(s), the three SLO thresholds (s; +inf when not given) and the autoscaling metric
(``AS_*``)."""

AS_KV = 0
AS_IN_FLIGHT = 1
AS_WAITING = 2

Outputs = namedtuple("Outputs", ("hist", "stats", "timeline", "acc", "per_replica"))
"""Output arrays, one row per replication (or one replication's row): ``hist`` int64[R, 3,
N_BUCKETS] (TTFT, TPOT, E2E of finished window requests), ``stats`` float64[R, N_STATS],
``timeline`` float64[R, n_bins, N_TIMELINE], ``acc`` float64[R, 2, N_CLASSES, N_STATES + 1]
(node-seconds by class and state, busy replica-seconds last), ``per_replica`` float64[R,
n_replicas, N_PR] (``PR_*``)."""

PR_BUSY_S = 0  # replica-seconds with a step running, in the window
PR_ROUTED = 1  # requests routed to the replica (at arrival, notice, death or from the central queue)
N_PR = 2

H_TTFT = 0
H_TPOT = 1
H_E2E = 2

Pool = namedtuple("Pool", ("qi", "qf"))
"""The request slots: int64[cap, NQ] and float64[cap, NQF] (free slots chained by Q_NXT)."""

Cursor = namedtuple("Cursor", ("idx", "t_gen", "pos", "t_next", "n_taken"))
"""The arrival stream: index of the next arrival in the block, the generator's state, the next
arrival time (+inf: none left) and the arrivals taken so far."""

Replication = namedtuple("Replication", (
    "src", "tok", "en", "tab", "out", "rng", "rng_tok", "block", "par", "st", "books", "wk",
    "ev", "steps", "ri", "rf", "cnt", "hk", "hr", "pend", "mi", "mf", "lv", "area", "area_w",
    "win", "seen", "w_per_node", "inv_bin"))
"""One replication's structures: inputs (``src``, ``tok``, ``en``, the step-time tables
``tab``), its :data:`Outputs` rows, the arrival-and-fleet stream and the token stream, the block
of arrival times, the fleet (``fk.FleetParams``, ``fk.FleetState``, ``fk.FleetAcc``,
``fk.Workers``, the event heap), ``steps`` (a ``WorkerAvail`` keyed by each replica's step end,
+inf without a step), per-replica state ``ri`` int64[n, NR] / ``rf`` float64[n, NRF], the decoding
requests' counts by residue ``cnt`` int64[n, block_size], the completion heaps ``hk`` (finishing
step) / ``hr`` (request) int64[n, max_seqs], the pending step starts ``pend`` int64[n], misc
``mi`` int64[N_MI] / ``mf`` float64[N_MF], the levels ``lv`` and their integrals from 0
(``area``) and over the window (``area_w``) float64[N_LV], the autoscaler's window of areas
float64[2, n_win + 1], the node states last seen int64[2, max_nodes], and scalars."""
