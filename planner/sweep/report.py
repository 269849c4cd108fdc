"""Reports of a :class:`~planner.sweep.engine.SweepResult`: the cheapest feasible point, the
Pareto fronts and the sensitivity table, as sections (rendered to a terminal table, Markdown or
HTML with a plotly scatter of every point) or as a Parquet table of the points.

Built from the shared report blocks of :mod:`planner.reports.sections`; unknown values read
``n/a``, never ``$0``.
"""

from __future__ import annotations

import html
import io
import json
from typing import Any

from planner.reports.formatting import common_unit, ms_in
from planner.reports.llm import SLO_METRIC_NAMES
from planner.reports.sections import (
    NA,
    Bullets,
    Paragraph,
    Section,
    Table,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_unit,
    human_ms,
)
from planner.sweep.analysis import infeasible_reasons, latency_ms
from planner.sweep.engine import SweepResult

__all__ = ["build_sweep_report", "render_sweep_html", "render_sweep_markdown",
           "render_sweep_parquet", "render_sweep_table"]


ALL_POINTS_SHOWN = 50
"""Points listed in the report's table of every point (in plan order); the rest are in the
JSON and Parquet reports."""


def _params_text(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) \
            else str(value)
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def _bounds(result: SweepResult) -> list[dict[str, Any]]:
    """Return the SLO bounds the points are judged on (``metric``, ``percentile``,
    ``latency_ms``): those of the first point that ran, else the workload's SLO."""
    for r in result.rows:
        if r.get("slos"):
            return list(r["slos"])
    slo = result.slo or {}
    return [{"metric": metric, "percentile": slo["percentile"], "latency_ms": slo[key]}
            for metric, key in (("ttft", "ttft_ms"), ("tpot", "tpot_ms"), ("latency", "latency_ms"))
            if slo.get(key) is not None]


def _name(metric: str) -> str:
    return SLO_METRIC_NAMES.get(metric, metric)


def _bound_text(bound: dict[str, Any]) -> str:
    """``TTFT p99 ≤ 500 ms`` (``p99 ≤ 40 ms`` for a latency bound)."""
    name = "" if bound["metric"] == "latency" else f"{_name(bound['metric'])} "
    limit = bound["latency_ms"]
    return f"{name}p{bound['percentile']:g} ≤ " + (human_ms(limit) if limit >= 10_000
                                                    else f"{limit:g} ms")


def _latency_label(result: SweepResult) -> str:
    """The latency axis: the first SLO bound's metric at its percentile, else p99."""
    bounds = _bounds(result)
    if not bounds:
        return "p99"
    first = bounds[0]
    name = "" if first["metric"] == "latency" else f"{_name(first['metric'])} "
    return f"{name}p{first['percentile']:g}"


def _llm_columns(result: SweepResult) -> list[tuple[str, str]]:
    """The LLM latencies shown beside the axis (header, metric name), when points have them
    and the axis is not that latency already."""
    if not any("ttft_p99_ms" in (r.get("metrics") or {}) for r in result.rows):
        return []
    return [(h, k) for h, k in (("TTFT p99", "ttft_p99_ms"), ("TPOT p99", "tpot_p99_ms"))
            if h != _latency_label(result)]


def _bound_verdict(bound: dict[str, Any]) -> str:
    """One bound's verdict: its stored ``verdict`` (met, MISSED, inconclusive), else from
    ``met`` (rows written before verdicts were stored)."""
    return str(bound.get("verdict") or ("met" if bound.get("met") else "MISSED"))


def verdict(row: dict[str, Any]) -> str:
    """Return the point's SLO verdict over every bound: ``met``, ``MISSED (TPOT)``,
    ``inconclusive`` (no bound missed, an interval straddles its bound) or ``n/a``."""
    meets = row.get("meets_slo")
    if meets is None:
        return NA
    if meets:
        return "met"
    bounds = row.get("slos") or []
    missed = [_name(s["metric"]) for s in bounds if _bound_verdict(s) == "MISSED"]
    open_ = [_name(s["metric"]) for s in bounds if _bound_verdict(s) == "inconclusive"]
    word, names = ("inconclusive", open_) if open_ and not missed else ("MISSED", missed)
    return word + (f" ({', '.join(names)})" if len(bounds) > 1 and names else "")


def _verdicts_text(row: dict[str, Any]) -> str:
    """Every bound of a point with its verdict: ``TTFT p99 ≤ 500 ms: met (40.28 ms); ...``;
    an inconclusive one gives its 95% interval (in the value's unit)."""
    parts = []
    for s in row.get("slos") or []:
        value, mark = s.get("achieved_ms"), _bound_verdict(s)
        low, high = (s.get("achieved_ms_ci95") or [None, None])[:2]
        if mark == "inconclusive" and low is not None and high is not None:
            unit = common_unit((value, low, high))
            settle = s.get("replications_to_settle")
            parts.append(f"{_bound_text(s)}: inconclusive ({ms_in(value, unit)}, 95% CI "
                         f"{ms_in(low, unit)} to {ms_in(high, unit)}"
                         + ("" if settle is None else f"; ~{settle:,} replications would "
                            "settle it") + ")")
        else:
            parts.append(f"{_bound_text(s)}: {mark} ({human_ms(value)})")
    return "; ".join(parts) or NA


def _column(values: list[float | None]) -> list[str]:
    """Durations (ms) of one table column, all in the unit of the largest."""
    unit = common_unit(values)
    return [ms_in(v, unit) for v in values]


def _point_table(result: SweepResult, rows: list[dict[str, Any]]) -> Table:
    lat = _latency_label(result)
    extra = _llm_columns(result)
    latency = _column([latency_ms(r) for r in rows])
    others = [_column([(r.get("metrics") or {}).get(k) for r in rows]) for _, k in extra]
    body = []
    for i, r in enumerate(rows):
        m = r.get("metrics") or {}
        body.append((r["point_id"], _params_text(r["params"]), fmt_money(m.get("usd_per_month")),
                     latency[i], *(column[i] for column in others),
                     fmt_pct(m.get("slo_attainment"), 2), verdict(r),
                     "yes" if result.is_feasible(r) else "no"))
    return Table(headers=("point", "parameters", "$/month", lat, *(h for h, _ in extra),
                          "SLO attainment", "SLO", "feasible"),
                 rows=tuple(body), align=("left", "left", "right", "right",
                                          *("right" for _ in extra), "right", "left", "left"))


def build_sweep_report(result: SweepResult) -> list[Section]:
    """Return the sections of a sweep report."""
    counts = result.counts()
    c = result.constraints
    wanted = []
    if c.slo:
        wanted.extend(_bound_text(b) for b in _bounds(result))
    if c.budget_usd_per_month is not None:
        wanted.append(f"≤ {fmt_money(c.budget_usd_per_month)}/month")
    summary = Section("Sweep", (Bullets((
        f"scenario {result.scenario['name']}, base design {result.base_design}, "
        f"{result.mode} sweep",
        f"{counts['points']} points: {counts['ok']} ran ({counts['ran_now']} now, "
        f"{counts['resumed']} resumed), {counts['skipped']} skipped (invalid), "
        f"{counts['error']} failed; {counts['feasible']} feasible",
        f"constraints: {', '.join(wanted) or 'none'}; a known, complete price is required",
        f"{result.scenario['replications']} replications per point, "
        f"{result.executor} executor, {result.workers} worker(s), {result.wall_s:.1f} s",
        f"prices: {result.catalog} ({result.catalog_as_of or NA}); results in {result.output}",
    )),))
    best = result.cheapest()
    if best is None:
        rec = Section("Cheapest point meeting the constraints",
                      (Paragraph("No point meets every constraint."),))
    else:
        m = best.get("metrics") or {}
        items = [f"point {best['point_id']}: {_params_text(best['params'])}",
                 f"{fmt_money(m.get('usd_per_month'))} per month "
                 f"({fmt_money(m.get('usd_per_hour'))}/h)",
                 f"{_latency_label(result)} {human_ms(latency_ms(best))}"
                 + ("" if _latency_label(result) == "p99" or "ttft_p99_ms" in m else
                    f"; p99 {human_ms(m.get('p99_ms'))}")
                 + f"; SLO attainment {fmt_pct(m.get('slo_attainment'), 2)}",
                 f"utilization {fmt_pct(m.get('utilization'))}; throughput "
                 f"{m.get('throughput_rps') or 0:,.1f} req/s; $/1k requests "
                 f"{fmt_money(m.get('usd_per_1k_requests'), 4)}"]
        if best.get("slos"):
            items.append(f"SLO: {_verdicts_text(best)}")
        if "ttft_p99_ms" in m:
            items.append(f"TTFT p99 {human_ms(m.get('ttft_p99_ms'))}, TPOT p99 "
                         f"{human_ms(m.get('tpot_p99_ms'))}, E2E p99 "
                         f"{human_ms(m.get('e2e_p99_ms'))}; goodput "
                         f"{fmt_number(m.get('goodput_rps'))} req/s; $/1M output tokens "
                         f"{fmt_unit(m.get('usd_per_1m_output_tokens'))}, $/1M tokens "
                         f"{fmt_unit(m.get('usd_per_1m_tokens'))}")
        rec = Section("Cheapest point meeting the constraints", (Bullets(tuple(items)),))
    sections = [summary, rec,
                Section(f"Pareto front: cost against {_latency_label(result)}",
                        (_point_table(result, result.pareto("latency")),)),
                Section("Pareto front: cost against SLO attainment",
                        (_point_table(result, result.pareto("attainment")),))]
    if result.sensitivity:
        rows = []
        latency = _column([None if case.row is None else latency_ms(case.row)
                           for case in result.sensitivity])
        for case, lat in zip(result.sensitivity, latency):
            r = case.row
            if r is None:
                rows.append((case.case, NA, NA, NA, NA, case.note or NA))
                continue
            m = r.get("metrics") or {}
            reasons = infeasible_reasons(r, result.constraints)
            rows.append((case.case, fmt_money(m.get("usd_per_month")), lat,
                         fmt_pct(m.get("slo_attainment"), 2), verdict(r),
                         "yes" if not reasons else "no: " + "; ".join(reasons)))
        sections.append(Section("Sensitivity of the cheapest point", (Table(
            headers=("case", "$/month", _latency_label(result), "SLO attainment", "SLO",
                     "meets constraints"),
            rows=tuple(rows), align=("left", "right", "right", "right", "left", "left")),)))
    ran = [r for r in result.rows if r.get("status") == "ok"]
    if ran:
        shown = ran[:ALL_POINTS_SHOWN]
        blocks: list[Any] = [_point_table(result, shown)]
        if len(ran) > len(shown):
            blocks.append(Paragraph(f"... and {len(ran) - len(shown)} more points (every point "
                                    "is in the JSON and Parquet reports)."))
        sections.append(Section("Every point that ran", tuple(blocks)))
    skipped = [r for r in result.rows if r.get("status") in ("skipped", "error")]
    if skipped:
        items = tuple(f"{r['point_id']} ({_params_text(r['params'])}): {r['status']}: "
                      f"{r.get('error')}" for r in skipped[:20])
        more = (f"... and {len(skipped) - 20} more",) if len(skipped) > 20 else ()
        sections.append(Section("Skipped and failed points", (Bullets(items + more),)))
    return sections


def render_sweep_markdown(result: SweepResult) -> str:
    """Return the sweep report as GitHub-flavoured Markdown."""
    from planner.reports.markdown import escape, render_sections

    title = f"Sweep of {result.base_design} ({result.scenario['name']})"
    return f"# {escape(title)}\n\n" + render_sections(build_sweep_report(result)) + "\n"


def render_sweep_table(result: SweepResult, *, width: int | None = None,
                       wide: bool = False) -> str:
    """Return the sweep report for a terminal: rich tables that fit ``width`` (default the
    terminal's) as stacked tables repeating the first column, or one each with ``wide``; no
    value is cut."""
    from rich.table import Table as RichTable

    from planner.reports.fit import plain_console, print_fitted

    buffer = io.StringIO()
    console = plain_console(buffer, width)
    for section in build_sweep_report(result):
        console.print(section.title)
        for block in section.blocks:
            if isinstance(block, Table):
                table = RichTable(show_lines=False)
                for header, align in zip(block.headers, block.align):
                    table.add_column(header, justify="right" if align == "right" else "left")
                for row in block.rows:
                    table.add_row(*row)
                print_fitted(console, table, wide=wide)
            elif isinstance(block, Bullets):
                for item in block.items:
                    console.print(f"  - {item}", soft_wrap=True)
            else:
                console.print(block.text, soft_wrap=True)
        console.print()
    return buffer.getvalue()


def pareto_scatter(result: SweepResult) -> Any | None:
    """Return a plotly scatter of every point's cost against latency (feasible vs not)."""
    import plotly.graph_objects as go

    groups: dict[str, list[dict[str, Any]]] = {"feasible": [], "infeasible": []}
    for r in result.rows:
        cost = (r.get("metrics") or {}).get("usd_per_month")
        if r.get("status") == "ok" and cost is not None and latency_ms(r) is not None:
            groups["feasible" if result.is_feasible(r) else "infeasible"].append(r)
    if not any(groups.values()):
        return None
    fig = go.Figure()
    styles = {"feasible": ("#1a7f37", "circle"), "infeasible": ("#cf222e", "x")}
    for name, rows in groups.items():
        color, symbol = styles[name]
        fig.add_trace(go.Scatter(
            x=[latency_ms(r) for r in rows], y=[r["metrics"]["usd_per_month"] for r in rows],
            mode="markers", name=f"{name} ({len(rows)})",
            marker={"color": color, "symbol": symbol, "size": 8},
            hovertext=[f"{r['point_id']}: {_params_text(r['params'])}" for r in rows],
            hoverinfo="text+x+y"))
    front = sorted(result.pareto("latency"), key=lambda r: latency_ms(r))
    fig.add_trace(go.Scatter(x=[latency_ms(r) for r in front],
                             y=[r["metrics"]["usd_per_month"] for r in front], mode="lines",
                             name="Pareto front", line={"dash": "dot", "color": "#888"}))
    best = result.cheapest()
    if best is not None:
        fig.add_trace(go.Scatter(x=[latency_ms(best)], y=[best["metrics"]["usd_per_month"]],
                                 mode="markers", name="cheapest feasible",
                                 marker={"symbol": "star", "size": 16, "color": "#bf8700"}))
    bounds = _bounds(result)
    if bounds:
        fig.add_vline(x=bounds[0]["latency_ms"], line_dash="dash", line_color="#888")
    fig.update_layout(title=f"Cost per month against {_latency_label(result)} latency",
                      xaxis_title=f"{_latency_label(result)} (ms)", xaxis_type="log",
                      yaxis_title="USD per month", template="plotly_white", height=480)
    return fig


def render_sweep_html(result: SweepResult) -> str:
    """Return the sweep report as one self-contained HTML page (plotly.js inlined)."""
    from planner.reports.html import chart_div, html_page, render_section

    title = f"Sweep of {result.base_design} ({result.scenario['name']})"
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in build_sweep_report(result):
        body.append(render_section(section))
        if section.title.startswith("Cheapest"):
            fig = pareto_scatter(result)
            body.append(chart_div(fig, "sweep-pareto")
                        if fig is not None else f"<p>Cost against latency: {NA}.</p>")
    return html_page(title, body, style=False)


def points_frame(result: SweepResult):
    """Return the points as a polars DataFrame: one row per point, parameters and metrics as
    columns (``param.<path>``, ``metric.<name>``)."""
    import polars as pl

    def numeric(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    paths = {k for r in result.rows for k in r["params"]}
    as_number = {k: all(numeric(r["params"].get(k)) for r in result.rows if k in r["params"])
                 for k in paths}
    records = []
    for r in result.rows:
        record: dict[str, Any] = {"point_id": r["point_id"], "index": r["index"],
                                  "status": r["status"], "error": r.get("error"),
                                  "seed": r["seed"], "feasible": result.is_feasible(r),
                                  "slo_ms": r.get("slo_ms"), "meets_slo": r.get("meets_slo"),
                                  "slo": verdict(r) if r.get("status") == "ok" else None}
        for key, value in r["params"].items():
            record[f"param.{key}"] = float(value) if as_number[key] else \
                json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        for key, value in (r.get("metrics") or {}).items():
            record[f"metric.{key}"] = None if value is None else float(value)
        records.append(record)
    return pl.DataFrame(records, infer_schema_length=None)


def render_sweep_parquet(result: SweepResult, path) -> None:
    """Write the points (see :func:`points_frame`) to a Parquet file."""
    points_frame(result).write_parquet(path)
