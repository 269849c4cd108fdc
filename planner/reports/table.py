"""Terminal tables of a :class:`RunResult` (rich), rendered to plain strings."""

from __future__ import annotations

import io
import re
import shutil

from rich.console import Console
from rich.table import Table

from planner.results import DesignResult, RunResult
from planner.stats import Estimate

NA = "n/a"


def _console(buffer: io.StringIO) -> Console:
    width = max(shutil.get_terminal_size((160, 40)).columns, 140)
    return Console(file=buffer, width=width, color_system=None, highlight=False,
                   emoji=False, soft_wrap=False, markup=False)


def _ms(e: Estimate, ci: bool = False) -> str:
    if e.mean is None:
        return NA
    text = f"{e.mean:,.2f}"
    if ci and e.half_width is not None:
        text += f" ±{e.half_width:.2f}"
    return text


def money(value: float | None, digits: int = 2) -> str:
    """Return ``$1,234.56`` or ``n/a`` for an unknown amount."""
    if value is None:
        return NA
    return f"${value:,.{digits}f}"


def _unit(value: float | None) -> str:
    if value is None:
        return NA
    return f"${value:.4f}" if value < 10 else f"${value:,.2f}"


def _slo(d: DesignResult) -> str:
    if d.slo is None:
        return "-"
    mark = "met" if d.slo.met else "MISSED"
    att = d.slo.attainment.mean
    return f"{mark}\np{d.slo.percentile:g} ≤ {d.slo.latency_ms:g} ms\n{att * 100:.2f}% ≤ SLO" \
        if att is not None else mark


def render_comparison(result: RunResult) -> str:
    """Return the side-by-side table of every design, the recommendation and the assumptions."""
    buffer = io.StringIO()
    console = _console(buffer)
    sc = result.scenario
    table = Table(
        title=f"{sc['name']}: {sc['horizon_s']:g} s horizon ({sc['warmup_s']:g} s warm-up), "
              f"{sc['replications']} replications, seed {sc['seed']}",
        title_justify="left",
    )
    best = result.cheapest_meeting_slo()
    for header, justify in [
        ("design", "left"), ("fleet", "left"), ("p50 ms", "right"), ("p95 ms", "right"),
        ("p99 ms ±95% CI", "right"), ("SLO", "left"), ("throughput/s", "right"),
        ("GPU util", "right"), ("node-h", "right"), ("cost (horizon)", "right"),
        ("$/month", "right"), ("$/1k req", "right"), ("$/1k busy", "right"),
    ]:
        table.add_column(header, justify=justify, overflow="fold",
                         no_wrap=header in ("design", "fleet"))
    for d in result.designs:
        f = d.fleet
        star = " *" if best is not None and d.name == best.name else ""
        fleet = (f"{f['nodes']}x {f['instance']}\n{f['purchase']}, {f['workers']} worker(s)\n"
                 f"batch ≤{d.batching['max_batch']}, wait ≤{d.batching['max_wait_ms']:g} ms")
        util = d.utilization.mean
        table.add_row(
            d.name + star,
            fleet,
            _ms(d.latency_ms["p50"]),
            _ms(d.latency_ms["p95"]),
            _ms(d.latency_ms["p99"], ci=True),
            _slo(d),
            f"{d.throughput_rps.mean:,.1f}" if d.throughput_rps.mean is not None else NA,
            f"{util * 100:.1f}%" if util is not None else NA,
            f"{d.node_hours:,.2f}",
            money(d.cost.total_usd),
            money(d.cost.usd_per_month, 0),
            _unit(d.cost.usd_per_1k_requests),
            _unit(d.cost.usd_per_1k_requests_busy),
        )
    console.print(table)
    if best is not None:
        console.print(f"* cheapest design meeting every SLO: {best.name} "
                      f"({money(best.cost.usd_per_month, 0)}/month, "
                      f"{_unit(best.cost.usd_per_1k_requests)} per 1k requests)")
    elif any(d.slo is not None for d in result.designs):
        console.print("No design with a known price meets every SLO.")
    console.print(_prices_line(result))
    console.print(render_assumptions(result))
    warnings = [(d.name, w) for d in result.designs for w in d.warnings]
    for name, w in warnings:
        console.print(f"warning [{name}]: {w}")
    return buffer.getvalue()


def _prices_line(result: RunResult) -> str:
    seen: dict[tuple[str | None, str | None], list[str]] = {}
    for d in result.designs:
        seen.setdefault((d.cost.price_source, d.cost.price_as_of), []).append(d.name)
    parts = []
    for (source, as_of), names in seen.items():
        if source is None:
            parts.append(f"{', '.join(names)}: n/a (no price in the catalog)")
        else:
            parts.append(f"{', '.join(names)}: as of {as_of}, {_short_source(source)}")
    catalog = result.assumptions.get("price_catalog")
    return f"Prices ({catalog}): " + "; ".join(parts)


def _short_source(source: str) -> str:
    """Return the first clause of a price source with commit hashes cut to 7 characters."""
    first = source.split(";")[0].strip()
    return re.sub(r"\b([0-9a-f]{7})[0-9a-f]{33}\b", r"\1", first)


def render_assumptions(result: RunResult) -> str:
    """Return the assumptions the costs and statistics rest on, one per line."""
    a = result.assumptions
    lines = [
        "Assumptions:",
        f"  hours per month: {a['hours_per_month']:g}; discounts: {a['discounts']}",
        f"  cost basis: {a['cost_basis']}",
        f"  unit cost: {a['unit_cost_basis']}",
        f"  utilisation: {a['utilization_basis']}",
        f"  statistics: {a['statistics']}; percentiles {a['percentiles']}",
        f"  planner {result.planner_version}",
    ]
    return "\n".join(lines)


def render_details(result: RunResult) -> str:
    """Return a per-design breakdown: latency and wait distributions, batching, requests."""
    buffer = io.StringIO()
    console = _console(buffer)
    for d in result.designs:
        table = Table(title=f"{d.name}: {d.arrivals}; service {d.service_time}",
                      title_justify="left")
        table.add_column("metric")
        for key in ("mean", "p50", "p90", "p95", "p99"):
            table.add_column(key, justify="right")
        table.add_row("latency ms", *[_ms(d.latency_ms[k], ci=True)
                                      for k in ("mean", "p50", "p90", "p95", "p99")])
        table.add_row("wait ms", _ms(d.wait_ms["mean"], ci=True), _ms(d.wait_ms["p50"], ci=True),
                      "", "", _ms(d.wait_ms["p99"], ci=True))
        console.print(table)
        little = d.littles_law_relative_error
        console.print(
            f"  mean batch {d.mean_batch_size.mean or 0:.2f}; mean queue "
            f"{d.mean_queue_length.mean or 0:.3f}; Little's law L = λW within "
            f"{(little or 0) * 100:.3f}%; requests per replication in window "
            f"{d.requests['in_window_per_replication']:,.0f}, in system at horizon "
            f"{d.requests['in_system_at_horizon_per_replication']:,.1f}"
        )
        console.print(
            f"  busy GPU-hours {d.busy_gpu_hours.mean or 0:,.3f} of "
            f"{d.gpu_hours if d.gpu_hours is not None else NA} allocated; busy cost "
            f"{money(d.cost.busy_usd)}; price {money(d.cost.usd_per_hour)}/node-hour "
            f"({d.cost.purchase})"
        )
    return buffer.getvalue()
