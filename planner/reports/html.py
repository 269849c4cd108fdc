"""One self-contained HTML report of a :class:`RunResult`: the Markdown report's tables plus
plotly charts, with plotly.js inlined so the file opens offline. Deterministic: fixed element
ids, no timestamps."""

from __future__ import annotations

import html
from typing import Any

from planner.reports.llm_charts import llm_figures
from planner.reports.sections import (
    NA,
    RECOMMENDED_MARK,
    Block,
    Bullets,
    Paragraph,
    Section,
    Table,
    build_report,
    comparable_ms,
    fmt_money,
    pareto_label,
    pareto_metric,
    pareto_names,
    recommended_name,
    slo_status,
    title,
)
from planner.result_parts import DistributionResult, TimelineResult
from planner.results import DesignResult, RunResult, SloResult

PURCHASE_NODE_KEYS = ("nodes_base", "nodes_spot", "nodes_on_demand_fallback")
"""Timeline series that partition the fleet by purchase option (summed for the fleet size)."""

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}
th{background:#f6f8fa}td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
.chart{margin:1em 0}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_block(block: Block) -> str:
    """Return one block as escaped HTML."""
    if isinstance(block, Table):
        cls = ['' if a == "left" else ' class="r"' for a in block.align]
        head = "".join(f"<th{c}>{_e(h)}</th>" for c, h in zip(cls, block.headers))
        body = "".join("<tr>" + "".join(f"<td{c}>{_e(v)}</td>" for c, v in zip(cls, row))
                       + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Paragraph):
        return f"<p>{_e(block.text)}</p>"
    raise TypeError(f"unknown block {block!r}")  # pragma: no cover


def render_section(section: Section) -> str:
    """Return a heading and its blocks as HTML."""
    tag = f"h{section.level}"
    return f"<{tag}>{_e(section.title)}</{tag}>\n" + "\n".join(
        render_block(b) for b in section.blocks)


# ----------------------------------------------------------------------------- charts

def fleet_size(timeline: TimelineResult | None) -> list[float | None] | None:
    """Return nodes per timeline bin: the purchase partition summed, else ``nodes``, else None.

    A bin where a summed series has no value (None) has none either.
    """
    if timeline is None or not timeline.start_s:
        return None
    series = timeline.node_series()
    keys = [k for k in PURCHASE_NODE_KEYS if k in series]
    if keys:
        return [None if any(series[k][i] is None for k in keys)
                else sum(series[k][i] for k in keys)  # type: ignore[misc]
                for i in range(len(timeline.start_s))]
    for key in ("nodes", "nodes_ready"):
        if key in series:
            return list(series[key])
    return None


def own_bounds(d: DesignResult) -> list[SloResult]:
    """Return the SLO bounds on the design's own distribution (``latency_ms``): its latency,
    freshness or completion-time bound, an LLM design's E2E bound (not TTFT or TPOT)."""
    return [s for s in d.slos if s.metric in ("latency", "e2e")]


def distribution_figures(result: RunResult) -> list[tuple[str, Any]]:
    """Return one CDF figure per metric label (latency, freshness...) of designs that have one."""
    import plotly.graph_objects as go

    by_label: dict[str, list[tuple[DesignResult, DistributionResult]]] = {}
    for d in result.designs:
        dist = d.distribution_ms
        if dist is not None and dist.values and dist.quantiles:
            by_label.setdefault(d.metric_label, []).append((d, dist))
    out = []
    for label, designs in by_label.items():
        fig = go.Figure()
        for d, dist in designs:
            fig.add_trace(go.Scatter(
                x=list(dist.values), y=list(dist.quantiles),
                mode="lines+markers", name=d.name))
            for slo in own_bounds(d):
                fig.add_trace(go.Scatter(
                    x=[slo.latency_ms], y=[slo.percentile / 100], mode="markers",
                    marker={"symbol": "x", "size": 11}, name=f"{d.name} SLO {slo.latency_ms:g} ms",
                    showlegend=True))
        fig.update_layout(title=f"{label.capitalize()} distribution (mean of replications)",
                          xaxis_title=f"{label} (ms)", yaxis_title="quantile",
                          xaxis_type="log", template="plotly_white", height=420)
        out.append((f"distribution-{len(out)}", fig))
    return out


def pareto_figure(result: RunResult) -> tuple[Any, list[str]] | None:
    """Return the cost per month vs SLO-percentile chart and the designs left out of it (n/a)."""
    import plotly.graph_objects as go

    plotted, left_out = [], []
    metric = pareto_metric(result)
    for d in result.designs:
        lat = comparable_ms(d, metric)
        if d.cost.usd_per_month is None or d.cost.incomplete or lat is None:
            why = ("cost incomplete" if d.cost.incomplete and d.cost.usd_per_month is not None
                   else "cost n/a" if d.cost.usd_per_month is None else f"{d.metric_label} n/a")
            left_out.append(f"{d.name}: {why}")
        else:
            plotted.append((d, lat))
    if not plotted:
        return None
    pareto = set(pareto_names(result))
    best = recommended_name(result)
    fig = go.Figure()
    frontier = sorted(((lat, d.cost.usd_per_month) for d, lat in plotted if d.name in pareto))
    fig.add_trace(go.Scatter(x=[p[0] for p in frontier], y=[p[1] for p in frontier],
                             mode="lines", name="Pareto frontier",
                             line={"dash": "dot", "color": "#888"}))
    for d, lat in plotted:
        tags = [t for t, on in (("recommended", d.name == best), ("Pareto-optimal", d.name in pareto))
                if on]
        symbol = "star" if d.name == best else ("diamond" if d.name in pareto else "circle")
        label = d.name + (f" {RECOMMENDED_MARK}" if d.name == best else "")
        fig.add_trace(go.Scatter(
            x=[lat], y=[d.cost.usd_per_month], mode="markers+text", text=[label],
            textposition="top center", name=label + (f" ({', '.join(tags)})" if tags else ""),
            marker={"symbol": symbol, "size": 16 if d.name == best else 12},
            hovertext=[(f"{d.name}: {fmt_money(d.cost.usd_per_month)}/month, "
                       f"{lat:,.2f} ms; SLO {slo_status(d)}")],
            hoverinfo="text"))
    label = pareto_label(result)
    axis = "value at the SLO percentile" if label == "the SLO percentile" else label
    fig.update_layout(title=f"Cost per month against {label} (p99 when no SLO)",
                      xaxis_title=f"{axis} (ms)", yaxis_title="USD per month",
                      template="plotly_white", height=460)
    return fig, left_out


def timeline_figure(result: RunResult) -> Any | None:
    """Return fleet size over time for designs with a timeline, or None."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for d in result.designs:
        nodes = fleet_size(d.timeline)
        if d.timeline is None or nodes is None:
            continue
        fig.add_trace(go.Scatter(x=list(d.timeline.start_s), y=nodes, mode="lines",
                                 line_shape="hv", name=d.name))
    if not fig.data:
        return None
    fig.update_layout(title="Fleet size over time (nodes, mean of replications)",
                      xaxis_title="time (s)", yaxis_title="nodes", template="plotly_white",
                      height=420)
    return fig


def chart_div(fig: Any, div_id: str) -> str:
    """Return a plotly figure as a ``<div class="chart">`` (plotly.js not included)."""
    import plotly.io as pio

    return ('<div class="chart">' + pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True}) + "</div>")


def charts_section(result: RunResult) -> str:
    """Return the charts: distributions, Pareto, fleet size (each skipped when it has no data)."""
    parts = ["<h2>Charts</h2>"]
    for div_id, fig in distribution_figures(result):
        parts.append(chart_div(fig, div_id))
    pareto = pareto_figure(result)
    if pareto is not None:
        fig, left_out = pareto
        parts.append(chart_div(fig, "pareto"))
        if left_out:
            parts.append("<p>Not plotted (n/a, not $0): " + _e("; ".join(left_out)) + "</p>")
    else:
        parts.append(f"<p>Cost against latency: {NA} (no design has a known, complete cost).</p>")
    fig = timeline_figure(result)
    if fig is not None:
        parts.append(chart_div(fig, "fleet-timeline"))
    for div_id, fig in llm_figures(result):
        parts.append(chart_div(fig, div_id))
    return "\n".join(parts)


def render_html(result: RunResult) -> str:
    """Return the report of ``result`` as one self-contained HTML page.

    The tables are those of :func:`planner.reports.markdown.render_markdown`; the charts show
    each design's distribution, cost per month against the SLO percentile (Pareto-optimal and
    recommended designs marked; unknown costs listed, not plotted), and fleet size over time.
    plotly.js is inlined: the page needs no network.
    """
    sections = build_report(result)
    body = [f"<h1>{_e(title(result))}</h1>"]
    for s in sections:
        body.append(render_section(s))
        if s.title == "Recommendation":
            body.append(charts_section(result))
    return html_page(title(result), body)


def html_page(page_title: str, body: list[str], *, style: bool = True) -> str:
    """Return a self-contained HTML page: the title, the house style (unless ``style`` is
    False), plotly.js inlined, then ``body``."""
    from plotly.offline import get_plotlyjs

    plotlyjs = get_plotlyjs().replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_e(page_title)}</title>\n" + (f"<style>{_STYLE}</style>\n" if style else "")
        + f"<script type=\"text/javascript\">{plotlyjs}</script>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )
