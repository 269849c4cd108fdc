"""The Scenarios page's chart finishing, against hand-made figures: time axes in the unit that
reads best, a log axis only where positive values span two decades, a legend always, the title
moved above the chart."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboards.charts import chart_title, decades, finish_figure, graph_height_px


def figure(x, y, title="Fleet size over time (nodes)", **trace) -> go.Figure:
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name="only design", **trace))
    fig.update_layout(title=title, xaxis_title="time (s)", height=400)
    return fig


@pytest.mark.parametrize(("last_s", "unit", "per_unit"), [
    (86_400.0, "h", 3600.0), (3_000.0, "min", 60.0), (30.0, "s", 1.0), (5.0, "s", 1.0)])
def test_time_axes_read_in_hours_minutes_or_seconds(last_s, unit, per_unit):
    x = [0.0, last_s / 2, last_s]
    fig = finish_figure(figure(x, [1, 2, 3]), time_axis=True)
    assert list(fig.data[0].x) == pytest.approx([v / per_unit for v in x])
    assert fig.layout.xaxis.title.text == f"simulated time ({unit})"
    assert fig.layout.xaxis.type == "linear"


def test_log_axis_only_where_values_span_two_decades():
    assert decades([0.5, 50.0]) == pytest.approx(2.0)
    assert decades([0.0, 3.0]) == 0.0  # one positive value
    wide = finish_figure(figure([1.0, 10.0, 500.0], [0.1, 0.5, 0.99]))
    assert wide.layout.xaxis.type == "log" and wide.layout.yaxis.type == "linear"
    narrow = finish_figure(figure([2.0, 4.0, 8.0], [1.0, 2.0, 3.0]))
    assert narrow.layout.xaxis.type == "linear"
    with_zero = finish_figure(figure([0.0, 1.0, 1000.0], [1.0, 2.0, 3.0]))
    assert with_zero.layout.xaxis.type == "linear"  # a log axis cannot show 0
    stacked = go.Figure(go.Bar(x=["a", "b"], y=[1.0, 1000.0]))
    assert finish_figure(stacked, stacked=True).layout.yaxis.type == "linear"


def test_a_lone_trace_keeps_its_legend_and_points_and_the_title_moves_out():
    fig = finish_figure(figure([0.0], [2.0]), time_axis=True)
    assert fig.layout.showlegend is True
    assert fig.data[0].mode == "lines+markers"  # one point draws no line
    assert fig.layout.title.text is None
    assert chart_title(fig) == "Fleet size over time (nodes)"
    assert graph_height_px(fig) == 400 + 20
