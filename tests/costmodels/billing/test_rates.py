"""Effective rates from billing rows: hand-computed hours-weighted rates, the rows they use, and
their independence from row order."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from costmodels.billing.rates import RATE_COLUMNS, effective_rates
from domain.errors import PlannerError
from tests.costmodels.billing.test_review_data import UTC, frame_from_rows, generate_focus

P5 = {"x_Provider": "aws", "RegionId": "us-east-1", "x_InstanceType": "p5.48xlarge", "x_GpuCount": 8,
          "x_GpuModel": "NVIDIA H100", "x_SourceFile": "cur-00001.parquet"}


def _rows():
    return [
        # on-demand: 2 h at $98.32 and 0.5 h at $49.16 -> $98.32/h
        dict(P5, x_PurchaseOption="on_demand", x_UsageHours=2.0, EffectiveCost=196.64),
        dict(P5, x_PurchaseOption="on_demand", x_UsageHours=0.5, EffectiveCost=49.16),
        # spot: 3 h for $90 and 1 h for $50 -> $35/h (hours-weighted), list $98.32/h
        dict(P5, x_PurchaseOption="spot", x_UsageHours=3.0, EffectiveCost=90.0,
             ListCost=3 * 98.32, x_SourceFile="cur-00002.parquet"),
        dict(P5, x_PurchaseOption="spot", x_UsageHours=1.0, EffectiveCost=50.0, ListCost=98.32),
        # reserved used 4 h at $60/h; the unused RI row is excluded from the rate
        dict(P5, x_PurchaseOption="reserved", x_UsageHours=4.0, EffectiveCost=240.0,
             ListCost=4 * 98.32, CommitmentDiscountId="ri", CommitmentDiscountStatus="Used"),
        dict(P5, x_PurchaseOption="reserved", x_UsageHours=1.0, EffectiveCost=60.0,
             CommitmentDiscountId="ri", CommitmentDiscountStatus="Unused"),
        # excluded: no hours, no instance type, a purchase row, another month
        dict(P5, x_PurchaseOption="on_demand", x_UsageHours=0.0, EffectiveCost=7.0),
        {"x_Provider": "aws", "ServiceName": "Amazon S3", "EffectiveCost": 11.0},
        dict(P5, x_PurchaseOption="reserved", ChargeCategory="Purchase", x_UsageHours=1.0,
             EffectiveCost=0.0, BilledCost=1000.0),
        dict(P5, x_PurchaseOption="on_demand", x_UsageHours=1.0, EffectiveCost=1.0,
             ChargePeriodStart=dt.datetime(2026, 9, 5, tzinfo=UTC)),
        # a GCP row: provider from x_Provider, no GPU count -> no $/GPU-hour
        {"x_Provider": "gcp", "RegionId": "us-central1", "x_InstanceType": "n2-standard-8",
             "x_PurchaseOption": "committed_use", "x_UsageHours": 10.0, "EffectiveCost": 2.5},
    ]


def test_rates_are_hours_weighted_and_hand_computed():
    out = effective_rates(frame_from_rows(_rows()))
    assert tuple(out.columns) == RATE_COLUMNS
    by = {(r["provider"], r["instance_type"], r["purchase_option"]): r
          for r in out.iter_rows(named=True)}
    assert set(by) == {("aws", "p5.48xlarge", "on_demand"), ("aws", "p5.48xlarge", "spot"),
                       ("aws", "p5.48xlarge", "reserved"),
                       ("gcp", "n2-standard-8", "committed_use")}
    od, spot, ri = (by[("aws", "p5.48xlarge", p)] for p in ("on_demand", "spot", "reserved"))
    assert od["usage_hours"] == 2.5 and od["effective_usd_per_hour"] == pytest.approx(98.32)
    assert spot["effective_usd_per_hour"] == pytest.approx(140 / 4)
    assert spot["list_usd_per_hour"] == pytest.approx(98.32)
    assert spot["usd_per_gpu_hour"] == pytest.approx(35 / 8) and spot["gpus"] == 8
    assert ri["usage_hours"] == 4.0 and ri["effective_usd_per_hour"] == pytest.approx(60.0)
    gcp = by[("gcp", "n2-standard-8", "committed_use")]
    assert gcp["effective_usd_per_hour"] == pytest.approx(0.25) and gcp["gpus"] is None
    assert gcp["usd_per_gpu_hour"] is None and gcp["region"] == "us-central1"
    assert spot["source"] == "billing export, cur-00001.parquet, cur-00002.parquet, 2026-10"
    assert set(out["billing_period"]) == {"2026-10"}


def test_month_selects_the_billing_period_and_errors_are_clear():
    sept = effective_rates(frame_from_rows(_rows()), month="2026-09")
    assert sept.height == 1 and sept["effective_usd_per_hour"][0] == 1.0
    with pytest.raises(PlannerError, match="--month 2026-07 has no compute usage rows"):
        effective_rates(frame_from_rows(_rows()), month="2026-07")
    with pytest.raises(PlannerError, match="no compute usage rows"):
        effective_rates(frame_from_rows([{"EffectiveCost": 1.0}]))
    with pytest.raises(PlannerError, match="not YYYY-MM"):
        effective_rates(frame_from_rows(_rows()), month="10/2026")


def test_rates_equal_plain_python_on_generated_data_and_ignore_row_order():
    df = generate_focus(10_000, seed=7)
    out = effective_rates(df.lazy())
    sums: dict[tuple[str, str], list[float]] = {}
    for r in df.iter_rows(named=True):
        if (r["BillingPeriodStart"].month == 10 and r["ChargeCategory"] == "Usage"
                and r["x_InstanceType"] and (r["x_UsageHours"] or 0) > 0
                and r["CommitmentDiscountStatus"] != "Unused"):
            acc = sums.setdefault((r["x_InstanceType"], r["x_PurchaseOption"]), [0.0, 0.0])
            acc[0] += r["EffectiveCost"]
            acc[1] += r["x_UsageHours"]
    assert out.height == len(sums)
    for r in out.iter_rows(named=True):
        cost, hours = sums[(r["instance_type"], r["purchase_option"])]
        assert r["effective_usd_per_hour"] == pytest.approx(cost / hours, rel=1e-9)
    shuffled = effective_rates(df.sample(fraction=1.0, shuffle=True, seed=1).lazy())
    assert shuffled.select(pl.exclude(pl.Float64)).equals(out.select(pl.exclude(pl.Float64)))
    for col in ("usage_hours", "effective_cost", "effective_usd_per_hour"):
        assert shuffled[col].to_list() == pytest.approx(out[col].to_list(), rel=1e-9)
