"""GCP Cloud Billing export reader: CSV, JSON lines and Parquet, normalised and reconciled.

No real GCP export rows are public, so the tests generate realistic ones (schema of the
billing-formats reference, section 3.2) and check the reader against an independent computation
over the generated rows in plain Python with Decimal.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from costmodels.billing.errors import BillingFormatError
from costmodels.billing.readers import read_billing
from costmodels.billing.schema import NORMALISED_SCHEMA

ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
SERVICES = {"Compute Engine": "6F81-5844-456A", "Cloud Storage": "95FF-2EF5-5EA1",
            "BigQuery": "24E6-581D-38E5", "Invoice": "0000-0000-0000"}
PROJECTS = [("ml-training-prod", "123456789012", "ML training"),
            ("ml-inference", "223456789012", "Inference"),
            ("data-lake-17", "323456789012", "Data lake")]
CUD_FEE = Decimal("1450.000000")
CENT = Decimal("0.005")


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.6f}")


def _row(i: int, *, service: str, sku: str, sku_id: str, cost: Decimal, start: datetime,
         hours: int = 1, unit: str = "seconds", amount: float = 3600.0,
         pricing_unit: str = "hour", pricing_amount: float = 1.0, cost_type: str = "regular",
         credits: list[dict] | None = None, project: tuple[str, str, str] = PROJECTS[0],
         labels: dict[str, str] | None = None, machine: str | None = None,
         region: str | None = "us-central1") -> dict:
    end = start + timedelta(hours=hours)
    invoice = f"{start.year}{start.month:02d}"
    system_labels = [{"key": "compute.googleapis.com/machine_spec", "value": machine}] \
        if machine else []
    return {
        "billing_account_id": ACCOUNT,
        "service": {"id": SERVICES[service], "description": service},
        "sku": {"id": sku_id, "description": sku},
        "usage_start_time": start.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "usage_end_time": end.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "project": {"id": project[0], "number": project[1], "name": project[2],
                    "labels": [{"key": "cost-center", "value": "cc-42"}]},
        "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
        "system_labels": system_labels,
        "location": {"location": region, "country": "US", "region": region,
                     "zone": f"{region}-a" if region else None},
        "resource": {"name": f"vm-{i}" if service == "Compute Engine" else None,
                     "global_name": (f"//compute.googleapis.com/projects/{project[0]}/zones/"
                                     f"{region}-a/instances/vm-{i}")
                     if service == "Compute Engine" else None},
        "cost": str(cost),
        "currency": "USD",
        "currency_conversion_rate": 1.0,
        "usage": {"amount": amount, "unit": unit, "amount_in_pricing_units": pricing_amount,
                  "pricing_unit": pricing_unit},
        "credits": credits or [],
        "invoice": {"month": invoice},
        "cost_type": cost_type,
        "price": {"effective_price": float(cost) / pricing_amount if pricing_amount else None},
    }


def _credit(kind: str, amount: Decimal, name: str) -> dict:
    return {"name": name, "amount": str(amount), "full_name": name, "id": f"id-{kind.lower()}",
            "type": kind}


def generate(seed: int = 3, n_random: int = 120) -> list[dict]:
    """Realistic export rows: GPUs (on demand, spot, CUD), storage, BigQuery, fees and tax."""
    rng = random.Random(seed)
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        # 0: on-demand A100 GPU time of an a2-highgpu-4g: 4 GPUs x 10 h = 144000 GPU-seconds
        _row(0, service="Compute Engine", sku="Nvidia Tesla A100 GPU running in Americas",
             sku_id="039F-D0DA-4055", cost=Decimal("117.340000"), start=t0 + timedelta(days=2),
             hours=10, amount=144000.0, pricing_amount=40.0, machine="a2-highgpu-4g",
             labels={"team": "research"}),
        # 1: its vCPUs, with a sustained use discount
        _row(1, service="Compute Engine", sku="A2 Instance Core running in Americas",
             sku_id="2E27-4F75-95CD", cost=Decimal("14.600000"), start=t0 + timedelta(days=2),
             hours=10, amount=1728000.0, pricing_amount=480.0, machine="a2-highgpu-4g",
             credits=[_credit("SUSTAINED_USAGE_DISCOUNT", Decimal("-2.920000"),
                              "Sustained Usage Discount")], labels={"team": "research"}),
        # 2: spot L4 on a g2-standard-8 for 5 h
        _row(2, service="Compute Engine",
             sku="Spot Preemptible Nvidia L4 GPU running in Americas", sku_id="1E0B-4A0B-A3F1",
             cost=Decimal("1.100000"), start=t0 + timedelta(days=3), hours=5, amount=18000.0,
             pricing_amount=5.0, machine="g2-standard-8", project=PROJECTS[1],
             labels={"team": "serving"}),
        # 3: A100 GPU time covered by a committed use discount
        _row(3, service="Compute Engine", sku="Nvidia Tesla A100 GPU running in Americas",
             sku_id="039F-D0DA-4055", cost=Decimal("2934.720000"),
             start=t0 + timedelta(days=4), hours=1000, amount=3600000.0, pricing_amount=1000.0,
             machine="a2-highgpu-1g",
             credits=[_credit("COMMITTED_USAGE_DISCOUNT", Decimal("-2934.720000"),
                              "Committed Usage Discount: A2 GPU")]),
        # 4: the CUD fee
        _row(4, service="Compute Engine",
             sku="Commitment v1: Nvidia Tesla A100 GPU in Americas for 1 Year",
             sku_id="7A1E-0D6B-0D9E", cost=CUD_FEE, start=t0, hours=24 * 31,
             amount=2678400.0, pricing_amount=744.0),
        # 5: tax
        _row(5, service="Invoice", sku="Tax", sku_id="TAX", cost=Decimal("88.120000"),
             start=t0, hours=24 * 31, cost_type="tax", amount=0.0, unit="", pricing_unit="",
             pricing_amount=0.0, region=None),
        # 6: rounding error
        _row(6, service="Invoice", sku="Rounding", sku_id="ROUND", cost=Decimal("-0.000004"),
             start=t0, hours=24 * 31, cost_type="rounding_error", amount=0.0, unit="",
             pricing_unit="", pricing_amount=0.0, region=None),
    ]
    storage = ("Standard Storage US Multi-region", "E5F0-6A5D-7BAD")
    analysis = ("Analysis", "5D3E-6A23-9F37")
    for i in range(len(rows), len(rows) + n_random):
        start = t0 + timedelta(days=rng.randrange(0, 61), hours=rng.randrange(24))
        kind = rng.choice(["gpu", "core", "storage", "bq", "spot"])
        project = rng.choice(PROJECTS)
        labels = rng.choice([{}, {"team": "ml"}, {"team": "data", "env": "prod"}])
        credits: list[dict] = []
        if kind == "gpu":
            cost = _money(rng, 2, 40)
            if rng.random() < 0.4:
                credits.append(_credit("SUSTAINED_USAGE_DISCOUNT",
                                       -(cost * Decimal("0.2")).quantize(Decimal("0.000001")),
                                       "Sustained Usage Discount"))
            rows.append(_row(i, service="Compute Engine",
                             sku="Nvidia Tesla A100 GPU running in Americas",
                             sku_id="039F-D0DA-4055", cost=cost, start=start, amount=7200.0,
                             pricing_amount=2.0, machine="a2-highgpu-2g", credits=credits,
                             project=project, labels=labels))
        elif kind == "spot":
            rows.append(_row(i, service="Compute Engine",
                             sku="Spot Preemptible Nvidia L4 GPU running in Americas",
                             sku_id="1E0B-4A0B-A3F1", cost=_money(rng, 0.1, 1), start=start,
                             machine="g2-standard-8", project=project, labels=labels))
        elif kind == "core":
            cost = _money(rng, 0.5, 5)
            rows.append(_row(i, service="Compute Engine", sku="N2 Instance Core running in Americas",
                             sku_id="BB77-5FDA-69D9", cost=cost, start=start, amount=28800.0,
                             pricing_amount=8.0, machine="n2-standard-8", project=project,
                             labels=labels, credits=[_credit(
                                 "PROMOTION", -(cost / 2).quantize(Decimal("0.000001")),
                                 "Free trial credit")] if rng.random() < 0.3 else []))
        elif kind == "storage":
            cost = _money(rng, 0, 3)
            rows.append(_row(i, service="Cloud Storage", sku=storage[0], sku_id=storage[1],
                             cost=cost, start=start, unit="byte-seconds", amount=1.5e15,
                             pricing_unit="gibibyte month", pricing_amount=0.5, project=project,
                             labels=labels, region="us", credits=[_credit(
                                 "FREE_TIER", -min(cost, Decimal("0.02")), "Free tier")]))
        else:
            cost = _money(rng, 0, 12)
            rows.append(_row(i, service="BigQuery", sku=analysis[0], sku_id=analysis[1],
                             cost=cost, start=start, unit="bytes", amount=2.2e12,
                             pricing_unit="tebibyte", pricing_amount=2.0, project=project,
                             labels=labels, region="US", credits=[
                                 _credit("PROMOTION", -cost, "BigQuery promo"),
                             ] if rng.random() < 0.25 else []))
    # a November tax row so two invoice months are reconciled
    rows.append(_row(len(rows), service="Invoice", sku="Tax", sku_id="TAX",
                     cost=Decimal("12.340000"), start=datetime(2026, 11, 1, tzinfo=UTC),
                     hours=24 * 30, cost_type="tax", amount=0.0, unit="", pricing_unit="",
                     pricing_amount=0.0, region=None))
    return rows


# --- independent computation --------------------------------------------------------------

def expected_totals(rows: list[dict]) -> dict[str, Decimal]:
    """cost, credits, net and per-month net, summed exactly over the raw rows."""
    out: dict[str, Decimal] = {"cost": Decimal(0), "credits": Decimal(0)}
    for r in rows:
        cost = Decimal(r["cost"])
        credits = sum((Decimal(c["amount"]) for c in r["credits"]), Decimal(0))
        out["cost"] += cost
        out["credits"] += credits
        month = "month:" + r["invoice"]["month"]
        out[month] = out.get(month, Decimal(0)) + cost + credits
        for c in r["credits"]:
            key = "type:" + c["type"]
            out[key] = out.get(key, Decimal(0)) + Decimal(c["amount"])
    out["net"] = out["cost"] + out["credits"]
    return out


# --- writers for the three shapes ---------------------------------------------------------

def _flat(row: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.items():
        if key in ("labels", "system_labels", "credits"):
            out[key] = json.dumps(value)
        elif isinstance(value, dict):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = json.dumps(v) if isinstance(v, list) else v
        else:
            out[key] = value
    return out


def write_csv(path: Path, rows: list[dict], *, drop: tuple[str, ...] = (),
              edit: dict[tuple[int, str], str] | None = None) -> Path:
    flat = [_flat(r) for r in rows]
    header = [h for h in flat[0] if h not in drop]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, r in enumerate(flat):
            cells = ["" if r.get(h) is None else str(r[h]) for h in header]
            for (row_i, col), value in (edit or {}).items():
                if row_i == i:
                    cells[header.index(col)] = value
            writer.writerow(cells)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with path.open("w") as handle:
        for r in rows:
            # BigQuery's JSON export writes FLOAT cost as a number
            handle.write(json.dumps({**r, "cost": float(r["cost"]), "credits": [
                {**c, "amount": float(c["amount"])} for c in r["credits"]]}) + "\n")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    kv = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))
    schema = {
        "billing_account_id": pl.String,
        "service": pl.Struct({"id": pl.String, "description": pl.String}),
        "sku": pl.Struct({"id": pl.String, "description": pl.String}),
        "usage_start_time": pl.Datetime("us", "UTC"),
        "usage_end_time": pl.Datetime("us", "UTC"),
        "project": pl.Struct({"id": pl.String, "number": pl.String, "name": pl.String,
                              "labels": kv}),
        "labels": kv, "system_labels": kv,
        "location": pl.Struct({"location": pl.String, "country": pl.String,
                               "region": pl.String, "zone": pl.String}),
        "resource": pl.Struct({"name": pl.String, "global_name": pl.String}),
        "cost": pl.Float64, "currency": pl.String, "currency_conversion_rate": pl.Float64,
        "usage": pl.Struct({"amount": pl.Float64, "unit": pl.String,
                            "amount_in_pricing_units": pl.Float64, "pricing_unit": pl.String}),
        "credits": pl.List(pl.Struct({"name": pl.String, "amount": pl.Float64,
                                      "full_name": pl.String, "id": pl.String,
                                      "type": pl.String})),
        "invoice": pl.Struct({"month": pl.String}),
        "cost_type": pl.String,
        "price": pl.Struct({"effective_price": pl.Float64}),
    }
    data = []
    for r in rows:
        data.append({**r, "cost": float(r["cost"]),
                     "usage_start_time": datetime.strptime(r["usage_start_time"],
                                                           "%Y-%m-%d %H:%M:%S UTC")
                     .replace(tzinfo=UTC),
                     "usage_end_time": datetime.strptime(r["usage_end_time"],
                                                         "%Y-%m-%d %H:%M:%S UTC")
                     .replace(tzinfo=UTC),
                     "credits": [{**c, "amount": float(c["amount"])} for c in r["credits"]]})
    pl.DataFrame(data, schema=schema).write_parquet(path)
    return path


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate()


def _read(path: Path):
    result = read_billing([str(path)])
    return result, result.frame.collect()


# --- totals -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["csv", "jsonl", "parquet"])
def test_totals_equal_an_independent_computation(rows: list[dict], tmp_path: Path,
                                                 shape: str) -> None:
    path = WRITERS[shape](tmp_path / f"export.{shape}", rows)
    result, frame = _read(path)
    exp = expected_totals(rows)
    assert dict(frame.schema) == NORMALISED_SCHEMA
    assert result.formats[str(path)] == "gcp-detailed"
    rec = result.reconciliation
    assert rec.balanced and rec.rows_in == len(rows) == rec.rows_out and rec.rows_rejected == 0
    assert abs(rec.money_in - exp["net"]) < Decimal("0.000001")
    assert abs(Decimal(repr(frame["BilledCost"].sum())) - exp["net"]) < CENT
    # credits are netted: gross (ListCost = cost without cost_at_list) minus billed = -credits
    assert abs(Decimal(repr(frame["ListCost"].sum())) - exp["cost"]) < CENT
    assert abs(Decimal(repr(frame["ListCost"].sum() - frame["BilledCost"].sum()))
               + exp["credits"]) < CENT
    # amortisation moves money between rows, never in or out
    assert frame["EffectiveCost"].sum() == pytest.approx(frame["BilledCost"].sum(), abs=1e-6)
    months = {p.billing_period_start.astimezone(UTC).strftime("%Y%m"): p
              for p in rec.periods}
    assert set(months) == {"202610", "202611"}
    for month, period in months.items():
        assert abs(period.money_in - exp[f"month:{month}"]) < Decimal("0.000001")
        assert period.balanced


def test_the_three_shapes_give_the_same_frame(rows: list[dict], tmp_path: Path) -> None:
    frames = [_read(WRITERS[s](tmp_path / f"export.{s}", rows))[1].sort("x_SourceRow")
              for s in WRITERS]
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        for other in frames[1:]:
            assert other[column].to_list() == pytest.approx(frames[0][column].to_list()), column
    for column in ("ChargeCategory", "PricingCategory", "x_PurchaseOption", "x_CreditTypes",
                   "x_InstanceType", "x_GpuModel", "x_GpuCount", "ServiceName",
                   "ServiceCategory", "SubAccountId", "Tags", "ChargePeriodStart",
                   "BillingPeriodStart", "RegionId", "CommitmentDiscountId", "ResourceId"):
        for other in frames[1:]:
            assert other[column].to_list() == frames[0][column].to_list(), column
    for column in ("x_UsageHours", "ConsumedQuantity", "PricingQuantity"):
        for other in frames[1:]:
            a = [v if v is not None else -1.0 for v in frames[0][column].to_list()]
            b = [v if v is not None else -1.0 for v in other[column].to_list()]
            assert b == pytest.approx(a), column


def test_row_order_and_file_splitting_do_not_change_totals(rows: list[dict],
                                                           tmp_path: Path) -> None:
    shuffled = rows[:]
    random.Random(11).shuffle(shuffled)
    folder = tmp_path / "parts"
    folder.mkdir()
    write_csv(folder / "part-1.csv", shuffled[:40])
    write_jsonl(folder / "part-2.jsonl", shuffled[40:90])
    write_parquet(folder / "part-3.parquet", shuffled[90:])
    whole = _read(write_csv(tmp_path / "whole.csv", rows))[1]
    split = read_billing([str(folder)])
    assert split.reconciliation.balanced and split.reconciliation.rows_in == len(rows)
    assert abs(split.reconciliation.money_in - expected_totals(rows)["net"]) < Decimal("1e-6")
    keys = ["ServiceName", "ChargeCategory", "BillingPeriodStart"]
    agg = [pl.col("BilledCost").sum().round(6), pl.col("ListCost").sum().round(6), pl.len()]
    a = whole.group_by(keys).agg(agg).sort(keys)
    b = split.frame.collect().group_by(keys).agg(agg).sort(keys)
    assert a.equals(b)
    assert split.frame.collect()["EffectiveCost"].sum() == pytest.approx(
        whole["EffectiveCost"].sum(), abs=1e-6)


# --- mapping ------------------------------------------------------------------------------

def test_mapping_of_gpus_commitments_credits_and_periods(rows: list[dict],
                                                         tmp_path: Path) -> None:
    _, frame = _read(write_jsonl(tmp_path / "export.jsonl", rows))
    frame = frame.sort("x_SourceRow")
    r = {i: frame.row(i, named=True) for i in range(7)}
    gpu, core, spot, covered, fee, tax, rounding = (r[i] for i in range(7))
    assert gpu["ProviderName"] == "Google Cloud" and gpu["x_Provider"] == "gcp"
    assert (gpu["x_InstanceType"], gpu["x_GpuModel"], gpu["x_GpuCount"]) == \
        ("a2-highgpu-4g", "NVIDIA A100 40GB", 4)
    assert gpu["x_UsageHours"] == pytest.approx(10.0)  # 40 GPU-hours on a 4-GPU machine
    assert (gpu["x_PurchaseOption"], gpu["PricingCategory"]) == ("on_demand", "Standard")
    assert gpu["ServiceCategory"] == "Compute" and gpu["ServiceSubcategory"] == "Virtual Machines"
    assert gpu["ChargePeriodStart"] == datetime(2026, 10, 3, tzinfo=UTC)
    # invoice.month is in US/Pacific time
    assert gpu["BillingPeriodStart"] == datetime(2026, 10, 1, 7, tzinfo=UTC)
    assert gpu["BillingPeriodEnd"] == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert gpu["SubAccountId"] == "ml-training-prod" and gpu["SubAccountName"] == "ML training"
    assert json.loads(gpu["Tags"]) == {"team": "research",
                                       "compute.googleapis.com/machine_spec": "a2-highgpu-4g"}
    assert gpu["ResourceName"] == "vm-0" and gpu["ResourceId"].startswith("//compute")
    assert gpu["ConsumedUnit"] == "Seconds" and gpu["PricingUnit"] == "Hours"
    assert core["x_UsageHours"] is None  # vCPU-seconds are not instance hours
    assert core["BilledCost"] == pytest.approx(14.6 - 2.92)
    assert core["x_CreditTypes"] == "SUSTAINED_USAGE_DISCOUNT"
    assert (spot["x_PurchaseOption"], spot["PricingCategory"]) == ("spot", "Dynamic")
    assert (spot["x_GpuModel"], spot["x_GpuCount"]) == ("NVIDIA L4", 1)
    assert spot["x_UsageHours"] == pytest.approx(5.0)
    assert covered["BilledCost"] == pytest.approx(0.0)
    assert (covered["x_PurchaseOption"], covered["PricingCategory"],
            covered["CommitmentDiscountStatus"], covered["CommitmentDiscountCategory"]) == \
        ("committed_use", "Committed", "Used", "Usage")
    assert covered["CommitmentDiscountName"] == "Committed Usage Discount: A2 GPU"
    assert (fee["ChargeCategory"], fee["ChargeFrequency"], fee["x_PurchaseOption"]) == \
        ("Purchase", "Recurring", "committed_use")
    assert fee["CommitmentDiscountId"] == covered["CommitmentDiscountId"] is not None
    # the fee moves onto the covered usage (the only CUD-credited row of its commitment)
    assert fee["BilledCost"] == pytest.approx(float(CUD_FEE)) and fee["EffectiveCost"] == 0
    assert covered["EffectiveCost"] == pytest.approx(float(CUD_FEE))
    assert (tax["ChargeCategory"], tax["PricingCategory"], tax["PricingUnit"]) == \
        ("Tax", None, None)
    assert rounding["ChargeCategory"] == "Adjustment"
    storage = frame.filter(pl.col("ServiceName") == "Cloud Storage")
    assert set(storage["ServiceCategory"]) == {"Storage"}
    assert storage["x_PurchaseOption"].null_count() == storage.height
    assert set(storage["x_CreditTypes"]) == {"FREE_TIER"}
    bq = frame.filter(pl.col("ServiceName") == "BigQuery")
    assert set(bq["ServiceCategory"]) == {"Databases"}


def test_credit_types_are_kept(rows: list[dict], tmp_path: Path) -> None:
    _, frame = _read(write_csv(tmp_path / "export.csv", rows))
    frame = frame.sort("x_SourceRow")
    expected = [",".join(sorted({c["type"] for c in r["credits"]})) or None for r in rows]
    assert frame["x_CreditTypes"].to_list() == expected
    assert {t for v in expected if v for t in v.split(",")} == {
        "SUSTAINED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT", "PROMOTION", "FREE_TIER"}
    exp = expected_totals(rows)
    # per credit type: rows with only that type carry exactly its credits
    for kind in ("FREE_TIER", "PROMOTION"):
        only = frame.filter(pl.col("x_CreditTypes") == kind)
        credited = Decimal(repr(only["BilledCost"].sum() - only["ListCost"].sum()))
        assert abs(credited - exp[f"type:{kind}"]) < CENT


def test_standard_table_without_resource_columns(rows: list[dict], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "standard.csv", rows,
                     drop=("resource.name", "resource.global_name", "price.effective_price"))
    result, frame = _read(path)
    assert result.formats[str(path)] == "gcp-standard"
    assert result.reconciliation.balanced and frame["ResourceId"].null_count() == len(rows)


# --- malformed files ----------------------------------------------------------------------

def test_missing_cost_column_names_it(rows: list[dict], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nocost.csv", rows, drop=("cost",))
    with pytest.raises(BillingFormatError, match=r"nocost\.csv: required GCP .* cost") as err:
        read_billing([str(path)])
    assert err.value.column == "cost" and err.value.row == 0


def test_string_in_cost_rejects_only_that_row(rows: list[dict], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, edit={(41, "cost"): "12,5 USD"})
    result = read_billing([str(path)])
    rec = result.reconciliation
    assert rec.balanced and rec.rows_out == len(rows) - 1 and rec.rows_rejected == 1
    (bad,) = rec.rejected
    assert (bad.row, bad.column, bad.value, bad.reason) == (42, "cost", "12,5 USD",
                                                           "cost is not a number")
    lost = rows[41]
    credits = sum((Decimal(c["amount"]) for c in lost["credits"]), Decimal(0))
    exp = expected_totals(rows)["net"] - Decimal(lost["cost"])
    assert abs(rec.money_in - exp) < Decimal("1e-6")
    assert rec.money_rejected == credits  # the bad cost counts as 0, its credits still count
    assert abs(Decimal(repr(result.frame.collect()["BilledCost"].sum()))
               - (exp - credits)) < CENT
    with pytest.raises(BillingFormatError, match=r"bad\.csv: row 42, column cost"):
        read_billing([str(path)], strict=True)


def test_broken_credits_json_rejects_the_row(rows: list[dict], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "credits.csv", rows[:5],
                     edit={(1, "credits"): '[{"type": "PROMOTION", "amount": "lots"}]'})
    result = read_billing([str(path)])
    (bad,) = result.reconciliation.rejected
    assert (bad.row, bad.column) == (2, "credits") and result.reconciliation.balanced


# --- oddities -----------------------------------------------------------------------------

def test_oddities_are_counted(rows: list[dict], tmp_path: Path) -> None:
    sample = [dict(r) for r in rows[:6]]
    sample[0] = {**sample[0], "project": {**sample[0]["project"], "id": "123456"}}
    path = write_csv(tmp_path / "odd.csv", sample, edit={
        (1, "usage_start_time"): "2026-10-03T02:00:00+02:00",
        (2, "location.zone"): "NULL",
        (3, "cost_type"): "Regular",
    })
    text = path.read_text().splitlines()
    text = [text[0] + ",my_extra"] + [line + ",x" for line in text[1:]]
    path.write_text("\n".join(text) + "\n")
    result, frame = _read(path)
    by_kind = {(o.kind, o.column): o for o in result.oddities}
    assert by_kind[("non_utc_offset", "usage_start_time")].example == \
        "2026-10-03T02:00:00+02:00"
    assert by_kind[("null_literal", "location.zone")].count == 1
    assert by_kind[("numeric_project_id", "project.id")].example == "123456"
    assert by_kind[("wrong_case_enum", "cost_type")].count == 1
    assert by_kind[("extra_columns", None)].example == "my_extra"
    assert ("no_time_zone", "usage_start_time") not in by_kind  # "... UTC" is a zone
    frame = frame.sort("x_SourceRow")
    assert frame["ChargePeriodStart"][1] == datetime(2026, 10, 3, tzinfo=UTC)
    assert frame["AvailabilityZone"][2] is None
    assert frame["ChargeCategory"][3] == "Usage"
    assert frame["SubAccountId"][0] == "123456"
    assert result.reconciliation.balanced


def test_units_follow_focus_nullability(rows: list[dict], tmp_path: Path) -> None:
    """An empty unit is null, never "", and a PricingQuantity always has its PricingUnit
    (FOCUS rules PricingUnit-C-003-O and PricingUnit-C-006-C; the rounding row has neither)."""
    _, frame = _read(write_jsonl(tmp_path / "gcp.jsonl", rows))
    for column in ("PricingUnit", "ConsumedUnit"):
        assert (frame[column] == "").sum() == 0, column
    assert frame.filter(pl.col("PricingQuantity").is_not_null()
                        & pl.col("PricingUnit").is_null()).height == 0
    rounding = frame.filter(pl.col("SkuId") == "ROUND")
    assert rounding.height == 1 and rounding["PricingQuantity"][0] is None
