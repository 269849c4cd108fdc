"""Cost of a simulated fleet whose size and purchase mix change over time.

Pure functions, no I/O.  The simulator reports node-seconds per purchase option (allocated:
provisioning, serving, under notice or draining, all billed) and busy GPU-seconds per purchase
option; each is priced with the quote of its purchase option.  As in
:mod:`costmodels.unit_costs`, an unknown price makes the affected money figures None ("n/a"),
never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from costmodels.catalog import InstanceQuote
from costmodels.unit_costs import HOURS_PER_MONTH, SECONDS_PER_HOUR


@dataclass(frozen=True)
class PurchaseUsage:
    """Simulated usage of one purchase option.

    Attributes
    ----------
    quote : InstanceQuote
        Price of one node-hour of this purchase option (``quote.purchase``).
    node_s_horizon : float
        Node-seconds billed inside ``[0, horizon]``, s.
    node_s_window : float
        Node-seconds billed inside the measured window (after warm-up), s.
    busy_gpu_s_window : float
        GPU-seconds spent serving batches inside the window, s.
    """

    quote: InstanceQuote
    node_s_horizon: float
    node_s_window: float
    busy_gpu_s_window: float


@dataclass(frozen=True)
class FleetUsageCost:
    """Cost of a dynamic fleet on the allocated and busy bases.

    Attributes
    ----------
    total_usd : float or None
        Allocated cost of the horizon, USD.
    usd_per_month : float or None
        ``total_usd`` scaled from the horizon to ``hours_per_month`` hours, USD.
    usd_per_hour : float or None
        Mean allocated cost per hour over the horizon, USD/h.
    window_usd : float or None
        Allocated cost of the measured window, USD.
    usd_per_1k_requests : float or None
        ``window_usd`` per 1,000 requests completed in the window.
    busy_usd : float or None
        Cost of the busy GPU time in the window, USD.
    usd_per_1k_requests_busy : float or None
        ``busy_usd`` per 1,000 requests completed in the window.
    by_purchase : dict of str to float or None
        Allocated cost of the horizon by purchase option, USD.
    sources : tuple of (purchase, source, as_of)
        Provenance of every price used.
    note : str or None
        Why figures are n/a, if any are.
    """

    total_usd: float | None
    usd_per_month: float | None
    usd_per_hour: float | None
    window_usd: float | None
    usd_per_1k_requests: float | None
    busy_usd: float | None
    usd_per_1k_requests_busy: float | None
    by_purchase: dict[str, float | None]
    sources: tuple[tuple[str, str | None, str | None], ...]
    note: str | None


def _sum_known(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]


def _check_fleet_inputs(horizon_s: float, window_s: float, served_requests_window: float,
                        hours_per_month: float) -> None:
    """Raise ValueError unless the durations are finite and > 0 and the requests >= 0."""
    for name, value in (("horizon_s", horizon_s), ("window_s", window_s),
                        ("hours_per_month", hours_per_month)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0 (got {value!r})")
    if not served_requests_window >= 0:
        raise ValueError(f"served_requests_window must be >= 0 (got {served_requests_window!r})")


def _check_usage(u: PurchaseUsage, seen: set[str]) -> None:
    """Raise ValueError if the purchase option was already seen or a usage is not finite, >= 0."""
    purchase = u.quote.purchase
    if purchase in seen:
        raise ValueError(f"purchase option {purchase!r} appears twice; merge its usage")
    for name, value in (("node_s_horizon", u.node_s_horizon),
                        ("node_s_window", u.node_s_window),
                        ("busy_gpu_s_window", u.busy_gpu_s_window)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{purchase}: {name} must be finite and >= 0 (got {value!r})")


def _price_usage(u: PurchaseUsage, used: bool,
                 notes: list[str]) -> tuple[float | None, float | None, float | None]:
    """Allocated cost of the horizon and of the window, busy cost of the window, USD.

    None where the price (or, for the busy cost, the GPUs per node) is unknown and the option
    was used; why is appended to ``notes``.
    """
    price = u.quote.usd_per_hour
    if price is None:
        cost_h = cost_w = busy = None if used else 0.0
        if used and u.quote.note:
            notes.append(u.quote.note)
        return cost_h, cost_w, busy
    cost_h = u.node_s_horizon * price / SECONDS_PER_HOUR
    cost_w = u.node_s_window * price / SECONDS_PER_HOUR
    gpus = u.quote.gpus
    if gpus:
        busy = u.busy_gpu_s_window * price / gpus / SECONDS_PER_HOUR
    else:
        busy = None if u.busy_gpu_s_window > 0 else 0.0
        if u.busy_gpu_s_window > 0:
            notes.append(f"GPUs per {u.quote.instance_type} node unknown: busy-basis "
                         "cost is n/a")
    return cost_h, cost_w, busy


def price_fleet_usage(
    usages: Sequence[PurchaseUsage],
    *,
    horizon_s: float,
    window_s: float,
    served_requests_window: float,
    hours_per_month: float = HOURS_PER_MONTH,
) -> FleetUsageCost:
    """Price the node-seconds and busy GPU-seconds of each purchase option.

    Parameters
    ----------
    usages : sequence of PurchaseUsage
        One entry per purchase option used (a purchase option may appear once).
    horizon_s, window_s : float
        Simulated horizon and measured window, s (> 0).
    served_requests_window : float
        Requests completed inside the window (the denominator of the unit costs).
    hours_per_month : float
        Hours in the monthly projection.

    Returns
    -------
    FleetUsageCost
    """
    _check_fleet_inputs(horizon_s, window_s, served_requests_window, hours_per_month)
    seen: set[str] = set()
    horizon_parts: list[float | None] = []
    window_parts: list[float | None] = []
    busy_parts: list[float | None] = []
    by_purchase: dict[str, float | None] = {}
    notes: list[str] = []
    sources = []
    for u in usages:
        purchase = u.quote.purchase
        _check_usage(u, seen)
        seen.add(purchase)
        used = u.node_s_horizon > 0 or u.node_s_window > 0
        cost_h, cost_w, busy = _price_usage(u, used, notes)
        if used:
            sources.append((purchase, u.quote.source, u.quote.as_of))
        by_purchase[purchase] = cost_h
        horizon_parts.append(cost_h)
        window_parts.append(cost_w)
        busy_parts.append(busy)

    total = _sum_known(horizon_parts)
    window_usd = _sum_known(window_parts)
    busy_usd = _sum_known(busy_parts)

    def per_1k(cost: float | None) -> float | None:
        if cost is None or served_requests_window == 0:
            return None
        return cost / served_requests_window * 1000.0

    if served_requests_window == 0:
        notes.append("no request completed in the window: unit costs are n/a")
    horizon_h = horizon_s / SECONDS_PER_HOUR
    return FleetUsageCost(
        total_usd=total,
        usd_per_month=None if total is None else total / horizon_h * hours_per_month,
        usd_per_hour=None if total is None else total / horizon_h,
        window_usd=window_usd,
        usd_per_1k_requests=per_1k(window_usd),
        busy_usd=busy_usd,
        usd_per_1k_requests_busy=per_1k(busy_usd),
        by_purchase=by_purchase,
        sources=tuple(sources),
        note="; ".join(dict.fromkeys(notes)) or None,
    )
