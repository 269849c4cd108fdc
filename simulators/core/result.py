"""What the raw results of the simulators share: replications, ``S_*`` statistics, ratios.

Every kernel returns one row per replication; the result classes (frozen dataclasses of
``simulators.<pattern>.api``) take :class:`ReplicatedStats` (a ``stats`` array of float64[R,
N_STATS]) or :class:`ReplicatedRuns` (a ``runs`` array of float64[R, n_runs, N_OUT]) as a base,
and read their typed records with :func:`columns_record`.
"""

from __future__ import annotations

from dataclasses import fields
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from simulators.core.histogram import percentiles_from_counts

__all__ = ["ReplicatedRuns", "ReplicatedStats", "WindowedStats", "columns_record",
           "histogram_percentiles", "ratio"]

R = TypeVar("R")


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Return ``num / den`` element by element, nan where ``den <= 0`` (no warning)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def columns_record(cls: type[R], array: np.ndarray, layout: ModuleType, prefix: str) -> R:
    """Return a record ``cls`` of the last axis of a kernel array, one field a column (copies).

    A field ``x`` of the dataclass ``cls`` is the column ``layout.<prefix>X`` (``S_X``, ``J_X``,
    ``O_X``, ...).
    """
    return cls(**{f.name: array[..., getattr(layout, prefix + f.name.upper())].copy()
                  for f in fields(cls)})


def histogram_percentiles(hist: np.ndarray, quantiles: Any) -> np.ndarray:
    """Return float64[R, k] nearest-rank quantiles of an int64[R, N_BUCKETS] histogram."""
    return percentiles_from_counts(hist, np.asarray(quantiles))


class ReplicatedStats:
    """Base of a result with ``stats``: float64[R, N_STATS], one row per replication."""

    stats: np.ndarray

    @property
    def n_replications(self) -> int:
        """Return the number of replications."""
        return int(self.stats.shape[0])

    def stat(self, index: int) -> np.ndarray:
        """Return float64[R]: one ``S_*`` statistic per replication."""
        return self.stats[:, index].copy()

    def _ratio(self, num: int, den: int) -> np.ndarray:
        """Return float64[R]: statistic ``num`` over statistic ``den`` (nan where den <= 0)."""
        return ratio(self.stats[:, num], self.stats[:, den])


class WindowedStats(ReplicatedStats):
    """:class:`ReplicatedStats` measured in the window ``[warmup_s, horizon_s]``."""

    horizon_s: float
    warmup_s: float

    @property
    def window_s(self) -> float:
        """Return the measured window length ``horizon_s - warmup_s`` (s)."""
        return self.horizon_s - self.warmup_s


class ReplicatedRuns:
    """Base of a result with ``runs``: float64[R, n_runs, N_OUT], runs per replication."""

    runs: np.ndarray

    @property
    def n_replications(self) -> int:
        """Return the number of replications ``R``."""
        return int(self.runs.shape[0])

    @property
    def n_runs(self) -> int:
        """Return the runs per replication."""
        return int(self.runs.shape[1])

    def column(self, index: int) -> np.ndarray:
        """Return float64[R, n_runs]: one ``O_*`` output per run."""
        return self.runs[:, :, index].copy()
