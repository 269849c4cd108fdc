"""Effective rates from billing exports (``pricing: {source: billing}``).

Part of the input layer (:mod:`planner.inputs`): the exports are read and reconciled by
:mod:`costmodels.billing`; a problem with them raises :class:`~domain.errors.ScenarioError`
starting with the scenario field ``pricing.paths``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import polars as pl

from domain.errors import PlannerError, ScenarioError

__all__ = ["BillingRates", "load_billing_rates"]


_BILLING_OPTIONS = {
    "on_demand": ("on_demand",), "spot": ("spot",),
    "reserved_1yr": ("reserved", "committed_use"), "reserved_3yr": ("reserved", "committed_use"),
    "savings_plan_1yr": ("savings_plan",), "savings_plan_3yr": ("savings_plan",),
}
"""Scenario purchase option -> the billing export's ``x_PurchaseOption`` values that price it."""


@dataclass(frozen=True, eq=False)
class BillingRates:
    """Effective $/hour observed in billing exports (``pricing: {source: billing}``).

    Attributes
    ----------
    table : polars.DataFrame
        :func:`costmodels.billing.rates.effective_rates` of the exports.
    label : str
        Which files and month, for reports.
    reconciliation : str
        The reader's rows and money in = out + rejected line.
    """

    table: pl.DataFrame
    label: str
    reconciliation: str

    def rate(self, instance_type: str, region: str | None, purchase: str
             ) -> tuple[float, str, str] | None:
        """Return (USD per node-hour, source, as-of date) for an instance and purchase option,
        or None when the bills hold no such usage (in that region, when one is given)."""
        options = _BILLING_OPTIONS.get(purchase, ())
        rows = self.table.filter(pl.col("instance_type") == instance_type,
                                 pl.col("purchase_option").is_in(list(options)),
                                 pl.col("effective_usd_per_hour").is_not_null())
        if region is not None and rows.height:
            rows = rows.filter(pl.col("region") == region)
        if rows.height == 0:
            return None
        hours = float(rows["usage_hours"].sum())
        cost = float(rows["effective_cost"].sum())
        if hours <= 0:
            return None
        period = str(rows["billing_period"][0])
        year, month = (int(x) for x in period.split("-"))
        as_of = f"{period}-{calendar.monthrange(year, month)[1]:02d}"
        source = (f"effective rate from billing: {rows['source'][0]} "
                  f"({hours:,.1f} {purchase} hours)")
        return cost / hours, source, as_of


def load_billing_rates(pricing, *, field_path: str = "pricing") -> BillingRates | None:
    """Read the exports of ``pricing: {source: billing}`` and their effective rates."""
    if pricing.source != "billing":
        return None
    from costmodels.billing.rates import effective_rates
    from costmodels.billing.readers import read_billing

    try:
        read = read_billing(list(pricing.paths), compact=True)
        table = effective_rates(read.frame, month=pricing.month)
    except PlannerError as exc:
        raise ScenarioError(f"{field_path}.paths: {exc}") from None
    rec = read.reconciliation
    line = (f"rows {rec.rows_in:,} in = {rec.rows_out:,} out + {rec.rows_rejected:,} rejected"
            f" ({rec.verdict})")
    period = table["billing_period"][0] if table.height else (pricing.month or "n/a")
    return BillingRates(table=table, label=f"billing exports {', '.join(read.sources[:3])}"
                        f"{' and more' if len(read.sources) > 3 else ''}, {period}",
                        reconciliation=line)

