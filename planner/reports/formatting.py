"""Plain-text formatting of report values: money, unit costs, durations, estimates, n/a.

Every report (terminal table, Markdown, HTML, ADR, sweeps, the dashboard) formats numbers with
these, so the same value reads the same everywhere; an unknown value is ``n/a``, never ``$0``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from planner.stats import Estimate

NA = "n/a"


def fmt_number(value: float | None, digits: int = 2) -> str:
    """Return ``1,234.56`` or ``n/a``."""
    if value is None:
        return NA
    return f"{value:,.{digits}f}"


def fmt_money(value: float | None, digits: int = 2) -> str:
    """Return ``$1,234.56`` or ``n/a`` for an unknown amount."""
    if value is None:
        return NA
    return f"${value:,.{digits}f}"


def fmt_unit(value: float | None) -> str:
    """Return a unit cost: 4 decimals below $10 (``$0.0118``), 2 above (``$12.34``), and three
    significant digits below $0.001 (``$0.0000376``), so a small unit cost never reads $0."""
    if value is None:
        return NA
    if value != 0 and abs(value) < 0.001:
        decimals = 2 - math.floor(math.log10(abs(value)))
        return f"${value:.{decimals}f}"
    return f"${value:.4f}" if abs(value) < 10 else f"${value:,.2f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """Return a fraction as a percentage (``40.2%``) or ``n/a``."""
    if value is None:
        return NA
    return f"{value * 100:.{digits}f}%"


TIME_UNITS: dict[str, float] = {"ms": 1.0, "s": 1_000.0, "min": 60_000.0, "h": 3_600_000.0}
"""Milliseconds per unit of the durations reports show, smallest first."""


def time_unit(value_ms: float | None) -> str:
    """Return the readable unit of a duration in ms: ``ms`` below 10 s, ``s`` below two
    minutes, ``min`` below two hours, then ``h`` (``ms`` for an unknown value)."""
    if value_ms is None or not math.isfinite(value_ms):
        return "ms"
    size = abs(value_ms)
    if size < 10_000:
        return "ms"
    if size < 120_000:
        return "s"
    return "min" if size < 7_200_000 else "h"


def common_unit(values: Iterable[float | None]) -> str:
    """Return one unit for durations (ms) shown side by side in a row or column: the unit of
    the largest known value (``ms`` when none is known)."""
    known = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return time_unit(max(known)) if known else "ms"


def shared_unit(values: Iterable[float | None]) -> str | None:
    """Return :func:`common_unit` of durations (ms) a sentence compares (a value against its
    bound) when each known non-zero one reads at least 1 in it, else None: each is then best
    in its own unit (``63.27 s against 100.00 ms``, not ``0.100 s``)."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    unit = common_unit(known)
    if any(v != 0 and abs(v) < TIME_UNITS[unit] for v in known):
        return None
    return unit


def estimates_unit(estimates: Iterable[Estimate | None]) -> str:
    """Return :func:`common_unit` of the means of ``estimates`` (None entries are skipped)."""
    return common_unit(e.mean for e in estimates if e is not None)


def ms_in(value: float | None, unit: str) -> str:
    """Return a duration given in ms in ``unit`` (``0.11 min``, ``18.23 s``) or ``n/a``.

    Two decimals; a value shown in a larger unit than its own that rounds below 1 keeps three
    significant digits (``0.107 min``, ``0.00500 s``), so it never reads as zero."""
    if value is None:
        return NA
    scaled = value / TIME_UNITS[unit]
    decimals = 2
    if (value != 0 and abs(scaled) < 1 and math.isfinite(scaled)
            and TIME_UNITS[unit] > TIME_UNITS[time_unit(value)]):
        decimals = max(2, 2 - math.floor(math.log10(abs(scaled))))
    return f"{scaled:,.{decimals}f} {unit}"


def human_ms(value: float | None, *, unit: bool = True) -> str:
    """Return a duration given in ms in its readable unit (:func:`time_unit`): ms below 10 s
    (no unit unless ``unit``), seconds below two minutes, minutes below two hours, then
    hours."""
    if value is None:
        return NA
    text = ms_in(value, time_unit(value))
    return text if unit or not text.endswith(" ms") else text[:-len(" ms")]


def fmt_ms(e: Estimate, ci: bool = False, unit: str | None = None) -> str:
    """Return an estimate and, with ``ci``, its 95 % half-width, both in one unit: ``unit``
    when given (a row or column's :func:`common_unit`), else the mean's own
    (``34.62 min ± 0.107 min``, ``7.87 ms ± 0.00 ms``); ``n/a`` when unknown."""
    if e.mean is None:
        return NA
    shown = unit or time_unit(e.mean)
    text = ms_in(e.mean, shown)
    if ci and e.half_width is not None:
        text += f" ± {ms_in(e.half_width, shown)}"
    return text


def fmt_percentile_ms(design: Any, family: str, key: str, ci: bool = False,
                      unit: str | None = None) -> str:
    """Return :func:`fmt_ms` of ``design.<family>[key]`` (``family``: ``latency_ms`` or
    ``wait_ms``), read ``> value`` when the percentile lies in the latency histogram's last
    bucket (``design.saturated``): the value is then a lower bound, not an estimate."""
    text = fmt_ms(getattr(design, family)[key], ci=ci, unit=unit)
    return f"> {text}" if f"{family}.{key}" in getattr(design, "saturated", ()) else text


def fmt_ms_in(e: Estimate, unit: str, ci: bool = False) -> str:
    """Return :func:`fmt_ms` of ``e`` in ``unit`` (one unit for a whole row or column)."""
    return fmt_ms(e, ci=ci, unit=unit)


def fmt_plain(value: Any) -> str:
    """Return a short plain form of a scalar (``n/a`` for None)."""
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}"
    return str(value)


def short_source(source: str, purchase: str = "on_demand") -> str:
    """Return the clause of a price source that covers ``purchase``, commit hashes shortened.

    Catalog rows name one source for on-demand and reserved prices and, after ``spot:``, one
    for spot prices.
    """
    clauses = [c.strip() for c in source.split(";")]
    chosen = clauses[0]
    if purchase == "spot":
        for c in clauses[1:]:
            if c.startswith("spot:"):
                chosen = c[len("spot:"):].strip()
    return re.sub(r"\b([0-9a-f]{7})[0-9a-f]{33}\b", r"\1", chosen)
