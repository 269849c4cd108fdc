"""AWS commitments told truly, on a koku-nise CUR (``data/aws_commitments_cur.csv.gz``, see
``data/README.md``): 48 hours with an expiring reserved instance, an expiring Savings Plan,
on-demand usage and data transfer.

The truth is computed here from the raw CSV with the standard library, by the AWS CUR rules
(and cross-checked by DuckDB SQL when the fixture was made; the figures are pinned below):

* reserved instance: used = Σ ``reservation/EffectiveCost`` of ``DiscountedUsage``; unused =
  Σ ``reservation/UnusedAmortizedUpfrontFeeForBillingPeriod + reservation/UnusedRecurringFee``
  of ``RIFee``;
* Savings Plan: used = Σ ``savingsPlan/SavingsPlanEffectiveCost`` of
  ``SavingsPlanCoveredUsage``; unused = Σ ``savingsPlan/TotalCommitmentToDate -
  savingsPlan/UsedCommitment`` of ``SavingsPlanRecurringFee``;
* utilisation = used / (used + unused); net savings = Σ ``pricing/publicOnDemandCost`` of the
  covered usage - used - unused; coverage = covered instance-hours / all ``BoxUsage`` hours.

Everything is driven through the CLI a user runs (``planner billing review|rates|convert``).
"""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from planner.cli.main import app

FIXTURE = Path(__file__).parent / "data" / "aws_commitments_cur.csv.gz"
CENT = 0.005
runner = CliRunner()

PINNED = {  # DuckDB over the fixture (data/README.md): used, unused, savings, covered hours
    "Reserved Instance": (Decimal("3.092"), Decimal("0.6184"), Decimal("1.6096"), 40),
    "Savings Plan": (Decimal("9.744"), Decimal("7.056"), Decimal("1.632"), 60),
}
ELIGIBLE_HOURS = 148
DATA_TRANSFER_ROWS, DATA_TRANSFER_COST = 48, Decimal(54)


# ----------------------------------------------------------------------------- helpers

def _rows(path: Path = FIXTURE) -> tuple[list[str], list[dict[str, str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]],
           rename: dict[str, str] | None = None) -> str:
    rename = rename or {}
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([rename.get(h, h) for h in header])
        writer.writerows([[row[h] for h in header] for row in rows])
    return str(path)


def _dec(text: str) -> Decimal:
    return Decimal(text) if text.strip() else Decimal(0)


def _truth(rows: list[dict[str, str]]) -> dict[str, dict[str, Decimal]]:
    """Used, unused, utilisation, net savings and covered hours per commitment type."""
    acc = {kind: {"used": Decimal(0), "unused": Decimal(0), "on_demand": Decimal(0),
                  "hours": Decimal(0)} for kind in PINNED}
    for row in rows:
        kind = row["lineItem/LineItemType"]
        if kind == "DiscountedUsage":
            ri = acc["Reserved Instance"]
            ri["used"] += _dec(row["reservation/EffectiveCost"])
            ri["on_demand"] += _dec(row["pricing/publicOnDemandCost"])
            ri["hours"] += _dec(row["lineItem/UsageAmount"])
        elif kind == "RIFee":
            acc["Reserved Instance"]["unused"] += (
                _dec(row["reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"])
                + _dec(row["reservation/UnusedRecurringFee"]))
        elif kind == "SavingsPlanCoveredUsage":
            sp = acc["Savings Plan"]
            sp["used"] += _dec(row["savingsPlan/SavingsPlanEffectiveCost"])
            sp["on_demand"] += _dec(row["pricing/publicOnDemandCost"])
            sp["hours"] += _dec(row["lineItem/UsageAmount"])
        elif kind == "SavingsPlanRecurringFee":
            acc["Savings Plan"]["unused"] += (_dec(row["savingsPlan/TotalCommitmentToDate"])
                                              - _dec(row["savingsPlan/UsedCommitment"]))
    for line in acc.values():
        line["utilisation"] = line["used"] / (line["used"] + line["unused"])
        line["savings"] = line["on_demand"] - line["used"] - line["unused"]
    return acc


def _amortised_total(rows: list[dict[str, str]]) -> Decimal:
    """Σ amortised cost of the file by the CUR rules (AWS's "amortized cost" view)."""
    total = Decimal(0)
    for row in rows:
        kind = row["lineItem/LineItemType"]
        if kind == "DiscountedUsage":
            total += _dec(row["reservation/EffectiveCost"])
        elif kind == "SavingsPlanCoveredUsage":
            total += _dec(row["savingsPlan/SavingsPlanEffectiveCost"])
        elif kind == "RIFee":
            total += (_dec(row["reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"])
                      + _dec(row["reservation/UnusedRecurringFee"]))
        elif kind == "SavingsPlanRecurringFee":
            total += (_dec(row["savingsPlan/TotalCommitmentToDate"])
                      - _dec(row["savingsPlan/UsedCommitment"]))
        elif kind not in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
            total += _dec(row["lineItem/UnblendedCost"])
    return total


def _cli(*args: str):
    return runner.invoke(app, ["billing", *args])


def _review(*paths: str) -> dict:
    result = _cli("review", *paths, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _by_type(doc: dict) -> dict[str, dict]:
    return {line["commitment_type"]: line for line in doc["commitments"]["by_type"]}


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# ----------------------------------------------------------------------------- the truth

def test_the_independent_truth_is_the_pinned_duckdb_figures():
    _, rows = _rows()
    truth = _truth(rows)
    for kind, (used, unused, savings, hours) in PINNED.items():
        assert (truth[kind]["used"], truth[kind]["unused"], truth[kind]["savings"],
                truth[kind]["hours"]) == (used, unused, savings, hours)
    assert truth["Reserved Instance"]["utilisation"] == Decimal("3.092") / Decimal("3.7104")
    assert truth["Savings Plan"]["utilisation"] == Decimal("0.58")


def test_review_commitments_equal_the_truth_to_the_cent():
    _, rows = _rows()
    truth = _truth(rows)
    by = _by_type(_review(str(FIXTURE)))
    assert set(by) == set(PINNED)
    for kind, want in truth.items():
        got = by[kind]
        assert _cents(got["used_usd"]) == _cents(want["used"]), kind
        assert _cents(got["unused_usd"]) == _cents(want["unused"]), kind
        assert _cents(got["savings_usd"]) == _cents(want["savings"]), kind
        assert got["utilisation"] == pytest.approx(float(want["utilisation"]), abs=1e-9), kind
        assert got["covered_hours"] == pytest.approx(float(want["hours"]))
        assert got["coverage_hours"] == pytest.approx(float(want["hours"]) / ELIGIBLE_HOURS)


def test_no_money_lost_billed_and_amortised_totals_equal_the_raw_file():
    _, rows = _rows()
    doc = _review(str(FIXTURE))
    billed = sum(_dec(r["lineItem/UnblendedCost"]) for r in rows)
    assert _cents(doc["current"]["billed_usd"]) == _cents(billed)
    assert _cents(doc["current"]["effective_usd"]) == _cents(_amortised_total(rows))
    assert doc["notes"][0].startswith(f"reconciliation: rows {len(rows)} in = {len(rows)} out + "
                                      "0 rejected")
    total = doc["commitments"]["total"]
    truth = _truth(rows)
    assert _cents(total["unused_usd"]) == _cents(sum(t["unused"] for t in truth.values()))


def test_converted_focus_has_unused_rows_and_purchases_without_effective_cost(tmp_path):
    out = tmp_path / "focus.parquet"
    result = _cli("convert", str(FIXTURE), "--output", str(out))
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    purchases = frame.filter(pl.col("ChargeCategory") == "Purchase")
    assert purchases.height == 49 and purchases["EffectiveCost"].abs().max() == 0  # C-005
    unused = frame.filter(pl.col("CommitmentDiscountStatus") == "Unused")
    assert set(unused["ChargeCategory"]) == {"Usage"}
    assert unused["BilledCost"].abs().max() == 0
    assert unused["CommitmentDiscountId"].null_count() == 0
    assert (unused["ResourceId"] == unused["CommitmentDiscountId"]).all()
    _, rows = _rows()
    truth = _truth(rows)
    for kind in PINNED:
        part = unused.filter(pl.col("CommitmentDiscountType") == kind)
        assert _cents(part["EffectiveCost"].sum()) == _cents(truth[kind]["unused"]), kind
    ri = unused.filter(pl.col("CommitmentDiscountType") == "Reserved Instance").row(0, named=True)
    assert (ri["PricingQuantity"], ri["PricingUnit"], ri["x_InstanceType"]) == (8.0, "Hours",
                                                                                 "r4.large")
    # the Savings Plan has no upfront fee: its usage rows' effective cost is what was billed
    sp = pl.col("CommitmentDiscountType") == "Savings Plan"
    sp_usage = frame.filter(sp & (pl.col("ChargeCategory") == "Usage"))["EffectiveCost"].sum()
    sp_bought = frame.filter(sp & (pl.col("ChargeCategory") == "Purchase"))["BilledCost"].sum()
    assert _cents(sp_usage) == _cents(sp_bought) == Decimal("16.80")


# ----------------------------------------------------------------------------- rejections

def test_data_transfer_rows_with_none_in_a_savings_plan_column_are_accepted(tmp_path):
    _, rows = _rows()
    none_rows = [r for r in rows if r["savingsPlan/SavingsPlanEffectiveCost"] == "None"]
    assert len(none_rows) == DATA_TRANSFER_ROWS
    assert sum(_dec(r["lineItem/UnblendedCost"]) for r in none_rows) == DATA_TRANSFER_COST
    out = tmp_path / "focus.parquet"
    result = _cli("convert", str(FIXTURE), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "0 rejected" in result.stdout and "rejected 48" not in result.stderr
    assert ("oddity inapplicable_text" in result.stderr
            and "savingsPlan/SavingsPlanEffectiveCost: 48 x" in result.stderr)
    moved = pl.read_parquet(out).filter(pl.col("x_SourceRow").is_in(
        [i + 1 for i, r in enumerate(rows) if r["savingsPlan/SavingsPlanEffectiveCost"] == "None"]))
    assert moved.height == DATA_TRANSFER_ROWS
    assert _cents(moved["EffectiveCost"].sum()) == _cents(DATA_TRANSFER_COST)


@pytest.mark.parametrize(("line_type", "column", "bad"), [
    ("SavingsPlanCoveredUsage", "savingsPlan/SavingsPlanEffectiveCost", "n/a"),
    ("DiscountedUsage", "reservation/EffectiveCost", "oops"),
    ("RIFee", "reservation/UnusedRecurringFee", "1,2"),
    ("SavingsPlanRecurringFee", "savingsPlan/UsedCommitment", "None"),
])
def test_a_bad_value_where_the_column_applies_is_rejected_naming_that_column(
        tmp_path, line_type, column, bad):
    header, rows = _rows()
    index = next(i for i, r in enumerate(rows) if r["lineItem/LineItemType"] == line_type)
    rows[index][column] = bad
    path = _write(tmp_path / "cur.csv", header, rows)
    result = _cli("convert", path, "--output", str(tmp_path / "out.parquet"))
    assert result.exit_code == 0, result.output
    assert "1 rejected" in result.stdout
    assert f"row {index + 1} column {column} value {bad!r}" in result.stderr
    strict = _cli("convert", path, "--output", str(tmp_path / "strict.parquet"), "--strict")
    assert strict.exit_code != 0 and f"row {index + 1}" in strict.output
    assert column in strict.output and not (tmp_path / "strict.parquet").exists()


# ----------------------------------------------------------------------------- column names

@pytest.mark.parametrize("spelling", ["savingsPlan/SavingsPlanArn", "savingsPlan/SavingsPlanARN",
                                      "SAVINGSPLAN/SAVINGSPLANARN"])
def test_the_savings_plan_arn_column_is_matched_whatever_its_case(tmp_path, spelling):
    header, rows = _rows()
    path = _write(tmp_path / "cur.csv", header, rows,
                  rename={"savingsPlan/SavingsPlanArn": spelling})
    sp = _by_type(_review(path))["Savings Plan"]
    assert sp["covered_hours"] == PINNED["Savings Plan"][3]
    assert sp["coverage_hours"] == pytest.approx(60 / ELIGIBLE_HOURS)
    assert _cents(sp["used_usd"]) == _cents(PINNED["Savings Plan"][0])


def test_athena_names_with_arn_or_a_r_n_give_the_same_commitments(tmp_path):
    from costmodels.billing._aws import snake

    header, rows = _rows()
    want = _by_type(_review(str(FIXTURE)))
    for arn in ("savings_plan_savings_plan_arn", "savings_plan_savings_plan_a_r_n"):
        names = {h: (arn if h == "savingsPlan/SavingsPlanArn" else snake(h)) for h in header}
        frame = pl.DataFrame({names[h]: [r[h] or None for r in rows] for h in header})
        path = tmp_path / f"{arn}.parquet"
        frame.write_parquet(path)
        got = _by_type(_review(str(path)))
        assert set(got) == set(want), arn
        for kind, line in want.items():
            for key in ("covered_hours", "used_usd", "unused_usd", "utilisation", "savings_usd"):
                assert got[kind][key] == pytest.approx(line[key], abs=1e-9), (arn, kind, key)


# ----------------------------------------------------------------------------- rates

def _rates(*paths: str, fmt: str = "json"):
    return _cli("rates", *paths, "--format", fmt)


def test_rates_say_na_and_why_for_a_reservation_without_amortised_cost(tmp_path):
    header, rows = _rows()
    for row in rows:
        if row["lineItem/LineItemType"] == "DiscountedUsage":
            row["reservation/EffectiveCost"] = ""
    parts = _write(tmp_path / "parts.csv", header, rows)
    for row in rows:
        if row["lineItem/LineItemType"] == "DiscountedUsage":
            row["reservation/AmortizedUpfrontCostForUsage"] = ""
            row["reservation/RecurringFeeForUsage"] = ""
    bare = _write(tmp_path / "bare.csv", header, rows)

    result = _rates(bare)
    assert result.exit_code == 0, result.output
    by = {(r["instance_type"], r["purchase_option"]): r
          for r in json.loads(result.stdout)["rows"]}
    ri = by[("r4.large", "reserved")]
    assert ri["effective_usd_per_hour"] is None and ri["effective_cost"] is None
    assert ri["note"].startswith("n/a: 40 of 40 rows have no EffectiveCost")
    assert "reservation/EffectiveCost" in ri["note"]
    assert by[("m5.large", "on_demand")]["effective_usd_per_hour"] == pytest.approx(0.096)
    assert by[("m5.large", "on_demand")]["note"] is None
    csv_out = _rates(bare, fmt="csv")
    assert csv_out.exit_code == 0 and "n/a: 40 of 40 rows have no EffectiveCost" in csv_out.stdout
    # the AWS rule: EffectiveCost = AmortizedUpfrontCostForUsage + RecurringFeeForUsage
    with_parts = {(r["instance_type"], r["purchase_option"]): r
                  for r in json.loads(_rates(parts).stdout)["rows"]}
    assert with_parts[("r4.large", "reserved")]["effective_usd_per_hour"] == pytest.approx(0.0773)


def test_rates_never_average_two_currencies(tmp_path):
    header, rows = _rows()
    usd = _write(tmp_path / "cur-usd.csv", header, rows)
    for row in rows:
        row["lineItem/CurrencyCode"] = "EUR"
    eur = _write(tmp_path / "cur-eur.csv", header, rows)
    mixed = _rates(usd, eur)
    assert mixed.exit_code == 1
    assert "billed in EUR (" in mixed.output and "USD (" in mixed.output
    assert "cur-eur.csv" in mixed.output and "never averages two currencies" in mixed.output
    alone = json.loads(_rates(eur).stdout)["rows"]
    assert {r["currency"] for r in alone} == {"EUR"}
