"""The one list of purchase options: its groups, its Literals, and plain strings outside."""

from __future__ import annotations

import json
from typing import get_args

from domain.purchase import (
    COMMITTED,
    FLEET_PURCHASES,
    PURCHASE_OPTIONS,
    RESERVED,
    SAVINGS_PLANS,
    STREAMING_PURCHASES,
    AnyPurchase,
    FleetPurchase,
    Purchase,
    StreamingPurchase,
)


def test_groups_are_plain_strings_in_catalog_order() -> None:
    assert PURCHASE_OPTIONS == ("on_demand", "spot", "reserved_1yr", "reserved_3yr",
                                "savings_plan_1yr", "savings_plan_3yr")
    for group in (PURCHASE_OPTIONS, RESERVED, SAVINGS_PLANS, COMMITTED, FLEET_PURCHASES,
                  STREAMING_PURCHASES):
        assert all(type(option) is str for option in group)
        assert [o for o in PURCHASE_OPTIONS if o in group] == list(group)
    assert set(COMMITTED) == set(RESERVED) | set(SAVINGS_PLANS)
    assert Purchase.SPOT in STREAMING_PURCHASES and Purchase.SPOT in FLEET_PURCHASES


def test_literals_offer_the_groups() -> None:
    assert get_args(AnyPurchase) == PURCHASE_OPTIONS
    assert get_args(FleetPurchase) == FLEET_PURCHASES
    assert get_args(StreamingPurchase) == STREAMING_PURCHASES


def test_members_compare_and_serialise_as_their_strings() -> None:
    assert Purchase.RESERVED_1YR == "reserved_1yr" and f"{Purchase.SPOT}" == "spot"
    assert json.dumps({Purchase.SPOT: Purchase.ON_DEMAND}) == '{"spot": "on_demand"}'
