"""Converted exports pass the FOCUS MUST rules the converter is responsible for (issue 16).

The FinOps Foundation validator (focus-validator 2.2.1) failed these rules on converted koku-nise
AWS and GCP exports because of the readers:

* ``BilledCost-C-005-C``: a row whose ProviderName differs from its InvoiceIssuerName (billed by
  a third party) MUST have BilledCost 0.  AWS Marketplace rows were written with
  InvoiceIssuerName "AWS Marketplace"; AWS issues their invoice (FOCUS's entity identification
  examples: a marketplace offering running on the cloud provider is invoiced by the provider,
  the seller is the service provider).
* ``ServiceName-C-005-C``: one ServiceCategory per ServiceName.  nise puts the AMI's software
  ("Red Hat Enterprise Linux 8") in ``product/ProductName`` of ``AmazonEC2`` rows, and the same
  software is sold on AWS Marketplace (category Other).
* ``ServiceSubcategory``: the readers' own tables paired SQS (``AmazonSQS``, not a CUR product
  code) and Cloud Monitoring (no category) with subcategories of other categories.
* ``ServiceName-C-002-M`` (and every StringHandling rule): ASCII only; GCP's service
  descriptions carry ® and ™.

Also FOCUS 1.3's allocation columns from the CUR's split cost allocation data, and
ContractApplied amounts without float noise (0.6184, not 0.6184000000000001).  The rules are
re-implemented here as the validator states them (its SQL), on small hand-made exports.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from costmodels.billing import _categories as tables
from costmodels.billing import _gcp
from costmodels.billing._subcategories import ALLOWED_SUBCATEGORIES, PARENT_CATEGORY
from costmodels.billing.focus_writer import ASCII_COLUMNS, write_focus
from costmodels.billing.readers import read_billing

DATA = Path(__file__).parent / "data"
MARKETPLACE_CODE = "5hnnev4d0v7mapf09j0v8of0o2"
POD = "arn:aws:eks:us-east-1:012345678902:pod/ml-cluster/default/trainer-0/6c1f"
INSTANCE = "i-0123456789abcdef0"

STRING_HANDLING = (
    "AvailabilityZone", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "CapacityReservationId", "ChargeDescription", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountType", "CommitmentDiscountUnit",
    "ConsumedUnit", "InvoiceId", "InvoiceIssuerName", "PricingCurrency", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName",
    "ResourceType", "ServiceName", "SkuId", "SkuMeter", "SkuPriceId", "SubAccountId",
    "SubAccountName", "SubAccountType", "AllocatedMethodId", "AllocatedResourceId",
    "AllocatedResourceName", "HostProviderName", "ServiceProviderName")
"""The columns of the validator's FormatString rules (``<Column>-C-002-M``: ASCII only)."""

CUR_HEADER = [
    "identity/LineItemId", "bill/BillingEntity", "bill/InvoicingEntity", "bill/PayerAccountId",
    "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "lineItem/UsageAccountId",
    "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/UsageAmount",
    "lineItem/CurrencyCode", "lineItem/UnblendedRate", "lineItem/UnblendedCost",
    "lineItem/LineItemDescription", "lineItem/LegalEntity", "lineItem/ResourceId",
    "pricing/unit", "product/ProductName", "product/instanceType",
    "splitLineItem/ParentResourceId", "splitLineItem/SplitUsage",
    "splitLineItem/SplitUsageRatio", "splitLineItem/SplitCost",
]


def _cur_row(i: int, **values: str) -> list[str]:
    row = {"identity/LineItemId": f"li-{i}", "bill/BillingEntity": "AWS",
           "bill/InvoicingEntity": "Amazon Web Services, Inc.",
           "bill/PayerAccountId": "012345678901",
           "bill/BillingPeriodStartDate": "2026-10-01T00:00:00Z",
           "bill/BillingPeriodEndDate": "2026-11-01T00:00:00Z",
           "lineItem/UsageAccountId": "012345678902", "lineItem/LineItemType": "Usage",
           "lineItem/UsageStartDate": f"2026-10-01T{i % 24:02d}:00:00Z",
           "lineItem/UsageEndDate": f"2026-10-01T{i % 24:02d}:59:59Z",
           "lineItem/CurrencyCode": "USD", "lineItem/UsageAmount": "1",
           "lineItem/LegalEntity": "Amazon Web Services, Inc.", "pricing/unit": "Hrs",
           **values}
    return [row.get(name, "") for name in CUR_HEADER]


def _ec2(i: int, product_name: str, cost: str) -> list[str]:
    """An EC2 instance hour whose product name is the AMI's software, as nise writes it."""
    return _cur_row(i, **{"lineItem/ProductCode": "AmazonEC2",
                          "lineItem/UsageType": "BoxUsage:m5.large",
                          "lineItem/UnblendedRate": cost, "lineItem/UnblendedCost": cost,
                          "lineItem/LineItemDescription": "$0.096 per On Demand Linux m5.large",
                          "lineItem/LegalEntity": "AWS", "lineItem/ResourceId": INSTANCE,
                          "product/ProductName": product_name,
                          "product/instanceType": "m5.large"})


def _marketplace(i: int, product_name: str, seller: str, cost: str, **values: str) -> list[str]:
    return _cur_row(i, **{"bill/BillingEntity": "AWS Marketplace",
                          "lineItem/ProductCode": MARKETPLACE_CODE,
                          "lineItem/UsageType": "USE1-MP:Hrs", "lineItem/UnblendedCost": cost,
                          "lineItem/LineItemDescription": f"{product_name} hourly fee",
                          "lineItem/LegalEntity": seller, "product/ProductName": product_name,
                          **values})


def _split(i: int, usage_type: str, unit: str, usage: str, ratio: str, cost: str) -> list[str]:
    """A split cost allocation row: the pod's share of its EC2 instance (no billed cost)."""
    return _cur_row(i, **{"lineItem/ProductCode": "AmazonEKS", "lineItem/UsageType": usage_type,
                          "lineItem/UsageAmount": usage, "lineItem/UnblendedCost": "0",
                          "lineItem/ResourceId": POD, "pricing/unit": unit,
                          "product/ProductName": "Amazon Elastic Container Service for "
                                                 "Kubernetes",
                          "splitLineItem/ParentResourceId": INSTANCE,
                          "splitLineItem/SplitUsage": usage,
                          "splitLineItem/SplitUsageRatio": ratio,
                          "splitLineItem/SplitCost": cost})


def _write_cur(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CUR_HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture
def mixed_cur(tmp_path: Path) -> Path:
    """EC2 rows named after their AMI's software beside that software's Marketplace rows."""
    return _write_cur(tmp_path / "cur.csv", [
        _ec2(1, "Red Hat Enterprise Linux 8", "0.096"),
        _ec2(2, "Red Hat OpenShift Service on AWS", "0.096"),
        _ec2(3, "Amazon Elastic Compute Cloud", "0.096"),
        _marketplace(4, "Red Hat Enterprise Linux 8", "Red Hat, Inc.", "0.13"),
        _marketplace(5, "Red Hat Enterprise Linux 8", "Red Hat", "0.13"),
        _marketplace(6, "Red Hat OpenShift Service on AWS", "Red Hat, Inc.", "0.171"),
        _marketplace(7, "Red Hat Enterprise Linux 8", "Red Hat, Inc.", "0.02",
                     **{"lineItem/LineItemType": "Tax"}),
        # SQS by its CUR product code; an Amazon MQ row (a code named by its product name)
        # whose product name a Marketplace product shares
        _cur_row(8, **{"lineItem/ProductCode": "AWSQueueService", "lineItem/UnblendedCost": "0.4",
                       "pricing/unit": "Requests",
                       "product/ProductName": "Amazon Simple Queue Service"}),
        _cur_row(9, **{"lineItem/ProductCode": "AmazonMQ", "lineItem/UnblendedCost": "0.3",
                       "product/ProductName": "Acme Broker"}),
        _marketplace(10, "Acme Broker", "Acme, Inc.", "0.5"),
        _split(11, "USE1-EKS-EC2-vCPU-Hours", "vCPU-Hours", "0.5", "0.25", "0.018"),
        _split(12, "USE1-EKS-EC2-GB-Hours", "GB-Hours", "2", "0.125", "0.004"),
    ])


def _written(sources: list[Path], tmp_path: Path, version: str = "1.3") -> pl.DataFrame:
    read = read_billing([str(p) for p in sources])
    out = write_focus(read.frame, tmp_path / f"focus-{version}.parquet", version=version)
    return pl.read_parquet(out)


def _must_failures(frame: pl.DataFrame) -> dict[str, int]:
    """The MUST rules of this issue, as the validator's SQL checks them: rule -> violations."""
    failures: dict[str, int] = {}
    third_party = frame.filter((pl.col("ProviderName") != pl.col("InvoiceIssuerName"))
                               & (pl.col("BilledCost") != 0))
    failures["BilledCost-C-005-C"] = third_party.height
    categories = frame.group_by("ServiceName").agg(pl.col("ServiceCategory").n_unique())
    failures["ServiceName-C-005-C"] = categories.filter(pl.col("ServiceCategory") != 1).height
    pairs = set(frame.select("ServiceCategory", "ServiceSubcategory").unique().iter_rows())
    failures["ServiceSubcategory-C-004-M"] = sum(
        PARENT_CATEGORY.get(sub) != category for category, sub in pairs)
    for name in STRING_HANDLING:
        if name in frame.columns:
            rule = f"{name}-C-002-M"
            failures[rule] = frame.filter(pl.col(name).str.contains(r"[^\x00-\x7F]")).height
    return {rule: count for rule, count in failures.items() if count}


def test_marketplace_rows_are_invoiced_by_aws(mixed_cur: Path, tmp_path: Path) -> None:
    written = _written([mixed_cur], tmp_path)
    market = written.filter(pl.col("ServiceName").str.starts_with("Red Hat")
                            & (pl.col("PublisherName") != "AWS"))
    assert market.height == 4
    assert set(market["InvoiceIssuerName"]) == set(market["ProviderName"]) == {"AWS"}
    assert market.filter(pl.col("ChargeCategory") == "Usage")["BilledCost"].to_list() == [
        pytest.approx(0.13), pytest.approx(0.13), pytest.approx(0.171)]
    # the seller is the publisher and (FOCUS 1.3) the service provider; AWS hosts it
    assert market["PublisherName"].to_list() == market["ServiceProviderName"].to_list() == [
        "Red Hat, Inc.", "Red Hat", "Red Hat, Inc.", "Red Hat, Inc."]
    hosts = dict(zip(market["ChargeCategory"], market["HostProviderName"], strict=True))
    assert hosts == {"Usage": "AWS", "Tax": None}
    # AWS's own rows: AWS provides, hosts and invoices them
    own = written.filter(pl.col("ServiceName") == "Amazon Elastic Compute Cloud")
    assert set(own["ServiceProviderName"]) == set(own["HostProviderName"]) == {"AWS"}
    assert "BilledCost-C-005-C" not in _must_failures(written)


def test_one_service_category_per_service_name(mixed_cur: Path, tmp_path: Path) -> None:
    written = _written([mixed_cur], tmp_path)
    services = dict(written.select("ServiceName", "ServiceCategory").unique().iter_rows())
    assert written.select("ServiceName", "ServiceCategory").unique().height == len(services)
    # EC2 rows keep EC2's name whatever AMI software their product name shows
    ec2 = written.filter(pl.col("x_InstanceType") == "m5.large")
    assert set(ec2["ServiceName"]) == {"Amazon Elastic Compute Cloud"}
    assert services["Amazon Elastic Compute Cloud"] == "Compute"
    assert services["Red Hat Enterprise Linux 8"] == "Other"
    # a name the converter's mapping lists ("Red Hat OpenShift Service on AWS*") keeps its category
    assert services["Red Hat OpenShift Service on AWS"] == "Compute"
    assert services["Amazon Simple Queue Service"] == "Integration"
    # a Marketplace product named like an AWS product code's rows joins their category
    assert services["Acme Broker"] == "Integration"
    assert _must_failures(written) == {}


def test_reader_subcategory_tables_are_allowed_pairs(mixed_cur: Path, tmp_path: Path) -> None:
    """Every (category, subcategory) pair the readers' tables give is an allowed FOCUS pair."""
    aws = [(code, tables.AWS_CATEGORIES.get(code, "Other"), sub)
           for code, sub in tables.AWS_SUBCATEGORIES.items()]
    assert [pair for pair in aws if PARENT_CATEGORY.get(pair[2]) != pair[1]] == []
    for table in (tables.AWS_CATEGORIES, tables.AWS_NAME_CATEGORIES):
        assert set(table.values()) <= set(ALLOWED_SUBCATEGORIES)
    # no ServiceName shared by two product codes (each name has its code's one category)
    assert len(set(tables.AWS_SERVICE_NAMES.values())) == len(tables.AWS_SERVICE_NAMES)
    # the reader gives SQS (product code AWSQueueService) the table's subcategory
    cur = read_billing([str(mixed_cur)]).frame.collect()
    sqs = cur.filter(pl.col("ServiceName") == "Amazon Simple Queue Service").row(0, named=True)
    assert (sqs["ServiceCategory"], sqs["ServiceSubcategory"]) == ("Integration", "Messaging")
    # GCP: the reader files every service of its subcategory table under that subcategory's
    # parent category
    services = list(_gcp.SUBCATEGORIES)
    source = _write_gcp(tmp_path / "gcp.csv", [(name, "usage", "1.0") for name in services])
    gcp = read_billing([str(source)]).frame.collect()
    got = list(gcp.select("ServiceName", "ServiceCategory", "ServiceSubcategory").iter_rows())
    assert [(name, PARENT_CATEGORY[sub], sub) for name, sub in _gcp.SUBCATEGORIES.items()] == got


def _write_gcp(path: Path, services: list[tuple[str, str, str]]) -> Path:
    """A flattened GCP export CSV: one hour of each (service, SKU description, cost)."""
    header = ["billing_account_id", "service.id", "service.description", "sku.id",
              "sku.description", "usage_start_time", "usage_end_time", "project.id",
              "project.name", "cost", "currency", "usage.amount", "usage.unit",
              "usage.amount_in_pricing_units", "usage.pricing_unit", "credits",
              "invoice.month", "cost_type"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, (service, sku, cost) in enumerate(services):
            writer.writerow(["01A2B3-C4D5E6-F7A8B9", f"S-{i}", service, f"K-{i}", sku,
                             "2026-10-01 00:00:00 UTC", "2026-10-01 01:00:00 UTC",
                             "ml-training", "Projekt Zürich", cost, "USD", "3600", "seconds",
                             "1", "hour", "[]", "202610", "regular"])
    return path


def test_converted_names_are_ascii(tmp_path: Path) -> None:
    source = _write_gcp(tmp_path / "gcp.csv", [
        ("Red Hat® OpenShift® Container Platform",
         "Licensing Fee for vCPU-per-hour on VM with 0 VCPU or more", "0.25"),
        ("Cloud Monitoring", "Metric Volume – “custom” metrics™", "0.01"),
        ("Compute Engine", "N2 Instance Core running in Americas", "1.5"),
    ])
    # the normalised frame keeps the source's names (the review shows them as billed) ...
    read = read_billing([str(source)]).frame.collect()
    assert "Red Hat® OpenShift® Container Platform" in read["ServiceName"].to_list()
    for version in ("1.3", "1.2"):
        written = _written([source], tmp_path, version)
        # ... the FOCUS file is ASCII
        assert _must_failures(written) == {}, version
        assert written["ServiceName"].to_list() == [
            "Red Hat OpenShift Container Platform", "Cloud Monitoring", "Compute Engine"]
        assert written["ChargeDescription"][1] == 'Metric Volume - "custom" metrics'
        assert set(written["SubAccountName"]) == {"Projekt Zurich"}
        monitoring = written.row(1, named=True)
        assert (monitoring["ServiceCategory"], monitoring["ServiceSubcategory"]) == (
            "Management and Governance", "Observability")
    for name in ASCII_COLUMNS:
        assert name in STRING_HANDLING


def test_allocation_columns_from_split_cost_allocation_data(mixed_cur: Path,
                                                           tmp_path: Path) -> None:
    written = _written([mixed_cur], tmp_path)
    split = written.filter(pl.col("AllocatedResourceId").is_not_null())
    assert split.height == 2
    # the origin charge's resource is the instance; the pod is what the cost is allocated to
    assert set(split["ResourceId"]) == {INSTANCE}
    assert set(split["AllocatedResourceId"]) == set(split["AllocatedResourceName"]) == {POD}
    assert set(split["AllocatedMethodId"]) == {tables.AWS_SPLIT_METHOD}
    details = [json.loads(text) for text in split["AllocatedMethodDetails"]]
    assert details == [
        {"Elements": [{"AllocatedRatio": 0.25, "UsageUnit": "vCPU-Hours", "UsageQuantity": 0.5}]},
        {"Elements": [{"AllocatedRatio": 0.125, "UsageUnit": "GB-Hours", "UsageQuantity": 2.0}]},
    ]
    assert split["BilledCost"].to_list() == [0.0, 0.0]
    # rows without split cost allocation data have none of the allocation columns
    rest = written.filter(pl.col("AllocatedResourceId").is_null())
    for name in ("AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceName",
                 "AllocatedTags"):
        assert rest[name].null_count() == rest.height
    assert set(rest.filter(pl.col("x_InstanceType") == "m5.large")["ResourceId"]) == {INSTANCE}
    # FOCUS 1.2 has no allocation columns: the split rows stay the instance's
    as_12 = _written([mixed_cur], tmp_path, "1.2")
    assert "AllocatedResourceId" not in as_12.columns
    assert _must_failures(as_12) == {}


def test_contract_applied_amounts_have_no_float_noise(tmp_path: Path) -> None:
    written = _written([DATA / "aws_commitments_cur.csv.gz"], tmp_path)
    texts = written["ContractApplied"].drop_nulls().to_list()
    assert texts
    costs = []
    for text in texts:
        element = json.loads(text)["Elements"][0]
        for key in ("ContractCommitmentAppliedCost", "ContractCommitmentAppliedQuantity"):
            value = element[key]
            if value is not None:
                assert value == round(value, 10), (key, value)
        costs.append(element["ContractCommitmentAppliedCost"])
    # the reservation's unused hours of the fixture's truth table: $0.6184, written as such
    assert 0.6184 in costs
    assert '"ContractCommitmentAppliedCost":0.6184,' in " ".join(texts)
