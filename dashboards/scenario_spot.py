"""Spot settings of a design on the Scenarios page: how its spot nodes are interrupted.

A design becomes spot by its purchase option alone: when it has no ``fleet.spot`` block, one is
written with the default interruption model (:func:`default_kind`: the AWS Spot Advisor band of
the instance when the bundled snapshot lists it, else a given rate of
:data:`DEFAULT_RATE_PER_NODE_HOUR`). Two edits change the model, ``spot_interruptions``
(``advisor`` or ``rate``; a ``trace`` in the scenario file is kept, its path is not editable)
and ``spot_per_node_hour`` (the rate's interruptions per node-hour). Leaving spot removes the
spot block and ``on_demand_base``, which apply only with ``purchase: spot``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from costmodels.spot_advisor import DEFAULT_REGION, SpotAdvice, lookup_band, rate_per_node_hour
from domain.errors import CatalogError

SPOT_FIELDS = ("spot_interruptions", "spot_per_node_hour")
"""The design fields (edit keys ``<design>.<field>``) of the spot settings."""

SPOT_KINDS = ("advisor", "rate", "trace")
"""Interruption kinds an edit may name (a trace only as the scenario file gives it)."""

DEFAULT_RATE_PER_NODE_HOUR = 0.01
"""The rate written when none is given: the scenario schema's own example for a fleet the Spot
Advisor does not cover (a node lives 100 h on average). An assumption, shown in its control."""

_ADVISOR_HOURS_PER_MONTH = 730.0


@functools.lru_cache(maxsize=256)
def advice(instance: str, region: str | None) -> SpotAdvice | str:
    """Return the Spot Advisor entry of ``instance`` (``aws:<type>``) in ``region`` (default
    :data:`~costmodels.spot_advisor.DEFAULT_REGION`), or why there is none."""
    provider, _, instance_type = instance.partition(":")
    if provider != "aws":
        return f"Spot Advisor bands cover AWS only ({instance} is {provider or 'not a key'})"
    try:
        return lookup_band(instance_type, region or DEFAULT_REGION)
    except CatalogError as exc:
        return str(exc)


def default_kind(instance: str, region: str | None) -> str:
    """Return the interruption kind written for a fleet that turns spot: ``advisor`` when the
    snapshot lists the instance, else ``rate``."""
    return "advisor" if isinstance(advice(instance, region), SpotAdvice) else "rate"


def _region(fleet: Mapping[str, Any]) -> str | None:
    return fleet.get("region") if isinstance(fleet.get("region"), str) else None


def _interruptions(fleet: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spot = fleet.get("spot")
    found = spot.get("interruptions") if isinstance(spot, Mapping) else None
    return found if isinstance(found, Mapping) else None


def spot_values(fleet: Mapping[str, Any], instance: str | None = None) -> dict[str, Any]:
    """Return the design's own ``spot_interruptions`` and ``spot_per_node_hour``: those of its
    ``fleet.spot`` block, else the defaults for ``instance`` (default: the fleet's)."""
    found = _interruptions(fleet)
    instance = str(instance or fleet.get("instance") or "")
    kind = found.get("kind") if found is not None else None
    if kind not in SPOT_KINDS:
        kind = default_kind(instance, _region(fleet))
    rate = found.get("per_node_hour") if found is not None and kind == "rate" else None
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        rate = DEFAULT_RATE_PER_NODE_HOUR
    return {"spot_interruptions": kind, "spot_per_node_hour": rate}


def apply_spot_edits(fleet: dict[str, Any], edits: Mapping[str, Any],
                     purchase_edited: bool) -> None:
    """Apply a design's spot edits (bare field names) to its ``fleet`` mapping, in place.

    Off spot, a purchase edit removes ``spot`` and ``on_demand_base`` (unless that is edited
    too: validation then says it only applies with spot); spot edits are ignored. On spot, after
    a purchase edit or with a spot edit, the interruption model is written: the edited kind,
    else the file's, else :func:`default_kind`; a rate takes the edited ``spot_per_node_hour``,
    else the file's rate, else :data:`DEFAULT_RATE_PER_NODE_HOUR`. The file's other spot
    settings (notice, replacement delay, fallbacks) are kept, except a trace's fallback when
    the kind is no longer a trace.
    """
    if fleet.get("purchase", "on_demand") != "spot":
        if purchase_edited:
            fleet.pop("spot", None)
            if "on_demand_base" not in edits:
                fleet.pop("on_demand_base", None)
        return
    kind, rate = edits.get("spot_interruptions"), edits.get("spot_per_node_hour")
    if not purchase_edited and kind is None and rate is None:
        return
    old = _interruptions(fleet)
    old_kind = old.get("kind") if old is not None else None
    new_kind = kind or old_kind or default_kind(str(fleet.get("instance") or ""),
                                                _region(fleet))
    if new_kind == old_kind and (new_kind != "rate" or rate is None):
        return
    if new_kind == "rate":
        given = old.get("per_node_hour") if old is not None and old_kind == "rate" else None
        new: dict[str, Any] = {"kind": "rate", "per_node_hour": rate if rate is not None else
                               given if given is not None else DEFAULT_RATE_PER_NODE_HOUR}
    else:
        new = {"kind": new_kind}  # a trace without its path: validation names what is missing
    spot = fleet.get("spot") if isinstance(fleet.get("spot"), dict) else {}
    spot["interruptions"] = new
    if new_kind != "trace":
        spot.pop("fallback_to_on_demand_after_s", None)
    fleet["spot"] = spot


def rate_text(per_node_hour: float) -> str:
    """Return ``0.000035/node-hour``: two significant digits, never in e-notation."""
    if per_node_hour <= 0:
        return f"{per_node_hour:g}/node-hour"
    decimals = max(0, 1 - math.floor(math.log10(per_node_hour)))
    return f"{per_node_hour:.{decimals}f}/node-hour"


def interruption_options(fleet: Mapping[str, Any], hours_per_month: float | None = None
                         ) -> list[dict[str, Any]]:
    """Return the interruption dropdown's options for ``fleet``: the Advisor's band with the
    rate it implies (disabled, with the reason, when the snapshot lacks the instance), a given
    rate, and the file's trace when it has one."""
    instance = str(fleet.get("instance") or "")
    found = _interruptions(fleet)
    band = found.get("band") if found is not None and found.get("kind") == "advisor" else None
    hours = hours_per_month or _ADVISOR_HOURS_PER_MONTH
    if isinstance(band, str):
        advisor = {"label": f"Spot Advisor band {band} (given) · "
                            f"{rate_text(rate_per_node_hour(band, hours))}",
                   "value": "advisor"}
    else:
        got = advice(instance, _region(fleet))
        if isinstance(got, SpotAdvice):
            advisor = {"label": f"Spot Advisor band {got.band} · "
                                f"{rate_text(rate_per_node_hour(got.band, hours))}",
                       "value": "advisor",
                       "title": f"{got.instance_type} in {got.region}, snapshot {got.as_of}: "
                                f"{got.source}"}
        else:
            advisor = {"label": "Spot Advisor band · not listed", "value": "advisor",
                       "disabled": True, "title": got}
    options = [advisor, {"label": "a given rate (interruptions per node-hour)",
                         "value": "rate"}]
    if found is not None and found.get("kind") == "trace":
        options.append({"label": f"capacity trace {found.get('path')} (from the file)",
                        "value": "trace"})
    return options


def spot_notes(design: str, values: Mapping[str, Any]) -> list[str]:
    """Return, for people, why a design's spot controls are disabled (``values``: the page's
    current values of the design)."""
    purchase, kind = values.get("purchase"), values.get("spot_interruptions")
    if purchase is None:
        return []
    if purchase != "spot":
        base = "on-demand base and " if values.get("on_demand_base") is not None else ""
        note = f"{base}spot interruptions: {design} is bought {purchase}; choose spot to set them"
    elif kind != "rate":
        source = "a Spot Advisor band" if kind == "advisor" else f"a {kind}"
        note = (f"spot interruptions per node-hour: {design}'s interruptions come from "
                f"{source}; choose 'a given rate' to set one")
    else:
        return []
    return [note]
