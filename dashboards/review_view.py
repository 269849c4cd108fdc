"""The Cost review page's view of a monthly review: KPI strip, daily chart and the CLI's sections.

Every figure comes from :func:`costmodels.billing.review.monthly_review`'s typed result and is
formatted by :mod:`planner.reports.billing_review`, the renderer of ``planner billing review``:
the page shows what the CLI shows, in the same words and digits, and computes nothing itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from planner.reports import billing_review as report
from planner.reports.sections import NA, Bullets, Paragraph, Section, Table, fmt_pct, fmt_unit


def slug(text: str) -> str:
    """Return ``text`` as an id part: lower case, words joined by ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _kpi(kpi_id: str, label: str, value: str, detail: str, tone: str = "") -> html.Div:
    return html.Div([html.Div(label, className="kpi-label"),
                     html.Div(value, className="kpi-value"),
                     html.Div(detail, className="kpi-detail")],
                    className=f"kpi {tone}".strip(), id=f"cr-kpi-{kpi_id}")


def _tone(change: float | None) -> str:
    """Spend up is ``up`` (red), down is ``down`` (green)."""
    if change is None or change == 0:
        return ""
    return "up" if change > 0 else "down"


def kpi_strip(review: Any) -> html.Div:
    """Return the KPI cards: month to date vs the same days last month, the month's effective
    cost vs last month, the month-end forecast with its interval, effective vs list
    $/GPU-hour, spot and commitment shares of GPU spend, commitment coverage and utilisation."""
    cards = []
    m = review.month_to_date
    if m is None:
        cards.append(_kpi("mtd", "month to date", NA, f"no complete day in {review.month} yet"))
    else:
        prev = (f"vs {report.money(m.previous_usd)} for days 1-{m.previous_through.day} of "
                f"{review.previous_month}: {report.signed_money(m.change_usd)} "
                f"({report.signed_pct(m.change_pct)})" if m.previous_usd is not None
                else f"vs n/a ({review.previous_month}: no data)")
        cards.append(_kpi("mtd", f"month to date ({m.n_days} days, to {m.through.isoformat()})",
                          report.money(m.current_usd), prev, _tone(m.change_usd)))
    ch = review.change
    cards.append(_kpi(
        "month", f"{review.month} effective" + ("" if review.freshness.month_complete
                                                else " so far"),
        report.money(review.current.effective_usd),
        (f"{report.signed_money(ch.effective_usd)} ({report.signed_pct(ch.effective_pct)}) vs "
         f"{review.previous_month} whole month" if ch is not None
         else f"{review.previous_month}: no data, change n/a"),
        _tone(ch.effective_usd if ch is not None else None)))
    f = review.forecast
    if f is None:
        why = (f"{review.month} is complete" if review.freshness.month_complete
               else "no complete day to project from")
        cards.append(_kpi("forecast", "month-end forecast", NA, why))
    else:
        band = (f"{fmt_pct(f.level, 0)} interval {report.money(f.low_usd)} to "
                f"{report.money(f.high_usd)}" if f.low_usd is not None
                else "interval n/a (fewer than 3 complete days)")
        cards.append(_kpi("forecast", "month-end forecast", report.money(f.point_usd), band))
    g = review.gpu
    if g is None:
        cards.append(_kpi("gpu-rate", "effective $/GPU-hour", NA, f"no GPU rows in "
                                                                    f"{review.month}"))
        cards.append(_kpi("shares", "GPU spend on spot / commitments", NA, "no GPU rows"))
    else:
        cards.append(_kpi("gpu-rate", "effective $/GPU-hour",
                          fmt_unit(g.effective_usd_per_gpu_hour),
                          f"vs list {fmt_unit(g.list_usd_per_gpu_hour)}; used only "
                          f"{fmt_unit(g.used_usd_per_gpu_hour)}"))
        cards.append(_kpi("shares", "GPU spend on spot / commitments",
                          f"{fmt_pct(g.spot_share)} / {fmt_pct(g.commitment_share)}",
                          f"of {report.money(g.effective_usd)} GPU spend"))
    c = review.commitments
    if c is None:
        cards.append(_kpi("coverage", "commitment coverage / utilisation", NA,
                          "no compute usage or commitment rows"))
    else:
        t = c.total
        cards.append(_kpi("coverage", "commitment coverage / utilisation",
                          f"{fmt_pct(t.coverage_hours)} / {fmt_pct(t.utilisation)}",
                          f"coverage by cost {fmt_pct(t.coverage_cost)}; unused "
                          f"{report.money(t.unused_usd)}"))
    return html.Div(cards, className="kpis", id="cr-kpis")


def _block(block: Any, block_id: str) -> Any:
    if isinstance(block, Table):
        return html.Div(html.Table([
            html.Thead(html.Tr([html.Th(h, scope="col") for h in block.headers])),
            html.Tbody([html.Tr([html.Td(c, className="num" if a == "right" else None)
                                 for c, a in zip(row, block.align)]) for row in block.rows]),
        ], className="data-table", id=block_id), className="table-scroll")
    if isinstance(block, Bullets):
        return html.Ul([html.Li(item) for item in block.items], id=block_id)
    if isinstance(block, Paragraph):
        return html.P(block.text, id=block_id)
    return html.P(str(block), id=block_id)  # pragma: no cover - every block kind is above


def section(sec: Section) -> html.Section:
    """Return one report section as HTML: its title and its blocks (ids ``cr-<title>-<i>``)."""
    key = slug(sec.title.split(" (")[0].split(" by ")[0])
    return html.Section([html.H3(sec.title)]
                        + [_block(b, f"cr-{key}-{i}") for i, b in enumerate(sec.blocks)],
                        id=f"cr-sec-{key}", className="review-section")


def graph(graph_id: str, figure: Any) -> dcc.Graph:
    """Return ``figure`` as a graph that follows its box's width (a phone included) at the
    figure's own height."""
    height = figure.layout.height or 450
    return dcc.Graph(id=graph_id, figure=figure, responsive=True,
                     style={"height": f"{height}px"}, config={"displaylogo": False})


def review_children(review: Any, notes: Sequence[str]) -> list[Any]:
    """Return the review's components: headline, KPI strip, the charts of ``planner billing
    review --format html`` (daily cost with anomalies and forecast, month to date with the
    forecast interval, movers, $/GPU-hour) and every section of ``planner billing review`` (totals, movers, GPU spend, commitments, anomalies, forecast,
    data and assumptions, with the read's reconciliation line)."""
    fig = report.daily_figure(review)
    sections = report.build_sections(review, notes)
    chart = (graph("cr-fig-daily", fig) if fig is not None else html.P(f"No daily data in {review.month} (n/a).",
                                            className="muted", id="cr-fig-daily"))
    more = [graph(f"cr-fig-{name}", f) for name, f in (("forecast", report.forecast_figure(review)),
                            ("movers", report.movers_figure(review)),
                            ("gpu", report.gpu_rate_figure(review))) if f is not None]
    return [html.P(report.headline(review), className="msg info", id="cr-headline"),
            kpi_strip(review), chart, html.Div(more, className="cr-charts"),
            *[section(s) for s in sections]]
