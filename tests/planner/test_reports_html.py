"""The HTML report: self-contained, parseable, escaped, with the three plotly charts."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from planner.reports.html import fleet_size, pareto_figure, render_html
from planner.reports.markdown import render_markdown
from planner.reports.sections import pareto_names
from planner.result_parts import TimelineResult
from tests.planner.report_fixture import HOSTILE, run_result


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.cells: list[str] = []
        self._in_cell = False
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def result():
    return run_result()


@pytest.fixture(scope="module")
def page(result) -> str:
    return render_html(result)


def test_parses_and_needs_no_network(page) -> None:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.scripts, "plotly.js is inlined in a <script>"
    assert all("src" not in s for s in parser.scripts)
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", page)


def test_has_the_three_charts(page) -> None:
    for div in ("distribution-0", "pareto", "fleet-timeline"):
        assert f'id="{div}"' in page
    body = page[page.index("</head>"):]
    assert body.count("Plotly.newPlot") == 3


def test_tables_match_the_markdown_cells(page, result) -> None:
    parser = _Collector()
    parser.feed(page)
    for d in result.designs:
        if d.cost.usd_per_month is not None:
            assert f"${d.cost.usd_per_month:,.2f}" in parser.cells
    assert "fast-rt ★" in parser.cells
    assert "n/a (price unknown)" in parser.cells
    # the same comparison table as the Markdown report
    md = render_markdown(result)
    assert "| $/1M tokens (allocated) | $0.5000 |" in md and "$0.5000" in parser.cells


def test_user_strings_are_escaped(page) -> None:
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "mystery&lt;&amp;&gt;" in page
    # inside the chart JSON "<" is \u003c, so no markup can close the script element
    assert "mystery<&>" not in page


def _pareto_brute_force(result) -> set[str]:
    pts = [(d.name, d.latency_ms["p99"].mean if d.slo is None else d.slo.achieved_ms.mean,
            d.cost.usd_per_month) for d in result.designs
           if d.cost.usd_per_month is not None and not d.cost.incomplete]
    return {n for n, x, y in pts
            if not any((x2 <= x and y2 <= y) and (x2, y2) != (x, y) for _, x2, y2 in pts)}


def test_pareto_set_and_marks(result) -> None:
    assert set(pareto_names(result)) == _pareto_brute_force(result) == {"fast-rt", "cheap-spot"}
    fig, left_out = pareto_figure(result)
    points = {t.text[0]: (t.marker.symbol, t.y[0]) for t in fig.data if t.mode == "markers+text"}
    assert points == {"fast-rt ★": ("star", 1000.0), "cheap-spot": ("diamond", 500.0),
                      "slow-expensive": ("circle", 2000.0)}
    assert left_out == ["partial: cost incomplete", "mystery<&>: cost n/a"]
    frontier = next(t for t in fig.data if t.name == "Pareto frontier")
    assert list(frontier.x) == [30.0, 60.0] and list(frontier.y) == [1000.0, 500.0]


def test_not_plotted_designs_are_listed_as_na(page) -> None:
    assert "Not plotted (n/a, not $0): partial: cost incomplete; mystery&lt;&amp;&gt;: cost n/a" \
        in page


def test_fleet_size_sums_the_purchase_partition() -> None:
    def tl(start, **series):
        return TimelineResult(bin_s=60.0, start_s=tuple(start),
                              series={k: tuple(v) for k, v in series.items()})

    assert fleet_size(tl([0, 60], nodes_base=[1, 1], nodes_spot=[2, 0],
                         nodes_ready=[9, 9])) == [3, 1]
    assert fleet_size(tl([0, 60], nodes_base=[1, None], nodes_spot=[2, 0])) == [3, None]
    assert fleet_size(tl([0], nodes=[4])) == [4]
    assert fleet_size(tl([0], arrivals_per_s=[4])) is None
    assert fleet_size(None) is None and fleet_size(tl([])) is None


def test_chart_data_is_the_result(page, result) -> None:
    body = page[page.index("</head>"):].replace(" ", "")
    d = result.design("fast-rt")
    assert json.dumps(list(d.distribution_ms.values)).replace(" ", "") in body
    assert json.dumps(list(d.distribution_ms.quantiles)).replace(" ", "") in body


def test_deterministic(page, result) -> None:
    assert render_html(result) == page
