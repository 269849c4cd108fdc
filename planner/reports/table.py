"""Terminal tables of a :class:`RunResult` (rich), rendered to plain strings."""

from __future__ import annotations

import io

from rich.table import Table

from planner.reports import llm as llm_report
from planner.reports.fit import plain_console, print_fitted
from planner.reports.sections import (
    NA,
    calibration_lines,
    estimates_unit,
    flag_marks,
    fmt_money,
    fmt_ms,
    fmt_percentile_ms,
    fmt_unit,
    money_ci,
    short_source,
)
from planner.results import DesignResult, RunResult
from planner.stats import Estimate


def _ms(e: Estimate, ci: bool = False, unit: str | None = None) -> str:
    return fmt_ms(e, ci=ci, unit=unit).replace(" ± ", "\n±")


def _pct_ms(d: DesignResult, family: str, key: str, ci: bool = False,
            unit: str | None = None) -> str:
    return fmt_percentile_ms(d, family, key, ci=ci, unit=unit).replace(" ± ", "\n±")


def _slo(d: DesignResult) -> str:
    """Every bound with its verdict, one per line (``TTFT p99 ≤ 500 ms: met (40.28 ms)``),
    then the first bound's attainment."""
    if d.slo is None:
        return "-"
    lines = [llm_report.verdict_text(d, s) for s in d.slos]
    att = d.slo.attainment.mean
    if att is not None:
        first = "" if len(d.slos) == 1 else f" ({llm_report.metric_name(d, d.slo)})"
        lines.append(f"{att * 100:.2f}% within{first}")
    return "\n".join(lines)


def _llm_cells(d: DesignResult) -> tuple[str, str, str]:
    """TTFT p99 and TPOT p99 with their CIs and the goodput; n/a without an LLM block."""
    ttft = llm_report.llm_estimate(d, "ttft", "p99")
    tpot = llm_report.llm_estimate(d, "tpot", "p99")
    return (NA if ttft is None else _ms(ttft, ci=True), NA if tpot is None else _ms(tpot, ci=True),
            llm_report.goodput_text(d))


def render_comparison(result: RunResult, *, width: int | None = None, wide: bool = False) -> str:
    """Return the side-by-side table of every design, the recommendation and the assumptions.

    The table fits ``width`` (default the terminal's) as stacked tables that repeat the design
    column, or is one table as wide as it needs with ``wide`` (:func:`print_fitted`).
    """
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    sc = result.scenario
    table = Table(
        title=f"{sc['name']}: {sc['horizon_s']:g} s horizon ({sc['warmup_s']:g} s warm-up), "
              f"{sc['replications']} replications, seed {sc['seed']}",
        title_justify="left",
    )
    best = result.cheapest_meeting_slo()
    llm = llm_report.has_llm(result)
    for header, justify in [
        ("design", "left"), ("fleet", "left"), ("p50", "right"),
        ("p99 E2E" if llm else "p99", "right"),
        *([("TTFT p99", "right"), ("TPOT p99", "right")] if llm else []),
        ("SLO", "left"), ("arrivals/s", "right"), ("served/s", "right"),
        *([("goodput/s", "right")] if llm else []),
        ("util", "right"), ("node-h", "right"),
        ("nodes", "right"), ("preempt", "right"), ("cost", "right"),
        ("unit cost", "right"), ("busy basis", "right"),
    ]:
        table.add_column(header, justify=justify, overflow="fold",
                         no_wrap=justify == "right" or header == "design",
                         min_width=22 if header in ("fleet", "SLO") else None)
    for d in result.designs:
        f = d.fleet
        star = " *" if best is not None and d.name == best.name else ""
        scaling = "fixed"
        if f.autoscaling:
            a = f.autoscaling
            scaling = f"autoscaled {a['min_nodes']}-{a['max_nodes']} ({a['metric']} {a['target']:g})"
        fleet = f.summary or (
            f"{f.nodes}x {f.instance} ({f.workers_per_node} worker/node)\n"
            f"{f.purchase}, {scaling}"
            + ("" if d.batching is None else f"\n{d.batching.describe()}"))
        util = d.utilization.mean
        ttft, tpot, goodput = _llm_cells(d)
        table.add_row(
            d.name + star + ("" if d.metric == "latency" else f"\n({d.metric_label})")
            + "".join(f"\n{flag}" for flag in flag_marks(d)),
            fleet,
            _pct_ms(d, "latency_ms", "p50", unit=estimates_unit((d.latency_ms["p50"],
                                                                d.latency_ms["p99"]))),
            _pct_ms(d, "latency_ms", "p99", ci=True,
                    unit=estimates_unit((d.latency_ms["p50"], d.latency_ms["p99"]))),
            *((ttft, tpot) if llm else ()),
            _slo(d),
            _rate(d.arrival_rate_rps.mean), _rate(d.throughput_rps.mean),
            *((goodput,) if llm else ()),
            f"{util * 100:.1f}%" if util is not None else NA,
            _node_hours(d),
            f"{f.mean_nodes:.1f}\nmax {f.max_nodes:.0f}",
            f"{f.preemptions:.1f}",
            _cost_cell(d),
            *_unit_cells(d),
        )
    print_fitted(console, table, wide=wide)
    if best is not None:
        unit = (f"{fmt_unit(best.cost.usd_per_run)} per run" if best.pattern == "training" else
                f"{fmt_unit(best.cost.usd_per_1k_requests)} per 1k "
                + ("records" if best.pattern in ("streaming", "batch") else "requests"))
        console.print(f"* cheapest design meeting every SLO: {best.name} "
                      f"({money_ci(best.cost)}/month, {unit})")
        ties = result.ties_with_best()
        if ties:
            console.print("  the same cost within the simulation's noise (a tie, not a win): "
                          + ", ".join(f"{d.name} ({money_ci(d.cost)}/month)" for d in ties))
    elif any(d.slo is not None for d in result.designs):
        console.print("No design with a known price meets every SLO.")
    console.print(_prices_line(result))
    for line in layer_lines(result):
        console.print(line, soft_wrap=True)
    console.print(render_assumptions(result))
    warnings = [(d.name, w) for d in result.designs for w in d.warnings]
    for name, w in warnings:
        console.print(f"warning [{name}] {w.code}: {w}")
    return buffer.getvalue()


def layer_lines(result: RunResult) -> list[str]:
    """One line per design whose cost went through more than the list-price layer: the cost of
    the horizon (or run) after each layer, in order, and the commitment's use."""
    lines = []
    for d in result.designs:
        c = d.cost
        if len(c.layers) <= 1 and not c.commitment:
            continue
        steps = " -> ".join(f"{name} {fmt_money(usd)}" for name, usd in c.layers)
        text = f"Discount layers [{d.name}]: {steps}"
        if c.commitment:
            cm = c.commitment
            util = cm.get("utilization_of_commitment")
            nodes = cm.get("committed_nodes")
            text += (f"; {cm.get('label', 'commitment')}: "
                     f"{'n/a' if nodes is None else f'{nodes:.2f}'} nodes committed, "
                     f"{'n/a' if util is None else f'{util * 100:.1f}%'} used, unused "
                     f"{fmt_money(cm.get('unused_commitment_usd'))}")
        lines.append(text)
    return lines


def _cost_cell(d: DesignResult) -> str:
    """Monthly cost, the horizon's (or the run's) cost, and an incomplete flag."""
    c = d.cost
    lines = [f"{fmt_money(c.usd_per_month, 0)}/month"]
    if c.usd_per_month_half_width:  # a fixed fleet's cost has no noise: no "± $0"
        lines.append(f"± {fmt_money(c.usd_per_month_half_width, 0)}")
    if c.usd_per_run is not None or d.pattern == "training":
        lines.append(f"{fmt_money(c.usd_per_run)}/run")
    else:
        lines.append(f"{fmt_money(c.total_usd)} horizon")
    if c.incomplete:
        lines.append("INCOMPLETE")
    return "\n".join(lines)


def _unit_cells(d: DesignResult) -> tuple[str, str]:
    """Unit costs, allocated and busy: per 1k requests/records, per 1M tokens, per run."""
    c = d.cost
    alloc, busy = [], []
    per = "rec" if d.pattern in ("streaming", "batch") else "req"
    if d.pattern != "training":
        alloc.append(f"{fmt_unit(c.usd_per_1k_requests)}/1k {per}")
        busy.append(fmt_unit(c.usd_per_1k_requests_busy))
    if c.usd_per_1m_tokens is not None:
        alloc.append(f"{fmt_unit(c.usd_per_1m_tokens)}/1M tok")
        busy.append(fmt_unit(c.usd_per_1m_tokens_busy))
    if c.usd_per_1m_output_tokens is not None:
        alloc.append(f"{fmt_unit(c.usd_per_1m_output_tokens)}/1M out tok")
        busy.append(fmt_unit(c.usd_per_1m_output_tokens_busy))
    if c.usd_per_run is not None or d.pattern == "training":
        alloc.append(f"{fmt_unit(c.usd_per_run)}/run")
        busy.append(fmt_unit(c.usd_per_run_busy))
    return "\n".join(alloc), "\n".join(busy)


def _rate(value: float | None) -> str:
    """A rate per second: ``1,300`` (``0.42`` below 10, ``n/a`` when unknown)."""
    if value is None:
        return NA
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.2g}"


def _node_hours(d: DesignResult) -> str:
    by = d.fleet.node_hours
    if len(by) <= 1:
        return f"{d.node_hours:,.2f}"
    return "\n".join(f"{v:,.2f} {k}" for k, v in by.items())


def _prices_line(result: RunResult) -> str:
    seen: dict[tuple[str, str | None, str | None], list[str]] = {}
    for d in result.designs:
        if not d.cost.sources or d.cost.total_usd is None:
            seen.setdefault((d.cost.purchase, None, None), []).append(d.name)
        for purchase, source, as_of in d.cost.sources:
            seen.setdefault((purchase, source, as_of), []).append(d.name)
    parts = []
    for (purchase, source, as_of), names in seen.items():
        if source is None:
            parts.append(f"{', '.join(names)}: {purchase} n/a (no price in the catalog)")
        else:
            parts.append(f"{', '.join(names)}: {purchase} as of {as_of}, "
                         f"{short_source(source, purchase)}")
    catalog = result.assumptions.get("price_catalog")
    return f"Prices ({catalog}): " + "; ".join(parts)


def render_assumptions(result: RunResult) -> str:
    """Return the assumptions the costs and statistics rest on, one per line."""
    a = result.assumptions
    lines = [
        "Assumptions:",
        f"  hours per month: {a['hours_per_month']:g}; discounts: {a['discounts']}",
        f"  cost basis: {a['cost_basis']}",
        f"  unit cost: {a['unit_cost_basis']}; monthly: {a['monthly_projection']}",
        f"  fleet: {a['fleet']}",
        f"  utilisation: {a['utilization_basis']}",
        f"  statistics: {a['statistics']}; percentiles {a['percentiles']}",
        *(f"  {v}" for k, v in a.items() if k.startswith("pattern_")),
        *(f"  {line}" for line in calibration_lines(result)),
        f"  planner {result.planner_version}",
    ]
    return "\n".join(lines)


def _plain(value: object) -> str:
    if value is None:
        return NA
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def render_details(result: RunResult, *, width: int | None = None, wide: bool = False) -> str:
    """Return a per-design breakdown: latency and wait distributions, batching, requests."""
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    for d in result.designs:
        table = Table(title=f"{d.name}: {d.arrivals}; service {d.service_time}",
                      title_justify="left")
        table.add_column("metric")
        for key in ("mean", "p50", "p90", "p95", "p99"):
            table.add_column(key, justify="right")
        keys = ("mean", "p50", "p90", "p95", "p99")
        unit = estimates_unit(d.latency_ms[k] for k in keys)
        table.add_row("E2E latency" if d.llm is not None else d.metric_label,
                      *[_pct_ms(d, "latency_ms", k, ci=True, unit=unit) for k in keys])
        for row in llm_report.latency_rows(d, keys):
            table.add_row(*(cell.replace(" ± ", "\n±") for cell in row))
        if d.pattern == "realtime":
            wait = estimates_unit(d.wait_ms[k] for k in ("mean", "p50", "p99"))
            table.add_row("wait", _pct_ms(d, "wait_ms", "mean", ci=True, unit=wait),
                          _pct_ms(d, "wait_ms", "p50", ci=True, unit=wait), "", "",
                          _pct_ms(d, "wait_ms", "p99", ci=True, unit=wait))
        print_fitted(console, table, wide=wide)
        if d.slos:
            console.print(f"  SLO: {llm_report.verdicts_text(d)}", soft_wrap=True)
        for item in llm_report.engine_items(d):
            console.print(f"  {item}", soft_wrap=True)
        if d.pattern != "realtime":
            console.print("  " + "; ".join(
                f"{k.replace('_', ' ')} {_plain(v)}" for k, v in d.pattern_metrics.items()))
            if d.fleet.spot_interruptions is not None:
                console.print(f"  spot interruptions: {d.fleet.spot_interruptions.detail}")
            if d.cost.by_purchase and len(d.cost.by_purchase) > 1:
                console.print("  cost by purchase option: " + ", ".join(
                    f"{k} {fmt_money(v)}" for k, v in d.cost.by_purchase.items()))
            continue
        little = d.littles_law_relative_error
        console.print(
            f"  mean batch {d.mean_batch_size.mean or 0:.2f}; mean queue "
            f"{d.mean_queue_length.mean or 0:.3f}; Little's law L = λW within "
            f"{(little or 0) * 100:.3f}%; requests per replication in window "
            f"{d.requests.in_window_per_replication:,.0f}, in system at horizon "
            f"{d.requests.in_system_at_horizon_per_replication:,.1f}"
        )
        f = d.fleet
        console.print(
            f"  fleet: mean {f.mean_nodes:.2f} nodes (max {f.max_nodes:.0f}); node-hours "
            + ", ".join(f"{k} {v:,.2f}" for k, v in f.node_hours.items())
            + f"; provisioning {f.provisioning_hours:,.2f} h; preemptions "
            f"{f.preemptions:.1f}; requeued {f.requeued_requests:,.0f}; dropped "
            f"{f.dropped_requests:,.0f}; scale-out/in {f.scale_out_actions:.0f}/"
            f"{f.scale_in_actions:.0f}"
        )
        if f.spot_interruptions is not None:
            console.print(f"  spot interruptions: {f.spot_interruptions.detail}")
        if d.cost.by_purchase and len(d.cost.by_purchase) > 1:
            console.print("  cost by purchase option: " + ", ".join(
                f"{k} {fmt_money(v)}" for k, v in d.cost.by_purchase.items()))
        console.print(
            f"  busy GPU-hours {d.busy_gpu_hours.mean or 0:,.3f} of "
            f"{'n/a' if d.gpu_hours is None else format(d.gpu_hours, ',.2f')} allocated; busy cost "
            f"(window) {fmt_money(d.cost.busy_usd)}; mean fleet cost {fmt_money(d.cost.usd_per_hour)}/h"
        )
    return buffer.getvalue()
