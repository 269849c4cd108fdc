"""Figures and tables of a :class:`RunResult` for the Scenarios page.

Every number comes from the result; the distribution, Pareto, fleet-size and LLM figures are the
HTML report's own builders (:mod:`planner.reports.html`, :mod:`planner.reports.llm_charts`),
with the SLO drawn as a line here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from dash import html

from planner.reports import llm as llm_report
from planner.reports import llm_charts
from planner.reports.formatting import TIME_UNITS, time_unit
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
TIME_FIGURES = ("fleet", "queue", "kv", "running")
"""Figures whose x axis is simulated time (drawn in s, min or h, whichever reads best)."""
EMPTY_TITLES = {"distribution": "Latency distribution", "pareto": "Cost per month against latency",
                "fleet": "Fleet size over time", "queue": "Queue length over time",
                "purchase": "Cost over the horizon by purchase option", "ttft": "TTFT distribution",
                "tpot": "TPOT distribution", "kv": "KV-cache utilisation over time",
                "running": "Running and waiting requests over time"}
"""Titles of the charts that have no data in a run (the figure then says why)."""
LOG_SPAN_DECADES = 2.0
"""An axis whose positive values span at least this many decades is drawn on a log scale."""


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
    for trace in fig.data:  # names next to close points overlap: the legend names them
        if trace.mode == "markers+text":
            trace.mode = "markers"
    wanted = {"latency": ("latency", "e2e")}.get(pareto_metric(result), (pareto_metric(result),))
    seen = set()
    for d in result.designs:
        for slo in d.slos:
            if slo.metric in wanted and slo.latency_ms not in seen:
                seen.add(slo.latency_ms)
                fig.add_vline(x=slo.latency_ms, line_dash="dash", line_color="#c0392b",
                              annotation_text=f"SLO {llm_report.bound_text(d, slo)}",
                              annotation_position="top right",
                              annotation_yshift=-18 * (len(seen) - 1))  # one under another
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


def empty_figure(message: str, title: str = "") -> dict[str, Any]:
    """Return a blank figure titled ``title`` that says ``message`` (a chart with no data)."""
    return {"data": [], "layout": {
        "meta": {"title": title}, "template": THEME, "height": 220, "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                         "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#57606a"}}]}}


def decades(values: Iterable[Any]) -> float:
    """Return how many decades the positive finite ``values`` span (0 with fewer than two)."""
    known = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)
             and v > 0]
    return math.log10(max(known) / min(known)) if len(known) > 1 else 0.0


def _axis_values(fig: Any, axis: str) -> list[Any]:
    return [v for trace in fig.data for v in (getattr(trace, axis, None) or ())]


def _scale_time(fig: Any) -> None:
    """Redraw a time axis given in simulated seconds in the unit that reads best (s, min or h)."""
    seconds = [v for v in _axis_values(fig, "x") if isinstance(v, (int, float))]
    if not seconds:
        return
    unit = time_unit(max(seconds) * 1000.0)
    unit = "s" if unit == "ms" else unit
    per_unit = TIME_UNITS[unit] / 1000.0
    for trace in fig.data:
        if trace.x is not None:
            trace.x = [v / per_unit for v in trace.x]
    fig.update_xaxes(title_text=f"simulated time ({unit})", type="linear")


def finish_figure(fig: Any, *, time_axis: bool = False, stacked: bool = False) -> Any:
    """Return ``fig`` made readable on any screen: a legend always (below the plot, so it never
    covers data or labels), time in s/min/h, a log axis where positive values span
    :data:`LOG_SPAN_DECADES` decades or more (linear otherwise, and always for a stacked or
    time axis), margins that make room for every tick label, and no title inside the plot (the
    page shows it above the chart as text: it wraps on a phone and screen readers read it;
    see :func:`chart_title`)."""
    fig.layout.meta = {"title": chart_title(fig)}
    if time_axis:
        _scale_time(fig)
    for axis in ("x", "y"):
        if axis == "x" and time_axis:
            continue
        if axis == "y" and stacked:  # bars stacked on a log axis misstate their shares
            fig.update_yaxes(type="linear")
            continue
        values = _axis_values(fig, axis)
        if not values or not all(isinstance(v, (int, float)) for v in values):
            continue  # a categorical axis (design names)
        log = decades(values) >= LOG_SPAN_DECADES and min(values) > 0
        getattr(fig, f"update_{axis}axes")(type="log" if log else "linear")
    for trace in fig.data:  # a line of one or two points draws nothing: mark the points
        if getattr(trace, "mode", None) == "lines" and trace.x is not None and len(trace.x) < 3:
            trace.mode = "lines+markers"
    fig.update_layout(
        showlegend=True,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.22, "yanchor": "top"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=None,
        uirevision="keep",
    )
    fig.update_xaxes(automargin=True, title_standoff=8)
    fig.update_yaxes(automargin=True, title_standoff=8)
    return fig


def graph_height_px(fig: Any) -> int:
    """Return the height to draw ``fig`` at: its layout's, plus a line per two legend entries
    (the legend sits under the plot, so on a phone it wraps to one entry a line)."""
    if isinstance(fig, dict):
        return int(fig.get("layout", {}).get("height") or 400)
    entries = sum(1 for t in fig.data if t.showlegend is not False)
    return int((fig.layout.height or 400) + 20 * ((entries + 1) // 2))


def chart_title(fig: Any) -> str:
    """Return a chart's title: the builder's, kept in ``layout.meta`` once the figure is
    finished (a figure object or an empty figure's dict)."""
    if isinstance(fig, dict):
        return str(fig.get("layout", {}).get("meta", {}).get("title", ""))
    meta = fig.layout.meta
    if isinstance(meta, dict) and meta.get("title"):
        return str(meta["title"])
    return str(fig.layout.title.text or "")


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
    result_figs = {k: (finish_figure(v, time_axis=k in TIME_FIGURES, stacked=k == "purchase")
                       if v is not None else empty_figure(notes[k], EMPTY_TITLES.get(k, "")))
                   for k, v in out.items()}
    result_figs["left_out"] = left_out
    return result_figs


def slo_list(result: RunResult) -> html.Ul:
    """Return every design's SLO bounds with their verdicts, one item per design."""
    return html.Ul([html.Li(f"{d.name}: {llm_report.verdicts_text(d)}"
                            + ("" if d.llm is not None or not llm_report.has_llm(result)
                               else "; TTFT and TPOT n/a (static batching)"))
                    for d in result.designs], id="scn-slo")


def result_components(result: RunResult, run_id: str, inputs: str | None = None) -> list[Any]:
    """Return the page's results: a status line naming the inputs they came from (``inputs``),
    the comparison, the charts, cost by purchase."""
    from dash import dcc

    from planner.reports.sections import recommended_name

    figs = figures(result)
    reps = result.scenario.get("replications")
    best = recommended_name(result)
    status = (f"Simulated {len(result.designs)} design(s) x {reps} replications in "
              f"{result.wall_s:.1f} s. Recommended (cheapest meeting its SLO): "
              f"{best or 'none'}." + (f" Inputs: {inputs}." if inputs else ""))
    keys = ("distribution", "pareto", "fleet", "queue", "purchase",
            *(k for k in LLM_FIGURES if k in figs))
    graphs = [html.Figure([html.Figcaption(chart_title(figs[key]), id=f"scn-fig-{key}-title"),
                           dcc.Graph(id=f"scn-fig-{key}", figure=figs[key],
                                     style={"height": f"{graph_height_px(figs[key])}px"},
                                     config={"displaylogo": False, "responsive": True})],
                          className="chart", **{"aria-labelledby": f"scn-fig-{key}-title"})
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
