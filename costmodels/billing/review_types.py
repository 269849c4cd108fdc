"""The result types of the monthly cost review (:func:`costmodels.billing.review.monthly_review`).

Money is in the review's currency (``Review.currency``); unknown values are ``None``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Anomaly", "Change", "CommitmentLine", "Commitments", "DailyPoint", "Driver",
           "Forecast", "Freshness", "GpuRate", "GpuSpend", "MonthToDate", "Mover", "Review",
           "Totals"]


@dataclass(frozen=True)
class Totals:
    """Money of one billing month, in ``currency``."""

    month: str
    billed_usd: float
    effective_usd: float
    list_usd: float
    n_rows: int


@dataclass(frozen=True)
class Change:
    """Month-over-month change of effective (and billed) cost."""

    effective_usd: float
    effective_pct: float | None
    billed_usd: float
    billed_pct: float | None


@dataclass(frozen=True)
class MonthToDate:
    """Effective cost of the month's first ``n_days`` complete days against the same days of
    the month before (its days 1 to ``n_days``, at most its length).

    Multi-day charges count for the hours they cover within those days, as in the daily
    series; ``previous_usd`` and the change are ``None`` when the data has no month before.
    """

    n_days: int
    through: dt.date
    current_usd: float
    previous_through: dt.date
    previous_usd: float | None
    change_usd: float | None
    change_pct: float | None


@dataclass(frozen=True)
class Mover:
    """One group's effective cost in the month and the month before; ``share`` of the change."""

    group: str | None
    current_usd: float | None
    previous_usd: float | None
    change_usd: float
    change_pct: float | None
    share_of_change: float | None
    n_groups: int = 1


@dataclass(frozen=True)
class GpuRate:
    """GPU usage and cost of one instance type and purchase option.

    ``effective_usd = used_usd + unused_commitment_usd``; each rate is its cost over
    ``gpu_hours`` (the used GPU-hours), ``None`` when the GPU-hours are unknown or 0:
    ``effective_usd_per_gpu_hour = effective_usd / gpu_hours`` (unused commitment included),
    ``used_usd_per_gpu_hour = used_usd / gpu_hours``, ``list_usd_per_gpu_hour = list_usd /
    gpu_hours`` (``list_usd``: list cost of the used rows).  See
    :mod:`costmodels.billing.review_gpu`.
    """

    instance_type: str | None
    purchase_option: str | None
    gpu_model: str | None
    usage_hours: float | None
    gpu_hours: float | None
    used_usd: float
    unused_commitment_usd: float
    effective_usd: float
    list_usd: float
    effective_usd_per_gpu_hour: float | None
    used_usd_per_gpu_hour: float | None
    list_usd_per_gpu_hour: float | None


@dataclass(frozen=True)
class GpuSpend:
    """GPU spend of the month: totals (the sums of ``rates``), shares and the rate table.

    The total rates divide the cost of the rows with known GPU-hours
    (``rated_effective_usd``, and their used and list cost) by ``gpu_hours``;
    ``unrated_usd = effective_usd - rated_effective_usd`` is GPU spend in rows whose GPU-hours
    are unknown.
    """

    effective_usd: float
    used_usd: float
    unused_commitment_usd: float
    list_usd: float
    gpu_hours: float | None
    rated_effective_usd: float
    unrated_usd: float
    effective_usd_per_gpu_hour: float | None
    used_usd_per_gpu_hour: float | None
    list_usd_per_gpu_hour: float | None
    spot_share: float | None
    commitment_share: float | None
    rates: tuple[GpuRate, ...]


@dataclass(frozen=True)
class CommitmentLine:
    """Coverage and utilisation of one commitment type (``None``: every type together).

    ``used_usd`` and ``unused_usd`` are the EffectiveCost of the ``Used`` and ``Unused``
    commitment rows, ``utilisation = used / (used + unused)``, and ``savings_usd`` the net
    savings: the ContractedCost of the used rows (the usage at its price without the
    commitment) minus ``used_usd + unused_usd``.
    """

    commitment_type: str | None
    covered_hours: float
    eligible_hours: float | None
    coverage_hours: float | None
    covered_contracted_usd: float
    eligible_contracted_usd: float | None
    coverage_cost: float | None
    used_usd: float
    unused_usd: float
    utilisation: float | None
    savings_usd: float


@dataclass(frozen=True)
class Commitments:
    """Commitment coverage and utilisation, overall and per commitment type."""

    total: CommitmentLine
    by_type: tuple[CommitmentLine, ...]


@dataclass(frozen=True)
class Driver:
    """A group's departure from its own trailing median on an anomalous day."""

    group: str | None
    cost_usd: float
    baseline_usd: float
    delta_usd: float
    share_of_delta: float | None


@dataclass(frozen=True)
class Anomaly:
    """A day whose effective cost departs from its robust trailing baseline."""

    day: dt.date
    cost_usd: float
    baseline_usd: float
    delta_usd: float
    robust_z: float
    drivers: tuple[Driver, ...]


@dataclass(frozen=True)
class Forecast:
    """Month-end effective cost of a month in progress, with a prediction interval."""

    known_usd: float
    point_usd: float
    low_usd: float | None
    high_usd: float | None
    level: float
    days_observed: int
    days_remaining: float
    window_days: int
    mean_daily_usd: float
    method: str


@dataclass(frozen=True)
class DailyPoint:
    """One day's effective cost (``group`` None: every group) and whether it is anomalous."""

    day: dt.date
    group: str | None
    effective_usd: float


@dataclass(frozen=True)
class Freshness:
    """The latest charge period seen, overall and in the month."""

    latest_charge_period_end: dt.datetime | None
    month_latest_charge_period_end: dt.datetime | None
    month_complete: bool
    today: dt.date | None
    lag_days: float | None


@dataclass(frozen=True)
class Review:
    """The monthly cost review of one billing month (see the module docstring for the rules)."""

    month: str
    previous_month: str
    group_by: str
    currency: str | None
    current: Totals
    previous: Totals | None
    change: Change | None
    month_to_date: MonthToDate | None
    movers: tuple[Mover, ...] | None
    gpu: GpuSpend | None
    commitments: Commitments | None
    anomalies: tuple[Anomaly, ...]
    forecast: Forecast | None
    freshness: Freshness
    daily: tuple[DailyPoint, ...]
    daily_by_group: tuple[DailyPoint, ...]
    months_available: tuple[str, ...]
    assumptions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Return the review as JSON-ready nested dicts (dates ISO 8601, unknowns None)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
