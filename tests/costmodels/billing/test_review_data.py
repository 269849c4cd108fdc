"""Generated FOCUS-normalised billing frames for the review and rates tests (and the benchmark).

:func:`generate_focus` draws realistic, vectorised rows in
:data:`costmodels.billing.schema.NORMALISED_SCHEMA`: several services and accounts, team tags
(some untagged), hourly GPU and CPU instance usage on on-demand, spot, reserved and savings plan
prices with ``x_UsageHours``, unused commitment rows, monthly recurring commitment purchases and
taxes (charge periods spanning the month), and credits, over two or three months.
:func:`frame_from_rows` builds a tiny frame from hand-written rows.  The tests here check the
generator's own invariants.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl

from costmodels.billing.schema import NORMALISED_SCHEMA

UTC = dt.UTC

INSTANCES = [
    # instance type, GPU model, GPUs, on-demand $/h
    ("p5.48xlarge", "NVIDIA H100", 8, 98.32),
    ("p4d.24xlarge", "NVIDIA A100", 8, 32.77),
    ("g5.xlarge", "NVIDIA A10G", 1, 1.006),
    ("g6.12xlarge", "NVIDIA L4", 4, 4.602),
    ("m5.2xlarge", None, None, 0.384),
    ("c5.4xlarge", None, None, 0.68),
]
PURCHASE = ["on_demand", "spot", "reserved", "savings_plan"]
PURCHASE_P = [0.45, 0.2, 0.2, 0.15]
EFFECTIVE_FACTOR = {"on_demand": 1.0, "spot": 0.35, "reserved": 0.6, "savings_plan": 0.72}
COMMIT_TYPE = {"reserved": "Reserved Instance", "savings_plan": "Savings Plan"}
OTHER_SERVICES = [
    # ServiceName, ServiceCategory, mean $ per row
    ("Amazon Simple Storage Service", "Storage", 3.0),
    ("Amazon SageMaker", "AI and Machine Learning", 12.0),
    ("AWS Data Transfer", "Networking", 2.0),
    ("Amazon CloudWatch", "Management and Governance", 0.5),
]
EC2 = ("Amazon Elastic Compute Cloud", "Compute")
ACCOUNTS = [("000123456789", "ml-prod"), ("004455667788", "ml-dev"),
            ("098765432109", "data-platform"), ("012312312312", "research")]
TAGS = ['{"team": "search", "env": "prod"}', '{"team": "ads", "env": "prod"}',
        '{"team": "research", "env": "dev"}', '{"team": "ads"}', '{"env": "dev"}', None]
TAGS_P = [0.25, 0.25, 0.2, 0.1, 0.05, 0.15]
KINDS = ["compute", "other", "unused", "credit"]
KINDS_P = [0.6, 0.36, 0.03, 0.01]


def month_start(month: str) -> dt.datetime:
    year, mon = (int(p) for p in month.split("-"))
    return dt.datetime(year, mon, 1, tzinfo=UTC)


def next_month(start: dt.datetime) -> dt.datetime:
    return dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def _pick(values: list[Any], idx: np.ndarray, dtype: pl.DataType) -> pl.Series:
    return pl.Series(values, dtype=dtype).gather(idx)


def generate_focus(n_rows: int, months: tuple[str, ...] = ("2026-08", "2026-09", "2026-10"),
                   *, seed: int = 0, until: dt.datetime | None = None,
                   source_file: str = "generated.parquet", row_offset: int = 0) -> pl.DataFrame:
    """Return ``n_rows`` usage rows plus monthly purchases and taxes, in the normalised schema.

    Rows fall uniformly on the hours of ``months`` (before ``until`` when given: a month in
    progress).  Each month also gets one recurring purchase row per commitment and one tax row
    per account, whose charge periods span the month.
    """
    rng = np.random.default_rng(seed)
    starts = [month_start(m) for m in months]
    ends = [min(next_month(s), until) if until else next_month(s) for s in starts]
    hours = np.array([max(int((e - s).total_seconds() // 3600), 0) for s, e in zip(starts, ends)])
    m_idx = rng.choice(len(months), size=n_rows, p=hours / hours.sum())
    hour = (rng.random(n_rows) * hours[m_idx]).astype(np.int64)
    base_us = np.array([int(s.timestamp() * 1e6) for s in starts], dtype=np.int64)
    start_us = base_us[m_idx] + hour * 3_600_000_000
    kind = rng.choice(len(KINDS), size=n_rows, p=KINDS_P)
    inst = rng.choice(len(INSTANCES), size=n_rows, p=[0.1, 0.1, 0.25, 0.15, 0.25, 0.15])
    purch = rng.choice(len(PURCHASE), size=n_rows, p=PURCHASE_P)
    other = rng.integers(0, len(OTHER_SERVICES), n_rows)
    acct = rng.integers(0, len(ACCOUNTS), n_rows)
    tag = rng.choice(len(TAGS), size=n_rows, p=TAGS_P)
    usage_h = np.where(rng.random(n_rows) < 0.8, 1.0, np.round(rng.random(n_rows), 3) + 0.001)

    is_c, is_o = kind == 0, kind == 1
    is_u, is_cr = kind == 2, kind == 3
    od = np.array([i[3] for i in INSTANCES])[inst]
    factor = np.array([EFFECTIVE_FACTOR[p] for p in PURCHASE])[purch]
    committed = (purch >= 2) & is_c
    unused_p = np.where(rng.random(n_rows) < 0.5, 2, 3)  # reserved or savings plan
    purch = np.where(is_u, unused_p, purch)
    list_cost = np.where(is_c, od * usage_h,
                         np.where(is_o, rng.exponential(1.0, n_rows)
                                  * np.array([s[2] for s in OTHER_SERVICES])[other], 0.0))
    effective = np.where(is_c, list_cost * factor, list_cost)
    effective = np.where(is_u, np.round(rng.exponential(5.0, n_rows), 4), effective)
    effective = np.where(is_cr, -np.round(rng.exponential(3.0, n_rows), 4), effective)
    billed = np.where(committed | is_u, 0.0, effective)
    contracted = list_cost.copy()
    list_cost = np.where(is_cr, effective, list_cost)
    contracted = np.where(is_cr, effective, contracted)

    gpu_count = np.array([i[2] if i[2] is not None else -1 for i in INSTANCES])[inst]
    compute_like = is_c | (is_u & (purch == 2))
    svc_names = [s[0] for s in OTHER_SERVICES] + [EC2[0]]
    svc_cats = [s[1] for s in OTHER_SERVICES] + [EC2[1]]
    svc = np.where(is_c | is_u, len(OTHER_SERVICES), other)
    svc = np.where(is_cr, len(OTHER_SERVICES), svc)
    ctype_idx = np.where(committed | is_u, np.where(purch == 2, 0, 1), 2)
    cid_idx = np.where(committed | is_u, np.where(purch == 2, 0, 1), 2)
    status_idx = np.where(committed, 0, np.where(is_u, 1, 2))
    cat_idx = np.where(is_cr, 1, 0)
    pcat_idx = np.where(is_cr, 3, np.where(committed | is_u, 2,
                                           np.where(is_c & (purch == 1), 1, 0)))
    pl.lit(None)

    n = n_rows
    month_bp = pl.Series([int(s.timestamp() * 1e6) for s in starts], dtype=pl.Int64).gather(m_idx)
    month_bpe = pl.Series([int(next_month(s).timestamp() * 1e6) for s in starts],
                          dtype=pl.Int64).gather(m_idx)
    ts = pl.Datetime("us", "UTC")
    cols: dict[str, Any] = {
        "BilledCost": billed,
        "EffectiveCost": effective,
        "ListCost": list_cost,
        "ContractedCost": contracted,
        "BillingPeriodStart": month_bp.cast(ts),
        "BillingPeriodEnd": month_bpe.cast(ts),
        "ChargePeriodStart": pl.Series(start_us).cast(ts),
        "ChargePeriodEnd": pl.Series(start_us + 3_600_000_000).cast(ts),
        "ChargeCategory": _pick(["Usage", "Credit"], cat_idx, pl.String()),
        "ChargeFrequency": _pick(["Usage-Based", "Usage-Based"], cat_idx, pl.String()),
        "PricingCategory": _pick(["Standard", "Dynamic", "Committed", None], pcat_idx,
                                 pl.String()),
        "ServiceName": _pick(svc_names, svc, pl.String()),
        "ServiceCategory": _pick(svc_cats, svc, pl.String()),
        "SubAccountId": _pick([a[0] for a in ACCOUNTS], acct, pl.String()),
        "SubAccountName": _pick([a[1] for a in ACCOUNTS], acct, pl.String()),
        "Tags": _pick(TAGS, tag, pl.String()),
        "CommitmentDiscountType": _pick(["Reserved Instance", "Savings Plan", None], ctype_idx,
                                        pl.String()),
        "CommitmentDiscountId": _pick(["arn:aws:ec2:ri-0001", "arn:aws:savingsplans:sp-0001",
                                       None], cid_idx, pl.String()),
        "CommitmentDiscountCategory": _pick(["Usage", "Spend", None], ctype_idx, pl.String()),
        "CommitmentDiscountStatus": _pick(["Used", "Unused", None], status_idx, pl.String()),
        "x_InstanceType": pl.Series([i[0] for i in INSTANCES]).gather(inst).zip_with(
            pl.Series(compute_like), pl.Series([None] * n, dtype=pl.String())),
        "x_GpuModel": pl.Series([i[1] for i in INSTANCES], dtype=pl.String()).gather(inst)
        .zip_with(pl.Series(compute_like), pl.Series([None] * n, dtype=pl.String())),
        "x_GpuCount": pl.Series(np.where(compute_like & (gpu_count > 0), gpu_count, 0))
        .cast(pl.Int64).replace(0, None),
        "x_PurchaseOption": _pick(PURCHASE + [None], np.where(is_c | is_u, purch, 4), pl.String()),
        "x_UsageHours": pl.Series(np.where(is_c, usage_h, np.nan)).fill_nan(None),
        "x_SourceRow": np.arange(row_offset + 1, row_offset + n + 1, dtype=np.int64),
    }
    df = pl.DataFrame(cols)
    df = df.with_columns(
        pl.lit("USD").alias("BillingCurrency"),
        pl.lit("AWS").alias("ProviderName"), pl.lit("AWS").alias("PublisherName"),
        pl.lit("AWS").alias("InvoiceIssuerName"), pl.lit("aws").alias("x_Provider"),
        pl.lit("111122223333").alias("BillingAccountId"),
        pl.lit("us-east-1").alias("RegionId"), pl.lit(source_file).alias("x_SourceFile"),
        pl.when(pl.col("x_UsageHours").is_not_null()).then(pl.col("x_UsageHours"))
        .alias("ConsumedQuantity"),
        pl.when(pl.col("x_UsageHours").is_not_null()).then(pl.lit("Hours"))
        .alias("ConsumedUnit"),
    )
    extra = _monthly_rows(starts, ends, source_file, row_offset + n) if row_offset == 0 else None
    out = conform(df)
    return pl.concat([out, extra]) if extra is not None else out


def _monthly_rows(starts: list[dt.datetime], ends: list[dt.datetime], source_file: str,
                  row_offset: int) -> pl.DataFrame:
    """One recurring RI fee per month (billed, EffectiveCost 0) and one tax row per account."""
    rows = []
    for s, e in zip(starts, ends):
        if e <= s:
            continue
        end = next_month(s)
        base = {"BillingPeriodStart": s, "BillingPeriodEnd": end, "ChargePeriodStart": s,
                    "ChargePeriodEnd": end, "BillingCurrency": "USD", "x_SourceFile": source_file,
                    "RegionId": "us-east-1", "x_Provider": "aws"}
        rows.append(dict(base, ChargeCategory="Purchase", ChargeFrequency="Recurring",
                         BilledCost=1500.0, EffectiveCost=0.0, ListCost=1500.0,
                         ContractedCost=1500.0, ServiceName=EC2[0], ServiceCategory=EC2[1],
                         SubAccountId=ACCOUNTS[0][0], SubAccountName=ACCOUNTS[0][1],
                         CommitmentDiscountId="arn:aws:ec2:ri-0001",
                         CommitmentDiscountType="Reserved Instance",
                         CommitmentDiscountCategory="Usage", x_PurchaseOption="reserved",
                         PricingCategory="Standard"))
        for acct_id, name in ACCOUNTS:
            rows.append(dict(base, ChargeCategory="Tax", ChargeFrequency="Recurring",
                             BilledCost=40.0, EffectiveCost=40.0, ListCost=40.0,
                             ContractedCost=40.0, ServiceName="Tax", ServiceCategory="Other",
                             SubAccountId=acct_id, SubAccountName=name))
    for i, r in enumerate(rows):
        r["x_SourceRow"] = row_offset + i + 1
    return frame_from_rows(rows).collect() if rows else None


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing schema columns as nulls and order and cast to the normalised schema."""
    missing = [pl.lit(1 if c == "x_SourceRows" else None, dtype=t).alias(c)
               for c, t in NORMALISED_SCHEMA.items() if c not in df.columns]
    return df.with_columns(missing).select(
        pl.col(c).cast(t) for c, t in NORMALISED_SCHEMA.items())


def frame_from_rows(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    """Return hand-written rows as a normalised lazy frame; absent columns are null.

    Defaults: a one-hour Usage charge on 2026-10-01, October's billing period, USD, the cost
    columns equal to ``EffectiveCost`` when not given.
    """
    filled = []
    for r in rows:
        r = dict(r)
        r.setdefault("ChargeCategory", "Usage")
        r.setdefault("BillingCurrency", "USD")
        cps = r.setdefault("ChargePeriodStart", dt.datetime(2026, 10, 1, tzinfo=UTC))
        r.setdefault("ChargePeriodEnd", cps + dt.timedelta(hours=1))
        bps = r.setdefault("BillingPeriodStart", dt.datetime(cps.year, cps.month, 1, tzinfo=UTC))
        r.setdefault("BillingPeriodEnd", next_month(bps))
        r.setdefault("EffectiveCost", 0.0)
        for col in ("BilledCost", "ListCost", "ContractedCost"):
            r.setdefault(col, r["EffectiveCost"])
        r.setdefault("ServiceName", "Amazon Elastic Compute Cloud")
        r.setdefault("x_SourceRows", 1)
        unknown = set(r) - set(NORMALISED_SCHEMA)
        assert not unknown, unknown
        filled.append(r)
    data = {c: [r.get(c) for r in filled] for c in NORMALISED_SCHEMA}
    return pl.DataFrame(data, schema=NORMALISED_SCHEMA).lazy()


# ----------------------------------------------------------------------------- generator checks

def test_generated_frame_has_the_normalised_schema_and_focus_invariants():
    df = generate_focus(5_000, seed=3)
    assert df.schema == pl.Schema(NORMALISED_SCHEMA)
    assert df["BillingCurrency"].unique().to_list() == ["USD"]
    assert df.filter(pl.col("ChargePeriodStart") < pl.col("BillingPeriodStart")).height == 0
    assert df.filter(pl.col("ChargePeriodEnd") > pl.col("BillingPeriodEnd")).height == 0
    usage = df.filter(pl.col("x_UsageHours").is_not_null())
    assert usage.filter(pl.col("x_InstanceType").is_null()).height == 0
    assert set(usage["x_PurchaseOption"].unique()) == set(PURCHASE)
    unused = df.filter(pl.col("CommitmentDiscountStatus") == "Unused")
    assert unused.height > 0 and unused["BilledCost"].sum() == 0
    assert unused["x_UsageHours"].null_count() == unused.height
    # tags parse as JSON objects
    assert all(json.loads(t) for t in df["Tags"].drop_nulls().unique())
    purchases = df.filter(pl.col("ChargeCategory") == "Purchase")
    assert purchases.height == 3 and purchases["EffectiveCost"].sum() == 0


def test_generation_until_stops_the_month_in_progress():
    until = dt.datetime(2026, 10, 18, tzinfo=UTC)
    df = generate_focus(2_000, seed=1, until=until)
    usage = df.filter(pl.col("ChargeCategory") == "Usage")
    assert usage["ChargePeriodEnd"].max() <= until
