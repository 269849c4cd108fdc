"""Tests of the bundled AWS Spot Advisor snapshot and the band-to-rate conversion."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from costmodels.spot_advisor import (
    ADVISOR_AS_OF,
    BAND_INTERRUPTED_FRACTION_PER_MONTH,
    BANDS,
    SpotAdvice,
    load_advisor_table,
    lookup_band,
    rate_per_node_hour,
)
from domain.errors import CatalogError, PlannerError

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "costmodels" / "data" / "spot_advisor_gpu_linux.csv"
COLUMNS = ["region", "instance_type", "savings_pct_vs_ondemand", "interruption_range_index",
           "interruption_range_label"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# The bundled table against the shared data it was derived from


def test_bundled_table_is_the_shared_linux_rows(shared_data: Path) -> None:
    shared = read_rows(shared_data / "traces" / "aws_spot_advisor" /
                       "spot_advisor_gpu_accel_flat.csv")
    expected = [[row[c] for c in COLUMNS] for row in shared if row["os"] == "Linux"]
    with BUNDLED.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == COLUMNS
    assert rows == expected  # same rows, same order, cells as text


def test_bundled_table_agrees_with_the_aws_feed(shared_data: Path) -> None:
    """Every bundled row is the feed's Linux entry; the feed's labels are the bands."""
    feed = json.loads((shared_data / "traces" / "aws_spot_advisor" /
                       "spot-advisor-data.json").read_text(encoding="utf-8"))
    assert tuple(r["label"] for r in sorted(feed["ranges"], key=lambda r: r["index"])) == BANDS
    for row in read_rows(BUNDLED):
        entry = feed["spot_advisor"][row["region"]]["Linux"][row["instance_type"]]
        assert (entry["s"], entry["r"]) == (int(row["savings_pct_vs_ondemand"]),
                                            int(row["interruption_range_index"]))


def test_bundled_table_shape() -> None:
    table = load_advisor_table()
    assert table.columns == COLUMNS and table.height == 822
    assert table.select("region", "instance_type").is_unique().all()
    for index, band in enumerate(BANDS):
        labels = set(table.filter(table["interruption_range_index"] == index)
                     ["interruption_range_label"])
        assert labels == {band}
    # The feed's discount can be negative: ca-central-1 p5.48xlarge spot is 62% dearer.
    assert table["savings_pct_vs_ondemand"].is_between(-100, 100).all()
    negative = table.filter(table["savings_pct_vs_ondemand"] < 0)
    assert negative.rows() == [("ca-central-1", "p5.48xlarge", -62, 0, "<5%")]
    assert load_advisor_table() is table  # cached


def test_nothing_is_read_at_import() -> None:
    code = ("import costmodels.spot_advisor as m; "
            "print(m.load_advisor_table.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "0"


# ---------------------------------------------------------------------------------------------
# Look-ups (expected values from ../shared/data/traces/README.md, section 3)


@pytest.mark.parametrize(
    ("instance_type", "region", "band", "savings_pct"),
    [
        ("p5.48xlarge", "us-east-1", ">20%", 52),
        ("p4d.24xlarge", "us-east-1", "10-15%", 67),
        ("p5en.48xlarge", "us-east-1", "<5%", 64),
        ("g5.xlarge", "us-east-1", ">20%", 59),
    ],
)
def test_lookup_band(instance_type: str, region: str, band: str, savings_pct: int) -> None:
    advice = lookup_band(instance_type, region)
    assert advice == SpotAdvice(band=band, savings_pct=savings_pct, region=region,
                                instance_type=instance_type)
    assert advice.as_of == ADVISOR_AS_OF == "2025-06-28"
    assert "spot-advisor-data.json" in advice.source
    assert advice.interrupted_fraction_per_month == BAND_INTERRUPTED_FRACTION_PER_MONTH[band]


@pytest.mark.parametrize(
    ("instance_type", "region", "words"),
    [
        ("p5.48xlarg", "us-east-1", ["p5.48xlarg in us-east-1", "close: p5.48xlarge"]),
        ("m5.large", "us-east-1", ["m5.large in us-east-1", "GPU and accelerator types"]),
        ("p5.48xlarge", "af-south-1", ["p5.48xlarge has no entry for region 'af-south-1'",
                                       "us-east-1", "use one of those regions"]),
        ("nosuch.type", "us-east-9", ["region 'us-east-9'", "did you mean"]),
    ],
)
def test_unknown_instance_or_region(instance_type: str, region: str, words: list[str]) -> None:
    with pytest.raises(CatalogError) as info:
        lookup_band(instance_type, region)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "set spot.interruptions.band explicitly or use interruptions kind: rate" in message
    assert isinstance(info.value, PlannerError)


# ---------------------------------------------------------------------------------------------
# From band to rate


def test_rate_hand_checked() -> None:
    # ">20%" is taken as 25% a month: -ln(0.75) = 0.287682072451781; / 730 h.
    assert rate_per_node_hour(">20%") == pytest.approx(0.287682072451781 / 730, rel=1e-12)
    # "10-15%" is 12.5%: -ln(0.875) = 0.133531392624523.
    assert rate_per_node_hour("10-15%") == pytest.approx(0.133531392624523 / 730, rel=1e-12)
    # "<5%" is 2.5% over a 720-hour month: -ln(0.975) = 0.025317807984290.
    assert rate_per_node_hour("<5%", 720.0) == pytest.approx(0.025317807984290 / 720,
                                                             rel=1e-12)


@pytest.mark.parametrize("band", BANDS)
def test_rate_interrupts_the_band_fraction_in_a_month(band: str) -> None:
    rate = rate_per_node_hour(band, 730.0)
    assert 1.0 - math.exp(-rate * 730.0) == pytest.approx(
        BAND_INTERRUPTED_FRACTION_PER_MONTH[band], rel=1e-12)


def test_band_fractions_are_midpoints_and_rates_increase() -> None:
    assert BAND_INTERRUPTED_FRACTION_PER_MONTH == {
        "<5%": 0.025, "5-10%": 0.075, "10-15%": 0.125, "15-20%": 0.175, ">20%": 0.25}
    rates = [rate_per_node_hour(band) for band in BANDS]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


@pytest.mark.parametrize(("band", "hours", "words"), [
    ("20%", 730.0, ["band '20%' is unknown", "<5%, 5-10%"]),
    (">20%", 0.0, ["hours_per_month", "got 0.0", "730"]),
    (">20%", float("nan"), ["hours_per_month", "got nan"]),
])
def test_rate_errors(band: str, hours: float, words: list[str]) -> None:
    with pytest.raises(CatalogError) as info:
        rate_per_node_hour(band, hours)
    for word in words:
        assert word in str(info.value)
