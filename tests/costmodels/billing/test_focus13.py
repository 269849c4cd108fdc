"""FOCUS 1.3 output and input, and ServiceSubcategory on conversions from FOCUS 1.0.

* FOCUS 1.2 made ServiceSubcategory mandatory (not null, an allowed value, a child of the row's
  ServiceCategory); a FOCUS 1.0 file has no such column, so converting one must derive it.
* ``planner billing convert --focus-version 1.3`` (the default) writes FOCUS 1.3's columns:
  ServiceProviderName, HostProviderName, ContractApplied on commitment-covered rows, the
  allocation columns; ``--focus-version 1.2`` still writes FOCUS 1.2.
* A FOCUS 1.3 file is read, and reviewed, with the same totals as its FOCUS 1.2 twin.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from costmodels.billing.focus_writer import write_focus
from costmodels.billing.readers import read_billing
from costmodels.billing.review import monthly_review
from costmodels.billing.schema import WRITTEN_EXTRA_COLUMNS, FOCUS_COLUMNS
from planner.cli.main import app
from tests.costmodels.billing.test_review_data import frame_from_rows, generate_focus

CUR_SAMPLE = ("billing-samples/focus-converters/test-fixtures/"
              "aws-legacy-cur-sample-anonymous-aws-export-dataset.csv")
RULE_MODEL = "billing-samples/focus-validator-rules/model-1.2.json"
FOCUS13_NEW = ("AllocatedMethodDetails", "AllocatedMethodId", "AllocatedResourceId",
               "AllocatedResourceName", "AllocatedTags", "ContractApplied", "HostProviderName",
               "ServiceProviderName")
ADDED_IN_11_AND_12 = ("CapacityReservationId", "CapacityReservationStatus",
                      "CommitmentDiscountQuantity", "CommitmentDiscountUnit",
                      "ServiceSubcategory", "SkuMeter", "SkuPriceDetails", "BillingAccountType",
                      "SubAccountType", "InvoiceId", "PricingCurrency",
                      "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
                      "PricingCurrencyListUnitPrice")
RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-0001"

runner = CliRunner()


def _focus10_rows() -> list[dict[str, object]]:
    """Nine FOCUS 1.0 rows: services of several categories, a reservation and a tax row."""
    aws = {"ProviderName": "AWS", "PublisherName": "AWS", "InvoiceIssuerName": "AWS",
           "BillingAccountId": "111122223333", "SubAccountId": "111122223333"}
    gcp = {"ProviderName": "Google Cloud", "PublisherName": "Google Cloud",
           "InvoiceIssuerName": "Google Cloud", "BillingAccountId": "01A2B3-C4D5E6-F7A8B9",
           "SubAccountId": "ml-training"}
    ec2 = {**aws, "ServiceCategory": "Compute", "ServiceName": "Amazon Elastic Compute Cloud"}
    ri = {"CommitmentDiscountId": RI, "CommitmentDiscountType": "Reserved Instance",
          "CommitmentDiscountCategory": "Usage", "PricingCategory": "Committed"}
    return [
        dict(ec2, BilledCost="3.0", EffectiveCost="3.0", PricingCategory="Standard",
             ConsumedQuantity="1", ConsumedUnit="Hours"),
        dict({**ec2, **ri}, BilledCost="0", EffectiveCost="2.0", CommitmentDiscountStatus="Used",
             ConsumedQuantity="1", ConsumedUnit="Hours"),
        dict({**ec2, **ri}, BilledCost="0", EffectiveCost="0.5",
             CommitmentDiscountStatus="Unused", ConsumedQuantity="0.25", ConsumedUnit="Hours"),
        dict({**ec2, **ri}, ChargeCategory="Purchase", ChargeFrequency="Recurring",
             BilledCost="10.0", EffectiveCost="0"),
        dict(aws, ServiceCategory="Storage", ServiceName="Amazon Simple Storage Service",
             BilledCost="1.25", EffectiveCost="1.25"),
        dict(gcp, ServiceCategory="Databases", ServiceName="Cloud SQL", BilledCost="4.0",
             EffectiveCost="4.0"),
        dict(gcp, ServiceCategory="AI and Machine Learning", ServiceName="Vertex AI",
             BilledCost="7.5", EffectiveCost="7.5"),
        dict(aws, ServiceCategory="Networking", ServiceName="Hyperlane Beta", BilledCost="0.2",
             EffectiveCost="0.2"),
        dict(aws, ServiceCategory="Other", ServiceName="Tax", ChargeCategory="Tax",
             ChargeFrequency="Recurring", BilledCost="1.0", EffectiveCost="1.0"),
    ]


EXPECTED_SUBCATEGORIES = ["Virtual Machines", "Virtual Machines", "Virtual Machines",
                          "Virtual Machines", "Object Storage", "Relational Databases",
                          "Machine Learning", "Other (Networking)", "Other (Other)"]


@pytest.fixture
def focus10_file(tmp_path: Path) -> Path:
    """A FOCUS 1.0 CSV (no ServiceSubcategory, no 1.1/1.2 columns)."""
    defaults = {"BillingCurrency": "USD", "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based", "ChargePeriodStart": "2026-10-01T00:00:00Z",
                "ChargePeriodEnd": "2026-10-01T01:00:00Z",
                "BillingPeriodStart": "2026-10-01T00:00:00Z",
                "BillingPeriodEnd": "2026-11-01T00:00:00Z", "RegionId": "us-east-1"}
    rows = [dict(defaults, **row) for row in _focus10_rows()]
    columns = sorted({c for row in rows for c in row} | {"ListCost", "ContractedCost"})
    for row in rows:
        row.setdefault("ListCost", row["BilledCost"])
        row.setdefault("ContractedCost", row["BilledCost"])
    frame = pl.DataFrame({c: [row.get(c) for row in rows] for c in columns},
                         schema={c: pl.String for c in columns})
    path = tmp_path / "focus-1.0.csv"
    frame.write_csv(path)
    return path


def _convert(source: Path, out: Path, *version: str) -> str:
    args = ["billing", "convert", str(source), "--to", "focus", "--output", str(out)]
    if version:
        args += ["--focus-version", version[0]]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _allowed_pairs(shared_data: Path) -> set[tuple[str, str]]:
    """(ServiceCategory, ServiceSubcategory) pairs of the validator's rule ServiceSubcategory-C-004-M."""
    path = shared_data / RULE_MODEL
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    rule = json.loads(path.read_text())["ModelRules"]["ServiceSubcategory-C-004-M"]
    pairs = set()
    for item in rule["ValidationCriteria"]["Requirement"]["Items"]:
        values = {check["ColumnName"]: check["Value"] for check in item["Items"]}
        pairs.add((values["ServiceCategory"], values["ServiceSubcategory"]))
    return pairs


# ---------------------------------------------------------------- ServiceSubcategory from 1.0

def test_a_focus10_file_is_read_with_a_derived_subcategory(focus10_file: Path) -> None:
    result = read_billing([str(focus10_file)])
    assert result.formats[str(focus10_file)] == "focus-1.0"
    assert result.reconciliation.balanced
    frame = result.frame.collect()
    assert frame["ServiceSubcategory"].to_list() == EXPECTED_SUBCATEGORIES
    absent = [o for o in result.oddities if o.kind == "missing_column"
              and o.column == "ServiceSubcategory"]
    assert absent and "derived" in absent[0].message


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_converting_focus10_never_leaves_the_subcategory_null(focus10_file: Path, tmp_path: Path,
                                                              version: str) -> None:
    out = tmp_path / f"out-{version}.parquet"
    _convert(focus10_file, out, version)
    written = pl.read_parquet(out)
    assert written["ServiceSubcategory"].null_count() == 0
    assert written["ServiceSubcategory"].to_list() == EXPECTED_SUBCATEGORIES


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_cur_sample_as_focus10_converts_to_allowed_subcategories(shared_data: Path,
                                                                 tmp_path: Path,
                                                                 version: str) -> None:
    """The CUR sample's services, written as FOCUS 1.0, get subcategories the validator allows."""
    allowed = _allowed_pairs(shared_data)
    as_12 = write_focus(read_billing([str(shared_data / CUR_SAMPLE)]).frame,
                        tmp_path / "cur-1.2.csv", version="1.2")
    focus10 = tmp_path / "cur-1.0.csv"
    (pl.read_csv(as_12, infer_schema=False)
     .select([c for c in FOCUS_COLUMNS if c not in ADDED_IN_11_AND_12])
     .write_csv(focus10))
    assert read_billing([str(focus10)]).formats[str(focus10)] == "focus-1.0"
    out = tmp_path / f"cur-{version}.parquet"
    _convert(focus10, out, version)
    pairs = pl.read_parquet(out).select("ServiceCategory", "ServiceSubcategory").unique()
    assert pairs["ServiceSubcategory"].null_count() == 0
    assert set(pairs.iter_rows()) <= allowed


def test_writer_replaces_a_subcategory_outside_its_category(tmp_path: Path) -> None:
    frame = frame_from_rows([
        {"ServiceCategory": "Other", "ServiceSubcategory": "Messaging",
         "ServiceName": "Amazon Simple Queue Service", "EffectiveCost": 1.0},
        {"ServiceCategory": "Integration", "ServiceName": "Amazon Simple Queue Service",
         "EffectiveCost": 1.0},
        {"ServiceCategory": "Compute", "ServiceSubcategory": "virtual machines",
         "EffectiveCost": 1.0},
    ])
    for version in ("1.2", "1.3"):
        out = write_focus(frame, tmp_path / f"repair-{version}.parquet", version=version)
        assert pl.read_parquet(out)["ServiceSubcategory"].to_list() == [
            "Other (Other)", "Messaging", "Virtual Machines"]


def test_a_subcategory_outside_its_category_is_reported_and_replaced(focus10_file: Path,
                                                                     tmp_path: Path) -> None:
    rows = pl.read_csv(focus10_file, infer_schema=False).with_columns(
        pl.Series("ServiceSubcategory", ["virtual machines", None, "Messaging", *[None] * 6]))
    path = tmp_path / "focus-1.1.csv"
    rows.write_csv(path)
    result = read_billing([str(path)])
    assert result.formats[str(path)] == "focus-1.1"
    odd = [o for o in result.oddities if o.kind == "invalid_subcategory"]
    assert [(o.count, o.example) for o in odd] == [(1, "Messaging")]
    assert result.frame.collect()["ServiceSubcategory"].to_list() == EXPECTED_SUBCATEGORIES


# ---------------------------------------------------------------------- FOCUS 1.3 columns

@pytest.mark.parametrize("flag", [(), ("1.3",)])
def test_convert_writes_the_focus13_columns(focus10_file: Path, tmp_path: Path,
                                            flag: tuple[str, ...]) -> None:
    out = tmp_path / "out-1.3.parquet"
    output = _convert(focus10_file, out, *flag)
    assert "(FOCUS 1.3, focus)" in output
    written = pl.read_parquet(out)
    assert written.columns == [*sorted({*FOCUS_COLUMNS, *FOCUS13_NEW}), *WRITTEN_EXTRA_COLUMNS]
    assert written["ServiceProviderName"].to_list() == written["ProviderName"].to_list()
    is_tax = written["ChargeCategory"] == "Tax"
    assert written.filter(is_tax)["HostProviderName"].to_list() == [None]
    rest = written.filter(~is_tax)
    assert rest["HostProviderName"].to_list() == rest["ServiceProviderName"].to_list()
    applied = written["ContractApplied"].to_list()
    covered = [1, 2]  # the reservation's used and unused usage rows
    assert [i for i, value in enumerate(applied) if value is not None] == covered
    for i in covered:
        elements = json.loads(applied[i])["Elements"]
        assert len(elements) == 1
        element = elements[0]
        assert set(element) == {"ContractId", "ContractCommitmentId",
                                "ContractCommitmentAppliedCost",
                                "ContractCommitmentAppliedQuantity",
                                "ContractCommitmentAppliedUnit"}
        assert element["ContractId"] == element["ContractCommitmentId"] == RI
        assert element["ContractCommitmentAppliedCost"] == pytest.approx(
            written["EffectiveCost"][i])
    for column in ("AllocatedMethodId", "AllocatedResourceId", "AllocatedTags"):
        assert written[column].null_count() == written.height


def test_convert_still_writes_focus12(focus10_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out-1.2.csv"
    output = _convert(focus10_file, out, "1.2")
    assert "(FOCUS 1.2, focus)" in output
    header = pl.read_csv(out, n_rows=0).columns
    assert header == [*FOCUS_COLUMNS, *WRITTEN_EXTRA_COLUMNS]
    assert not set(FOCUS13_NEW) & set(header)


def test_an_unknown_focus_version_is_refused(focus10_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["billing", "convert", str(focus10_file), "--output",
                                 str(tmp_path / "x.parquet"), "--focus-version", "1.1"])
    assert result.exit_code == 2
    assert "1.1" in result.output


# ------------------------------------------------------------------------- FOCUS 1.3 input

@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    """The same generated month as FOCUS 1.2 and FOCUS 1.3 Parquet files."""
    folder = tmp_path_factory.mktemp("twins")
    frame = generate_focus(3_000, seed=5).lazy().with_columns(
        pl.col(name).fill_null("AWS") for name in ("ProviderName", "PublisherName"))
    return {v: write_focus(frame, folder / f"focus-{v}.parquet", version=v)
            for v in ("1.2", "1.3")}


def test_a_focus13_file_is_read_like_its_focus12_twin(twins: dict[str, Path]) -> None:
    results = {v: read_billing([str(path)]) for v, path in twins.items()}
    for version, result in results.items():
        assert result.formats[str(twins[version])] == f"focus-{version}"
        assert result.reconciliation.balanced
    assert results["1.2"].reconciliation.money_in == results["1.3"].reconciliation.money_in
    a, b = (results[v].frame.collect().drop("x_SourceFile") for v in ("1.2", "1.3"))
    assert a.select(list(FOCUS_COLUMNS)).equals(b.select(list(FOCUS_COLUMNS)))
    assert b["ServiceProviderName"].to_list() == b["ProviderName"].to_list()
    reviews = {v: monthly_review(results[v].frame, month="2026-10").to_dict() for v in results}
    for key in ("billed_usd", "effective_usd", "list_usd", "n_rows"):
        assert reviews["1.3"]["current"][key] == pytest.approx(reviews["1.2"]["current"][key],
                                                               rel=1e-12)
        assert reviews["1.3"]["previous"][key] == pytest.approx(
            reviews["1.2"]["previous"][key], rel=1e-12)


def test_review_cli_gives_the_same_totals_for_the_twins(twins: dict[str, Path]) -> None:
    docs = {}
    for version, path in twins.items():
        result = runner.invoke(app, ["billing", "review", str(path), "--month", "2026-10",
                                     "--format", "json"])
        assert result.exit_code == 0, result.output
        docs[version] = json.loads(result.stdout)
    for key in ("billed_usd", "effective_usd", "list_usd", "n_rows"):
        assert docs["1.3"]["current"][key] == pytest.approx(docs["1.2"]["current"][key],
                                                            rel=1e-12)


def test_focus13_columns_of_a_source_survive_and_fill_the_deprecated_ones(
        twins: dict[str, Path], tmp_path: Path) -> None:
    """A 1.3 file without ProviderName/PublisherName, with a marketplace host and allocations."""
    source = pl.read_parquet(twins["1.3"]).drop("ProviderName", "PublisherName")
    first = pl.int_range(pl.len()) == 0
    source = source.with_columns(
        pl.when(first).then(pl.lit("Acme SaaS")).otherwise(pl.col("ServiceProviderName"))
        .alias("ServiceProviderName"),
        pl.when(first).then(pl.lit("AWS")).otherwise(pl.col("HostProviderName"))
        .alias("HostProviderName"),
        pl.when(first).then(pl.lit("eks-split-cost")).alias("AllocatedMethodId"),
        pl.when(first).then(pl.lit("pod/team-a/trainer-0")).alias("AllocatedResourceId"),
        pl.when(first).then(pl.lit('{"team": "a"}')).alias("AllocatedTags"),
    )
    path = tmp_path / "focus-1.3-no-deprecated.parquet"
    source.write_parquet(path)
    result = read_billing([str(path)])
    assert result.formats[str(path)] == "focus-1.3"
    frame = result.frame.collect()
    assert frame["ProviderName"].to_list() == source["ServiceProviderName"].to_list()
    assert frame["PublisherName"].null_count() == 0
    again = pl.read_parquet(write_focus(result.frame, tmp_path / "again.parquet"))
    row = again.row(0, named=True)
    assert (row["ServiceProviderName"], row["HostProviderName"]) == ("Acme SaaS", "AWS")
    assert (row["AllocatedMethodId"], row["AllocatedResourceId"], row["AllocatedTags"]) == (
        "eks-split-cost", "pod/team-a/trainer-0", '{"team": "a"}')
    assert again["ContractApplied"].to_list() == source["ContractApplied"].to_list()
    as_12 = pl.read_parquet(write_focus(result.frame, tmp_path / "as12.parquet", version="1.2"))
    assert as_12["ProviderName"].null_count() == 0 and as_12["PublisherName"].null_count() == 0
