"""``planner billing review`` and ``planner billing rates`` on FOCUS files the tests write."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from typer.testing import CliRunner

pytest.importorskip("costmodels.billing.readers")

from costmodels.billing.review import monthly_review
from planner.cli.main import app
from tests.costmodels.billing.test_review_data import UTC, generate_focus

runner = CliRunner()
UNTIL = dt.datetime(2026, 10, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def focus_files(tmp_path_factory) -> tuple[pl.DataFrame, list[str]]:
    """The generated rows as a FOCUS 1.2 Parquet file and a CSV file (split by month)."""
    folder = tmp_path_factory.mktemp("focus")
    df = generate_focus(6_000, seed=21, until=UNTIL).drop("x_SourceFile", "x_SourceRow")
    parquet = folder / "focus-2026-10.parquet"
    csv = folder / "focus-2026-08-09.csv"
    october = pl.col("BillingPeriodStart").dt.month() == 10
    df.filter(october).write_parquet(parquet)
    df.filter(~october).write_csv(csv)
    return df, [str(parquet), str(csv)]


def _invoke(*args: str):
    return runner.invoke(app, ["billing", *args])


def test_review_json_equals_the_library_on_the_same_rows(focus_files):
    df, paths = focus_files
    result = _invoke("review", *paths, "--format", "json", "--group-by", "tag:team")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    want = monthly_review(df.lazy(), group_by="tag:team").to_dict()
    for key in ("billed_usd", "effective_usd", "list_usd", "n_rows"):
        assert doc["current"][key] == pytest.approx(want["current"][key], rel=1e-9)
        assert doc["previous"][key] == pytest.approx(want["previous"][key], rel=1e-9)
    assert [m["group"] for m in doc["movers"]] == [m["group"] for m in want["movers"]]
    assert doc["gpu"]["gpu_hours"] == pytest.approx(want["gpu"]["gpu_hours"], rel=1e-9)
    assert doc["forecast"]["point_usd"] == pytest.approx(want["forecast"]["point_usd"], rel=1e-9)
    assert doc["notes"][0].startswith("reconciliation: rows 6,")
    assert "balanced" in result.stderr and "oddities: 0" in result.stderr


def test_review_table_and_markdown_state_the_rules_and_freshness(focus_files):
    _, paths = focus_files
    result = _invoke("review", *paths, "--as-of", "2026-10-21")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Monthly cost review 2026-10 (by service)", "Top movers by service",
                 "eff $/GPU-h", "coverage (hours)", "Month-end forecast", "90% interval",
                 "latest charge period end 2026-10-20 00:00 UTC (1.0 days before 2026-10-21)",
                 "cost basis: EffectiveCost", "anomaly rule:", "forecast method:"):
        assert text in out, text
    assert "\x1b[" not in out
    md = _invoke("review", *paths, "--format", "markdown", "--month", "2026-08").stdout
    assert md.startswith("# Monthly cost review 2026-08")
    assert "n/a: the data has no rows for 2026-07." in md
    assert "n/a: 2026-08 is complete." in md and "$0.00 |" not in md.split("## GPU")[0]


def test_review_html_is_self_contained_with_the_charts(focus_files, tmp_path):
    _, paths = focus_files
    target = tmp_path / "review.html"
    result = _invoke("review", *paths, "--format", "html", "--group-by", "account",
                     "--output", str(target))
    assert result.exit_code == 0, result.output
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src=" not in page
    for div in ('id="daily-cost"', 'id="forecast"', 'id="movers"', 'id="gpu-rates"'):
        assert div in page
    assert "ml-prod (000123456789)" in page


def test_rates_formats(focus_files):
    _df, paths = focus_files
    csv = _invoke("rates", *paths, "--format", "csv")
    assert csv.exit_code == 0, csv.output
    frame = pl.read_csv(csv.stdout.encode())
    assert {"p5.48xlarge", "g5.xlarge", "m5.2xlarge"} <= set(frame["instance_type"])
    assert set(frame["purchase_option"]) == {"on_demand", "spot", "reserved", "savings_plan"}
    doc = json.loads(_invoke("rates", *paths, "--format", "json", "--month", "2026-09").stdout)
    assert doc["billing_period"] == "2026-09" and doc["rows"]
    table = _invoke("rates", *paths).stdout
    assert "Effective rates, billing period 2026-10" in table and "n/a" in table  # CPU GPUs


@pytest.mark.parametrize("args, message, code", [
    (["--month", "2026-13"], "is not YYYY-MM", 2),  # a malformed option: a usage error
    (["--month", "2025-01"], "has no billing rows", 1),  # well formed, not in the data
    (["--group-by", "team"], "is not service, account or tag:<key>", 2),
    (["--as-of", "yesterday"], "is not a date", 2),
])
def test_option_mistakes_exit_2_and_data_mistakes_1(focus_files, args, message, code):
    _, paths = focus_files
    result = _invoke("review", *paths, *args)
    assert result.exit_code == code and message in " ".join(result.output.replace("│", " ").split())
    assert "Traceback" not in result.output


def test_a_missing_input_is_a_user_error(tmp_path):
    result = _invoke("review", str(tmp_path / "nope.parquet"))
    assert result.exit_code == 1 and "error:" in result.stderr
    result = _invoke("rates", str(tmp_path / "nope.parquet"))
    assert result.exit_code == 1
