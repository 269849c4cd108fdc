"""The instance and purchase pickers of the Scenarios page: only choices that can be priced.

A design's fleet is an (instance, purchase option) pair. The page offers an instance only when
the catalog (or the scenario's ``pricing.effective_rates``) has a price for it with the design's
purchase option, and a purchase option only when the design's pattern accepts it and the instance
has a price for it (spot too: choosing it writes default spot settings, which the page's spot
controls then edit, :mod:`dashboards.scenario_spot`). Each choice shows its $/h and where
that price comes from, so "cost n/a" after a run is never a surprise. Prices come from
:func:`planner.pricing.quotes_for`, the function a run prices with.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from costmodels.catalog import PriceCatalog
from domain.errors import PlannerError
from domain.purchase import PURCHASE_OPTIONS
from planner.pricing import quotes_for
from planner.reports.formatting import short_source

Option = dict[str, Any]
"""A ``dcc.Dropdown`` option: ``{"label", "value", "disabled"?, "title"?}``."""


@dataclass(frozen=True)
class Rate:
    """The price of one node of ``instance`` bought as ``purchase`` (None: no price)."""

    instance: str
    purchase: str
    usd_per_hour: float | None
    source: str | None
    as_of: str | None

    @property
    def text(self) -> str:
        """``$1.006/h`` or ``no price``."""
        return "no price" if self.usd_per_hour is None else f"${self.usd_per_hour:,.3f}/h"

    @property
    def provenance(self) -> str:
        """Where the price comes from and its date, for a tooltip."""
        if self.usd_per_hour is None:
            return f"no {self.purchase} price for {self.instance}: a run would show cost n/a"
        return f"{short_source(self.source or '', self.purchase)} ({self.as_of})"


def _literal_values(annotation: Any) -> tuple[str, ...]:
    while get_origin(annotation) is not Literal:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            return ()
        annotation = args[0]
    return tuple(str(a) for a in get_args(annotation))


@functools.lru_cache(maxsize=1)
def pattern_purchases() -> dict[str, tuple[str, ...]]:
    """Return the purchase options each design pattern's fleet accepts, read from the schema
    (``realtime`` -> on_demand, spot, reserved_1yr, reserved_3yr ...)."""
    from planner.schema import Design

    union = get_args(Design)[0]
    out = {}
    for model in get_args(union):
        fleet = model.model_fields["fleet"].annotation
        for pattern in _literal_values(model.model_fields["pattern"].annotation):
            out[pattern] = _literal_values(fleet.model_fields["purchase"].annotation)
    return out


def scenario_pricing(data: Mapping[str, Any]):
    """Return the scenario's ``pricing:`` as the schema reads it (defaults when it is invalid:
    the validation message says what is wrong with it)."""
    from pydantic import ValidationError

    from planner.schema import Pricing

    try:
        return Pricing.model_validate(data.get("pricing") or {})
    except (ValidationError, PlannerError, TypeError):
        return Pricing()


def rates(catalog: PriceCatalog, data: Mapping[str, Any], instance: str, region: str | None,
          purchases: tuple[str, ...] = PURCHASE_OPTIONS) -> dict[str, Rate]:
    """Return the rate of ``instance`` for each of ``purchases``, as a run of the scenario
    mapping ``data`` would price it (scenario effective rates first, then the catalog)."""
    try:
        quotes = quotes_for(catalog, scenario_pricing(data), instance, region, purchases)
    except PlannerError:  # a malformed key or an ambiguous region: nothing can be priced
        return {p: Rate(instance, p, None, None, None) for p in purchases}
    return {p: Rate(instance, p, q.quote.usd_per_hour, q.quote.source, q.quote.as_of)
            for p, q in quotes.items()}


def design_fleet(data: Mapping[str, Any], design: str | None) -> Mapping[str, Any] | None:
    """Return the ``fleet:`` mapping of ``design`` in the scenario mapping ``data`` (None:
    no such design or no fleet mapping)."""
    for d in data.get("designs") or []:
        if isinstance(d, dict) and d.get("name") == design:
            fleet = d.get("fleet")
            return fleet if isinstance(fleet, dict) else None
    return None


def _pattern(data: Mapping[str, Any], design: str | None) -> str:
    for d in data.get("designs") or []:
        if isinstance(d, dict) and d.get("name") == design:
            return str(d.get("pattern", "realtime"))
    return "realtime"


@dataclass(frozen=True)
class FleetChoices:
    """The instance and purchase dropdown options of one design, and why some are missing."""

    instances: list[Option]
    purchases: list[Option]
    notes: list[str]


def fleet_choices(catalog: PriceCatalog, data: Mapping[str, Any],
                  design: str | None) -> FleetChoices:
    """Return the instance and purchase options of ``design`` in the (edited) scenario mapping
    ``data``.

    Instances: every catalog instance that has a price for the design's purchase option (in the
    fleet's region, or the instance's only region when it names none), labelled with that $/h;
    the current instance is always listed, marked when it has no price. Purchase options: the
    pattern's, each with the current instance's $/h; one without a price is listed disabled with
    the reason.
    """
    fleet = design_fleet(data, design)
    if fleet is None:
        return FleetChoices([], [], [])
    instance = str(fleet.get("instance") or "")
    purchase = str(fleet.get("purchase") or "on_demand")
    region = fleet.get("region") if isinstance(fleet.get("region"), str) else None
    allowed = pattern_purchases().get(_pattern(data, design), PURCHASE_OPTIONS)
    own = rates(catalog, data, instance, region, allowed) if instance else {}

    purchases = []
    for option in allowed:
        rate = own.get(option)
        why = None
        if rate is None or rate.usd_per_hour is None:
            why = f"no price for {instance or 'this instance'}"
        label = option.replace("_", " ") + (f" · {rate.text}" if why is None else f" · {why}")
        purchases.append({"label": label, "value": option, "disabled": why is not None,
                          "title": rate.provenance if rate is not None else why})
    if purchase not in allowed:
        purchases.append({"label": f"{purchase} (not a {_pattern(data, design)} option)",
                          "value": purchase, "disabled": True})

    instances = []
    for key in catalog.instance_keys():
        rate = rates(catalog, data, key, region, (purchase,))
        price = rate[purchase]
        if price.usd_per_hour is not None or key == instance:
            label = f"{key} · {price.text}" + ("" if price.usd_per_hour is not None
                                               else f" ({purchase.replace('_', ' ')})")
            instances.append({"label": label, "value": key, "title": price.provenance})
    if instance and not any(o["value"] == instance for o in instances):
        price = own.get(purchase) or Rate(instance, purchase, None, None, None)
        instances.append({"label": f"{instance} · {price.text}", "value": instance,
                          "title": price.provenance})

    notes = []
    current = own.get(purchase)
    if instance and (current is None or current.usd_per_hour is None):
        notes.append(f"{design}: {instance} has no {purchase.replace('_', ' ')} price, so its "
                     "cost would be n/a; pick a priced instance or purchase option")
    return FleetChoices(instances, purchases, notes)
