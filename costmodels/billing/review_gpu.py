"""GPU spend of the monthly cost review: used and unused-commitment cost, GPU-hours and the
$/GPU-hour that divides them, by instance type and purchase option.

:func:`gpu_spend` reads the review's compact cube (:func:`costmodels.billing.review._cube`, one
row per day × group × charge attributes) of one month.  Rules (also ``GPU_RATE_RULE``):

* **GPU rows**: ``x_GpuCount > 0`` or a ``x_GpuModel``.
* **Unused commitment**: GPU rows with ``CommitmentDiscountStatus = Unused`` (FOCUS, GCP), and
  commitment fee rows (``ChargeCategory = Purchase`` with a commitment id or a committed
  purchase option), whose ``EffectiveCost`` is the unused part once usage is amortised (the
  AWS ``RIFee`` line: unused upfront plus unused recurring fee).  Every other GPU row is
  **used** cost (usage, and discounts or credits that name the instance type).
* **Instance-hours** (``usage_hours``): ``x_UsageHours`` of the used ``Usage`` rows that have
  them; ``None`` when none has (per-core, RAM or other non-instance SKUs), never 0.
* **GPU-hours**: ``x_UsageHours × x_GpuCount`` of the used ``Usage`` rows; unused commitment
  hours are not GPU-hours (nothing ran on them).  A row whose used usage has hours without a GPU
  count has unknown GPU-hours (``None``), as has a row without used hours (a commitment nobody
  used): its rates are ``None``, never $0.
* **Rates**, each row's cost over the same row's GPU-hours, so cost / GPU-hours = rate holds on
  every row: ``effective_usd_per_gpu_hour = (used + unused commitment) / GPU-hours`` (what a
  used GPU-hour cost, waste included), ``used_usd_per_gpu_hour = used / GPU-hours`` and
  ``list_usd_per_gpu_hour = list cost of the used rows / GPU-hours``.
* **Totals** are the sums of the rows; the total rates divide the cost of the rows with known
  GPU-hours (``rated_effective_usd``) by their GPU-hours; the rest is ``unrated_usd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from costmodels.billing.review_types import GpuRate, GpuSpend

__all__ = ["COMMITTED_OPTIONS", "GPU_RATE_RULE", "gpu_spend"]

COMMITTED_OPTIONS = ("reserved", "savings_plan", "committed_use")
"""``x_PurchaseOption`` values that are commitments."""

GPU_RATE_RULE = (
    "per instance type and purchase option, (used + unused commitment) EffectiveCost / "
    "GPU-hours (x_UsageHours × x_GpuCount of the used Usage rows); unused commitment = "
    "CommitmentDiscountStatus Unused rows and commitment fee (Purchase) rows; used $/GPU-hour "
    "and list $/GPU-hour divide the used rows' EffectiveCost and ListCost by the same GPU-hours; "
    "unknown GPU-hours give n/a")


def _ratio(num: float, den: float | None) -> float | None:
    return None if den is None or den == 0 else num / den


def _row_table(gpu: pl.DataFrame) -> pl.DataFrame:
    """One row per instance type × purchase option with its used and unused sums."""
    commitment_fee = (pl.col("cat") == "Purchase") & (
        pl.col("has_commit") | pl.col("purch").is_in(COMMITTED_OPTIONS))
    unused = ((pl.col("cstatus") == "Unused") | commitment_fee).fill_null(False)
    used_usage = ~unused & (pl.col("cat") == "Usage").fill_null(False)
    return (
        gpu.group_by("inst", "purch")
        .agg(
            pl.col("gpu_model").drop_nulls().first(),
            pl.col("effective").filter(~unused).sum().alias("used"),
            pl.col("effective").filter(unused).sum().alias("unused"),
            pl.col("list").filter(~unused).sum().alias("list"),
            pl.col("hours").filter(used_usage & pl.col("is_compute")).sum().alias("hours"),
            (used_usage & pl.col("is_compute")).any().alias("has_hours"),
            pl.col("gpu_hours").filter(used_usage & pl.col("gpu_known")).sum().alias("gh"),
            (used_usage & pl.col("is_compute") & ~pl.col("gpu_known")).any()
            .alias("gpu_count_missing"),
            pl.col("effective").sum().alias("effective"),
        )
        .sort("effective", "inst", "purch", descending=[True, False, False], nulls_last=True)
    )


def _rate(row: dict[str, Any]) -> GpuRate:
    used, unused, list_usd = float(row["used"]), float(row["unused"]), float(row["list"])
    gh = float(row["gh"] or 0.0)
    gpu_hours = gh if gh > 0 and not row["gpu_count_missing"] else None
    # hours only from rows that give instance-hours (a per-core or RAM SKU gives none)
    usage_hours = float(row["hours"]) if row["has_hours"] else None
    effective = used + unused
    return GpuRate(
        instance_type=row["inst"], purchase_option=row["purch"], gpu_model=row["gpu_model"],
        usage_hours=usage_hours, gpu_hours=gpu_hours,
        used_usd=used, unused_commitment_usd=unused, effective_usd=effective,
        list_usd=list_usd,
        effective_usd_per_gpu_hour=_ratio(effective, gpu_hours),
        used_usd_per_gpu_hour=_ratio(used, gpu_hours),
        list_usd_per_gpu_hour=_ratio(list_usd, gpu_hours),
    )


def _spend(rates: Sequence[GpuRate], spot_usd: float, committed_usd: float) -> GpuSpend:
    rated = [r for r in rates if r.gpu_hours is not None]
    effective = sum(r.effective_usd for r in rates)
    rated_effective = sum(r.effective_usd for r in rated)
    gpu_hours = sum(r.gpu_hours for r in rated if r.gpu_hours is not None) or None
    return GpuSpend(
        effective_usd=effective,
        used_usd=sum(r.used_usd for r in rates),
        unused_commitment_usd=sum(r.unused_commitment_usd for r in rates),
        list_usd=sum(r.list_usd for r in rates),
        gpu_hours=gpu_hours,
        rated_effective_usd=rated_effective,
        unrated_usd=effective - rated_effective,
        effective_usd_per_gpu_hour=_ratio(rated_effective, gpu_hours),
        used_usd_per_gpu_hour=_ratio(sum(r.used_usd for r in rated), gpu_hours),
        list_usd_per_gpu_hour=_ratio(sum(r.list_usd for r in rated), gpu_hours),
        spot_share=_ratio(spot_usd, effective),
        commitment_share=_ratio(committed_usd, effective),
        rates=tuple(rates),
    )


def gpu_spend(cur: pl.DataFrame) -> GpuSpend | None:
    """Return the GPU spend of one month's cube (``None`` when it has no GPU rows)."""
    gpu = cur.filter(pl.col("is_gpu"))
    if gpu.height == 0:
        return None
    rates = tuple(_rate(r) for r in _row_table(gpu).iter_rows(named=True))
    spot = float(gpu.filter(pl.col("purch") == "spot")["effective"].sum())
    committed = float(gpu.filter(pl.col("purch").is_in(COMMITTED_OPTIONS)
                                 | pl.col("has_commit"))["effective"].sum())
    return _spend(rates, spot, committed)
