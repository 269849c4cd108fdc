"""Estimate a run's time and memory before starting it, and refuse one past the limits.

A scenario that validates can still ask for more than a machine has: ten years at 100,000
requests/s, 10,000 replications of a long horizon, a sweep of a million points.
:func:`estimate_run` sizes a run from the scenario alone (no simulation, no file read beyond a
trace's first and last rows): for each design, the work one replication does (requests, records,
jobs or training runs), the CPU time that work costs, and the memory of the arrays the simulator
allocates (its per-minute timeline, hourly usage profiles, a trace as read).
:func:`check_run_size` refuses a run whose estimate passes :class:`RunLimits` with
:class:`RunTooLargeError`, which states the estimate and the way out (a smaller horizon or
fewer replications, or ``--force``).

The CPU costs per unit of work are measured on the bundled scenarios (one 2-core machine,
compiled kernels, ``benchmarks/`` has the kernels' own timings) and rounded up: the estimate is
an order of magnitude, meant to catch runs of hours or of more memory than the machine has,
not to predict seconds.  A realtime fleet that is overloaded also queues its backlog (16 bytes
per waiting request), which no estimate made before the run can know.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costmodels.spot_advisor import rate_per_node_hour
from domain.errors import PlannerError
from planner import schema
from simulators.batch._kernel import N_JOB_COLS
from simulators.llm._layout import N_TIMELINE as LLM_TIMELINE
from simulators.realtime._layout import N_TIMELINE as REALTIME_TIMELINE
from simulators.streaming._layout import N_TIMELINE as STREAMING_TIMELINE
from simulators.training.checkpoints import daly_expected_time_s, young_daly_interval_s

__all__ = ["DesignEstimate", "RunEstimate", "RunLimits", "RunTooLargeError", "check_run_size",
           "estimate_run"]

TIMELINE_BIN_S = 60.0
"""Width of the simulators' timeline bins (s), one row of floats per bin and replication."""

CPU_S_PER_REQUEST = {"realtime": 0.4e-6, "llm": 150e-6}
"""CPU seconds per simulated request (measured: realtime 0.17-0.34 us on bert-serving,
fraud-scoring and fleet-mix; llm 100-180 us on llm-chat)."""

CPU_S_PER_RECORD = 0.15e-6
"""CPU seconds per streamed record (measured 0.12 us on fraud-scoring)."""

CPU_S_PER_JOB = 1e-3
"""CPU seconds per batch job (a job's records are drawn as one count, not one by one)."""

CPU_S_PER_TRAINING_RUN = 1e-4
"""CPU seconds per simulated training run, beside its hourly usage profile."""

CPU_S_PER_PROFILE_HOUR = 1e-7
"""CPU seconds per hour of a training run's hourly usage profile (per run)."""

BYTES_PER_PROFILE_HOUR = 16.0
"""Bytes per hour of a training run's hourly usage profiles (per run)."""

TRACE_BYTES_FACTOR = 5.0
"""Memory to read a trace file, per byte of the file (measured 4.9 on a 936 MB trace)."""

TRAINING_REPLICATIONS_MIN = 2000
"""Training designs simulate at least this many runs (:mod:`planner.patterns.training`)."""


@dataclass(frozen=True)
class DesignEstimate:
    """The size of one design's simulation."""

    design: str
    pattern: str
    work: float
    """Units of work in one replication (see ``unit``)."""
    unit: str
    """What ``work`` counts: requests, records, jobs, or hours of a training run."""
    replications: int
    cpu_s: float
    """CPU time of every replication together (s)."""
    bytes: float
    """Memory of the simulator's arrays and inputs (bytes)."""

    def describe(self) -> str:
        """One line: the design's work and cost."""
        return (f"{self.design} ({self.pattern}): {self.work:,.3g} {self.unit} per replication "
                f"x {self.replications:,} replications, {_duration(self.cpu_s)} of CPU, "
                f"{_size(self.bytes)}")


@dataclass(frozen=True)
class RunEstimate:
    """The size of a whole run: every design, for every sweep point."""

    designs: tuple[DesignEstimate, ...]
    points: int
    n_cores: int

    @property
    def wall_s(self) -> float:
        """Estimated wall time (s): designs one after another, replications (and sweep points)
        spread over the cores."""
        per_point = sum(d.cpu_s / max(1, min(self.n_cores, d.replications))
                        for d in self.designs)
        if self.points == 1:
            return per_point
        total_cpu = sum(d.cpu_s for d in self.designs) * self.points
        return max(per_point, total_cpu / self.n_cores)

    @property
    def peak_bytes(self) -> float:
        """Estimated peak memory (bytes): the largest design, times the points run at once."""
        largest = max((d.bytes for d in self.designs), default=0.0)
        return largest * min(self.points, self.n_cores)

    def over(self, limits: RunLimits) -> list[str]:
        """Return the limits the estimate passes, in words ([] when within them)."""
        over = []
        if not self.wall_s <= limits.wall_s:
            over.append(f"time {_duration(self.wall_s)} > {_duration(limits.wall_s)}")
        if not self.peak_bytes <= limits.memory_bytes():
            over.append(f"memory {_size(self.peak_bytes)} > {_size(limits.memory_bytes())}")
        return over

    def describe(self) -> str:
        """The estimate in words: the totals, then one line per design."""
        points = f" for each of {self.points:,} sweep points" if self.points > 1 else ""
        head = (f"about {_duration(self.wall_s)} on {self.n_cores} core(s) and "
                f"{_size(self.peak_bytes)} of memory")
        lines = "\n".join(f"  - {d.describe()}{points}" for d in self.designs)
        return f"{head}:\n{lines}"


def _physical_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a 16 GiB machine
        return 16.0 * 2**30


@dataclass(frozen=True)
class RunLimits:
    """Above these a run needs ``--force``: 30 minutes, half of the machine's memory."""

    wall_s: float = 1800.0
    bytes: float = 0.0
    """0: half of this machine's physical memory."""

    def memory_bytes(self) -> float:
        """The memory limit (bytes)."""
        return self.bytes if self.bytes > 0 else 0.5 * _physical_bytes()


class RunTooLargeError(PlannerError):
    """A run's estimate passes the limits and ``--force`` was not given."""

    def __init__(self, message: str, estimate: RunEstimate) -> None:
        super().__init__(message)
        self.estimate = estimate


def estimate_run(scenario: schema.Scenario, *, points: int = 1,
                 n_cores: int | None = None) -> RunEstimate:
    """Estimate the time and memory of simulating every design of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    points : int
        Sweep points (each simulates every design once); 1 for ``planner run`` / ``compare``.
    n_cores : int, optional
        Cores the replications spread over (default: this machine's).

    Returns
    -------
    RunEstimate
    """
    cores = n_cores or os.cpu_count() or 1
    designs = tuple(_ESTIMATORS[d.pattern](scenario, d, scenario.workload(d.workload))
                    for d in scenario.designs)
    return RunEstimate(designs=designs, points=max(1, int(points)), n_cores=max(1, cores))


def check_run_size(scenario: schema.Scenario, *, force: bool = False, points: int = 1,
                   limits: RunLimits | None = None, n_cores: int | None = None) -> RunEstimate:
    """Return the run's estimate; raise :class:`RunTooLargeError` past ``limits`` unless
    ``force``.

    The message starts with the scenario's file, gives the estimate per design, the limit
    passed, and the fix: a shorter ``horizon_s``, fewer ``replications`` (or sweep points), or
    ``--force`` to run it anyway.
    """
    estimate = estimate_run(scenario, points=points, n_cores=n_cores)
    over = estimate.over(limits or RunLimits())
    if over and not force:
        label = scenario.source_path or scenario.name
        raise RunTooLargeError(
            f"{label}: this run would take {estimate.describe()}\nIt passes the limit on "
            f"{' and '.join(over)}; shorten horizon_s, lower replications"
            f"{' or the sweep points' if points > 1 else ''} (or the arrival rate), or pass "
            "--force to run it anyway", estimate)
    return estimate


# ---------------------------------------------------------------------------------------------
# Per pattern


def _timeline_bytes(scenario: schema.Scenario, columns: int) -> float:
    """The per-minute timeline of every replication, and its summary (about as large again:
    measured 1.9x the timeline alone on a 30-day realtime run)."""
    n_bins = math.ceil(scenario.horizon_s / TIMELINE_BIN_S)
    return 2.0 * float(scenario.replications) * n_bins * columns * 8.0


def _hourly_bytes(scenario: schema.Scenario) -> float:
    """Hourly usage profiles (node-hours by purchase and state), per replication and hour."""
    return float(scenario.replications) * math.ceil(scenario.horizon_s / 3600.0) * 8.0 * 16


def _fleet_bytes(scenario: schema.Scenario, design: Any, n_cores: int) -> float:
    """The kernels' state per node slot and per worker (a batch buffer of ``max_batch`` items
    each), for the replications that run at once."""
    fleet = design.fleet
    auto = getattr(fleet, "autoscaling", None)
    slots = max(fleet.nodes, getattr(fleet, "max_nodes", None) or 0,
                0 if auto is None else auto.max_nodes)
    workers = float(slots) * fleet.workers_per_node
    batch = design.batching.max_batch if hasattr(design, "batching") else 1
    return min(scenario.replications, n_cores) * (workers * (48.0 + 8.0 * batch) + slots * 64.0)


def _autoscaling_cpu_s(scenario: schema.Scenario, design: Any) -> float:
    """CPU time of the autoscaler's evaluations over every replication: each reads every
    worker of the fleet (about 5 ns each) beside a fixed microsecond."""
    auto = getattr(design.fleet, "autoscaling", None)
    if auto is None:
        return 0.0
    evaluations = scenario.horizon_s / auto.interval_s
    workers = float(auto.max_nodes) * design.fleet.workers_per_node
    return scenario.replications * evaluations * (1e-6 + 5e-9 * workers)


def _realtime(scenario: schema.Scenario, design: Any, workload: Any) -> DesignEstimate:
    requests, trace_bytes = _arrivals(scenario, workload)
    columns = LLM_TIMELINE if design.pattern == "llm" else REALTIME_TIMELINE
    memory = (_timeline_bytes(scenario, columns) + _hourly_bytes(scenario) + trace_bytes
              + _fleet_bytes(scenario, design, os.cpu_count() or 1))
    if design.pattern == "llm":
        slots = design.fleet.n_node_slots * design.fleet.workers_per_node
        memory += float(scenario.replications) * slots * 16.0
    cpu = (requests * scenario.replications * CPU_S_PER_REQUEST[design.pattern]
           + _autoscaling_cpu_s(scenario, design))
    return DesignEstimate(design.name, design.pattern, requests, "requests",
                          scenario.replications, cpu, memory)


def _streaming(scenario: schema.Scenario, design: Any, workload: Any) -> DesignEstimate:
    records, trace_bytes = _arrivals(scenario, workload)
    windows = scenario.horizon_s / design.window_s
    cpu = (scenario.replications * (records * CPU_S_PER_RECORD + windows * 1e-6)
           + _autoscaling_cpu_s(scenario, design))
    memory = (_timeline_bytes(scenario, STREAMING_TIMELINE) + _hourly_bytes(scenario)
              + trace_bytes + _fleet_bytes(scenario, design, os.cpu_count() or 1))
    return DesignEstimate(design.name, design.pattern, records, "records",
                          scenario.replications, cpu, memory)


def _batch(scenario: schema.Scenario, design: Any, workload: Any) -> DesignEstimate:
    _, trace_bytes = _arrivals(scenario, workload)
    sched = design.schedule
    days = scenario.horizon_s / 86400.0
    jobs = (scenario.horizon_s / sched.period_s if sched.period_s is not None
            else len(sched.at) * math.ceil(days + 1))
    jobs = max(jobs, 1.0)
    memory = (float(scenario.replications) * jobs * N_JOB_COLS * 8.0 + _hourly_bytes(scenario)
              + trace_bytes)
    return DesignEstimate(design.name, design.pattern, jobs, "jobs", scenario.replications,
                          scenario.replications * jobs * CPU_S_PER_JOB, memory)


def _training(scenario: schema.Scenario, design: Any, workload: Any) -> DesignEstimate:
    runs = max(scenario.replications, TRAINING_REPLICATIONS_MIN)
    hours = _training_run_s(design, workload, scenario.pricing.hours_per_month) / 3600.0
    cpu = runs * (CPU_S_PER_TRAINING_RUN + hours * CPU_S_PER_PROFILE_HOUR)
    return DesignEstimate(design.name, design.pattern, hours, "hours of a run (1 GPU/node)",
                          runs, cpu, runs * hours * BYTES_PER_PROFILE_HOUR)


_ESTIMATORS: dict[str, Callable[[schema.Scenario, Any, Any], DesignEstimate]] = {
    "realtime": _realtime, "llm": _realtime, "streaming": _streaming, "batch": _batch,
    "training": _training,
}
"""The estimate of each design pattern, by its ``pattern:`` name."""


def _training_run_s(design: Any, workload: Any, hours_per_month: float) -> float:
    """Expected wall time of one training run (s), at one GPU per node (the longest run the
    GPU count allows: the catalog is not read here); ``inf`` when it never finishes."""
    f, ck = design.fleet, design.checkpoint
    work_s = workload.gpu_hours * 3600.0 / f.nodes
    setup_s = sum(p.p95_s or p.median_s for p in f.provisioning) + design.restart_overhead_s
    rate = _interruptions_per_node_hour(f.spot, hours_per_month)
    interval = None if ck is None else ck.interval_s
    cost_s = 0.0 if ck is None else ck.cost_s
    mtbf_s = 3600.0 / (f.nodes * rate) if rate > 0 else math.inf
    if interval == "young_daly":
        interval = (young_daly_interval_s(max(cost_s, 1e-9), mtbf_s)
                    if math.isfinite(mtbf_s) else None)
    n_ckpt = 0.0 if interval is None else math.ceil(work_s / interval)
    plain_s = work_s + n_ckpt * cost_s
    if not math.isfinite(mtbf_s):
        return setup_s + plain_s
    restart_s = (f.spot.replacement_delay_s if f.spot is not None else 0.0) + \
        design.restart_overhead_s
    expected = daly_expected_time_s(work_s, interval, cost_s, restart_s, mtbf_s)
    fallback = f.spot.fallback_after_interruptions if f.spot is not None else None
    if fallback is not None:  # at most that many restarts, then on-demand from the start
        expected = min(expected, (fallback + 1) * (plain_s + restart_s))
    return setup_s + expected


def _interruptions_per_node_hour(spot: Any, hours_per_month: float) -> float:
    if spot is None:
        return 0.0
    it = spot.interruptions
    if it.kind == "rate":
        return float(it.per_node_hour)
    return rate_per_node_hour(it.band or ">20%", hours_per_month)  # no band: the worst


# ---------------------------------------------------------------------------------------------
# Arrivals


def _arrivals(scenario: schema.Scenario, workload: Any) -> tuple[float, float]:
    """Return (requests in one replication's horizon, bytes to read the trace)."""
    arrivals = workload.arrivals
    if isinstance(arrivals, schema.PoissonArrivals):
        return arrivals.rate_rps * scenario.horizon_s, 0.0
    if isinstance(arrivals, schema.DiurnalArrivals):
        return arrivals.mean_rate_rps * scenario.horizon_s, 0.0
    return _trace_arrivals(arrivals, scenario.horizon_s)


def _trace_arrivals(arrivals: schema.TraceArrivals, horizon_s: float) -> tuple[float, float]:
    """Rows of a trace from its size and first rows, its span from its first and last rows
    (a repeated trace fills the horizon); (0, 0) when the file cannot be read (the input
    loader reports that, with the field)."""
    path = Path(arrivals.path)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(65536)
            file.seek(max(0, size - 4096))
            tail = file.read()
    except OSError:
        return 0.0, 0.0
    lines = head.splitlines()
    if len(lines) < 2:
        return 0.0, size * TRACE_BYTES_FACTOR
    rows = size / (len(head) / len(lines))
    span_s = _span_s(lines, tail.splitlines(), arrivals.column) * arrivals.time_scale
    in_horizon = rows
    if span_s > 0:
        in_horizon = rows * horizon_s / span_s if arrivals.repeat else \
            min(rows, rows * horizon_s / span_s)
    return in_horizon, size * TRACE_BYTES_FACTOR


def _span_s(head: list[bytes], tail: list[bytes], column: str) -> float:
    """Seconds from the first row's timestamp to the last's (0 when they cannot be read)."""
    names = [c.strip().strip('"') for c in head[0].decode(errors="replace").split(",")]
    if column not in names or not tail:
        return 0.0
    index = names.index(column)
    try:
        first = head[1].decode(errors="replace").split(",")[index].strip().strip('"')
        last = tail[-1].decode(errors="replace").split(",")[index].strip().strip('"')
        try:
            return float(last) - float(first)
        except ValueError:
            delta = np.datetime64(last) - np.datetime64(first)
            return float(delta / np.timedelta64(1, "ms")) / 1000.0
    except (IndexError, ValueError):
        return 0.0


# ---------------------------------------------------------------------------------------------
# Words


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever (a run expected never to finish)"
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.1f} s"


def _size(n_bytes: float) -> str:
    if not math.isfinite(n_bytes):
        return "unbounded memory"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes / 1024:,.0f} KiB"
