"""An instance the price catalog does not know is an input error, unless the scenario prices it.

Issue 15, item 8: ``aws:g5.xxlarge`` used to run with n/a costs and exit 0.  Now the input phase
(before any simulation) rejects it with the file, the field path, the value, a did-you-mean and
the ways to price a real instance the catalog lacks; an effective rate (or billing exports that
show it) makes it runnable.  A purchase option the catalog lacks for a known instance stays
runnable with cost n/a, and its note says where to get the price.  Every test goes through the
``planner`` command a user runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app

runner = CliRunner()

SCENARIO = """
name: unknown-instance
horizon_s: 30
warmup_s: 2
replications: 2
seed: 5
workloads:
  - name: w
    kind: inference
    arrivals: {kind: poisson, rate_rps: 50}
    slo: {percentile: 99, latency_ms: 100}
designs:
  - name: known
    workload: w
    pattern: realtime
    fleet: {instance: aws:g5.xlarge, nodes: 1}
    service_time: {kind: constant, ms: 5}
  - name: other
    workload: w
    pattern: realtime
    fleet: {instance: INSTANCE, nodes: 2}
    service_time: {kind: constant, ms: 5}
"""

RATE = """
pricing:
  effective_rates:
    - {instance: aws:g5.xxlarge, purchase: on_demand, usd_per_hour: 2.5, source: vendor quote,
       as_of: "2026-10-31"}
"""


def _write(tmp_path: Path, instance: str, extra: str = "", name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SCENARIO.replace("INSTANCE", instance) + extra)
    return path


def _run(path: Path, *args: str):
    return runner.invoke(app, ["run", str(path), "-q", *args])


def _input_error_exit_code(tmp_path: Path) -> int:
    """The exit code of another input error (a schema problem in the same scenario)."""
    path = tmp_path / "schema.yaml"
    path.write_text(SCENARIO.replace("INSTANCE", "aws:g5.xlarge").replace("nodes: 2", "nodes: 0"))
    out = _run(path)
    assert "invalid scenario" in out.output and "Traceback" not in out.output
    return out.exit_code


def test_unknown_instance_is_an_input_error_with_path_value_and_did_you_mean(tmp_path):
    path = _write(tmp_path, "aws:g5.xxlarge")
    out = _run(path)
    assert out.exit_code == _input_error_exit_code(tmp_path) != 0
    message = " ".join(out.output.split())
    assert str(path) in message
    assert ("designs[1].fleet.instance: unknown instance type, not in the price catalog "
            "(built-in snapshot") in message
    assert "(got 'aws:g5.xxlarge')" in message
    assert "did you mean aws:g5.xlarge?" in message
    # the fix for a real instance type the catalog lacks
    assert "planner prices refresh --provider aws --instances g5.xxlarge" in message
    assert "pricing.effective_rates: [{instance: aws:g5.xxlarge, purchase: on_demand" in message
    assert "Traceback" not in out.output and "simulated" not in out.output


@pytest.mark.parametrize(("written", "field_error"), [
    ("gcp:g5.xlarge", "unknown instance type"),          # wrong provider prefix
    ("g5.xlarge", "must be '<provider>:<instance_type>'"),  # missing provider prefix
    ("azure:g5.xlarge", "must be '<provider>:<instance_type>'"),  # unknown provider
])
def test_a_missing_or_wrong_provider_prefix_suggests_the_right_key(tmp_path, written,
                                                                    field_error):
    out = _run(_write(tmp_path, written))
    assert out.exit_code == _input_error_exit_code(tmp_path)
    message = " ".join(out.output.split())
    assert f"designs[1].fleet.instance: {field_error}" in message
    assert f"(got '{written}')" in message
    assert "did you mean aws:g5.xlarge?" in message
    assert "Traceback" not in out.output


def test_unknown_instance_with_an_effective_rate_runs_at_that_rate(tmp_path):
    out = _run(_write(tmp_path, "aws:g5.xxlarge", RATE), "-f", "json")
    assert out.exit_code == 0, out.output
    other = json.loads(out.stdout)["designs"][1]
    assert other["cost"]["usd_per_hour"] == pytest.approx(2 * 2.5)
    assert other["cost"]["price_source"] == "effective rate from the scenario: vendor quote"
    assert not other["cost"]["incomplete"]


def test_an_effective_rate_in_another_region_does_not_price_it(tmp_path):
    rate = RATE.replace("as_of:", "region: eu-west-1, as_of:")
    out = _run(_write(tmp_path, "aws:g5.xxlarge", rate))
    assert out.exit_code == _input_error_exit_code(tmp_path)
    assert "(got 'aws:g5.xxlarge')" in " ".join(out.output.split())


def test_unknown_instance_shown_in_the_billing_exports_runs_at_their_rate(tmp_path):
    bill = tmp_path / "focus-2026-10.csv"
    header = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,BilledCost,"
              "EffectiveCost,ListCost,ContractedCost,BillingCurrency,ChargeCategory,ServiceName,"
              "ServiceCategory,ProviderName,PublisherName,InvoiceIssuerName,BillingAccountId,"
              "RegionId,PricingQuantity,PricingUnit,x_Provider,x_InstanceType,x_UsageHours,"
              "x_PurchaseOption\n")
    row = ("2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-01T00:00:00Z,"
           "2026-10-02T00:00:00Z,60.0,60.0,60.0,60.0,USD,Usage,Amazon Elastic Compute Cloud,"
           "Compute,AWS,AWS,AWS,012345678901,us-east-1,24,Hours,aws,g5.xxlarge,24,on_demand\n")
    bill.write_text(header + row)
    pricing = f"pricing: {{source: billing, paths: [{bill}]}}\n"
    out = _run(_write(tmp_path, "aws:g5.xxlarge", pricing), "-f", "json")
    assert out.exit_code == 0, out.output
    other = json.loads(out.stdout)["designs"][1]
    assert other["cost"]["usd_per_hour"] == pytest.approx(2 * 60.0 / 24)
    assert "effective rate from billing" in other["cost"]["price_source"]


SPOT = """
  - name: spot
    workload: w
    pattern: realtime
    fleet:
      instance: aws:g5.xlarge
      nodes: 2
      purchase: spot
      spot: {interruptions: {kind: rate, per_node_hour: 0.01}}
    service_time: {kind: constant, ms: 5}
"""


def test_a_purchase_option_the_catalog_lacks_is_na_and_says_where_to_get_a_price(tmp_path):
    # the built-in snapshot has no spot price for g5.xlarge: still runnable, cost n/a
    out = _run(_write(tmp_path, "aws:g5.xlarge", SPOT), "-f", "json")
    assert out.exit_code == 0, out.output
    spot = json.loads(out.stdout)["designs"][2]
    assert spot["name"] == "spot"
    assert spot["cost"]["total_usd"] is None and spot["cost"]["incomplete"]
    text = " ".join(json.dumps(spot).split())
    assert "has no spot price for aws:g5.xlarge in us-east-1" in text
    assert ("planner prices refresh --provider aws --instances g5.xlarge --region us-east-1"
            in text)
    assert "pricing.effective_rates: [{instance: aws:g5.xlarge, purchase: spot" in text


def test_the_table_report_shows_where_to_get_a_missing_price(tmp_path):
    out = _run(_write(tmp_path, "aws:g5.xlarge", SPOT))
    assert out.exit_code == 0, out.output
    text = " ".join(out.stdout.split())
    assert "price n/a: the catalog (built-in snapshot" in text
    assert "planner prices refresh --provider aws --instances g5.xlarge" in text


SWEEP = """
sweep:
  design: known
  parameters:
    fleet.instance: ["aws:g5.xlarge", "VALUE"]
"""


@pytest.mark.parametrize(("value", "what"), [
    ("aws:g6.xxlarge", "unknown instance type, not in the price catalog"),
    ("g6.xlarge", "must be '<provider>:<instance_type>'"),
])
def test_an_unknown_instance_in_a_sweep_axis_is_an_input_error(tmp_path, value, what):
    path = _write(tmp_path, "aws:g5.xlarge", SWEEP.replace("VALUE", value))
    out = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir",
                              str(tmp_path / "out"), "--quiet"])
    assert out.exit_code == _input_error_exit_code(tmp_path), out.output
    message = " ".join(out.output.split())
    assert str(path) in message and "invalid sweep" in message
    assert f"sweep.parameters.fleet.instance: {what}" in message
    assert f"(got '{value}')" in message
    assert "did you mean aws:g6.xlarge?" in message
    assert not (tmp_path / "out").exists()  # nothing ran


def test_a_sweep_axis_value_with_an_effective_rate_runs(tmp_path):
    path = _write(tmp_path, "aws:g5.xlarge",
                  SWEEP.replace("VALUE", "aws:g5.xxlarge") + RATE)
    out = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir",
                              str(tmp_path / "out"), "--quiet", "--no-sensitivity", "-f",
                              "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["points"]
    assert {r["params"]["fleet.instance"]: r["status"] for r in rows} == {
        "aws:g5.xlarge": "ok", "aws:g5.xxlarge": "ok"}
