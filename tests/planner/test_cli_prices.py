"""``planner prices list``: filters, formats, unknown prices, empty results and bad options."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from costmodels.catalog import load_snapshot
from planner.cli.main import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["prices", "list", *args])


def _json(*args: str) -> dict:
    result = _run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gpu_and_provider_filters_give_the_p5_rows_with_their_price():
    result = _run("--gpu", "H100", "--provider", "aws")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "p5.48xlarge" in out and "p5.4xlarge" in out
    assert "$55.04" in out and "$20.20 (-63%)" in out
    assert "8 × NVIDIA H100 (80 GiB)" in out
    assert "gcp" not in out.split("Catalog:")[0] and "a3-highgpu" not in out
    assert "Catalog: built-in snapshot, as of 2026-01-21" in out
    assert "@7412fd2 " in out and "7412fd256c5e" not in out
    prose = " ".join(out.split())
    assert "public list prices in USD per hour, Linux, shared tenancy, no discounts" in prose


def test_filters_are_case_insensitive_substrings_except_region():
    doc = _json("--provider", "GCP", "--gpu", "h100", "--instance", "A3-HIGH")
    assert [r["instance_type"] for r in doc["rows"]] == [
        "a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g", "a3-highgpu-8g"]
    assert {r["region"] for r in _json("--region", "us-east4")["rows"]} == {"us-east4"}


def test_json_equals_the_catalog_row_for_row():
    doc = _json("--provider", "gcp", "--gpu", "A100 80GB")
    catalog = load_snapshot()
    expected = catalog.frame.filter(
        (pl.col("provider") == "gcp") & pl.col("gpu_model").str.contains("A100 80GB")
    ).to_dicts()
    assert len(doc["rows"]) == len(expected) == 4
    for got, want in zip(doc["rows"], expected, strict=True):
        assert {k: got[k] for k in want} == want
        assert got["usd_per_gpu_hour"] == pytest.approx(want["on_demand_usd_per_hour"]
                                                         / want["gpus"])
        assert got["spot_discount_pct"] == pytest.approx(
            100 * (1 - want["spot_usd_per_hour"] / want["on_demand_usd_per_hour"]))
    assert doc["catalog"] == "built-in snapshot"
    assert doc["as_of"] == "2026-07-30"


def test_unknown_prices_are_null_in_json_and_na_in_the_table():
    (row,) = _json("--instance", "p5e.48xlarge")["rows"]
    for key in ("on_demand_usd_per_hour", "spot_usd_per_hour", "reserved_1yr_usd_per_hour",
                "reserved_3yr_usd_per_hour", "savings_plan_1yr_usd_per_hour",
                "savings_plan_3yr_usd_per_hour", "usd_per_gpu_hour", "spot_discount_pct"):
        assert row[key] is None
    table = _run("--instance", "p5e.48xlarge", "--wide").stdout
    line = next(li for li in table.splitlines() if "p5e.48xlarge" in li)
    assert line.count("n/a") == 7
    assert "$0" not in line
    stacked = _run("--instance", "p5e.48xlarge").stdout  # fitted: the row over several tables
    rows = [li for li in stacked.splitlines() if "p5e.48xlarge" in li]
    assert sum(li.count("n/a") for li in rows) == 7 and "$0" not in stacked


def test_csv_parses_back_with_polars(tmp_path):
    out = tmp_path / "prices.csv"
    result = _run("--gpu", "a10g", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    frame = pl.read_csv(out)
    assert frame.height == 8
    assert set(frame["gpu_model"]) == {"NVIDIA A10G"}
    assert frame.filter(pl.col("instance_type") == "g5.8xlarge")["spot_usd_per_hour"][0] == 0.93
    assert "usd_per_gpu_hour" in frame.columns
    stdout = pl.read_csv(io.StringIO(_run("--gpu", "A10G", "-f", "csv").stdout))
    assert stdout.equals(frame)
    assert stdout["spot_usd_per_hour"].null_count() > 0  # unknown stays empty, not 0


def test_sort_by_gpu_price_puts_the_cheapest_first():
    rows = _json("--gpu", "H100", "--sort", "gpu_price")["rows"]
    prices = [r["usd_per_gpu_hour"] for r in rows]
    assert prices == sorted(prices)
    assert rows[0]["usd_per_gpu_hour"] == pytest.approx(6.88)  # aws p5, vs >= $11 on gcp
    assert rows[0]["provider"] == "aws"
    assert rows[-1]["instance_type"] == "a3-megagpu-8g"


def test_sort_puts_unknown_prices_last():
    rows = _json("--gpu", "H200", "--sort", "on_demand")["rows"]
    assert [r["instance_type"] for r in rows] == ["p5en.48xlarge", "p5e.48xlarge"]


def test_no_rows_exits_1_naming_filters_and_choices():
    result = _run("--provider", "aws", "--gpu", "B200")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert "--provider aws --gpu B200" in message
    assert "NVIDIA H100" in message and "change or drop a filter" in message


def test_bad_provider_is_a_usage_error_listing_the_choices():
    result = _run("--provider", "azure")
    assert result.exit_code == 2
    assert "aws" in result.output and "gcp" in result.output
