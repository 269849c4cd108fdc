"""Calibration page: a run's simulated monthly cost against what the bills say, by purchase."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboards import billing_logic as logic
from dashboards import scenario_logic
from dashboards.settings import Settings
from domain.errors import PlannerError

dash.register_page(__name__, path="/calibration", name="Calibration",
                   title="Calibration - GPU planner", order=2)

HEADERS = ["design", "instance", "purchase (sim / bills)", "node-hours per month",
           "simulated $/month", "bills $/node-hour", "at bill rates $/month", "difference"]


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``)."""
    return html.Div(text, className=f"msg {kind}")


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def calibration_components(settings: Settings, run_id: str | None,
                           month: str | None = None) -> list[Any]:
    """Return the comparison of run ``run_id`` with the ``--data`` bills of ``month`` (default:
    the latest month with compute usage), or a message."""
    try:
        result = scenario_logic.stored_result(settings, run_id)
    except PlannerError:
        return [message("run a scenario on the Scenarios page first, then follow its "
                        "'compare with the bills' link", "info")]
    try:
        paths = logic.data_files(settings.data_dir)
        if not paths:
            raise PlannerError("no billing files: start the dashboard with --data DIR")
        bills = logic.bill_rates(paths, month or None)
    except PlannerError as exc:
        return [message(str(exc))]
    rows = logic.calibration_rows(result, bills["rates"])
    body = [[r["design"], r["instance"], f"{r['purchase']} / {r['bill_purchase']}",
             "n/a" if r["node_hours_per_month"] is None else f"{r['node_hours_per_month']:,.1f}",
             _money(r["simulated_usd_per_month"]), _money(r["bill_usd_per_node_hour"]),
             _money(r["bill_usd_per_month"]),
             "n/a" if r["difference_usd_per_month"] is None
             else f"{r['difference_usd_per_month']:+,.2f}"] for r in rows]
    return [
        message(f"{result.scenario.get('name')}: simulated at catalog prices vs the bills' "
                f"effective rates of {bills['month']} for the same instance types", "info"),
        dcc.Dropdown(id="cal-month", options=[{"label": m, "value": m} for m in bills["months"]],
                     value=bills["month"], clearable=False, style={"maxWidth": "12rem"}),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in HEADERS])),
                    html.Tbody([html.Tr([html.Td(c) for c in r]) for r in body])],
                   className="data-table", id="cal-table"),
        html.P("A bills rate of n/a means the bills have no usage of that instance type under "
               "that purchase option (not $0)." + (f" {bills['note']}" if bills.get("note")
                                                   else ""), className="muted"),
    ]


def layout(run: str | None = None, month: str | None = None, **_query: Any) -> html.Div:
    """Return the page for stored run ``run`` (from the Scenarios page's link)."""
    reason = logic.unavailable_reason()
    head = [html.H2("Calibration"),
            html.P("The current design's simulated monthly cost against what the bills say for "
                   "the same instance types, by purchase option.", className="lead")]
    if reason is not None:
        return html.Div(head + [message(f"billing support is not available: {reason}")],
                        id="cal-page")
    return html.Div(head + [dcc.Store(id="cal-run", data=run),
                            dcc.Store(id="cal-month-choice", data=month),
                            dcc.Loading(html.Div(id="cal-body"), type="dot")], id="cal-page")


def register_callbacks(app: dash.Dash, settings: Settings) -> None:
    """Register this page's callbacks on ``app``."""
    app.callback(Output("cal-body", "children"), Input("cal-run", "data"),
                 Input("cal-month-choice", "data"))(
        lambda run_id, month: calibration_components(settings, run_id, month))
    app.callback(Output("cal-month-choice", "data"), Input("cal-month", "value"),
                 prevent_initial_call=True)(lambda month: month)


