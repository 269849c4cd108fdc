"""Recover the batches of a one-worker load test and measure the serving loop's batch times.

With one worker and FIFO dynamic batching, the requests of one batch complete at the same
instant: a batch is a run of consecutive requests (in arrival order) whose completions
(``arrival + latency``) agree within :data:`BATCH_TOLERANCE_MS`. A batch whose requests were
all queued when the previous batch completed (and, with a ``max_wait``, whose oldest request had
waited it out, or which was full) started at that completion: the two completions are back to
back, and the gap between them is the loop's time for the batch (the **in-loop batch time**),
with every client-side offset cancelled. Other batches started when an idle worker received
their first request, at an instant the test does not show; they are counted, not timed.

The recovery needs the design's fleet to be one worker (``nodes x workers_per_node == 1``):
with several workers, batches interleave and a completion gap is not one batch's time.
:func:`recovery_skip_reason` says why a test or design is skipped.

:func:`in_loop_rows` tabulates the back-to-back times per batch size against the profile;
:func:`measured_table` turns them into a service-time table for the simulator: measured sizes
(at least :data:`MIN_BACK_TO_BACK` back-to-back batches) as measured, the others from the
profile corrected by terms fitted to the measured sizes, each with a lognormal dispersion from
the measured spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from domain.errors import ScenarioError
from planner.calibrate_result import Terms
from planner.inputs_loadtest import LoadTest

__all__ = [
    "BATCH_TOLERANCE_MS",
    "MIN_BACK_TO_BACK",
    "SERIAL_LIMIT",
    "BatchSizeRow",
    "MeasuredTable",
    "RecoveredBatches",
    "TestBatches",
    "extrapolation_note",
    "in_loop_rows",
    "measured_table",
    "recover_batches",
    "recovery_skip_reason",
    "serial_correlation",
    "size_ranges",
]

BATCH_TOLERANCE_MS = 0.05
"""Requests whose completions (arrival + latency) agree within this many ms were served in one
batch: 50 times the microsecond resolution of a client's timestamps, and a hundredth of a GPU
batch's time (milliseconds), so one batch is never split and two are never merged."""
MIN_BACK_TO_BACK = 30
"""Back-to-back batches a batch size needs before its measured in-loop mean replaces the
profile's: the mean of 30 batches has a standard error of the batch times' spread / 5.5, 1 to
2 % for a loop whose times spread 5 to 10 % (the H100 ResNet-50 loop's p90 is 5-10 % above its
median at most sizes)."""
SERIAL_LIMIT = 0.2
"""Lag-1 correlation of successive in-loop times (log, over their size's median) above which
calibrate warns that the loop has slow and fast stretches: the simulator draws each batch's
time independently, so it cannot build the queues of a slow stretch (at 0.2, a 10 % slower
batch is followed by one 2 % slower on average; independent draws give 0 +- 0.05 over the
tests' thousands of batches)."""
_MIN_FOR_P99 = 100
"""Back-to-back batches a size needs before its measured p99 sets its dispersion."""
_Z90 = 1.2815515655446004
_Z95 = 1.959963984540054
_Z99 = 2.3263478740408408


@dataclass(frozen=True, eq=False)
class RecoveredBatches:
    """The batches of one per-request load test.

    Attributes
    ----------
    test : str
        The test's name.
    size : int64[b]
        Requests in each batch, in completion order.
    completion_s : float64[b]
        When each batch completed (s from the test's first arrival).
    back_to_back : bool[b]
        Whether the batch started at the previous batch's completion.
    in_loop_ms : float64[b]
        The gap to the previous completion (ms) for back-to-back batches, NaN for the others.
    """

    test: str
    size: np.ndarray
    completion_s: np.ndarray
    back_to_back: np.ndarray
    in_loop_ms: np.ndarray

    @property
    def n_batches(self) -> int:
        """Batches recovered."""
        return int(self.size.size)

    @property
    def n_back_to_back(self) -> int:
        """Back-to-back batches (timed)."""
        return int(self.back_to_back.sum())


@dataclass(frozen=True)
class BatchSizeRow:
    """The in-loop time of one batch size against the profile's.

    ``median_ci95_ms`` is the median's distribution-free 95 % interval (order statistics); the
    size is ``flag``-ged ``slower`` or ``faster`` when the profile's time lies outside it and
    the gap exceeds 5 % (the profile's own spread between its mean and median).
    """

    batch_size: int
    n_batches: int
    n_back_to_back: int
    median_ms: float | None
    mean_ms: float | None
    p90_ms: float | None
    median_ci95_ms: tuple[float, float] | None
    profile_ms: float
    flag: str | None

    def as_dict(self) -> dict:
        """Return the row as JSON values."""
        ci = None if self.median_ci95_ms is None else list(self.median_ci95_ms)
        return {"batch_size": self.batch_size, "batches": self.n_batches,
                "back_to_back": self.n_back_to_back, "median_ms": self.median_ms,
                "mean_ms": self.mean_ms, "p90_ms": self.p90_ms, "median_ci95_ms": ci,
                "profile_ms": self.profile_ms, "flag": self.flag}


@dataclass(frozen=True)
class TestBatches:
    """What batch recovery found in one test: its per-size rows, or why it was skipped."""

    test: str
    skipped: str | None
    n_batches: int = 0
    n_back_to_back: int = 0
    rows: tuple[BatchSizeRow, ...] = ()
    serial_correlation: float | None = None
    """Lag-1 correlation of successive in-loop times (:func:`serial_correlation`)."""

    @property
    def drifts(self) -> bool:
        """Whether successive batch times correlate beyond :data:`SERIAL_LIMIT`."""
        return self.serial_correlation is not None and self.serial_correlation > SERIAL_LIMIT

    def as_dict(self) -> dict:
        """Return the test's batches as JSON values (sizes with no batch left out)."""
        return {"test": self.test, "skipped": self.skipped, "batches": self.n_batches,
                "back_to_back": self.n_back_to_back,
                "serial_correlation": self.serial_correlation, "drifts": self.drifts,
                "tolerance_ms": BATCH_TOLERANCE_MS,
                "rows": [r.as_dict() for r in self.rows if r.n_batches]}


@dataclass(frozen=True, eq=False)
class MeasuredTable:
    """A service-time table for batch sizes 1..max_batch, measured where the tests allow.

    Attributes
    ----------
    mean_ms, p50_ms, p99_ms : float64[max_batch]
        Batch time of sizes 1..max_batch (ms): mean, and the median and 99th percentile of a
        lognormal with the measured dispersion (p50 to p99 with 100 or more batches, else p50
        to p90).
    measured : bool[max_batch]
        Whether the size had at least :data:`MIN_BACK_TO_BACK` back-to-back batches (else the
        profile x ``terms``).
    n_back_to_back : int64[max_batch]
    terms : Terms
        ``scale`` and ``overhead_ms`` fitted to the measured sizes' means (each size once),
        applied to the profile at the other sizes.
    sigma : float
        Log-space dispersion given to the sizes not measured: the median of the measured ones'.
    fitted_on : tuple of str
        The tests the table was measured on.
    """

    mean_ms: np.ndarray
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    measured: np.ndarray
    n_back_to_back: np.ndarray
    terms: Terms
    sigma: float
    fitted_on: tuple[str, ...]

    @property
    def batch_sizes(self) -> np.ndarray:
        """int64[max_batch]: 1..max_batch."""
        return np.arange(1, self.mean_ms.size + 1)

    @property
    def unobserved_text(self) -> str | None:
        """``"25-32"``: the sizes whose times come from the profile, or None."""
        return size_ranges(self.batch_sizes[~self.measured])

    def csv_text(self) -> str:
        """The table as a CSV a ``service_time: {kind: table, jitter: lognormal}`` reads."""
        lines = ["batch,mean_ms,p50_ms,p99_ms,back_to_back,source"]
        for i, n in enumerate(self.batch_sizes):
            source = "measured in loop" if self.measured[i] else (
                f"profile x {self.terms.scale:.4g} + {self.terms.overhead_ms:.4g} ms")
            lines.append(f"{n},{self.mean_ms[i]:.4f},{self.p50_ms[i]:.4f},{self.p99_ms[i]:.4f},"
                         f"{int(self.n_back_to_back[i])},{source}")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        """Return the table as JSON values."""
        return {"fitted_on": list(self.fitted_on), "min_back_to_back": MIN_BACK_TO_BACK,
                "terms_elsewhere": self.terms.as_dict(), "sigma_elsewhere": self.sigma,
                "unobserved": self.unobserved_text,
                "rows": [{"batch_size": int(n), "mean_ms": float(self.mean_ms[i]),
                          "p50_ms": float(self.p50_ms[i]), "p99_ms": float(self.p99_ms[i]),
                          "back_to_back": int(self.n_back_to_back[i]),
                          "measured": bool(self.measured[i])}
                         for i, n in enumerate(self.batch_sizes)]}


def recovery_skip_reason(test: LoadTest, n_workers: int) -> str | None:
    """Why batches cannot be recovered from ``test`` on a fleet of ``n_workers``, or None."""
    if n_workers != 1:
        return (f"the design has {n_workers} workers (nodes x workers_per_node); batches "
                "interleave across workers, so a completion gap is not one batch's time")
    if test.kind != "requests" or test.arrival_s is None or test.latency_ms is None:
        return f"{test.kind} files hold no per-request arrivals and latencies"
    return None


def recover_batches(test: LoadTest, max_batch: int, max_wait_ms: float = 0.0,
                    warmup_s: float = 0.0) -> RecoveredBatches:
    """Group a one-worker test's requests into batches and time the back-to-back ones.

    Parameters
    ----------
    test : LoadTest
        A per-request test (arrivals sorted, latencies in arrival order).
    max_batch : int
        The design's largest batch: a longer run of equal completions means the server batched
        more (or ran more workers) than the design says, and is refused.
    max_wait_ms : float
        The design's wait for a batch to fill: a batch that was not full started back to back
        only if its oldest request had waited that long at the previous completion.
    warmup_s : float
        Batches whose first request arrived earlier are left out (the first kept batch is
        never timed: its predecessor is unknown).

    Raises
    ------
    ScenarioError
        More than ``max_batch`` requests completed together.
    """
    assert test.arrival_s is not None and test.latency_ms is not None
    arrival = test.arrival_s
    completion = arrival + test.latency_ms / 1000.0
    tol_s = BATCH_TOLERANCE_MS / 1000.0
    new = np.empty(arrival.size, dtype=bool)
    new[0] = True
    new[1:] = np.abs(np.diff(completion)) > tol_s
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], arrival.size)
    size = ends - starts
    if int(size.max()) > max_batch:
        i = int(np.argmax(size > max_batch))
        raise ScenarioError(
            f"{test.path}: {int(size[i])} requests (sent from {arrival[starts[i]]:.6f} s) "
            f"completed within {BATCH_TOLERANCE_MS:g} ms of each other, one batch on one worker, "
            f"but the design batches at most {max_batch} (batching.max_batch); the test ran with "
            f"other batching or more workers: give the design max_batch >= {int(size[i])} or "
            "its fleet, or use --method terms")
    done = np.maximum.reduceat(completion, starts)
    first, last = arrival[starts], arrival[ends - 1]
    previous = np.concatenate(([np.nan], done[:-1]))
    with np.errstate(invalid="ignore"):
        queued = last <= previous
        waited = (size >= max_batch) | (first + max_wait_ms / 1000.0 <= previous)
    back = queued & waited & ~np.isnan(previous)
    keep = first >= warmup_s
    back &= np.concatenate(([False], keep[:-1]))  # timed only when its predecessor is kept
    gap_ms = np.where(back, (done - previous) * 1000.0, np.nan)
    return RecoveredBatches(test.name, size[keep].astype(np.int64), done[keep], back[keep],
                            gap_ms[keep])


def in_loop_rows(batches: Sequence[RecoveredBatches], profile_ms: np.ndarray) -> list[BatchSizeRow]:
    """Return one row per batch size 1..max_batch: batches seen, back-to-back ones, and their
    in-loop median, mean and p90 (ms) against ``profile_ms`` (float64[max_batch + 1], index
    = batch size)."""
    size = np.concatenate([b.size for b in batches])
    back = np.concatenate([b.back_to_back for b in batches])
    gap = np.concatenate([b.in_loop_ms for b in batches])
    rows = []
    for n in range(1, profile_ms.size):
        times = np.sort(gap[(size == n) & back])
        median = mean = p90 = ci = flag = None
        if times.size:
            median, mean = float(np.median(times)), float(times.mean())
            p90 = float(np.percentile(times, 90))
            ci = _median_ci(times)
            if ci is not None:
                reference = float(profile_ms[n])
                if reference < ci[0] and median > 1.05 * reference:
                    flag = "slower"
                elif reference > ci[1] and median < reference / 1.05:
                    flag = "faster"
        rows.append(BatchSizeRow(n, int((size == n).sum()), int(times.size), median, mean, p90,
                                 ci, float(profile_ms[n]), flag))
    return rows


def serial_correlation(batches: RecoveredBatches) -> float | None:
    """Return the lag-1 correlation of successive back-to-back in-loop times, each as the log of
    its ratio to its size's median (the size effect removed); None under 30 pairs.

    Near 0 when each batch's time is an independent draw for its size (what the simulator
    assumes); well above :data:`SERIAL_LIMIT` when the loop runs in slow and fast stretches.
    """
    timed = batches.back_to_back
    ratio = np.full(batches.size.size, np.nan)
    for n in np.unique(batches.size[timed]):
        here = timed & (batches.size == n)
        ratio[here] = np.log(batches.in_loop_ms[here] / np.median(batches.in_loop_ms[here]))
    pairs = ~np.isnan(ratio[:-1]) & ~np.isnan(ratio[1:])
    if pairs.sum() < MIN_BACK_TO_BACK:
        return None
    first, second = ratio[:-1][pairs], ratio[1:][pairs]
    if first.std() == 0 or second.std() == 0:
        return 0.0
    return float(np.corrcoef(first, second)[0, 1])


def _median_ci(sorted_times: np.ndarray) -> tuple[float, float] | None:
    """Distribution-free 95 % interval of the median: order statistics j..k with the
    binomial(n, 1/2) normal approximation; None under 6 samples (no 95 % interval exists)."""
    n = sorted_times.size
    if n < 6:
        return None
    half = _Z95 * math.sqrt(n) / 2.0
    low = max(math.floor(n / 2.0 - half), 0)
    high = min(math.ceil(n / 2.0 + half), n - 1)
    return float(sorted_times[low]), float(sorted_times[high])


def measured_table(batches: Sequence[RecoveredBatches], profile_ms: np.ndarray,
                   profile_sigma: np.ndarray) -> MeasuredTable:
    """Return the service-time table the tests measure (module notes).

    Parameters
    ----------
    batches : sequence of RecoveredBatches
        The calibration tests' batches (one worker each).
    profile_ms : float64[max_batch + 1]
        The design's service-time mean by batch size (index = size; ms) before terms.
    profile_sigma : float64[max_batch + 1]
        Its lognormal dispersion by size (0 without jitter), used where nothing is measured
        and the measured sizes give no spread.
    """
    max_batch = profile_ms.size - 1
    size = np.concatenate([b.size for b in batches])
    back = np.concatenate([b.back_to_back for b in batches])
    gap = np.concatenate([b.in_loop_ms for b in batches])
    mean = np.zeros(max_batch)
    p50 = np.zeros(max_batch)
    sigma = np.zeros(max_batch)
    count = np.zeros(max_batch, dtype=np.int64)
    for n in range(1, max_batch + 1):
        times = gap[(size == n) & back]
        count[n - 1] = times.size
        if times.size >= MIN_BACK_TO_BACK:
            mean[n - 1] = times.mean()
            p50[n - 1] = np.median(times)
            # the lognormal's dispersion from the p50-to-p99 distance where a p99 is measured
            # (>= 100 batches), else from the p50-to-p90 one
            q, z = (99, _Z99) if times.size >= _MIN_FOR_P99 else (90, _Z90)
            sigma[n - 1] = max(math.log(np.percentile(times, q) / p50[n - 1]), 0.0) / z
    measured = count >= MIN_BACK_TO_BACK
    terms = _terms_from(profile_ms[1:][measured], mean[measured])
    sigma_elsewhere = float(np.median(sigma[measured])) if measured.any() else float(
        np.median(profile_sigma[1:]))
    elsewhere = ~measured
    mean[elsewhere] = terms.scale * profile_ms[1:][elsewhere] + terms.overhead_ms
    sigma[elsewhere] = sigma_elsewhere
    p50[elsewhere] = mean[elsewhere] * np.exp(-0.5 * sigma[elsewhere] ** 2)
    p99 = p50 * np.exp(_Z99 * sigma)
    return MeasuredTable(mean, p50, p99, measured, count, terms, sigma_elsewhere,
                         tuple(b.test for b in batches))


def _terms_from(profile_ms: np.ndarray, mean_ms: np.ndarray) -> Terms:
    """``scale`` and ``overhead_ms >= 0`` with ``mean ~ scale x profile + overhead`` over the
    measured sizes, each size counted once (least squares): a size that dominates the tests
    (at high load, full batches) must not set the times of every other size.

    A plain ratio (the median over sizes of measured / profile) when the measured sizes'
    profile times barely vary (under 5 %: they cannot separate the two terms) or when the
    fitted scale lands on its bound (1/10 or 10: the loop does not follow the profile's shape,
    e.g. the profile's noisy sizes are not slow in the loop).
    """
    if profile_ms.size == 0:
        return Terms(0.0, 1.0)
    ratio = float(np.median(mean_ms / profile_ms))
    if profile_ms.size < 2 or np.ptp(profile_ms) < 0.05 * float(np.median(profile_ms)):
        return Terms(0.0, ratio)
    from scipy.optimize import lsq_linear

    design = np.column_stack([profile_ms, np.ones_like(profile_ms)])
    found = lsq_linear(design, mean_ms, bounds=([0.1, 0.0], [10.0, np.inf]))
    if not 0.1 * 1.001 < found.x[0] < 10.0 / 1.001:  # on a bound: not the profile's shape
        return Terms(0.0, ratio)
    return Terms(float(found.x[1]), float(found.x[0]))


def extrapolation_note(table: MeasuredTable, batches: RecoveredBatches) -> str | None:
    """Say which batch sizes a test formed that ``table`` did not measure, or None.

    A prediction of ``batches``' test leans on the profile (x the table's terms) for those
    sizes: an assumption, not a measurement; the note gives their share of the test's requests.
    """
    needed = np.unique(batches.size)
    unmeasured = needed[~table.measured[needed - 1]]
    if unmeasured.size == 0:
        return None
    never = unmeasured[table.n_back_to_back[unmeasured - 1] == 0]
    share = float(batches.size[np.isin(batches.size, unmeasured)].sum() / batches.size.sum())
    terms = table.terms
    never_text = "" if never.size == 0 else f"; {size_ranges(never)} never timed"
    return (f"batch sizes {size_ranges(unmeasured)} ({100 * share:.0f}% of {batches.test}'s "
            f"requests) had fewer than {MIN_BACK_TO_BACK} back-to-back batches in the "
            f"calibration tests ({', '.join(table.fitted_on)}{never_text}); their times come "
            f"from the profile x {terms.scale:.3g} + {terms.overhead_ms:.3g} ms, not from a "
            "measurement")


def size_ranges(sizes: np.ndarray) -> str | None:
    """``[25, 26, 27, 30]`` -> ``"25-27, 30"``; None for no sizes."""
    values = sorted(int(s) for s in sizes)
    if not values:
        return None
    parts, start, prev = [], values[0], values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)
