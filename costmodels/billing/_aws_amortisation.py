"""AWS CUR amortisation: what each line item costs after commitments, by the CUR rules.

``reservation/EffectiveCost`` (or its amortised upfront + recurring parts) for RI-covered usage,
``savingsPlan/SavingsPlanEffectiveCost`` for Savings Plan-covered usage, 0 for the commitment
fees, whose unused part (``reservation/UnusedAmortizedUpfrontFeeForBillingPeriod`` +
``reservation/UnusedRecurringFee``; ``savingsPlan/TotalCommitmentToDate`` -
``savingsPlan/UsedCommitment``) becomes an ``Unused`` row of its own (:func:`unused_rows`); the
net variants where the report has net costs. Split from :mod:`costmodels.billing._aws`.
"""

from __future__ import annotations

import polars as pl

from costmodels.billing import _categories as tables
from costmodels.billing._common import (
    REJECT_REASON,
    Cols,
    OddityCheck,
    finish,
    is_null_literal,
)
from costmodels.billing.schema import NORMALISED_SCHEMA

COMMITMENT_FEE_TYPES = tables.AWS_COMMITMENT_FEE_TYPES
AMORTISATION_COLUMNS, _NET = tables.AWS_AMORTISATION_COLUMNS, tables.AWS_NET_COLUMNS


def uses_net(cols: Cols) -> bool:
    return cols.has("line_item_net_unblended_cost")


def read_columns(cols: Cols) -> list[str]:
    """The amortisation columns this file's amounts are read from (net ones with net costs)."""
    net_names = set(_NET.values())
    return [name for name in AMORTISATION_COLUMNS
            if cols.has(name) and (name not in net_names or uses_net(cols))]


def commitment_checks(cols: Cols, lit_type: pl.Expr) -> list[OddityCheck]:
    """Text in an amortisation column where it does not apply, and fees with unknown unused."""
    checks = []
    for name in read_columns(cols):
        applies = AMORTISATION_COLUMNS[name][0]
        stray = ((lit_type != applies).fill_null(True) & cols.bad_number(name)
                 & ~is_null_literal(cols.text(name)))
        checks.append(OddityCheck("inapplicable_text", cols.label(name), stray, cols.text(name),
                                  f"text in a column that applies only to {applies} rows; "
                                  "ignored"))
    unknown = (lit_type.is_in(list(COMMITMENT_FEE_TYPES)) & unused_commitment(cols).is_null())
    checks.append(OddityCheck(
        "unknown_unused_commitment", cols.label("line_item_line_item_type"),
        unknown.fill_null(False), lit_type,
        "commitment fee without its unused amount (RIFee: reservation/UnusedAmortizedUpfront"
        "FeeForBillingPeriod, reservation/UnusedRecurringFee; SavingsPlanRecurringFee: "
        "savingsPlan/TotalCommitmentToDate); its unused commitment is unknown, not counted"))
    return checks


def billed_cost(cols: Cols) -> pl.Expr:
    """Net unblended cost where the report has it, else unblended cost."""
    return pl.coalesce(cols.money("line_item_net_unblended_cost"),
                       cols.money("line_item_unblended_cost"))


def amount(cols: Cols, name: str) -> pl.Expr:
    """An amortisation amount: the net variant where the report has net costs, else gross."""
    net = _NET.get(name)
    if net is not None and uses_net(cols) and cols.has(net):
        return pl.coalesce(cols.money(net), cols.money(name))
    return cols.money(name)


def ri_used(cols: Cols) -> pl.Expr:
    """A ``DiscountedUsage`` row's amortised cost; null (unknown) when the report has none."""
    parts = (amount(cols, "reservation_amortized_upfront_cost_for_usage")
             + cols.money("reservation_recurring_fee_for_usage"))
    return pl.coalesce(amount(cols, "reservation_effective_cost"), parts)


def unused_commitment(cols: Cols) -> pl.Expr:
    """The unused part of a commitment fee row (``RIFee``, ``SavingsPlanRecurringFee``)."""
    lit_type = cols.text("line_item_line_item_type")
    upfront = amount(cols, "reservation_unused_amortized_upfront_fee_for_billing_period")
    recurring = amount(cols, "reservation_unused_recurring_fee")
    ri_unused = pl.when(upfront.is_not_null() | recurring.is_not_null()) \
        .then(upfront.fill_null(0.0) + recurring.fill_null(0.0))
    sp_unused = (cols.money("savings_plan_total_commitment_to_date")
                 - cols.money("savings_plan_used_commitment").fill_null(0.0))
    return (pl.when(lit_type == "RIFee").then(ri_unused)
            .when(lit_type == "SavingsPlanRecurringFee").then(sp_unused))


def effective_cost(cols: Cols) -> pl.Expr:
    """Amortised cost by the CUR rules; commitment fees are 0 (their unused part is a row)."""
    lit_type = cols.text("line_item_line_item_type")
    return (
        pl.when(lit_type == "SavingsPlanCoveredUsage")
        .then(amount(cols, "savings_plan_savings_plan_effective_cost"))
        .when(lit_type == "DiscountedUsage").then(ri_used(cols))
        .when(lit_type.is_in(["SavingsPlanNegation", "SavingsPlanUpfrontFee",
                              *COMMITMENT_FEE_TYPES])).then(0.0)
        .when((lit_type == "Fee") & cols.text("reservation_reservation_a_r_n").is_not_null())
        .then(0.0)
        .otherwise(billed_cost(cols)))


def amortisation_rules(cols: Cols) -> list[tuple[pl.Expr, str, str, pl.Expr]]:
    """A bad number in an amortisation column rejects the rows it applies to, naming it."""
    lit_type = cols.text("line_item_line_item_type")
    rules = []
    for name in read_columns(cols):
        applies, what = AMORTISATION_COLUMNS[name]
        rules.append(((lit_type == applies).fill_null(False) & cols.bad_number(name),
                      f"{what} of a {applies} row is not a number", cols.label(name),
                      cols.text(name)))
    return rules


def unused_rows(frame: pl.LazyFrame, cols: Cols, exprs: dict[str, pl.Expr]) -> pl.LazyFrame:
    """The unused part of each accepted commitment fee line as a FOCUS ``Unused`` usage row.

    It copies the fee line's columns but: ChargeCategory Usage, ChargeFrequency Usage-Based,
    PricingCategory Committed, BilledCost, ListCost and ContractedCost 0, EffectiveCost the
    unused amount, CommitmentDiscountStatus Unused, ResourceId the commitment's id, no consumed
    quantity or usage hours; the quantity is the unused reserved hours (``RIFee``) or the
    unused commitment in the billing currency (Savings Plan).
    """
    lit_type = cols.text("line_item_line_item_type")
    unused = unused_commitment(cols)
    is_ri = lit_type == "RIFee"
    quantity = pl.when(is_ri).then(cols.money("reservation_unused_quantity")).otherwise(unused)
    unit = pl.when(is_ri).then(exprs["PricingUnit"]).otherwise(exprs["BillingCurrency"])
    what = pl.when(is_ri).then(pl.lit("Unused reservation")) \
        .otherwise(pl.lit("Unused Savings Plan commitment"))
    no_number, no_text = pl.lit(None, pl.Float64), pl.lit(None, pl.String)
    row = {**exprs,
           "BilledCost": pl.lit(0.0), "EffectiveCost": unused, "ListCost": pl.lit(0.0),
           "ContractedCost": pl.lit(0.0), "ListUnitPrice": no_number,
           "ContractedUnitPrice": no_number, "ChargeCategory": pl.lit("Usage"),
           "ChargeFrequency": pl.lit("Usage-Based"), "PricingCategory": pl.lit("Committed"),
           "ChargeDescription": pl.concat_str([what, exprs["ChargeDescription"]], separator=": ",
                                              ignore_nulls=True),
           "CommitmentDiscountStatus": pl.lit("Unused"), "CommitmentDiscountQuantity": quantity,
           "CommitmentDiscountUnit": unit, "ConsumedQuantity": no_number,
           "ConsumedUnit": no_text, "PricingQuantity": quantity, "PricingUnit": unit,
           "ResourceId": exprs["CommitmentDiscountId"], "x_UsageHours": no_number}
    fees = frame.filter(lit_type.is_in(list(COMMITMENT_FEE_TYPES)) & (unused != 0).fill_null(False))
    return (finish(fees, row).filter(pl.col(REJECT_REASON).is_null())
            .select(list(NORMALISED_SCHEMA)))
