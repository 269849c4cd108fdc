"""The purchase options a node can be bought with, and the groups of them the layers use.

One list for the scenario schema, the price catalogs, the cost models and the dashboards.  The
groups are tuples of plain ``str`` values (not enum members), in the catalog's column order, so
that they print, join, compare, sort and serialise as the strings a scenario file uses; a
``Literal`` made from a group (:data:`FleetPurchase`, ...) gives pydantic the same choices and
the same error messages as a hand-written one.

Not to be confused with the purchase categories of a billing export
(``costmodels.billing.schema.PURCHASE_OPTIONS``: on_demand, spot, reserved, savings_plan,
committed_use, other), which say how a bill line was priced, not which catalog rate applies.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Purchase(StrEnum):
    """A purchase option; each has a ``<option>_usd_per_hour`` price column in a catalog."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    RESERVED_1YR = "reserved_1yr"  # AWS standard reserved instance or GCP committed-use discount
    RESERVED_3YR = "reserved_3yr"
    SAVINGS_PLAN_1YR = "savings_plan_1yr"  # AWS Compute Savings Plan
    SAVINGS_PLAN_3YR = "savings_plan_3yr"


PURCHASE_OPTIONS: tuple[str, ...] = tuple(p.value for p in Purchase)
"""Every purchase option, in the catalog's column order."""

RESERVED: tuple[str, ...] = (Purchase.RESERVED_1YR.value, Purchase.RESERVED_3YR.value)
"""Reserved instances (GCP: resource-based committed-use discounts)."""

SAVINGS_PLANS: tuple[str, ...] = (Purchase.SAVINGS_PLAN_1YR.value,
                                  Purchase.SAVINGS_PLAN_3YR.value)
"""Savings plans."""

COMMITTED: tuple[str, ...] = RESERVED + SAVINGS_PLANS
"""Options that are themselves commitments: a term bought up front, priced at its rate."""

FLEET_PURCHASES: tuple[str, ...] = (Purchase.ON_DEMAND.value, Purchase.SPOT.value) + RESERVED
"""Options of a real-time serving fleet."""

STREAMING_PURCHASES: tuple[str, ...] = (Purchase.ON_DEMAND.value, Purchase.SPOT.value) + COMMITTED
"""Options of a streaming fleet (spot nodes are interrupted and their shares reprocessed)."""

AnyPurchase = Literal[PURCHASE_OPTIONS]  # type: ignore[valid-type]
FleetPurchase = Literal[FLEET_PURCHASES]  # type: ignore[valid-type]
StreamingPurchase = Literal[STREAMING_PURCHASES]  # type: ignore[valid-type]
