"""Discount layers between list prices and what a fleet actually pays.

Pure functions, no I/O.  Three layers, applied in this order by :func:`layered_cost`:

1. **List price**: every node-hour at the on-demand list price.
2. **Negotiated discount** (:class:`NegotiatedDiscount`: AWS EDP, GCP private pricing): a flat
   percentage off on-demand and reserved/committed list prices.  It is *not* applied to spot:
   spot is a market price outside most private-pricing agreements, so a discount on it would
   overstate savings (callers who have one can discount their spot quote themselves).
3. **Commitment** (:class:`Commitment`: reserved instances, savings plans, committed-use
   discounts): hour by hour, usage up to the commitment is billed at the committed rate and
   usage above it at on-demand; a commitment not fully used in an hour is still paid.

Money is USD.  As elsewhere in :mod:`costmodels`, an unknown price is None ("n/a"), never 0, and
it makes every money figure that depends on it None.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

import numpy as np

HOURS_PER_YEAR = 8_760.0
"""Hours in a commitment year: AWS's convention (365 days × 24 h), also used here for GCP."""

COMMITMENT_KINDS: tuple[str, ...] = ("reserved", "savings_plan", "cud")
"""Kinds of :class:`Commitment`: reserved instances, savings plans, committed-use discounts."""


def _check_finite(name: str, value: float, *, low: float, low_inclusive: bool, fix: str) -> None:
    ok = isinstance(value, numbers.Real) and math.isfinite(value)
    ok = ok and (value >= low if low_inclusive else value > low)
    if not ok:
        bound = f">= {low:g}" if low_inclusive else f"> {low:g}"
        raise ValueError(f"{name} must be a finite number {bound} (got {value!r}); {fix}")


@dataclass(frozen=True)
class NegotiatedDiscount:
    """A private-pricing discount (AWS EDP, GCP private offer) off list prices.

    Applied to on-demand and to reserved/committed rates, not to spot (see the module docstring).

    Attributes
    ----------
    provider : str
        Provider the agreement is with, e.g. ``"aws"``; a label for reports.
    percent : float
        Discount, % of list price (0 <= percent < 100).
    """

    provider: str
    percent: float

    def __post_init__(self) -> None:
        if not isinstance(self.provider, str) or not self.provider.strip():
            raise ValueError(f"NegotiatedDiscount.provider must be a non-empty string "
                             f"(got {self.provider!r}); name the provider, e.g. 'aws'")
        _check_finite("NegotiatedDiscount.percent", self.percent, low=0.0, low_inclusive=True,
                      fix="give the discount in percent, e.g. 10 for 10 %")
        if self.percent >= 100:
            raise ValueError(f"NegotiatedDiscount.percent must be < 100 (got {self.percent!r}); "
                             "give the discount in percent, e.g. 10 for 10 %")

    @property
    def factor(self) -> float:
        """Multiplier from list to discounted price, ``1 - percent / 100``."""
        return 1.0 - self.percent / 100.0

    def apply(self, usd_per_hour: float | None) -> float | None:
        """Return a list price (USD/h) after the discount; None (unknown) stays None."""
        return None if usd_per_hour is None else usd_per_hour * self.factor


def reserved_effective_usd_per_hour(
    hourly_usd: float | None, upfront_usd: float | None, term_years: float
) -> float | None:
    """Return the effective hourly price of a reservation, upfront amortised over its term.

    ``hourly_usd + upfront_usd / (8,760 h × term_years)``, using AWS's convention of 8,760 hours
    per year (:data:`HOURS_PER_YEAR`).  E.g. 1-year partial upfront, $10,000 upfront + $3/h:
    ``3 + 10000 / 8760 = 4.1416`` USD/h.

    Parameters
    ----------
    hourly_usd : float or None
        Recurring charge, USD per node-hour (0 for all upfront); None if unknown.
    upfront_usd : float or None
        One-off charge per node, USD (0 for no upfront); None if unknown.
    term_years : float
        Length of the term, years (> 0), usually 1 or 3.

    Returns
    -------
    float or None
        USD per node-hour; None if either charge is unknown.

    Raises
    ------
    ValueError
        If a charge is negative or not finite, or ``term_years`` is not > 0.
    """
    _check_finite("term_years", term_years, low=0.0, low_inclusive=False,
                  fix="give the reservation term in years, e.g. 1 or 3")
    for name, value in (("hourly_usd", hourly_usd), ("upfront_usd", upfront_usd)):
        if value is not None:
            _check_finite(name, value, low=0.0, low_inclusive=True,
                          fix="pass 0 for no charge or None if unknown")
    if hourly_usd is None or upfront_usd is None:
        return None
    return hourly_usd + upfront_usd / (HOURS_PER_YEAR * term_years)


@dataclass(frozen=True)
class Commitment:
    """A reserved-instance, savings-plan or committed-use commitment for one instance type.

    Exactly one of ``nodes``, ``coverage`` and ``usd_per_hour_committed`` is set; each fixes how
    many nodes the commitment pays for every hour (:meth:`committed_nodes`):

    * ``nodes``: a fixed node count (RI / resource-based CUD style);
    * ``coverage``: a fraction of the baseline, i.e. ``coverage × min(hourly usage)`` nodes (the
      always-on floor of the usage it is applied to);
    * ``usd_per_hour_committed``: a spend commitment (savings plans, spend-based CUDs) at the
      discounted rate, buying ``usd_per_hour_committed / effective_usd_per_hour_per_node``
      node-hours every hour.

    Any kind may use any basis; ``kind`` is a label for reports.

    Attributes
    ----------
    kind : str
        One of :data:`COMMITMENT_KINDS`.
    usd_per_hour_committed : float or None
        Spend committed, USD/h (> 0), at the committed rate.
    nodes : float or None
        Nodes committed (> 0); may be fractional (e.g. a normalised RI size).
    coverage : float or None
        Fraction of the baseline committed (0 < coverage <= 1).
    effective_usd_per_hour_per_node : float
        Committed rate, USD per node-hour (> 0), upfront included (see
        :func:`reserved_effective_usd_per_hour`).
    """

    kind: str
    usd_per_hour_committed: float | None
    nodes: float | None
    coverage: float | None
    effective_usd_per_hour_per_node: float

    def __post_init__(self) -> None:
        if self.kind not in COMMITMENT_KINDS:
            raise ValueError(f"Commitment.kind must be one of {list(COMMITMENT_KINDS)} "
                             f"(got {self.kind!r})")
        bases = {"usd_per_hour_committed": self.usd_per_hour_committed, "nodes": self.nodes,
                 "coverage": self.coverage}
        given = [name for name, value in bases.items() if value is not None]
        if len(given) != 1:
            raise ValueError(f"a Commitment sets exactly one of {list(bases)} "
                             f"(got {given or 'none'}); keep the one that describes the "
                             "commitment and set the others to None")
        name = given[0]
        _check_finite(f"Commitment.{name}", bases[name], low=0.0,  # type: ignore[arg-type]
                      low_inclusive=False, fix="for no commitment pass commitment=None")
        value = float(bases[name])  # type: ignore[arg-type]
        if name == "coverage" and value > 1:
            raise ValueError(f"Commitment.coverage must be <= 1 (got {value!r}); give a fraction "
                             "of the baseline, e.g. 0.8 for 80 %")
        _check_finite("Commitment.effective_usd_per_hour_per_node",
                      self.effective_usd_per_hour_per_node, low=0.0, low_inclusive=False,
                      fix="give the committed rate in USD per node-hour, upfront amortised")

    def committed_nodes(self, baseline_nodes: float) -> float:
        """Return the nodes paid for every hour.

        Parameters
        ----------
        baseline_nodes : float
            Minimum hourly usage of the fleet, nodes (used by ``coverage`` only).

        Returns
        -------
        float
            Nodes committed per hour.
        """
        if self.nodes is not None:
            return float(self.nodes)
        if self.coverage is not None:
            return float(self.coverage * baseline_nodes)
        spend = float(self.usd_per_hour_committed)  # type: ignore[arg-type]
        return spend / self.effective_usd_per_hour_per_node


@dataclass(frozen=True)
class CommitmentResult:
    """Cost of a usage profile under one commitment.

    Attributes
    ----------
    covered_node_hours : float
        Node-hours billed at the committed rate, node-h.
    on_demand_node_hours : float
        Node-hours above the commitment, billed on-demand, node-h.
    committed_usd : float or None
        What the commitment costs over the profile, used or not, USD; None (with every money
        field) if the on-demand price is unknown.
    on_demand_usd : float or None
        Cost of the on-demand node-hours, USD; None if the on-demand price is unknown.
    unused_commitment_usd : float or None
        Part of ``committed_usd`` paid for node-hours not used, USD.
    total_usd : float or None
        ``committed_usd + on_demand_usd``, USD; None if the on-demand price is unknown.
    utilization_of_commitment : float or None
        ``covered_node_hours`` / committed node-hours (0..1); None when nothing is committed
        (a coverage-based commitment over a zero baseline).
    """

    covered_node_hours: float
    on_demand_node_hours: float
    committed_usd: float | None
    on_demand_usd: float | None
    unused_commitment_usd: float | None
    total_usd: float | None
    utilization_of_commitment: float | None


def _check_usage(node_hours_per_hour: np.ndarray) -> np.ndarray:
    usage = np.asarray(node_hours_per_hour, dtype=np.float64)
    if usage.ndim != 1 or usage.size == 0:
        raise ValueError(f"node_hours_per_hour must be a non-empty 1-D array of nodes per hour "
                         f"(got shape {usage.shape}); pass one value per hour")
    bad = np.flatnonzero(~np.isfinite(usage) | (usage < 0))
    if bad.size:
        raise ValueError(f"node_hours_per_hour[{bad[0]}] must be finite and >= 0 "
                         f"(got {usage[bad[0]]!r}); pass the nodes in use each hour")
    return usage


def _check_price(on_demand_usd_per_hour: float | None) -> None:
    if on_demand_usd_per_hour is not None:
        _check_finite("on_demand_usd_per_hour", on_demand_usd_per_hour, low=0.0,
                      low_inclusive=False, fix="pass the list price, or None if unknown")


def apply_commitment(
    node_hours_per_hour: np.ndarray,
    on_demand_usd_per_hour: float | None,
    commitment: Commitment,
) -> CommitmentResult:
    """Price hourly usage under a commitment, paying on-demand above it.

    Every hour ``h`` with usage ``u[h]`` and committed nodes ``N``: ``min(u[h], N)`` node-hours
    are covered at the committed rate ``r``, ``max(u[h] - N, 0)`` pay on-demand, and the whole
    commitment ``N × r`` is paid even if unused.  With ``T`` hours::

        committed_usd = N × r × T
        unused_usd    = Σ (N − min(u[h], N)) × r
        total_usd     = committed_usd + on_demand_node_hours × on_demand_usd_per_hour

    Parameters
    ----------
    node_hours_per_hour : float64[t]
        Nodes in use each hour (node-hours per hour), >= 0.
    on_demand_usd_per_hour : float or None
        On-demand price, USD per node-hour (> 0); None if unknown.
    commitment : Commitment
        The commitment; ``N`` is :meth:`Commitment.committed_nodes` of ``min(u)``.

    Returns
    -------
    CommitmentResult
        Money fields that depend on the on-demand price are None when it is unknown.

    Raises
    ------
    ValueError
        If the usage is empty, not 1-D, negative or not finite, or the price is not > 0.
    """
    usage = _check_usage(node_hours_per_hour)
    _check_price(on_demand_usd_per_hour)
    rate = commitment.effective_usd_per_hour_per_node
    n_hours = usage.size
    committed = commitment.committed_nodes(float(usage.min()))
    covered = np.minimum(usage, committed)
    covered_nh = float(covered.sum())
    above_nh = float(np.maximum(usage - committed, 0.0).sum())
    committed_nh = committed * n_hours
    committed_usd = committed_nh * rate
    unused_usd = float((committed - covered).sum()) * rate
    od_usd = None if on_demand_usd_per_hour is None else above_nh * on_demand_usd_per_hour
    return CommitmentResult(
        covered_node_hours=covered_nh,
        on_demand_node_hours=above_nh,
        committed_usd=None if od_usd is None else committed_usd,
        on_demand_usd=od_usd,
        unused_commitment_usd=None if od_usd is None else unused_usd,
        total_usd=None if od_usd is None else committed_usd + od_usd,
        utilization_of_commitment=covered_nh / committed_nh if committed_nh > 0 else None,
    )


@dataclass(frozen=True)
class DiscountLayers:
    """The discounts that apply to one instance type, each optional.

    Attributes
    ----------
    negotiated : NegotiatedDiscount or None
        Private-pricing discount, applied first.
    commitment : Commitment or None
        Commitment, applied after the negotiated discount; its rate is a list rate, which the
        negotiated discount also lowers.
    """

    negotiated: NegotiatedDiscount | None = None
    commitment: Commitment | None = None


@dataclass(frozen=True)
class LayeredCost:
    """Cost of hourly usage after each discount layer.

    Attributes
    ----------
    steps : tuple of (str, float or None)
        ``(layer name, total USD after the layer)`` in order: ``"list price"``, then
        ``"negotiated discount"`` and ``"commitment"`` when those layers are present.
    total_usd : float or None
        Cost after every layer, USD (the last step); None if the on-demand price is unknown.
    on_demand_usd_per_hour : float or None
        On-demand price after the negotiated discount, USD per node-hour.
    commitment : CommitmentResult or None
        Breakdown of the commitment layer (at discounted rates), if there is one.
    """

    steps: tuple[tuple[str, float | None], ...]
    total_usd: float | None
    on_demand_usd_per_hour: float | None
    commitment: CommitmentResult | None


def layered_cost(
    node_hours_per_hour: np.ndarray,
    *,
    on_demand_usd_per_hour: float | None,
    layers: DiscountLayers,
) -> LayeredCost:
    """Price hourly usage at list price, then after each discount layer in turn.

    The negotiated discount multiplies the on-demand price and the commitment's rate by
    ``1 - percent / 100``; for a spend commitment (``usd_per_hour_committed``) the committed
    spend shrinks by the same factor, so it still buys the same node-hours.

    Parameters
    ----------
    node_hours_per_hour : float64[t]
        Nodes in use each hour, >= 0.
    on_demand_usd_per_hour : float or None
        On-demand list price, USD per node-hour (> 0); None if unknown.
    layers : DiscountLayers
        The discounts to apply.

    Returns
    -------
    LayeredCost
        Every money field None when the on-demand price is unknown.

    Raises
    ------
    ValueError
        As :func:`apply_commitment`.
    """
    usage = _check_usage(node_hours_per_hour)
    _check_price(on_demand_usd_per_hour)
    price = on_demand_usd_per_hour
    total = None if price is None else float(usage.sum()) * price
    steps: list[tuple[str, float | None]] = [("list price", total)]
    commitment = layers.commitment
    if layers.negotiated is not None:
        factor = layers.negotiated.factor
        price = layers.negotiated.apply(price)
        total = None if price is None else float(usage.sum()) * price
        steps.append(("negotiated discount", total))
        if commitment is not None:
            spend = commitment.usd_per_hour_committed
            commitment = replace(
                commitment,
                effective_usd_per_hour_per_node=commitment.effective_usd_per_hour_per_node * factor,
                usd_per_hour_committed=None if spend is None else spend * factor,
            )
    result = None
    if commitment is not None:
        result = apply_commitment(usage, price, commitment)
        total = result.total_usd
        steps.append(("commitment", total))
    return LayeredCost(steps=tuple(steps), total_usd=total, on_demand_usd_per_hour=price,
                       commitment=result)
