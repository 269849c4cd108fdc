"""The largest value each numeric field of a scenario may take: what the simulators can represent.

A scenario field with no upper bound of its own (``Field(le=...)``) is bounded by its unit, read
from its name's suffix (the house rule: units are suffixes): ``_s``, ``_ms``, ``_h`` and
``_hours`` are durations, ``_rps`` arrival rates, ``nodes`` node counts, ``_tokens`` token
counts, ``_usd`` and ``usd_per_*`` money.  :func:`limit_problems` is called by every scenario
model (:class:`planner.schema_base._Frozen`), so a field added later is bounded as soon as its
name carries its unit; ``tests/planner/test_bounds.py`` checks that every numeric field of the
scenario schema has a bound, one way or the other.

Why these numbers:

- **per-request times** (``_ms`` fields: service times, waits, deadlines, latency bounds):
  ``2**24`` s (194 days), where the latency histogram's last (overflow) bucket starts.
- **other times**: the simulators' clocks are float64 seconds; below ``2**32`` s (136 years) a clock
  still resolves a microsecond (2^32 x 2^-52 = 2^-20 s, the latency histogram's finest bucket),
  above it event order and waits silently lose precision.
- **arrival rate**: ``2**20`` requests/s (about 1 million) keeps the mean gap between arrivals
  above that same microsecond, and ``rate x horizon`` below ``2**52`` requests, so request
  counts stay exact in float64 and int64 (a batch job's record count overflowed at 1e308/s).
- **nodes**: 100,000 nodes per fleet, more GPU nodes than any cloud region holds; the
  simulators keep state per node and per worker.
- **tokens**: ``2**31`` tokens, beyond any model's context or any GPU's KV cache.
- **money**: 10^12 USD (per hour, per month, or up front): larger figures are a typo, and sums of
  them would lose cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["MAX_LATENCY_S", "MAX_NODES", "MAX_RATE_RPS", "MAX_TIME_S", "MAX_WORKERS_PER_NODE", "Limit",
           "explicit_upper_bound", "limit_for", "limit_problems", "unit_limits_in_json_schema"]

MAX_TIME_S = float(2**32)
"""Longest simulated time (s): float64 clocks keep microsecond steps below it (136 years)."""

MAX_RATE_RPS = float(2**20)
"""Highest arrival rate (requests/s): a mean gap of at least 2^-20 s (about 1 microsecond)."""

MAX_NODES = 100_000
"""Most nodes in one fleet (or one commitment)."""

MAX_WORKERS_PER_NODE = 1024
"""Most workers one node runs (a worker is a GPU, or a slice of one)."""

MAX_TOKENS = 2**31
"""Most tokens in any token count (per request, per step, or a KV cache)."""

MAX_USD = 1e12
"""Largest amount of money in any price or budget field (USD)."""

MAX_LATENCY_S = float(2**24)
"""Longest per-request time (s) a latency histogram measures: its last bucket starts there."""

_TIME_WHY = "simulated clocks are float64 seconds, exact to the microsecond below 2^32 s"
_LATENCY_WHY = ("per-request times are measured by a histogram whose last bucket starts at "
                "2^24 s (194 days)")


@dataclass(frozen=True)
class Limit:
    """The largest value of a field, its unit (as printed) and why."""

    most: float
    unit: str
    why: str


_BY_SUFFIX: tuple[tuple[str, Limit], ...] = (
    ("_ms", Limit(MAX_LATENCY_S * 1e3, "ms", _LATENCY_WHY)),
    ("_s", Limit(MAX_TIME_S, "s", _TIME_WHY)),
    ("_h", Limit(MAX_TIME_S / 3600.0, "h", _TIME_WHY)),
    ("_hours", Limit(MAX_TIME_S / 3600.0, "h", _TIME_WHY)),
    ("_rps", Limit(MAX_RATE_RPS, "requests/s", "the mean gap between arrivals must stay above "
                                               "the simulators' 1 microsecond resolution")),
    ("per_node_hour", Limit(3600.0, "per node-hour", "one interruption per node per second")),
    ("nodes", Limit(MAX_NODES, "nodes", "the simulators keep state per node; no cloud region "
                                        "holds more GPU nodes")),
    ("workers_per_node", Limit(MAX_WORKERS_PER_NODE, "workers",
                               "a worker is a GPU or a slice of one")),
    ("on_demand_base", Limit(MAX_NODES, "nodes", "the simulators keep state per node")),
    ("_tokens", Limit(MAX_TOKENS, "tokens", "beyond any model's context or GPU's KV cache")),
    ("_usd", Limit(MAX_USD, "USD", "a larger amount is a typo")),
    ("usd_per_hour", Limit(MAX_USD, "USD/h", "a larger amount is a typo")),
    ("usd_per_hour_committed", Limit(MAX_USD, "USD/h", "a larger amount is a typo")),
    ("usd_per_month", Limit(MAX_USD, "USD/month", "a larger amount is a typo")),
)


def limit_for(name: str) -> Limit | None:
    """Return the limit a field called ``name`` gets from its unit suffix (None: no unit)."""
    matches = [(suffix, limit) for suffix, limit in _BY_SUFFIX
               if name == suffix.lstrip("_") or name.endswith(suffix)]
    if not matches:
        return None
    return max(matches, key=lambda match: len(match[0]))[1]


def explicit_upper_bound(field: FieldInfo) -> float | None:
    """Return the field's own upper bound (``le`` or ``lt``), or None."""
    for item in field.metadata:
        if isinstance(item, annotated_types.Le):
            return float(item.le)  # type: ignore[arg-type]
        if isinstance(item, annotated_types.Lt):
            return float(item.lt)  # type: ignore[arg-type]
    return None


def limit_problems(fields: dict[str, FieldInfo], values: dict[str, Any]
                   ) -> list[tuple[str, str]]:
    """Return ``(field, text)`` for each number in ``values`` above its unit's limit.

    Parameters
    ----------
    fields : dict of FieldInfo
        The model's fields; one with its own upper bound is left to it.
    values : dict
        The validated values by field name (numbers, tuples of numbers, or anything else,
        which is skipped).
    """
    problems: list[tuple[str, str]] = []
    for name, field in fields.items():
        limit = limit_for(name)
        if limit is None or explicit_upper_bound(field) is not None:
            continue
        value = values.get(name)
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, (int, float)) or \
                    not item > limit.most:
                continue
            where = f"{name}[{i}]" if isinstance(value, tuple) else name
            problems.append((where, f"must be <= {limit.most:,.0f} {limit.unit}: {limit.why} "
                                    f"(got {_shown(item)}); use {limit.most:,.0f} or less"))
    return problems


def unit_limits_in_json_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Add each unit limit to the model's JSON Schema as ``maximum`` (pydantic's
    ``json_schema_extra`` hook), so that editors flag the value as the planner would."""
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        limit = limit_for(name)
        if limit is None or explicit_upper_bound(field) is not None or name not in properties:
            continue
        prop = properties[name]
        for target in prop.get("anyOf", [prop]):
            if target.get("type") in ("number", "integer"):
                target["maximum"] = limit.most


def _shown(value: float) -> str:
    """A number as a message shows it: whole numbers in full (up to 20 digits), else 6 digits."""
    if isinstance(value, int) and len(str(value)) <= 20:
        return f"{value:,}"
    return f"{value:.6g}"
