"""The monthly cost review against independent truths: plain-Python sums over the generated rows,
hand-computed GPU rates and commitment tables, injected anomalies, and the forecast's coverage."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest

from costmodels.billing.review import OTHER_GROUPS, monthly_review
from costmodels.billing.review_days import ANOMALY_THRESHOLD, FORECAST_LEVEL
from domain.errors import PlannerError
from tests.costmodels.billing.test_review_data import UTC, frame_from_rows, generate_focus

OCT = dt.datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated() -> pl.DataFrame:
    return generate_focus(20_000, seed=11)


def _month(ts: dt.datetime) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


def _close(a, b, rel=1e-9, path="") -> None:
    """Assert two nested to_dict() results are equal, floats to ``rel``."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], rel, f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, rel, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=rel, abs=1e-6), path
    else:
        assert a == b, path


# ----------------------------------------------------------------------------- totals, movers

def test_totals_equal_plain_python_sums_over_the_rows(generated):
    sums: dict[tuple[str, str], float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    by_service: dict[tuple[str, str], float] = defaultdict(float)
    for row in generated.iter_rows(named=True):
        m = _month(row["BillingPeriodStart"])
        counts[m] += 1
        for col in ("BilledCost", "EffectiveCost", "ListCost"):
            sums[(m, col)] += row[col]
        by_service[(m, row["ServiceName"])] += row["EffectiveCost"]
    review = monthly_review(generated.lazy())
    assert review.month == "2026-10" and review.previous_month == "2026-09"
    for totals in (review.current, review.previous):
        m = totals.month
        assert totals.billed_usd == pytest.approx(sums[(m, "BilledCost")], rel=1e-9)
        assert totals.effective_usd == pytest.approx(sums[(m, "EffectiveCost")], rel=1e-9)
        assert totals.list_usd == pytest.approx(sums[(m, "ListCost")], rel=1e-9)
        assert totals.n_rows == counts[m]
    change = sums[("2026-10", "EffectiveCost")] - sums[("2026-09", "EffectiveCost")]
    assert review.change.effective_usd == pytest.approx(change, rel=1e-9)
    assert review.change.effective_pct == pytest.approx(
        change / sums[("2026-09", "EffectiveCost")], rel=1e-9)
    for m in review.movers:
        assert m.current_usd == pytest.approx(by_service[("2026-10", m.group)], rel=1e-9)
        assert m.previous_usd == pytest.approx(by_service[("2026-09", m.group)], rel=1e-9)


def test_an_earlier_month_compares_with_its_own_previous_month(generated):
    review = monthly_review(generated.lazy(), month="2026-09")
    aug = generated.filter(pl.col("BillingPeriodStart").dt.month() == 8)
    assert review.previous.effective_usd == pytest.approx(aug["EffectiveCost"].sum(), rel=1e-9)
    first = monthly_review(generated.lazy(), month="2026-08")
    assert first.previous is None and first.change is None and first.movers is None
    assert review.months_available == ("2026-08", "2026-09", "2026-10")


def test_movers_shares_sum_to_one_of_the_change_and_other_groups_are_summed():
    rows = []
    for i in range(15):
        name = f"svc-{i:02d}"
        rows.append({"ServiceName": name, "EffectiveCost": 100.0 + i,
                         "ChargePeriodStart": dt.datetime(2026, 9, 3, tzinfo=UTC)})
        rows.append({"ServiceName": name, "EffectiveCost": 100.0 + i * i})
    rows.append({"ServiceName": "new-in-october", "EffectiveCost": 50.0})
    rows.append({"ServiceName": "gone-in-october", "EffectiveCost": 30.0,
                     "ChargePeriodStart": dt.datetime(2026, 9, 4, tzinfo=UTC)})
    review = monthly_review(frame_from_rows(rows))
    movers = review.movers
    assert sum(m.share_of_change for m in movers) == pytest.approx(1.0, rel=1e-12)
    assert sum(m.change_usd for m in movers) == pytest.approx(review.change.effective_usd)
    assert movers[-1].group == OTHER_GROUPS and movers[-1].n_groups == 17 - 10
    assert [m.group for m in movers[:2]] == ["svc-14", "svc-13"]
    changes = [abs(m.change_usd) for m in movers[:-1]]
    assert changes == sorted(changes, reverse=True)
    by = {m.group: m for m in movers}
    assert by["svc-14"].change_usd == pytest.approx(196 - 14)
    review_all = monthly_review(frame_from_rows(rows).filter(
        pl.col("ServiceName").is_in(["new-in-october", "gone-in-october", "svc-00"])))
    by = {m.group: m for m in review_all.movers}
    assert by["new-in-october"].previous_usd is None  # absent, not $0
    assert by["new-in-october"].change_usd == 50.0 and by["new-in-october"].change_pct is None
    assert by["gone-in-october"].current_usd is None and by["gone-in-october"].change_pct == -1.0
    assert by["svc-00"].change_usd == 0.0


def test_group_by_account_and_tag_with_an_untagged_bucket(generated):
    review = monthly_review(generated.lazy(), group_by="tag:team")
    groups = {m.group for m in review.movers}
    assert groups == {"search", "ads", "research", "untagged"}
    oct_rows = generated.filter(pl.col("BillingPeriodStart") == OCT)
    untagged = sum(r["EffectiveCost"] for r in oct_rows.iter_rows(named=True)
                   if r["Tags"] is None or "team" not in json.loads(r["Tags"]))
    assert {m.group: m.current_usd for m in review.movers}["untagged"] == pytest.approx(
        untagged, rel=1e-9)
    accounts = monthly_review(generated.lazy(), group_by="account")
    assert "ml-prod (000123456789)" in {m.group for m in accounts.movers}


def test_row_order_does_not_change_any_result(generated):
    base = monthly_review(generated.lazy(), group_by="tag:team").to_dict()
    shuffled = generated.sample(fraction=1.0, shuffle=True, seed=5)
    _close(base, monthly_review(shuffled.lazy(), group_by="tag:team").to_dict())


def test_to_dict_is_json_ready_and_unknowns_are_none(generated):
    review = monthly_review(generated.lazy(), month="2026-08")
    doc = json.loads(json.dumps(review.to_dict(), allow_nan=False))
    assert doc["previous"] is None and doc["movers"] is None and doc["change"] is None
    assert doc["forecast"] is None  # August is complete
    assert doc["assumptions"]["cost_basis"].startswith("EffectiveCost")


# ----------------------------------------------------------------------------- GPU

def test_gpu_rate_per_gpu_hour_is_hand_computed_on_a_tiny_frame():
    h100 = {"x_InstanceType": "p5.48xlarge", "x_GpuModel": "NVIDIA H100", "x_GpuCount": 8}
    rows = [
        # on-demand: 2 h and 1 h at list $98.32/h -> 24 GPU-h, $294.96
        dict(h100, x_PurchaseOption="on_demand", x_UsageHours=2.0, EffectiveCost=196.64),
        dict(h100, x_PurchaseOption="on_demand", x_UsageHours=1.0, EffectiveCost=98.32),
        # spot: 1 h at $30 effective, $98.32 list -> 8 GPU-h
        dict(h100, x_PurchaseOption="spot", x_UsageHours=1.0, EffectiveCost=30.0,
             ListCost=98.32, PricingCategory="Dynamic"),
        # reserved: 4 h used at $60/h (list 98.32) + an unused RI hour ($60)
        dict(h100, x_PurchaseOption="reserved", x_UsageHours=4.0, EffectiveCost=240.0,
             BilledCost=0.0, ListCost=393.28, ContractedCost=393.28,
             CommitmentDiscountId="ri-1", CommitmentDiscountType="Reserved Instance",
             CommitmentDiscountStatus="Used"),
        dict(h100, x_PurchaseOption="reserved", EffectiveCost=60.0, BilledCost=0.0,
             ListCost=0.0, ContractedCost=0.0, CommitmentDiscountId="ri-1",
             CommitmentDiscountType="Reserved Instance", CommitmentDiscountStatus="Unused"),
        # a GPU instance with an unknown GPU count: in GPU spend, not in $/GPU-hour
        {"x_InstanceType": "mystery.gpu", "x_GpuModel": "NVIDIA L4", "x_PurchaseOption": "on_demand",
             "x_UsageHours": 1.0, "EffectiveCost": 5.0},
        # CPU and storage: not GPU
        {"x_InstanceType": "m5.large", "x_PurchaseOption": "on_demand", "x_UsageHours": 10.0,
             "EffectiveCost": 0.96},
        {"ServiceName": "Amazon S3", "EffectiveCost": 12.0},
    ]
    gpu = monthly_review(frame_from_rows(rows)).gpu
    by = {(r.instance_type, r.purchase_option): r for r in gpu.rates}
    assert set(by) == {("p5.48xlarge", "on_demand"), ("p5.48xlarge", "spot"),
                       ("p5.48xlarge", "reserved"), ("mystery.gpu", "on_demand")}
    od = by[("p5.48xlarge", "on_demand")]
    assert od.gpu_hours == 24.0 and od.effective_usd_per_gpu_hour == pytest.approx(98.32 / 8)
    assert od.list_usd_per_gpu_hour == pytest.approx(98.32 / 8)
    spot = by[("p5.48xlarge", "spot")]
    assert spot.effective_usd_per_gpu_hour == pytest.approx(30.0 / 8)
    ri = by[("p5.48xlarge", "reserved")]
    assert ri.gpu_hours == 32.0 and ri.effective_usd == 300.0  # unused hour in spend
    assert (ri.used_usd, ri.unused_commitment_usd) == (240.0, 60.0)
    assert ri.effective_usd_per_gpu_hour == pytest.approx(300.0 / 32)  # and in the rate
    assert ri.used_usd_per_gpu_hour == pytest.approx(240.0 / 32)  # not in the used rate
    mystery = by[("mystery.gpu", "on_demand")]
    assert mystery.gpu_hours is None and mystery.effective_usd_per_gpu_hour is None
    total = 196.64 + 98.32 + 30.0 + 240.0 + 60.0 + 5.0
    assert gpu.effective_usd == pytest.approx(total)
    assert gpu.gpu_hours == 64.0
    assert gpu.unrated_usd == pytest.approx(5.0)  # the unknown GPU count
    assert gpu.effective_usd_per_gpu_hour == pytest.approx((196.64 + 98.32 + 30 + 300) / 64)
    assert gpu.used_usd_per_gpu_hour == pytest.approx((196.64 + 98.32 + 30 + 240) / 64)
    assert gpu.list_usd_per_gpu_hour == pytest.approx(98.32 * 8 / 64)
    assert gpu.spot_share == pytest.approx(30.0 / total)
    assert gpu.commitment_share == pytest.approx(300.0 / total)


def test_no_gpu_rows_gives_no_gpu_section():
    review = monthly_review(frame_from_rows([{"EffectiveCost": 3.0}]))
    assert review.gpu is None and review.commitments is None


# ----------------------------------------------------------------------------- commitments

def test_commitment_coverage_and_utilisation_are_hand_computed():
    ri = {"CommitmentDiscountId": "ri-1", "CommitmentDiscountType": "Reserved Instance",
              "CommitmentDiscountStatus": "Used", "x_PurchaseOption": "reserved"}
    sp = {"CommitmentDiscountId": "sp-1", "CommitmentDiscountType": "Savings Plan",
              "CommitmentDiscountStatus": "Used", "x_PurchaseOption": "savings_plan"}
    g5 = {"x_InstanceType": "g5.xlarge", "x_GpuCount": 1}
    rows = [
        dict(g5, **ri, x_UsageHours=30.0, ContractedCost=30.0, EffectiveCost=18.0,
             BilledCost=0.0, ListCost=30.0),
        dict(g5, **sp, x_UsageHours=10.0, ContractedCost=10.0, EffectiveCost=7.0,
             BilledCost=0.0, ListCost=10.0),
        dict(g5, x_PurchaseOption="on_demand", x_UsageHours=60.0, EffectiveCost=60.0),
        dict(g5, x_PurchaseOption="spot", x_UsageHours=100.0, EffectiveCost=35.0,
             ListCost=100.0, ContractedCost=100.0),  # not eligible
        dict(ri, CommitmentDiscountStatus="Unused", EffectiveCost=2.0, BilledCost=0.0,
             ListCost=0.0, ContractedCost=0.0),
        dict(sp, CommitmentDiscountStatus="Unused", EffectiveCost=3.0, BilledCost=0.0,
             ListCost=0.0, ContractedCost=0.0, x_PurchaseOption="savings_plan"),
        dict(ri, ChargeCategory="Purchase", CommitmentDiscountStatus=None, BilledCost=20.0,
             EffectiveCost=0.0, ChargePeriodEnd=dt.datetime(2026, 11, 1, tzinfo=UTC)),
    ]
    c = monthly_review(frame_from_rows(rows)).commitments
    assert c.total.eligible_hours == 100.0 and c.total.covered_hours == 40.0
    assert c.total.coverage_hours == pytest.approx(0.4)
    assert c.total.coverage_cost == pytest.approx(40.0 / 100.0)
    assert c.total.used_usd == 25.0 and c.total.unused_usd == 5.0
    assert c.total.utilisation == pytest.approx(25 / 30)
    # net savings: the covered usage's contracted cost minus the whole commitment, unused included
    assert c.total.savings_usd == pytest.approx((30 - 18 - 2) + (10 - 7 - 3))
    by = {line.commitment_type: line for line in c.by_type}
    assert by["Reserved Instance"].coverage_hours == pytest.approx(0.3)
    assert by["Savings Plan"].coverage_hours == pytest.approx(0.1)
    assert by["Reserved Instance"].utilisation == pytest.approx(18 / 20)
    assert by["Savings Plan"].utilisation == pytest.approx(7 / 10)
    assert by["Reserved Instance"].savings_usd == pytest.approx(30 - 18 - 2)
    assert by["Savings Plan"].savings_usd == pytest.approx(10 - 7 - 3)
    assert sum(line.covered_hours for line in c.by_type) == c.total.covered_hours


# ----------------------------------------------------------------------------- daily series

def _daily_rows(costs: dict[dt.date, float], services=("compute", "storage"),
                weights=(0.7, 0.3)) -> list[dict]:
    rows = []
    for day, cost in costs.items():
        start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
        for svc, w in zip(services, weights):
            rows.append({"ServiceName": svc, "EffectiveCost": cost * w, "ChargePeriodStart": start,
                             "ChargePeriodEnd": start + dt.timedelta(days=1)})
    return rows


def test_an_injected_anomaly_day_is_found_with_its_driver_and_a_normal_day_is_not():
    rng = np.random.default_rng(4)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(61)]
    costs = {d: 1000.0 + rng.normal(0, 20) for d in days}
    spike = dt.date(2026, 10, 17)
    costs[spike] += 400.0
    rows = _daily_rows(costs)
    rows.append({"ServiceName": "storage", "EffectiveCost": 0.0,
                     "ChargePeriodStart": dt.datetime(2026, 10, 17, 5, tzinfo=UTC)})
    rows.append({"ServiceName": "gpu-training", "EffectiveCost": 0.0})
    review = monthly_review(frame_from_rows(rows))
    found = {a.day: a for a in review.anomalies}
    assert list(found) == [spike]
    a = found[spike]
    assert a.robust_z >= ANOMALY_THRESHOLD and a.delta_usd > 300
    assert a.drivers[0].group == "compute"
    assert a.drivers[0].delta_usd == pytest.approx(0.7 * a.delta_usd, rel=0.15)


def test_a_monthly_charge_is_spread_over_the_days_and_raises_no_anomaly():
    days = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(31)]
    rows = _daily_rows({d: 100.0 for d in days}, services=("compute",), weights=(1.0,))
    rows.append({"ServiceName": "Tax", "ChargeCategory": "Tax", "EffectiveCost": 310.0,
                     "ChargePeriodEnd": dt.datetime(2026, 11, 1, tzinfo=UTC)})
    review = monthly_review(frame_from_rows(rows))
    assert review.anomalies == ()
    assert [p.effective_usd for p in review.daily] == pytest.approx([110.0] * 31)
    assert sum(p.effective_usd for p in review.daily) == pytest.approx(
        review.current.effective_usd)


# ----------------------------------------------------------------------------- forecast

def test_forecast_is_none_for_a_complete_month_and_set_for_one_in_progress(generated):
    assert monthly_review(generated.lazy()).forecast is None
    until = dt.datetime(2026, 10, 20, tzinfo=UTC)
    monthly = (pl.col("ChargePeriodEnd") - pl.col("ChargePeriodStart")) > pl.duration(days=1)
    partial = generated.filter((pl.col("ChargePeriodEnd") <= until) | monthly)
    review = monthly_review(partial.lazy(), today=dt.date(2026, 10, 21))
    f = review.forecast
    assert f is not None and f.days_observed == 19 and f.days_remaining == pytest.approx(12.0)
    assert f.low_usd < f.point_usd < f.high_usd and f.known_usd == review.current.effective_usd
    assert review.freshness.month_latest_charge_period_end == until
    assert not review.freshness.month_complete and review.freshness.lag_days == 1.0


@pytest.mark.slow
def test_forecast_interval_covers_the_true_total_of_a_stationary_month_near_nominal():
    n_seeds, hits = 150, 0
    days = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(31)]
    cutoff = dt.date(2026, 10, 18)
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        costs = dict(zip(days, 500.0 + rng.normal(0, 60, len(days))))
        true_total = sum(costs.values())
        seen = {d: c for d, c in costs.items() if d < cutoff}
        f = monthly_review(frame_from_rows(_daily_rows(seen))).forecast
        assert f.days_remaining == 14 and f.window_days == 14
        hits += f.low_usd <= true_total <= f.high_usd
    coverage = hits / n_seeds
    # binomial sd at p=0.9, n=150 is 0.0245: allow about 2.5 sd
    assert abs(coverage - FORECAST_LEVEL) < 0.065, coverage


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs, message", [
    ({"month": "2026-13"}, "is not YYYY-MM"),
    ({"month": "2025-01"}, "has no billing rows; the data covers 2026-10"),
    ({"group_by": "team"}, "is not service, account or tag:<key>"),
])
def test_user_errors_name_the_value_and_the_fix(kwargs, message):
    with pytest.raises(PlannerError, match=message):
        monthly_review(frame_from_rows([{"EffectiveCost": 1.0}]), **kwargs)


def test_mixed_currencies_are_refused_not_added():
    rows = [{"EffectiveCost": 1.0}, {"EffectiveCost": 1.0, "BillingCurrency": "EUR"}]
    with pytest.raises(PlannerError, match="mixes currencies EUR, USD"):
        monthly_review(frame_from_rows(rows))


def test_empty_frame_is_a_clear_error():
    with pytest.raises(PlannerError, match="no rows"):
        monthly_review(frame_from_rows([{"EffectiveCost": 1.0}]).head(0))


def test_review_values_are_finite(generated):
    doc = monthly_review(generated.lazy(), group_by="account").to_dict()

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            assert math.isfinite(v)
    walk(doc)


# ----------------------------------------------------------------------------- month to date

def test_month_to_date_compares_the_same_days_of_the_month_before():
    """Hand-computed: September at $100/day, October at $150/day with data through 10 October
    (and a monthly fee spanning October, which counts for the ten days only): 10 days of
    October against 1-10 September."""
    sept = {dt.date(2026, 9, 1) + dt.timedelta(days=i): 100.0 for i in range(30)}
    octo = {dt.date(2026, 10, 1) + dt.timedelta(days=i): 150.0 for i in range(10)}
    rows = _daily_rows({**sept, **octo}, services=("compute",), weights=(1.0,))
    rows.append({"ServiceName": "Tax", "ChargeCategory": "Tax", "EffectiveCost": 310.0,
                 "ChargePeriodEnd": dt.datetime(2026, 11, 1, tzinfo=UTC)})
    mtd = monthly_review(frame_from_rows(rows)).month_to_date
    assert (mtd.n_days, mtd.through, mtd.previous_through) == (
        10, dt.date(2026, 10, 10), dt.date(2026, 9, 10))
    assert mtd.current_usd == pytest.approx(10 * 150.0 + 10 * 10.0)  # the fee's 10 days
    assert mtd.previous_usd == pytest.approx(1000.0)
    assert mtd.change_usd == pytest.approx(600.0) and mtd.change_pct == pytest.approx(0.6)


def test_month_to_date_of_a_complete_month_caps_the_month_before_and_knows_no_previous():
    days = {dt.date(2026, 9, 1) + dt.timedelta(days=i): 100.0 for i in range(61)}
    review = monthly_review(frame_from_rows(_daily_rows(days, ("compute",), (1.0,))))
    mtd = review.month_to_date
    assert (mtd.n_days, mtd.previous_through) == (31, dt.date(2026, 10, 31) - dt.timedelta(31))
    assert mtd.current_usd == pytest.approx(review.current.effective_usd)
    assert mtd.previous_usd == pytest.approx(review.previous.effective_usd)
    first = monthly_review(frame_from_rows(_daily_rows(days, ("compute",), (1.0,))),
                           month="2026-09").month_to_date
    assert first.previous_usd is None and first.change_usd is None  # no August: unknown, not $0


def test_data_freshness_is_the_reviews_for_the_latest_month(generated):
    """The header's one-scan freshness equals the review's: the last single-day charge (not a
    monthly fee's period end), and whether the latest month is complete."""
    from costmodels.billing.review import data_freshness

    assert data_freshness(generated.lazy())[1].month_complete is True
    until = dt.datetime(2026, 10, 20, tzinfo=UTC)
    monthly = (pl.col("ChargePeriodEnd") - pl.col("ChargePeriodStart")) > pl.duration(days=1)
    partial = generated.filter((pl.col("ChargePeriodEnd") <= until) | monthly).lazy()
    month, fresh = data_freshness(partial, today=dt.date(2026, 10, 21))
    review = monthly_review(partial)
    assert month == review.month == "2026-10"
    assert fresh.latest_charge_period_end == review.freshness.latest_charge_period_end == until
    assert fresh.month_complete is False and fresh.lag_days == 1.0
    with pytest.raises(PlannerError, match="no rows"):
        data_freshness(partial.filter(pl.lit(False)))
