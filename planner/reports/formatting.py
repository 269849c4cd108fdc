"""Plain-text formatting of report values: money, unit costs, durations, estimates, n/a.

Every report (terminal table, Markdown, HTML, ADR, sweeps, the dashboard) formats numbers with
these, so the same value reads the same everywhere; an unknown value is ``n/a``, never ``$0``.
"""

from __future__ import annotations

import math
import re
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


def human_ms(value: float | None, *, unit: bool = True) -> str:
    """Return a duration given in ms in a readable unit: ms below 10 s (no unit unless
    ``unit``), seconds below two minutes, minutes below two hours, then hours."""
    if value is None:
        return NA
    if abs(value) < 10_000:
        return f"{value:,.2f}" + (" ms" if unit else "")
    if abs(value) < 120_000:
        return f"{value / 1000:,.2f} s"
    if abs(value) < 7_200_000:
        return f"{value / 60_000:,.2f} min"
    return f"{value / 3_600_000:,.2f} h"


def fmt_ms(e: Estimate, ci: bool = False) -> str:
    """Return an estimate with its unit (``7.87 ms ± 0.00 ms``, ``18.2 s``, ``3.5 h``) or
    ``n/a``."""
    if e.mean is None:
        return NA
    text = human_ms(e.mean)
    if ci and e.half_width is not None:
        text += f" ± {human_ms(e.half_width)}"
    return text


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
