"""Compact reads (:mod:`costmodels.billing._compact`) give the row-by-row read's figures.

The review, the rates and scenario pricing read billing exports compactly: the rows that
normalising cannot tell apart are summed first.  The truth here is the row-by-row read of the
same file (itself checked against raw-row sums elsewhere): the reconciliation (rows and money,
exactly), the oddities, every figure of the monthly review and every effective rate must be the
same, on a koku-nise CUR with reserved instances and Savings Plans, on the benchmark's generated
CUR, and on files built to break a careless grouping (a rejected row, NaN, mixed signs in one
group, a charge across midnight, a literal NULL resource id).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import math
from pathlib import Path

import polars as pl
import pytest

from costmodels.billing.rates import effective_rates
from costmodels.billing.readers import read_billing
from costmodels.billing.review import monthly_review

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "aws_commitments_cur.csv.gz"
BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_billing_cli.py"


def _nise_parquet(tmp_path: Path) -> Path:
    """The koku-nise CUR as typed Parquet (legacy names; amounts as numbers, as Athena has)."""
    frame = pl.read_csv(FIXTURE, infer_schema_length=None, try_parse_dates=True)
    text = pl.col("savingsPlan/SavingsPlanEffectiveCost")
    frame = frame.with_columns(pl.when(text.is_in(["None", ""])).then(None).otherwise(text)
                               .cast(pl.Float64).alias("savingsPlan/SavingsPlanEffectiveCost"))
    path = tmp_path / "nise.parquet"
    frame.write_parquet(path)
    return path


def _generated(tmp_path: Path, rows: int = 200_000) -> Path:
    spec = importlib.util.spec_from_file_location("bench_billing_cli", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path / "cur"
    folder.mkdir()
    module.generate(folder, rows, seed=11)
    return folder


def _same(a, b, path: str = "") -> None:
    """Equal, floats to 1e-9 relative (sums in another order)."""
    if dataclasses.is_dataclass(a):
        a, b = dataclasses.asdict(a), dataclasses.asdict(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _oddities(read) -> list[tuple]:
    return sorted((o.kind, o.source_file, o.column, o.count) for o in read.oddities)


def _both(paths: list[str]):
    rows, compact = read_billing(paths), read_billing(paths, compact=True)
    assert compact.reconciliation.periods == rows.reconciliation.periods
    assert compact.reconciliation.rejected == rows.reconciliation.rejected
    assert _oddities(compact) == _oddities(rows)
    return rows, compact


def _compacted(read) -> int:
    """How many rows the compact frame has (fewer than the source rows when it compacted)."""
    return read.frame.select(pl.len()).collect().item()


def test_fee_lines_stay_rows_so_a_fully_used_hour_has_no_unused_row(tmp_path):
    path = _nise_parquet(tmp_path)
    frame = pl.read_parquet(path)
    fee = pl.col("lineItem/LineItemType") == "SavingsPlanRecurringFee"
    even = pl.col("lineItem/UsageStartDate").dt.hour() % 2 == 0
    frame = frame.with_columns(
        pl.when(fee & even).then(pl.col("savingsPlan/TotalCommitmentToDate"))
        .otherwise(pl.col("savingsPlan/UsedCommitment")).alias("savingsPlan/UsedCommitment"))
    frame.write_parquet(path)
    rows, compact = _both([str(path)])
    unused = pl.col("CommitmentDiscountStatus") == "Unused"
    n_unused = rows.frame.filter(unused).select(pl.len()).collect().item()
    assert n_unused == 1 + 24  # the RI and the odd hours' Savings Plan fees
    assert compact.frame.filter(unused).select(pl.col("x_SourceRows").sum()).collect().item() \
        == n_unused
    _same(monthly_review(compact.frame), monthly_review(rows.frame))


@pytest.mark.parametrize("group_by", ["service", "account", "tag:team"])
def test_the_nise_cur_reviews_the_same_compact_and_row_by_row(tmp_path, group_by):
    path = str(_nise_parquet(tmp_path))
    rows, compact = _both([path])
    assert _compacted(compact) < _compacted(rows) == 305 + 49  # + the unused RI and SP rows
    n_source = compact.frame.select(pl.col("x_SourceRows").sum()).collect().item()
    assert n_source == _compacted(rows)
    _same(monthly_review(compact.frame, group_by=group_by),
          monthly_review(rows.frame, group_by=group_by))
    _same(effective_rates(compact.frame).to_dicts(), effective_rates(rows.frame).to_dicts())


def test_the_generated_cur_reviews_the_same_and_compacts_by_day(tmp_path):
    folder = _generated(tmp_path)
    rows, compact = _both([str(folder)])
    assert _compacted(compact) * 4 < _compacted(rows)
    for month in ("2026-09", "2026-10"):
        _same(monthly_review(compact.frame, month=month),
              monthly_review(rows.frame, month=month))
        _same(effective_rates(compact.frame, month=month).to_dicts(),
              effective_rates(rows.frame, month=month).to_dicts())
    grouped = compact.frame.filter(pl.col("x_SourceRows") > 1).collect()
    assert grouped["x_SourceRow"].null_count() == grouped.height
    assert grouped["ResourceId"].null_count() == grouped.height


def _tricky(tmp_path: Path, **changes) -> Path:
    """A small Athena-shaped CUR: 24 hourly rows of one instance type on two days, one team."""
    start = dt.datetime(2026, 10, 1, 12)
    n = 24
    frame = pl.DataFrame({
        "identity_line_item_id": [f"li-{i}" for i in range(n)],
        "bill_billing_period_start_date": dt.datetime(2026, 10, 1),
        "bill_billing_period_end_date": dt.datetime(2026, 11, 1),
        "bill_payer_account_id": "111122223333",
        "line_item_usage_account_id": "111122223333",
        "line_item_line_item_type": "Usage",
        "line_item_usage_start_date": [start + dt.timedelta(hours=i) for i in range(n)],
        "line_item_usage_end_date": [start + dt.timedelta(hours=i + 1) for i in range(n)],
        "line_item_product_code": "AmazonEC2",
        "line_item_usage_type": "USE1-BoxUsage:g5.xlarge",
        "line_item_usage_amount": [1.0] * n,
        "line_item_currency_code": "USD",
        "line_item_unblended_rate": 1.006,
        "line_item_unblended_cost": [1.006] * n,
        "line_item_resource_id": [f"i-{i % 3}" for i in range(n)],
        "product_instance_type": "g5.xlarge",
        "product_region": "us-east-1",
        "pricing_unit": "Hrs",
        "pricing_term": "OnDemand",
        "pricing_public_on_demand_cost": [1.006] * n,
        "resource_tags_user_team": "ml",
    })
    for column, (row, value) in changes.items():
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value))
            .otherwise(pl.col(column)).alias(column))
    path = tmp_path / "tricky.parquet"
    frame.write_parquet(path)
    return path


def test_the_small_file_compacts_and_keeps_its_days(tmp_path):
    rows, compact = _both([str(_tricky(tmp_path))])
    assert _compacted(compact) == 2  # 12:00-24:00 on the 1st, 00:00-12:00 on the 2nd
    review = monthly_review(compact.frame)
    _same(review, monthly_review(rows.frame))
    assert [p.effective_usd for p in review.daily[:2]] == pytest.approx([12 * 1.006] * 2)


@pytest.mark.parametrize(("changes", "why"), [
    ({"line_item_usage_amount": (5, -1.0)}, "a negative amount groups apart (hours > 0 rules)"),
    ({"pricing_public_on_demand_cost": (7, None)}, "a missing list cost falls back per row"),
    ({"line_item_usage_amount": (3, float("nan"))}, "NaN is not a number, as row by row"),
    ({"line_item_resource_id": (4, "NULL")}, "a literal NULL in a dropped column is counted"),
    ({"line_item_usage_end_date": (11, dt.datetime(2026, 10, 2, 13))},
     "a charge across midnight keeps its own times (a day's group must not span > 1 day)"),
])
def test_a_group_cannot_hide_what_a_row_by_row_read_sees(tmp_path, changes, why):
    rows, compact = _both([str(_tricky(tmp_path, **changes))])
    _same(monthly_review(compact.frame), monthly_review(rows.frame), why)
    _same(effective_rates(compact.frame).to_dicts(), effective_rates(rows.frame).to_dicts(), why)


def test_a_rejected_row_is_listed_by_its_number_as_row_by_row(tmp_path):
    path = _tricky(tmp_path, line_item_unblended_cost=(6, None))
    _, compact = _both([str(path)])
    assert [(r.row, r.reason) for r in compact.reconciliation.rejected] == [
        (7, "cost is missing")]
    assert compact.frame.select(pl.col("x_SourceRows").max()).collect().item() == 1


def test_csv_is_read_row_by_row(tmp_path):
    path = tmp_path / "tricky.csv"
    pl.read_parquet(_tricky(tmp_path)).write_csv(path)
    rows, compact = _both([str(path)])
    assert _compacted(compact) == _compacted(rows) == 24
