"""Turn a design's simulated usage into a :class:`CostResult`, for every design pattern.

Knows the scenario's ``pricing:`` section (effective rates, negotiated discounts,
commitments) and the catalog; the money math itself is :mod:`costmodels.design_costs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from costmodels.catalog import InstanceQuote, PriceCatalog, quote_instance
from costmodels.design_costs import CommitmentTerms, PurchaseProfile, price_design
from costmodels.discounts import (
    Commitment,
    NegotiatedDiscount,
    reserved_effective_usd_per_hour,
)
from planner import schema
from planner.results import CostResult
from planner.stats import estimate


@dataclasses.dataclass(frozen=True)
class PricedQuote:
    """A quote and whether the negotiated discount applies to it (not to effective rates)."""

    quote: InstanceQuote
    discountable: bool


def quotes_for(catalog: PriceCatalog, pricing: schema.Pricing, instance: str,
               region: str | None, purchases: Iterable[str], billing=None
               ) -> dict[str, PricedQuote]:
    """Quote ``instance`` for each purchase option.

    Precedence: an effective rate written in the scenario, then the effective rate observed in
    the billing exports (``billing``, a :class:`planner.inputs.BillingRates`, with
    ``pricing: {source: billing}``), then the catalog; the catalog's hardware facts are kept
    either way. A price from the bills or the scenario already includes every discount, so
    the negotiated discount does not apply to it. With ``source: billing``, a purchase option
    the bills do not show falls back to the catalog and its source says so.
    """
    out = {}
    for purchase in sorted(set(purchases)):
        quote = quote_instance(catalog, instance, purchase=purchase, region=region)
        rate = pricing.effective_rate(instance, quote.region, purchase)
        observed = None if billing is None else billing.rate(
            quote.instance_type, quote.region, purchase)
        if rate is not None:
            quote = dataclasses.replace(
                quote, usd_per_hour=rate.usd_per_hour, as_of=rate.as_of, note=None,
                source=f"effective rate from the scenario: {rate.source}")
            out[purchase] = PricedQuote(quote, discountable=False)
        elif observed is not None:
            usd, source, as_of = observed
            quote = dataclasses.replace(quote, usd_per_hour=usd, as_of=as_of, note=None,
                                        source=source)
            out[purchase] = PricedQuote(quote, discountable=False)
        else:
            if billing is not None and quote.source is not None:
                quote = dataclasses.replace(
                    quote, source=f"catalog (the billing exports show no {purchase} usage of "
                                  f"{instance} in {quote.region}): {quote.source}")
            out[purchase] = PricedQuote(quote, discountable=True)
    return out


def negotiated_for(pricing: schema.Pricing, provider: str) -> NegotiatedDiscount | None:
    """Return the negotiated discount of ``provider`` (None when the scenario gives none)."""
    percent = pricing.negotiated_percent(provider)
    return NegotiatedDiscount(provider, percent) if percent > 0 else None


def commitment_for(catalog: PriceCatalog, pricing: schema.Pricing, instance: str,
                   region: str | None) -> CommitmentTerms | None:
    """Return the scenario's commitment on ``instance`` with its list rate, if there is one.

    The rate is the commitment's ``usd_per_hour``, or ``hourly_usd + upfront_usd / (8,760 h x
    years)``, or the catalog's ``reserved_<term>`` / ``savings_plan_<term>`` column; when the
    catalog lacks it the terms carry no commitment and a note (the cost becomes incomplete).
    """
    spec = pricing.commitment_for(instance, region)
    if spec is None:
        return None
    label = f"{spec.kind} {spec.term} on {instance}"
    if spec.usd_per_hour is not None:
        rate, origin = spec.usd_per_hour, "rate from the scenario"
    elif spec.hourly_usd is not None:
        rate = reserved_effective_usd_per_hour(spec.hourly_usd, spec.upfront_usd, spec.term_years)
        origin = (f"${spec.hourly_usd:g}/h + ${spec.upfront_usd:,.0f} upfront over "
                  f"{8760 * spec.term_years:,} h")
    else:
        quote = quote_instance(catalog, instance, purchase=spec.catalog_purchase, region=region)
        rate = quote.usd_per_hour
        origin = f"catalog {spec.catalog_purchase} ({catalog.label}, {quote.as_of})"
        if rate is None:
            return CommitmentTerms(None, label, rate_note=(
                f"{label}: the catalog ({catalog.label}) has no {spec.catalog_purchase} rate "
                f"for {instance} in {quote.region or 'its default region'}; give the "
                "commitment's usd_per_hour (or hourly_usd and upfront_usd) in "
                "pricing.commitments (effective_rates do not price commitments)"))
    commitment = Commitment(kind=spec.kind, usd_per_hour_committed=spec.usd_per_hour_committed,
                            nodes=spec.nodes, coverage=spec.coverage,
                            effective_usd_per_hour_per_node=float(rate))
    size = (f"{spec.coverage:.0%} of the always-on floor" if spec.coverage is not None
            else f"{spec.nodes:g} nodes" if spec.nodes is not None
            else f"${spec.usd_per_hour_committed:g}/h committed")
    return CommitmentTerms(commitment, f"{label}: {size} at ${rate:.4g}/node-h ({origin})")


def describe_discounts(pricing: schema.Pricing, billing=None) -> str:
    """Return the scenario's discount layers for the assumptions, in the order they apply."""
    parts = []
    if billing is not None:
        parts.append(f"effective rates observed in {billing.label} replace list prices where "
                     f"the bills show the instance and purchase option ({billing.reconciliation})")
    if pricing.effective_rates:
        parts.append("effective rates replace list prices for " + ", ".join(
            f"{r.instance} {r.purchase} (${r.usd_per_hour:g}/h, {r.source}, {r.as_of})"
            for r in pricing.effective_rates))
    if pricing.negotiated_discounts:
        parts.append("negotiated discount " + ", ".join(
            f"{p} {v:g}%" for p, v in pricing.negotiated_discounts.items())
            + " off on-demand and commitment list rates (not spot, not effective rates)")
    for c in pricing.commitments:
        size = (f"coverage {c.coverage:.0%} of the always-on on-demand floor"
                if c.coverage is not None else f"{c.nodes:g} nodes" if c.nodes is not None
                else f"${c.usd_per_hour_committed:g}/h")
        parts.append(f"{c.kind} {c.term} on {c.instance}: {size}, assessed hour by hour over "
                     "the simulated horizon, unused commitment paid")
    if not parts:
        return "none (list prices of each purchase option)"
    return "; ".join(parts) + "; layers apply in order: list price, negotiated discount, " \
        "commitment, spot"


def build_cost(
    *,
    profiles: Sequence[PurchaseProfile],
    quotes: dict[str, PricedQuote],
    main_purchase: str,
    catalog: PriceCatalog,
    pricing: schema.Pricing,
    instance: str,
    region: str | None,
    horizon_s: float,
    window_s: float,
    served_window: float,
    tokens_per_unit: float | None = None,
    token_split: tuple[float, float] | None = None,
    runs: float | None = None,
) -> CostResult:
    """Price the profiles through every layer and express the unit costs.

    ``served_window`` work units (requests or records) completed in the measured window give
    $ per 1,000; ``tokens_per_unit`` adds $ per 1M tokens; ``token_split`` (input and output
    tokens per unit, measured) adds $ per 1M input and per 1M output tokens (the whole cost
    over each count: what a per-token price list quotes); ``runs`` (training runs completed
    over the horizon) gives $ per run from the horizon cost.
    """
    od = quotes.get("on_demand") or PricedQuote(
        quote_instance(catalog, instance, purchase="on_demand", region=region), True)
    provider = od.quote.provider
    negotiated = negotiated_for(pricing, provider)
    commitment = commitment_for(catalog, pricing, instance, region)
    dc = price_design(profiles, on_demand_list=od.quote, negotiated=negotiated,
                      commitment=commitment, horizon_s=horizon_s, window_s=window_s,
                      served_window=served_window, hours_per_month=pricing.hours_per_month)

    def per(cost: float | None, units: float | None, scale: float) -> float | None:
        if cost is None or not units:
            return None
        return cost / units * scale

    tokens = None if tokens_per_unit is None else served_window * tokens_per_unit
    t_in, t_out = (None, None) if token_split is None else (served_window * token_split[0],
                                                            served_window * token_split[1])
    main = quotes[main_purchase].quote
    monthly_ci = None
    if dc.total_usd_by_replication is not None and len(dc.total_usd_by_replication) > 1:
        scale = pricing.hours_per_month * 3600.0 / horizon_s
        e = estimate(np.asarray(dc.total_usd_by_replication) * scale)
        monthly_ci = (e.low, e.high)
    discounts = []
    if negotiated is not None:
        discounts.append(f"negotiated {negotiated.provider} {negotiated.percent:g}%")
    if commitment is not None:
        discounts.append(commitment.label)
    return CostResult(
        usd_per_hour=dc.usd_per_hour,
        total_usd=dc.total_usd,
        usd_per_month=dc.usd_per_month,
        usd_per_1k_requests=per(dc.window_usd, served_window, 1000.0),
        busy_usd=dc.busy_usd,
        usd_per_1k_requests_busy=per(dc.busy_usd, served_window, 1000.0),
        purchase=main_purchase,
        price_source=None if dc.incomplete else main.source,
        price_as_of=None if dc.incomplete else main.as_of,
        catalog=f"{catalog.label} ({catalog.as_of})",
        note=dc.note,
        by_purchase=dc.by_purchase,
        sources=dc.sources,
        usd_per_1m_tokens=per(dc.window_usd, tokens, 1e6),
        usd_per_1m_tokens_busy=per(dc.busy_usd, tokens, 1e6),
        usd_per_1m_input_tokens=per(dc.window_usd, t_in, 1e6),
        usd_per_1m_input_tokens_busy=per(dc.busy_usd, t_in, 1e6),
        usd_per_1m_output_tokens=per(dc.window_usd, t_out, 1e6),
        usd_per_1m_output_tokens_busy=per(dc.busy_usd, t_out, 1e6),
        usd_per_run=per(dc.total_usd, runs, 1.0),
        usd_per_run_busy=None,
        layers=dc.layers,
        discounts=tuple(discounts),
        commitment=dc.commitment,
        incomplete=dc.incomplete,
        usd_per_month_ci95=monthly_ci,
    )
