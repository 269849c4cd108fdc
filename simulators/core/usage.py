"""The one record every pattern's simulation returns: what the design used and how it did.

Every pattern package (``simulators/<pattern>/``) turns its raw kernel output into a
:class:`Usage`, so the planner prices and summarises all patterns the same way: the metric's
distribution (latency, freshness or completion time) per replication, node usage by purchase
option, the work done, and a timeline. Arrays have one row per replication (``R``); scalar
fields are means over the replications.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from domain.purchase import Purchase
from simulators.core.histogram import percentiles_from_counts, saturated_from_counts

METRICS = ("latency", "freshness", "completion_time")
"""What a pattern's distribution measures: request latency (real time, streaming), record
freshness (batch: arrival to the end of the job that processed it), completion time (training)."""


@dataclass(frozen=True)
class Distribution:
    """A per-replication distribution of a duration (seconds).

    Exactly one of ``histograms`` (int64[R, N_BUCKETS] log-bucket counts, one histogram per
    replication) or ``runs_s`` (float64[R], one i.i.d. run per replication, e.g. a training
    run's completion time) is set.
    """

    mean_s: np.ndarray
    histograms: np.ndarray | None = field(default=None, repr=False)
    runs_s: np.ndarray | None = field(default=None, repr=False)
    slo_attainment: np.ndarray | None = None
    """float64[R]: share meeting the SLO per replication (histograms) or 1/0 per run; None
    without an SLO."""

    def __post_init__(self) -> None:
        if (self.histograms is None) == (self.runs_s is None):
            raise ValueError("a Distribution has exactly one of histograms and runs_s")

    @property
    def per_run(self) -> bool:
        """Whether each replication is one i.i.d. sample (quantiles pool the runs)."""
        return self.runs_s is not None

    def percentiles_s(self, quantiles: np.ndarray) -> np.ndarray:
        """Return float64[R, k]: nearest-rank quantiles per replication (histograms only)."""
        if self.histograms is None:
            raise ValueError("per-run distributions have no per-replication quantiles")
        return percentiles_from_counts(self.histograms, np.asarray(quantiles))

    def saturated(self, quantiles: np.ndarray) -> np.ndarray:
        """Return bool[R, k]: whether each replication's quantile lies in the histogram's
        overflow bucket (a lower bound, see :func:`saturated_from_counts`); per-run
        distributions hold exact samples and are never saturated."""
        q = np.asarray(quantiles)
        if self.histograms is None:
            return np.zeros((np.asarray(self.runs_s).shape[0], q.size), dtype=bool)
        return saturated_from_counts(self.histograms, q)


@dataclass(frozen=True)
class PurchaseUsage:
    """Node usage of one purchase option.

    Attributes
    ----------
    purchase : Purchase
        What these node-hours are bought as (reserved capacity is reserved, not on-demand).
    hourly_node_hours : float64[R, H]
        Node-hours held in each hour of the horizon (the last hour may be partial).
    node_s_horizon : float64[R]
        Node-seconds over the horizon.
    node_s_window, busy_gpu_s_window : float
        Node-seconds and busy GPU-seconds in the measured window (means).
    """

    purchase: Purchase
    hourly_node_hours: np.ndarray = field(repr=False)
    node_s_horizon: np.ndarray = field(repr=False)
    node_s_window: float
    busy_gpu_s_window: float


@dataclass(frozen=True)
class Work:
    """Units of work (requests, records or runs) per replication, float64[R] each."""

    arrived_window: np.ndarray
    completed_window: np.ndarray
    completed_by_horizon: np.ndarray
    in_system_at_horizon: np.ndarray
    dropped: np.ndarray


@dataclass(frozen=True)
class QueueStats:
    """Queue statistics of patterns with a request queue (float64[R] each)."""

    wait: Distribution
    mean_batch_size: np.ndarray
    mean_queue_length: np.ndarray
    littles_law_relative_error: float | None


@dataclass(frozen=True)
class Timeline:
    """Mean over replications of per-bin series; ``series`` maps a name to one value a bin."""

    bin_s: float
    start_s: np.ndarray
    series: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Usage:
    """What one design's simulation produced, the same record for every pattern.

    Attributes
    ----------
    metric : str
        One of :data:`METRICS`.
    distribution : Distribution
        The metric's distribution.
    purchases : tuple of PurchaseUsage
        Node usage by purchase option, in the order they are priced.
    node_s_horizon : float64[R]
        All node-seconds over the horizon.
    busy_gpu_s_horizon : float64[R]
        Busy GPU-seconds over the horizon.
    utilization : float64[R]
        Busy worker-seconds / serving worker-seconds in the window.
    throughput_rps, arrival_rate_rps : float64[R] or None
        Work completed and arrived in the window per second (None: no such rate, e.g. training).
    work : Work
        Units of work.
    horizon_s, window_s : float
        Priced horizon and measured window (training: the longest run, for both).
    timeline : Timeline or None
        Series over time for charts.
    queue : QueueStats or None
        Queue statistics (real time).
    events : mapping of str to float
        Fleet event counts, means per replication (preemptions, requeued_requests, ...).
    mean_node_s : float or None
        Mean node-seconds over the horizon where the pattern sums its purchase options' means
        (training); None: the mean of ``node_s_horizon``.
    """

    metric: str
    distribution: Distribution
    purchases: tuple[PurchaseUsage, ...]
    node_s_horizon: np.ndarray = field(repr=False)
    busy_gpu_s_horizon: np.ndarray = field(repr=False)
    utilization: np.ndarray = field(repr=False)
    throughput_rps: np.ndarray | None
    arrival_rate_rps: np.ndarray | None
    work: Work
    horizon_s: float
    window_s: float
    timeline: Timeline | None = None
    queue: QueueStats | None = None
    events: Mapping[str, float] = field(default_factory=dict)
    mean_node_s: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS} (got {self.metric!r})")

    @property
    def node_hours(self) -> float:
        """Mean node-hours over the horizon."""
        if self.mean_node_s is not None:
            return self.mean_node_s / 3600.0
        return float(self.node_s_horizon.mean()) / 3600.0

    def purchase(self, option: Purchase | str) -> PurchaseUsage | None:
        """Return the usage of ``option``, if the design used it."""
        for p in self.purchases:
            if p.purchase == option:
                return p
        return None


ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)`` after each chunk of replications."""
