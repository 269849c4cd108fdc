"""Charts of LLM designs for the HTML report and the dashboard: TTFT and TPOT distributions (from
``llm.distributions_ms``, each SLO bound marked), KV-cache utilisation and the running and
waiting requests over time (from the timeline). Designs without an ``llm`` block are left out;
a chart with no data is not built (None)."""

from __future__ import annotations

from typing import Any

from planner.reports.llm import SLO_METRIC_NAMES
from planner.results import DesignResult, RunResult

THEME = "plotly_white"
DISTRIBUTIONS = ("ttft", "tpot")
KV_SERIES = "kv_utilization"
QUEUE_SERIES = (("mean_running", "running", "solid"), ("mean_waiting", "waiting", "dot"))
"""Timeline series of the engine's queue: name, label, line dash."""


def _llm_designs(result: RunResult) -> list[DesignResult]:
    return [d for d in result.designs if d.llm is not None]


def llm_distribution_figure(result: RunResult, which: str) -> Any | None:
    """Return the CDF of ``ttft`` or ``tpot`` per LLM design (mean over replications of each
    quantile), with each bound on it marked; None without data."""
    import plotly.graph_objects as go

    label = SLO_METRIC_NAMES[which]
    fig = go.Figure()
    for d in _llm_designs(result):
        dist = d.llm.distributions_ms.get(which)
        if dist is None or not dist.quantiles or all(v is None for v in dist.values):
            continue
        fig.add_trace(go.Scatter(x=list(dist.values), y=list(dist.quantiles),
                                 mode="lines+markers", name=d.name))
        for slo in d.slos:
            if slo.metric == which:
                fig.add_trace(go.Scatter(
                    x=[slo.latency_ms], y=[slo.percentile / 100], mode="markers",
                    marker={"symbol": "x", "size": 11},
                    name=f"{d.name} SLO {label} p{slo.percentile:g} ≤ {slo.latency_ms:g} ms"))
    if not fig.data:
        return None
    fig.update_layout(title=f"{label} distribution (mean of replications)",
                      xaxis_title=f"{label} (ms)", yaxis_title="quantile", xaxis_type="log",
                      template=THEME, height=420)
    return fig


def kv_figure(result: RunResult) -> Any | None:
    """Return the KV-cache utilisation (share of blocks in use) over time per LLM design."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for d in _llm_designs(result):
        tl = d.timeline
        if tl is not None and tl.start_s and KV_SERIES in tl.series:
            fig.add_trace(go.Scatter(x=list(tl.start_s), y=list(tl.series[KV_SERIES]),
                                     mode="lines", line_shape="hv", name=d.name))
    if not fig.data:
        return None
    fig.update_layout(title="KV-cache utilisation over time (mean of replications)",
                      xaxis_title="time (s)", yaxis_title="share of KV blocks in use",
                      yaxis_tickformat=".0%", template=THEME, height=400)
    return fig


def queue_figure(result: RunResult) -> Any | None:
    """Return the running and waiting requests over time per LLM design."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for d in _llm_designs(result):
        tl = d.timeline
        if tl is None or not tl.start_s:
            continue
        for key, label, dash in QUEUE_SERIES:
            if key in tl.series:
                fig.add_trace(go.Scatter(x=list(tl.start_s), y=list(tl.series[key]),
                                         mode="lines", line={"dash": dash},
                                         name=f"{d.name} {label}"))
    if not fig.data:
        return None
    fig.update_layout(title="Running and waiting requests over time (mean of replications)",
                      xaxis_title="time (s)", yaxis_title="requests", template=THEME,
                      height=400)
    return fig


def llm_figures(result: RunResult) -> list[tuple[str, Any]]:
    """Return ``(element id, figure)`` of every LLM chart that has data, in report order."""
    out = [(f"llm-{which}-distribution", llm_distribution_figure(result, which))
           for which in DISTRIBUTIONS]
    out += [("llm-kv-timeline", kv_figure(result)), ("llm-queue-timeline", queue_figure(result))]
    return [(div_id, fig) for div_id, fig in out if fig is not None]
