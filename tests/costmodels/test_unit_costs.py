"""Tests of fleet unit costs (costmodels.unit_costs) against hand-computed tables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodels.catalog import InstanceQuote, load_snapshot, quote_instance
from costmodels.unit_costs import FleetCost, price_fixed_fleet

MONEY_FIELDS = (
    "usd_per_hour",
    "total_usd",
    "usd_per_month",
    "usd_per_1k_requests",
    "busy_usd",
    "usd_per_1k_requests_busy",
)


def _quote(
    usd_per_hour: float | None, gpus: int | None = 8, note: str | None = None
) -> InstanceQuote:
    return InstanceQuote(
        instance_key="aws:test.48xlarge",
        provider="aws",
        instance_type="test.48xlarge",
        region="us-east-1",
        purchase="on_demand",
        gpu_model="NVIDIA H100",
        gpus=gpus,
        gpu_memory_gib=80.0,
        vcpus=192,
        memory_gib=2048.0,
        usd_per_hour=usd_per_hour,
        source="hand-made",
        as_of="2026-01-21",
        note=note,
    )


# --- hand-computed tables --------------------------------------------------------------------
#
# 2 x p5.48xlarge on-demand at $55.04/h (8 GPUs each) for 600 s, 12,000 requests served,
# 4,800 busy GPU-seconds (of 2 * 8 * 600 = 9,600 held):
#   fleet $/h       = 2 * 55.04                    = 110.08
#   total           = 110.08 * 600 / 3600          = 18.346666...
#   per month       = 110.08 * 730                 = 80,358.4
#   $/1k requests   = 18.346666... / 12,000 * 1000 = 1.528888...
#   $/GPU-second    = 55.04 / 8 / 3600             = 0.0019111...
#   busy            = 4,800 * 0.0019111...         = 9.173333...
#   $/1k busy       = 9.173333... / 12           = 0.764444...


def test_two_p5_nodes_for_ten_minutes_from_snapshot() -> None:
    quote = quote_instance(load_snapshot(), "aws:p5.48xlarge")
    cost = price_fixed_fleet(
        quote, n_nodes=2, window_s=600.0, served_requests=12_000, busy_gpu_seconds=4_800.0
    )
    assert cost.usd_per_hour == pytest.approx(110.08, rel=1e-12)
    assert cost.total_usd == pytest.approx(18.346666666666667, rel=1e-12)
    assert cost.usd_per_month == pytest.approx(80_358.4, rel=1e-12)
    assert cost.usd_per_1k_requests == pytest.approx(1.5288888888888889, rel=1e-12)
    assert cost.busy_usd == pytest.approx(9.173333333333334, rel=1e-12)
    assert cost.usd_per_1k_requests_busy == pytest.approx(0.7644444444444445, rel=1e-12)
    assert cost.hours_per_month == 730.0
    assert cost.purchase == "on_demand"
    assert cost.price_as_of == "2026-01-21"
    assert "tsaol/aws-gpu" in cost.price_source
    assert cost.note is None


@pytest.mark.parametrize(
    # n_nodes, $/node-h, gpus, window_s, hours/month, requests, busy GPU-s,
    # expected: fleet $/h, total, month, $/1k, busy, $/1k busy
    ("row", "expected"),
    [
        # 1 x g5.xlarge on-demand $1.006/h for one hour, 3,600,000 requests, half busy.
        ((1, 1.006, 1, 3600.0, 730.0, 3_600_000, 1800.0),
         (1.006, 1.006, 734.38, 0.00027944444444444445, 0.503, 0.00013972222222222222)),
        # 3 x g2-standard-24 ($2.0008/h, 2 GPUs) for 2 h, 720 h month, 1,000 requests,
        # 10,800 busy GPU-s: total 3*2.0008*2 = 12.0048; busy $/GPU-s = 2.0008/2/3600.
        ((3, 2.0008, 2, 7200.0, 720.0, 1_000, 10_800.0),
         (6.0024, 12.0048, 4321.728, 12.0048, 3.0012, 3.0012)),
        # 4 x p5.48xlarge spot $20.2/h for 90 s, 500 requests, fully busy (4*8*90 GPU-s).
        ((4, 20.2, 8, 90.0, 730.0, 500, 2880.0),
         (80.8, 2.02, 58_984.0, 4.04, 2.02, 4.04)),
        # An empty fleet costs a known zero, not n/a.
        ((0, 55.04, 8, 600.0, 730.0, 10, 0.0),
         (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
    ],
)
def test_cost_table(row: tuple, expected: tuple) -> None:
    n_nodes, usd_per_hour, gpus, window_s, hours_per_month, requests, busy_s = row
    cost = price_fixed_fleet(
        _quote(usd_per_hour, gpus),
        n_nodes=n_nodes,
        window_s=window_s,
        hours_per_month=hours_per_month,
        served_requests=requests,
        busy_gpu_seconds=busy_s,
    )
    got = tuple(getattr(cost, name) for name in MONEY_FIELDS)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert cost.hours_per_month == hours_per_month


# --- unknowns are None, never 0 -------------------------------------------------------------


def test_unknown_price_gives_none_everywhere_and_keeps_the_note() -> None:
    quote = quote_instance(load_snapshot(), "aws:g5.xlarge", purchase="spot")
    assert quote.usd_per_hour is None
    cost = price_fixed_fleet(
        quote, n_nodes=2, window_s=600.0, served_requests=100, busy_gpu_seconds=10.0
    )
    for name in MONEY_FIELDS:
        assert getattr(cost, name) is None, name
    assert cost.note.startswith("the catalog (built-in snapshot, 2026-01-21) has no spot price "
                                "for aws:g5.xlarge")
    assert cost.purchase == "spot"
    assert cost.price_as_of == "2026-01-21"


def test_unknown_instance_gives_none() -> None:
    quote = quote_instance(load_snapshot(), "aws:p5.48xlage")
    cost = price_fixed_fleet(
        quote, n_nodes=1, window_s=60.0, served_requests=1, busy_gpu_seconds=0.0
    )
    assert all(getattr(cost, name) is None for name in MONEY_FIELDS)
    assert "did you mean aws:p5.48xlarge?" in cost.note
    assert cost.price_source is None and cost.price_as_of is None


def test_no_requests_leaves_totals_but_not_per_1k() -> None:
    cost = price_fixed_fleet(
        _quote(10.0), n_nodes=1, window_s=3600.0, served_requests=0, busy_gpu_seconds=0.0
    )
    assert cost.total_usd == pytest.approx(10.0)
    assert cost.busy_usd == 0.0
    assert cost.usd_per_1k_requests is None
    assert cost.usd_per_1k_requests_busy is None
    assert "no request was served" in cost.note


def test_unknown_gpu_count_leaves_busy_basis_unknown() -> None:
    cost = price_fixed_fleet(
        _quote(10.0, gpus=None),
        n_nodes=2,
        window_s=3600.0,
        served_requests=1000,
        busy_gpu_seconds=100.0,
    )
    assert cost.total_usd == pytest.approx(20.0)
    assert cost.usd_per_1k_requests == pytest.approx(20.0)
    assert cost.busy_usd is None
    assert cost.usd_per_1k_requests_busy is None
    assert "busy-GPU basis is n/a" in cost.note


def test_fleet_cost_is_frozen() -> None:
    cost = price_fixed_fleet(
        _quote(1.0), n_nodes=1, window_s=1.0, served_requests=1, busy_gpu_seconds=0.0
    )
    assert isinstance(cost, FleetCost)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.total_usd = 0.0  # type: ignore[misc]


def test_numpy_scalars_are_accepted() -> None:
    cost = price_fixed_fleet(
        _quote(36.0),
        n_nodes=np.int64(2),
        window_s=np.float64(100.0),
        served_requests=np.int64(1000),
        busy_gpu_seconds=np.float64(800.0),
    )
    assert cost.total_usd == pytest.approx(2.0)
    assert cost.busy_usd == pytest.approx(1.0)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"n_nodes": -1}, "n_nodes must be finite and >= 0 (got -1)"),
        ({"n_nodes": 1.5}, "n_nodes must be an integer"),
        ({"n_nodes": True}, "n_nodes must be an integer"),
        ({"window_s": -600.0}, "window_s must be finite and >= 0 (got -600.0)"),
        ({"window_s": math.inf}, "window_s must be finite"),
        ({"window_s": "600"}, "window_s must be a number"),
        ({"served_requests": -5}, "served_requests must be finite and >= 0"),
        ({"busy_gpu_seconds": -1.0}, "busy_gpu_seconds must be finite and >= 0"),
        ({"busy_gpu_seconds": math.nan}, "busy_gpu_seconds must be finite"),
        ({"hours_per_month": 0.0}, "hours_per_month must be > 0"),
        ({"hours_per_month": -730.0}, "hours_per_month must be finite and >= 0"),
        ({"busy_gpu_seconds": 9_601.0}, "busy_gpu_seconds must be <= n_nodes * gpus * window_s"),
    ],
)
def test_invalid_inputs_raise(overrides: dict, fragment: str) -> None:
    kwargs = {
        "n_nodes": 2,
        "window_s": 600.0,
        "served_requests": 100,
        "busy_gpu_seconds": 4_800.0,
    } | overrides
    with pytest.raises(ValueError) as info:
        price_fixed_fleet(_quote(55.04), **kwargs)
    assert fragment in str(info.value)


# --- properties -----------------------------------------------------------------------------

prices = st.floats(min_value=0.01, max_value=200.0, allow_nan=False)
windows = st.floats(min_value=0.0, max_value=30 * 86_400.0, allow_nan=False)


@given(
    usd_per_hour=prices,
    gpus=st.integers(min_value=1, max_value=16),
    n_nodes=st.integers(min_value=0, max_value=1_000),
    window_s=windows,
    busy_fraction=st.floats(min_value=0.0, max_value=1.0),
    served_requests=st.integers(min_value=0, max_value=10**9),
    factor=st.integers(min_value=1, max_value=50),
)
def test_costs_are_non_negative_and_linear(
    usd_per_hour: float,
    gpus: int,
    n_nodes: int,
    window_s: float,
    busy_fraction: float,
    served_requests: int,
    factor: int,
) -> None:
    quote = _quote(usd_per_hour, gpus)
    busy_s = busy_fraction * n_nodes * gpus * window_s

    def price(nodes: int, window: float, busy: float) -> FleetCost:
        return price_fixed_fleet(
            quote,
            n_nodes=nodes,
            window_s=window,
            served_requests=served_requests,
            busy_gpu_seconds=busy,
        )

    base = price(n_nodes, window_s, busy_s)
    for name in MONEY_FIELDS:
        value = getattr(base, name)
        if name.startswith("usd_per_1k") and served_requests == 0:
            assert value is None
        else:
            assert value is not None and value >= 0.0, name
    assert base.busy_usd <= base.total_usd * (1 + 1e-9) + 1e-12

    more_nodes = price(n_nodes * factor, window_s, busy_s * factor)
    assert more_nodes.total_usd == pytest.approx(factor * base.total_usd, rel=1e-9, abs=1e-12)
    assert more_nodes.usd_per_month == pytest.approx(
        factor * base.usd_per_month, rel=1e-9, abs=1e-12
    )
    assert more_nodes.busy_usd == pytest.approx(factor * base.busy_usd, rel=1e-9, abs=1e-12)

    longer = price(n_nodes, window_s * factor, busy_s * factor)
    assert longer.total_usd == pytest.approx(factor * base.total_usd, rel=1e-9, abs=1e-12)
    assert longer.usd_per_month == base.usd_per_month
    assert longer.busy_usd == pytest.approx(factor * base.busy_usd, rel=1e-9, abs=1e-12)
