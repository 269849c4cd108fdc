"""Discount layers applied to simulated usage: hand-computed cost tables for every layer."""

from __future__ import annotations

import numpy as np
import pytest

from costmodels.catalog import InstanceQuote
from costmodels.design_costs import CommitmentTerms, PurchaseProfile, price_design
from costmodels.discounts import Commitment, NegotiatedDiscount
from simulators.core.hourly import constant_profile, hourly_node_hours

HOUR = 3600.0


def _quote(purchase: str, price: float | None, gpus: int = 1) -> InstanceQuote:
    return InstanceQuote(
        instance_key="aws:test.xlarge", provider="aws", instance_type="test.xlarge",
        region="us-east-1", purchase=purchase, gpu_model="NVIDIA T", gpus=gpus,
        gpu_memory_gib=24.0, vcpus=4, memory_gib=16.0, usd_per_hour=price,
        source=None if price is None else f"test {purchase}",
        as_of=None if price is None else "2026-11-01",
        note=None if price is not None else f"test.xlarge has no {purchase} price",
    )


def _profile(purchase, price, usage, *, window_h=None, busy_h=0.0, discountable=True, gpus=1):
    usage = np.asarray(usage, dtype=float)
    window_h = usage.sum(axis=1).mean() if window_h is None else window_h
    return PurchaseProfile(_quote(purchase, price, gpus), usage, window_h * HOUR, busy_h * HOUR,
                           discountable)


def _price(profiles, *, od=10.0, negotiated=None, commitment=None, hours=None, served=1000.0):
    n_hours = profiles[0].hourly_node_hours.shape[1] if hours is None else hours
    return price_design(profiles, on_demand_list=_quote("on_demand", od), negotiated=negotiated,
                        commitment=commitment, horizon_s=n_hours * HOUR,
                        window_s=n_hours * HOUR, served_window=served)


def _terms(kind="reserved", rate=6.0, **size):
    c = Commitment(kind=kind, usd_per_hour_committed=size.get("usd"), nodes=size.get("nodes"),
                   coverage=size.get("coverage"), effective_usd_per_hour_per_node=rate)
    return CommitmentTerms(c, label=f"{kind} on test.xlarge")


def test_on_demand_at_list_price():
    # two replications over 3 hours: 6 and 7 node-hours at $10 -> $60 and $70, mean $65
    cost = _price([_profile("on_demand", 10.0, [[2, 2, 2], [2, 3, 2]])])
    assert cost.layers == (("list price", pytest.approx(65.0)),)
    assert cost.total_usd == pytest.approx(65.0)
    assert cost.usd_per_hour == pytest.approx(65.0 / 3)
    assert cost.usd_per_month == pytest.approx(65.0 / 3 * 730)
    assert not cost.incomplete and cost.note is None


def test_negotiated_discount_lowers_on_demand():
    cost = _price([_profile("on_demand", 10.0, [[2, 2, 2], [2, 3, 2]])],
                  negotiated=NegotiatedDiscount("aws", 10))
    assert [v for _, v in cost.layers] == pytest.approx([65.0, 58.5])
    assert cost.layers[1][0] == "negotiated discount (aws 10%)"
    assert cost.total_usd == pytest.approx(58.5)
    assert cost.effective_usd_per_hour["on_demand"] == pytest.approx(9.0)


def test_reserved_nodes_cover_the_floor_and_on_demand_pays_above():
    # 2 committed nodes at $6 list, 10 % off -> $5.40; on-demand $9 after the discount.
    # rep 1: 6 node-h all covered -> 2 x 3 x 5.4 = 32.4; rep 2: 32.4 + 1 h above x 9 = 41.4
    cost = _price([_profile("on_demand", 10.0, [[2, 2, 2], [2, 3, 2]])],
                  negotiated=NegotiatedDiscount("aws", 10), commitment=_terms(nodes=2))
    assert [v for _, v in cost.layers] == pytest.approx([65.0, 58.5, 36.9])
    assert [name for name, _ in cost.layers] == ["list price", "negotiated discount (aws 10%)",
                                                 "commitment"]
    assert cost.total_usd == pytest.approx(36.9)
    c = cost.commitment
    assert c["rate_usd_per_hour"] == pytest.approx(5.4)
    assert c["committed_nodes"] == pytest.approx(2.0)
    assert c["covered_node_hours"] == pytest.approx(6.0)
    assert c["on_demand_node_hours"] == pytest.approx(0.5)
    assert c["unused_commitment_usd"] == pytest.approx(0.0)
    assert c["utilization_of_commitment"] == pytest.approx(1.0)


def test_unused_commitment_is_paid():
    # 3 nodes committed at $6 over 3 h of 2-node usage: $54 paid, 3 node-h unused = $18
    cost = _price([_profile("on_demand", 10.0, [[2, 2, 2]])], commitment=_terms(nodes=3))
    assert cost.total_usd == pytest.approx(54.0)
    assert cost.commitment["unused_commitment_usd"] == pytest.approx(18.0)
    assert cost.commitment["utilization_of_commitment"] == pytest.approx(6 / 9)
    assert cost.effective_usd_per_hour["on_demand"] == pytest.approx(54.0 / 6)


def test_coverage_commits_a_share_of_the_always_on_floor():
    # usage 4, 6, 5 nodes: floor 4, 50 % coverage -> 2 nodes at $6; above: 2 + 4 + 3 = 9 h x $10
    cost = _price([_profile("on_demand", 10.0, [[4, 6, 5]])], commitment=_terms(coverage=0.5))
    assert cost.commitment["committed_nodes"] == pytest.approx(2.0)
    assert cost.total_usd == pytest.approx(2 * 3 * 6 + 9 * 10)


def test_savings_plan_spend_commitment():
    # $12/h committed at a $6 rate buys 2 node-hours every hour; 10 % off shrinks both
    cost = _price([_profile("on_demand", 10.0, [[3, 3]])], commitment=_terms(
        kind="savings_plan", usd=12.0), negotiated=NegotiatedDiscount("aws", 10))
    assert cost.commitment["committed_nodes"] == pytest.approx(2.0)
    assert cost.total_usd == pytest.approx(2 * 12.0 * 0.9 + 2 * 1 * 9.0)


def test_spot_layer_last_and_not_discounted():
    # od 1 node x 2 h, spot 2 nodes x 2 h; od $10, spot $3, 20 % negotiated
    cost = _price([_profile("on_demand", 10.0, [[1, 1]]), _profile("spot", 3.0, [[2, 2]])],
                  negotiated=NegotiatedDiscount("aws", 20))
    assert [name for name, _ in cost.layers] == ["list price", "negotiated discount (aws 20%)",
                                                 "spot"]
    assert [v for _, v in cost.layers] == pytest.approx([60.0, 48.0, 28.0])
    assert cost.by_purchase == pytest.approx({"on_demand": 16.0, "spot": 12.0})


def test_reserved_purchase_priced_at_the_commitment_step():
    cost = _price([_profile("reserved_1yr", 6.0, [[2, 2]])])
    assert cost.layers == (("list price", pytest.approx(40.0)),
                           ("commitment", pytest.approx(24.0)))
    assert cost.total_usd == pytest.approx(24.0)


def test_effective_rates_are_not_discounted_again():
    cost = _price([_profile("on_demand", 8.0, [[1, 1]], discountable=False)], od=8.0,
                  negotiated=NegotiatedDiscount("aws", 10))
    assert cost.total_usd == pytest.approx(16.0)
    assert [v for _, v in cost.layers] == pytest.approx([16.0, 16.0])


def test_unknown_price_is_incomplete_not_zero():
    cost = _price([_profile("on_demand", 10.0, [[1, 1]]), _profile("spot", None, [[2, 2]])])
    assert cost.incomplete
    assert cost.total_usd is None and cost.usd_per_month is None and cost.window_usd is None
    assert cost.by_purchase == {"on_demand": pytest.approx(20.0), "spot": None}
    assert cost.layers[0] == ("list price", pytest.approx(60.0))
    assert cost.layers[-1] == ("spot", None)
    assert "no spot price" in cost.note


def test_unknown_commitment_rate_is_incomplete():
    terms = CommitmentTerms(None, label="savings_plan on test.xlarge",
                            rate_note="catalog lacks savings_plan_1yr for test.xlarge")
    cost = _price([_profile("on_demand", 10.0, [[1, 1]])], commitment=terms)
    assert cost.incomplete and cost.total_usd is None
    assert "savings_plan_1yr" in cost.note


def test_window_and_busy_costs_use_effective_rates():
    # commitment 2 nodes at $6 over 2 h of 1-node usage: $24 paid for 2 node-h -> $12/node-h
    cost = _price([_profile("on_demand", 10.0, [[1, 1]], window_h=1.0, busy_h=0.5)],
                  commitment=_terms(nodes=2))
    assert cost.total_usd == pytest.approx(24.0)
    assert cost.window_usd == pytest.approx(12.0)
    assert cost.busy_usd == pytest.approx(6.0)


def test_the_last_layer_always_equals_the_total():
    rng = np.random.default_rng(7)
    for _ in range(20):
        od = rng.integers(0, 4, size=(3, 5)).astype(float)
        spot = rng.integers(0, 4, size=(3, 5)).astype(float)
        cost = _price([_profile("on_demand", 10.0, od), _profile("spot", 2.5, spot)],
                      negotiated=NegotiatedDiscount("aws", float(rng.integers(0, 30))),
                      commitment=_terms(nodes=float(rng.integers(1, 3))))
        assert cost.layers[-1][1] == pytest.approx(cost.total_usd)
        assert cost.total_usd == pytest.approx(sum(cost.by_purchase.values()))


def test_hourly_node_hours_splits_bins_across_hours():
    # half-hour bins
    out = hourly_node_hours(np.array([0, 1800, 3600, 5400.0]), np.full(4, 1800.0),
                            np.array([[1, 2, 3, 4.0]]), 7200)
    assert out == pytest.approx(np.array([[1.5, 3.5]]))
    # 40-minute bins straddle the hour boundary
    out = hourly_node_hours(np.array([0, 2400, 4800.0]), np.full(3, 2400.0),
                            np.array([[3, 6, 3.0]]), 7200)
    assert out == pytest.approx(np.array([[(3 * 2400 + 6 * 1200) / 3600,
                                           (6 * 1200 + 3 * 2400) / 3600]]))


def test_constant_profile_spreads_node_seconds():
    out = constant_profile(np.array([7200.0, 3600.0]), 5400.0)
    assert out.sum(axis=1) == pytest.approx([2.0, 1.0])
    assert out[0] == pytest.approx([2 * 3600 / 5400, 2 * 1800 / 5400])
