"""Billing readers: AWS CUR and FOCUS files normalised, reconciled, oddities reported."""

from __future__ import annotations

import csv
import gzip
import json
import random
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from costmodels.billing.errors import BillingFormatError
from costmodels.billing.readers import read_billing
from costmodels.billing.schema import NORMALISED_SCHEMA

CUR_SAMPLE = ("billing-samples/focus-converters/test-fixtures/"
              "aws-legacy-cur-sample-anonymous-aws-export-dataset.csv")
SPEC = "billing-samples/focus-spec-examples"


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for row in reader if any(row)]


def _write(path: Path, header: list[str], rows: list[list[str]], *, gz: bool = False) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _decimal_total(path: Path, column: str) -> Decimal:
    header, rows = _rows(path)
    i = header.index(column)
    return sum((Decimal(r[i]) for r in rows if r[i]), Decimal(0))


@pytest.fixture
def cur_sample(shared_data: Path) -> Path:
    return shared_data / CUR_SAMPLE


def test_cur_sample_totals_match_an_independent_sum(cur_sample: Path) -> None:
    result = read_billing([str(cur_sample)])
    frame = result.frame.collect()
    assert dict(frame.schema) == NORMALISED_SCHEMA
    expected = _decimal_total(cur_sample, "lineItem/UnblendedCost")
    assert abs(Decimal(repr(frame["BilledCost"].sum())) - expected) < Decimal("0.005")
    rec = result.reconciliation
    assert rec.balanced and rec.rows_in == 1281 == rec.rows_out and rec.rows_rejected == 0
    assert abs(rec.money_in - expected) < Decimal("0.000001")
    assert [p.billing_period_start.strftime("%Y-%m") for p in rec.periods] == ["2023-11"]
    assert result.formats[str(cur_sample)] == "aws-cur-csv"
    assert frame["BillingAccountId"].str.len_chars().unique().to_list() == [12]
    assert set(frame["ChargeCategory"].unique()) == {"Usage", "Tax"}
    assert frame.filter(pl.col("ChargeCategory") == "Tax")["PricingCategory"].null_count() == 12
    assert frame["ServiceCategory"].null_count() == 0
    assert result.latest_charge_period_end.isoformat().startswith("2023-12-01")


def test_row_order_and_file_splitting_do_not_change_totals(cur_sample: Path,
                                                           tmp_path: Path) -> None:
    header, rows = _rows(cur_sample)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    parts = [shuffled[:400], shuffled[400:900], shuffled[900:]]
    folder = tmp_path / "cur" / "20231101-20231201"
    folder.mkdir(parents=True)
    names = []
    for i, part in enumerate(parts, start=1):
        names.append(f"cur-{i}.csv.gz")
        _write(folder / names[-1], header, part, gz=True)
    _write(folder / "stale-old-assembly.csv.gz", header, rows[:10], gz=True)
    (folder / "cur-Manifest.json").write_text(json.dumps(
        {"reportKeys": [f"cur/20231101-20231201/{n}" for n in names]}))
    whole = read_billing([str(cur_sample)]).frame.collect()
    split = read_billing([str(tmp_path / "cur")])
    assert split.reconciliation.balanced and split.reconciliation.rows_in == len(rows)
    assert any(o.kind == "unlisted_file" for o in split.oddities)
    keys = ["ServiceName", "ChargeCategory"]
    a = whole.group_by(keys).agg(pl.col("BilledCost").sum().round(9), pl.len()).sort(keys)
    b = (split.frame.collect().group_by(keys).agg(pl.col("BilledCost").sum().round(9), pl.len())
         .sort(keys))
    assert a.equals(b)


def _spec_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [r for r in csv.DictReader(handle) if any(r.values())]


@pytest.mark.parametrize("name", [
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv",
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
    "commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
    "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv",
    "commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv",
    "commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv",
    "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv",
    "commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv",
    "commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv",
])
def test_focus_spec_commitment_examples_are_reproduced(shared_data: Path, name: str) -> None:
    path = shared_data / SPEC / name
    result = read_billing([str(path)])
    frame = result.frame.collect()
    expected = _spec_rows(path)
    assert result.reconciliation.balanced and frame.height == len(expected)
    for row, exp in zip(frame.iter_rows(named=True), expected, strict=True):
        assert row["BilledCost"] == pytest.approx(float(exp["BilledCost"]))
        assert row["EffectiveCost"] == pytest.approx(float(exp["EffectiveCost"]))
        assert row["ChargeCategory"] == exp["ChargeCategory"]
        status = exp.get("CommitmentDiscountStatus")
        assert row["CommitmentDiscountStatus"] == (None if status in (None, "null") else status)
    # FOCUS 1.2: per commitment, the purchase's BilledCost moves onto the usage's EffectiveCost.
    if "flexibility" in name:
        committed = frame.filter(pl.col("CommitmentDiscountId").is_not_null())
        purchase = committed.filter(pl.col("ChargeCategory") == "Purchase")["BilledCost"].sum()
        usage = committed.filter(pl.col("ChargeCategory") == "Usage")["EffectiveCost"].sum()
        assert usage == pytest.approx(purchase)
        assert committed.filter(pl.col("ChargeCategory") == "Purchase")["EffectiveCost"].sum() == 0


def test_spec_example_with_an_impossible_hour_rejects_only_that_row(shared_data: Path) -> None:
    path = shared_data / SPEC / "commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv"
    result = read_billing([str(path)])
    rec = result.reconciliation
    assert rec.balanced and rec.rows_in == 3 and rec.rows_out == 2 and rec.rows_rejected == 1
    (bad,) = rec.rejected
    assert (bad.row, bad.column, bad.value) == (3, "ChargePeriodEnd", "2023-02-01T30:00:00Z")
    assert rec.money_rejected == Decimal(1)
    kinds = {o.kind for o in result.oddities}
    assert "null_literal" not in kinds  # this file has no literal nulls
    with pytest.raises(BillingFormatError, match=r"row 3, column ChargePeriodEnd"):
        read_billing([str(path)], strict=True)


# --- generated CUR rows with GPUs, spot, savings plans and reserved instances ---------------

CUR_HEADER = [
    "identity/LineItemId", "bill/BillType", "bill/PayerAccountId", "bill/BillingEntity",
    "bill/InvoicingEntity", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType",
    "lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedRate",
    "lineItem/UnblendedCost", "pricing/term", "pricing/unit", "pricing/publicOnDemandRate",
    "pricing/publicOnDemandCost", "product/instanceType", "reservation/ReservationARN",
    "reservation/EffectiveCost", "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee", "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment", "resourceTags/user:team",
]
SP = "arn:aws:savingsplans::012345678901:savingsplan/sp-1"
RI = "arn:aws:ec2:us-east-1:012345678901:reserved-instances/ri-1"
P0 = "2026-10-01T00:00:00Z"
P1 = "2026-11-01T00:00:00Z"


def _cur_row(i: int, line_type: str, cost: str, **kw: str) -> list[str]:
    values = {
        "identity/LineItemId": f"id{i}", "bill/BillType": "Anniversary",
        "bill/PayerAccountId": "012345678901", "bill/BillingEntity": "AWS",
        "bill/InvoicingEntity": "Amazon Web Services, Inc.",
        "bill/BillingPeriodStartDate": P0, "bill/BillingPeriodEndDate": P1,
        "lineItem/UsageAccountId": "012345678902", "lineItem/LineItemType": line_type,
        "lineItem/UsageStartDate": "2026-10-05T00:00:00Z",
        "lineItem/UsageEndDate": "2026-10-05T01:00:00Z", "lineItem/ProductCode": "AmazonEC2",
        "lineItem/CurrencyCode": "USD", "lineItem/UnblendedCost": cost,
    }
    values.update(kw)
    return [values.get(h, "") for h in CUR_HEADER]


def _gpu_cur_rows() -> list[list[str]]:
    hrs = {"pricing/unit": "Hrs", "lineItem/UsageAmount": "10"}
    return [
        _cur_row(1, "Usage", "550.4", **hrs, **{"lineItem/UsageType": "BoxUsage:p5.48xlarge",
                 "pricing/term": "OnDemand", "product/instanceType": "p5.48xlarge",
                 "pricing/publicOnDemandRate": "55.04", "resourceTags/user:team": "ml"}),
        _cur_row(2, "Usage", "3.0", **hrs, **{"lineItem/UsageType": "SpotUsage:g5.xlarge",
                 "pricing/term": "Spot", "product/instanceType": "g5.xlarge",
                 "pricing/publicOnDemandRate": "1.006"}),
        _cur_row(3, "SavingsPlanCoveredUsage", "550.4", **hrs,
                 **{"lineItem/UsageType": "BoxUsage:p5.48xlarge",
                    "product/instanceType": "p5.48xlarge", "savingsPlan/SavingsPlanARN": SP,
                    "savingsPlan/SavingsPlanEffectiveCost": "412.8"}),
        _cur_row(4, "SavingsPlanNegation", "-550.4", **{"savingsPlan/SavingsPlanARN": SP,
                 "lineItem/UsageType": "BoxUsage:p5.48xlarge",
                 "product/instanceType": "p5.48xlarge"}),
        _cur_row(5, "SavingsPlanRecurringFee", "500.0", **{"savingsPlan/SavingsPlanARN": SP,
                 "savingsPlan/TotalCommitmentToDate": "500.0",
                 "savingsPlan/UsedCommitment": "412.8"}),
        _cur_row(6, "DiscountedUsage", "0.0", **hrs, **{"lineItem/UsageType": "BoxUsage:g5.xlarge",
                 "product/instanceType": "g5.xlarge", "reservation/ReservationARN": RI,
                 "reservation/EffectiveCost": "6.34", "pricing/publicOnDemandRate": "1.006"}),
        _cur_row(7, "RIFee", "7.0", **{"reservation/ReservationARN": RI,
                 "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "0.0",
                 "reservation/UnusedRecurringFee": "0.66"}),
        _cur_row(8, "Tax", "12.5"),
    ]


def test_aws_amortisation_and_gpu_extras(tmp_path: Path) -> None:
    path = _write(tmp_path / "gpu.csv", CUR_HEADER, _gpu_cur_rows())
    result = read_billing([str(path)])
    everything = result.frame.collect()
    unused = everything.filter(pl.col("CommitmentDiscountStatus") == "Unused").sort("x_SourceRow")
    frame = everything.filter(pl.col("CommitmentDiscountStatus").ne_missing("Unused")) \
        .sort("x_SourceRow")
    assert result.reconciliation.balanced
    eff = dict(zip(frame["x_SourceRow"], frame["EffectiveCost"], strict=True))
    # the commitment fees are purchases with no effective cost (FOCUS EffectiveCost-C-005-C)
    assert eff == pytest.approx({1: 550.4, 2: 3.0, 3: 412.8, 4: 0.0, 5: 0.0, 6: 6.34,
                                 7: 0.0, 8: 12.5})
    # their unused parts are Unused usage rows: SP fee 500 = 412.8 used + 87.2 unused; RI 0.66
    assert unused["x_SourceRow"].to_list() == [5, 7]
    assert unused["EffectiveCost"].to_list() == pytest.approx([87.2, 0.66])
    assert unused["BilledCost"].to_list() == [0.0, 0.0]
    assert unused["ChargeCategory"].to_list() == ["Usage", "Usage"]
    assert unused["CommitmentDiscountType"].to_list() == ["Savings Plan", "Reserved Instance"]
    assert everything["EffectiveCost"].sum() == pytest.approx(550.4 + 3 + 412.8 + 87.2 + 6.34
                                                              + 0.66 + 12.5)
    assert frame["BilledCost"].sum() == pytest.approx(550.4 + 3 + 0 + 7 + 12.5 + 500)
    assert frame["ChargeCategory"].to_list() == ["Usage"] * 4 + ["Purchase", "Usage",
                                                                  "Purchase", "Tax"]
    assert frame["PricingCategory"].to_list() == ["Standard", "Dynamic", "Committed",
                                                  "Committed", "Standard", "Committed",
                                                  "Standard", None]
    assert frame["x_PurchaseOption"].to_list() == ["on_demand", "spot", "savings_plan",
                                                   "savings_plan", "savings_plan", "reserved",
                                                   "reserved", None]
    assert frame["x_GpuModel"][0] == "NVIDIA H100" and frame["x_GpuCount"][0] == 8
    assert frame["x_UsageHours"].to_list()[:4] == [10.0, 10.0, 10.0, None]
    assert frame["CommitmentDiscountCategory"].to_list()[2:7] == ["Spend"] * 3 + ["Usage"] * 2
    assert frame["CommitmentDiscountStatus"].to_list()[2:7] == ["Used", "Used", None, "Used",
                                                                None]
    assert json.loads(frame["Tags"][0]) == {"team": "ml"}
    assert frame["BillingAccountId"][0] == "012345678901"
    assert frame["PricingUnit"][0] == "Hours"


def test_athena_parquet_names_give_the_same_frame(tmp_path: Path) -> None:
    from costmodels.billing._aws import snake

    rows = _gpu_cur_rows()
    legacy = read_billing([str(_write(tmp_path / "gpu.csv", CUR_HEADER, rows))]).frame.collect()
    columns = {snake(h) if not h.startswith("resourceTags/") else "resource_tags_user_team":
               [r[i] or None for r in rows] for i, h in enumerate(CUR_HEADER)}
    frame = pl.DataFrame(columns).with_columns(
        pl.col("line_item_unblended_cost").cast(pl.Float64),
        pl.col("line_item_usage_start_date").str.to_datetime(time_zone="UTC"))
    frame.write_parquet(tmp_path / "athena.parquet")
    athena = read_billing([str(tmp_path / "athena.parquet")])
    assert athena.formats[str(tmp_path / "athena.parquet")] == "aws-cur-athena"
    got = athena.frame.collect()
    for column in ("BilledCost", "EffectiveCost", "ChargeCategory", "x_PurchaseOption",
                   "x_GpuCount", "BillingAccountId", "Tags", "ChargePeriodStart"):
        assert got[column].to_list() == legacy[column].to_list(), column


# --- malformed files ----------------------------------------------------------------------

def test_truncated_gzip_names_the_file(cur_sample: Path, tmp_path: Path) -> None:
    header, rows = _rows(cur_sample)
    whole = _write(tmp_path / "full.csv.gz", header, rows, gz=True).read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BillingFormatError, match=r"cut\.csv\.gz is a truncated or corrupt gzip"):
        read_billing([str(cut)])


def test_missing_required_column_names_it(cur_sample: Path, tmp_path: Path) -> None:
    header, rows = _rows(cur_sample)
    i = header.index("lineItem/UnblendedCost")
    path = _write(tmp_path / "nocost.csv", header[:i] + header[i + 1:],
                  [r[:i] + r[i + 1:] for r in rows])
    with pytest.raises(BillingFormatError, match=r"nocost\.csv.*lineItem/UnblendedCost") as err:
        read_billing([str(path)])
    assert err.value.column == "lineItem/UnblendedCost" and err.value.row == 0


def test_string_in_cost_column_rejects_only_that_row(cur_sample: Path, tmp_path: Path) -> None:
    header, rows = _rows(cur_sample)
    i = header.index("lineItem/UnblendedCost")
    rows = [r[:] for r in rows]
    lost = Decimal(rows[41][i])
    rows[41][i] = "12,5 USD"
    path = _write(tmp_path / "bad.csv", header, rows)
    result = read_billing([str(path)])
    rec = result.reconciliation
    assert rec.balanced and rec.rows_out == 1280 and rec.rows_rejected == 1
    (bad,) = rec.rejected
    assert (bad.row, bad.column, bad.value) == (42, "lineItem/UnblendedCost", "12,5 USD")
    expected = _decimal_total(cur_sample, "lineItem/UnblendedCost") - lost
    assert abs(Decimal(repr(result.frame.collect()["BilledCost"].sum())) - expected) < Decimal(
        "0.005")
    with pytest.raises(BillingFormatError, match=r"bad\.csv: row 42, column lineItem/Unblended"):
        read_billing([str(path)], strict=True)


# --- oddities -----------------------------------------------------------------------------

def test_oddities_are_counted(tmp_path: Path) -> None:
    header = ["BillingAccountId", "ProviderName", "BilledCost", "EffectiveCost",
              "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
              "BillingPeriodEnd", "ServiceName", "Id", "ChargeFrequency"]
    rows = [
        ["12345678901", "AWS", "1.5", "1.5", "usage", "2026-10-01T00:00:00Z",
         "2026-10-01T01:00:00Z", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "EC2", "a",
         "Usage-based"],
        ["012345678901", "AWS", "2.5", "NULL", "Usage", "2026-10-01T02:00:00+02:00",
         "2026-10-01 03:00:00", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "EC2", "b",
         "NULL"],
    ]
    path = _write(tmp_path / "focus.csv", header, rows)
    result = read_billing([str(path)])
    by_kind = {(o.kind, o.column): o for o in result.oddities}
    assert by_kind[("wrong_case_enum", "ChargeCategory")].count == 1
    assert by_kind[("wrong_case_enum", "ChargeFrequency")].example == "Usage-based"
    assert by_kind[("short_account_id", "BillingAccountId")].count == 1
    assert by_kind[("null_literal", "EffectiveCost")].count == 1
    assert by_kind[("null_literal", "ChargeFrequency")].count == 1
    assert by_kind[("non_utc_offset", "ChargePeriodStart")].example == "2026-10-01T02:00:00+02:00"
    assert by_kind[("no_time_zone", "ChargePeriodEnd")].count == 1
    assert by_kind[("extra_columns", None)].example == "Id"
    frame = result.frame.collect()
    assert frame["BillingAccountId"].to_list() == ["012345678901"] * 2
    assert frame["ChargeCategory"].to_list() == ["Usage", "Usage"]
    assert frame["ChargeFrequency"].to_list() == ["Usage-Based", None]
    assert frame["ChargePeriodStart"][1].isoformat() == "2026-10-01T00:00:00+00:00"
    assert result.formats[str(path)] == "focus-1.0-preview"


def test_unknown_format_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BillingFormatError, match=r"x\.csv: unknown billing format"):
        read_billing([str(path)])


# --- S3 through a moto server on loopback -------------------------------------------------

def test_s3_prefix_through_moto_server(cur_sample: Path, tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    from tests.costmodels.fakes.aws_pricing import moto_server

    header, rows = _rows(cur_sample)
    part1 = _write(tmp_path / "p1.csv.gz", header, rows[:700], gz=True)
    part2 = _write(tmp_path / "p2.csv.gz", header, rows[700:], gz=True)
    with moto_server() as url:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket="bills")
        client.upload_file(str(part1), "bills", "cur/2023-11/p1.csv.gz")
        client.upload_file(str(part2), "bills", "cur/2023-11/p2.csv.gz")
        client.put_object(Bucket="bills", Key="cur/2023-11/notes.txt", Body=b"not data")
        result = read_billing(["s3://bills/cur/"], s3_client=client)
        assert result.sources == ["s3://bills/cur/2023-11/p1.csv.gz",
                                  "s3://bills/cur/2023-11/p2.csv.gz"]
        assert result.reconciliation.balanced and result.reconciliation.rows_out == 1281
        expected = _decimal_total(cur_sample, "lineItem/UnblendedCost")
        assert abs(result.reconciliation.money_in - expected) < Decimal("0.000001")
