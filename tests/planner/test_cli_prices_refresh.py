"""``planner prices refresh`` end to end against moto's EC2 server and the Pricing API fake.

Refresh writes a Parquet cache; ``prices list`` and scenario runs then use it and say so.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")


from costmodels.catalog import SNAPSHOT_LABEL
from planner.cli.main import app
from planner.run import run_scenario
from planner.schema import parse_scenario
from tests.costmodels.fakes import aws_pricing as fake

runner = CliRunner()
P5_PRICE = 61.25  # differs from the snapshot's 55.04
G5_PRICE = 1.25  # differs from the snapshot's 1.006


@pytest.fixture(scope="module")
def moto_url():
    with fake.moto_server() as url:
        yield url


def _set_on_demand(items, instance_type, usd):
    for item in items:
        attrs = item["product"]["attributes"]
        if attrs["instanceType"] != instance_type or attrs["operatingSystem"] != "Linux" \
                or attrs["capacitystatus"] != "Used":
            continue
        for term in item["terms"].get("OnDemand", {}).values():
            for dim in term["priceDimensions"].values():
                dim["pricePerUnit"]["USD"] = f"{usd:.10f}"


@pytest.fixture()
def pricing_fake():
    items = fake.default_items()
    _set_on_demand(items, "p5.48xlarge", P5_PRICE)
    _set_on_demand(items, "g5.xlarge", G5_PRICE)
    with fake.FakePricingServer(items=items) as server:
        yield server


@pytest.fixture()
def cache(monkeypatch, tmp_path):
    fake.isolate_aws_env(monkeypatch, tmp_path)
    folder = tmp_path / "prices"
    monkeypatch.setenv("PLANNER_PRICE_CACHE", str(folder))
    return folder


def _refresh(pricing_fake, moto_url, *extra):
    return runner.invoke(app, [
        "prices", "refresh", "--provider", "aws", "--instances", "p5.48xlarge,g5.xlarge",
        "--endpoint-url-pricing", pricing_fake.url, "--endpoint-url-ec2", moto_url,
        "--endpoint-url-savingsplans", pricing_fake.url, *extra])


def _scenario():
    return parse_scenario({
        "name": "t", "horizon_s": 600, "warmup_s": 60, "replications": 2, "seed": 1,
        "workloads": [{"name": "w", "kind": "inference",
                       "arrivals": {"kind": "poisson", "rate_rps": 20}}],
        "designs": [{"name": "d", "workload": "w", "pattern": "realtime",
                     "fleet": {"instance": "aws:g5.xlarge", "nodes": 1},
                     "batching": {"max_batch": 1, "max_wait_ms": 0},
                     "service_time": {"kind": "exponential", "mean_ms": 10}}],
    })


def test_refresh_writes_parquet_and_list_shows_the_refreshed_price(cache, pricing_fake, moto_url):
    result = _refresh(pricing_fake, moto_url)
    assert result.exit_code == 0, result.output
    files = sorted(cache.glob("aws-*.parquet"))
    assert len(files) == 1
    assert str(files[0]) in result.stderr and "wrote 2 rows" in result.stderr
    assert "refreshed aws prices in us-east-1: 2 instance types" in result.stdout
    assert len(pricing_fake.get_products_calls()) >= 2

    listed = runner.invoke(app, ["prices", "list", "--provider", "aws", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    doc = json.loads(listed.stdout)
    rows = {r["instance_type"]: r for r in doc["rows"]}
    assert rows["p5.48xlarge"]["on_demand_usd_per_hour"] == pytest.approx(P5_PRICE)
    assert rows["g5.xlarge"]["on_demand_usd_per_hour"] == pytest.approx(G5_PRICE)
    assert "g6.xlarge" in rows  # other aws instances still come from the snapshot

    table = runner.invoke(app, ["prices", "list", "--provider", "aws", "--instance", "p5.48"])
    assert table.exit_code == 0, table.output
    assert "$61.25" in table.stdout and "Catalog: cache (aws fetched " in table.stdout

    forced = runner.invoke(app, ["prices", "list", "--provider", "aws", "--instance", "p5.48",
                                 "--snapshot"])
    assert forced.exit_code == 0, forced.output
    assert "$55.04" in forced.stdout and f"Catalog: {SNAPSHOT_LABEL}, as of" in forced.stdout


def test_scenario_reports_the_snapshot_then_the_cache(cache, pricing_fake, moto_url):
    before = run_scenario(_scenario())
    assert before.assumptions["price_catalog"] == SNAPSHOT_LABEL
    assert before.design("d").cost.usd_per_hour == pytest.approx(1.006)

    result = _refresh(pricing_fake, moto_url, "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output

    after = run_scenario(_scenario())
    label = after.assumptions["price_catalog"]
    assert label.startswith("cache (aws fetched ") and "built-in snapshot (gcp" in label
    assert after.design("d").cost.catalog.startswith("cache (aws fetched ")
    assert after.design("d").cost.usd_per_hour == pytest.approx(G5_PRICE)


def test_gcp_refresh_without_credentials_is_a_clear_error(cache, tmp_path, monkeypatch):
    """No Application Default Credentials: exit 1 with the fix, no cache, no network probe."""
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata-server probe
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud user credentials either
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    result = runner.invoke(app, ["prices", "refresh", "--provider", "gcp"])
    assert result.exit_code == 1
    assert "credentials" in result.stderr.lower()
    assert "built-in snapshot" in result.stderr
    assert not cache.exists() or not any(cache.glob("*.parquet"))


def test_refresh_error_exits_1_with_the_message(cache, pricing_fake, moto_url):
    pricing_fake.error_mode = "access_denied"
    result = _refresh(pricing_fake, moto_url)
    assert result.exit_code == 1
    assert "AccessDeniedException" in result.stderr and "pricing:GetProducts" in result.stderr
    assert not cache.exists() or not any(cache.glob("*.parquet"))


def test_corrupt_cache_makes_list_fail_with_the_fix(cache):
    cache.mkdir()
    bad = cache / "aws-20261126T100000Z.parquet"
    bad.write_bytes(b"not parquet")
    result = runner.invoke(app, ["prices", "list"])
    assert result.exit_code == 1
    assert "aws-20261126T100000Z.parquet" in result.stderr and "delete" in result.stderr
    assert runner.invoke(app, ["prices", "list", "--snapshot"]).exit_code == 0
