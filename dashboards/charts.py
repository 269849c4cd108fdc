"""Figures and tables of a :class:`RunResult` for the Scenarios page.

Every number comes from the result; the distribution, Pareto, fleet-size and LLM figures are the
HTML report's own builders (:mod:`planner.reports.html`, :mod:`planner.reports.llm_charts`),
with the SLO drawn as a line here.
"""

from __future__ import annotations

from typing import Any

from dash import html

from planner.reports import llm as llm_report
from planner.reports import llm_charts
from planner.reports.html import distribution_figures, pareto_figure, timeline_figure
from planner.reports.sections import (
    NA,
    Table,
    comparison_table,
    fmt_money,
    pareto_metric,
    warning_lines,
)
from planner.results import RunResult

THEME = "plotly_white"
LLM_FIGURES = ("ttft", "tpot", "kv", "running")
"""Figures of LLM designs (TTFT, TPOT, KV utilisation, running/waiting), shown when a design
of the run is an LLM design."""


def table_component(table: Table, table_id: str) -> html.Table:
    """Return a report :class:`Table` as an ``html.Table`` (right-aligned numeric columns)."""
    cls = [None if a == "left" else "num" for a in table.align]
    head = html.Thead(html.Tr([html.Th(h, className=c) for h, c in zip(table.headers, cls)]))
    body = html.Tbody([html.Tr([html.Td(v, className=c) for v, c in zip(row, cls)])
                       for row in table.rows])
    return html.Table([head, body], id=table_id, className="data-table")


def comparison(result: RunResult) -> html.Table:
    """Return the side-by-side comparison of the designs (the reports' table)."""
    return table_component(comparison_table(result), "scn-comparison")


def purchase_table(result: RunResult) -> Table:
    """Return cost per purchase option and design over the horizon; unknown prices are n/a."""
    options: list[str] = []
    for d in result.designs:
        for key in d.cost.by_purchase:
            if key not in options:
                options.append(key)
    rows = tuple((d.name, *(fmt_money(d.cost.by_purchase[o]) if o in d.cost.by_purchase
                            else "-" for o in options), fmt_money(d.cost.total_usd))
                 for d in result.designs)
    headers = ("design", *(o.replace("_", " ") for o in options), "total (horizon)")
    return Table(headers, rows, ("left", *("right" for _ in options), "right"))


def distribution_figure(result: RunResult) -> Any | None:
    """Return the distribution (CDF) figure of the first metric, or None."""
    figures = distribution_figures(result)
    return figures[0][1] if figures else None


def pareto_with_slo(result: RunResult) -> tuple[Any | None, list[str]]:
    """Return the cost-per-month vs SLO-percentile figure with each SLO bound on its axis (the
    latency, or TTFT when every design is judged on TTFT first) as a dashed line."""
    built = pareto_figure(result)
    if built is None:
        return None, [f"{d.name}: cost n/a" for d in result.designs]
    fig, left_out = built
    wanted = {"latency": ("latency", "e2e")}.get(pareto_metric(result), (pareto_metric(result),))
    seen = set()
    for d in result.designs:
        for slo in d.slos:
            if slo.metric in wanted and slo.latency_ms not in seen:
                seen.add(slo.latency_ms)
                fig.add_vline(x=slo.latency_ms, line_dash="dash", line_color="#c0392b",
                              annotation_text=f"SLO {llm_report.bound_text(d, slo)}",
                              annotation_position="top right")
    return fig, left_out


def queue_figure(result: RunResult) -> Any | None:
    """Return the mean queue length over time per design, or None without timelines."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for d in result.designs:
        tl = d.timeline
        key = next((k for k in ("mean_queue", "mean_waiting") if tl is not None
                    and k in tl.series), None)  # an LLM engine's queue: its waiting requests
        if tl is not None and tl.start_s and key is not None:
            fig.add_trace(go.Scatter(x=list(tl.start_s), y=list(tl.series[key]),
                                     mode="lines", name=d.name))
    if not fig.data:
        return None
    fig.update_layout(title="Queue length over time (requests, mean of replications)",
                      xaxis_title="time (s)", yaxis_title="queued requests", template=THEME,
                      height=380)
    return fig


def purchase_figure(result: RunResult) -> Any | None:
    """Return cost over the horizon by purchase option, stacked per design (known costs only)."""
    import plotly.graph_objects as go

    options: list[str] = []
    for d in result.designs:
        options.extend(k for k in d.cost.by_purchase if k not in options)
    fig = go.Figure()
    for option in options:
        names, values = [], []
        for d in result.designs:
            value = d.cost.by_purchase.get(option)
            if value is not None:
                names.append(d.name)
                values.append(value)
        if values:
            fig.add_trace(go.Bar(x=names, y=values, name=option.replace("_", " ")))
    if not fig.data:
        return None
    fig.update_layout(barmode="stack", title="Cost over the horizon by purchase option (USD)",
                      yaxis_title="USD", template=THEME, height=380)
    return fig


def fleet_figure(result: RunResult) -> Any | None:
    """Return fleet size over time (the report's builder), or None."""
    return timeline_figure(result)


def empty_figure(message: str) -> dict[str, Any]:
    """Return a blank figure that says ``message`` (for charts with no data)."""
    return {"data": [], "layout": {
        "template": THEME, "height": 220, "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                         "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#57606a"}}]}}


def figures(result: RunResult) -> dict[str, Any]:
    """Return every figure of the page by output id; a missing chart says why."""
    pareto, left_out = pareto_with_slo(result)
    out = {
        "distribution": distribution_figure(result),
        "pareto": pareto,
        "fleet": fleet_figure(result),
        "queue": queue_figure(result),
        "purchase": purchase_figure(result),
    }
    notes = {"distribution": "no distribution recorded", "pareto": f"cost {NA} for every design",
             "fleet": "no fleet timeline", "queue": "no queue timeline",
             "purchase": f"cost by purchase option: {NA}"}
    if llm_report.has_llm(result):
        out.update({"ttft": llm_charts.llm_distribution_figure(result, "ttft"),
                    "tpot": llm_charts.llm_distribution_figure(result, "tpot"),
                    "kv": llm_charts.kv_figure(result),
                    "running": llm_charts.queue_figure(result)})
        notes.update(ttft="no TTFT recorded", tpot="no TPOT recorded",
                     kv="no KV-cache timeline", running="no engine queue timeline")
    result_figs = {k: (v if v is not None else empty_figure(notes[k])) for k, v in out.items()}
    result_figs["left_out"] = left_out
    return result_figs


def slo_list(result: RunResult) -> html.Ul:
    """Return every design's SLO bounds with their verdicts, one item per design."""
    return html.Ul([html.Li(f"{d.name}: {llm_report.verdicts_text(d)}"
                            + ("" if d.llm is not None or not llm_report.has_llm(result)
                               else "; TTFT and TPOT n/a (static batching)"))
                    for d in result.designs], id="scn-slo")


def result_components(result: RunResult, run_id: str) -> list[Any]:
    """Return the page's results: a status line, the comparison, the charts, cost by purchase."""
    from dash import dcc

    from planner.reports.sections import recommended_name

    figs = figures(result)
    reps = result.scenario.get("replications")
    best = recommended_name(result)
    status = (f"Simulated {len(result.designs)} design(s) x {reps} replications in "
              f"{result.wall_s:.1f} s. Recommended (cheapest meeting its SLO): "
              f"{best or 'none'}.")
    keys = ("distribution", "pareto", "fleet", "queue", "purchase",
            *(k for k in LLM_FIGURES if k in figs))
    graphs = [dcc.Graph(id=f"scn-fig-{key}", figure=figs[key],
                        config={"displaylogo": False, "responsive": True})
              for key in keys]
    children: list[Any] = [
        html.Div(status, className="msg ok", id="scn-run-status", **{"data-run": run_id}),
        html.H3("Comparison"), comparison(result),
        html.H3("SLO bounds"), slo_list(result),
        html.H3("Charts"), html.Div(graphs, className="charts"),
    ]
    if figs["left_out"]:
        children.append(html.P("Not plotted (n/a, not $0): " + "; ".join(figs["left_out"]),
                               className="muted"))
    children += [html.H3("Cost by purchase option (over the horizon)"),
                 table_component(purchase_table(result), "scn-purchase-table")]
    warnings = warning_lines(result)
    if warnings:
        children += [html.H3("Warnings"), html.Ul([html.Li(w) for w in warnings])]
    return children
