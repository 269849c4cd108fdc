"""Calibration page: a run reconciled with the bills, per instance type and purchase option.

For each design and purchase option: simulated node-hours and cost per month against the bills'
node-hours and effective cost of the same instance type and purchase option, the design
re-priced at the bills' rate, and the variances (bills minus simulation, in $ and %).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboards import billing_logic as logic
from dashboards import scenario_logic
from dashboards.review_view import graph
from dashboards.settings import Settings
from domain.errors import PlannerError
from planner.reports.billing_review import PURCHASE_LABEL, money, signed_money, signed_pct
from planner.reports.sections import NA, fmt_number

dash.register_page(__name__, path="/calibration", name="Calibration",
                   title="Calibration - GPU planner", order=2)

HEADERS = ["design", "instance", "purchase (simulated / bills)", "node-hours per month (sim)",
           "node-hours (bills)", "node-hours variance", "simulated $/month (catalog)",
           "bills $ (effective)", "bills $/node-hour", "at the bills' rate $/month",
           "difference at the bills' rate"]


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``)."""
    return html.Div(text, className=f"msg {kind}", role="alert" if kind == "error" else None)


def purchase_label(value: str | None) -> str:
    """Return a purchase option as people write it: ``savings plan 1yr``, ``on-demand``."""
    if value is None:
        return NA
    for term in ("_1yr", "_3yr"):
        if value.endswith(term):
            return f"{purchase_label(value[:-len(term)])} {term[1:]}"
    return PURCHASE_LABEL.get(value, value.replace("_", " "))


def difference_text(diff: float | None, fraction: float | None) -> str:
    """Return ``+$31,594.40/month (+12.3%), bills higher`` or ``n/a``."""
    if diff is None:
        return NA
    direction = ("bills higher" if diff > 0 else "bills lower" if diff < 0 else "equal")
    return f"{signed_money(diff)}/month ({signed_pct(fraction)}), {direction}"


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Return the reconciliation rows as table cells."""
    return [[r["design"], r["instance"],
             f"{purchase_label(r['purchase'])} / {purchase_label(r['bill_purchase'])}",
             fmt_number(r["node_hours_per_month"], 1), fmt_number(r["billed_node_hours"], 1),
             signed_pct(r["node_hours_fraction"]), money(r["simulated_usd_per_month"]),
             money(r["billed_usd"]),
             NA if r["bill_usd_per_node_hour"] is None else f"${r['bill_usd_per_node_hour']:,.4f}",
             money(r["bill_usd_per_month"]),
             difference_text(r["difference_usd_per_month"], r["difference_fraction"])]
            for r in rows]


def reconciliation_figure(rows: list[dict[str, Any]], month: str | None):
    """Return simulated vs billed node-hours and cost per design, instance and purchase option
    (two panels, bills' variance from the simulation as % labels)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    keys = [f"{r['design']}<br>{r['instance'].split(':', 1)[-1]} "
            f"{purchase_label(r['purchase'])}" for r in rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "node-hours per month", "cost per month (USD)"))
    pairs = ((1, "node_hours_per_month", "billed_node_hours", "node_hours_fraction",
              "simulated node-hours", "billed node-hours"),
             (2, "simulated_usd_per_month", "billed_usd", None, "simulated cost (catalog)",
              "billed cost (effective)"))
    for col, sim_key, bill_key, frac_key, sim_name, bill_name in pairs:
        sim = [r[sim_key] for r in rows]
        billed = [r[bill_key] for r in rows]
        fractions = [r[frac_key] if frac_key else
                     (None if not r[sim_key] or r[bill_key] is None
                      else r[bill_key] / r[sim_key] - 1.0) for r in rows]
        fig.add_trace(go.Bar(x=keys, y=sim, name="simulated (catalog prices)",
                             marker_color="#0b5cad", legendgroup="sim", showlegend=col == 1,
                             hovertemplate=f"{sim_name}: %{{y:,.1f}}<extra></extra>"),
                      row=1, col=col)
        fig.add_trace(go.Bar(x=keys, y=billed, name="bills (effective cost)",
                             marker_color="#8250df", legendgroup="bill", showlegend=col == 1,
                             text=[f"{signed_pct(f)} vs sim" if f is not None else NA
                                   for f in fractions], textposition="outside",
                             hovertemplate=f"{bill_name}: %{{y:,.1f}}<extra></extra>"),
                      row=1, col=col)
    fig.update_layout(barmode="group", template="plotly_white", height=440,
                      title=f"Simulated vs billed, {month or NA} (bills' variance in %)",
                      legend={"orientation": "h", "y": -0.25})
    fig.update_yaxes(title_text="node-hours", row=1, col=1)
    fig.update_yaxes(title_text="USD per month", row=1, col=2)
    return fig


def complete_month(paths) -> tuple[str | None, str | None]:
    """Return the month to reconcile by default and why: the latest month, or the one before
    it when the latest is still in progress (a simulated month against part of a month's
    bills would read as a shortfall)."""
    from costmodels.billing.review import data_freshness, previous_month

    frame = logic.read(paths).frame
    latest, fresh = data_freshness(frame)
    if fresh.month_complete:
        return None, None
    earlier = previous_month(latest)
    if earlier not in logic.filter_options(frame)["months"]:
        return None, (f"{latest} is in progress (data to "
                      f"{fresh.latest_charge_period_end:%Y-%m-%d %H:%M} UTC): its bills cover "
                      "part of the month")
    return earlier, (f"{latest} is in progress (data to "
                     f"{fresh.latest_charge_period_end:%Y-%m-%d %H:%M} UTC), so the last "
                     f"complete month is shown; choose {latest} for the month so far")


def calibration_components(settings: Settings, run_id: str | None,
                           month: str | None = None) -> list[Any]:
    """Return the reconciliation of run ``run_id`` with the ``--data`` bills of ``month``
    (default: the latest month with compute usage), or a message."""
    try:
        result = scenario_logic.stored_result(settings, run_id)
    except PlannerError:
        return [message("run a scenario on the Scenarios page first, then follow its "
                        "'compare with the bills' link", "info")]
    try:
        paths = logic.data_files(settings.data_dir)
        if not paths:
            raise PlannerError("no billing files: start the dashboard with --data DIR")
        month, why = (month, None) if month else complete_month(paths)
        bills = logic.bill_rates(paths, month or None)
    except PlannerError as exc:
        return [message(logic.public_message(str(exc), settings))]
    rows = logic.calibration_rows(result, bills["rates"])
    children: list[Any] = [
        message(f"{result.scenario.get('name')}: simulated at catalog prices against the bills "
                f"of {bills['month']} for the same instance types and purchase options "
                "(bills' effective cost, amortised)" + (f"; {why}" if why else ""), "info"),
        html.Div([html.Label("bills month", htmlFor="cal-month"),
                  dcc.Dropdown(id="cal-month",
                               options=[{"label": m, "value": m} for m in bills["months"]],
                               value=bills["month"], clearable=False)],
                 className="field", style={"maxWidth": "14rem"}),
    ]
    if any(r["billed_node_hours"] is not None for r in rows):
        children.append(graph("cal-fig", reconciliation_figure(rows, bills["month"])))
    else:
        children.append(message(f"the bills of {bills['month']} have none of this run's "
                                "instance types and purchase options: nothing to reconcile",
                                "info"))
    children += [
        html.Div(html.Table([html.Thead(html.Tr([html.Th(h, scope="col") for h in HEADERS])),
                             html.Tbody([html.Tr([html.Td(c) for c in r])
                                         for r in table_rows(rows)])],
                            className="data-table", id="cal-table"), className="table-scroll"),
        html.P("Bills $ and node-hours are the whole bill's for that instance type and purchase "
               "option in the month (every fleet that ran it), the simulation one design's "
               "month; the difference re-prices the simulated node-hours at the bills' "
               "effective $/node-hour. n/a: the bills have no usage of that instance type "
               "under that purchase option (not $0), or the catalog has no price."
               + (f" {bills['note']}" if bills.get("note") else ""), className="muted"),
    ]
    return children


def layout(run: str | None = None, month: str | None = None, **_query: Any) -> html.Div:
    """Return the page for stored run ``run`` (from the Scenarios page's link)."""
    reason = logic.unavailable_reason()
    head = [html.H2("Calibration"),
            html.P("The current design's simulated month against what the bills say for the "
                   "same instance types, by purchase option: node-hours, cost, and the design "
                   "re-priced at the bills' rates.", className="lead")]
    if reason is not None:
        return html.Div(head + [message(f"billing support is not available: {reason}")],
                        id="cal-page")
    return html.Div(head + [dcc.Store(id="cal-run", data=run),
                            dcc.Store(id="cal-month-choice", data=month),
                            dcc.Loading(html.Div(id="cal-body"), type="dot")], id="cal-page")


NAV_FROM_LINK = """
function(href) {
    var query = href ? String(href).split('?')[1] : null;
    return query && query.indexOf('run=') === 0 ? '/calibration?' + query
                                                : window.dash_clientside.no_update;
}
"""
"""The header's Calibration link takes a run's 'compare with the bills' link (Scenarios)."""
NAV_FROM_RUN = """
function(run) {
    return run && /^[0-9a-f]{32}$/.test(run) ? '/calibration?run=' + run
                                              : window.dash_clientside.no_update;
}
"""
"""The header's Calibration link keeps the run the Calibration page shows."""


def register_callbacks(app: dash.Dash, settings: Settings) -> None:
    """Register this page's callbacks on ``app``, the header's Calibration link (its
    ``?run=``) and its "data as of" (the ``--data`` bills this page reconciles with, also after
    the Cost review showed an upload's)."""
    app.callback(Output("cal-body", "children"), Input("cal-run", "data"),
                 Input("cal-month-choice", "data"))(
        lambda run_id, month: calibration_components(settings, run_id, month))
    app.callback(Output("cal-month-choice", "data"), Input("cal-month", "value"),
                 prevent_initial_call=True)(lambda month: month)
    app.callback(Output("data-as-of", "children", allow_duplicate=True),
                 Input("cal-run", "data"), prevent_initial_call="initial_duplicate")(
        lambda _run: f"data as of {logic.data_as_of(settings)}")  # the --data bills it uses
    for script, source in ((NAV_FROM_LINK, Input("scn-calibrate", "href")),
                           (NAV_FROM_RUN, Input("cal-run", "data"))):
        app.clientside_callback(script, Output("nav-calibration", "href", allow_duplicate=True),
                                source, prevent_initial_call="initial_duplicate")
