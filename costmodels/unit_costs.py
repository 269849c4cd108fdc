"""Unit costs of a priced fleet: totals, monthly projection and $/1k requests on two bases.

Pure functions, no I/O.  Money is USD.  Two bases are reported side by side:

* **allocated** - what the provider bills: every node-hour the fleet holds, busy or idle;
* **busy** - the cost of the GPU time that actually served work (busy GPU-seconds priced at the
  node price divided by its GPUs), i.e. the floor a perfectly packed fleet would approach.

An unknown price (``quote.usd_per_hour is None``) makes every money field None, never 0, and the
quote's note is carried into :attr:`FleetCost.note`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from costmodels.catalog import InstanceQuote

SECONDS_PER_HOUR = 3600.0
HOURS_PER_MONTH = 730.0
"""Average hours in a month (8,760 / 12), the convention of AWS and GCP price pages."""


@dataclass(frozen=True)
class FleetCost:
    """Cost of a fleet over a priced window, with a monthly projection and unit costs.

    Attributes
    ----------
    usd_per_hour : float or None
        Allocated cost of the whole fleet per hour, USD/h (n_nodes x node price).
    total_usd : float or None
        Allocated cost of the priced window, USD.
    usd_per_month : float or None
        Allocated cost of running the fleet for ``hours_per_month`` hours, USD.
    usd_per_1k_requests : float or None
        ``total_usd`` per 1,000 served requests, USD; None if no request was served.
    busy_usd : float or None
        Cost of the busy GPU time in the window, USD; None if the GPUs per node are unknown.
    usd_per_1k_requests_busy : float or None
        ``busy_usd`` per 1,000 served requests, USD.
    hours_per_month : float
        Hours in the monthly projection, h.
    price_source : str or None
        Provenance of the node price (from the quote).
    price_as_of : str or None
        ISO date of the node price.
    purchase : str
        Purchase option priced, e.g. ``"on_demand"``.
    note : str or None
        Why some figures are None ("n/a"); None when every figure is known.
    """

    usd_per_hour: float | None
    total_usd: float | None
    usd_per_month: float | None
    usd_per_1k_requests: float | None
    busy_usd: float | None
    usd_per_1k_requests_busy: float | None
    hours_per_month: float
    price_source: str | None
    price_as_of: str | None
    purchase: str
    note: str | None


def _check_non_negative(name: str, value: float, *, integral: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite number >= 0 (an integer if ``integral``)."""
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = "an integer" if integral else "a number"
        raise ValueError(f"{name} must be {wanted} >= 0 (got {value!r}); pass {wanted}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0 (got {value!r}); pass a value >= 0")


def _per_1k(cost_usd: float | None, served_requests: float) -> float | None:
    """Return ``cost_usd`` per 1,000 requests, or None when unknown or no request was served."""
    if cost_usd is None or served_requests == 0:
        return None
    return cost_usd / served_requests * 1000.0


def _check_fixed_fleet_inputs(quote: InstanceQuote, n_nodes: int, window_s: float,
                              hours_per_month: float, served_requests: float,
                              busy_gpu_seconds: float) -> None:
    """Raise ValueError on the inputs :func:`price_fixed_fleet` rejects (see its Raises)."""
    _check_non_negative("n_nodes", n_nodes, integral=True)
    _check_non_negative("window_s", window_s)
    _check_non_negative("hours_per_month", hours_per_month)
    if hours_per_month == 0:
        raise ValueError("hours_per_month must be > 0 (got 0); pass e.g. 730.0")
    _check_non_negative("served_requests", served_requests)
    _check_non_negative("busy_gpu_seconds", busy_gpu_seconds)
    if quote.gpus is not None:
        held_gpu_s = n_nodes * quote.gpus * window_s
        if busy_gpu_seconds > held_gpu_s * (1.0 + 1e-9):
            raise ValueError(
                f"busy_gpu_seconds must be <= n_nodes * gpus * window_s = {n_nodes} * "
                f"{quote.gpus} * {window_s} = {held_gpu_s} (got {busy_gpu_seconds}); "
                "check that busy time is in GPU-seconds, not milliseconds or node-seconds"
            )


def _fixed_fleet_money(
    quote: InstanceQuote, n_nodes: int, window_s: float, hours_per_month: float,
    busy_gpu_seconds: float, notes: list[str],
) -> tuple[float | None, float | None, float | None, float | None]:
    """Fleet USD per hour, window total, monthly projection and busy-GPU cost, USD.

    None where the price (or, for the busy cost, the GPUs per node) is unknown; why is
    appended to ``notes``.
    """
    node_usd_per_hour = quote.usd_per_hour
    if node_usd_per_hour is None:
        notes.append(quote.note or f"{quote.instance_key} has no {quote.purchase} price")
        return None, None, None, None
    fleet_usd_per_hour = n_nodes * node_usd_per_hour
    total_usd = fleet_usd_per_hour * window_s / SECONDS_PER_HOUR
    usd_per_month = fleet_usd_per_hour * hours_per_month
    if quote.gpus is None or quote.gpus <= 0:
        busy_usd = None
        notes.append(
            f"GPUs per node of {quote.instance_key} are unknown; the busy-GPU basis is n/a"
        )
    else:
        usd_per_gpu_second = node_usd_per_hour / quote.gpus / SECONDS_PER_HOUR
        busy_usd = busy_gpu_seconds * usd_per_gpu_second
    return fleet_usd_per_hour, total_usd, usd_per_month, busy_usd


def price_fixed_fleet(
    quote: InstanceQuote,
    *,
    n_nodes: int,
    window_s: float,
    hours_per_month: float = HOURS_PER_MONTH,
    served_requests: float,
    busy_gpu_seconds: float,
) -> FleetCost:
    """Price a fixed-size fleet of one instance type over a window.

    Allocated basis: ``total_usd = n_nodes * usd_per_hour * window_s / 3600`` and
    ``usd_per_month = n_nodes * usd_per_hour * hours_per_month``.  Busy basis: one GPU-second
    costs ``usd_per_hour / gpus / 3600`` and ``busy_usd = busy_gpu_seconds`` times that.  Per-1k
    figures divide by ``served_requests`` and multiply by 1,000.

    Parameters
    ----------
    quote : InstanceQuote
        Node price, USD per node-hour (``usd_per_hour``; None = unknown), and GPUs per node.
    n_nodes : int
        Nodes held for the whole window, >= 0.
    window_s : float
        Length of the priced window, s, >= 0.
    hours_per_month : float, default 730.0
        Hours in the monthly projection, h, > 0.
    served_requests : float
        Requests completed in the window, >= 0 (a mean over replications may be fractional).
    busy_gpu_seconds : float
        GPU-seconds spent serving in the window, s, between 0 and
        ``n_nodes * gpus * window_s``.

    Returns
    -------
    FleetCost
        Money fields are None when the price is unknown; per-1k fields are also None when
        ``served_requests == 0``; busy fields when the GPUs per node are unknown.

    Raises
    ------
    ValueError
        If a count, duration or request number is negative, not finite or of the wrong type,
        ``hours_per_month`` is not positive, or ``busy_gpu_seconds`` exceeds the GPU-seconds the
        fleet held.
    """
    _check_fixed_fleet_inputs(quote, n_nodes, window_s, hours_per_month, served_requests,
                              busy_gpu_seconds)
    notes: list[str] = []
    fleet_usd_per_hour, total_usd, usd_per_month, busy_usd = _fixed_fleet_money(
        quote, n_nodes, window_s, hours_per_month, busy_gpu_seconds, notes)
    if served_requests == 0:
        notes.append("no request was served in the window; $/1k requests is n/a")

    return FleetCost(
        usd_per_hour=fleet_usd_per_hour,
        total_usd=total_usd,
        usd_per_month=usd_per_month,
        usd_per_1k_requests=_per_1k(total_usd, served_requests),
        busy_usd=busy_usd,
        usd_per_1k_requests_busy=_per_1k(busy_usd, served_requests),
        hours_per_month=float(hours_per_month),
        price_source=quote.source,
        price_as_of=quote.as_of,
        purchase=quote.purchase,
        note="; ".join(notes) if notes else None,
    )
