"""Tests of costmodels.price_cache: Parquet round trip, newest file, snapshot merge, corruption."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from costmodels.catalog import PriceCatalog, load_snapshot
from costmodels.price_cache import (
    default_cache_dir,
    default_catalog,
    load_newest,
    newest_entries,
    read_cache_file,
    write_cache,
)
from domain.errors import CatalogError

T1 = dt.datetime(2026, 11, 26, 10, 0, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 27, 9, 30, 15, tzinfo=dt.UTC)


def _aws_catalog(p5_price: float | None, as_of: str = "2026-11-26") -> PriceCatalog:
    snap = load_snapshot().frame
    frame = snap.filter(pl.col("instance_type").is_in(["p5.48xlarge", "g5.xlarge"]))
    frame = frame.with_columns(
        on_demand_usd_per_hour=pl.when(pl.col("instance_type") == "p5.48xlarge")
        .then(pl.lit(p5_price, dtype=pl.Float64))
        .otherwise(pl.col("on_demand_usd_per_hour")),
        spot_usd_per_hour=pl.lit(None, dtype=pl.Float64),
        source=pl.lit("AWS Pricing API test"),
        as_of=pl.lit(as_of),
    )
    return PriceCatalog.from_frame(frame, label="AWS Pricing API")


def _row(catalog, instance_type):
    rows = catalog.frame.filter(pl.col("instance_type") == instance_type).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_default_cache_dir_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANNER_PRICE_CACHE", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("PLANNER_PRICE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gpu-planner" / "prices"


def test_round_trip_keeps_rows_prices_label_as_of_and_fetch_time(tmp_path):
    catalog = _aws_catalog(61.5)
    path = write_cache(catalog, "aws", cache_dir=tmp_path / "new", fetched_at=T1)
    assert path == tmp_path / "new" / "aws-20261126T100000Z.parquet"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    entry = read_cache_file(path)
    assert entry.provider == "aws"
    assert entry.fetched_at == T1
    assert entry.catalog.label == "AWS Pricing API"
    assert entry.catalog.as_of == "2026-11-26"
    assert entry.catalog.frame.sort("instance_type").equals(catalog.frame.sort("instance_type"))
    assert _row(entry.catalog, "p5.48xlarge")["on_demand_usd_per_hour"] == 61.5
    assert _row(entry.catalog, "p5.48xlarge")["spot_usd_per_hour"] is None


def test_naive_fetch_time_is_utc(tmp_path):
    path = write_cache(_aws_catalog(1.0), "aws", cache_dir=tmp_path,
                       fetched_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678))
    assert path.name == "aws-20260102T030405Z.parquet"


def test_newest_file_wins_and_merges_with_snapshot(tmp_path):
    write_cache(_aws_catalog(61.5), "aws", cache_dir=tmp_path, fetched_at=T1)
    write_cache(_aws_catalog(None, as_of="2026-11-27"), "aws", cache_dir=tmp_path, fetched_at=T2)
    (tmp_path / ".aws-20991231T000000Z.parquet.x.tmp").write_bytes(b"junk")  # ignored
    (tmp_path / "notes.txt").write_text("ignored")
    assert newest_entries(tmp_path)["aws"].fetched_at == T2

    catalog = load_newest(tmp_path)
    snapshot = load_snapshot()
    assert catalog.as_of == "2026-11-27"
    assert catalog.label.startswith("cache (aws fetched 2026-11-27T09:30Z) + built-in snapshot (")
    assert "gcp" in catalog.label and "other aws instances" in catalog.label
    # cached rows replace the snapshot's; other rows come from the snapshot unchanged
    assert catalog.frame.height == snapshot.frame.height
    assert _row(catalog, "p5.48xlarge")["on_demand_usd_per_hour"] is None
    assert _row(catalog, "p5.48xlarge")["source"] == "AWS Pricing API test"
    assert _row(catalog, "g6.xlarge") == _row(snapshot, "g6.xlarge")
    assert _row(catalog, "a3-highgpu-8g") == _row(snapshot, "a3-highgpu-8g")
    assert default_catalog(tmp_path).label == catalog.label


def test_empty_or_missing_cache_gives_the_snapshot(tmp_path):
    assert load_newest(tmp_path) is None
    assert load_newest(tmp_path / "absent") is None
    assert default_catalog(tmp_path) is load_snapshot()


def test_corrupt_file_is_a_catalog_error_naming_file_and_fix(tmp_path):
    bad = tmp_path / "aws-20261126T100000Z.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(CatalogError) as info:
        load_newest(tmp_path)
    message = str(info.value)
    assert str(bad) in message and "delete" in message and "planner prices refresh" in message


def test_parquet_without_cache_columns_is_a_catalog_error(tmp_path):
    path = tmp_path / "aws-20261126T100000Z.parquet"
    _aws_catalog(1.0).frame.write_parquet(path)
    with pytest.raises(CatalogError, match="lacks columns"):
        read_cache_file(path)


def test_write_rejects_wrong_provider_and_unwritable_folder(tmp_path):
    with pytest.raises(CatalogError, match="cached as 'gcp'"):
        write_cache(_aws_catalog(1.0), "gcp", cache_dir=tmp_path)
    with pytest.raises(CatalogError, match="use one of"):
        write_cache(_aws_catalog(1.0), "azure", cache_dir=tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CatalogError, match="cannot write the price cache"):
        write_cache(_aws_catalog(1.0), "aws", cache_dir=blocker / "sub")
