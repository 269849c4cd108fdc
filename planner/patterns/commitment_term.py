"""A fleet bought as a commitment (``purchase: reserved_1yr`` or ``reserved_3yr``) is paid for
every hour of its term, not only the hours a design's jobs or runs hold its nodes.

The simulation prices the node-hours the design used; this step adds the committed hours it
did not use: the committed nodes (the fleet's ``nodes``, or ``autoscaling.max_nodes``: the
capacity reserved) x the commitment's effective rate x ``hours_per_month``. Every money figure
of the design (horizon, month, hour, run, unit costs) scales by the same factor, so they stay
consistent; the busy basis (cost of busy GPU time) does not change. An always-on fixed fleet is
unchanged; a nightly job or a 96-hour training run on a 1-year commitment pays for the year.
"""

from __future__ import annotations

import dataclasses

from domain.purchase import Purchase
from planner.patterns.base import DesignContext, PatternRun
from planner.result_parts import DesignWarning
from planner.results import CostResult

TERMS = {Purchase.RESERVED_1YR.value: 1, Purchase.RESERVED_3YR.value: 3}
"""Commitment purchase options a fleet can be bought as, and their term in years."""
UNDERUSED = 0.5
"""A commitment whose used share of the term is below this is flagged."""


def committed_nodes(design) -> int:
    """Return the nodes a commitment must reserve: the fleet's size, or its autoscaling
    maximum (capacity reserved for the peak is paid at every hour)."""
    fleet = design.fleet
    auto = getattr(fleet, "autoscaling", None)
    return max(fleet.nodes, 0 if auto is None else int(getattr(auto, "max_nodes", 0) or 0))


def price_term(context: DesignContext, run: PatternRun, cost: CostResult) -> CostResult:
    """Return the cost with the commitment paid for its whole term (``commitment["term"]``
    says how; :func:`term_warnings` flags it)."""
    purchase = context.design.fleet.purchase
    years = TERMS.get(purchase)
    if years is None or cost.usd_per_month is None or cost.total_usd is None:
        return cost
    used_usd = cost.by_purchase.get(purchase)
    used_h = float(run.fleet.node_hours.get(purchase, 0.0))
    if used_usd is None or used_h <= 0 or cost.total_usd <= 0:
        return cost
    rate = used_usd / used_h
    nodes = committed_nodes(context.design)
    hours = context.hours_per_month
    term_month = nodes * rate * hours
    used_month = cost.usd_per_month * used_usd / cost.total_usd
    share = used_month / term_month if term_month > 0 else 1.0
    if share >= 0.999:  # an always-on fleet already pays every committed hour
        return cost
    new_month = cost.usd_per_month - used_month + term_month
    f = new_month / cost.usd_per_month

    def scaled(value: float | None) -> float | None:
        return None if value is None else value * f

    ci = cost.usd_per_month_ci95
    return dataclasses.replace(
        cost, usd_per_month=new_month, usd_per_hour=new_month / hours,
        total_usd=scaled(cost.total_usd),
        usd_per_1k_requests=scaled(cost.usd_per_1k_requests),
        usd_per_1m_tokens=scaled(cost.usd_per_1m_tokens),
        usd_per_1m_input_tokens=scaled(cost.usd_per_1m_input_tokens),
        usd_per_1m_output_tokens=scaled(cost.usd_per_1m_output_tokens),
        usd_per_run=scaled(cost.usd_per_run),
        usd_per_month_ci95=None if ci is None else (ci[0] * f, ci[1] * f),
        commitment={**(cost.commitment or {}), "term": {
            "purchase": purchase, "term_years": years, "committed_nodes": nodes,
            "rate_usd_per_node_hour": rate, "term_usd_per_month": term_month,
            "used_usd_per_month": used_month, "used_share": share,
            "term_usd": term_month * 12 * years}})


def term_warnings(context: DesignContext, cost: CostResult) -> list[DesignWarning]:
    """Return the flags of a commitment priced for its term (none when it was not)."""
    term = (cost.commitment or {}).get("term")
    if not term:
        return []
    nodes, years, rate = term["committed_nodes"], term["term_years"], term["rate_usd_per_node_hour"]
    term_month, share, hours = term["term_usd_per_month"], term["used_share"], context.hours_per_month
    what = (f"{nodes} x {context.design.fleet.instance} on a {years}-year commitment is paid "
            f"for every hour of its term: ${term_month:,.0f}/month ({nodes} nodes x "
            f"${rate:,.4g}/node-h x {hours:g} h), ${term_month * 12 * years:,.0f} over the "
            f"term, whether the design uses it or not; the design uses {share:.1%} of it")
    flags = [DesignWarning("commitment_term", what + "; every cost figure includes the unused "
                           "hours (for capacity held only while a job or run needs it, price "
                           "a capacity block: its hourly price as pricing.effective_rates on "
                           "on_demand)")]
    if share < UNDERUSED:
        flags.append(DesignWarning(
            "commitment_underused", f"{1 - share:.1%} of the commitment's term is paid for "
            "but unused: other workloads must fill it, or another purchase option costs less"))
    return flags
