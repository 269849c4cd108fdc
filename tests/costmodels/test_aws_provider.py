"""Tests of costmodels.providers.aws against a loopback Pricing API fake and moto's EC2 server."""

from __future__ import annotations

import datetime as dt

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from botocore.retries import standard as botocore_standard

from costmodels.catalog import CATALOG_SCHEMA
from costmodels.providers.aws import (
    LABEL,
    fetch_aws_catalog,
    parse_price_items,
    summarize_spot,
)
from domain.errors import CatalogError
from tests.costmodels.fakes import aws_pricing as fake

TODAY = dt.date(2026, 11, 26)
MOTO_SPOT_PRICE = 0.00001  # moto's constant spot price for every (instance type, AZ)


@pytest.fixture(scope="module")
def moto_url():
    with fake.moto_server() as url:
        yield url


@pytest.fixture()
def pricing_fake():
    with fake.FakePricingServer() as server:
        yield server


@pytest.fixture()
def no_aws_env(monkeypatch, tmp_path):
    """An environment with no AWS credentials anywhere (no files, no IMDS, no container creds)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_PRICING",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture()
def aws_env(no_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture()
def no_retry_sleep(monkeypatch):
    """Make botocore's standard-mode backoff instant (retries still happen, deterministically)."""
    monkeypatch.setattr(botocore_standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)


def _fetch(pricing_fake, moto_url, types, **kwargs):
    return fetch_aws_catalog(
        types,
        region="us-east-1",
        endpoint_urls={"pricing": pricing_fake.url, "ec2": moto_url,
                       "savingsplans": pricing_fake.url},
        today=TODAY,
        **kwargs,
    )


def _row(catalog, instance_type):
    rows = catalog.frame.filter(catalog.frame["instance_type"] == instance_type).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_catalog_prices_specs_and_label(aws_env, pricing_fake, moto_url):
    catalog = _fetch(pricing_fake, moto_url, ["p5.48xlarge", "g5.xlarge"])

    assert catalog.label == LABEL == "AWS Pricing API"
    assert catalog.as_of == "2026-11-26"
    assert dict(catalog.frame.schema) == CATALOG_SCHEMA
    assert catalog.instance_keys() == ["aws:g5.xlarge", "aws:p5.48xlarge"]

    p5 = _row(catalog, "p5.48xlarge")
    # the Linux shared SKU, not the Windows or capacity-reservation SKUs the fake also holds
    assert p5["on_demand_usd_per_hour"] == pytest.approx(fake.P5_ON_DEMAND)
    # standard No Upfront: hourly + 0 upfront / (8760 * years); All Upfront and convertible ignored
    assert p5["reserved_1yr_usd_per_hour"] == pytest.approx(38.528 + 0.0 / 8760)
    assert p5["reserved_3yr_usd_per_hour"] == pytest.approx(27.52 + 0.0 / (3 * 8760))
    # specs from moto's bundled describe_instance_types data
    assert p5["gpu_model"] == "NVIDIA H100"
    assert p5["gpus"] == 8
    assert p5["gpu_memory_gib"] == pytest.approx(80.0)
    assert p5["vcpus"] == 192
    assert p5["memory_gib"] == pytest.approx(2048.0)
    assert p5["region"] == "us-east-1" and p5["provider"] == "aws"

    g5 = _row(catalog, "g5.xlarge")
    assert g5["on_demand_usd_per_hour"] == pytest.approx(fake.G5_ON_DEMAND)
    assert g5["reserved_1yr_usd_per_hour"] == pytest.approx(fake.G5_RI_1YR_NO_UPFRONT_HOURLY)
    assert g5["reserved_3yr_usd_per_hour"] == pytest.approx(fake.G5_RI_3YR_NO_UPFRONT_HOURLY)
    assert g5["gpu_model"] == "NVIDIA A10G"
    assert g5["gpus"] == 1
    assert g5["vcpus"] == 4


def test_spot_from_moto_history(aws_env, pricing_fake, moto_url):
    # moto returns one row per AZ, all at its constant 0.00001 (far below on-demand): the median
    # is that constant and the source string reports the spread.
    catalog = _fetch(pricing_fake, moto_url, ["p5.48xlarge"])
    p5 = _row(catalog, "p5.48xlarge")
    assert p5["spot_usd_per_hour"] == pytest.approx(MOTO_SPOT_PRICE)
    assert "min $1e-05/h max $1e-05/h" in p5["source"]
    assert "0 AZ(s) at or above on-demand ignored" in p5["source"]


def test_get_products_is_paginated(aws_env, pricing_fake, moto_url):
    catalog = _fetch(pricing_fake, moto_url, ["p5.48xlarge"])
    calls = pricing_fake.get_products_calls()
    # two matching p5 items at one item per page: two requests, the second carrying NextToken
    assert len(calls) == 2
    assert "NextToken" not in calls[0]["body"]
    assert calls[1]["body"]["NextToken"] == "1"
    filters = {f["Field"]: f["Value"] for f in calls[0]["body"]["Filters"]}
    assert filters == {
        "instanceType": "p5.48xlarge",
        "regionCode": "us-east-1",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }
    assert calls[0]["body"]["ServiceCode"] == "AmazonEC2"
    # the 3-yr term lives only in the second page's item
    assert _row(catalog, "p5.48xlarge")["reserved_3yr_usd_per_hour"] == pytest.approx(27.52)


def test_pricing_client_signs_for_us_east_1_while_ec2_uses_region(aws_env, pricing_fake, moto_url):
    catalog = fetch_aws_catalog(
        ["g5.xlarge"],
        region="eu-west-1",
        endpoint_urls={"pricing": pricing_fake.url, "ec2": moto_url, "savingsplans": pricing_fake.url},
        today=TODAY,
    )
    auth = pricing_fake.get_products_calls()[0]["authorization"]
    assert "/us-east-1/pricing/aws4_request" in auth
    body_filters = {
        f["Field"]: f["Value"] for f in pricing_fake.get_products_calls()[0]["body"]["Filters"]
    }
    assert body_filters["regionCode"] == "eu-west-1"
    row = _row(catalog, "g5.xlarge")
    assert row["region"] == "eu-west-1"
    assert row["on_demand_usd_per_hour"] is None  # the fake only prices us-east-1
    assert row["gpus"] == 1  # specs still come from EC2


def test_unknown_instance_has_no_prices(aws_env, pricing_fake, moto_url):
    catalog = _fetch(pricing_fake, moto_url, ["p5.48xlarge", "zz9.nonexistent"])
    row = _row(catalog, "zz9.nonexistent")
    for column in (
        "on_demand_usd_per_hour",
        "spot_usd_per_hour",
        "reserved_1yr_usd_per_hour",
        "reserved_3yr_usd_per_hour",
        "gpus",
        "gpu_model",
    ):
        assert row[column] is None, column
    assert "no spot price history" in row["source"]
    assert _row(catalog, "p5.48xlarge")["on_demand_usd_per_hour"] == pytest.approx(55.04)


def test_access_denied_is_a_catalog_error(aws_env, pricing_fake, moto_url):
    pricing_fake.error_mode = "access_denied"
    with pytest.raises(CatalogError) as info:
        _fetch(pricing_fake, moto_url, ["p5.48xlarge"])
    message = str(info.value)
    assert "AccessDeniedException" in message
    assert "pricing:GetProducts" in message
    assert "snapshot" in message
    assert "testing" not in message  # never echo credentials
    assert len(pricing_fake.get_products_calls()) == 1  # access denied is not retried


def test_throttling_is_retried_then_succeeds(aws_env, pricing_fake, moto_url, no_retry_sleep):
    pricing_fake.throttle_first = 2
    catalog = _fetch(pricing_fake, moto_url, ["g5.xlarge"])
    assert _row(catalog, "g5.xlarge")["on_demand_usd_per_hour"] == pytest.approx(fake.G5_ON_DEMAND)
    assert len(pricing_fake.get_products_calls()) == 3


def test_persistent_throttling_is_a_catalog_error(aws_env, pricing_fake, moto_url, no_retry_sleep):
    pricing_fake.error_mode = "throttle"
    with pytest.raises(CatalogError, match="throttled"):
        _fetch(pricing_fake, moto_url, ["g5.xlarge"])
    # botocore counts Config(retries={"max_attempts": 5}) as retries: 1 call + 5 retries
    assert len(pricing_fake.get_products_calls()) == 6


def test_no_credentials_is_a_catalog_error(no_aws_env, pricing_fake, moto_url):
    with pytest.raises(CatalogError, match="no AWS credentials") as info:
        _fetch(pricing_fake, moto_url, ["p5.48xlarge"], session=boto3.session.Session())
    assert "aws configure" in str(info.value)
    assert pricing_fake.get_products_calls() == []


def test_empty_instance_list_is_rejected(aws_env):
    with pytest.raises(CatalogError, match="at least one instance type"):
        fetch_aws_catalog([], today=TODAY)


def test_unknown_endpoint_key_is_rejected(aws_env):
    with pytest.raises(CatalogError, match="endpoint_urls"):
        fetch_aws_catalog(["g5.xlarge"], endpoint_urls={"s3": "http://127.0.0.1:1"}, today=TODAY)


# ---- pure helpers ---------------------------------------------------------------------------


def _spot(az, price, hour):
    return {
        "AvailabilityZone": az,
        "InstanceType": "p5.48xlarge",
        "SpotPrice": f"{price}",
        "Timestamp": dt.datetime(2026, 11, 26, hour, tzinfo=dt.UTC),
    }


def test_spot_median_uses_latest_per_az_and_ignores_on_demand_priced_azs():
    history = [
        _spot("us-east-1a", 30.0, 1),
        _spot("us-east-1a", 20.0, 5),  # latest for 1a
        _spot("us-east-1b", 24.0, 3),
        _spot("us-east-1c", 10.0, 2),
        _spot("us-east-1c", 18.0, 4),  # latest for 1c
        _spot("us-east-1d", 55.04, 4),  # at on-demand: ignored
        _spot("us-east-1e", 60.0, 4),  # above on-demand: ignored
    ]
    price, note = summarize_spot(history, 55.04)
    assert price == pytest.approx(20.0)  # median of 18, 20, 24
    assert "over 3 AZ(s)" in note
    assert "min $18/h max $24/h" in note
    assert "2 AZ(s) at or above on-demand ignored" in note


def test_spot_all_azs_at_on_demand_is_unknown_not_zero():
    price, note = summarize_spot([_spot("us-east-1a", 55.04, 1)], 55.04)
    assert price is None
    assert "no AZ below on-demand" in note
    assert summarize_spot([], 55.04) == (None, "no spot price history")


def test_reserved_effective_rate_adds_amortised_upfront():
    item = {
        "terms": {
            "Reserved": {
                "S.T1": {
                    "termAttributes": {
                        "LeaseContractLength": "3yr",
                        "OfferingClass": "standard",
                        "PurchaseOption": "No Upfront",
                    },
                    "priceDimensions": {
                        "a": {"unit": "Hrs", "pricePerUnit": {"USD": "2.0"}},
                        "b": {"unit": "Quantity", "pricePerUnit": {"USD": "2628"}},
                    },
                }
            }
        }
    }
    prices = parse_price_items([item])
    assert prices["reserved_3yr"] == pytest.approx(2.0 + 2628 / (8760 * 3))  # 2.1
    assert prices["on_demand"] is None and prices["reserved_1yr"] is None


def test_savings_plans_rates_paged_and_filtered(aws_env, pricing_fake, moto_url):
    catalog = _fetch(pricing_fake, moto_url, ["p5.48xlarge", "g5.xlarge"])
    p5 = _row(catalog, "p5.48xlarge")
    g5 = _row(catalog, "g5.xlarge")
    # Compute, No Upfront, Linux, us-east-1 only: the EC2 Instance, All Upfront, Windows and
    # us-west-2 distractors are not taken
    assert p5["savings_plan_1yr_usd_per_hour"] == pytest.approx(fake.P5_SP_1YR)
    assert p5["savings_plan_3yr_usd_per_hour"] == pytest.approx(fake.P5_SP_3YR)
    assert g5["savings_plan_1yr_usd_per_hour"] == pytest.approx(fake.G5_SP_1YR)
    assert g5["savings_plan_3yr_usd_per_hour"] == pytest.approx(fake.G5_SP_3YR)
    assert "Savings Plans describe_savings_plans_offering_rates (Compute, No Upfront)" in p5["source"]
    calls = pricing_fake.savings_plans_calls()
    # page size 1: the p5 has two matching rates (1 and 3 years) -> two pages, and the request
    # carries the filters that select the right offerings
    p5_calls = [c for c in calls if {"name": "instanceType", "values": ["p5.48xlarge"]}
                in c["body"]["filters"]]
    assert len(p5_calls) == 2 and p5_calls[1]["body"]["nextToken"] == "1"
    body = p5_calls[0]["body"]
    assert body["savingsPlanTypes"] == ["Compute"]
    assert body["savingsPlanPaymentOptions"] == ["No Upfront"]
    assert {"name": "region", "values": ["us-east-1"]} in body["filters"]


def test_savings_plans_access_denied_leaves_rates_unknown(aws_env, pricing_fake, moto_url):
    pricing_fake.savings_plans_error = "access_denied"
    catalog = _fetch(pricing_fake, moto_url, ["g5.xlarge"])
    g5 = _row(catalog, "g5.xlarge")
    assert g5["savings_plan_1yr_usd_per_hour"] is None
    assert g5["savings_plan_3yr_usd_per_hour"] is None
    assert g5["on_demand_usd_per_hour"] == pytest.approx(fake.G5_ON_DEMAND)  # the rest still works
    assert "Savings Plans n/a" in g5["source"]
    assert "savingsplans:DescribeSavingsPlansOfferingRates" in g5["source"]


def test_savings_plans_other_errors_fail_clearly(aws_env, pricing_fake, moto_url):
    pricing_fake.savings_plans_error = "validation"
    with pytest.raises(CatalogError, match="savingsplans"):
        _fetch(pricing_fake, moto_url, ["g5.xlarge"])


def test_parse_savings_plan_rates_takes_the_lowest_matching_rate():
    from costmodels.providers.aws import parse_savings_plan_rates

    results = [fake._sp_rate("g5.xlarge", 1, 0.80), fake._sp_rate("g5.xlarge", 1, 0.75),
               fake._sp_rate("g5.2xlarge", 1, 0.10),
               fake._sp_rate("g5.xlarge", 1, 0.01, region="eu-west-1", usage_prefix="EU-"),
               fake._sp_rate("g5.xlarge", 3, 0.52)]
    assert parse_savings_plan_rates(results, "g5.xlarge", "us-east-1") == {1: 0.75, 3: 0.52}
    assert parse_savings_plan_rates([], "g5.xlarge", "us-east-1") == {1: None, 3: None}
