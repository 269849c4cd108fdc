"""GCP money on a third-party export: every row and dollar of a koku-nise file is read.

The fixture (``data/gcp``, see its README) is a GCP billing export written by koku-nise, whose
``credits`` are Python literals (``[{'name': 'FreeTrial', 'amount': -0.125, ...}]``) and whose
2026-10 invoice holds the usage of 2026-09-30.  Every expected figure is computed here from the
raw files in plain Python (Decimal), and compared with what ``planner billing review`` prints.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from costmodels.billing.readers import read_billing
from costmodels.billing.review_days import daily_costs
from planner.cli.main import app

DATA = Path(__file__).parent / "data" / "gcp"
FILES = sorted(DATA.glob("nise-gcp-*.csv.gz"))
MONTHS = ("2026-09", "2026-10")
runner = CliRunner()


# --- the independent computation ---------------------------------------------------------

def _raw(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _month_days(month: str) -> tuple[dt.date, dt.date]:
    year, mon = int(month[:4]), int(month[5:])
    first = dt.date(year, mon, 1)
    last = dt.date(year + mon // 12, mon % 12 + 1, 1) - dt.timedelta(days=1)
    return first, last


@dataclass
class Expected:
    """Rows and net cost (cost + credits) per invoice month, and per day of each month."""

    rows: dict[str, int] = field(default_factory=dict)
    net: dict[str, Decimal] = field(default_factory=dict)
    days: dict[str, dict[dt.date, Decimal]] = field(default_factory=dict)
    total: Decimal = Decimal(0)
    n: int = 0


def _expected(rows: list[dict[str, str]]) -> Expected:
    """The invoice month is the month; a row's day is the UTC day its usage starts, kept within
    its invoice month (usage that started before the month goes on its first day)."""
    out = Expected()
    for r in rows:
        month = f"{r['invoice.month'][:4]}-{r['invoice.month'][4:]}"
        credits = ast.literal_eval(r["credits"])  # the trusted fixture, for the oracle only
        net = Decimal(r["cost"]) + sum((Decimal(str(c["amount"])) for c in credits), Decimal(0))
        first, last = _month_days(month)
        day = min(max(dt.datetime.fromisoformat(r["usage_start_time"]).date(), first), last)
        out.rows[month] = out.rows.get(month, 0) + 1
        out.net[month] = out.net.get(month, Decimal(0)) + net
        days = out.days.setdefault(month, {})
        days[day] = days.get(day, Decimal(0)) + net
        out.total += net
        out.n += 1
    return out


@pytest.fixture(scope="module")
def raw_rows() -> list[dict[str, str]]:
    assert len(FILES) == 2, FILES
    return [r for path in FILES for r in _raw(path)[1]]


@pytest.fixture(scope="module")
def expected(raw_rows: list[dict[str, str]]) -> Expected:
    exp = _expected(raw_rows)
    # the fixture is what the README says: literal credits, usage from before the month
    assert exp.n == 288 and all(r["credits"].startswith(("[{'", "[]")) for r in raw_rows)
    assert min(exp.days["2026-10"]) == dt.date(2026, 10, 1)
    assert any(r["invoice.month"] == "202610" and r["usage_start_time"].startswith("2026-09-30")
               for r in raw_rows)
    return exp


def _review(paths: list[Path], month: str) -> tuple[dict[str, Any], str]:
    result = runner.invoke(app, ["billing", "review", *map(str, paths), "--month", month,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def reviews() -> dict[str, tuple[dict[str, Any], str]]:
    return {month: _review(FILES, month) for month in MONTHS}


def _write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _assert_close(got: Any, want: Any, where: str) -> None:
    """Equal, numbers to float rounding (sums in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-9), where
    else:
        assert got == want, where


# --- every row and every dollar ---------------------------------------------------------

def test_every_row_and_dollar_of_the_nise_export_is_read(expected: Expected, reviews) -> None:
    rec = read_billing([str(p) for p in FILES]).reconciliation
    assert (rec.rows_in, rec.rows_out, rec.rows_rejected) == (expected.n, expected.n, 0)
    # money in = cost + credits of every row, exact (the fixture's costs have float noise
    # past the reader's 12 exact decimals)
    assert abs(rec.money_in - expected.total) < Decimal("1e-9")
    assert abs(rec.money_out - expected.total) < Decimal("0.005") and rec.balanced
    for month in MONTHS:
        doc, stderr = reviews[month]
        assert doc["current"]["n_rows"] == expected.rows[month]
        assert doc["current"]["billed_usd"] == pytest.approx(float(expected.net[month]),
                                                             abs=1e-9)
        assert doc["current"]["effective_usd"] == pytest.approx(float(expected.net[month]),
                                                                abs=1e-9)
        assert f"{expected.n} out + 0 rejected" in stderr
    october, _ = reviews["2026-10"]
    assert october["previous"]["n_rows"] == expected.rows["2026-09"]
    assert october["previous"]["billed_usd"] == pytest.approx(float(expected.net["2026-09"]),
                                                              abs=1e-9)


def test_json_and_literal_credits_give_the_same_review(tmp_path: Path, reviews) -> None:
    folder = tmp_path / "json"
    folder.mkdir()
    for path in FILES:
        header, rows = _raw(path)
        for r in rows:
            r["credits"] = json.dumps(ast.literal_eval(r["credits"]))
        _write_csv(folder / path.name.removesuffix(".gz"), header, rows)
    json_files = sorted(folder.glob("*.csv"))
    assert all(r["credits"].startswith(('[{"', "[]")) for p in json_files
               for r in csv.DictReader(p.open(newline="")))
    for month in MONTHS:
        literal, _ = reviews[month]
        as_json, _ = _review(json_files, month)
        for key in ("current", "previous", "daily", "daily_by_group", "gpu", "movers"):
            _assert_close(as_json[key], literal[key], key)
    reads = [read_billing([str(p) for p in files]) for files in (FILES, json_files)]
    frames = [read.frame.collect()
              .sort("BillingPeriodStart", "ChargePeriodStart", "ServiceName", "SkuId",
                    "BilledCost")
              .select("BilledCost", "EffectiveCost", "ListCost", "x_CreditTypes")
              for read in reads]  # a read keeps its unzipped files while it lives
    assert frames[0].equals(frames[1])
    assert frames[0]["x_CreditTypes"].drop_nulls().unique().to_list() == ["PROMOTION"]


# --- refused credits ---------------------------------------------------------------------

_SENTINEL = "{sentinel}"
EXPRESSION = "never evaluated"
NOT_LIST = "not a list of credit records"
BAD_AMOUNT = "without a numeric amount"
TOO_LONG = "longer than"


@pytest.mark.parametrize(("payload", "reason"), [
    (f"__import__('pathlib').Path({_SENTINEL!r}).touch()", EXPRESSION),
    (f"[{{'name': 'x', 'amount': __import__('pathlib').Path({_SENTINEL!r}).touch()}}]",
     EXPRESSION),
    ("[{'name': 'x', 'amount': -0.5, 'id': (lambda: __import__('os'))()}]", EXPRESSION),
    ("[{'name': 'x', 'amount': 9**9**9}]", EXPRESSION),  # would not finish if evaluated
    ("[{'name': 'x', 'amount': -0.5, 'type': 'PROMO' + 'TION'}]", EXPRESSION),
    ("[{'name': 'x', 'amount': -0.5, 'id': {'nested': [1, 2]}}]", NOT_LIST),
    ("{'name': 'x', 'amount': -0.5}", NOT_LIST),
    ("[" * 150 + "]" * 150, NOT_LIST),
    ("[" * 5000 + "]" * 5000, NOT_LIST),
    ("[" + ", ".join(["{'name': 'x', 'amount': -0.5}"] * 5000) + "]", TOO_LONG),
    ("[{'name': 'x', 'amount': 'lots'}]", BAD_AMOUNT),
    ("[{'name': 'x', 'amount': 1e999}]", BAD_AMOUNT),
    ("[{'name': 'x', 'amount': True}]", BAD_AMOUNT),
])
def test_bad_credits_are_refused_with_their_row_and_never_evaluated(
        tmp_path: Path, payload: str, reason: str) -> None:
    sentinel = tmp_path / "evaluated"
    payload = payload.replace(repr(_SENTINEL), repr(str(sentinel)))
    header, rows = _raw(FILES[-1])
    rows = rows[:5]
    rows[2] = {**rows[2], "credits": payload}
    path = _write_csv(tmp_path / "bad-credits.csv", header, rows)

    rec = read_billing([str(path)]).reconciliation
    (bad,) = rec.rejected
    assert (bad.row, bad.column) == (3, "credits") and reason in bad.reason
    assert bad.value is not None and len(bad.value) <= 201
    assert (rec.rows_in, rec.rows_out, rec.rows_rejected) == (5, 4, 1)

    def convert(*extra: str) -> Any:
        return runner.invoke(app, ["billing", "convert", str(path), "--to", "focus", "--output",
                                   str(tmp_path / "out.parquet"), *extra])
    result = convert()
    assert result.exit_code == 0, result.output
    message = " ".join(result.output.split())
    assert "row 3 column credits" in message and reason in message
    assert convert("--strict").exit_code != 0
    assert not sentinel.exists()


# --- days add up to the month --------------------------------------------------------------

def test_days_add_up_to_the_month_by_the_invoice_month(expected: Expected, reviews) -> None:
    for month in MONTHS:
        doc, _ = reviews[month]
        days = {dt.date.fromisoformat(p["day"]): p["effective_usd"] for p in doc["daily"]}
        assert sum(days.values()) == pytest.approx(doc["current"]["effective_usd"], abs=1e-9)
        assert sum(p["effective_usd"] for p in doc["daily_by_group"]) == \
            pytest.approx(doc["current"]["effective_usd"], abs=1e-9)
        assert days == pytest.approx({d: float(v) for d, v in expected.days[month].items()},
                                     abs=1e-9)


def _cube(rows: list[tuple[bool, str | None, str | None, str | None, float, int]]
          ) -> pl.DataFrame:
    def stamp(text: str | None) -> dt.datetime | None:
        return None if text is None else dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return pl.DataFrame(
        {"cur": [r[0] for r in rows],
         "day": [None if r[1] is None else dt.date.fromisoformat(r[1]) for r in rows],
         "long_start": [stamp(r[2]) for r in rows], "long_end": [stamp(r[3]) for r in rows],
         "grp": ["g"] * len(rows), "effective": [r[4] for r in rows], "n": [r[5] for r in rows]},
        schema={"cur": pl.Boolean, "day": pl.Date, "long_start": pl.Datetime("us", "UTC"),
                "long_end": pl.Datetime("us", "UTC"), "grp": pl.String,
                "effective": pl.Float64, "n": pl.UInt32})


def test_each_day_belongs_to_its_billing_month() -> None:
    """GCP bills a month from 00:00 Pacific, so an invoice month's rows start up to a day
    before or after its UTC month; each stays in its own month's days."""
    cube = _cube([
        (True, "2026-09-30", None, None, 5.0, 2),     # October invoice, usage before October
        (True, "2026-10-15", None, None, 7.0, 40),
        (True, "2026-11-01", None, None, 3.0, 2),     # October invoice, usage after October
        (True, None, "2026-10-01T07:00:00", "2026-11-01T07:00:00", 31.0, 1),  # a monthly fee
        (True, None, "2026-09-20T00:00:00", "2026-09-25T00:00:00", 2.0, 1),   # all before
        (False, "2026-10-01", None, None, 11.0, 2),   # September invoice, usage in October
        (False, "2026-09-10", None, None, 13.0, 30),
        (False, None, "2026-09-30T00:00:00", "2026-10-03T00:00:00", 6.0, 1),
    ])
    october = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    for month_start in (october, None):  # given, and inferred from the current rows
        daily = daily_costs(cube, group_by=False, month_start=month_start)
        days = dict(zip(daily["day"].to_list(), daily["effective"].to_list()))
        in_oct = {d: v for d, v in days.items() if d.month == 10}
        in_sep = {d: v for d, v in days.items() if d.month == 9}
        assert set(days) == set(in_oct) | set(in_sep)
        assert sum(in_oct.values()) == pytest.approx(5 + 7 + 3 + 31 + 2)
        assert sum(in_sep.values()) == pytest.approx(11 + 13 + 6)
        assert days[dt.date(2026, 10, 1)] == pytest.approx(5 + 2 + 31 * 17 / (31 * 24 - 7))
        assert days[dt.date(2026, 10, 31)] == pytest.approx(3 + 31 * 24 / (31 * 24 - 7))
        assert days[dt.date(2026, 9, 30)] == pytest.approx(11 + 6)
        by_group = daily_costs(cube, group_by=True, month_start=month_start)
        assert by_group["effective"].sum() == pytest.approx(cube["effective"].sum())


# --- instance-hours ----------------------------------------------------------------------

def test_a_per_core_sku_has_unknown_instance_hours(expected: Expected, raw_rows,
                                                   reviews) -> None:
    doc, _ = reviews["2026-10"]
    (rate,) = doc["gpu"]["rates"]
    compute = [r for r in raw_rows if r["invoice.month"] == "202610"
               and r["sku.description"] == "Instance Core running in Americas"]
    net = sum(Decimal(r["cost"]) + sum((Decimal(str(c["amount"]))
                                        for c in ast.literal_eval(r["credits"])), Decimal(0))
              for r in compute)
    assert rate["instance_type"] == "a2-highgpu-1g" and rate["gpu_model"] == "NVIDIA A100 40GB"
    assert rate["effective_usd"] == pytest.approx(float(net), abs=1e-9)
    # core-seconds are not instance-hours: unknown (None, n/a), never 0
    assert rate["usage_hours"] is None and rate["gpu_hours"] is None
    assert rate["effective_usd_per_gpu_hour"] is None
    read = read_billing([str(p) for p in FILES])  # keeps its unzipped files while it lives
    frame = read.frame.filter(
        pl.col("ChargeDescription") == "Instance Core running in Americas").collect()
    n_core = sum(r["sku.description"] == "Instance Core running in Americas" for r in raw_rows)
    assert frame.height == n_core and frame["x_UsageHours"].null_count() == n_core

    result = runner.invoke(app, ["billing", "review", *map(str, FILES), "--month", "2026-10",
                                 "--wide"])
    assert result.exit_code == 0
    (row,) = [line for line in result.stdout.splitlines() if "a2-highgpu-1g" in line]
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[3:5] == ["n/a", "n/a"]  # inst-h, GPU-h


def test_instance_hours_come_from_the_rows_that_have_them(tmp_path: Path) -> None:
    """A GPU SKU row next to the per-core rows gives the instance-hours; the core rows add
    nothing (neither 0 nor n/a)."""
    header, rows = _raw(FILES[-1])
    core = next(r for r in rows if r["sku.description"] == "Instance Core running in Americas")
    gpu_row = {**core, "sku.id": "039F-D0DA-4055",
               "sku.description": "Nvidia Tesla A100 GPU running in Americas",
               "usage.amount": "7200", "usage.amount_in_pricing_units": "2.0",
               "cost": "5.86", "credits": "[]"}
    path = _write_csv(tmp_path / "with-gpu.csv", header, [*rows, gpu_row])
    doc, _ = _review([path], "2026-10")
    (rate,) = doc["gpu"]["rates"]
    assert rate["usage_hours"] == pytest.approx(2.0) and rate["gpu_hours"] == pytest.approx(2.0)


def test_the_fixture_is_small_and_described() -> None:
    readme = (DATA / "README.md").read_text()
    assert "koku-nise 5.4.4" in readme and "nise_gcp.yml" in readme and "AGPL" in readme
    assert (DATA / "nise_gcp.yml").is_file()
    assert sum(p.stat().st_size for p in FILES) < 64_000
    assert io.BytesIO(gzip.decompress(FILES[0].read_bytes())).read(18) == b"billing_account_id"
