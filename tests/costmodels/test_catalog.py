"""Tests of the built-in price snapshot and instance quotes (costmodels.catalog)."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
from pathlib import Path

import polars as pl
import pytest

from costmodels.catalog import (
    CATALOG_SCHEMA,
    PURCHASE_OPTIONS,
    InstanceQuote,
    PriceCatalog,
    load_snapshot,
    quote_instance,
)
from domain.errors import CatalogError, PlannerError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CATALOG = REPO_ROOT.parent / "shared" / "data" / "catalog" / "gpu_instances.csv"

# Snapshot column -> shared gpu_instances.csv column (independent restatement of the README).
SHARED_NAMES = {
    "provider": "provider",
    "region": "region",
    "instance_type": "instance_type",
    "gpu_model": "gpu_model",
    "gpus": "gpu_count",
    "gpu_memory_gib": "gpu_memory_gb_per_gpu",
    "vcpus": "vcpu",
    "memory_gib": "ram_gib",
    "on_demand_usd_per_hour": "on_demand_usd_per_hour",
    "spot_usd_per_hour": "spot_usd_per_hour_typical",
    "reserved_1yr_usd_per_hour": "commit_1yr_usd_per_hour",
    "reserved_3yr_usd_per_hour": "commit_3yr_usd_per_hour",
    "source": "source",
}


@pytest.fixture(scope="module")
def snapshot() -> PriceCatalog:
    return load_snapshot()


def _shared_rows() -> list[dict[str, str]]:
    if not SHARED_CATALOG.is_file():
        pytest.skip(f"shared catalog {SHARED_CATALOG} is absent (../shared beside the clone)")
    with SHARED_CATALOG.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- the snapshot itself -------------------------------------------------------------------


def test_snapshot_has_schema_label_and_newest_date(snapshot: PriceCatalog) -> None:
    assert snapshot.frame.schema == pl.Schema(CATALOG_SCHEMA)
    assert snapshot.frame.height == 59
    assert snapshot.label == "built-in snapshot"
    assert snapshot.as_of == "2026-07-30"
    assert set(snapshot.frame["as_of"].unique()) == {"2026-01-21", "2026-07-30"}
    assert set(snapshot.frame["provider"].unique()) == {"aws", "gcp"}


def test_snapshot_is_cached_and_frozen(snapshot: PriceCatalog) -> None:
    assert load_snapshot() is snapshot
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.label = "changed"  # type: ignore[misc]


def test_snapshot_agrees_row_for_row_with_shared_csv(snapshot: PriceCatalog) -> None:
    shared = _shared_rows()
    assert len(shared) == snapshot.frame.height == 59
    for index, (ours, theirs) in enumerate(zip(snapshot.frame.iter_rows(named=True), shared)):
        for column, shared_name in SHARED_NAMES.items():
            cell = theirs[shared_name].strip()
            dtype = CATALOG_SCHEMA[column]
            if cell == "":
                assert ours[column] is None, (index, column)
            elif dtype == pl.String():
                assert ours[column] == cell, (index, column)
            else:
                assert ours[column] == float(cell), (index, column)
        assert ours["as_of"] == theirs["price_date"][:10], index
        assert theirs["price_date"].startswith(ours["as_of"])


def test_packaged_snapshot_is_what_build_script_writes(tmp_path: Path) -> None:
    _shared_rows()  # skips when ../shared is absent
    script = REPO_ROOT / "costmodels" / "data" / "build_snapshot.py"
    spec = importlib.util.spec_from_file_location("build_snapshot", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = tmp_path / "snapshot.csv"
    assert module.build(SHARED_CATALOG, output) == 59
    packaged = REPO_ROOT / "costmodels" / "data" / "gpu_catalog_snapshot.csv"
    assert output.read_bytes() == packaged.read_bytes(), "rerun costmodels/data/build_snapshot.py"


def test_no_price_in_snapshot_is_zero(snapshot: PriceCatalog) -> None:
    for option in PURCHASE_OPTIONS:
        prices = snapshot.frame[f"{option}_usd_per_hour"].drop_nulls()
        assert (prices > 0).all(), option


def test_instance_keys_lists_every_row(snapshot: PriceCatalog) -> None:
    keys = snapshot.instance_keys()
    assert len(keys) == 59
    assert "aws:p5.48xlarge" in keys and "gcp:a3-megagpu-8g" in keys


# --- quotes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "purchase", "usd_per_hour", "region", "gpus"),
    [
        ("aws:p5.48xlarge", "on_demand", 55.04, "us-east-1", 8),
        ("aws:p5.48xlarge", "spot", 20.2, "us-east-1", 8),
        ("aws:g5.xlarge", "reserved_1yr", 0.63378, "us-east-1", 1),
        ("gcp:a3-highgpu-8g", "reserved_3yr", 38.8644, "us-central1", 8),
        ("gcp:a3-megagpu-8g", "spot", 23.2752, "us-east4", 8),
        ("gcp:g2-standard-24", "on_demand", 2.0008, "us-central1", 2),
    ],
)
def test_quote_known_prices(
    snapshot: PriceCatalog, key: str, purchase: str, usd_per_hour: float, region: str, gpus: int
) -> None:
    quote = quote_instance(snapshot, key, purchase=purchase)
    assert quote.usd_per_hour == usd_per_hour
    assert quote.region == region
    assert quote.gpus == gpus
    assert quote.purchase == purchase
    assert quote.instance_key == key
    assert quote.note is None
    assert quote.source and quote.as_of in {"2026-01-21", "2026-07-30"}


def test_quote_carries_hardware_and_provenance(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "aws:p5.48xlarge")
    assert quote == InstanceQuote(
        instance_key="aws:p5.48xlarge",
        provider="aws",
        instance_type="p5.48xlarge",
        region="us-east-1",
        purchase="on_demand",
        gpu_model="NVIDIA H100",
        gpus=8,
        gpu_memory_gib=80.0,
        vcpus=192,
        memory_gib=2048.0,
        usd_per_hour=55.04,
        source=quote.source,
        as_of="2026-01-21",
        note=None,
    )
    assert "7412fd256c5eda04a70a17742a68e8e44824b2cb" in quote.source


def test_explicit_matching_region_and_upper_case_provider(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "AWS:p5.48xlarge", region="us-east-1")
    assert quote.usd_per_hour == 55.04
    assert quote.instance_key == "aws:p5.48xlarge"


def test_missing_spot_price_is_none_not_zero(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "aws:g5.xlarge", purchase="spot")
    assert quote.usd_per_hour is None
    assert quote.gpus == 1  # hardware facts are still known
    assert quote.note is not None
    assert quote.note.startswith("the catalog (built-in snapshot, 2026-01-21) has no spot price "
                                 "for aws:g5.xlarge in us-east-1: run `planner prices refresh "
                                 "--provider aws --instances g5.xlarge --region us-east-1`")
    assert "pricing.effective_rates: [{instance: aws:g5.xlarge, purchase: spot" in quote.note
    assert "(on_demand, reserved_1yr)" in quote.note


def test_instance_without_any_price(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "aws:p5e.48xlarge")
    assert quote.usd_per_hour is None
    assert quote.gpu_model == "NVIDIA H200"
    assert quote.note.startswith(
        "the catalog (built-in snapshot, 2026-01-21) has no on_demand price for aws:p5e.48xlarge "
        "in us-east-1: run `planner prices refresh"
    )
    assert quote.note.endswith("the catalog prices no purchase option of it")


def test_missing_commitment_price_on_gcp(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "gcp:a2-ultragpu-8g", purchase="reserved_1yr")
    assert quote.usd_per_hour is None
    assert "(on_demand, spot)" in quote.note


def test_unknown_instance_suggests_close_key(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "aws:p5.48xlage")
    assert quote.usd_per_hour is None
    assert quote.gpus is None and quote.source is None and quote.region is None
    assert quote.note.startswith(
        "unknown instance 'aws:p5.48xlage' in built-in snapshot (2026-07-30); "
        "did you mean aws:p5.48xlarge?"
    )


def test_unknown_instance_without_close_match(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "gcp:zzz", purchase="spot")
    assert quote.usd_per_hour is None
    assert "unknown instance 'gcp:zzz'" in quote.note
    assert "did you mean" not in quote.note
    assert "`planner prices list --provider gcp`" in quote.note
    assert "purchase: spot" in quote.note  # where to give the price


def test_unknown_region_gives_none_with_listed_region(snapshot: PriceCatalog) -> None:
    quote = quote_instance(snapshot, "aws:p5.48xlarge", region="eu-west-1")
    assert quote.usd_per_hour is None
    assert quote.region == "eu-west-1"
    assert quote.gpus == 8
    assert "no price in region 'eu-west-1'" in quote.note and "us-east-1" in quote.note


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("p5.48xlarge", "instance 'p5.48xlarge' must be 'provider:instance_type'"),
        ("azure:Standard_ND96isr_H100_v5", "provider 'azure'"),
        ("aws:", "no instance type"),
        (":p5.48xlarge", "provider ''"),
    ],
)
def test_malformed_key_raises(snapshot: PriceCatalog, key: str, fragment: str) -> None:
    with pytest.raises(CatalogError, match="aws:p5.48xlarge") as info:
        quote_instance(snapshot, key)
    assert fragment in str(info.value)
    assert isinstance(info.value, PlannerError)


def test_non_string_key_raises(snapshot: PriceCatalog) -> None:
    with pytest.raises(CatalogError, match="must be 'provider:instance_type'"):
        quote_instance(snapshot, 42)  # type: ignore[arg-type]


def test_unknown_purchase_option_raises_with_suggestion(snapshot: PriceCatalog) -> None:
    with pytest.raises(CatalogError, match="purchase option 'ondemand' is unknown; did you mean"):
        quote_instance(snapshot, "aws:p5.48xlarge", purchase="ondemand")
    with pytest.raises(CatalogError, match="use one of on_demand, spot"):
        quote_instance(snapshot, "aws:p5.48xlarge", purchase="savings_plan_xyz")


# --- building catalogs ---------------------------------------------------------------------


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "g5.xlarge",
        "gpu_model": "NVIDIA A10G",
        "gpus": 1,
        "gpu_memory_gib": 24.0,
        "vcpus": 4,
        "memory_gib": 16.0,
        "on_demand_usd_per_hour": 1.006,
        "spot_usd_per_hour": None,
        "reserved_1yr_usd_per_hour": None,
        "reserved_3yr_usd_per_hour": None,
        "source": "test",
        "as_of": "2026-01-21",
    }
    row.update(overrides)
    return row


def _frame(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=CATALOG_SCHEMA)


def test_from_frame_computes_newest_as_of() -> None:
    catalog = PriceCatalog.from_frame(
        _frame(_row(), _row(region="us-west-2", as_of="2026-03-01")), label="test catalog"
    )
    assert catalog.as_of == "2026-03-01"
    assert catalog.label == "test catalog"


def test_several_regions_need_an_explicit_region() -> None:
    catalog = PriceCatalog.from_frame(
        _frame(_row(), _row(region="us-west-2", on_demand_usd_per_hour=1.2)), label="two regions"
    )
    with pytest.raises(CatalogError, match="us-east-1, us-west-2.*pass region="):
        quote_instance(catalog, "aws:g5.xlarge")
    assert quote_instance(catalog, "aws:g5.xlarge", region="us-west-2").usd_per_hour == 1.2


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ((_row(on_demand_usd_per_hour=0.0),), "on_demand_usd_per_hour=0.0"),
        ((_row(spot_usd_per_hour=-1.0),), "must be positive"),
        ((_row(gpus=0),), "gpus=0"),
        ((_row(), _row()), "2 times"),
        ((_row(as_of="Jan 2026"),), "ISO date"),
        ((_row(region=""),), "empty region"),
    ],
)
def test_from_frame_rejects_bad_rows(rows: tuple[dict[str, object], ...], fragment: str) -> None:
    with pytest.raises(CatalogError, match="catalog 'bad'") as info:
        PriceCatalog.from_frame(_frame(*rows), label="bad")
    assert fragment in str(info.value)


def test_from_frame_rejects_missing_column() -> None:
    with pytest.raises(CatalogError, match=r"lacks columns \['as_of'\]"):
        PriceCatalog.from_frame(_frame(_row()).drop("as_of"), label="bad")
