"""Service-time models of one GPU worker, per batch size (plain arrays for the kernels)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from domain.errors import SimulationError

_Z99 = 2.3263478740408408  # standard normal 99th percentile


@dataclass(frozen=True)
class ServiceTime:
    """Service time of a batch, by batch size ``n`` in ``1..max_batch``.

    Attributes
    ----------
    distribution : {"constant", "exponential", "lognormal"}
        Shape of the batch's service time around its mean.
    mean_s : float64[max_batch + 1]
        Mean service time (s) of a batch of ``n`` (index 0 unused).
    log_mu, log_sigma : float64[max_batch + 1]
        Lognormal parameters per batch size (zeros unless ``distribution == "lognormal"``).
    description : str
        Human-readable summary used in reports.
    """

    distribution: str
    mean_s: np.ndarray = field(repr=False)
    log_mu: np.ndarray = field(repr=False)
    log_sigma: np.ndarray = field(repr=False)
    description: str = ""

    @property
    def max_batch(self) -> int:
        """Return the largest batch size the model covers."""
        return int(self.mean_s.shape[0] - 1)

    def second_moment_s2(self, n: int) -> float:
        """Return E[S^2] (s^2) of a batch of ``n`` (used by Pollaczek-Khinchine checks)."""
        m = float(self.mean_s[n])
        if self.distribution == "constant":
            return m * m
        if self.distribution == "exponential":
            return 2.0 * m * m
        s = float(self.log_sigma[n])
        return m * m * math.exp(s * s)


def _zeros(max_batch: int) -> np.ndarray:
    return np.zeros(max_batch + 1, dtype=np.float64)


def constant_service(ms: float, max_batch: int) -> ServiceTime:
    """Return a service time of ``ms`` milliseconds whatever the batch size."""
    _check_positive("constant service ms", ms)
    mean = np.full(max_batch + 1, ms / 1000.0)
    return ServiceTime("constant", mean, _zeros(max_batch), _zeros(max_batch), f"constant {ms} ms")


def exponential_service(mean_ms: float, max_batch: int) -> ServiceTime:
    """Return an exponential service time of mean ``mean_ms`` ms, independent of batch size."""
    _check_positive("exponential service mean_ms", mean_ms)
    mean = np.full(max_batch + 1, mean_ms / 1000.0)
    return ServiceTime(
        "exponential", mean, _zeros(max_batch), _zeros(max_batch), f"exponential, mean {mean_ms} ms"
    )


def linear_service(base_ms: float, per_item_ms: float, max_batch: int) -> ServiceTime:
    """Return a constant service time of ``base_ms + per_item_ms * n`` ms for a batch of ``n``."""
    if base_ms < 0 or per_item_ms < 0 or not base_ms + per_item_ms > 0:
        raise SimulationError(
            f"linear service needs base_ms >= 0, per_item_ms >= 0 and a positive sum "
            f"(got {base_ms}, {per_item_ms})"
        )
    n = np.arange(max_batch + 1, dtype=np.float64)
    mean = (base_ms + per_item_ms * n) / 1000.0
    return ServiceTime(
        "constant", mean, _zeros(max_batch), _zeros(max_batch),
        f"linear {base_ms} ms + {per_item_ms} ms/item",
    )


def table_service(
    batch_sizes: np.ndarray,
    mean_ms: np.ndarray,
    max_batch: int,
    *,
    p50_ms: np.ndarray | None = None,
    p99_ms: np.ndarray | None = None,
    jitter: str = "none",
    description: str = "table",
) -> ServiceTime:
    """Return a service time interpolated from a measured per-batch-size table.

    Parameters
    ----------
    batch_sizes : int64[k]
        Measured batch sizes, sorted ascending, unique.
    mean_ms : float64[k]
        Mean service time (ms) at each measured size; linear interpolation in between, the first
        measurement below the smallest measured size.
    max_batch : int
        Largest batch simulated; must not exceed the largest measured size.
    p50_ms, p99_ms : float64[k], optional
        Median and 99th percentile at each size; needed for ``jitter="lognormal"``.
    jitter : {"none", "lognormal"}
        ``"none"``: every batch of size ``n`` takes the interpolated mean.  ``"lognormal"``: a
        lognormal around it whose mean is the interpolated mean and whose p99/p50 ratio is the
        interpolated table ratio, so the table's spread is reproduced without moving the mean.
    description : str
        Summary for reports.
    """
    sizes = np.asarray(batch_sizes, dtype=np.float64)
    means = np.asarray(mean_ms, dtype=np.float64)
    if sizes.ndim != 1 or sizes.size == 0 or sizes.size != means.size:
        raise SimulationError("service table needs matching, non-empty batch and time columns")
    if (np.diff(sizes) <= 0).any():
        raise SimulationError("service table batch sizes must be strictly increasing")
    if not (means > 0).all():
        raise SimulationError("service table times must be > 0")
    if max_batch > sizes[-1]:
        raise SimulationError(
            f"max_batch {max_batch} exceeds the largest measured batch size {int(sizes[-1])}"
        )
    n = np.arange(max_batch + 1, dtype=np.float64)
    mean = np.interp(n, sizes, means) / 1000.0
    mean[0] = 0.0
    mu = _zeros(max_batch)
    sigma = _zeros(max_batch)
    distribution = "constant"
    if jitter == "lognormal":
        if p50_ms is None or p99_ms is None:
            raise SimulationError("lognormal jitter needs the table's p50 and p99 columns")
        p50 = np.interp(n, sizes, np.asarray(p50_ms, dtype=np.float64))
        p99 = np.interp(n, sizes, np.asarray(p99_ms, dtype=np.float64))
        ratio = np.where(p50 > 0, p99 / np.where(p50 > 0, p50, 1.0), 1.0)
        sigma = np.log(np.maximum(ratio, 1.0)) / _Z99
        sigma[0] = 0.0
        with np.errstate(divide="ignore"):
            mu = np.where(n > 0, np.log(np.where(mean > 0, mean, 1.0)) - 0.5 * sigma**2, 0.0)
        distribution = "lognormal"
    elif jitter != "none":
        raise SimulationError(f"jitter must be 'none' or 'lognormal' (got {jitter!r})")
    return ServiceTime(distribution, mean, mu, sigma, description)


def _check_positive(name: str, value: float) -> None:
    if not value > 0 or not math.isfinite(value):
        raise SimulationError(f"{name} must be a positive number (got {value!r})")
