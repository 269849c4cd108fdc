"""Pricing of dynamic fleets: hand-computed tables, n/a propagation, invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.catalog import load_snapshot, quote_instance
from costmodels.fleet_costs import PurchaseUsage, price_fleet_usage


def _quote(purchase: str, instance: str = "aws:p5.48xlarge"):
    return quote_instance(load_snapshot(), instance, purchase=purchase)


def test_mixed_fleet_matches_a_hand_computed_table() -> None:
    """p5.48xlarge: on-demand $55.04/h, spot $20.20/h (snapshot 2026-01-21), 8 GPUs."""
    od = PurchaseUsage(_quote("on_demand"), node_s_horizon=2 * 86_400, node_s_window=2 * 82_800,
                       busy_gpu_s_window=4 * 82_800)
    spot = PurchaseUsage(_quote("spot"), node_s_horizon=3 * 43_200, node_s_window=3 * 41_000,
                         busy_gpu_s_window=10 * 41_000)
    cost = price_fleet_usage([od, spot], horizon_s=86_400, window_s=82_800,
                             served_requests_window=50_000_000)
    od_usd = 2 * 24 * 55.04
    spot_usd = 3 * 12 * 20.20
    assert cost.by_purchase == pytest.approx({"on_demand": od_usd, "spot": spot_usd})
    assert cost.total_usd == pytest.approx(od_usd + spot_usd)
    assert cost.usd_per_hour == pytest.approx((od_usd + spot_usd) / 24)
    assert cost.usd_per_month == pytest.approx((od_usd + spot_usd) / 24 * 730)
    window = 2 * 82_800 / 3600 * 55.04 + 3 * 41_000 / 3600 * 20.20
    assert cost.window_usd == pytest.approx(window)
    assert cost.usd_per_1k_requests == pytest.approx(window / 50_000)
    busy = 4 * 82_800 / 3600 * 55.04 / 8 + 10 * 41_000 / 3600 * 20.20 / 8
    assert cost.busy_usd == pytest.approx(busy)
    assert cost.usd_per_1k_requests_busy == pytest.approx(busy / 50_000)
    assert {s[0] for s in cost.sources} == {"on_demand", "spot"}


def test_unknown_spot_price_makes_totals_na_not_zero() -> None:
    """g6.xlarge has no spot price in the snapshot: any spot usage makes the total n/a."""
    od = PurchaseUsage(_quote("on_demand", "aws:g6.xlarge"), 3600.0, 3600.0, 1800.0)
    spot = PurchaseUsage(_quote("spot", "aws:g6.xlarge"), 7200.0, 7200.0, 3600.0)
    cost = price_fleet_usage([od, spot], horizon_s=3600, window_s=3600,
                             served_requests_window=1000)
    assert cost.total_usd is None and cost.usd_per_1k_requests is None
    assert cost.by_purchase["on_demand"] == pytest.approx(0.8048)
    assert cost.by_purchase["spot"] is None
    assert cost.note and "spot" in cost.note


def test_an_unused_unknown_price_does_not_hide_the_total() -> None:
    od = PurchaseUsage(_quote("on_demand", "aws:g6.xlarge"), 3600.0, 3600.0, 1800.0)
    spot = PurchaseUsage(_quote("spot", "aws:g6.xlarge"), 0.0, 0.0, 0.0)
    cost = price_fleet_usage([od, spot], horizon_s=3600, window_s=3600,
                             served_requests_window=1000)
    assert cost.total_usd == pytest.approx(0.8048)


def test_bad_inputs_are_rejected() -> None:
    od = PurchaseUsage(_quote("on_demand"), 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="twice"):
        price_fleet_usage([od, od], horizon_s=1, window_s=1, served_requests_window=1)
    with pytest.raises(ValueError, match="horizon_s"):
        price_fleet_usage([od], horizon_s=0, window_s=1, served_requests_window=1)
    with pytest.raises(ValueError, match="node_s_horizon"):
        price_fleet_usage([PurchaseUsage(_quote("spot"), -1.0, 0.0, 0.0)], horizon_s=1,
                          window_s=1, served_requests_window=1)


@settings(max_examples=50, deadline=None)
@given(a=st.floats(0, 1e7), b=st.floats(0, 1e7), k=st.floats(0.1, 10))
def test_costs_are_non_negative_and_linear(a: float, b: float, k: float) -> None:
    def cost(scale: float):
        return price_fleet_usage(
            [PurchaseUsage(_quote("on_demand"), a * scale, a * scale, 0.0),
             PurchaseUsage(_quote("spot"), b * scale, b * scale, 0.0)],
            horizon_s=86_400, window_s=86_400, served_requests_window=1000)
    one, scaled = cost(1.0), cost(k)
    assert one.total_usd >= 0
    assert scaled.total_usd == pytest.approx(k * one.total_usd, rel=1e-9, abs=1e-9)
