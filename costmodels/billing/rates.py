"""Effective hourly rates by instance type and purchase option, observed in billing exports.

:func:`effective_rates` turns the compute usage rows of a normalised billing frame
(:data:`costmodels.billing.schema.NORMALISED_SCHEMA`) into the rates a scenario can be priced
with (``pricing: {source: billing}``).

Aggregation: rows are ``Usage`` charges with ``x_InstanceType`` set and ``x_UsageHours > 0``,
excluding ``Unused`` commitment rows (waste is the commitment review's business, not the price
of an hour that ran).  Per provider, region, instance type, purchase option and billing period:

* ``effective_usd_per_hour = Σ EffectiveCost / Σ x_UsageHours`` — the hours-weighted mean of
  the rows' hourly rates (equivalently, total cost over total hours), so a few short, odd rows
  cannot skew it;
* ``list_usd_per_hour = Σ ListCost / Σ x_UsageHours`` over the same rows;
* ``usd_per_gpu_hour`` divides the effective rate by ``x_GpuCount`` when the GPU count is
  known and the same on every row of the group, else it is null.

A rate is null (unknown), never 0, when the group has no hours, or when a row of the group has
no ``EffectiveCost`` (the bill gives no amortised cost for it, e.g. an AWS reservation's
``DiscountedUsage`` rows without ``reservation/EffectiveCost``): ``effective_cost`` is then null
too and ``note`` says why.

Rates are per currency: a month whose compute usage is billed in more than one currency is
refused (an hourly rate never averages EUR and USD), naming each currency's files.
"""

from __future__ import annotations

import polars as pl

from costmodels.billing.review import month_bounds
from domain.errors import PlannerError

RATE_COLUMNS = (
    "provider", "region", "instance_type", "purchase_option", "billing_period", "usage_hours",
    "effective_cost", "list_cost", "effective_usd_per_hour", "list_usd_per_hour", "gpus",
    "usd_per_gpu_hour", "currency", "n_rows", "source", "note",
)
"""Columns of :func:`effective_rates`' frame, in order."""

MAX_FILES_NAMED = 3

NO_AMORTISED_COST = ("n/a: {} of {} rows have no EffectiveCost (the bill gives no amortised "
                     "cost for them, e.g. a reservation's DiscountedUsage rows without "
                     "reservation/EffectiveCost); an hour's price cannot be told, and is not $0")
"""The ``note`` of a rate left unknown because rows lack their amortised cost."""


def _files_text(files: list[str]) -> str:
    files = sorted(f for f in files if f)
    if not files:
        return "unknown files"
    head = ", ".join(files[:MAX_FILES_NAMED])
    more = len(files) - MAX_FILES_NAMED
    return head + (f" and {more} more" if more > 0 else "")


def effective_rates(frame: pl.LazyFrame, *, month: str | None = None) -> pl.DataFrame:
    """Return effective $/hour by provider, region, instance type and purchase option.

    Parameters
    ----------
    frame : polars.LazyFrame
        A normalised billing frame.
    month : str, optional
        "YYYY-MM" of ``BillingPeriodStart``; default the latest month with compute usage.

    Returns
    -------
    polars.DataFrame
        :data:`RATE_COLUMNS`, sorted by provider, region, instance type and purchase option;
        ``source`` reads ``billing export, <files>, <YYYY-MM>``.

    Raises
    ------
    PlannerError
        For a bad ``month``, one without compute usage rows, or one whose compute usage is
        billed in several currencies.
    """
    usage = frame.filter(
        (pl.col("ChargeCategory") == "Usage") & pl.col("x_InstanceType").is_not_null()
        & (pl.col("x_UsageHours") > 0)
        & (pl.col("CommitmentDiscountStatus").fill_null("") != "Unused"))
    if month is None:
        latest = usage.select(pl.col("BillingPeriodStart").max()).collect(engine="streaming")
        if latest.item() is None:
            raise PlannerError("the billing data has no compute usage rows (x_InstanceType with "
                               "x_UsageHours > 0); no effective rates can be derived")
        start = latest.item()
        month = f"{start.year:04d}-{start.month:02d}"
    start, end = month_bounds(month)
    period = (pl.col("BillingPeriodStart") >= start) & (pl.col("BillingPeriodStart") < end)
    gpus = pl.col("x_GpuCount")
    out = (
        usage.filter(period)
        .group_by(
            pl.coalesce(pl.col("x_Provider"), pl.col("ProviderName").str.to_lowercase())
            .alias("provider"),
            pl.col("RegionId").alias("region"),
            pl.col("x_InstanceType").alias("instance_type"),
            pl.col("x_PurchaseOption").alias("purchase_option"),
            pl.col("BillingCurrency").alias("currency"),
        )
        .agg(
            pl.col("x_UsageHours").sum().alias("usage_hours"),
            pl.col("EffectiveCost").sum().alias("effective_cost"),
            pl.col("EffectiveCost").null_count().alias("_no_cost"),
            pl.col("ListCost").sum().alias("list_cost"),
            pl.when(gpus.min() == gpus.max()).then(gpus.min()).alias("gpus"),
            gpus.null_count().alias("_gpu_nulls"),
            pl.col("x_SourceRows").sum().alias("n_rows"),
            pl.col("x_SourceFile").unique().sort().alias("_files"),
        )
        .collect(engine="streaming")
    )
    if out.height == 0:
        raise PlannerError(f"--month {month} has no compute usage rows (x_InstanceType with "
                           "x_UsageHours > 0); choose a month the bills cover")
    _refuse_mixed_currencies(out, month)
    hours = pl.col("usage_hours")
    known = pl.col("_no_cost") == 0
    rate = pl.when((hours > 0) & known).then(pl.col("effective_cost") / hours)
    out = out.with_columns(
        pl.lit(month).alias("billing_period"),
        pl.when(known).then(pl.col("effective_cost")).alias("effective_cost"),
        rate.alias("effective_usd_per_hour"),
        pl.when(~known).then(pl.format(NO_AMORTISED_COST, pl.col("_no_cost"),
                                       pl.col("n_rows"))).alias("note"),
        pl.when(hours > 0).then(pl.col("list_cost") / hours).alias("list_usd_per_hour"),
        pl.when(pl.col("_gpu_nulls") == 0).then(pl.col("gpus")).alias("gpus"),
        pl.col("_files").map_elements(
            lambda f: f"billing export, {_files_text(list(f))}, {month}",
            return_dtype=pl.String()).alias("source"),
    ).with_columns(
        pl.when(pl.col("gpus") > 0)
        .then(pl.col("effective_usd_per_hour") / pl.col("gpus").cast(pl.Float64))
        .alias("usd_per_gpu_hour"),
    )
    return out.select(RATE_COLUMNS).sort("provider", "region", "instance_type",
                                         "purchase_option", nulls_last=True)


def _refuse_mixed_currencies(groups: pl.DataFrame, month: str) -> None:
    """Raise when the month's compute usage is billed in more than one currency."""
    by_currency = (groups.group_by("currency").agg(pl.col("_files").list.explode().unique().sort())
                   .sort("currency", nulls_last=True))
    if by_currency.height <= 1:
        return
    parts = [f"{row['currency'] or 'no currency'} ({_files_text(list(row['_files']))})"
             for row in by_currency.iter_rows(named=True)]
    raise PlannerError(f"--month {month}: the compute usage is billed in "
                       f"{' and '.join(parts)}; an hourly rate never averages two currencies: "
                       "read one currency's files at a time")
