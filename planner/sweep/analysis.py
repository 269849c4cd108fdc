"""What a sweep's rows say: feasibility, Pareto fronts, the cheapest feasible point.

Pure functions of row dicts (the rows of :mod:`planner.sweep.store`).  The latency axis is the
value at the workload's SLO percentile (``slo_ms``), else p99 (``p99_ms``); cost is
``usd_per_month``.  Only points with a known, complete cost and a known latency take part in a
front; an unknown price is never cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from planner.schema_sweep import SweepConstraints

__all__ = ["Row", "cheapest_feasible", "feasible", "infeasible_reasons", "latency_ms",
           "pareto_front"]

Row = dict[str, Any]


def _metric(row: Row, key: str) -> float | None:
    metrics = row.get("metrics") or {}
    value = metrics.get(key)
    return None if value is None else float(value)


def latency_ms(row: Row) -> float | None:
    """Return the point's latency axis: the value at the SLO percentile, else p99 (ms)."""
    value = row.get("slo_ms")
    return float(value) if value is not None else _metric(row, "p99_ms")


def cost_usd_per_month(row: Row) -> float | None:
    """Return the point's known, complete monthly cost, else None."""
    if row.get("cost_incomplete"):
        return None
    return _metric(row, "usd_per_month")


def infeasible_reasons(row: Row, constraints: SweepConstraints) -> list[str]:
    """Return why a point breaks the constraints (empty when it is feasible)."""
    if row.get("status") != "ok":
        return [f"{row.get('status')}: {row.get('error') or row.get('reason') or ''}".strip()]
    out = []
    cost = cost_usd_per_month(row)
    if cost is None:
        out.append("cost n/a" if not row.get("cost_incomplete") else "cost incomplete")
    if constraints.slo and row.get("meets_slo") is not True:
        verdicts = {s.get("verdict") for s in row.get("slos") or []}
        if row.get("meets_slo") is None:
            out.append("no SLO result")
        elif "MISSED" not in verdicts and "inconclusive" in verdicts:
            out.append("SLO inconclusive (more replications would settle it)")
        else:
            out.append("SLO missed")
    budget = constraints.budget_usd_per_month
    if budget is not None and cost is not None and cost > budget:
        out.append(f"over budget (${cost:,.2f} > ${budget:,.2f} per month)")
    return out


def feasible(row: Row, constraints: SweepConstraints) -> bool:
    """Return whether a point ran, has a known complete cost and meets every constraint."""
    return not infeasible_reasons(row, constraints)


def pareto_front(rows: Sequence[Row], *, axis: str = "latency") -> list[Row]:
    """Return the points no other point dominates in (cost, ``axis``), cheapest first.

    ``axis`` is ``latency`` (lower is better, :func:`latency_ms`) or ``attainment`` (higher is
    better, ``slo_attainment``).  A point is dominated when another is no worse on both axes
    and better on one; equal points are all kept.  O(n log n): sorted by cost, a point is on
    the front when it is the best of its cost and strictly better than every cheaper point.
    """
    if axis not in ("latency", "attainment"):
        raise ValueError(f"axis must be latency or attainment (got {axis!r})")
    points = []
    for row in rows:
        if row.get("status") != "ok":
            continue
        cost = cost_usd_per_month(row)
        other = latency_ms(row) if axis == "latency" else _metric(row, "slo_attainment")
        if cost is None or other is None:
            continue
        points.append((cost, other if axis == "latency" else -other, row.get("index", 0), row))
    points.sort(key=lambda p: (p[0], p[1], p[2]))
    front: list[Row] = []
    best_cheaper = float("inf")
    i = 0
    while i < len(points):
        j = i
        while j < len(points) and points[j][0] == points[i][0]:
            j += 1
        group_best = points[i][1]
        if group_best < best_cheaper:
            front.extend(p[3] for p in points[i:j] if p[1] == group_best)
        best_cheaper = min(best_cheaper, group_best)
        i = j
    return _without_noise_wins(front, axis)


def _half_width(row: Row) -> float:
    return float(row.get("usd_per_month_half_width") or 0.0)


def _without_noise_wins(front: list[Row], axis: str) -> list[Row]:
    """Drop a front point whose only edge is a cost lower than a better point's by less than
    their combined 95 % half-widths (a tie in cost, :func:`planner.results.cost_tie`): the
    better point then dominates it. The front is sorted by cost, each point better on
    ``axis`` than every cheaper one."""
    def value(row: Row) -> float:
        v = latency_ms(row) if axis == "latency" else -(_metric(row, "slo_attainment") or 0.0)
        return float(v) if v is not None else math.inf

    kept = []
    for k, row in enumerate(front):
        cost = cost_usd_per_month(row) or 0.0
        tied_better = any(
            value(other) < value(row)
            and abs((cost_usd_per_month(other) or 0.0) - cost)
            <= math.hypot(_half_width(row), _half_width(other))
            for other in front[k + 1:])
        if not tied_better:
            kept.append(row)
    return kept


def cheapest_feasible(rows: Iterable[Row], constraints: SweepConstraints) -> Row | None:
    """Return the feasible point of lowest monthly cost (ties: lowest plan index), or None."""
    ok = [r for r in rows if feasible(r, constraints)]
    if not ok:
        return None
    return min(ok, key=lambda r: (cost_usd_per_month(r), r.get("index", 0)))


@dataclass(frozen=True)
class SensitivityCase:
    """One perturbation of the chosen point and how the point fared under it."""

    case: str
    factor: float
    row: Row | None
    note: str | None = None
