"""What a simulated design costs after every discount layer, on the allocated and busy bases.

Pure functions, no I/O.  The input is the simulated usage of each purchase option (node-hours
in each hour of the horizon, per replication, plus the node-seconds and busy GPU-seconds of the
measured window) and the quote of each purchase option.  The layers of
:mod:`costmodels.discounts` are applied in order, per replication, then averaged:

1. **list price**: every node-hour at the on-demand list price;
2. **negotiated discount**: on-demand and commitment rates × ``1 - percent/100`` (not spot, and
   not prices that are already effective rates from a billing export);
3. **commitment**: the on-demand usage profile priced with :func:`apply_commitment` (covered
   hours at the committed rate, the rest on-demand, unused commitment paid), and purchase
   options that *are* commitments (``reserved_*``, ``savings_plan_*``) at their rate;
4. **spot**: spot node-hours at the spot price.

The last step is what the design costs.  Each purchase option's *effective rate* (its cost
after every layer / its node-hours) then prices the measured window, so unit costs
($/1k requests, $/1M tokens, $/run) include the discounts and the unused commitment.

An unknown price never becomes $0: every money figure that depends on it is None and the cost
is flagged ``incomplete`` with a note naming what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from costmodels.catalog import InstanceQuote
from costmodels.discounts import Commitment, NegotiatedDiscount, apply_commitment
from costmodels.fleet_costs import PurchaseUsage, price_fleet_usage
from costmodels.unit_costs import HOURS_PER_MONTH, SECONDS_PER_HOUR
from domain.purchase import COMMITTED, Purchase


@dataclass(frozen=True)
class PurchaseProfile:
    """Simulated usage of one purchase option.

    Attributes
    ----------
    quote : InstanceQuote
        Price of one node-hour of this purchase option (``quote.purchase``).
    hourly_node_hours : float64[R, H]
        Node-hours held in each hour of the horizon, per replication (the last hour may be
        partial).
    node_s_window : float
        Node-seconds in the measured window (mean over replications), s.
    busy_gpu_s_window : float
        Busy GPU-seconds in the measured window (mean over replications), s.
    discountable : bool
        Whether the negotiated discount applies (False for effective rates from a billing
        export, which already include it).
    """

    quote: InstanceQuote
    hourly_node_hours: np.ndarray
    node_s_window: float
    busy_gpu_s_window: float
    discountable: bool = True

    @property
    def purchase(self) -> str:
        """The purchase option."""
        return self.quote.purchase


@dataclass(frozen=True)
class CommitmentTerms:
    """A commitment matched to a design's instance, with its (list) rate and a label.

    ``commitment`` is None when the rate is unknown (the catalog lacks it); the cost is then
    incomplete and ``rate_note`` says why.
    """

    commitment: Commitment | None
    label: str
    rate_note: str | None = None


@dataclass(frozen=True)
class DesignCost:
    """Cost of a design's simulated usage after every layer; None = unknown.

    Attributes
    ----------
    total_usd, usd_per_month, usd_per_hour : float or None
        Allocated cost of the horizon, its monthly projection and hourly mean, USD.
    window_usd, busy_usd : float or None
        Allocated cost of the measured window and the cost of its busy GPU time, USD.
    by_purchase : dict of str to float or None
        Cost of the horizon by purchase option after every layer, USD (the commitment's
        unused part is in ``on_demand``).
    layers : tuple of (str, float or None)
        Horizon cost after each layer, in order, starting with ``"list price"``.
    commitment : dict or None
        ``covered_node_hours``, ``on_demand_node_hours``, ``committed_usd``,
        ``unused_commitment_usd``, ``utilization_of_commitment``, ``committed_nodes``,
        ``rate_usd_per_hour`` (after the negotiated discount), ``label``; means over
        replications.
    effective_usd_per_hour : dict of str to float or None
        Cost per node-hour of each purchase option after every layer.
    sources : tuple of (purchase, source, as_of)
        Provenance of every price used.
    incomplete : bool
        Whether some price the design needs is unknown.
    note : str or None
        What is unknown and why.
    """

    total_usd: float | None
    usd_per_month: float | None
    usd_per_hour: float | None
    window_usd: float | None
    busy_usd: float | None
    by_purchase: dict[str, float | None]
    layers: tuple[tuple[str, float | None], ...]
    commitment: dict | None
    effective_usd_per_hour: dict[str, float | None]
    sources: tuple[tuple[str, str | None, str | None], ...]
    incomplete: bool
    note: str | None
    total_usd_by_replication: tuple[float, ...] | None = None
    """The horizon's cost in each replication (None when unknown), for intervals."""


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def price_design(
    profiles: Sequence[PurchaseProfile],
    *,
    on_demand_list: InstanceQuote,
    negotiated: NegotiatedDiscount | None,
    commitment: CommitmentTerms | None,
    horizon_s: float,
    window_s: float,
    served_window: float,
    hours_per_month: float = HOURS_PER_MONTH,
) -> DesignCost:
    """Price every purchase option's usage through the layers; see the module docstring.

    Parameters
    ----------
    profiles : sequence of PurchaseProfile
        One per purchase option used (each option at most once); same R and H everywhere.
    on_demand_list : InstanceQuote
        On-demand list price of the instance (the "list price" layer and the price of
        on-demand usage above a commitment).
    negotiated : NegotiatedDiscount or None
        Negotiated discount of the instance's provider.
    commitment : CommitmentTerms or None
        Commitment that covers the on-demand usage of this instance.
    horizon_s, window_s : float
        Simulated horizon and measured window, s.
    served_window : float
        Work units completed in the window (requests, records, runs), for the fleet-cost
        helper's notes; unit costs are the caller's.
    hours_per_month : float
        Hours in the monthly projection.

    Returns
    -------
    DesignCost
    """
    n_rep = _check_profiles(profiles)
    notes: list[str] = []
    factor = negotiated.factor if negotiated is not None else 1.0

    used = [p for p in profiles if float(p.hourly_node_hours.sum()) > 0 or p.node_s_window > 0]
    for p in used:
        if p.quote.usd_per_hour is None:
            notes.append(p.quote.note or f"{p.quote.instance_key} has no {p.purchase} price")
    totals_h = {p.purchase: p.hourly_node_hours.sum(axis=1) for p in profiles}  # [R] each

    od_profile = next((p for p in profiles if p.purchase == Purchase.ON_DEMAND), None)
    od_factor = factor if od_profile is None or od_profile.discountable else 1.0
    final, commitment_info = _final_costs(profiles, commitment, factor, totals_h, n_rep, notes)
    if commitment is not None and od_profile is None:
        notes.append(f"{commitment.label}: the design has no on-demand usage for it to cover; "  # type: ignore[union-attr]
                     "the commitment is not priced")
    layers = _layers(profiles, used, negotiated, commitment, final, totals_h,
                     on_demand_list.usd_per_hour, od_factor, n_rep)
    by_purchase = {p: _mean(v) for p, v in final.items()}
    per_replication = [_sum_r([final[p][r] for p in final]) for r in range(n_rep)]
    total = _mean(per_replication)

    effective, usages, extra_fixed = _effective_rates(profiles, totals_h, by_purchase, factor)
    fc = price_fleet_usage(usages, horizon_s=horizon_s, window_s=window_s,
                           served_requests_window=served_window, hours_per_month=hours_per_month)
    incomplete = total is None
    horizon_h = horizon_s / SECONDS_PER_HOUR
    window_usd = None if fc.window_usd is None else fc.window_usd + extra_fixed * window_s / horizon_s
    if fc.note and "unit costs are n/a" not in fc.note:
        notes.append(fc.note)
    return DesignCost(
        total_usd=total,
        usd_per_month=None if total is None else total / horizon_h * hours_per_month,
        usd_per_hour=None if total is None else total / horizon_h,
        window_usd=None if incomplete else window_usd,
        busy_usd=None if incomplete else fc.busy_usd,
        by_purchase=by_purchase,
        layers=tuple(layers),
        commitment=commitment_info,
        effective_usd_per_hour=effective,
        sources=fc.sources,
        incomplete=incomplete,
        note="; ".join(dict.fromkeys(notes)) or None,
        total_usd_by_replication=None if total is None
        else tuple(float(v) for v in per_replication),  # type: ignore[arg-type]
    )


def _check_profiles(profiles: Sequence[PurchaseProfile]) -> int:
    """Check the profiles (at least one, options distinct, one [R, H] shape); return R."""
    if not profiles:
        raise ValueError("price_design needs at least one purchase profile")
    purchases = [p.purchase for p in profiles]
    if len(set(purchases)) != len(purchases):
        raise ValueError(f"purchase options repeat in {purchases}; merge their usage")
    shapes = {p.hourly_node_hours.shape for p in profiles}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"hourly_node_hours must all be float64[R, H] of one shape (got {shapes})")
    return next(iter(shapes))[0]


def _disc(p: PurchaseProfile, price: float | None, factor: float) -> float | None:
    """Apply the negotiated ``factor`` to ``price`` where the option is discountable."""
    if price is None or p.purchase == Purchase.SPOT or not p.discountable:
        return price
    return price * factor


def _final_costs(profiles: Sequence[PurchaseProfile], commitment: CommitmentTerms | None,
                 factor: float, totals_h: dict, n_rep: int, notes: list[str]
                 ) -> tuple[dict[str, list[float | None]], dict | None]:
    """Every purchase option's cost after all layers, per replication; and the commitment info."""
    final: dict[str, list[float | None]] = {}
    commitment_info = None
    terms = commitment.commitment if commitment is not None else None
    rate_known = terms is not None
    if commitment is not None and not rate_known:
        notes.append(commitment.rate_note or f"{commitment.label}: commitment rate unknown")
    for p in profiles:
        price = _disc(p, p.quote.usd_per_hour, factor)
        if p.purchase == Purchase.ON_DEMAND and commitment is not None:
            if terms is None or price is None:
                final[p.purchase] = [None] * n_rep
                continue
            spend = terms.usd_per_hour_committed
            c = replace(terms,
                        effective_usd_per_hour_per_node=terms.effective_usd_per_hour_per_node
                        * factor,
                        usd_per_hour_committed=None if spend is None else spend * factor)
            results = [apply_commitment(p.hourly_node_hours[r], price, c) for r in range(n_rep)]
            final[p.purchase] = [res.total_usd for res in results]
            commitment_info = _commitment_info(commitment, c, p, results, n_rep)
        else:
            final[p.purchase] = [None if price is None else float(totals_h[p.purchase][r]) * price
                                 for r in range(n_rep)]
    return final, commitment_info


def _commitment_info(commitment: CommitmentTerms, c: Commitment, p: PurchaseProfile,
                     results: list, n_rep: int) -> dict:
    """Summarize the commitment over the replications (``DesignCost.commitment``)."""
    utils = [res.utilization_of_commitment for res in results]
    return {
        "label": commitment.label,  # type: ignore[union-attr]
        "kind": c.kind,
        "rate_usd_per_hour": c.effective_usd_per_hour_per_node,
        "committed_nodes": float(np.mean([
            c.committed_nodes(float(p.hourly_node_hours[r].min()))
            for r in range(n_rep)])),
        "covered_node_hours": float(np.mean([res.covered_node_hours for res in results])),
        "on_demand_node_hours": float(np.mean([res.on_demand_node_hours
                                               for res in results])),
        "committed_usd": _mean([res.committed_usd for res in results]),
        "unused_commitment_usd": _mean([res.unused_commitment_usd for res in results]),
        "utilization_of_commitment": None if any(u is None for u in utils)
        else float(np.mean(utils)),
    }


def _layers(profiles: Sequence[PurchaseProfile], used: list[PurchaseProfile],
            negotiated: NegotiatedDiscount | None, commitment: CommitmentTerms | None,
            final: dict[str, list[float | None]], totals_h: dict, od_list: float | None,
            od_factor: float, n_rep: int) -> list[tuple[str, float | None]]:
    """Return the cost after each pricing layer (list, negotiated, commitment, spot)."""

    def at_list(p: PurchaseProfile, r: int, with_discount: bool) -> float | None:
        if od_list is None:
            return None
        return float(totals_h[p.purchase][r]) * od_list * (od_factor if with_discount else 1.0)

    def step_total(cost_of) -> float | None:
        return _mean([_sum_r([cost_of(p, r) for p in profiles]) for r in range(n_rep)])

    layers: list[tuple[str, float | None]] = [
        ("list price", step_total(lambda p, r: at_list(p, r, False)))]
    if negotiated is not None:
        layers.append((f"negotiated discount ({negotiated.provider} {negotiated.percent:g}%)",
                       step_total(lambda p, r: at_list(p, r, True))))
    # purchase options that are themselves commitments are priced at the commitment step
    if commitment is not None or any(p.purchase in COMMITTED for p in used):
        layers.append(("commitment", step_total(
            lambda p, r: at_list(p, r, True) if p.purchase == Purchase.SPOT
            else final[p.purchase][r])))
    if any(p.purchase == Purchase.SPOT for p in used):
        layers.append(("spot", step_total(lambda p, r: final[p.purchase][r])))
    return layers


def _effective_rates(profiles: Sequence[PurchaseProfile], totals_h: dict,
                     by_purchase: dict[str, float | None], factor: float
                     ) -> tuple[dict[str, float | None], list[PurchaseUsage], float]:
    """Effective rates that price the measured window; return them, the usages, fixed cost."""
    effective: dict[str, float | None] = {}
    usages = []
    extra_fixed = 0.0
    for p in profiles:
        hours = float(totals_h[p.purchase].mean())
        cost = by_purchase[p.purchase]
        if cost is None:
            rate = None
        elif hours > 0:
            rate = cost / hours
        else:
            rate = _disc(p, p.quote.usd_per_hour, factor)
            extra_fixed += cost  # e.g. a commitment paid with no usage to cover
        effective[p.purchase] = rate
        usages.append(PurchaseUsage(replace(p.quote, usd_per_hour=rate),
                                    node_s_horizon=hours * SECONDS_PER_HOUR,
                                    node_s_window=p.node_s_window,
                                    busy_gpu_s_window=p.busy_gpu_s_window))
    return effective, usages, extra_fixed


def _sum_r(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]
