"""Discount layers: hand-computed tables, n/a propagation, validation, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.discounts import (
    HOURS_PER_YEAR,
    Commitment,
    DiscountLayers,
    NegotiatedDiscount,
    apply_commitment,
    layered_cost,
    reserved_effective_usd_per_hour,
)


def _reserved(nodes: float, rate: float) -> Commitment:
    return Commitment(kind="reserved", usd_per_hour_committed=None, nodes=nodes, coverage=None,
                      effective_usd_per_hour_per_node=rate)


def _coverage(coverage: float, rate: float) -> Commitment:
    return Commitment(kind="cud", usd_per_hour_committed=None, nodes=None, coverage=coverage,
                      effective_usd_per_hour_per_node=rate)


def _savings_plan(usd_per_hour: float, rate: float) -> Commitment:
    return Commitment(kind="savings_plan", usd_per_hour_committed=usd_per_hour, nodes=None,
                      coverage=None, effective_usd_per_hour_per_node=rate)


def test_reserved_upfront_is_amortised_over_8760_hours_a_year() -> None:
    """
    ======================  =======  ========  ===================  ============
    term                    hourly   upfront   formula              USD/h
    ======================  =======  ========  ===================  ============
    1-yr partial upfront    3        10,000    3 + 10000 / 8760     4.141552...
    3-yr all upfront        0        26,280    26280 / (3 × 8760)   1.0
    1-yr no upfront         5        0         5                    5.0
    ======================  =======  ========  ===================  ============
    """
    assert HOURS_PER_YEAR == 8_760
    assert reserved_effective_usd_per_hour(3.0, 10_000.0, 1) == pytest.approx(4.1415525114)
    assert reserved_effective_usd_per_hour(0.0, 26_280.0, 3) == pytest.approx(1.0)
    assert reserved_effective_usd_per_hour(5.0, 0.0, 1) == 5.0
    assert reserved_effective_usd_per_hour(None, 10_000.0, 1) is None
    assert reserved_effective_usd_per_hour(3.0, None, 1) is None


def test_negotiated_discount_of_10_percent() -> None:
    """Usage [1, 2, 3, 4] = 10 node-h at $10/h.

    ====================  =========  ========
    step                  USD/h      total
    ====================  =========  ========
    list price            10         100
    negotiated discount   9          90
    ====================  =========  ========
    """
    edp = NegotiatedDiscount(provider="aws", percent=10)
    assert edp.apply(10.0) == pytest.approx(9.0)
    assert edp.apply(None) is None
    cost = layered_cost(np.array([1.0, 2, 3, 4]), on_demand_usd_per_hour=10.0,
                        layers=DiscountLayers(negotiated=edp))
    assert [name for name, _ in cost.steps] == ["list price", "negotiated discount"]
    assert [usd for _, usd in cost.steps] == pytest.approx([100.0, 90.0])
    assert cost.total_usd == pytest.approx(90.0)
    assert cost.on_demand_usd_per_hour == pytest.approx(9.0)
    assert cost.commitment is None


def test_reserved_commitment_of_two_nodes() -> None:
    """2 reserved nodes at $6/h, on-demand $10/h.

    =====  =====  =======  =========  ======
    hour   usage  covered  on-demand  unused
    =====  =====  =======  =========  ======
    0      1      1        0          1
    1      2      2        0          0
    2      3      2        1          0
    3      4      2        2          0
    sum    10     7        3          1
    =====  =====  =======  =========  ======

    committed 2 × 4 h × $6 = $48 (of which unused 1 × $6 = $6), on-demand 3 × $10 = $30,
    total $78, utilisation 7 / 8.
    """
    r = apply_commitment(np.array([1.0, 2, 3, 4]), 10.0, _reserved(2, 6.0))
    assert r.covered_node_hours == pytest.approx(7.0)
    assert r.on_demand_node_hours == pytest.approx(3.0)
    assert r.committed_usd == pytest.approx(48.0)
    assert r.unused_commitment_usd == pytest.approx(6.0)
    assert r.on_demand_usd == pytest.approx(30.0)
    assert r.total_usd == pytest.approx(78.0)
    assert r.utilization_of_commitment == pytest.approx(7 / 8)


def test_coverage_commitment_sizes_to_the_baseline() -> None:
    """Usage [2, 3, 4, 5], baseline min = 2; rate $6/h, on-demand $10/h.

    ========  =========  =======  =========  =========  ===========  =====
    coverage  committed  covered  on-demand  committed  on-demand    total
              nodes      node-h   node-h     USD        USD          USD
    ========  =========  =======  =========  =========  ===========  =====
    0.5       1          4        10         24         100          124
    1.0       2          8        6          48         60           108
    ========  =========  =======  =========  =========  ===========  =====
    """
    usage = np.array([2.0, 3, 4, 5])
    half = apply_commitment(usage, 10.0, _coverage(0.5, 6.0))
    full = apply_commitment(usage, 10.0, _coverage(1.0, 6.0))
    assert (half.covered_node_hours, half.on_demand_node_hours) == pytest.approx((4.0, 10.0))
    assert (half.committed_usd, half.on_demand_usd, half.total_usd) == pytest.approx(
        (24.0, 100.0, 124.0))
    assert (full.covered_node_hours, full.on_demand_node_hours) == pytest.approx((8.0, 6.0))
    assert (full.committed_usd, full.on_demand_usd, full.total_usd) == pytest.approx(
        (48.0, 60.0, 108.0))
    assert half.unused_commitment_usd == full.unused_commitment_usd == 0.0
    assert full.utilization_of_commitment == pytest.approx(1.0)


def test_coverage_commitment_over_a_zero_baseline_commits_nothing() -> None:
    """Usage [0, 3]: baseline 0, so 0 nodes committed; all 3 node-h on-demand at $10 = $30."""
    r = apply_commitment(np.array([0.0, 3.0]), 10.0, _coverage(1.0, 6.0))
    assert r.committed_usd == 0.0
    assert r.total_usd == pytest.approx(30.0)
    assert r.utilization_of_commitment is None


def test_savings_plan_with_unused_commitment() -> None:
    """$12/h committed at $6/node-h buys 2 node-h each hour; on-demand $10/h.

    =====  =====  =======  =========  ======
    hour   usage  covered  on-demand  unused
    =====  =====  =======  =========  ======
    0      0      0        0          2
    1      1      1        0          1
    2      3      2        1          0
    3      2      2        0          0
    sum    6      5        1          3
    =====  =====  =======  =========  ======

    committed $12 × 4 h = $48, unused 3 × $6 = $18, on-demand $10, total $58, utilisation 5/8.
    """
    r = apply_commitment(np.array([0.0, 1, 3, 2]), 10.0, _savings_plan(12.0, 6.0))
    assert r.covered_node_hours == pytest.approx(5.0)
    assert r.on_demand_node_hours == pytest.approx(1.0)
    assert r.committed_usd == pytest.approx(48.0)
    assert r.unused_commitment_usd == pytest.approx(18.0)
    assert r.on_demand_usd == pytest.approx(10.0)
    assert r.total_usd == pytest.approx(58.0)
    assert r.utilization_of_commitment == pytest.approx(0.625)


@pytest.mark.parametrize("commitment", [_reserved(2, 6.0), _savings_plan(12.0, 6.0)],
                         ids=["reserved", "savings_plan"])
def test_layers_in_order(commitment: Commitment) -> None:
    """Usage [1, 2, 3, 4], on-demand $10/h, 10 % EDP, 2 nodes committed at $6/h list.

    ====================  ==========================================  =====
    step                  computation                                 total
    ====================  ==========================================  =====
    list price            10 node-h × $10                             100
    negotiated discount   10 node-h × $9                              90
    commitment            2 × 4 h × $5.40 + 3 node-h × $9 = 43.2+27   70.2
    ====================  ==========================================  =====

    The savings plan ($12/h at $6/h, both cut 10 %) still buys 2 nodes, so it gives the same.
    """
    cost = layered_cost(np.array([1.0, 2, 3, 4]), on_demand_usd_per_hour=10.0,
                        layers=DiscountLayers(NegotiatedDiscount("aws", 10), commitment))
    assert [name for name, _ in cost.steps] == ["list price", "negotiated discount",
                                                "commitment"]
    assert [usd for _, usd in cost.steps] == pytest.approx([100.0, 90.0, 70.2])
    assert cost.total_usd == pytest.approx(70.2)
    assert cost.commitment is not None
    assert cost.commitment.committed_usd == pytest.approx(43.2)
    assert cost.commitment.on_demand_usd == pytest.approx(27.0)
    assert cost.commitment.unused_commitment_usd == pytest.approx(5.4)


def test_commitment_without_negotiated_discount_matches_apply_commitment() -> None:
    """Only a commitment: steps are list price ($100) then commitment ($78, as the RI table)."""
    cost = layered_cost(np.array([1.0, 2, 3, 4]), on_demand_usd_per_hour=10.0,
                        layers=DiscountLayers(commitment=_reserved(2, 6.0)))
    assert [name for name, _ in cost.steps] == ["list price", "commitment"]
    assert [usd for _, usd in cost.steps] == pytest.approx([100.0, 78.0])


def test_unknown_on_demand_price_makes_every_money_field_none() -> None:
    """No on-demand price: totals are n/a (None), never 0; node-hours are still known."""
    cost = layered_cost(np.array([1.0, 2, 3, 4]), on_demand_usd_per_hour=None,
                        layers=DiscountLayers(NegotiatedDiscount("gcp", 20), _reserved(2, 6.0)))
    assert cost.steps == (("list price", None), ("negotiated discount", None),
                          ("commitment", None))
    assert cost.total_usd is None
    assert cost.on_demand_usd_per_hour is None
    r = cost.commitment
    assert r is not None
    assert (r.committed_usd, r.on_demand_usd, r.unused_commitment_usd, r.total_usd) == (
        None, None, None, None)
    assert (r.covered_node_hours, r.on_demand_node_hours) == pytest.approx((7.0, 3.0))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: NegotiatedDiscount("aws", 100), "percent must be < 100"),
        (lambda: NegotiatedDiscount("aws", -1), "percent must be a finite number >= 0"),
        (lambda: NegotiatedDiscount("", 10), "provider must be a non-empty string"),
        (lambda: Commitment("spot", None, 2, None, 6.0), "kind must be one of"),
        (lambda: Commitment("reserved", None, None, None, 6.0), "exactly one of"),
        (lambda: Commitment("reserved", 12.0, 2, None, 6.0), "exactly one of"),
        (lambda: _reserved(0, 6.0), "nodes must be a finite number > 0"),
        (lambda: _coverage(1.5, 6.0), "coverage must be <= 1"),
        (lambda: _reserved(2, 0.0), "effective_usd_per_hour_per_node must be"),
        (lambda: _savings_plan(float("nan"), 6.0), "usd_per_hour_committed must be"),
        (lambda: reserved_effective_usd_per_hour(3.0, 100.0, 0), "term_years must be"),
        (lambda: reserved_effective_usd_per_hour(-3.0, 100.0, 1), "hourly_usd must be"),
        (lambda: apply_commitment(np.array([1.0, -1.0]), 10.0, _reserved(1, 6.0)),
         r"node_hours_per_hour\[1\] must be finite and >= 0"),
        (lambda: apply_commitment(np.array([]), 10.0, _reserved(1, 6.0)), "non-empty 1-D"),
        (lambda: apply_commitment(np.ones((2, 2)), 10.0, _reserved(1, 6.0)), "non-empty 1-D"),
        (lambda: apply_commitment(np.ones(2), 0.0, _reserved(1, 6.0)),
         "on_demand_usd_per_hour must be a finite number > 0"),
        (lambda: layered_cost(np.ones(2), on_demand_usd_per_hour=-1.0, layers=DiscountLayers()),
         "on_demand_usd_per_hour must be"),
    ],
)
def test_invalid_inputs_raise_value_error(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_coverage_commitment_is_not_monotone_in_usage() -> None:
    """A coverage commitment re-sizes to the floor, so raising the floor can lower the total.

    ==============  =========  =========================  =====
    usage           committed  cost ($6 RI, $10 OD)       total
    ==============  =========  =========================  =====
    [1, 5, 5, 5]    1 node     1 × 4 × 6 + 12 × 10        144
    [2, 5, 5, 5]    2 nodes    2 × 4 × 6 + 9 × 10         138
    ==============  =========  =========================  =====
    """
    low = apply_commitment(np.array([1.0, 5, 5, 5]), 10.0, _coverage(1.0, 6.0))
    high = apply_commitment(np.array([2.0, 5, 5, 5]), 10.0, _coverage(1.0, 6.0))
    assert low.total_usd == pytest.approx(144.0)
    assert high.total_usd == pytest.approx(138.0)


_usage = st.lists(st.floats(0.0, 50.0, allow_nan=False), min_size=1, max_size=24)


@st.composite
def _priced_commitment(draw) -> tuple[float, Commitment]:
    on_demand = draw(st.floats(0.5, 100.0))
    rate = on_demand * draw(st.floats(0.05, 1.0))
    basis = draw(st.sampled_from(["nodes", "coverage", "spend"]))
    if basis == "nodes":
        return on_demand, _reserved(draw(st.floats(0.1, 20.0)), rate)
    if basis == "coverage":
        return on_demand, _coverage(draw(st.floats(0.01, 1.0)), rate)
    return on_demand, _savings_plan(rate * draw(st.floats(0.1, 20.0)), rate)


@settings(max_examples=200, deadline=None)
@given(usage=_usage, priced=_priced_commitment())
def test_total_lies_between_fully_covered_and_on_demand_plus_commitment(
    usage: list[float], priced: tuple[float, Commitment]
) -> None:
    """With committed rate <= on-demand: Σu × rate <= total <= Σu × on-demand + committed."""
    on_demand, commitment = priced
    r = apply_commitment(np.array(usage), on_demand, commitment)
    assert r.total_usd is not None and r.committed_usd is not None
    fully_covered = sum(usage) * commitment.effective_usd_per_hour_per_node
    assert r.total_usd >= fully_covered - 1e-9 * max(1.0, fully_covered)
    ceiling = sum(usage) * on_demand + r.committed_usd
    assert r.total_usd <= ceiling + 1e-9 * max(1.0, ceiling)
    assert r.covered_node_hours + r.on_demand_node_hours == pytest.approx(sum(usage), abs=1e-9)
    assert r.unused_commitment_usd is not None and r.unused_commitment_usd >= 0


@settings(max_examples=200, deadline=None)
@given(usage=_usage,
       extra=st.lists(st.floats(0.0, 10.0), min_size=24, max_size=24),
       priced=_priced_commitment().filter(lambda p: p[1].coverage is None))
def test_total_is_monotone_in_usage_for_a_fixed_commitment(
    usage: list[float], extra: list[float], priced: tuple[float, Commitment]
) -> None:
    """More usage in any hour never lowers the total (node or spend commitments)."""
    on_demand, commitment = priced
    base = np.array(usage)
    more = base + np.array(extra[: base.size])
    low = apply_commitment(base, on_demand, commitment).total_usd
    high = apply_commitment(more, on_demand, commitment).total_usd
    assert low is not None and high is not None
    assert high >= low - 1e-9 * max(1.0, low)
