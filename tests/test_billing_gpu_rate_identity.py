"""Issue 15, item 5: every GPU row of ``planner billing review`` satisfies cost / GPU-hours =
$/GPU-hour, with the used cost and the unused commitment shown apart (used + unused = effective).

Driven through the CLI as a user runs it, on the generated billing samples the review tests use
(unused Reserved Instance rows on GPU instances), on a hand-built AWS CUR with an ``RIFee`` line
carrying unused reservation fees, and on a hand-built FOCUS file with an ``Unused`` commitment
row that reports hours.  At least one row is computed by hand, independently of the review.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from tests.costmodels.billing.test_readers import CUR_HEADER, RI, _cur_row, _write
from tests.costmodels.billing.test_review_data import UTC, frame_from_rows, generate_focus

runner = CliRunner()
REL = 1e-9
RATE_KEYS = (("effective_usd", "effective_usd_per_gpu_hour"),
             ("used_usd", "used_usd_per_gpu_hour"),
             ("list_usd", "list_usd_per_gpu_hour"))


def _review(paths: list[str], *extra: str, fmt: str = "json") -> str:
    result = runner.invoke(app, ["billing", "review", *paths, "--format", fmt, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def _review_json(paths: list[str], *extra: str) -> dict[str, Any]:
    return json.loads(_review(paths, *extra))


def _rows_by_key(doc: dict[str, Any]) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    return {(r["instance_type"], r["purchase_option"]): r for r in doc["gpu"]["rates"]}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


def assert_identities(doc: dict[str, Any]) -> None:
    """Every row: used + unused = effective, each cost / GPU-hours = its rate (None when the
    GPU-hours are unknown); the GPU totals are the sums of the rows."""
    gpu = doc["gpu"]
    assert gpu is not None and gpu["rates"]
    rated = [r for r in gpu["rates"] if r["gpu_hours"] is not None]
    for r in rated:  # the issue itself, in the keys the review has always had
        assert _close(r["effective_usd"] / r["gpu_hours"], r["effective_usd_per_gpu_hour"]), r
    for r in gpu["rates"]:
        name = (r["instance_type"], r["purchase_option"])
        assert _close(r["used_usd"] + r["unused_commitment_usd"], r["effective_usd"]), name
        if r["gpu_hours"] is None:
            for _, rate in RATE_KEYS:
                assert r[rate] is None, (name, rate)
            continue
        assert r["gpu_hours"] > 0, name
        for cost, rate in RATE_KEYS:
            assert _close(r[cost] / r["gpu_hours"], r[rate]), (name, cost, r[cost],
                                                               r["gpu_hours"], r[rate])
    for key in ("effective_usd", "used_usd", "unused_commitment_usd", "list_usd"):
        assert _close(sum(r[key] for r in gpu["rates"]), gpu[key]), key
    assert _close(gpu["used_usd"] + gpu["unused_commitment_usd"], gpu["effective_usd"])
    hours = sum(r["gpu_hours"] for r in rated)
    assert _close(hours, gpu["gpu_hours"])
    assert _close(sum(r["effective_usd"] for r in rated), gpu["rated_effective_usd"])
    assert _close(gpu["rated_effective_usd"] + gpu["unrated_usd"], gpu["effective_usd"])
    for cost, rate in RATE_KEYS:
        assert _close(sum(r[cost] for r in rated) / hours, gpu[rate]), rate
    assert _close(gpu["rated_effective_usd"] / gpu["gpu_hours"],
                  gpu["effective_usd_per_gpu_hour"])
    # GPU spend is part of the month's effective total
    assert gpu["effective_usd"] <= doc["current"]["effective_usd"] + 1e-6


# ----------------------------------------------------------------------------- generated samples

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[pl.DataFrame, list[str]]:
    """The review CLI tests' sample: October in progress (Parquet), August and September (CSV)."""
    folder = tmp_path_factory.mktemp("gpu-rate")
    df = generate_focus(6_000, seed=21, until=dt.datetime(2026, 10, 20, tzinfo=UTC))
    df = df.drop("x_SourceFile", "x_SourceRow")
    october = pl.col("BillingPeriodStart").dt.month() == 10
    df.filter(october).write_parquet(folder / "focus-2026-10.parquet")
    df.filter(~october).write_csv(folder / "focus-2026-08-09.csv")
    return df, [str(folder / "focus-2026-10.parquet"), str(folder / "focus-2026-08-09.csv")]


def _hand_row(df: pl.DataFrame, month: int, instance: str, option: str) -> dict[str, float]:
    """One GPU row computed in plain Python from the rows themselves."""
    used = unused = list_used = gpu_hours = 0.0
    for r in df.filter((pl.col("BillingPeriodStart").dt.month() == month)
                       & (pl.col("x_InstanceType") == instance)
                       & (pl.col("x_PurchaseOption") == option)).iter_rows(named=True):
        if r["CommitmentDiscountStatus"] == "Unused":
            unused += r["EffectiveCost"]
            continue
        used += r["EffectiveCost"]
        list_used += r["ListCost"]
        if r["ChargeCategory"] == "Usage" and (r["x_UsageHours"] or 0) > 0 and r["x_GpuCount"]:
            gpu_hours += r["x_UsageHours"] * r["x_GpuCount"]
    return {"used": used, "unused": unused, "list": list_used, "gpu_hours": gpu_hours}


@pytest.mark.parametrize("month", ["2026-10", "2026-09", "2026-08"])
def test_generated_samples_every_gpu_row_adds_up(generated, month):
    df, paths = generated
    doc = _review_json(paths, "--month", month)
    assert_identities(doc)
    by = _rows_by_key(doc)
    # the generated unused RI rows sit on reserved GPU rows: the case of the issue
    assert any(r["unused_commitment_usd"] > 0 for r in by.values())
    for r in by.values():
        if r["unused_commitment_usd"] > 0 and r["gpu_hours"]:
            assert r["effective_usd_per_gpu_hour"] > r["used_usd_per_gpu_hour"]
    m = int(month[-2:])
    gpu_rows = df.filter((pl.col("BillingPeriodStart").dt.month() == m)
                         & (pl.col("x_GpuCount") > 0))
    assert _close(doc["gpu"]["effective_usd"], float(gpu_rows["EffectiveCost"].sum()))
    unused = gpu_rows.filter(pl.col("CommitmentDiscountStatus") == "Unused")
    assert _close(doc["gpu"]["unused_commitment_usd"], float(unused["EffectiveCost"].sum()))


def test_generated_g5_reserved_row_is_hand_computed(generated):
    df, paths = generated
    row = _rows_by_key(_review_json(paths, "--month", "2026-10"))[("g5.xlarge", "reserved")]
    hand = _hand_row(df, 10, "g5.xlarge", "reserved")
    assert hand["unused"] > 0 and hand["gpu_hours"] > 0
    assert row["used_usd"] == pytest.approx(hand["used"], rel=REL)
    assert row["unused_commitment_usd"] == pytest.approx(hand["unused"], rel=REL)
    assert row["effective_usd"] == pytest.approx(hand["used"] + hand["unused"], rel=REL)
    assert row["gpu_hours"] == pytest.approx(hand["gpu_hours"], rel=REL)
    assert row["effective_usd_per_gpu_hour"] == pytest.approx(
        (hand["used"] + hand["unused"]) / hand["gpu_hours"], rel=REL)
    # the used-only rate is the reservation's 40 % discount on g5.xlarge's $1.006 list price
    assert row["used_usd_per_gpu_hour"] == pytest.approx(1.006 * 0.6, rel=REL)
    assert row["list_usd_per_gpu_hour"] == pytest.approx(1.006, rel=REL)


# ----------------------------------------------------------------------------- every format

_MONEY = re.compile(r"^-?\$?-?[\d,]+(\.\d+)?$")


def _num(cell: str) -> float | None:
    cell = cell.strip()
    if cell == "n/a":
        return None
    assert _MONEY.match(cell), cell
    return float(cell.replace("$", "").replace(",", ""))


def _text_rows(text: str, fmt: str) -> list[dict[str, str]]:
    """The GPU table of a Markdown or terminal review, as dicts keyed by the headers."""
    section = text.split("GPU spend", 1)[1].split("Commitments", 1)[0]
    if fmt == "markdown":
        lines = [ln for ln in section.splitlines() if ln.startswith("|")]
        cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
        header, body = cells[0], cells[2:]
    else:
        lines = [ln for ln in section.splitlines() if ln.startswith(("┃", "│"))]
        cells = [[c.strip() for c in re.split(r"[┃│]", ln)[1:-1]] for ln in lines]
        header, body = cells[0], cells[1:]
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_every_format_shows_used_unused_and_a_rate_that_divides(generated, fmt):
    _, paths = generated
    wide = ["--wide"] if fmt == "table" else []  # one table, its columns found by header
    text = _review(paths, "--month", "2026-10", *wide, fmt=fmt)
    doc = _review_json(paths, "--month", "2026-10")
    if fmt == "html":
        for header in ("used", "unused", "effective", "GPU-h", "eff $/GPU-h", "used $/GPU-h"):
            assert f"<th>{header}</th>" in text or f'">{header}</th>' in text, header
        row = _rows_by_key(doc)[("g5.xlarge", "reserved")]
        assert f"${row['effective_usd_per_gpu_hour']:.4f}" in text
        return
    rows = _text_rows(text, fmt)
    assert len(rows) == len(doc["gpu"]["rates"])
    checked = 0
    for r in rows:
        used, unused, eff = _num(r["used"]), _num(r["unused"]), _num(r["effective"])
        assert abs(used + unused - eff) <= 0.011, r
        hours, rate = _num(r["GPU-h"]), _num(r["eff $/GPU-h"])
        if hours is None:
            assert rate is None and _num(r["used $/GPU-h"]) is None, r
            continue
        # display rounding: GPU-h to 0.05, money to $0.005, rates to 4 decimals
        tol = rate * (0.05 / hours + 0.005 / max(abs(eff), 0.005)) + 6e-5
        assert abs(eff / hours - rate) <= tol, r
        used_rate = _num(r["used $/GPU-h"])
        assert abs(used / hours - used_rate) <= used_rate * (0.05 / hours + 0.005 / used) + 6e-5
        checked += 1
    assert checked == len([r for r in doc["gpu"]["rates"] if r["gpu_hours"]])


# ----------------------------------------------------------------------------- hand-built bills

def _cur_with_unused_reservation(path: Path) -> Path:
    """Three 10-hour g5.xlarge hours on a reservation ($0.6036/h effective, $1.006 list) and the
    reservation's RIFee line: $440.38 billed, of which $2.00 upfront and $4.50 recurring unused."""
    hours = {"pricing/unit": "Hrs", "lineItem/UsageAmount": "10"}
    g5 = {"lineItem/UsageType": "BoxUsage:g5.xlarge", "product/instanceType": "g5.xlarge",
          "reservation/ReservationARN": RI, "pricing/publicOnDemandRate": "1.006",
          "pricing/publicOnDemandCost": "10.06"}
    rows = [_cur_row(i, "DiscountedUsage", "0.0", **hours, **g5,
                     **{"reservation/EffectiveCost": "6.036"}) for i in (1, 2, 3)]
    rows.append(_cur_row(4, "RIFee", "440.38", **{
        "lineItem/UsageType": "HeavyUsage:g5.xlarge", "product/instanceType": "g5.xlarge",
        "reservation/ReservationARN": RI, "lineItem/UsageAmount": "730", "pricing/unit": "Hrs",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "2.0",
        "reservation/UnusedRecurringFee": "4.5"}))
    rows.append(_cur_row(5, "Usage", "3.018", **hours, **{
        "lineItem/UsageType": "SpotUsage:g5.xlarge", "pricing/term": "Spot",
        "product/instanceType": "g5.xlarge", "pricing/publicOnDemandRate": "1.006"}))
    return _write(path, CUR_HEADER, rows)


def test_cur_reservation_fee_is_unused_commitment_in_the_rate(tmp_path):
    doc = _review_json([str(_cur_with_unused_reservation(tmp_path / "cur.csv"))])
    assert_identities(doc)
    by = _rows_by_key(doc)
    ri = by[("g5.xlarge", "reserved")]
    assert ri["gpu_hours"] == pytest.approx(30.0)
    assert ri["used_usd"] == pytest.approx(3 * 6.036)
    assert ri["unused_commitment_usd"] == pytest.approx(6.5)
    assert ri["effective_usd"] == pytest.approx(18.108 + 6.5)
    assert ri["effective_usd_per_gpu_hour"] == pytest.approx(24.608 / 30)
    assert ri["used_usd_per_gpu_hour"] == pytest.approx(0.6036)
    # list price of the used hours only: the RI fee's billed amount is not a list price
    assert ri["list_usd"] == pytest.approx(30.18)
    assert ri["list_usd_per_gpu_hour"] == pytest.approx(1.006)
    spot = by[("g5.xlarge", "spot")]
    assert spot["unused_commitment_usd"] == 0.0
    assert spot["effective_usd_per_gpu_hour"] == pytest.approx(0.3018)
    gpu = doc["gpu"]
    assert gpu["gpu_hours"] == pytest.approx(40.0)
    assert gpu["effective_usd_per_gpu_hour"] == pytest.approx((24.608 + 3.018) / 40)
    assert gpu["unrated_usd"] == 0.0


def _focus_rows() -> list[dict[str, Any]]:
    h100 = {"x_InstanceType": "p5.48xlarge", "x_GpuModel": "NVIDIA H100", "x_GpuCount": 8}
    a100 = {"x_InstanceType": "p4d.24xlarge", "x_GpuModel": "NVIDIA A100", "x_GpuCount": 8}
    ri = {"x_PurchaseOption": "reserved", "BilledCost": 0.0, "CommitmentDiscountId": "ri-1",
          "CommitmentDiscountType": "Reserved Instance", "PricingCategory": "Committed"}
    return [
        # reserved H100: 4 h used at $60/h (list $98.32/h) and 2 unused RI hours at $60/h that
        # the FOCUS file reports with their hours (and their list cost, as the spec's examples)
        dict(h100, **ri, x_UsageHours=4.0, EffectiveCost=240.0, ListCost=393.28,
             ContractedCost=393.28, CommitmentDiscountStatus="Used"),
        dict(h100, **ri, x_UsageHours=2.0, EffectiveCost=120.0, ListCost=196.64,
             ContractedCost=196.64, CommitmentDiscountStatus="Unused"),
        # on-demand H100: 1 h
        dict(h100, x_PurchaseOption="on_demand", x_UsageHours=1.0, EffectiveCost=98.32),
        # a reserved A100 commitment nobody used this month: a cost, no GPU-hours, rate n/a
        dict(a100, **ri, x_UsageHours=3.0, EffectiveCost=59.0, ListCost=98.31,
             ContractedCost=98.31, CommitmentDiscountStatus="Unused"),
        # a GPU instance with an unknown GPU count: in GPU spend, rate n/a
        {"x_InstanceType": "mystery.gpu", "x_GpuModel": "NVIDIA L4",
         "x_PurchaseOption": "on_demand", "x_UsageHours": 2.0, "EffectiveCost": 5.0},
        {"ServiceName": "Amazon S3", "EffectiveCost": 12.0},
    ]


def test_focus_unused_hours_are_cost_not_gpu_hours(tmp_path):
    path = tmp_path / "focus.parquet"
    frame_from_rows(_focus_rows()).collect().drop("x_SourceFile", "x_SourceRow") \
        .write_parquet(path)
    doc = _review_json([str(path)])
    assert_identities(doc)
    by = _rows_by_key(doc)
    ri = by[("p5.48xlarge", "reserved")]
    assert ri["gpu_hours"] == pytest.approx(32.0) and ri["usage_hours"] == pytest.approx(4.0)
    assert (ri["used_usd"], ri["unused_commitment_usd"]) == pytest.approx((240.0, 120.0))
    assert ri["effective_usd_per_gpu_hour"] == pytest.approx(360.0 / 32)
    assert ri["used_usd_per_gpu_hour"] == pytest.approx(240.0 / 32)
    assert ri["list_usd_per_gpu_hour"] == pytest.approx(98.32 / 8)
    idle = by[("p4d.24xlarge", "reserved")]
    assert idle["unused_commitment_usd"] == pytest.approx(59.0) and idle["gpu_hours"] is None
    assert idle["effective_usd_per_gpu_hour"] is None
    mystery = by[("mystery.gpu", "on_demand")]
    assert mystery["effective_usd"] == pytest.approx(5.0) and mystery["gpu_hours"] is None
    gpu = doc["gpu"]
    assert gpu["effective_usd"] == pytest.approx(360.0 + 98.32 + 59.0 + 5.0)
    assert gpu["unrated_usd"] == pytest.approx(59.0 + 5.0)
    assert gpu["gpu_hours"] == pytest.approx(40.0)
    assert gpu["effective_usd_per_gpu_hour"] == pytest.approx((360.0 + 98.32) / 40)
    md = _review([str(path)], fmt="markdown")
    assert "| p4d.24xlarge | reserved | NVIDIA A100 |" in md
    p4d = next(ln for ln in md.splitlines() if ln.startswith("| p4d.24xlarge"))
    assert "n/a" in p4d and "$0.0000" not in p4d
